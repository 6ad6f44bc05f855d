import type { Connection, RowDataPacket } from 'mysql2/promise';
import { describeDsn, type Dsn } from '../../config/dsn.js';
import { ErrorCode, TributaryError } from '../../core/errors.js';
import type { TableSchema } from '../../core/schema.js';
import type { DatabaseDefaults } from '../../core/source.js';
import { binaryCollation, mapLogicalTable, type MapTableOptions, type MysqlFlavour, type TableMapping } from './types.js';
import { quoteId } from './sql.js';

type Queryable = Pick<Connection, 'query'>;

/** The server's own databases: `--force` never drops them. */
const SYSTEM_DATABASES = new Set(['mysql', 'information_schema', 'performance_schema', 'sys']);

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
    return table.createStatement
      .replace(/^CREATE TABLE\s+`(?:[^`]|``)+`/i, `CREATE TABLE IF NOT EXISTS ${quoteId(table.name)}`)
      .replace(/\s+AUTO_INCREMENT=\d+/i, '');
  }
  if (table.engine !== 'mysql') return createTableFromMapping(mapLogicalTable(table, opts), opts);
  throw new TributaryError(
    ErrorCode.TABLE_UNSUPPORTED,
    `table ${table.name}: creating a MySQL table from a ${table.engine} source is not supported yet; create it on the target first`,
  );
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
  if (table.primaryKey.length) lines.push(`  PRIMARY KEY (${names(table.primaryKey)})`);
  (table.uniqueKeys ?? []).forEach((k, n) => {
    if (k.length) lines.push(`  UNIQUE KEY ${quoteId(`tributary_uk${n + 1}`)} (${names(k)})`);
  });
  return (
    `CREATE TABLE IF NOT EXISTS ${quoteId(table.name)} (\n${lines.join(',\n')}\n) ` +
    `ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=${binaryCollation(opts.flavour ?? 'mariadb')}`
  );
}
