import { coalesce, type Change } from '../core/change.js';
import { isKeyless, type TableSchema } from '../core/schema.js';
import { keyString } from '../core/values.js';
import { opBytes, type StreamOp } from '../copier/convergence.js';

interface TableBatch {
  truncate: boolean;
  readonly ops: Map<string, Change>;
  bytes: number;
}

/**
 * Stream changes coalesced per key: the last image of each key wins, a delete replaces an upsert,
 * and a truncate discards everything before it. Bounded by the caller, which spills or commits it.
 * A keyless table's changes (core/schema.ts rowKey) are never coalesced: two equal images are two
 * rows, so each change is kept, in stream order, and the target applies them in that order.
 */
export class Batch {
  private readonly tables = new Map<string, TableBatch>();
  private readonly schemas: ReadonlyMap<string, TableSchema>;
  /** Changes added (before coalescing) since the batch was emptied. */
  changes = 0;
  /** Bytes added (opBytes, before coalescing: a bound on what the batch holds) since the tables now in it were emptied. */
  bytes = 0;

  constructor(schemas: ReadonlyMap<string, TableSchema>) {
    this.schemas = schemas;
  }

  get empty(): boolean {
    return this.tables.size === 0;
  }

  /** The tables with something pending and the bytes of each, most bytes first. */
  tableBytes(): { table: string; bytes: number }[] {
    return [...this.tables].map(([table, tb]) => ({ table, bytes: tb.bytes })).sort((a, b) => b.bytes - a.bytes);
  }

  add(op: StreamOp): void {
    let tb = this.tables.get(op.table);
    if (!tb) this.tables.set(op.table, (tb = { truncate: false, ops: new Map(), bytes: 0 }));
    this.changes++;
    if (op.kind === 'truncate') {
      tb.truncate = true;
      tb.ops.clear();
      this.bytes -= tb.bytes;
      tb.bytes = 0;
      return;
    }
    const schema = this.schemas.get(op.table);
    if (!schema) return;
    if (isKeyless(schema)) {
      // A key no other change has: Map keeps insertion order, so drain() yields stream order.
      tb.ops.set(`#${tb.ops.size}`, op);
      const bytes = opBytes(op);
      tb.bytes += bytes;
      this.bytes += bytes;
      return;
    }
    // Exact keys, never folded by collation: row images carry the key as stored, and a key change
    // (even of case only) arrives as a delete plus an upsert, which apply() runs deletes first.
    const k = keyString(op.key);
    // coalesce(): an upsert that leaves columns unchanged (PostgreSQL TOAST) keeps the earlier
    // image's values for them.
    const prev = tb.ops.get(k);
    // Moved to the end (drain() yields each key at its last change's place); a new key is there already.
    if (prev !== undefined) tb.ops.delete(k);
    tb.ops.set(k, coalesce(prev, op));
    const bytes = opBytes(op);
    tb.bytes += bytes;
    this.bytes += bytes;
  }

  /**
   * Takes everything out, or only the tables `only` accepts, leaving those empty. The counters
   * restart at zero only when the batch is left empty.
   */
  drain(only?: (table: string) => boolean): { truncates: string[]; changes: Change[] } {
    const truncates: string[] = [];
    const changes: Change[] = [];
    for (const [name, tb] of this.tables) {
      if (only && !only(name)) continue;
      if (tb.truncate) truncates.push(name);
      for (const c of tb.ops.values()) changes.push(c);
      this.tables.delete(name);
      this.bytes -= tb.bytes;
    }
    if (this.tables.size === 0) {
      this.changes = 0;
      this.bytes = 0;
    }
    return { truncates, changes };
  }
}
