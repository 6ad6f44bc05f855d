import { Etcd3, type IRequestOp } from 'etcd3';
import { execFileSync } from 'node:child_process';
import { chownSync, mkdirSync, rmSync } from 'node:fs';
import { startEtcd, type EtcdServer } from '../../src/testing/servers.js';
import { assertClean, sleep, type TributaryExit, type TributaryRun } from './harness.js';
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

/** The objects of the keys the backlog (`txns` transactions over `rows` seeded keys) inserted or updated, as a replay left them: backlogOps' `finals`. */
export async function finalObjects(etcd: Etcd3, txns: number, rows: number): Promise<Map<number, Buffer>> {
  const out = new Map<number, Buffer>();
  let from = Buffer.from(TABLE_PREFIX);
  for (;;) {
    const res = await etcd.kv.range({ key: from, range_end: Buffer.from(TABLE_END), limit: 5000 });
    for (const kv of res.kvs) {
      const id = Number(kv.key.toString('latin1', TABLE_PREFIX.length));
      if (id <= txns * UPD || id > rows) out.set(id, kv.value);
    }
    if (!res.more || res.kvs.length === 0) return out;
    from = Buffer.concat([(res.kvs.at(-1) as { key: Buffer }).key, Buffer.from([0])]);
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

/**
 * An etcd data dir kept between trials: one etcd state (a copied table, a stopped sync's checkpoint)
 * that every trial starts from in a fresh copy, on the same ports, so each replays the same work.
 */
export class SavedEtcd {
  private ports?: { client: number; peer: number };

  /** `args`: flags every etcd started here gets (bench/etcd.ts BENCH_ETCD_ARGS). */
  constructor(
    readonly dir: string,
    private readonly args: readonly string[] = [],
    private readonly trialDir = `${dir}-trial`,
  ) {}

  /** Starts an etcd on a new, empty saved dir (owned by the servers' user, as startEtcd's own dirs are). */
  async start(): Promise<EtcdServer> {
    this.remove();
    mkdirSync(this.dir);
    // servers.ts runs them as `tributary` when this process is root.
    if (process.getuid?.() === 0) {
      const id = (flag: string) => Number(execFileSync('id', [flag, 'tributary']).toString().trim());
      chownSync(this.dir, id('-u'), id('-g'));
    }
    const server = await startEtcd({ dir: this.dir, args: this.args });
    this.ports = { client: server.port, peer: server.peerPort };
    return server;
  }

  /** Starts an etcd on a fresh copy of the saved dir (which start() filled and its server's stop() left), on the same ports. */
  async trial(): Promise<EtcdServer> {
    if (!this.ports) throw new Error('SavedEtcd.trial() before start()');
    rmSync(this.trialDir, { recursive: true, force: true });
    // cp -a keeps the servers' user as the owner.
    execFileSync('cp', ['-a', this.dir, this.trialDir]);
    return startEtcd({ dir: this.trialDir, ports: this.ports, args: this.args });
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
    rmSync(this.trialDir, { recursive: true, force: true });
  }
}

/** Waits until sync `id`'s checkpoint says it streams (its copy is done), then stops `run` with SIGINT and checks its clean exit. */
export async function untilStreaming(etcd: Etcd3, run: TributaryRun, label: string, id: string): Promise<void> {
  let ended = false;
  void run.exited.then(() => (ended = true));
  for (;;) {
    if ((await checkpoint(etcd, id).catch(() => undefined))?.phase === 'stream') break;
    if (ended) assertClean(label, await run.exited);
    await sleep(200);
  }
  run.signal('SIGINT');
  assertClean(label, await run.exited);
}

/**
 * Waits until sync `id`'s checkpoint key reaches `goal` (polled every `pollMs`), as the etcd
 * benchmarks time a replay: resolves to when it did and when the checkpoint first moved from
 * `from`, in ms since `run` started; then stops `run` with SIGINT and checks its clean exit.
 */
export async function untilCaughtUp(
  etcd: Etcd3,
  run: TributaryRun,
  label: string,
  id: string,
  goal: { reached(position: string): boolean },
  opts: { from?: string; pollMs: number; timeoutMs: number },
): Promise<{ caughtUpMs: number; firstMoveMs: number | undefined; exit: TributaryExit }> {
  let ended = false;
  void run.exited.then(() => (ended = true));
  let firstMoveMs: number | undefined;
  for (;;) {
    const cp = await checkpoint(etcd, id).catch(() => undefined);
    const now = performance.now() - run.startedAt;
    if (cp && firstMoveMs === undefined && cp.position !== opts.from) firstMoveMs = now;
    if (cp && goal.reached(cp.position)) {
      run.signal('SIGINT');
      const exit = await run.exited;
      assertClean(label, exit);
      return { caughtUpMs: now, firstMoveMs, exit };
    }
    if (ended) {
      const exit = await run.exited;
      assertClean(label, exit);
      // It ended cleanly on its own: caught up at its last checkpoint (written after the read
      // above), or stopped short of the goal by something else.
      const last = await checkpoint(etcd, id);
      if (last && goal.reached(last.position)) return { caughtUpMs: now, firstMoveMs, exit };
      throw new Error(`${label}: tributary exited (code 0) before its checkpoint reached the goal (it holds ${last?.position ?? 'nothing'})`);
    }
    if (now > opts.timeoutMs) {
      run.signal('SIGKILL');
      throw new Error(`${label}: the replay did not catch up within ${opts.timeoutMs / 1000} s`);
    }
    await sleep(opts.pollMs);
  }
}
