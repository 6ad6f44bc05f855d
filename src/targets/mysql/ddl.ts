import { ErrorCode, TributaryError } from '../../core/errors.js';
import type { TableSchema } from '../../core/schema.js';
import { binaryCollation, mapPostgresTable, type PgToMysqlOptions, type TableMapping } from '../../typemap/postgres-to-mysql.js';
import { quoteId } from '../../engines/mysql/sql.js';

/**
 * The CREATE TABLE for a target table. From a MySQL/MariaDB source the source's own statement is
 * used, so every type, charset, collation, default and generated column stays as it was. From a
 * PostgreSQL source the statement is rendered from the type map (typemap/postgres-to-mysql.ts);
 * pass that map's options (overrides, server flavour).
 */
export function createTableSql(table: TableSchema, opts: PgToMysqlOptions = {}): string {
  if (table.engine === 'mysql' && table.createStatement) {
    return table.createStatement
      .replace(/^CREATE TABLE\s+`(?:[^`]|``)+`/i, `CREATE TABLE IF NOT EXISTS ${quoteId(table.name)}`)
      .replace(/\s+AUTO_INCREMENT=\d+/i, '');
  }
  if (table.engine === 'postgres') return createTableFromMapping(mapPostgresTable(table, opts), opts);
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
export function createTableFromMapping(mapping: TableMapping, opts: PgToMysqlOptions = {}): string {
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
