import { ErrorCode, TributaryError } from '../../core/errors.js';
import { renderRowFilter, type RowFilter } from '../../core/row-filter.js';
import type { Column, TableSchema } from '../../core/schema.js';
import type { Value } from '../../core/values.js';
import { quoteIdent } from './sql.js';

/**
 * A row filter (core/row-filter.ts) as a PostgreSQL boolean expression that is TRUE exactly when
 * transform/expression.ts evaluateFilter is TRUE on the canonical row readChunk returns for it.
 * The snapshot reads AND it into their WHERE (chunks.ts filtered).
 *
 * Literals are inlined, typed by the column's kind: COPY (readChunkEncoded) takes no parameters,
 * and the filter is one fixed text per table definition, cached with the rest of its SQL.
 *
 * Each column is compared the way the canonical values compare (core/row-filter.ts):
 * - text, enums, uuid as their output text under `COLLATE "C"` (byte order in a UTF8 database),
 *   whatever the column's collation; an enum by its label, not its sort order. A char(n) is
 *   compared padded to n, as it is printed (a cast to text would drop the padding);
 * - numbers in their own types (numeric exactly, NaN above every number as in JavaScript's
 *   comparison, a real widened to double precision), bit strings as bit strings, bytea by bytes;
 * - dates, timestamps and times in their own types; a timestamptz literal is UTC.
 */
export function filterSql(filter: RowFilter, table: TableSchema): string {
  return renderRowFilter(filter, table, { quote: quoteIdent, side: (col) => side(table, col) });
}

/** A string literal that means the same whatever standard_conforming_strings says. */
function quoted(text: string): string {
  return `E'${text.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

/** The column as an expression, and a literal of its type rendered to compare with it. */
function side(table: TableSchema, col: Column): { expr: string; lit: (v: Value) => string } {
  const name = quoteIdent(col.name);
  const t = col.logical;
  const wrong = (v: Value) =>
    new TributaryError(ErrorCode.INTERNAL, `row filter on ${table.name}.${col.name} (${col.columnType}): literal ${String(v)} is not a canonical value of its type; bindFilter makes it one`);
  const typed = (type: string, ok: (v: Value) => boolean = (v) => typeof v === 'string', text: (v: Value) => string = String) => (v: Value) => {
    if (!ok(v)) throw wrong(v);
    return `${quoted(text(v))}::${type}`;
  };
  switch (t?.kind) {
    case 'integer':
    case 'year':
      return { expr: name, lit: typed('int8', (v) => typeof v === 'bigint') };
    case 'decimal':
      return { expr: name, lit: typed('numeric') };
    case 'float':
      return { expr: name, lit: typed('float8', (v) => typeof v === 'number') };
    case 'boolean':
      return { expr: name, lit: typed('boolean', (v) => typeof v === 'boolean') };
    case 'binary':
      return { expr: name, lit: typed('bytea', (v) => Buffer.isBuffer(v), (v) => '\\x' + (v as Buffer).toString('hex')) };
    case 'date':
      return { expr: name, lit: typed('date') };
    case 'timestamp':
      return t.zone ? { expr: name, lit: typed('timestamptz', undefined, (v) => `${String(v)}+00`) } : { expr: name, lit: typed('timestamp') };
    case 'time':
      return { expr: name, lit: typed('time') };
    case 'bit': {
      const width = t.length ?? 1;
      const bits = (v: Value) => (typeof v === 'bigint' ? v.toString(2).padStart(width, '0') : String(v));
      return { expr: name, lit: typed(t.varying ? 'varbit' : `bit(${width})`, (v) => (t.varying ? typeof v === 'string' : typeof v === 'bigint'), bits) };
    }
    case 'text':
    case 'enum':
    case 'set':
    case 'uuid':
    case 'inet': {
      // A char(n) prints padded to n, but its cast to text drops trailing spaces: rpad puts them
      // back; format() prints a bpchar without a length through its output function, as read.
      const fixed = t.kind === 'text' && t.fixed;
      const text = fixed && t.length !== undefined ? `rpad(${name}::text, ${t.length})` : fixed ? `format('%s', ${name})` : `${name}::text`;
      return { expr: `${text} COLLATE "C"`, lit: (v) => {
        if (typeof v !== 'string') throw wrong(v);
        return quoted(v);
      } };
    }
    default:
      throw new TributaryError(ErrorCode.INTERNAL, `row filter on ${table.name}.${col.name} (${col.columnType}): no exact comparison for logical type ${t?.kind ?? 'missing'}; bindFilter refuses it`);
  }
}
