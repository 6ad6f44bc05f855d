import type { Connection, Pool, RowDataPacket } from 'mysql2/promise';
import { ErrorCode, TributaryError } from '../../core/errors.js';
import { keyedTable, type Column, type ForeignKey, type ForeignKeyRule, type IndexDefinition, type TableSchema } from '../../core/schema.js';
import { isMysqlSpatial } from './types.js';
import type { DatabaseDefaults } from '../../core/source.js';
import { quoteId } from './sql.js';
import { withLogical } from './types.js';

type Queryable = Pick<Connection | Pool, 'query'>;

/** Base tables of `database`, in name order. */
export async function listTables(conn: Queryable, database: string): Promise<string[]> {
  const [rows] = await conn.query<RowDataPacket[]>(
    "SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME",
    [database],
  );
  return rows.map((r) => String(r.name)).filter((n) => !n.startsWith('_tributary_'));
}

/**
 * The server's databases but its own (information_schema, mysql, performance_schema, sys), in name
 * order: what --databases selects from.
 */
export async function listDatabases(conn: Queryable): Promise<string[]> {
  const [rows] = await conn.query<RowDataPacket[]>('SELECT SCHEMA_NAME AS name FROM information_schema.SCHEMATA ORDER BY SCHEMA_NAME');
  return rows.map((r) => String(r.name)).filter((n) => !SYSTEM_DATABASES.has(n.toLowerCase()));
}

/** The server's own databases: never synced by --databases. */
export const SYSTEM_DATABASES: ReadonlySet<string> = new Set(['information_schema', 'mysql', 'performance_schema', 'sys']);

/** The default character set and collation of `database` (information_schema.SCHEMATA). */
export async function databaseDefaults(conn: Queryable, database: string): Promise<DatabaseDefaults> {
  const [rows] = await conn.query<RowDataPacket[]>(
    'SELECT DEFAULT_CHARACTER_SET_NAME AS cs, DEFAULT_COLLATION_NAME AS co FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?',
    [database],
  );
  const r = rows[0];
  if (!r) throw new TributaryError(ErrorCode.DATABASE_MISSING, `source database '${database}' does not exist; fix the URL's path`);
  return { engine: 'mysql', charset: String(r.cs), collation: String(r.co) };
}

/** Reads a table's columns, primary key and CREATE statement from the catalogue. */
export async function describeTable(conn: Queryable, database: string, table: string): Promise<TableSchema> {
  const [cols] = await conn.query<RowDataPacket[]>(
    `SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, IS_NULLABLE, CHARACTER_SET_NAME, COLLATION_NAME,
            NUMERIC_PRECISION, NUMERIC_SCALE, DATETIME_PRECISION, EXTRA, GENERATION_EXPRESSION
       FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`,
    [database, table],
  );
  if (cols.length === 0) {
    throw new TributaryError(ErrorCode.TABLE_UNSUPPORTED, `table ${database}.${table} not found on the source; check --tables`);
  }
  const columns: Column[] = [];
  const generated: string[] = [];
  for (const c of cols) {
    const extra = String(c.EXTRA ?? '').toUpperCase();
    if (extra.includes('GENERATED') && !extra.includes('DEFAULT_GENERATED')) {
      generated.push(String(c.COLUMN_NAME));
      continue;
    }
    const dataType = String(c.DATA_TYPE).toLowerCase();
    // Lower case but for ENUM and SET, whose labels are values: 'PG' is not 'pg'.
    const columnType = dataType === 'enum' || dataType === 'set' ? String(c.COLUMN_TYPE) : String(c.COLUMN_TYPE).toLowerCase();
    const temporal = ['datetime', 'timestamp', 'time'].includes(dataType);
    columns.push({
      name: String(c.COLUMN_NAME),
      dataType,
      columnType,
      nullable: c.IS_NULLABLE === 'YES',
      unsigned: /\bunsigned\b/.test(columnType),
      ...(c.CHARACTER_SET_NAME ? { charset: String(c.CHARACTER_SET_NAME) } : /binary|blob/.test(dataType) ? { charset: 'binary' } : {}),
      ...(c.COLLATION_NAME ? { collation: String(c.COLLATION_NAME) } : {}),
      ...(temporal ? { scale: Number(c.DATETIME_PRECISION ?? 0) } : c.NUMERIC_SCALE !== null ? { scale: Number(c.NUMERIC_SCALE) } : {}),
      ...(c.NUMERIC_PRECISION !== null ? { precision: Number(c.NUMERIC_PRECISION) } : {}),
    });
  }
  if (columns.some((c) => isMysqlSpatial(c.dataType))) {
    const srids = await declaredSrids(conn, database, table);
    for (let i = 0; i < columns.length; i++) {
      const c = columns[i] as Column;
      const srid = srids.get(c.name);
      if (srid !== undefined && srid > 0 && isMysqlSpatial(c.dataType)) columns[i] = { ...c, srid };
    }
  }
  const [keys] = await conn.query<RowDataPacket[]>(
    `SELECT COLUMN_NAME FROM information_schema.STATISTICS
      WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND INDEX_NAME = 'PRIMARY' ORDER BY SEQ_IN_INDEX`,
    [database, table],
  );
  const primaryKey = keys.map((k) => {
    const i = columns.findIndex((c) => c.name === k.COLUMN_NAME);
    if (i < 0) throw new TributaryError(ErrorCode.TABLE_UNSUPPORTED, `table ${table}: primary key column ${String(k.COLUMN_NAME)} is generated; tributary cannot key on it`);
    return i;
  });
  const [parts] = await conn.query<RowDataPacket[]>(
    `SELECT INDEX_NAME, COLUMN_NAME, NON_UNIQUE FROM information_schema.STATISTICS
      WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND INDEX_NAME <> 'PRIMARY' ORDER BY INDEX_NAME, SEQ_IN_INDEX`,
    [database, table],
  );
  const byIndex = new Map<string, { unique: boolean; columns: string[]; written: boolean }>();
  for (const part of parts) {
    const name = String(part.INDEX_NAME);
    let index = byIndex.get(name);
    if (!index) byIndex.set(name, (index = { unique: Number(part.NON_UNIQUE) === 0, columns: [], written: true }));
    // A functional key part (MySQL 8) has no column.
    if (part.COLUMN_NAME !== null) index.columns.push(String(part.COLUMN_NAME));
    if (part.COLUMN_NAME === null || !columns.some((c) => c.name === part.COLUMN_NAME)) index.written = false;
  }
  const indexes: IndexDefinition[] = [...byIndex].map(([name, i]) => ({ name, columns: i.columns, unique: i.unique }));
  // A unique key is one over written columns only (not over an expression or a generated column).
  const uniqueKeys = [...byIndex.values()].filter((i) => i.unique && i.written).map((i) => i.columns.map((n) => columns.findIndex((c) => c.name === n)));
  const [create] = await conn.query<RowDataPacket[]>(`SHOW CREATE TABLE ${quoteId(database)}.${quoteId(table)}`);
  const createStatement = String(create[0]?.['Create Table'] ?? '');
  const foreignKeys = await describeForeignKeys(conn, database, table);
  return keyedTable(withLogical({ name: table, columns, primaryKey, uniqueKeys, indexes, generated, createStatement, engine: 'mysql', foreignKeys }));
}

const RULES: ReadonlySet<string> = new Set<ForeignKeyRule>(['NO ACTION', 'RESTRICT', 'CASCADE', 'SET NULL', 'SET DEFAULT']);

function rule(value: unknown): ForeignKeyRule {
  const r = String(value).toUpperCase();
  return RULES.has(r) ? (r as ForeignKeyRule) : 'RESTRICT';
}

/**
 * The foreign keys of `table` (REFERENTIAL_CONSTRAINTS for the rules, KEY_COLUMN_USAGE for the
 * columns in constraint order), by name. A key referencing another database is described as well;
 * the session leaves it out with the other keys that reference tables outside the sync.
 */
export async function describeForeignKeys(conn: Queryable, database: string, table: string): Promise<ForeignKey[]> {
  const [rows] = await conn.query<RowDataPacket[]>(
    `SELECT rc.CONSTRAINT_NAME AS name, rc.UPDATE_RULE AS upd, rc.DELETE_RULE AS del,
            k.COLUMN_NAME AS col, k.REFERENCED_TABLE_SCHEMA AS refdb, k.REFERENCED_TABLE_NAME AS reft, k.REFERENCED_COLUMN_NAME AS refcol
       FROM information_schema.REFERENTIAL_CONSTRAINTS rc
       JOIN information_schema.KEY_COLUMN_USAGE k
         ON k.CONSTRAINT_SCHEMA = rc.CONSTRAINT_SCHEMA AND k.CONSTRAINT_NAME = rc.CONSTRAINT_NAME AND k.TABLE_NAME = rc.TABLE_NAME
      WHERE rc.CONSTRAINT_SCHEMA = ? AND rc.TABLE_NAME = ?
      ORDER BY rc.CONSTRAINT_NAME, k.ORDINAL_POSITION`,
    [database, table],
  );
  const byName = new Map<string, { fk: ForeignKey; columns: string[]; referencedColumns: string[] }>();
  for (const r of rows) {
    const name = String(r.name);
    let entry = byName.get(name);
    if (!entry) {
      const columns: string[] = [];
      const referencedColumns: string[] = [];
      // Another database's table keeps its qualifier, so it never matches a synced table's name.
      const referencedTable = String(r.refdb) === database ? String(r.reft) : `${String(r.refdb)}.${String(r.reft)}`;
      entry = { fk: { name, columns, referencedTable, referencedColumns, onUpdate: rule(r.upd), onDelete: rule(r.del) }, columns, referencedColumns };
      byName.set(name, entry);
    }
    entry.columns.push(String(r.col));
    entry.referencedColumns.push(String(r.refcol));
  }
  return [...byName.values()].map((e) => e.fk);
}

/**
 * The SRIDs spatial columns of a table declare: MySQL 8 lists them in COLUMNS.SRS_ID (NULL when
 * none); MariaDB has no such column and keeps its REF_SYSTEM_ID in GEOMETRY_COLUMNS.SRID (0 when
 * none). SHOW CREATE TABLE on MariaDB 10.11 leaves REF_SYSTEM_ID out.
 */
async function declaredSrids(conn: Queryable, database: string, table: string): Promise<Map<string, number>> {
  let rows: RowDataPacket[];
  try {
    [rows] = await conn.query<RowDataPacket[]>(
      'SELECT COLUMN_NAME AS name, SRS_ID AS srid FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND SRS_ID IS NOT NULL',
      [database, table],
    );
  } catch (err) {
    if ((err as { errno?: number }).errno !== 1054) throw err; // ER_BAD_FIELD_ERROR: not MySQL 8
    [rows] = await conn.query<RowDataPacket[]>(
      'SELECT G_GEOMETRY_COLUMN AS name, SRID AS srid FROM information_schema.GEOMETRY_COLUMNS WHERE G_TABLE_SCHEMA = ? AND G_TABLE_NAME = ?',
      [database, table],
    );
  }
  return new Map(rows.map((r) => [String(r.name), Number(r.srid)]));
}
