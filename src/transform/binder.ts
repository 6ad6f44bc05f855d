import type { RowFilter } from '../core/row-filter.js';
import { bindFilter, compileFilter, parseFilter } from './expression.js';
import { predicateFilter } from './rules.js';
import type { FilterBinder } from './view.js';

/** The column names `filter` reads; null for a predicate pair, which may read any. */
export function filterColumns(filter: RowFilter): string[] | null {
  switch (filter.kind) {
    case 'and':
    case 'or': {
      const out: string[] = [];
      for (const item of filter.items) {
        const cols = filterColumns(item);
        if (cols === null) return null;
        out.push(...cols);
      }
      return out;
    }
    case 'not':
      return filterColumns(filter.item);
    case 'predicate':
      return null;
    default:
      return [filter.column];
  }
}

/** The transform stage's filters: `--where` expressions parsed and bound (transform/expression.ts), predicate pairs as they are. */
export const filterBinder: FilterBinder = {
  bind: (source, table, label) => (source.kind === 'predicate' ? predicateFilter(source.pair) : bindFilter(parseFilter(source.text), table, label)),
  compile: (filter, table) => compileFilter(filter, table),
  columns: filterColumns,
};
