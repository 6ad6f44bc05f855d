import type { Change } from '../core/change.js';
import type { Column, TableSchema } from '../core/schema.js';
import { rowBytes, type Value } from '../core/values.js';
import type { StreamOp } from '../copier/gate.js';

/**
 * A key string that collides exactly when the target would consider two keys equal, for the
 * common collations: case-insensitive (_ci) text keys fold case, PAD SPACE collations ignore
 * trailing spaces. Binary and _bin keys compare byte for byte.
 */
function keyFolder(table: TableSchema): (key: readonly Value[]) => string {
  const folds = table.primaryKey.map((i) => {
    const c = table.columns[i] as Column;
    const coll = (c.collation ?? '').toLowerCase();
    const text = c.charset !== undefined && c.charset !== 'binary';
    return { ci: text && /_ci$|_ai_ci$/.test(coll), pad: text && !/_nopad_/.test(coll) && c.dataType !== 'varbinary' };
  });
  return (key) => {
    let s = '';
    for (let i = 0; i < key.length; i++) {
      let v = key[i] ?? null;
      const f = folds[i];
      if (typeof v === 'string' && f) {
        if (f.pad) v = v.replace(/ +$/, '');
        if (f.ci) v = v.toLowerCase();
      }
      if (v === null) s += 'n|';
      else if (typeof v === 'boolean') s += v ? 'T|' : 'F|';
      else if (typeof v === 'bigint') s += `i${v}|`;
      else if (typeof v === 'number') s += `f${v}|`;
      else if (Buffer.isBuffer(v)) s += `x${v.toString('hex')}|`;
      else s += `s${v.length}:${v}|`;
    }
    return s;
  };
}

interface TableBatch {
  truncate: boolean;
  readonly ops: Map<string, Change>;
}

/**
 * Stream changes coalesced per key: the last image of each key wins, a delete replaces an upsert,
 * and a truncate discards everything before it. Bounded by the caller, which spills or commits it.
 */
export class Batch {
  private readonly tables = new Map<string, TableBatch>();
  private readonly folders = new Map<string, (key: readonly Value[]) => string>();
  private readonly schemas: ReadonlyMap<string, TableSchema>;
  /** Changes added (before coalescing) since the batch was emptied. */
  changes = 0;
  bytes = 0;

  constructor(schemas: ReadonlyMap<string, TableSchema>) {
    this.schemas = schemas;
  }

  get empty(): boolean {
    return this.tables.size === 0;
  }

  add(op: StreamOp): void {
    let tb = this.tables.get(op.table);
    if (!tb) this.tables.set(op.table, (tb = { truncate: false, ops: new Map() }));
    this.changes++;
    if (op.kind === 'truncate') {
      tb.truncate = true;
      tb.ops.clear();
      return;
    }
    let fold = this.folders.get(op.table);
    if (!fold) {
      const schema = this.schemas.get(op.table);
      if (!schema) return;
      this.folders.set(op.table, (fold = keyFolder(schema)));
    }
    const k = fold(op.key);
    tb.ops.delete(k);
    tb.ops.set(k, op);
    this.bytes += op.kind === 'upsert' ? rowBytes(op.row) : 64;
  }

  /** Takes everything out, leaving the batch empty. */
  drain(): { truncates: string[]; changes: Change[] } {
    const truncates: string[] = [];
    const changes: Change[] = [];
    for (const [name, tb] of this.tables) {
      if (tb.truncate) truncates.push(name);
      for (const c of tb.ops.values()) changes.push(c);
    }
    this.tables.clear();
    this.changes = 0;
    this.bytes = 0;
    return { truncates, changes };
  }
}
