import { ErrorCode, TributaryError } from '../../core/errors.js';
import type { Column, TableSchema } from '../../core/schema.js';
import { postgresTypeFor, type PostgresColumnType, type PostgresTypeOptions } from '../../typemap/index.js';
import { MAX_IDENTIFIER_BYTES, qualified, quoteIdent } from './sql.js';

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
export function planTypes(table: TableSchema, opts: PostgresTypeOptions): PostgresColumnType[] {
  checkIdentifier('table name', table.name);
  return table.columns.map((c: Column) => {
    checkIdentifier(`column name ${table.name}.`, c.name);
    return postgresTypeFor(table, c, opts);
  });
}

/**
 * CREATE TABLE for a target table, rendered from the source's schema through the type map.
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
  if (table.primaryKey.length) lines.push(`PRIMARY KEY (${names(table.primaryKey)})`);
  for (const u of table.uniqueKeys ?? []) {
    if (u.length === 0 || u.some((i) => i < 0)) continue;
    lines.push(`UNIQUE (${names(u)}) DEFERRABLE INITIALLY DEFERRED`);
  }
  return `CREATE TABLE IF NOT EXISTS ${qualified(schema, table.name)} (\n  ${lines.join(',\n  ')}\n)`;
}
