import type { Etcd3 } from 'etcd3';
import { decodeRows, PENDING_DDL_ROW, schemaBody, schemaRowName, STREAM_ROW, streamBody, tableBody, tableRowName, type SchemaChangeRows, type StoredRow } from '../../checkpoint/rows.js';
import type { TableSchema } from '../../core/schema.js';
import type { Checkpoint, StreamCheckpoint, TableCheckpoint } from '../../core/target.js';
import { decodePart, encodePart, prefixEnd, type KeyLayout } from './keys.js';
import { deleteOp, deletePrefixOp, putOp, type Op } from './apply.js';

/**
 * The pending-DDL row's body on etcd (`cp/d:`): the position of the schema change being applied
 * and the revision its moves read at; `committed` once its checkpoint is written (then its journal
 * is in effect, see CheckpointKeys.journalOps).
 */
export interface PendingDdl {
  readonly position?: string;
  readonly revision?: string;
  readonly committed?: boolean;
}

/**
 * The checkpoint rows (src/checkpoint/rows.ts) as etcd keys, one per row, under this sync's
 * reserved subtree: `<root>/%tributary/<sync id>/cp/<row name>`. Each value is the time it was
 * written (ISO 8601), a newline, and the row's body. The ops are put in the same etcd transaction
 * as the data they cover (apply.ts OpBuffer.commit).
 */
export class CheckpointKeys {
  private readonly base: string;
  private readonly journalBase: string;

  constructor(layout: KeyLayout, syncId: string) {
    this.base = `${layout.meta(syncId)}cp/`;
    this.journalBase = `${layout.meta(syncId)}ddl/`;
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

  pending(body: PendingDdl): Op {
    return this.put(PENDING_DDL_ROW, JSON.stringify(body));
  }

  clearPending(): Op {
    return deleteOp(this.pendingKey());
  }

  /** Removes every row of this sync's checkpoint, and any schema change's journal (one transaction: two ranges apart). */
  clear(): Op[] {
    return [deletePrefixOp(this.base), this.clearJournal()];
  }

  /** The journal of the schema change being applied (see `journalOps`): `<meta>/ddl/<row name>`. */
  private journalKey(name: string): string {
    return this.journalBase + encodePart(name);
  }

  /**
   * A schema change's row edits (schemaChangeOps) as journal entries, written in as many
   * transactions as they take before the change's checkpoint: `<meta>/ddl/<row name>`, each value
   * `put <time>` and the row's body on the next line, or `delete`. They count only once the
   * pending row says `committed` (its transaction is the one with the stream checkpoint), so a
   * crash anywhere leaves either none of them in effect or all of them (readers overlay them until
   * `settleOps` has copied them into the rows).
   */
  journalOps(edits: readonly Op[]): Op[] {
    return edits.map((o) => {
      const name = decodePart(o.key.slice(this.base.length));
      // A row's value is `<time>\n<body>`: the entry is `put <time>\n<body>`.
      return putOp(this.journalKey(name), o.value !== undefined ? `put ${o.value.toString()}` : 'delete');
    });
  }

  /** Deletes every journal entry (one op: a range). */
  clearJournal(): Op {
    return deletePrefixOp(this.journalBase);
  }

  /**
   * Reads the rows and the journal at one revision: the rows as stored, the pending row's body
   * (or undefined), and the journal's entries by row name (body, or null for a delete).
   */
  private async snapshot(client: Etcd3): Promise<{ rows: StoredRow[]; pending: PendingDdl | undefined; journal: Map<string, StoredRow | null> }> {
    const range = (base: string) => ({ request_range: { key: Buffer.from(base), range_end: prefixEnd(Buffer.from(base)) } });
    const res = await client.kv.txn({ compare: [], success: [range(this.base), range(this.journalBase)], failure: [] });
    const [cp, journal] = res.responses.map((r) => r.response_range?.kvs ?? []);
    const rows: StoredRow[] = (cp ?? []).map((kv) => {
      const text = kv.value.toString();
      const nl = text.indexOf('\n');
      return { name: decodePart(kv.key.toString().slice(this.base.length)), updatedAt: text.slice(0, nl), body: text.slice(nl + 1) };
    });
    const entries = new Map<string, StoredRow | null>();
    for (const kv of journal ?? []) {
      const name = decodePart(kv.key.toString().slice(this.journalBase.length));
      const text = kv.value.toString();
      const nl = text.indexOf('\n');
      entries.set(name, text.startsWith('put ') && nl > 0 ? { name, updatedAt: text.slice(4, nl), body: text.slice(nl + 1) } : null);
    }
    const row = rows.find((r) => r.name === PENDING_DDL_ROW);
    return { rows, pending: row ? (JSON.parse(row.body) as PendingDdl) : undefined, journal: entries };
  }

  /**
   * The checkpoint's rows as they are in effect: the stored rows, with a committed schema
   * change's journal over them (its entries win) until it is settled.
   */
  async rows(client: Etcd3): Promise<StoredRow[]> {
    const { rows, pending, journal } = await this.snapshot(client);
    if (!pending?.committed || journal.size === 0) return rows;
    const out = new Map(rows.map((r) => [r.name, r]));
    for (const [name, row] of journal) {
      if (row) out.set(name, row);
      else out.delete(name);
    }
    return [...out.values()];
  }

  /**
   * The ops that finish a committed schema change: its journal entries copied into the rows (any
   * number of transactions: each entry is the row's final value, so doing it again changes
   * nothing), then `done`, one transaction deleting the journal and the pending row. Empty when no
   * change is committed and unsettled.
   */
  async settleOps(client: Etcd3): Promise<{ copy: Op[]; done: Op[] }> {
    const { pending, journal } = await this.snapshot(client);
    if (!pending?.committed) return { copy: [], done: [] };
    const copy = [...journal].map(([name, row]) => (row ? putOp(this.key(name), `${row.updatedAt ?? new Date().toISOString()}\n${row.body}`) : deleteOp(this.key(name))));
    return { copy, done: [deleteOp(this.pendingKey()), this.clearJournal()] };
  }

  /** The pending row while a change is being applied (undefined when none is). */
  async pendingDdl(client: Etcd3): Promise<PendingDdl | undefined> {
    return (await this.snapshot(client)).pending;
  }

  async load(client: Etcd3, syncId: string): Promise<Checkpoint> {
    return decodeRows(syncId, await this.rows(client));
  }

  /** The stored definition of one table (its 's:' row, a committed journal's over it), or undefined. */
  async schema(client: Etcd3, table: string): Promise<TableSchema | undefined> {
    const name = schemaRowName(table);
    const get = (key: string) => ({ request_range: { key: Buffer.from(key) } });
    const res = await client.kv.txn({ compare: [], success: [get(this.key(name)), get(this.pendingKey()), get(this.journalKey(name))], failure: [] });
    const [row, pending, entry] = res.responses.map((r) => r.response_range?.kvs[0]?.value.toString());
    const body = (text: string | undefined) => (text === undefined ? undefined : text.slice(text.indexOf('\n') + 1));
    let def = body(row);
    const committed = pending !== undefined && (JSON.parse(body(pending) as string) as PendingDdl).committed === true;
    if (committed && entry !== undefined) def = entry.startsWith('put ') ? body(entry) : undefined;
    return def === undefined ? undefined : (JSON.parse(def) as TableSchema);
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
