import { ErrorCode, TributaryError } from '../../core/errors.js';
import type { TableSchema } from '../../core/schema.js';
import { quoteId } from './sql.js';

/**
 * The CREATE TABLE for a target table. From a MySQL/MariaDB source the source's own statement is
 * used, so every type, charset, collation, default and generated column stays as it was.
 */
export function createTableSql(table: TableSchema): string {
  if (table.engine === 'mysql' && table.createStatement) {
    return table.createStatement
      .replace(/^CREATE TABLE\s+`(?:[^`]|``)+`/i, `CREATE TABLE IF NOT EXISTS ${quoteId(table.name)}`)
      .replace(/\s+AUTO_INCREMENT=\d+/i, '');
  }
  throw new TributaryError(
    ErrorCode.TABLE_UNSUPPORTED,
    `table ${table.name}: creating a MySQL table from a ${table.engine} source is not supported yet; create it on the target first`,
  );
}
