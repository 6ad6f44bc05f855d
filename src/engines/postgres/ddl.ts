import { splitName } from '../../core/names.js';
import type pg from 'pg';
import { describeDsn, type Dsn } from '../../config/dsn.js';
import { ErrorCode, TributaryError } from '../../core/errors.js';
import type { ColumnDefault, SchemaChange } from '../../core/schema-change.js';
import { nameAfter, nameBefore, resolveColumn, tableAfter, tableBefore } from '../../core/schema-change-tables.js';
import { indexNamed, secondaryUniqueKeys, type Column, type ForeignKey, type TableSchema } from '../../core/schema.js';
import { openClient } from './connection.js';
import { MAX_IDENTIFIER_BYTES, qualified, quoteIdent, quoteLiteral } from './sql.js';
import { postgresColumnType, type PostgresColumnType, type PostgresTypeOptions } from './types.js';

function checkIdentifier(what: string, name: string): void {
  if (Buffer.byteLength(name, 'utf8') > MAX_IDENTIFIER_BYTES) {
    throw new TributaryError(
      ErrorCode.TABLE_UNSUPPORTED,
      `${what} '${name}' is ${Buffer.byteLength(name, 'utf8')} bytes long; PostgreSQL truncates identifiers to ${MAX_IDENTIFIER_BYTES} bytes, which could merge two names. Rename it on the source or leave the table out with --tables`,
    );
  }
}

/**
 * Every column's target type, or the first error naming an unmappable column or a name PostgreSQL
 * cannot hold. Run for all tables before anything is created, so a refused run writes nothing.
 */
export function planTypes(table: TableSchema, opts: PostgresTypeOptions, schema = 'public'): PostgresColumnType[] {
  checkIdentifier('table name', table.name);
  return table.columns.map((c: Column) => {
    checkIdentifier(`column name ${table.name}.`, c.name);
    return postgresColumnType(table, c, opts, schema);
  });
}

/** A user enum type the target schema must hold before the tables using it are created. */
export interface EnumTypePlan {
  /** The type's name (the source's pg_type.typname), created in the target schema. */
  readonly name: string;
  /** Labels in the source's sort order. */
  readonly labels: readonly string[];
  /** 'table.column' of each column declared with it, for messages. */
  readonly columns: readonly string[];
}

/**
 * The enum types the tables' columns are declared with (see postgresColumnType), one per name. Two
 * source types of one name (from two source schemas) with different labels cannot share the
 * target schema: refused, naming both columns.
 */
export function planEnumTypes(tables: readonly TableSchema[], types: readonly (readonly PostgresColumnType[])[]): EnumTypePlan[] {
  const byName = new Map<string, { labels: readonly string[]; columns: string[] }>();
  tables.forEach((t, ti) =>
    t.columns.forEach((c, ci) => {
      if (c.enumType === undefined || c.enumLabels === undefined || types[ti]?.[ci]?.overridden) return;
      const where = `${t.name}.${c.name}`;
      const known = byName.get(c.enumType);
      if (!known) {
        byName.set(c.enumType, { labels: c.enumLabels, columns: [where] });
        return;
      }
      if (!sameLabels(known.labels, c.enumLabels)) {
        throw new TributaryError(
          ErrorCode.TABLE_UNSUPPORTED,
          `columns ${known.columns[0] ?? '?'} and ${where} use two different source enum types named ${c.enumType} (labels ${labelList(known.labels)} and ${labelList(c.enumLabels)}), which cannot both be created in the target schema; map one of them to text with --column-types ${where}=text, or leave one table out with --tables`,
        );
      }
      known.columns.push(where);
    }),
  );
  return [...byName].map(([name, e]) => ({ name, labels: e.labels, columns: e.columns }));
}

export function createEnumTypeSql(schema: string, e: EnumTypePlan): string {
  return `CREATE TYPE ${qualified(schema, e.name)} AS ENUM (${e.labels.map(quoteLiteral).join(', ')})`;
}

function sameLabels(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((l, i) => l === b[i]);
}

function labelList(labels: readonly string[]): string {
  return `(${labels.map(quoteLiteral).join(', ')})`;
}

/**
 * Whether the target's existing type `e.name` serves the source's enum: undefined when it is an
 * enum with the same labels in the same order (values and their order are then the source's),
 * else the error naming the type, both label lists and the fix. `existing` is the target type's
 * labels, or null when the name belongs to a type that is not an enum.
 */
export function enumTypeMismatch(schema: string, e: EnumTypePlan, existing: readonly string[] | null): TributaryError | undefined {
  if (existing !== null && sameLabels(existing, e.labels)) return undefined;
  const type = qualified(schema, e.name);
  const has = existing === null ? 'is not an enum type' : `has labels ${labelList(existing)}`;
  const additions = existing === null ? undefined : addValueStatements(type, existing, e.labels);
  const fix = additions?.length
    ? `add the missing labels in the source's order (${additions.join('; ')})`
    : `make its labels the source's (ALTER TYPE ${type} RENAME VALUE / ADD VALUE), or drop it (DROP TYPE ${type}, after the columns that use it) so tributary creates it`;
  return new TributaryError(
    ErrorCode.TABLE_UNSUPPORTED,
    `target type ${type} ${has}, but source enum ${e.name} (used by ${e.columns.join(', ')}) has labels ${labelList(e.labels)}, and values must keep their labels and order; ${fix}, or sync the column${e.columns.length > 1 ? 's' : ''} as text with --column-types ${e.columns.map((c) => `${c}=text`).join(',')}`,
  );
}

/**
 * ALTER TYPE … ADD VALUE statements that turn `existing` into `want` when `existing` is `want`
 * with labels missing (same order); undefined when it is not.
 */
export function addValueStatements(type: string, existing: readonly string[], want: readonly string[]): string[] | undefined {
  let at = 0;
  for (const l of want) if (l === existing[at]) at++;
  if (at !== existing.length) return undefined;
  const have = new Set(existing);
  const out: string[] = [];
  // In order, so the label each statement places itself after exists by then.
  want.forEach((l, i) => {
    if (have.has(l)) return;
    const after = want[i - 1];
    const first = existing[0];
    const place = after !== undefined ? ` AFTER ${quoteLiteral(after)}` : first !== undefined ? ` BEFORE ${quoteLiteral(first)}` : '';
    out.push(`ALTER TYPE ${type} ADD VALUE ${quoteLiteral(l)}${place}`);
  });
  return out;
}

/**
 * CREATE TABLE for a target table, with the column types planTypes chose (types.ts postgresColumnType).
 *
 * Secondary unique keys become UNIQUE constraints DEFERRABLE INITIALLY DEFERRED: a batch applies
 * each key's last image, and when a unique value moves between rows inside one batch (row 1 gives
 * up 'x', row 2 takes it) the row taking it may be written before the row giving it up. An
 * immediate constraint would fail that statement half-way; a deferred one is checked at COMMIT,
 * when the batch has reached a source transaction boundary and the values are unique again. The
 * primary key stays immediate: ON CONFLICT can only arbitrate a non-deferrable constraint, and the
 * primary key is the one it must arbitrate.
 */
export function createTableSql(schema: string, table: TableSchema, types: readonly PostgresColumnType[]): string {
  const lines: string[] = [];
  const pk = new Set(table.primaryKey);
  table.columns.forEach((c, i) => {
    const t = types[i] as PostgresColumnType;
    const q = quoteIdent(c.name);
    const notNull = pk.has(i) || (!c.nullable && !t.forceNullable);
    lines.push(`${q} ${t.sql}${notNull ? ' NOT NULL' : ''}${t.check ? ` CHECK (${t.check(q)})` : ''}`);
  });
  const names = (idx: readonly number[]) => idx.map((i) => quoteIdent((table.columns[i] as Column).name)).join(', ');
  // A key taken from a unique NOT NULL key (keyFromUnique) is created as that unique constraint,
  // not deferrable: ON CONFLICT cannot arbitrate on a deferrable one.
  if (table.primaryKey.length) lines.push(`${table.keyFromUnique ? 'UNIQUE' : 'PRIMARY KEY'} (${names(table.primaryKey)})`);
  for (const u of secondaryUniqueKeys(table)) {
    if (u.length === 0 || u.some((i) => i < 0)) continue;
    lines.push(`UNIQUE (${names(u)}) DEFERRABLE INITIALLY DEFERRED`);
  }
  return `CREATE TABLE IF NOT EXISTS ${qualified(schema, table.name)} (\n  ${lines.join(',\n  ')}\n)`;
}

/**
 * The statement adding `fk` to `table` on a PostgreSQL target: the source's name, columns, rules,
 * MATCH and DEFERRABLE, and NOT VALID: PostgreSQL enforces it on every later write by the target's
 * users but does not scan the rows already there, which the stream may still be completing (they are
 * the source's, which had them consistent). `ALTER TABLE … VALIDATE CONSTRAINT` marks it validated
 * whenever the user wants.
 */
export function foreignKeySql(schema: string, table: string, fk: ForeignKey): string {
  const cols = (c: readonly string[]) => c.map(quoteIdent).join(', ');
  const match = fk.match && fk.match !== 'SIMPLE' ? ` MATCH ${fk.match}` : '';
  const deferrable = fk.deferrable ? ` DEFERRABLE INITIALLY ${fk.initiallyDeferred ? 'DEFERRED' : 'IMMEDIATE'}` : '';
  return (
    `ALTER TABLE ${qualified(schema, table)} ADD CONSTRAINT ${quoteIdent(fk.name)} FOREIGN KEY (${cols(fk.columns)}) ` +
    `REFERENCES ${qualified(schema, fk.referencedTable)} (${cols(fk.referencedColumns)})${match} ON UPDATE ${fk.onUpdate} ON DELETE ${fk.onDelete}${deferrable} NOT VALID`
  );
}

/** The template databases: `--force` never drops anything in them. */
const TEMPLATE_DATABASES = new Set(['template0', 'template1']);

/**
 * Refuses `--force` (CONFIG_INVALID) on a target URL naming a template database, or a system schema
 * (information_schema, pg_*) as `?schema=`: what --force drops there would break the server.
 */
export function refuseForceOnSystemDatabase(dsn: Dsn, schema: string): void {
  if (TEMPLATE_DATABASES.has(dsn.database)) {
    throw new TributaryError(ErrorCode.CONFIG_INVALID, `--force drops what the sync created in target ${describeDsn(dsn)}, a template database; point --target at a database of its own`);
  }
  if (schema === 'information_schema' || schema.startsWith('pg_')) {
    throw new TributaryError(ErrorCode.CONFIG_INVALID, `--force drops and recreates the target schema, and ?schema=${schema} names a system schema of target ${describeDsn(dsn)}; name a schema of its own`);
  }
}

/** A missing target database as connect() found it, from a maintenance database of the same server. */
export interface MissingDatabase {
  /** A session on the maintenance database (`postgres`, else `template1`), which CREATE DATABASE runs on. */
  readonly admin: pg.Client;
  /** The maintenance database's URL (the sync's lock is taken there until the database exists). */
  readonly adminDsn: Dsn;
  /** The role has CREATEDB or is a superuser. */
  readonly mayCreate: boolean;
  /** The statement the sync runs (or the user must run when the role may not). */
  readonly sql: string;
  readonly version: string;
}

/**
 * Connects to a maintenance database to look at a target database that does not exist: whether
 * this role may create it, and the CREATE DATABASE that would (UTF8, the encoding every tributary
 * session speaks; the cluster's default locale). Undefined when no maintenance database accepts
 * the role either: the caller then reports the missing database as it is.
 */
export async function inspectMissingDatabase(dsn: Dsn): Promise<MissingDatabase | undefined> {
  for (const database of ['postgres', 'template1']) {
    const adminDsn = { ...dsn, database };
    let admin: pg.Client;
    try {
      admin = await openClient(adminDsn, 'target');
    } catch {
      continue;
    }
    try {
      const r = await admin.query<{ may: string; enc: string | null; version: string }>(
        `SELECT (SELECT rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user) AS may,
                (SELECT pg_encoding_to_char(encoding) FROM pg_database WHERE datname = 'template1') AS enc,
                current_setting('server_version') AS version`,
      );
      const row = r.rows[0];
      // A session on template1 keeps it from being copied: template0 then, as for another encoding.
      const template = database === 'template1' || row?.enc !== 'UTF8' ? ' TEMPLATE template0' : '';
      return {
        admin,
        adminDsn,
        mayCreate: row?.may === 't',
        sql: `CREATE DATABASE ${quoteIdent(dsn.database)} ENCODING 'UTF8'${template}`,
        version: row?.version ?? '?',
      };
    } catch {
      await admin.end().catch(() => undefined);
    }
  }
  return undefined;
}

/** The refusal when the role may not create the missing database: the exact statement to run, and by whom. */
export function cannotCreate(dsn: Dsn, missing: MissingDatabase): TributaryError {
  return new TributaryError(
    ErrorCode.DATABASE_MISSING,
    `target ${describeDsn(dsn)}: database '${dsn.database}' does not exist and role '${dsn.user}' may not create it (it has neither CREATEDB nor SUPERUSER); ` +
      `run ${missing.sql} OWNER ${quoteIdent(dsn.user)} as a role that may (a superuser), or ALTER ROLE ${quoteIdent(dsn.user)} CREATEDB, then start the sync again`,
  );
}

/** Options of schemaChangeSql: where the tables are and how columns map (the target's type options). */
export interface SchemaChangeOptions {
  readonly schema: string;
  readonly types: PostgresTypeOptions;
}

/** A schema change rendered for PostgreSQL: the enum types its columns need (created or checked first), then the statements, in order. */
export interface SchemaChangeSql {
  readonly enums: readonly EnumTypePlan[];
  readonly statements: readonly string[];
}

/**
 * A source's schema change (core/schema-change.ts) as PostgreSQL statements, all run in one
 * transaction with the checkpoint (PostgreSQL DDL is transactional). Columns take the types the
 * table's creation would give them (planTypes on the table after the change, so overrides and the
 * zero-date policy hold), and are declared as createTableSql declares them:
 *
 * - add-column: ADD COLUMN with its default (a literal as a literal of the column's type,
 *   '5'::integer; `now` as CURRENT_TIMESTAMP, or LOCALTIMESTAMP for a timestamp without zone, which is
 *   how a MySQL DATETIME read in UTC maps; an expression only from a PostgreSQL source), NOT NULL and
 *   CHECK. A NOT NULL column without a default is filled as MySQL fills it (0, '', the first enum
 *   label), then the default is dropped. FIRST/AFTER is dropped: PostgreSQL appends.
 * - modify-column: the old column's CHECK dropped, ALTER COLUMN … TYPE … USING c::type (when the
 *   type changes), SET/DROP NOT NULL, SET/DROP DEFAULT, the new CHECK.
 * - drop/rename column, set-default; add-index: a unique one as a UNIQUE constraint DEFERRABLE
 *   INITIALLY DEFERRED as createTableSql makes them (PostgreSQL names it), another as CREATE INDEX,
 *   a primary key as ADD PRIMARY KEY; drop-index finds the index by its columns (the source
 *   table's CREATE statement names them) and drops it, or its constraint.
 * - rename-tables: ALTER TABLE … RENAME TO, in order (a swap through a temporary name works in one
 *   transaction); create-table as ensureSchema would (its enum types included); drop-table;
 *   truncate; convert-charset and table-options: nothing (PostgreSQL has no counterpart).
 *
 * Refuses (DDL_UNSUPPORTED naming the statement, the operation and the fix) what it cannot render,
 * before anything runs: a default expression of another engine, a zero-date default the column
 * cannot hold, an index it cannot identify.
 */
export function schemaChangeSql(change: SchemaChange, opts: SchemaChangeOptions): SchemaChangeSql {
  const { schema } = opts;
  const statements: string[] = [];
  const enumTables: TableSchema[] = [];
  const enumTypes: PostgresColumnType[][] = [];
  const T = (name: string) => qualified(schema, name);
  const refuse = (what: string, fix: string) =>
    new TributaryError(ErrorCode.DDL_UNSUPPORTED, `schema change "${clip(change.statement)}": ${what}; ${fix}`);
  const skipFix = 'apply it to the target by hand, then resume past the statement with tributary sync --skip-ddl POSITION';

  /** The column `name` of the operation's table after the change, with its target type. */
  const columnAfter = (i: number, table: string, name: string) => {
    const t = tableAfter(change, i, table);
    const n = resolveColumn(name, t);
    const at = t?.columns.findIndex((c) => c.name === n) ?? -1;
    if (!t || at < 0) return undefined;
    const types = planTypes(t, opts.types, schema);
    const col = t.columns[at] as Column;
    if (col.enumType !== undefined) {
      enumTables.push({ ...t, columns: [col] });
      enumTypes.push([types[at] as PostgresColumnType]);
    }
    // The statements run in the statement's order, so the table is still called what the operation says.
    return { table: t, column: col, type: types[at] as PostgresColumnType, inKey: t.primaryKey.includes(at), target: T(table) };
  };
  const columnBefore = (i: number, table: string, name: string) => {
    const t = tableBefore(change, i, table);
    const n = resolveColumn(name, t);
    const at = t?.columns.findIndex((c) => c.name === n) ?? -1;
    if (!t || at < 0) return undefined;
    return postgresColumnType(t, t.columns[at] as Column, opts.types, schema);
  };
  const defaultSql = (op: string, col: Column, type: PostgresColumnType, d: ColumnDefault): string | undefined => {
    const logical = col.logical;
    const temporal = logical?.kind === 'date' || logical?.kind === 'timestamp';
    switch (d.kind) {
      case 'null':
        return undefined;
      case 'literal':
        if (temporal && /^0000-00-00/.test(d.value)) {
          if (type.forceNullable) return undefined;
          throw refuse(
            `${op} ${col.name} DEFAULT '${d.value}' is a zero date, which PostgreSQL cannot hold`,
            `sync with --zero-dates null (the default becomes NULL), or ${skipFix}`,
          );
        }
        return `${quoteLiteral(d.value)}::${type.sql}`;
      case 'now':
        if (logical?.kind === 'timestamp') return `${logical.zone ? 'CURRENT_TIMESTAMP' : 'LOCALTIMESTAMP'}(${d.fsp ?? logical.fsp})`;
        if (logical?.kind === 'date') return 'CURRENT_DATE';
        if (change.sourceEngine === 'postgres') return 'CURRENT_TIMESTAMP';
        throw refuse(`${op} ${col.name} DEFAULT CURRENT_TIMESTAMP on a column of type ${col.columnType}`, skipFix);
      case 'expression':
        if (change.sourceEngine === 'postgres') return d.sql;
        throw refuse(
          `${op} ${col.name} DEFAULT ${d.sql} is a ${change.sourceEngine} expression, which PostgreSQL cannot evaluate`,
          `give the column a literal default on the source, or ${skipFix}`,
        );
    }
  };

  change.operations.forEach((op, i) => {
    switch (op.op) {
      case 'add-column': {
        const c = columnAfter(i, op.table, op.column.name);
        if (!c) return; // a generated column: the target has none (createTableSql)
        if (change.sourceEngine === 'mysql' && /\bauto_increment\b/i.test(op.sourceText ?? '')) {
          throw refuse(
            `ADD COLUMN ${c.column.name} … AUTO_INCREMENT: MySQL numbers the rows there in its own order, which PostgreSQL cannot reproduce (every row would get the same value)`,
            `add the column on the target by hand with the source's values (e.g. copy them over), then resume past the statement with tributary sync --skip-ddl POSITION; or restart the sync with --force to copy the table afresh`,
          );
        }
        const q = quoteIdent(c.column.name);
        const notNull = c.inKey || (!c.column.nullable && !c.type.forceNullable);
        let def = op.default ? defaultSql('ADD COLUMN', c.column, c.type, op.default) : undefined;
        const fill = def === undefined && notNull ? implicitFill(c.column, c.type) : undefined;
        if (def === undefined && notNull && fill === undefined) {
          throw refuse(
            `ADD COLUMN ${c.column.name} ${c.column.columnType} NOT NULL without a default: the rows there get a value MySQL makes up for this type, which PostgreSQL cannot`,
            `give the column a default on the source, or ${skipFix}`,
          );
        }
        def ??= fill;
        const check = c.type.check ? ` CHECK (${c.type.check(q)})` : '';
        statements.push(`ALTER TABLE ${c.target} ADD COLUMN ${q} ${c.type.sql}${def !== undefined ? ` DEFAULT ${def}` : ''}${notNull ? ' NOT NULL' : ''}${check}`);
        if (fill !== undefined) statements.push(`ALTER TABLE ${c.target} ALTER COLUMN ${q} DROP DEFAULT`);
        return;
      }
      case 'drop-column': {
        const t = tableBefore(change, i, op.table);
        statements.push(`ALTER TABLE ${T(op.table)} DROP COLUMN IF EXISTS ${quoteIdent(resolveColumn(op.column, t))}`);
        return;
      }
      case 'rename-column': {
        const before = tableBefore(change, i, op.table);
        const from = resolveColumn(op.from, before);
        if (before?.generated.includes(from)) return;
        const to = resolveColumn(op.to, tableAfter(change, i, op.table));
        if (from === to) return;
        statements.push(`ALTER TABLE ${T(op.table)} RENAME COLUMN ${quoteIdent(from)} TO ${quoteIdent(to)}`);
        return;
      }
      case 'modify-column': {
        const c = columnAfter(i, op.table, op.column.name);
        if (!c) return;
        const table = c.target;
        const q = quoteIdent(c.column.name);
        const was = columnBefore(i, op.table, renamedFrom(change, i, op.table, c.column.name));
        if (was?.check || c.type.check) statements.push(dropChecksSql(schema, op.table, c.column.name));
        if (was?.sql !== c.type.sql) {
          // The old default may not cast to the new type: dropped first, the new one set after.
          statements.push(`ALTER TABLE ${table} ALTER COLUMN ${q} DROP DEFAULT`);
          statements.push(`ALTER TABLE ${table} ALTER COLUMN ${q} TYPE ${c.type.sql} USING ${q}::${c.type.sql}`);
        }
        const notNull = c.inKey || (!c.column.nullable && !c.type.forceNullable);
        const def = op.default ? defaultSql('MODIFY COLUMN', c.column, c.type, op.default) : undefined;
        statements.push(`ALTER TABLE ${table} ALTER COLUMN ${q} ${notNull ? 'SET' : 'DROP'} NOT NULL, ALTER COLUMN ${q} ${def !== undefined ? `SET DEFAULT ${def}` : 'DROP DEFAULT'}`);
        if (c.type.check) statements.push(`ALTER TABLE ${table} ADD CHECK (${c.type.check(q)})`);
        return;
      }
      case 'set-default': {
        const c = columnAfter(i, op.table, op.column);
        if (!c) return;
        const def = op.default ? defaultSql('ALTER COLUMN … SET DEFAULT', c.column, c.type, op.default) : undefined;
        statements.push(`ALTER TABLE ${c.target} ALTER COLUMN ${quoteIdent(c.column.name)} ${def !== undefined ? `SET DEFAULT ${def}` : 'DROP DEFAULT'}`);
        return;
      }
      case 'add-index': {
        const t = tableAfter(change, i, op.table);
        const cols = op.columns.map((n) => resolveColumn(n, t));
        // An index over a generated column (which the target does not have) is left out.
        if (t && cols.some((n) => !t.columns.some((c) => c.name === n))) return;
        const table = T(op.table);
        const list = cols.map(quoteIdent).join(', ');
        if (op.primary) statements.push(`ALTER TABLE ${table} ADD PRIMARY KEY (${list})`);
        // The unique key the table is keyed by after the statement (no primary key) is immediate: ON CONFLICT arbitrates on it.
        else if (op.unique) statements.push(`ALTER TABLE ${table} ADD UNIQUE (${list})${sameNames(keyColumns(t), cols) ? '' : ' DEFERRABLE INITIALLY DEFERRED'}`);
        else statements.push(`CREATE INDEX ON ${table} (${list})`);
        return;
      }
      case 'drop-index': {
        const name = op.table;
        if (op.primary) {
          statements.push(dropIndexesSql(schema, name, { primary: true }));
          return;
        }
        const before = tableBefore(change, i, op.table);
        const declared = before ? indexNamed(before, op.name) : undefined;
        if (!declared) {
          throw refuse(
            `DROP INDEX ${op.name} on ${op.table}: the table's definition does not say which columns index ${op.name} covers, so the target's index cannot be found`,
            `drop the index on the target by hand, then resume with tributary sync --skip-ddl POSITION`,
          );
        }
        const cols = declared.columns.map((n) => resolveColumn(n, before));
        statements.push(dropIndexesSql(schema, name, { columns: cols, unique: declared.unique }));
        return;
      }
      case 'rename-tables':
        for (const { from, to } of op.pairs) {
          // Qualified names (a sync of several databases: a schema each) may move between schemas,
          // which RENAME TO cannot: SET SCHEMA first, then the name within it.
          // Moved under a name no table has (either schema may hold one of the old or the new name).
          const [f, t] = [splitName(from), splitName(to)];
          const [fs, ts] = [f.namespace ?? schema, t.namespace ?? schema];
          if (fs === ts) {
            statements.push(`ALTER TABLE ${T(from)} RENAME TO ${quoteIdent(t.table)}`);
          } else {
            const moving = `_tributary_moving_${statements.length}`;
            statements.push(
              `ALTER TABLE ${T(from)} RENAME TO ${quoteIdent(moving)}`,
              freeIndexNamesSql(fs, moving, ts),
              `ALTER TABLE ${quoteIdent(fs)}.${quoteIdent(moving)} SET SCHEMA ${quoteIdent(ts)}`,
              `ALTER TABLE ${quoteIdent(ts)}.${quoteIdent(moving)} RENAME TO ${quoteIdent(t.table)}`,
            );
          }
        }
        return;
      case 'create-table': {
        const types = planTypes(op.table, opts.types, schema);
        enumTables.push(op.table);
        enumTypes.push(types);
        statements.push(createTableSql(schema, op.table, types));
        return;
      }
      case 'drop-table':
        statements.push(`DROP TABLE IF EXISTS ${T(op.table)}`);
        return;
      case 'truncate':
        statements.push(`TRUNCATE ${T(op.table)}`);
        return;
      case 'add-foreign-key': {
        // Its columns as the table after the change names them (MySQL names ignore case).
        const t = tableAfter(change, i, op.table);
        const fk = { ...op.foreignKey, columns: op.foreignKey.columns.map((n) => resolveColumn(n, t)) };
        statements.push(foreignKeySql(schema, op.table, fk));
        return;
      }
      case 'drop-foreign-key':
        statements.push(`ALTER TABLE ${T(op.table)} DROP CONSTRAINT IF EXISTS ${quoteIdent(op.name)}`);
        return;
      case 'convert-charset':
      case 'table-options':
      case 'rename-index': // the target's indexes carry names of its own (drop-index finds them by their columns)
        return;
    }
  });
  statements.push(...keyChangeSql(change, schema));
  return { enums: planEnumTypes(enumTables, enumTypes), statements };
}

/**
 * After a statement's operations, each table whose key changed gets the constraint its new key
 * needs, whatever operations moved it: ON CONFLICT arbitrates only on an immediate unique index,
 * and secondary unique keys are created deferred. So: a primary key narrowed by a DROP COLUMN (which
 * drops PostgreSQL's whole constraint) is added again; a unique key that became the key (the
 * primary key dropped, or the key's unique index dropped, or one of its columns made nullable) is
 * made immediate, unless the statement added it as the key; a unique key that was the key and stays
 * a secondary one is made deferred again. Names are the tables' and columns' after the statement.
 */
function keyChangeSql(change: SchemaChange, schema: string): string[] {
  const out: string[] = [];
  const n = change.operations.length;
  for (const [name, after] of change.after) {
    const before = change.before.get(nameBefore(change, n, name));
    if (!before) continue;
    // Column names before → after, through the statement's renames of this table's columns.
    // (MySQL column names ignore case: compared in lower case, as resolveColumn does.)
    const renamed = new Map<string, string>();
    change.operations.forEach((op, i) => {
      if (op.op !== 'rename-column' || nameAfter(change, i, op.table) !== name) return;
      const from = op.from.toLowerCase();
      const orig = [...renamed].find(([, now]) => now.toLowerCase() === from)?.[0] ?? from;
      renamed.set(orig, resolveColumn(op.to, after));
    });
    const keyBefore = before.primaryKey.map((i) => {
      const c = before.columns[i]?.name ?? '';
      return renamed.get(c.toLowerCase()) ?? c;
    });
    const keyAfter = after.primaryKey.map((i) => after.columns[i]?.name ?? '');
    const unchanged = !!before.keyFromUnique === !!after.keyFromUnique && sameNames(keyBefore, keyAfter);
    if (unchanged || keyAfter.length === 0) continue;
    const T = qualified(schema, name);
    const list = (cols: readonly string[]) => cols.map(quoteIdent).join(', ');
    const added = (primary: boolean, cols: readonly string[]) =>
      change.operations.some((op, i) => op.op === 'add-index' && nameAfter(change, i, op.table) === name && (op.primary ?? false) === primary && (primary || op.unique) && sameNames(op.columns.map((c) => resolveColumn(c, after)), cols));
    if (!after.keyFromUnique) {
      if (!added(true, keyAfter)) out.push(dropIndexesSql(schema, name, { primary: true }), `ALTER TABLE ${T} ADD PRIMARY KEY (${list(keyAfter)})`);
    } else if (!added(false, keyAfter)) {
      out.push(dropIndexesSql(schema, name, { columns: keyAfter, unique: true }), `ALTER TABLE ${T} ADD UNIQUE (${list(keyAfter)})`);
    }
    // The unique key that was the key, still a unique key but no longer the key: deferred again.
    const stays = (after.uniqueKeys ?? []).some((k) => sameNames(k.map((c) => after.columns[c]?.name ?? ''), keyBefore));
    if (before.keyFromUnique && stays && !sameNames(keyBefore, keyAfter)) {
      out.push(dropIndexesSql(schema, name, { columns: keyBefore, unique: true }), `ALTER TABLE ${T} ADD UNIQUE (${list(keyBefore)}) DEFERRABLE INITIALLY DEFERRED`);
    }
  }
  return out;
}

/** The name `column` had before a rename-column of this statement gave it its name (itself otherwise). */
function renamedFrom(change: SchemaChange, index: number, table: string, column: string): string {
  let name = column;
  for (let i = index - 1; i >= 0; i--) {
    const op = change.operations[i];
    if (op?.op === 'rename-column' && op.table === table && op.to.toLowerCase() === name.toLowerCase()) name = op.from;
  }
  return name;
}

function clip(statement: string): string {
  return statement.length > 200 ? `${statement.slice(0, 200)}…` : statement;
}

/**
 * The value MySQL gives the rows already there when a NOT NULL column without a default is added
 * (its implicit default), as a literal of the column's PostgreSQL type: 0 for numbers, '' for
 * strings, the first label of an ENUM, zero bytes for BINARY(n). Undefined for a type whose implicit
 * default PostgreSQL cannot hold (the zero date) or that has none here.
 */
function implicitFill(col: Column, type: PostgresColumnType): string | undefined {
  const l = col.logical;
  if (!l) return undefined;
  const typed = (v: string) => `${quoteLiteral(v)}::${type.sql}`;
  switch (l.kind) {
    case 'integer':
    case 'decimal':
    case 'float':
    case 'year':
      return typed('0');
    case 'bit':
      return `0::${type.sql}`;
    case 'text':
    case 'set':
      return typed('');
    case 'uuid':
      return typed('00000000-0000-0000-0000-000000000000');
    case 'inet':
      return typed(l.version === 4 ? '0.0.0.0' : '::');
    case 'enum':
      return l.labels[0] !== undefined ? typed(l.labels[0]) : undefined;
    case 'binary':
      return typed(l.fixed && l.length ? `\\x${'00'.repeat(l.length)}` : '\\x');
    case 'time':
      return typed(l.range === 'hours838' ? '0' : '00:00:00');
    default:
      return undefined;
  }
}

/**
 * A DO block dropping the CHECK constraints over exactly `column` of the table (the one
 * createTableSql or an ADD COLUMN declared for an enum, whatever PostgreSQL named it), so a
 * modified column can take its new CHECK.
 */
export function dropChecksSql(schema: string, table: string, column: string): string {
  const rel = quoteLiteral(qualified(schema, table));
  return (
    `DO $tributary$ DECLARE r record; BEGIN FOR r IN SELECT c.conname FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ALL (c.conkey) ` +
    `WHERE c.conrelid = ${rel}::regclass AND c.contype = 'c' AND cardinality(c.conkey) = 1 AND a.attname = ${quoteLiteral(column)} ` +
    `LOOP EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', ${rel}::regclass, r.conname); END LOOP; END $tributary$`
  );
}

/**
 * A DO block dropping the table's indexes that are its primary key, or that cover exactly `columns`
 * in order (unique or not, as `unique` says), through their constraint when one owns them.
 * PostgreSQL names indexes itself (createTableSql declares unnamed UNIQUE constraints), so an
 * index is found by what it covers, not by the source's name for it.
 */
/** The columns of the unique key a table without a primary key is keyed by (keyFromUnique), or undefined. */
function keyColumns(t: TableSchema | undefined): string[] | undefined {
  return t?.keyFromUnique ? t.primaryKey.map((i) => t.columns[i]?.name ?? '') : undefined;
}

function sameNames(a: readonly string[] | undefined, b: readonly string[]): boolean {
  return a !== undefined && a.length === b.length && a.every((n, i) => n === b[i]);
}

/**
 * Renames the indexes of `schema`.`table` (its key's included: a constraint's index is renamed with
 * it) whose names the schema `into` already holds, to `<name>_<n>` free in both, so that `SET SCHEMA
 * into` can move the table: index names are unique per schema in PostgreSQL, per table in MySQL,
 * whose tables a sync of several databases moves between databases.
 */
export function freeIndexNamesSql(schema: string, table: string, into: string): string {
  const rel = quoteLiteral(`${quoteIdent(schema)}.${quoteIdent(table)}`);
  const taken = (name: string) => `EXISTS (SELECT 1 FROM pg_class k JOIN pg_namespace s ON s.oid = k.relnamespace WHERE s.nspname IN (${quoteLiteral(schema)}, ${quoteLiteral(into)}) AND k.relname = ${name})`;
  return (
    `DO $tributary$ DECLARE r record; n text; i int; BEGIN FOR r IN SELECT c.relname::text AS name FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid ` +
    `WHERE x.indrelid = ${rel}::regclass AND EXISTS (SELECT 1 FROM pg_class k JOIN pg_namespace s ON s.oid = k.relnamespace WHERE s.nspname = ${quoteLiteral(into)} AND k.relname = c.relname) ` +
    `LOOP i := 1; LOOP n := left(r.name, 55) || '_' || i; EXIT WHEN NOT ${taken('n')}; i := i + 1; END LOOP; ` +
    `EXECUTE format('ALTER INDEX %I.%I RENAME TO %I', ${quoteLiteral(schema)}, r.name, n); END LOOP; END $tributary$`
  );
}

export function dropIndexesSql(schema: string, table: string, which: { readonly primary: true } | { readonly columns: readonly string[]; readonly unique: boolean }): string {
  const rel = quoteLiteral(qualified(schema, table));
  const match =
    'primary' in which
      ? 'i.indisprimary'
      : `NOT i.indisprimary AND i.indisunique = ${which.unique ? 'true' : 'false'} AND i.indpred IS NULL AND i.indexprs IS NULL ` +
        `AND (SELECT array_agg(a.attname::text ORDER BY k.o) FROM unnest(i.indkey) WITH ORDINALITY AS k(n, o) JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n) = ARRAY[${which.columns.map(quoteLiteral).join(', ')}]::text[]`;
  return (
    `DO $tributary$ DECLARE r record; BEGIN FOR r IN SELECT i.indexrelid::regclass::text AS idx, c.conname FROM pg_index i ` +
    `LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid AND c.conrelid = i.indrelid AND c.contype IN ('p', 'u', 'x') ` +
    `WHERE i.indrelid = ${rel}::regclass AND ${match} ` +
    `LOOP IF r.conname IS NOT NULL THEN EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', ${rel}::regclass, r.conname); ` +
    `ELSE EXECUTE format('DROP INDEX %s', r.idx); END IF; END LOOP; END $tributary$`
  );
}

