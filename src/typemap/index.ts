import type { Column, TableSchema } from '../core/schema.js';
import { mysqlToPostgresType, type PostgresColumnType, type PostgresTypeOptions } from './mysql-to-postgres.js';

export { mysqlToPostgresType, SPATIAL_POLICY, type PostgresColumnType, type PostgresTypeOptions } from './mysql-to-postgres.js';

/**
 * The PostgreSQL type of a source column, whatever the source engine. A PostgreSQL source keeps
 * its own declaration (format_type), so PostgreSQL → PostgreSQL is the identity, except for a
 * column of a user enum type (Column.enumType), whose type the target creates in its own
 * `schema`: the column is declared with that type ("schema"."type", with [] for an array of it).
 */
export function postgresTypeFor(table: TableSchema, col: Column, opts: PostgresTypeOptions, schema = 'public'): PostgresColumnType {
  if (table.engine === 'mysql') return mysqlToPostgresType(table, col, opts);
  const override = opts.columnTypes[`${table.name}.${col.name}`];
  if (override !== undefined) return { sql: override, forceNullable: false, overridden: true };
  if (col.enumType !== undefined) return { sql: enumColumnType(schema, col.enumType, col), forceNullable: false, overridden: false };
  return { sql: col.columnType, forceNullable: false, overridden: false };
}

function enumColumnType(schema: string, enumType: string, col: Column): string {
  const quote = (name: string) => '"' + name.replace(/"/g, '""') + '"';
  const array = col.dataType.startsWith('_') || /\[\]$/.test(col.columnType);
  return `${quote(schema)}.${quote(enumType)}${array ? '[]' : ''}`;
}
