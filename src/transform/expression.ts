// PLACEHOLDER until the row-filter branch lands (helper-filter): replaced by the real module at merge.
import { ErrorCode, TributaryError } from '../core/errors.js';
import type { RowFilter } from '../core/row-filter.js';
import type { TableSchema } from '../core/schema.js';
import type { Row } from '../core/values.js';

export type FilterSyntax = { readonly text: string };
export function parseFilter(text: string): FilterSyntax {
  return { text };
}
export function bindFilter(_s: FilterSyntax, _t: TableSchema, label: string): RowFilter {
  throw new TributaryError(ErrorCode.CONFIG_INVALID, `--where on ${label}: row filters are not available yet`);
}
export function compileFilter(_f: RowFilter, _t: TableSchema): (row: Row) => boolean | null {
  return () => null;
}
