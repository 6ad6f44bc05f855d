import { rowOf, type StreamEvent } from '../core/change.js';
import { isKeyless } from '../core/schema.js';
import { viewIndexes, viewRow, type TableView } from './view.js';

type ChangeEvent = Extract<StreamEvent, { type: 'change' }>;

/**
 * One row change of the source as the consumers see it under its table's view (transform/view.ts),
 * or null when it does not reach them. Renamed and trimmed to the view's columns, and, for a table
 * with a row filter, judged by it on the row images:
 * - an image inside the filter is written as it is (an UPDATE that brings a row in writes it whole:
 *   the stream's images are full, MySQL's binlog_row_image=FULL);
 * - an UPDATE whose new image is outside the filter deletes the key on the target, unless its old
 *   image (`before`, where the source gives it) shows the row was outside too; an INSERT outside is
 *   dropped;
 * - a DELETE whose old image is known to be outside is dropped; other deletes pass (deleting a key
 *   the target lacks does nothing);
 * - a partial image (PostgreSQL's unchanged TOASTed values) that leaves out a column the filter
 *   reads cannot be judged: it passes as the partial update it is, which changes the row only where
 *   the target has it. docs/filters.md says to give such tables REPLICA IDENTITY FULL.
 * The converted delete carries no `before`: the source row still exists, so nothing cascades.
 */
export function transformChange(v: TableView, ev: ChangeEvent): ChangeEvent | null {
  const c = ev.change;
  const table = v.view.name;
  const before = ev.before && v.keep ? viewRow(v, ev.before) : ev.before;
  const matches = v.matches;
  if (matches) {
    const keyless = isKeyless(v.full);
    if (c.kind === 'upsert') {
      const partial = c.unchanged?.some((i) => v.filterColumns?.has(i)) ?? false;
      if (!partial && matches(rowOf(c)) !== true) {
        if (keyless || ev.op === 'insert') return null;
        if (ev.before && matches(ev.before) !== true) return null;
        return { type: 'change', change: { kind: 'delete', table, key: c.key }, ...(ev.op ? { op: ev.op } : {}) };
      }
    } else {
      if (ev.before && matches(ev.before) !== true) return null;
      if (keyless && matches(c.key) !== true) return null;
    }
  }
  if (c.kind === 'delete') {
    const key = isKeyless(v.full) && v.keep ? viewRow(v, c.key) : c.key;
    return { ...ev, change: { kind: 'delete', table, key }, ...(before ? { before } : {}) };
  }
  const row = viewRow(v, rowOf(c));
  const key = isKeyless(v.full) && v.keep ? viewRow(v, c.key) : c.key;
  const unchanged = c.unchanged && v.keep ? viewIndexes(v, c.unchanged) : c.unchanged;
  return {
    ...ev,
    change: { kind: 'upsert', table, key, row, ...(unchanged?.length ? { unchanged } : {}) },
    ...(before ? { before } : {}),
  };
}
