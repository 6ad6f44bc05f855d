/**
 * MariaDB → etcd: the initial copy and the stream apply into an etcd target, each beside a plain
 * etcd writer measured in the same run, every etcd a fresh throwaway server:
 *
 *   (a) anchor: the etcd3 client writing the very keys and values tributary wrote (`/bench/t/<id>`,
 *       the row as its JSON object; read back from the copy's etcd beforehand, not timed) in
 *       transactions of 128 puts (kv.txn of request_put ops, no compare), several transactions in
 *       flight at once (BENCH_ETCD_CONCURRENCY, default 8, 16 and 32; the best counts): puts/s;
 *   (b) `tributary sync --copy-only` of 1,000,000 rows × 10 columns (bench/copy.ts's table), timed
 *       end to end with its peak RSS, checked by counting the table's keys (count_only range) and
 *       comparing a few objects with the source's rows;
 *   (c) `tributary sync` stream replay: the table copied by a streaming sync, stopped with SIGINT,
 *       etcd stopped and its data dir kept; then a backlog of 1,000,000 row changes
 *       (bench/lib/stream.ts: 2,000 transactions × 250 inserts, 150 updates, 100 deletes, every key
 *       changed once) executed at the source. In each of BENCH_STREAM_ROUNDS rounds (default 3) the
 *       sync restarts on a fresh copy of that dir and is timed from process start until its
 *       checkpoint key `/bench/%tributary/<id>/cp/` reaches the source's binlog end, checked by the
 *       table's key count against the source's row count and a few keys against the source's rows;
 *       and the anchor runs again, at its best concurrency, beside it (after it, then before it in
 *       the next round). The stream's figure is the median round's ratio to the anchor run beside
 *       it: on a host whose speed drifts by ±15 % within minutes, one replay against the best of
 *       three anchor runs minutes earlier measures the drift as much as tributary.
 *
 * Each source transaction (500 changes) is more than one etcd transaction holds (--max-txn-ops 128,
 * the checkpoint included), so the stream writes each in several. BENCH_TXN_ROWS=100 makes each fit
 * one etcd transaction: then every commit carries a checkpoint (commits overlap, chained).
 * Target (issue 13): copy and stream each ≥ 0.8× the anchor. Writes bench/results/etcd.json.
 * A second anchor, for the stream: the etcd3 client applying the backlog's own puts and deletes (the
 * objects the stream left, read back) to a fresh etcd holding the copy's keys, as the stream's etcd
 * did; the stream's ratio to it is printed beside (the target stays the first anchor's).
 * A second table charges each phase's CPU to etcd, the source server and the writer (the anchor's
 * client, or tributary), per key written: on two cores a writer's speed is bounded by what the
 * others leave it.
 *
 *   node --import tsx bench/etcd.ts      (BENCH_ROWS=100000 for a quick run; BENCH_CHANGES=… another
 *                                         backlog, at most 2 × BENCH_ROWS; BENCH_PROFILE=1 profiles)
 */
import { Etcd3, type IRequestOp } from 'etcd3';
import type { Connection } from 'mysql2/promise';
import { createConnection, createServer, type Server as NetServer } from 'node:net';
import { readdirSync, readFileSync } from 'node:fs';
import { startEtcd, type Server } from '../src/testing/servers.js';
import {
  assertClean,
  buildTributary,
  connect,
  log,
  machine,
  perSecond,
  printProfile,
  printTable,
  processCpuSeconds,
  queryRows,
  ratio,
  seconds,
  startTributary,
  warnIfBusy,
  writeResult,
  type TributaryExit,
} from './lib/harness.js';
import { DEL, INS, startEndpoint, TXN_ROWS, UPD } from './lib/stream.js';
import { backlogOps, checkpoint, client, countKeys, etcdCounters, PREFIX, SavedEtcd, TABLE_END, TABLE_PREFIX, transactionsOf, TXN_OPS, finalObjects, untilCaughtUp, untilStreaming, writeAll } from './lib/etcd.js';

const ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000);
const CHANGES = Number(process.env.BENCH_CHANGES ?? Math.min(ROWS, 1_000_000));
const TXNS = Math.ceil(CHANGES / TXN_ROWS);
/** For experiments: BENCH_ETCD_ARGS='--max-txn-ops 1024' starts every etcd with these flags (pass tributary the same with BENCH_TRIBUTARY_ARGS). */
const ETCD_ARGS = (process.env.BENCH_ETCD_ARGS ?? '').split(/\s+/).filter(Boolean);
const CONCURRENCY = (process.env.BENCH_ETCD_CONCURRENCY ?? '8,16,32').split(',').map(Number);
const RATIO_TARGET = 0.8;
/** Replays of the backlog, each beside a run of the anchor (at its best concurrency); the median ratio counts (the lower middle one of an even count). */
const STREAM_ROUNDS = Number(process.env.BENCH_STREAM_ROUNDS ?? 3);
if (!Number.isInteger(STREAM_ROUNDS) || STREAM_ROUNDS < 1) throw new Error(`BENCH_STREAM_ROUNDS=${process.env.BENCH_STREAM_ROUNDS} is not a whole number of rounds ≥ 1; give e.g. 3 (odd counts have a true median)`);
const CATCH_UP_TIMEOUT_MS = 600_000;
/**
 * For experiments: BENCH_ETCD_DELAY_MS=2 puts a TCP relay in front of the stream's etcd that holds
 * every chunk this long each way (a farther etcd, or a slower disk); the stream's tributary talks
 * to etcd through it (the copy and the anchor do not).
 */
const DELAY_MS = Number(process.env.BENCH_ETCD_DELAY_MS ?? 0);

/** A TCP relay to 127.0.0.1:`port` delaying each chunk by DELAY_MS; resolves to its port. */
async function delayingRelay(port: number): Promise<{ port: number; server: NetServer }> {
  const server = createServer((client) => {
    const upstream = createConnection({ host: '127.0.0.1', port, noDelay: true });
    client.setNoDelay(true);
    const pipe = (from: typeof client, to: typeof client) => {
      from.on('data', (d: Buffer) => setTimeout(() => to.write(d), DELAY_MS));
      from.on('close', () => setTimeout(() => to.destroy(), DELAY_MS));
      from.on('error', () => to.destroy());
    };
    pipe(client, upstream);
    pipe(upstream, client);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as { port: number }).port, server };
}

if (TXNS * (UPD + DEL) > ROWS) throw new Error(`BENCH_CHANGES=${CHANGES} updates and deletes more keys than BENCH_ROWS=${ROWS} holds; keep BENCH_CHANGES ≤ 2 × BENCH_ROWS`);

/** The keys and values of a table, a page at a time: one buffer per page and each entry's offsets (key start, value start, value end). */
interface Page {
  readonly data: Buffer;
  readonly offsets: Uint32Array;
}

async function readAll(etcd: Etcd3): Promise<{ pages: Page[]; n: number; bytes: number }> {
  const pages: Page[] = [];
  let from = Buffer.from(TABLE_PREFIX);
  let n = 0;
  let bytes = 0;
  for (;;) {
    const res = await etcd.kv.range({ key: from, range_end: Buffer.from(TABLE_END), limit: 5000 });
    const parts: Buffer[] = [];
    const offsets = new Uint32Array(res.kvs.length * 3);
    let at = 0;
    res.kvs.forEach((kv, i) => {
      offsets[i * 3] = at;
      at += kv.key.length;
      offsets[i * 3 + 1] = at;
      at += kv.value.length;
      offsets[i * 3 + 2] = at;
      parts.push(kv.key, kv.value);
    });
    if (res.kvs.length) pages.push({ data: Buffer.concat(parts, at), offsets });
    n += res.kvs.length;
    bytes += at;
    if (!res.more || res.kvs.length === 0) break;
    from = Buffer.concat([(res.kvs.at(-1) as { key: Buffer }).key, Buffer.from([0])]);
  }
  return { pages, n, bytes };
}

/** A put of every key and value of the pages. */
function* pagePuts(pages: readonly Page[]): Generator<IRequestOp> {
  for (const p of pages) {
    for (let i = 0; i < p.offsets.length; i += 3) {
      const [k, v, e] = [p.offsets[i] as number, p.offsets[i + 1] as number, p.offsets[i + 2] as number];
      yield { request_put: { key: p.data.subarray(k, v), value: p.data.subarray(v, e) } };
    }
  }
}

/**
 * Writes `txns` through the etcd3 client, `concurrency` transactions in flight, timed, with the
 * CPU it cost etcd and this process (the anchor's writer).
 */
async function timedWrite(server: Server, etcd: Etcd3, txns: Iterator<IRequestOp[]>, concurrency: number): Promise<{ ms: number; sent: number; cpu: PhaseCpu }> {
  const phase = await phaseCpu(server, undefined);
  const clientCpu0 = process.cpuUsage();
  const t0 = performance.now();
  const sent = await writeAll(etcd, txns, concurrency);
  const ms = performance.now() - t0;
  const clientCpu = process.cpuUsage(clientCpu0);
  return { ms, sent, cpu: await phase((clientCpu.user + clientCpu.system) / 1e6) };
}

/** The anchor: every key and value written with `concurrency` transactions in flight. */
async function anchorWrite(pages: readonly Page[], n: number, concurrency: number): Promise<{ ms: number; putsPerSecond: number; transactions: number; cpu: PhaseCpu }> {
  const server = await startEtcd({ args: ETCD_ARGS });
  const etcd = client(server);
  try {
    await etcd.maintenance.status();
    const { ms, sent, cpu } = await timedWrite(server, etcd, transactionsOf(pagePuts(pages)), concurrency);
    const got = await countKeys(etcd);
    if (got !== n) throw new Error(`anchor (concurrency ${concurrency}): etcd holds ${got} keys, wrote ${n}`);
    return { ms, putsPerSecond: (n / ms) * 1000, transactions: sent, cpu };
  } finally {
    etcd.close();
    await server.stop();
  }
}

/**
 * A second anchor, for the stream alone: the etcd3 client applying the backlog's own puts and
 * deletes (what the stream wrote) to a fresh etcd that holds the copy's keys (put beforehand, not
 * timed), as the stream's etcd did: so etcd's own cost of that work is in both figures.
 */
async function backlogAnchor(pages: readonly Page[], finals: ReadonlyMap<number, Buffer>, concurrency: number): Promise<{ ms: number; opsPerSecond: number; transactions: number; cpu: PhaseCpu }> {
  const server = await startEtcd({ args: ETCD_ARGS });
  const etcd = client(server);
  try {
    await writeAll(etcd, transactionsOf(pagePuts(pages)), concurrency);
    const { ms, sent, cpu } = await timedWrite(server, etcd, transactionsOf(backlogOps(finals, TXNS, ROWS)), concurrency);
    const want = ROWS + TXNS * (INS - DEL);
    const got = await countKeys(etcd);
    if (got !== want) throw new Error(`backlog anchor: etcd holds ${got} keys, expected ${want}`);
    return { ms, opsPerSecond: ((TXNS * TXN_ROWS) / ms) * 1000, transactions: sent, cpu };
  } finally {
    etcd.close();
    await server.stop();
  }
}

/** The source's row as the JSON members tributary writes, for the columns compared. */
const SOURCE_ROW = `SELECT id, qty, name, CAST(price AS CHAR) AS price, DATE_FORMAT(created, '%Y-%m-%dT%H:%i:%s.%f') AS created,
  score, note, flag, code, CAST(day AS CHAR) AS day FROM bench.t WHERE id IN `;

/**
 * Compares the objects of the given ids with the source's rows: present in both or in neither, and
 * every column equal (score as a number: MariaDB's and JSON's spellings of a double may differ).
 */
async function spotCheck(what: string, src: Connection, etcd: Etcd3, ids: readonly number[]): Promise<void> {
  const rows = new Map((await queryRows(src, `${SOURCE_ROW}(${ids.join(',')})`)).map((r) => [Number(r.id), r]));
  for (const id of ids) {
    const res = await etcd.kv.range({ key: Buffer.from(`${TABLE_PREFIX}${id}`) });
    const kv = res.kvs[0];
    const row = rows.get(id);
    if (!row || !kv) {
      if (row || kv) throw new Error(`${what}: key ${TABLE_PREFIX}${id} is ${kv ? 'in etcd but not' : 'missing from etcd but'} in the source`);
      continue;
    }
    const obj = JSON.parse(kv.value.toString()) as Record<string, unknown>;
    for (const [col, want] of Object.entries(row)) {
      const got = obj[col];
      const same = want === null ? got === null : col === 'score' ? Number(want) === got : String(want) === String(got);
      if (!same) throw new Error(`${what}: ${TABLE_PREFIX}${id} member ${col} is ${JSON.stringify(got)}, the source has ${JSON.stringify(want)} (object ${kv.value.toString()})`);
    }
  }
}

/** One round of the stream: a replay of the backlog and the anchor run beside it. */
interface Replay {
  readonly round: number;
  readonly exit: TributaryExit;
  readonly caughtUpMs: number;
  readonly firstMoveMs: number | undefined;
  readonly sourceMs: number;
  readonly changesPerSecond: number;
  readonly keys: number;
  readonly sourceRows: number;
  readonly cpu: PhaseCpu;
  readonly anchor: { readonly ms: number; readonly putsPerSecond: number; readonly transactions: number; readonly cpu: PhaseCpu };
  /** changesPerSecond ÷ anchor.putsPerSecond. */
  readonly ratio: number;
}

interface CopyResult {
  readonly exit: TributaryExit;
  readonly rowsPerSecond: number;
  readonly cpu: PhaseCpu;
}

/**
 * The CPU seconds each process spent in one phase: etcd, the writer (the anchor's etcd3 client, or
 * tributary: both its threads) and the source server. On two cores these shares are what a faster
 * writer competes with, so the table prints them per key written.
 */
interface PhaseCpu {
  readonly etcdS: number;
  readonly writerS: number;
  readonly sourceS: number;
  /** etcd's WAL fsyncs in the phase: how many and their mean, from its /metrics (the host's disk moves every figure). */
  readonly fsyncs: number;
  readonly fsyncMeanMs: number;
  /** Proposals etcd committed in the phase: its write transactions (and lease renewals). */
  readonly proposals: number;
  /** etcd's threads' context switches in the phase, voluntary (waiting) and not (preempted): how much it shared the cores. */
  readonly switches: { readonly voluntary: number; readonly preempted: number };
}

/** The context switches of every thread of process `pid` so far (/proc/<pid>/task/<tid>/status). */
function contextSwitches(pid: number): { voluntary: number; preempted: number } {
  let voluntary = 0;
  let preempted = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
      voluntary += Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1] ?? 0);
      preempted += Number(/^nonvoluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1] ?? 0);
    } catch {
      // A thread that ended meanwhile: its switches are no longer counted anywhere.
    }
  }
  return { voluntary, preempted };
}

/** What a phase cost etcd, the source server and the writer: call at its start, then the result at its end. */
async function phaseCpu(etcdServer: Server, sourcePid: number | undefined): Promise<(writerS: number) => Promise<PhaseCpu>> {
  const etcd0 = processCpuSeconds(etcdServer.pid);
  const source0 = sourcePid === undefined ? 0 : processCpuSeconds(sourcePid);
  const fsync0 = await etcdCounters(etcdServer);
  const switches0 = contextSwitches(etcdServer.pid);
  return async (writerS) => {
    const switches1 = contextSwitches(etcdServer.pid);
    const switches = { voluntary: switches1.voluntary - switches0.voluntary, preempted: switches1.preempted - switches0.preempted };
    const etcdS = processCpuSeconds(etcdServer.pid) - etcd0;
    const sourceS = sourcePid === undefined ? 0 : processCpuSeconds(sourcePid) - source0;
    const fsync1 = await etcdCounters(etcdServer);
    const fsyncs = fsync1.count - fsync0.count;
    return { etcdS, writerS, sourceS, fsyncs, fsyncMeanMs: fsyncs > 0 ? ((fsync1.seconds - fsync0.seconds) / fsyncs) * 1000 : 0, proposals: fsync1.proposals - fsync0.proposals, switches };
  };
}

async function main(): Promise<void> {
  buildTributary();
  const loadBefore = warnIfBusy();
  log('starting the source MariaDB');
  const source = await startEndpoint('mysql', 1);
  const src = await connect(source.server.url());
  let etcdVersion: string;
  try {
    const version = await source.version();
    log(`seeding ${ROWS} rows on the source (${version})`);
    let t0 = performance.now();
    await source.seed(ROWS);
    log(`seeded in ${seconds(performance.now() - t0)} s`);
    const checkIds = [1, 2, 11, 13, 17, Math.floor(ROWS / 2), ROWS];

    // (b) tributary sync --copy-only into a fresh etcd; its keys and values are then the anchor's.
    let copy: CopyResult;
    let data: Awaited<ReturnType<typeof readAll>>;
    {
      const server = await startEtcd({ args: ETCD_ARGS });
      const etcd = client(server);
      try {
        etcdVersion = (await etcd.maintenance.status()).version;
        log(`tributary sync --copy-only into etcd ${etcdVersion}`);
        const phase = await phaseCpu(server, source.server.pid);
        const run = startTributary('etcd-copy', ['sync', '--copy-only', '--id', 'bench-copy', '--source', source.url, '--target', server.url(PREFIX), '--progress', 'none']);
        const exit = await run.exited;
        assertClean('copy', exit);
        const copyCpu = await phase(exit.userCpuS + exit.systemCpuS);
        const n = await countKeys(etcd);
        if (n !== ROWS) throw new Error(`copy: etcd holds ${n} keys under ${TABLE_PREFIX}, the source ${ROWS} rows`);
        await spotCheck('copy', src, etcd, checkIds);
        copy = { exit, rowsPerSecond: (ROWS / exit.wallMs) * 1000, cpu: copyCpu };
        log(`copy: ${seconds(exit.wallMs)} s, ${n} keys, spot checks equal; reading them back for the anchor`);
        t0 = performance.now();
        data = await readAll(etcd);
        if (data.n !== ROWS) throw new Error(`read back ${data.n} keys, expected ${ROWS}`);
        log(`read ${data.n} keys (${(data.bytes / 1048576).toFixed(0)} MiB of keys and values) in ${seconds(performance.now() - t0)} s`);
      } finally {
        etcd.close();
        await server.stop();
      }
    }

    // (a) The anchor, into a fresh etcd per concurrency.
    const anchors: { concurrency: number; ms: number; putsPerSecond: number; transactions: number; cpu: PhaseCpu }[] = [];
    for (const concurrency of CONCURRENCY) {
      log(`anchor: etcd3 kv.txn of ${TXN_OPS} puts, ${concurrency} in flight`);
      const a = await anchorWrite(data.pages, data.n, concurrency);
      anchors.push({ concurrency, ...a });
      log(`anchor: ${perSecond(a.putsPerSecond)} puts/s`);
    }
    const best = anchors.reduce((a, b) => (b.putsPerSecond > a.putsPerSecond ? b : a));

    // (c) Stream: copy with a streaming sync, stop it, keep etcd's dir, write the backlog; then
    // replay it into a fresh copy of that dir in each round, beside the anchor run again.
    const id = 'bench-stream';
    const saved = new SavedEtcd('/tmp/tributary-bench-etcd', ETCD_ARGS);
    const replays: Replay[] = [];
    let backlog: Awaited<ReturnType<typeof backlogAnchor>>;
    let relayServer: NetServer | undefined;
    try {
      let stoppedAt: string | undefined;
      let port: number;
      {
        const server = await saved.start();
        port = server.port;
        const etcd = client(server);
        try {
          log('stream: tributary sync: initial copy');
          await untilStreaming(etcd, startTributary('etcd-stream-initial', ['sync', '--id', id, '--source', source.url, '--target', server.url(PREFIX), '--progress', 'none']), 'stream initial sync', id);
          stoppedAt = (await checkpoint(etcd, id))?.position;
          log(`stream: copied and checkpointed at ${stoppedAt}; tributary stopped; etcd's dir kept`);
        } finally {
          etcd.close();
          await server.stop();
        }
      }
      // Every trial's etcd listens on the same port, so one relay serves them all.
      const relay = DELAY_MS > 0 ? await delayingRelay(port) : undefined;
      relayServer = relay?.server;
      if (relay) log(`stream: tributary reaches etcd through a relay delaying each chunk ${DELAY_MS} ms each way`);
      const args = ['sync', '--id', id, '--source', source.url, '--target', `etcd://127.0.0.1:${relay?.port ?? port}/${PREFIX}`, '--progress', 'none'];

      log(`stream: source: ${TXNS} transactions × ${TXN_ROWS} row changes (${INS} inserts, ${UPD} updates, ${DEL} deletes)`);
      const { ms: sourceMs, goal } = await source.backlog(TXNS, ROWS);
      log(`stream: source done in ${seconds(sourceMs)} s; end position ${goal.text}`);

      // The objects the backlog's inserts and updates left (the first replay's), for the backlog anchor.
      let finals: Map<number, Buffer> | undefined;
      const replay = async (round: number): Promise<Omit<Replay, 'anchor' | 'ratio'>> => {
        const server = await saved.trial();
        const etcd = client(server);
        try {
          log(`stream, round ${round + 1}: tributary sync replaying the backlog`);
          const phase = await phaseCpu(server, source.server.pid);
          const run = startTributary(`etcd-stream-replay-${round + 1}`, args);
          const { caughtUpMs, firstMoveMs, exit } = await untilCaughtUp(etcd, run, `stream replay, round ${round + 1}`, id, goal, { from: stoppedAt, pollMs: 50, timeoutMs: CATCH_UP_TIMEOUT_MS });
          // tributary's CPU is its whole run's (getrusage at exit): the stop after catching up adds little.
          const cpu = await phase(exit.userCpuS + exit.systemCpuS);
          const [keys, sourceRows] = [await countKeys(etcd), Number((await queryRows(src, 'SELECT COUNT(*) AS n FROM bench.t'))[0]?.n)];
          if (keys !== sourceRows) throw new Error(`stream, round ${round + 1}: etcd holds ${keys} keys under ${TABLE_PREFIX}, the source ${sourceRows} rows`);
          // An updated key, a deleted one, an inserted one, one left alone, and the backlog's last of each.
          const touched = [1, TXNS * UPD, TXNS * UPD + 1, TXNS * (UPD + DEL), ROWS + 1, ROWS + TXNS * INS, ROWS];
          await spotCheck(`stream, round ${round + 1}`, src, etcd, touched);
          finals ??= await finalObjects(etcd, TXNS, ROWS);
          const changesPerSecond = ((TXNS * TXN_ROWS) / caughtUpMs) * 1000;
          log(`stream, round ${round + 1}: ${seconds(caughtUpMs)} s, ${perSecond(changesPerSecond)} changes/s; etcd holds ${keys} keys, the source ${sourceRows} rows; spot checks equal`);
          return { round, exit, caughtUpMs, firstMoveMs, sourceMs, changesPerSecond, keys, sourceRows, cpu };
        } finally {
          etcd.close();
          await server.stop();
        }
      };
      for (let round = 0; round < STREAM_ROUNDS; round++) {
        // Replay then anchor, then the other way round: a host drifting over the run weighs on both alike.
        const pairedAnchor = async () => {
          log(`stream, round ${round + 1}: the anchor again (etcd3 kv.txn of ${TXN_OPS} puts, ${best.concurrency} in flight)`);
          const a = await anchorWrite(data.pages, data.n, best.concurrency);
          log(`stream, round ${round + 1}: anchor ${perSecond(a.putsPerSecond)} puts/s`);
          return a;
        };
        let r: Omit<Replay, 'anchor' | 'ratio'>;
        let a: Awaited<ReturnType<typeof anchorWrite>>;
        if (round % 2 === 0) {
          r = await replay(round);
          a = await pairedAnchor();
        } else {
          a = await pairedAnchor();
          r = await replay(round);
        }
        replays.push({ ...r, anchor: a, ratio: r.changesPerSecond / a.putsPerSecond });
      }

      log(`backlog anchor: etcd3 kv.txn of ${TXN_OPS} ops, the backlog's puts and deletes, into an etcd holding the copy`);
      backlog = await backlogAnchor(data.pages, finals as Map<number, Buffer>, best.concurrency);
      finals = undefined;
      log(`backlog anchor: ${perSecond(backlog.opsPerSecond)} ops/s`);
    } finally {
      relayServer?.close();
      saved.remove();
    }
    data.pages.length = 0;
    // The round of the median paired ratio is the stream's figure.
    const byRatio = [...replays].sort((x, y) => x.ratio - y.ratio);
    const stream = byRatio[Math.floor((byRatio.length - 1) / 2)] as Replay;

    const changes = TXNS * TXN_ROWS;
    const copyRatio = copy.rowsPerSecond / best.putsPerSecond;
    // The target's stream figure: the median round's ratio to the anchor run beside it.
    const streamRatio = stream.ratio;
    const streamToBest = stream.changesPerSecond / best.putsPerSecond;
    const backlogRatio = stream.changesPerSecond / backlog.opsPerSecond;
    const cpu = (x: TributaryExit) => (x.userCpuS + x.systemCpuS).toFixed(1);
    printTable(`\netcd: ${ROWS.toLocaleString('en')} rows × 10 columns, ${version} → etcd ${etcdVersion}, ${machine().cpus} cores`, [
      ['what', 'seconds', 'per second', 'peak RSS', 'CPU s', '÷ anchor'],
      ...anchors.map((a) => [`anchor: etcd3 txn of ${TXN_OPS} puts, ${a.concurrency} in flight${a === best ? ' (best)' : ''}`, seconds(a.ms), `${perSecond(a.putsPerSecond)} puts`, '', '', ratio(a.putsPerSecond, best.putsPerSecond)]),
      ['tributary sync --copy-only', seconds(copy.exit.wallMs), `${perSecond(copy.rowsPerSecond)} rows`, `${copy.exit.peakRssMb.toFixed(0)} MB`, cpu(copy.exit), ratio(copy.rowsPerSecond, best.putsPerSecond)],
      ...replays.flatMap((r) => [
        [`round ${r.round + 1}: tributary sync replay of ${changes.toLocaleString('en')} changes, start to caught up${r === stream ? ' (median)' : ''}`, seconds(r.caughtUpMs), `${perSecond(r.changesPerSecond)} changes`, `${r.exit.peakRssMb.toFixed(0)} MB`, cpu(r.exit), ratio(r.changesPerSecond, best.putsPerSecond)],
        [`round ${r.round + 1}: the anchor again, ${best.concurrency} in flight; the replay ÷ it: ${r.ratio.toFixed(2)}×`, seconds(r.anchor.ms), `${perSecond(r.anchor.putsPerSecond)} puts`, '', '', ratio(r.anchor.putsPerSecond, best.putsPerSecond)],
      ]),
      ['(source executing the backlog)', seconds(stream.sourceMs), `${perSecond((changes / stream.sourceMs) * 1000)} changes`, '', '', ''],
      [`backlog anchor: etcd3 txn of ${TXN_OPS} ops, the backlog's puts and deletes, etcd holding the copy`, seconds(backlog.ms), `${perSecond(backlog.opsPerSecond)} ops`, '', '', ratio(backlog.opsPerSecond, best.putsPerSecond)],
    ]);
    // Where the two cores went, per key written: what a writer may spend is what etcd and the source leave.
    const us = (s: number, n: number) => ((s / n) * 1e6).toFixed(1);
    const perThousand = (count: number, n: number) => ((count * 1000) / n).toFixed(1);
    const cpuRow = (what: string, c: PhaseCpu, n: number, ms: number) => [what, us(c.etcdS, n), us(c.sourceS, n), us(c.writerS, n), us(c.etcdS + c.sourceS + c.writerS, n), ((c.etcdS + c.sourceS + c.writerS) / (ms / 1000)).toFixed(2), String(c.proposals), `${c.fsyncs} × ${c.fsyncMeanMs.toFixed(2)} ms`, `${perThousand(c.switches.voluntary, n)} / ${perThousand(c.switches.preempted, n)}`];
    printTable('\nCPU per key written (µs; from /proc and getrusage) and etcd\'s WAL fsyncs', [
      ['what', 'etcd', 'source', 'writer', 'all', 'cores busy', 'proposals', 'fsyncs × mean', 'etcd switches / 1k keys: waits / preempted'],
      cpuRow(`anchor (etcd3 client, ${best.concurrency} in flight)`, best.cpu, data.n, best.ms),
      cpuRow('tributary copy', copy.cpu, ROWS, copy.exit.wallMs),
      cpuRow(`tributary stream replay (round ${stream.round + 1})`, stream.cpu, changes, stream.caughtUpMs),
      cpuRow(`backlog anchor (etcd3 client, ${best.concurrency} in flight)`, backlog.cpu, changes, backlog.ms),
    ]);
    const verdict = (r: number) => `${r.toFixed(2)}× (target ≥ ${RATIO_TARGET}×: ${r >= RATIO_TARGET ? 'met' : 'NOT met'})`;
    process.stdout.write(
      `copy ${verdict(copyRatio)}; stream ${verdict(streamRatio)}, the median of ${replays.length} rounds' replay ÷ the anchor beside it ` +
        `(${replays.map((r) => r.ratio.toFixed(2)).join(', ')}); the median replay ÷ the best anchor: ${streamToBest.toFixed(2)}×\n` +
        `stream's first checkpoint advance ${seconds(stream.firstMoveMs ?? NaN)} s after start\n` +
        `stream ÷ the backlog anchor (the same puts and deletes by the etcd3 client into an etcd holding the copy): ${backlogRatio.toFixed(2)}×\n`,
    );
    printProfile('tributary copy into etcd', copy.exit.profile);
    printProfile('tributary stream replay into etcd', stream.exit.profile);
    const file = writeResult('etcd', {
      benchmark: 'etcd',
      date: new Date().toISOString(),
      machine: { ...machine(), loadAverageBefore1m: loadBefore },
      servers: { source: version, target: `etcd ${etcdVersion}` },
      rows: ROWS,
      columns: 10,
      valueBytes: data.bytes,
      anchor: { what: `etcd3 kv.txn of ${TXN_OPS} puts (the keys and values tributary wrote)`, runs: anchors, best },
      backlogAnchor: { what: `etcd3 kv.txn of ${TXN_OPS} ops: the backlog's puts and deletes, into an etcd holding the copy`, concurrency: best.concurrency, ...backlog },
      copy: { ms: copy.exit.wallMs, rowsPerSecond: copy.rowsPerSecond, peakRssMb: copy.exit.peakRssMb, cpuS: copy.exit.userCpuS + copy.exit.systemCpuS, keys: ROWS, cpu: copy.cpu },
      stream: {
        changes,
        transactions: TXNS,
        mix: { inserts: TXNS * INS, updates: TXNS * UPD, deletes: TXNS * DEL },
        sourceMs: stream.sourceMs,
        ms: stream.caughtUpMs,
        firstCheckpointAdvanceMs: stream.firstMoveMs,
        changesPerSecond: stream.changesPerSecond,
        peakRssMb: stream.exit.peakRssMb,
        cpuS: stream.exit.userCpuS + stream.exit.systemCpuS,
        keys: stream.keys,
        sourceRows: stream.sourceRows,
        cpu: stream.cpu,
        round: stream.round + 1,
        rounds: replays.map((r) => ({
          round: r.round + 1,
          ms: r.caughtUpMs,
          firstCheckpointAdvanceMs: r.firstMoveMs,
          changesPerSecond: r.changesPerSecond,
          peakRssMb: r.exit.peakRssMb,
          cpuS: r.exit.userCpuS + r.exit.systemCpuS,
          cpu: r.cpu,
          anchor: r.anchor,
          ratio: r.ratio,
        })),
      },
      ratios: { copy: copyRatio, stream: streamRatio, streamToBestAnchor: streamToBest, streamToBacklogAnchor: backlogRatio },
      targets: { ratio: RATIO_TARGET, met: { copy: copyRatio >= RATIO_TARGET, stream: streamRatio >= RATIO_TARGET } },
    });
    log(`wrote ${file}`);
  } finally {
    await src.end().catch(() => undefined);
    await source.close();
  }
}

await main();
