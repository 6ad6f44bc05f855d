import { Etcd3, type IRequestOp } from 'etcd3';
import { DEL, INS, keysOf, UPD } from './stream.js';

/**
 * What the etcd benchmarks (bench/etcd.ts, bench/etcd-ab.ts) share: the bench table's keys, the
 * stream checkpoint they wait on, etcd's own counters, and the etcd3 client writing as their
 * anchors do.
 */

/** The target URL's prefix. */
export const PREFIX = 'bench';
/** Every key of the bench table starts with it. */
export const TABLE_PREFIX = `/${PREFIX}/t/`;
/** The end of TABLE_PREFIX's range: '/' + 1 is '0'. */
export const TABLE_END = `/${PREFIX}/t0`;
/** Ops in an anchor's transaction: etcd's default --max-txn-ops. */
export const TXN_OPS = 128;

export function client(server: { readonly port: number }): Etcd3 {
  return new Etcd3({ hosts: `http://127.0.0.1:${server.port}` });
}

/** The bench table's keys in etcd. */
export async function countKeys(etcd: Etcd3): Promise<number> {
  const res = await etcd.kv.range({ key: Buffer.from(TABLE_PREFIX), range_end: Buffer.from(TABLE_END), count_only: true });
  return Number(res.count);
}

/** The stream checkpoint of sync `id`: `<iso time>\n<json body>` at `/<prefix>/%tributary/<id>/cp/`. */
export async function checkpoint(etcd: Etcd3, id: string): Promise<{ position: string; phase: string } | undefined> {
  const res = await etcd.kv.range({ key: Buffer.from(`/${PREFIX}/%tributary/${id}/cp/`) });
  const text = res.kvs[0]?.value.toString();
  if (text === undefined) return undefined;
  const body = JSON.parse(text.slice(text.indexOf('\n') + 1)) as { position: string; phase: string };
  return { position: body.position, phase: body.phase };
}

/** etcd's WAL fsync histogram totals (etcd_disk_wal_fsync_duration_seconds) and its committed proposals so far. */
export async function etcdCounters(server: { readonly port: number }): Promise<{ count: number; seconds: number; proposals: number }> {
  const text = await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text();
  const metric = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  return { count: metric('etcd_disk_wal_fsync_duration_seconds_count'), seconds: metric('etcd_disk_wal_fsync_duration_seconds_sum'), proposals: metric('etcd_server_proposals_committed_total') };
}

/** `ops` in transactions of TXN_OPS, built lazily. */
export function* transactionsOf(ops: Iterable<IRequestOp>): Generator<IRequestOp[]> {
  let txn: IRequestOp[] = [];
  for (const op of ops) {
    txn.push(op);
    if (txn.length === TXN_OPS) {
      yield txn;
      txn = [];
    }
  }
  if (txn.length) yield txn;
}

/**
 * The backlog's own writes (bench/lib/stream.ts: `txns` transactions over a table seeded with
 * `rows` keys), as the stream made them: for each source transaction in order its inserts' and
 * updates' objects put (`finals`: each key's object once the stream caught up; every key is
 * changed once) and its deletes.
 */
export function* backlogOps(finals: ReadonlyMap<number, Buffer>, txns: number, rows: number): Generator<IRequestOp> {
  const put = (id: number): IRequestOp => {
    const value = finals.get(id);
    if (!value) throw new Error(`the stream's etcd has no object for key ${TABLE_PREFIX}${id}, which the backlog inserted or updated`);
    return { request_put: { key: Buffer.from(`${TABLE_PREFIX}${id}`), value } };
  };
  for (let k = 0; k < txns; k++) {
    const { ins, upd, del } = keysOf(k, txns, rows);
    for (let i = 0; i < INS; i++) yield put(ins + i);
    for (let i = 0; i < UPD; i++) yield put(upd + i);
    for (let i = 0; i < DEL; i++) yield { request_delete_range: { key: Buffer.from(`${TABLE_PREFIX}${del + i}`) } };
  }
}

/** Runs `txns` through the etcd3 client, `concurrency` transactions in flight; resolves to how many were sent. */
export async function writeAll(etcd: Etcd3, txns: Iterator<IRequestOp[]>, concurrency: number): Promise<number> {
  let sent = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let next = txns.next(); !next.done; next = txns.next()) {
        await etcd.kv.txn({ compare: [], success: next.value, failure: [] });
        sent++;
      }
    }),
  );
  return sent;
}
