import type { StreamEvent } from '../core/change.js';
import type { TableSchema } from '../core/schema.js';

/**
 * The table definitions a relay decodes its source's rows with, and how its records change them.
 * A relay stores decoded rows, so its readers need no schema history; the relay itself does: when it
 * resumes from its last durable record, the rows after that record were written under the
 * definitions of then, not of the source's catalogue now (an ALTER made while the relay was down).
 * So every segment's header holds the definitions at the segment's start (record.ts SegmentHeader
 * `tables`), and the definitions after any record are that header's folded with the schema changes
 * of the segment's records up to it (foldSchemas), as the source's stream left them.
 */

/**
 * Applies the schema changes among `events` (one record's) to `into`, in order: each `ddl` event
 * that carries the tables' definitions after it (`after`) removes the tables of `before` that are
 * not in `after` (dropped, or renamed away) and sets each table of `after`. A `ddl` event without
 * `after` (a statement the source could not parse) changes nothing: the source's stream decodes on
 * with the definitions it had. Returns whether anything changed.
 */
export function foldSchemas(into: Map<string, TableSchema>, events: readonly StreamEvent[]): boolean {
  let changed = false;
  for (const e of events) {
    if (e.type !== 'ddl' || e.after === undefined) continue;
    for (const name of e.before?.keys() ?? []) {
      if (!e.after.has(name)) changed = into.delete(name) || changed;
    }
    for (const [name, table] of e.after) {
      into.set(name, table);
      changed = true;
    }
  }
  return changed;
}

/**
 * The definitions a resumed relay streams with: for each table the selection takes now
 * (`described`, the source's catalogue now), the relay's own definition at its last record when it
 * has one (`stored`), the catalogue's otherwise (a table new to the relay: none of its rows are
 * behind it); and each stored table the catalogue no longer lists but `selected` still takes (one
 * dropped or renamed while the relay was down: its rows before that statement decode with it, and
 * the statement then removes it).
 */
export function streamSchemas(stored: ReadonlyMap<string, TableSchema>, described: readonly TableSchema[], selected: (name: string) => boolean): TableSchema[] {
  const now = new Set(described.map((t) => t.name));
  return [
    ...described.map((t) => stored.get(t.name) ?? t),
    ...[...stored.values()].filter((t) => !now.has(t.name) && selected(t.name)),
  ];
}
