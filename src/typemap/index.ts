import type { Column, TableSchema } from '../core/schema.js';
import { mysqlToPostgresType, type PostgresColumnType, type PostgresTypeOptions } from './mysql-to-postgres.js';

export { isZeroDate, mysqlToPostgresType, type PostgresColumnType, type PostgresTypeOptions } from './mysql-to-postgres.js';

/**
 * The PostgreSQL type of a source column, whatever the source engine. A PostgreSQL source keeps
 * its own declaration (format_type), so PostgreSQL → PostgreSQL is the identity.
 */
export function postgresTypeFor(table: TableSchema, col: Column, opts: PostgresTypeOptions): PostgresColumnType {
  if (table.engine === 'mysql') return mysqlToPostgresType(table, col, opts);
  const override = opts.columnTypes[`${table.name}.${col.name}`];
  return { sql: override ?? col.columnType, forceNullable: false, overridden: override !== undefined };
}
