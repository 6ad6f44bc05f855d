import type { Etcd3 } from 'etcd3';
import { decodeRows, PENDING_DDL_ROW, schemaBody, schemaRowName, STREAM_ROW, streamBody, tableBody, tableRowName, type SchemaChangeRows, type StoredRow } from '../../checkpoint/rows.js';
import type { TableSchema } from '../../core/schema.js';
import type { Checkpoint, StreamCheckpoint, TableCheckpoint } from '../../core/target.js';
import { decodePart, encodePart, prefixEnd, type KeyLayout } from './keys.js';
import { deleteOp, deletePrefixOp, putOp, type Op } from './apply.js';

/**
 * The checkpoint rows (src/checkpoint/rows.ts) as etcd keys, one per row, under this sync's
 * reserved subtree: `<root>/%tributary/<sync id>/cp/<row name>`. Each value is the time it was
 * written (ISO 8601), a newline, and the row's body. The ops are put in the same etcd transaction
 * as the data they cover (apply.ts OpBuffer.commit).
 */
export class CheckpointKeys {
  private readonly base: string;

  constructor(layout: KeyLayout, syncId: string) {
    this.base = `${layout.meta(syncId)}cp/`;
  }

  private key(name: string): string {
    return this.base + encodePart(name);
  }

  private put(name: string, body: string): Op {
    return putOp(this.key(name), `${new Date().toISOString()}\n${body}`);
  }

  stream(cp: StreamCheckpoint): Op {
    return this.put(STREAM_ROW, streamBody(cp));
  }

  table(name: string, cp: TableCheckpoint): Op {
    return this.put(tableRowName(name), tableBody(cp));
  }

  schemas(tables: readonly TableSchema[]): Op[] {
    return tables.map((t) => this.put(schemaRowName(t.name), schemaBody(t)));
  }

  /** The pending-DDL row (checkpoint/rows.ts PENDING_DDL_ROW): the snapshot a schema change being applied reads at (ddl.ts). */
  pendingKey(): string {
    return this.key(PENDING_DDL_ROW);
  }

  pending(body: string): Op {
    return this.put(PENDING_DDL_ROW, body);
  }

  clearPending(): Op {
    return deleteOp(this.pendingKey());
  }

  /** Removes every row of this sync's checkpoint. */
  clear(): Op {
    return deletePrefixOp(this.base);
  }

  async rows(client: Etcd3): Promise<StoredRow[]> {
    const prefix = Buffer.from(this.base);
    const res = await client.kv.range({ key: prefix, range_end: prefixEnd(prefix) });
    return res.kvs.map((kv) => {
      const text = kv.value.toString();
      const nl = text.indexOf('\n');
      return { name: decodePart(kv.key.toString().slice(this.base.length)), updatedAt: text.slice(0, nl), body: text.slice(nl + 1) };
    });
  }

  async load(client: Etcd3, syncId: string): Promise<Checkpoint> {
    return decodeRows(syncId, await this.rows(client));
  }

  /** The stored definition of one table (its 's:' row), or undefined. */
  async schema(client: Etcd3, table: string): Promise<TableSchema | undefined> {
    const res = await client.kv.range({ key: Buffer.from(this.key(schemaRowName(table))) });
    const kv = res.kvs[0];
    if (!kv) return undefined;
    const text = kv.value.toString();
    return JSON.parse(text.slice(text.indexOf('\n') + 1)) as TableSchema;
  }

  /**
   * The row edits of a schema change as ops of one transaction: a row moved takes the body it has
   * now (read here) under its new name; later edits of one name win over earlier ones, since etcd
   * takes one op per key per transaction.
   */
  async schemaChangeOps(client: Etcd3, rows: SchemaChangeRows): Promise<Op[]> {
    const stored = new Map((await this.rows(client)).map((r) => [r.name, r.body]));
    const next = new Map<string, string | null>();
    const now = (name: string) => (next.has(name) ? next.get(name) : stored.get(name));
    for (const m of rows.moves) {
      const body = now(m.from);
      next.set(m.to, body ?? null);
      next.set(m.from, null);
    }
    for (const name of rows.remove) next.set(name, null);
    for (const r of rows.put) next.set(r.name, r.body);
    return [...next].map(([name, body]) => (body === null || body === undefined ? deleteOp(this.key(name)) : this.put(name, body)));
  }
}
