import { ErrorCode, TributaryError } from '../../core/errors.js';
import { renderRowFilter, type RowFilter } from '../../core/row-filter.js';
import type { Column, TableSchema } from '../../core/schema.js';
import type { Value } from '../../core/values.js';
import { literal, quoteId } from './sql.js';

/**
 * A row filter (core/row-filter.ts) as a MySQL/MariaDB boolean expression that is TRUE exactly
 * when transform/expression.ts evaluateFilter is TRUE on the canonical row readChunk returns for
 * it. The snapshot reads AND it into their WHERE (chunks.ts filtered).
 *
 * Literals are inlined, not bound as `?` parameters: the filter is one fixed text per table
 * definition, cached with the rest of its SQL (chunks.ts chunkSql), and mysql2's query() inlines
 * parameters on the client anyway.
 *
 * Each column is compared the way the canonical values compare (core/row-filter.ts):
 * - text, ENUM, SET, UUID, INET as the UTF-8 bytes the connection receives:
 *   `CAST(CONVERT(c USING utf8mb4) AS BINARY)` against the literal's bytes. A binary string
 *   compares byte by byte with no padding, so neither a `_ci` collation (which folds case and
 *   accents) nor a PAD SPACE one (which ignores trailing spaces: 'a ' = 'a') decides, and an ENUM
 *   compares by its label, not its index;
 * - integers and BIT as integers, exact DECIMAL against an exact decimal literal, FLOAT/DOUBLE
 *   against a double literal (a FLOAT is compared widened to double, as it is read);
 * - DATE, DATETIME, TIMESTAMP and TIME against a value CAST to their type with 6 fraction digits
 *   (TIMESTAMP in the session's +00:00, as it is read).
 */
export function filterSql(filter: RowFilter, table: TableSchema): string {
  return renderRowFilter(filter, table, { quote: quoteId, side: (col) => side(table, col) });
}

function wrongValue(table: TableSchema, col: Column, v: Value): TributaryError {
  return new TributaryError(ErrorCode.INTERNAL, `row filter on ${table.name}.${col.name} (${col.columnType}): literal ${String(v)} is not a canonical value of its type; bindFilter makes it one`);
}

/** The column as an expression, and a literal of its type rendered to compare with it. */
function side(table: TableSchema, col: Column): { expr: string; lit: (v: Value) => string } {
  const name = quoteId(col.name);
  const t = col.logical;
  const check = <T extends Value>(ok: (v: Value) => v is T, render: (v: T) => string) => (v: Value) => {
    if (!ok(v)) throw wrongValue(table, col, v);
    return render(v);
  };
  const isString = (v: Value): v is string => typeof v === 'string';
  const cast = (type: string) => check(isString, (v) => `CAST(${literal(v)} AS ${type})`);
  switch (t?.kind) {
    case 'integer':
    case 'year':
      return { expr: name, lit: check((v): v is bigint => typeof v === 'bigint', (v) => v.toString()) };
    case 'bit':
      return { expr: `CAST(${name} AS UNSIGNED)`, lit: check((v): v is bigint => typeof v === 'bigint', (v) => v.toString()) };
    case 'decimal':
      return {
        expr: name,
        lit: check(isString, (v) => {
          const m = /^-?(\d+)(?:\.(\d+))?$/.exec(v);
          // Beyond DECIMAL(65,30) MySQL would read the literal as a double.
          if (!m || (m[1] as string).length + (m[2] ?? '').length > 65 || (m[2] ?? '').length > 30) {
            throw new TributaryError(ErrorCode.CONFIG_INVALID, `row filter on ${table.name}.${col.name} (${col.columnType}): ${v} is not an exact MySQL decimal (at most 65 digits, 30 after the point); compare with a value the column can hold`);
          }
          return v;
        }),
      };
    case 'float':
      return { expr: name, lit: check((v): v is number => typeof v === 'number' && Number.isFinite(v), literal) };
    case 'boolean':
      return { expr: name, lit: check((v): v is boolean => typeof v === 'boolean', (v) => (v ? 'TRUE' : 'FALSE')) };
    case 'binary':
      return { expr: name, lit: check((v): v is Buffer => Buffer.isBuffer(v), bytes) };
    case 'date':
      return { expr: name, lit: cast('DATE') };
    case 'timestamp':
      return { expr: name, lit: cast('DATETIME(6)') };
    case 'time':
      return { expr: name, lit: cast('TIME(6)') };
    case 'text':
    case 'enum':
    case 'set':
    case 'uuid':
    case 'inet':
      return { expr: `CAST(CONVERT(${name} USING utf8mb4) AS BINARY)`, lit: check(isString, (v) => bytes(Buffer.from(v, 'utf8'))) };
    default:
      throw new TributaryError(ErrorCode.INTERNAL, `row filter on ${table.name}.${col.name} (${col.columnType}): no exact comparison for logical type ${t?.kind ?? 'missing'}; bindFilter refuses it`);
  }
}

const bytes = (b: Buffer): string => (b.length === 0 ? "_binary''" : `X'${b.toString('hex')}'`);
