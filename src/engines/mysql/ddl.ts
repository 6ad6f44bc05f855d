import type { Connection, RowDataPacket } from 'mysql2/promise';
import { describeDsn, type Dsn } from '../../config/dsn.js';
import { ErrorCode, TributaryError } from '../../core/errors.js';
import { escape } from 'mysql2';
import type { ColumnDefault, ColumnPlace, SchemaChange, SchemaOperation } from '../../core/schema-change.js';
import { tableAfter } from '../../core/schema-change-tables.js';
import type { Column, ForeignKey, TableSchema } from '../../core/schema.js';
import type { DatabaseDefaults } from '../../core/source.js';
import { binaryCollation, mapLogicalTable, type MapTableOptions, type MysqlFlavour, type TableMapping } from './types.js';
import { quoteId, quoteTable } from './sql.js';

type Queryable = Pick<Connection, 'query'>;

/** The server's own databases: `--force` never drops them. */
export const SYSTEM_DATABASES: ReadonlySet<string> = new Set(['mysql', 'information_schema', 'performance_schema', 'sys']);

/** Refuses `--force` on a target URL that names one of the server's own databases (CONFIG_INVALID). */
export function refuseForceOnSystemDatabase(dsn: Dsn): void {
  if (!SYSTEM_DATABASES.has(dsn.database.toLowerCase())) return;
  throw new TributaryError(
    ErrorCode.CONFIG_INVALID,
    `--force drops and recreates the target database, and target ${describeDsn(dsn)} names the server's own database '${dsn.database}'; point --target at a database of its own`,
  );
}

/** How the sync creates a target database that does not exist (or that --force recreates). */
export interface DatabasePlan {
  readonly sql: string;
  /** Why the character set or collation is not the source's, when it is not. */
  readonly note?: string;
}

/**
 * The CREATE DATABASE for `name`: the source database's default character set and collation for a
 * MySQL source (when this server has them; else the character set's default here, or utf8mb4),
 * and utf8mb4 with the binary NO PAD collation for a PostgreSQL source, the collation the type map
 * creates its tables with (keys equal exactly when their bytes are, as under PostgreSQL). Reads only.
 */
export async function databasePlan(conn: Queryable, name: string, defaults: DatabaseDefaults | undefined, flavour: MysqlFlavour): Promise<DatabasePlan> {
  const fallback = binaryCollation(flavour);
  const render = (charset: string, collation: string, note?: string): DatabasePlan => ({
    sql: `CREATE DATABASE ${quoteId(name)} CHARACTER SET ${charset} COLLATE ${collation}`,
    ...(note ? { note } : {}),
  });
  if (defaults?.engine !== 'mysql') {
    return render('utf8mb4', fallback, `the source is ${defaults?.engine ?? 'not MySQL'}: utf8mb4 with the binary NO PAD collation its tables are created with`);
  }
  const [same] = await conn.query<RowDataPacket[]>('SELECT 1 FROM information_schema.COLLATIONS WHERE COLLATION_NAME = ? AND CHARACTER_SET_NAME = ?', [defaults.collation, defaults.charset]);
  if (same.length) return render(defaults.charset, defaults.collation);
  const [cs] = await conn.query<RowDataPacket[]>('SELECT DEFAULT_COLLATE_NAME AS co FROM information_schema.CHARACTER_SETS WHERE CHARACTER_SET_NAME = ?', [defaults.charset]);
  const co = cs[0]?.co as string | undefined;
  if (co) return render(defaults.charset, co, `this server has no collation ${defaults.collation}: the character set's default here`);
  return render('utf8mb4', fallback, `this server has no character set ${defaults.charset}: utf8mb4 with the binary NO PAD collation`);
}

/** Whether `name` exists on the server. */
export async function databaseExists(conn: Queryable, name: string): Promise<boolean> {
  const [rows] = await conn.query<RowDataPacket[]>('SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [name]);
  return rows.length > 0;
}

/**
 * The CREATE TABLE for a target table. From a MySQL/MariaDB source the source's own statement is
 * used, so every type, charset, collation, default and generated column stays as it was. From a
 * PostgreSQL source the statement is rendered from its columns' logical types (types.ts
 * mapLogicalTable); pass that map's options (overrides, server flavour, enum labels).
 */
export function createTableSql(table: TableSchema, opts: MapTableOptions = {}): string {
  if (table.engine === 'mysql' && table.createStatement) {
    return withoutForeignKeys(withoutLeftOutColumns(table.createStatement, table))
      .replace(/^CREATE TABLE\s+`(?:[^`]|``)+`/i, `CREATE TABLE IF NOT EXISTS ${quoteTable(table.name)}`)
      .replace(/\s+AUTO_INCREMENT=\d+/i, '');
  }
  if (table.engine !== 'mysql') return createTableFromMapping(mapLogicalTable(table, opts), opts);
  throw new TributaryError(
    ErrorCode.TABLE_UNSUPPORTED,
    `table ${table.name}: its MySQL definition has no CREATE TABLE text to create it from (a table a schema change made or altered); create it on the target first`,
  );
}

/**
 * The CREATE TABLE of a MySQL table whose stored definition has no CREATE text (a schema change
 * altered it: schema/apply.ts drops the stale text), for a resumed sync whose target lost the table:
 * rendered from its columns' logical types, as a table of another engine is, so types map exactly
 * but collations and table options are the target's defaults. The caller says so in its log.
 */
export function createTableFromDefinition(table: TableSchema, opts: MapTableOptions = {}): string {
  return createTableFromMapping(mapLogicalTable(table, opts), opts);
}

/**
 * A SHOW CREATE TABLE statement without the columns `table` leaves out (--exclude-columns: the
 * definition lists fewer columns than the statement), and without the indexes and CHECK constraints
 * over them. A generated column computed from a left-out column cannot be created: refused by name.
 */
export function withoutLeftOutColumns(create: string, table: TableSchema): string {
  const kept = new Set([...table.columns.map((c) => c.name.toLowerCase()), ...table.generated.map((g) => g.toLowerCase())]);
  const lines = create.split('\n');
  const columnOf = (l: string) => /^\s+`((?:[^`]|``)+)`\s/.exec(l)?.[1]?.replace(/``/g, '`');
  const gone = lines.map(columnOf).filter((c): c is string => c !== undefined && !kept.has(c.toLowerCase()));
  if (gone.length === 0) return create;
  const mentions = (l: string) => gone.some((c) => l.includes('`' + c.replace(/`/g, '``') + '`'));
  const out: string[] = [];
  for (const l of lines) {
    const col = columnOf(l);
    if (col !== undefined) {
      if (!kept.has(col.toLowerCase())) continue;
      if (/\bGENERATED ALWAYS\b|\bAS \(/i.test(l) && mentions(l)) {
        throw new TributaryError(ErrorCode.TABLE_UNSUPPORTED, `table ${table.name}: generated column ${col} is computed from ${gone.join(', ')}, which --exclude-columns leaves out; exclude ${col} too, or keep the column`);
      }
      out.push(l);
    } else if (/^\s+(PRIMARY KEY|UNIQUE KEY|KEY|INDEX|FULLTEXT|SPATIAL|CONSTRAINT)\b/i.test(l) && mentions(l)) {
      continue;
    } else out.push(l);
  }
  const close = out.findIndex((l) => /^\)/.test(l));
  if (close > 0) out[close - 1] = (out[close - 1] as string).replace(/,\s*$/, '');
  return out.join('\n');
}

/**
 * A SHOW CREATE TABLE statement without its `CONSTRAINT … FOREIGN KEY` lines: the target's tables
 * are created without foreign keys (the copy writes them in parallel, in no order) and the keys
 * are added after the copy (foreignKeySql). The indexes the source made for them stay.
 */
export function withoutForeignKeys(create: string): string {
  const lines = create.split('\n');
  const kept = lines.filter((l) => !/^\s*CONSTRAINT\s+`(?:[^`]|``)+`\s+FOREIGN KEY\b/i.test(l));
  if (kept.length === lines.length) return create;
  // The last definition before the closing parenthesis loses its comma.
  const close = kept.findIndex((l) => /^\)/.test(l));
  if (close > 0) kept[close - 1] = (kept[close - 1] as string).replace(/,\s*$/, '');
  return kept.join('\n');
}

/**
 * The statement adding `fks` to `table` on a MySQL/MariaDB target, one ALTER TABLE (one rebuild at
 * most): the source's names, columns and rules (MySQL has no deferrable keys and only MATCH SIMPLE:
 * a PostgreSQL source's DEFERRABLE and MATCH FULL are dropped; its SET DEFAULT, which InnoDB
 * refuses, is refused by the server, naming it). Run with foreign_key_checks=0, InnoDB reads no row.
 * A key with a RESTRICT rule is added with ALGORITHM=COPY: measured on MariaDB 10.11, the in-place
 * path under foreign_key_checks=0 records RESTRICT as NO ACTION (the same behaviour in InnoDB, but
 * no longer the source's definition); the copy path keeps it, still without checking the rows.
 */
export function foreignKeySql(table: string, fks: readonly ForeignKey[]): string {
  const adds = fks.map(foreignKeySpec);
  const restrict = fks.some((fk) => fk.onDelete === 'RESTRICT' || fk.onUpdate === 'RESTRICT');
  return `ALTER TABLE ${quoteTable(table)} ${adds.join(', ')}${restrict ? ', ALGORITHM=COPY' : ''}`;
}

/**
 * CREATE TABLE from mapped columns: no defaults (tributary writes every column), no generated
 * columns (their expressions are PostgreSQL's; they are not in the rows either), the primary key
 * and the secondary unique keys. Character data is utf8mb4 under the binary NO PAD collation, so
 * two keys are equal on MySQL exactly when their bytes are, as under PostgreSQL's deterministic
 * collations ('a' ≠ 'A', 'a' ≠ 'a ').
 */
export function createTableFromMapping(mapping: TableMapping, opts: MapTableOptions = {}): string {
  const { table } = mapping;
  if (mapping.problems.length) {
    const p = mapping.problems[0]!;
    throw new TributaryError(ErrorCode.TABLE_UNSUPPORTED, `${p.table}.${p.column} (${p.pgType}): ${p.reason}; ${p.fix}`);
  }
  const inPrimary = new Set(table.primaryKey);
  const lines = mapping.columns.map((m, i) => `  ${quoteId(m.column.name)} ${m.sql}${m.column.nullable && !inPrimary.has(i) ? '' : ' NOT NULL'}`);
  const names = (k: readonly number[]) => k.map((i) => quoteId(table.columns[i]!.name)).join(', ');
  // A key taken from a unique NOT NULL key (keyFromUnique) is created as that unique key only.
  if (table.primaryKey.length && !table.keyFromUnique) lines.push(`  PRIMARY KEY (${names(table.primaryKey)})`);
  (table.uniqueKeys ?? []).forEach((k, n) => {
    if (k.length) lines.push(`  UNIQUE KEY ${quoteId(`tributary_uk${n + 1}`)} (${names(k)})`);
  });
  return (
    `CREATE TABLE IF NOT EXISTS ${quoteTable(table.name)} (\n${lines.join(',\n')}\n) ` +
    `ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=${binaryCollation(opts.flavour ?? 'mariadb')}`
  );
}

/**
 * One statement of a schema change on a MySQL target, with the operations (indexes into
 * `change.operations`) it renders: an ALTER TABLE of consecutive operations on one table (with the
 * RENAME TO that follows them in the same source statement), a RENAME TABLE, a CREATE, a DROP or a
 * TRUNCATE. Each is one statement, and MySQL applies each whole or not at all, which is what a
 * replay's decisions (replay.ts) rest on.
 */
export type SchemaChangeGroup =
  | { readonly kind: 'alter'; readonly table: string; readonly operations: readonly number[]; readonly renameTo?: { readonly to: string; readonly operation: number } }
  | { readonly kind: 'rename' | 'create' | 'drop' | 'truncate'; readonly operations: readonly [number] };

const ALTER_OPS = new Set(['add-column', 'drop-column', 'modify-column', 'rename-column', 'set-default', 'add-index', 'drop-index', 'rename-index', 'convert-charset', 'add-foreign-key', 'drop-foreign-key', 'table-options']);

/** The statements a schema change becomes on a MySQL target, in order (see SchemaChangeGroup). */
export function schemaChangeGroups(change: SchemaChange): SchemaChangeGroup[] {
  const groups: SchemaChangeGroup[] = [];
  let alter: { kind: 'alter'; table: string; operations: number[]; renameTo?: { to: string; operation: number } } | undefined;
  change.operations.forEach((op, i) => {
    if (ALTER_OPS.has(op.op) && 'table' in op && typeof op.table === 'string') {
      if (!alter || alter.table !== op.table || alter.renameTo || !joins(change, alter.operations, i)) groups.push((alter = { kind: 'alter', table: op.table, operations: [] }));
      alter.operations.push(i);
      return;
    }
    // ALTER TABLE t …, RENAME TO u: one statement on the target too.
    if (op.op === 'rename-tables' && alter && !alter.renameTo && op.pairs.length === 1 && op.pairs[0]?.from === alter.table && groups.at(-1) === alter) {
      alter.renameTo = { to: op.pairs[0].to, operation: i };
      return;
    }
    alter = undefined;
    const kind = op.op === 'rename-tables' ? 'rename' : op.op === 'create-table' ? 'create' : op.op === 'drop-table' ? 'drop' : 'truncate';
    groups.push({ kind, operations: [i] });
  });
  return groups;
}

/**
 * Whether operation `i` can join the ALTER TABLE of operations `group`: not when it names a
 * column that one of them added, changed, dropped or renamed, nor an index one of them added. A change may hold several source statements on one table (the ALTERs an online schema
 * change tool ran on its shadow table, osc.ts), and MySQL refuses `ADD c, MODIFY c` in one
 * statement; what one statement says together (ADD c, ADD KEY (c); DROP KEY k, ADD KEY k; a CHANGE
 * COLUMN's two halves) stays together.
 */
function joins(change: SchemaChange, group: readonly number[], i: number): boolean {
  const op = change.operations[i] as SchemaOperation;
  const columns = new Set<string>();
  const indexes = new Set<string>();
  let changed: string | undefined;
  for (const j of group) {
    const o = change.operations[j] as SchemaOperation;
    if (o.op === 'add-column' || o.op === 'modify-column') columns.add(o.column.name.toLowerCase());
    else if (o.op === 'drop-column' || o.op === 'set-default') columns.add(o.column.toLowerCase());
    else if (o.op === 'rename-column') {
      columns.add(o.from.toLowerCase()).add(o.to.toLowerCase());
      if (o.sourceText !== undefined && j === group.at(-1)) changed = o.to.toLowerCase();
    } else if (o.op === 'add-index') indexes.add(o.primary ? 'primary' : o.name.toLowerCase());
    else if (o.op === 'rename-index') indexes.add(o.from.toLowerCase()).add(o.to.toLowerCase());
  }
  switch (op.op) {
    case 'add-column':
    case 'drop-column':
    case 'set-default': {
      const name = (op.op === 'add-column' ? op.column.name : op.column).toLowerCase();
      return !columns.has(name);
    }
    case 'modify-column': {
      const name = op.column.name.toLowerCase();
      return !columns.has(name) || (op.sourceText === undefined && changed === name);
    }
    case 'rename-column':
      return !columns.has(op.from.toLowerCase()) && !columns.has(op.to.toLowerCase());
    case 'add-index':
    case 'drop-index':
      return !indexes.has(op.primary ? 'primary' : op.name.toLowerCase());
    case 'rename-index':
      return !indexes.has(op.from.toLowerCase()) && !indexes.has(op.to.toLowerCase());
    default:
      return true;
  }
}

/** `ADD CONSTRAINT … FOREIGN KEY … REFERENCES …` of one foreign key, its rules spelled out. */
function foreignKeySpec(fk: ForeignKey): string {
  const cols = (c: readonly string[]) => c.map(quoteId).join(', ');
  return `ADD CONSTRAINT ${quoteId(fk.name)} FOREIGN KEY (${cols(fk.columns)}) REFERENCES ${quoteTable(fk.referencedTable)} (${cols(fk.referencedColumns)}) ON DELETE ${fk.onDelete} ON UPDATE ${fk.onUpdate}`;
}

/**
 * A schema change (core/schema-change.ts) as MySQL statements, leaving out the operations in `skip`
 * (a replay's operations already in effect, replay.ts).
 *
 * From a MySQL source each operation is its own `sourceText` under the target's table name, so
 * the definition stays the source's exactly; a CHANGE COLUMN (a rename-column carrying the text and
 * a modify-column without it) is its text once. An operation without text is rendered from its
 * fields (the column's declaration as the source described it). From another engine, columns are
 * declared with their logical types' MySQL mapping (types.ts mapLogicalTable of the table after the
 * change): add, drop, rename, modify column and default, add and drop index. Refuses
 * (DDL_UNSUPPORTED naming the statement, the operation and the fix) what it cannot render.
 */
export function schemaChangeSql(change: SchemaChange, opts: MapTableOptions = {}, skip: ReadonlySet<number> = new Set()): string[] {
  return schemaChangeGroups(change)
    .map((g) => groupSql(change, g, opts, skip))
    .filter((s): s is string => s !== undefined);
}

/** One group's statement, or undefined when `skip` leaves nothing of it. */
export function groupSql(change: SchemaChange, group: SchemaChangeGroup, opts: MapTableOptions, skip: ReadonlySet<number>): string | undefined {
  const live = group.operations.filter((i) => !skip.has(i));
  if (group.kind === 'alter') {
    const specs = live.map((i) => alterSpec(change, i, group.operations, skip, opts)).filter((s): s is string => s !== undefined);
    if (group.renameTo && !skip.has(group.renameTo.operation)) specs.push(`RENAME TO ${quoteTable(group.renameTo.to)}`);
    return specs.length ? `ALTER TABLE ${quoteTable(group.table)} ${specs.join(', ')}` : undefined;
  }
  const at = live[0];
  if (at === undefined) return undefined;
  const op = change.operations[at] as SchemaOperation;
  switch (op.op) {
    case 'rename-tables':
      return `RENAME TABLE ${op.pairs.map((p) => `${quoteTable(p.from)} TO ${quoteTable(p.to)}`).join(', ')}`;
    case 'create-table':
      return createTableSql(op.table, opts);
    case 'drop-table':
      return `DROP TABLE IF EXISTS ${quoteTable(op.table)}`;
    case 'truncate':
      return `TRUNCATE TABLE ${quoteTable(op.table)}`;
    default:
      return undefined;
  }
}

/** One ALTER TABLE specification, or undefined when another operation's text already says it (CHANGE COLUMN). */
function alterSpec(change: SchemaChange, i: number, group: readonly number[], skip: ReadonlySet<number>, opts: MapTableOptions): string | undefined {
  const op = change.operations[i] as SchemaOperation;
  const mysql = change.sourceEngine === 'mysql';
  if (mysql && 'sourceText' in op && op.sourceText) return op.sourceText;
  if (op.op === 'modify-column' && mysql) {
    // The modify half of a CHANGE COLUMN: its rename half's text declares the column.
    const name = op.column.name.toLowerCase();
    const covered = group.some((j) => {
      const r = change.operations[j];
      return j < i && !skip.has(j) && r?.op === 'rename-column' && r.sourceText !== undefined && r.to.toLowerCase() === name;
    });
    if (covered) return undefined;
  }
  if (op.op === 'add-index' && mysql && op.columns.length === 1) {
    // A key the column's own definition declares (ADD COLUMN c INT UNIQUE, SERIAL): that text makes it.
    const name = (op.columns[0] as string).toLowerCase();
    const implied = group.some((j) => {
      const r = change.operations[j];
      return (
        j < i &&
        !skip.has(j) &&
        (((r?.op === 'add-column' || r?.op === 'modify-column') && r.sourceText !== undefined && r.column.name.toLowerCase() === name) ||
          // CHANGE COLUMN old new … PRIMARY KEY: the rename half carries the column's text.
          (r?.op === 'rename-column' && r.sourceText !== undefined && r.to.toLowerCase() === name))
      );
    });
    if (implied) return undefined;
  }
  const refuse = (what: string) =>
    new TributaryError(
      ErrorCode.DDL_UNSUPPORTED,
      `schema change "${clip(change.statement)}": ${what}; apply it to the target by hand, then resume past the statement with tributary sync --skip-ddl POSITION`,
    );
  const place = (p: ColumnPlace | undefined) => (!mysql || !p ? '' : 'first' in p ? ' FIRST' : ` AFTER ${quoteId(p.after)}`);
  const table = 'table' in op && typeof op.table === 'string' ? op.table : '?';
  const declare = (column: Column, d: ColumnDefault | undefined, what: string): string => {
    const t = tableAfter(change, i, table);
    let type: string;
    if (mysql) {
      const text = column.charset && column.charset !== 'binary' && /char|text|enum|set/.test(column.dataType);
      type = `${column.columnType}${text ? ` CHARACTER SET ${column.charset}${column.collation ? ` COLLATE ${column.collation}` : ''}` : ''}`;
    } else {
      if (!t) throw refuse(`${what} ${column.name}: the definition of ${table} after the change is missing`);
      const mapping = mapLogicalTable(t, opts);
      const at = t.columns.findIndex((c) => c.name === column.name);
      const problem = mapping.problems.find((p) => p.column === column.name);
      if (problem) throw refuse(`${what} ${column.name} (${problem.pgType}): ${problem.reason}; ${problem.fix}`);
      const m = mapping.columns[at];
      if (!m) throw refuse(`${what} ${column.name}: the column is not in the definition of ${t.name} after the change`);
      type = m.sql;
      column = m.column;
    }
    return `${quoteId(column.name)} ${type}${column.nullable ? ' NULL' : ' NOT NULL'}${defaultClause(d, mysql, column, what, refuse)}`;
  };
  switch (op.op) {
    case 'add-column':
      return `ADD COLUMN ${declare(op.column, op.default, 'ADD COLUMN')}${place(op.place)}`;
    case 'modify-column':
      return `MODIFY COLUMN ${declare(op.column, op.default, 'MODIFY COLUMN')}${place(op.place)}`;
    case 'drop-column':
      return `DROP COLUMN ${quoteId(op.column)}`;
    case 'rename-column':
      return `RENAME COLUMN ${quoteId(op.from)} TO ${quoteId(op.to)}`;
    case 'set-default': {
      if (op.default === null) return `ALTER COLUMN ${quoteId(op.column)} DROP DEFAULT`;
      const col = tableAfter(change, i, op.table)?.columns.find((c) => c.name.toLowerCase() === op.column.toLowerCase());
      return `ALTER COLUMN ${quoteId(op.column)} SET${defaultClause(op.default, mysql, col, 'SET DEFAULT', refuse)}`;
    }
    case 'add-index': {
      const list = op.columns.map(quoteId).join(', ');
      if (op.primary) return `ADD PRIMARY KEY (${list})`;
      return `ADD ${op.unique ? 'UNIQUE ' : ''}KEY ${quoteId(op.name)} (${list})`;
    }
    case 'drop-index':
      return op.primary ? 'DROP PRIMARY KEY' : `DROP INDEX ${quoteId(op.name)}`;
    case 'rename-index':
      return `RENAME INDEX ${quoteId(op.from)} TO ${quoteId(op.to)}`;
    case 'convert-charset':
      return mysql ? `CONVERT TO CHARACTER SET ${op.charset}${op.collation ? ` COLLATE ${op.collation}` : ''}` : undefined;
    case 'add-foreign-key':
      return foreignKeySpec(op.foreignKey);
    case 'drop-foreign-key':
      return `DROP FOREIGN KEY ${quoteId(op.name)}`;
    case 'table-options':
      // Only the source's own engine has them (text from a MySQL source was taken above).
      return undefined;
    default:
      return undefined;
  }
}

/** ` DEFAULT …` for a column declaration ('' for none). */
function defaultClause(d: ColumnDefault | undefined, mysql: boolean, column: Column | undefined, what: string, refuse: (what: string) => TributaryError): string {
  if (d === undefined) return '';
  switch (d.kind) {
    case 'null':
      return ' DEFAULT NULL';
    case 'literal':
      return ` DEFAULT ${escape(d.value)}`;
    case 'now':
      return ` DEFAULT CURRENT_TIMESTAMP${d.fsp ? `(${d.fsp})` : ''}`;
    case 'expression':
      if (mysql) return ` DEFAULT ${d.sql.startsWith('(') ? d.sql : `(${d.sql})`}`;
      throw refuse(`${what} ${column?.name ?? '?'} DEFAULT ${d.sql} is an expression of another engine, which MySQL cannot evaluate`);
  }
}

function clip(statement: string): string {
  return statement.length > 200 ? `${statement.slice(0, 200)}…` : statement;
}
