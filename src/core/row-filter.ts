import { ErrorCode, TributaryError } from './errors.js';
import type { Column, TableSchema } from './schema.js';
import type { Value } from './values.js';

/**
 * A row filter (`--where 'TABLE: EXPR'`) bound to a table: the expression the transform stage
 * (transform/expression.ts) parsed and checked against the table's columns, with every literal
 * already the canonical value (core/values.ts) of its column's logical type. Engine-neutral: each
 * source engine renders it as SQL in its own folder (engines/<engine>/filter.ts), and the transform
 * stage evaluates it on the stream's row images (transform/expression.ts evaluate). Both follow SQL's
 * three-valued logic (a comparison with a NULL column is unknown; a row is kept only when the whole
 * filter is TRUE), and both compare exactly as the canonical values compare: strings by their UTF-8
 * bytes (no collation folds case or pads spaces), exact decimals as numbers, temporal values by time.
 *
 * Column names are the source's, as its definition spells them. A filter may read a column the
 * definition it is on leaves out (--exclude-columns): that column's definition is then in the
 * definition's `transformedFrom`. A literal is never null: NULL is only tested with `is-null`.
 */
export type RowFilter =
  | { readonly kind: 'and'; readonly items: readonly RowFilter[] }
  | { readonly kind: 'or'; readonly items: readonly RowFilter[] }
  | { readonly kind: 'not'; readonly item: RowFilter }
  | { readonly kind: 'compare'; readonly column: string; readonly op: '=' | '<>' | '<' | '<=' | '>' | '>='; readonly value: Value }
  | { readonly kind: 'in'; readonly column: string; readonly values: readonly Value[] }
  | { readonly kind: 'between'; readonly column: string; readonly low: Value; readonly high: Value }
  | { readonly kind: 'is-null'; readonly column: string }
  /**
   * A library caller's predicate pair (as Ghostferry's CopyFilter): `sql`, a boolean SQL expression
   * in the source engine's dialect over the table's columns, which the source's reads AND into their
   * WHERE as it is, and `matches`, the same predicate over a row image (column name → canonical
   * value), which the stream's changes are judged by. The caller answers for their agreement.
   */
  | { readonly kind: 'predicate'; readonly sql: string; readonly matches: (row: Readonly<Record<string, Value>>) => boolean };

/**
 * How one engine renders a filter's comparisons (its engines/<engine>/filter.ts): a column's name
 * quoted, and a column as an expression with a literal of its type rendered to compare with it.
 */
export interface FilterDialect {
  quote(name: string): string;
  side(column: Column): { readonly expr: string; readonly lit: (v: Value) => string };
}

/**
 * `filter` as a boolean SQL expression over `table`'s columns, the structure (AND, OR, NOT, IN,
 * BETWEEN, IS NULL, a predicate pair's SQL) shared by every engine and the comparisons each
 * engine's `dialect` renders.
 */
export function renderRowFilter(filter: RowFilter, table: TableSchema, dialect: FilterDialect): string {
  const render = (f: RowFilter): string => {
    switch (f.kind) {
      case 'and':
        return f.items.length === 0 ? 'TRUE' : `(${f.items.map(render).join(' AND ')})`;
      case 'or':
        return f.items.length === 0 ? 'FALSE' : `(${f.items.map(render).join(' OR ')})`;
      case 'not':
        return `(NOT ${render(f.item)})`;
      case 'is-null':
        return `(${dialect.quote(filterColumn(table, f.column).name)} IS NULL)`;
      case 'predicate':
        return `(${f.sql})`;
      case 'compare': {
        const s = dialect.side(filterColumn(table, f.column));
        return `(${s.expr} ${f.op} ${s.lit(f.value)})`;
      }
      case 'in': {
        const s = dialect.side(filterColumn(table, f.column));
        return `(${s.expr} IN (${f.values.map(s.lit).join(', ')}))`;
      }
      case 'between': {
        const s = dialect.side(filterColumn(table, f.column));
        return `(${s.expr} BETWEEN ${s.lit(f.low)} AND ${s.lit(f.high)})`;
      }
    }
  };
  return render(filter);
}

/** The column a filter names: in `table`, else (an excluded column, still filtered on) in the source's definition it was made from. */
export function filterColumn(table: TableSchema, name: string): Column {
  const c = table.columns.find((x) => x.name === name) ?? table.transformedFrom?.columns.find((x) => x.name === name);
  if (!c) throw new TributaryError(ErrorCode.INTERNAL, `row filter names column ${name}, which table ${table.name} does not have`);
  return c;
}
