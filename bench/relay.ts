/**
 * Relay replay (issue 16): a backlog of row changes stored by `tributary relay` while no sync runs,
 * then caught up by a sync reading the relay (`--relay-dir`) and, in the same run, by a sync
 * reading the source's binlog directly, each from the same checkpoint position.
 *
 *   1. MariaDB source with `seed` rows (not in the binlog), two MariaDB targets; `tributary relay`
 *      starts on the source (its own directory, `--http` for its status).
 *   2. Target A: `tributary sync --relay-dir` copies the seed, reaches the stream phase, stops
 *      (SIGINT: checkpoint). Target B: the same without `--relay-dir`. No source write between, so
 *      both checkpoints name the same binlog position.
 *   3. The source executes the backlog (bench/lib/stream.ts: transactions of 500 row changes, 250
 *      inserts, 150 updates, 100 deletes, every key once) while the relay stores it; then the relay
 *      is waited for until its durable position reaches the source's end.
 *   4. (a) sync A restarts with `--relay-dir`, (b) sync B restarts on the source: each timed from
 *      process start until its checkpoint reaches the source's end position, with its peak RSS.
 *   5. Both targets are checked equal to the source (count and a hash of every column).
 *
 * Prints both rates in changes/s, their ratio (relay ÷ source) and each peak RSS; writes
 * bench/results/relay.json.
 *
 *   node --import tsx bench/relay.ts        BENCH_ROWS changes (default 1,000,000)
 *   BENCH_ROWS=200000 …  a quicker run;  BENCH_RELAY_FIRST=source  (b) before (a);  BENCH_PROFILE=1  profile tributary
 */
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertClean, buildTributary, log, machine, perSecond, printProfile, printTable, ratio, seconds, sleep, startTributary, warnIfBusy, writeResult, type TributaryExit } from './lib/harness.js';
import { DEL, INS, startEndpoint, TXN_ROWS, UPD, type Endpoint, type Goal } from './lib/stream.js';

const ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000);
if (!Number.isInteger(ROWS) || ROWS <= 0) throw new Error(`BENCH_ROWS=${process.env.BENCH_ROWS} is not a positive integer`);
const TXNS = Math.ceil(ROWS / TXN_ROWS);
const CHANGES = TXNS * TXN_ROWS;
const TIMEOUT_MS = 600_000;
/** BENCH_RELAY_FIRST=source runs (b), the sync reading the source, before (a), the one reading the relay. */
const SOURCE_FIRST = process.env.BENCH_RELAY_FIRST === 'source';
if (!['source', 'relay', undefined].includes(process.env.BENCH_RELAY_FIRST)) throw new Error(`BENCH_RELAY_FIRST=${process.env.BENCH_RELAY_FIRST}: relay (default) or source`);

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (typeof a === 'object' && a ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

interface RelayStatus {
  state: string;
  durablePosition?: string;
  durableOrdinal: number;
  bytes: number;
  segments: unknown[];
}

async function relayStatus(http: string): Promise<RelayStatus | undefined> {
  return fetch(`${http}/status`)
    .then((r) => (r.ok ? (r.json() as Promise<RelayStatus>) : undefined))
    .catch(() => undefined);
}

/** 'mysql-bin.000002:1234 gtid=0-1-5' (the relay's described position) → the source's position JSON that Goal.reached reads. */
function positionOf(described: string | undefined): string | undefined {
  const m = /^(\S+):(\d+)/.exec(described ?? '');
  return m ? JSON.stringify({ file: m[1], pos: Number(m[2]) }) : undefined;
}

async function dirBytes(dir: string): Promise<number> {
  let n = 0;
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) n += (await stat(join(e.parentPath, e.name))).size;
  }
  return n;
}

/** Step 2: copy the seed, reach the stream phase, stop with a checkpoint; returns that checkpoint's position. */
async function initial(label: string, args: readonly string[], dst: Endpoint): Promise<string> {
  const run = startTributary(label, args);
  let exited = false;
  void run.exited.then(() => (exited = true));
  for (;;) {
    const cp = await dst.checkpoint();
    if (cp?.phase === 'stream') break;
    if (exited) assertClean(label, await run.exited);
    await sleep(200);
  }
  run.signal('SIGINT');
  assertClean(label, await run.exited);
  const cp = await dst.checkpoint();
  if (!cp) throw new Error(`${label}: no checkpoint after the initial sync`);
  return cp.position;
}

interface CatchUp {
  readonly ms: number;
  readonly firstMoveMs: number | undefined;
  readonly exit: TributaryExit;
}

/** Step 4: restart from the checkpoint and time until it reaches the source's end position. */
async function catchUp(label: string, args: readonly string[], dst: Endpoint, from: string, goal: Goal): Promise<CatchUp> {
  const run = startTributary(label, args);
  let done = false;
  void run.exited.then(() => (done = true));
  let firstMoveMs: number | undefined;
  let ms: number | undefined;
  for (;;) {
    const cp = await dst.checkpoint();
    const now = performance.now() - run.startedAt;
    if (cp && firstMoveMs === undefined && cp.position !== from) firstMoveMs = now;
    if (cp && goal.reached(cp.position)) {
      ms = now;
      break;
    }
    if (done) assertClean(label, await run.exited);
    if (now > TIMEOUT_MS) break;
    await sleep(100);
  }
  run.signal('SIGINT');
  const exit = await run.exited;
  assertClean(label, exit);
  if (ms === undefined) throw new Error(`${label}: did not catch up within ${TIMEOUT_MS / 1000} s`);
  return { ms, firstMoveMs, exit };
}

async function main(): Promise<void> {
  buildTributary();
  const loadBefore = warnIfBusy();
  const seedRows = TXNS * (UPD + DEL);
  log(`starting the source and two targets (MariaDB)`);
  const [src, viaRelay, viaSource] = await Promise.all([startEndpoint('mysql', 1), startEndpoint('mysql', 2), startEndpoint('mysql', 3)]);
  const dir = await mkdtemp(join(tmpdir(), 'trib-bench-relay-'));
  let relayRun: ReturnType<typeof startTributary> | undefined;
  try {
    const version = await src.version();
    log(`seeding ${seedRows} rows on the source (${version})`);
    await src.seed(seedRows);

    // 1. The relay.
    const http = `http://127.0.0.1:${await freePort()}`;
    const relay = startTributary('relay-relay', ['relay', '--source', src.url, '--relay-dir', dir, '--http', http.slice('http://'.length), '--log-format', 'json']);
    relayRun = relay;
    let relayExited = false;
    void relay.exited.then(() => (relayExited = true));
    for (;;) {
      if ((await relayStatus(http))?.state === 'streaming') break;
      if (relayExited) assertClean('relay', await relay.exited);
      await sleep(200);
    }
    log(`relay streaming into ${dir}`);

    // 2. Both targets copied and stopped at the same position.
    const argsRelay = ['sync', '--source', src.url, '--target', viaRelay.url, '--progress', 'none', '--relay-dir', dir];
    const argsSource = ['sync', '--source', src.url, '--target', viaSource.url, '--progress', 'none'];
    log('initial copy into target A (sync --relay-dir)');
    const fromRelay = await initial('relay-initial-relay', argsRelay, viaRelay);
    log('initial copy into target B (sync from the source)');
    const fromSource = await initial('relay-initial-source', argsSource, viaSource);
    log(`checkpoints: A ${fromRelay}, B ${fromSource}`);
    const [pa, pb] = [JSON.parse(fromRelay) as { file: string; pos: number }, JSON.parse(fromSource) as { file: string; pos: number }];
    if (pa.file !== pb.file || pa.pos !== pb.pos) throw new Error(`the two checkpoints differ (${fromRelay} against ${fromSource}): the catch-ups would not replay the same changes`);

    // 3. The backlog, stored by the relay while no sync runs.
    const before = await relayStatus(http);
    log(`source: ${TXNS} transactions × ${TXN_ROWS} row changes (${INS} inserts, ${UPD} updates, ${DEL} deletes)`);
    const { ms: sourceMs, goal } = await src.backlog(TXNS, seedRows);
    const backlogEnd = performance.now();
    let stored: RelayStatus | undefined;
    for (;;) {
      stored = await relayStatus(http);
      const p = positionOf(stored?.durablePosition);
      if (p && goal.reached(p)) break;
      if (relayExited) assertClean('relay', await relay.exited);
      if (performance.now() - backlogEnd > TIMEOUT_MS) throw new Error(`the relay did not store the backlog within ${TIMEOUT_MS / 1000} s (durable at ${stored?.durablePosition}, goal ${goal.text})`);
      await sleep(100);
    }
    const relayBehindMs = performance.now() - backlogEnd;
    const relayTxns = (stored?.durableOrdinal ?? 0) - (before?.durableOrdinal ?? 0);
    const relayBytes = await dirBytes(dir);
    log(`source done in ${seconds(sourceMs)} s (end ${goal.text}); relay durable there ${seconds(relayBehindMs)} s later: ${relayTxns} records, ${(relayBytes / 2 ** 20).toFixed(0)} MiB on disk`);

    // 4. The two catch-ups, same backlog, same start position.
    const runA = async () => {
      log('(a) sync --relay-dir catching up');
      const r = await catchUp('relay-replay-relay', argsRelay, viaRelay, fromRelay, goal);
      log(`(a) caught up in ${seconds(r.ms)} s`);
      return r;
    };
    const runB = async () => {
      log('(b) sync from the source catching up');
      const r = await catchUp('relay-replay-source', argsSource, viaSource, fromSource, goal);
      log(`(b) caught up in ${seconds(r.ms)} s`);
      return r;
    };
    let a: CatchUp;
    let b: CatchUp;
    if (SOURCE_FIRST) {
      b = await runB();
      a = await runA();
    } else {
      a = await runA();
      b = await runB();
    }

    // 5. Both targets equal the source.
    const [want, gotA, gotB] = await Promise.all([src.fingerprint(), viaRelay.fingerprint(), viaSource.fingerprint()]);
    if (gotA !== want) throw new Error(`target A (relay) fingerprint ${gotA} differs from the source's ${want}`);
    if (gotB !== want) throw new Error(`target B (source) fingerprint ${gotB} differs from the source's ${want}`);
    log(`both targets equal the source (${want})`);

    relay.signal('SIGINT');
    const relayExit = await relay.exited;
    relayRun = undefined;
    assertClean('relay', relayExit);
    const loadAfter = loadavg()[0] ?? 0;

    const cps = (ms: number) => (CHANGES / ms) * 1000;
    const sourceCps = cps(sourceMs);
    const relayCps = cps(a.ms);
    const directCps = cps(b.ms);
    const cpu = (x: TributaryExit) => (x.userCpuS + x.systemCpuS).toFixed(1);
    printTable(
      `\nrelay: backlog of ${CHANGES.toLocaleString('en')} row changes in ${TXNS} transactions (${SOURCE_FIRST ? '(b) run first' : '(a) run first'}), ${version} → same, ${machine().cpus} cores, load ${loadBefore.toFixed(2)} before, ${loadAfter.toFixed(2)} after`,
      [
        ['what', 'seconds', 'changes/s', 'peak RSS', 'CPU s', 'ratio'],
        ['source executing the changes', seconds(sourceMs), perSecond(sourceCps), '', '', ''],
        ['(a) sync --relay-dir, start to caught up', seconds(a.ms), perSecond(relayCps), `${a.exit.peakRssMb.toFixed(0)} MB`, cpu(a.exit), ratio(relayCps, directCps)],
        ['(b) sync from the source, start to caught up', seconds(b.ms), perSecond(directCps), `${b.exit.peakRssMb.toFixed(0)} MB`, cpu(b.exit), '1.00×'],
        ['relay process (whole run)', '', '', `${relayExit.peakRssMb.toFixed(0)} MB`, cpu(relayExit), ''],
      ],
    );
    process.stdout.write(
      `relay ÷ source: ${ratio(relayCps, directCps)}; relay stored the backlog ${seconds(relayBehindMs)} s after the source finished (${relayTxns} records, ${(relayBytes / 2 ** 20).toFixed(0)} MiB)\n` +
        `first checkpoint advance: (a) ${seconds(a.firstMoveMs ?? NaN)} s, (b) ${seconds(b.firstMoveMs ?? NaN)} s after start\n`,
    );
    printProfile('(a) sync --relay-dir', a.exit.profile);
    printProfile('(b) sync from the source', b.exit.profile);
    const side = (x: CatchUp) => ({
      ms: x.ms,
      changesPerSecond: cps(x.ms),
      firstCheckpointAdvanceMs: x.firstMoveMs,
      peakRssMb: x.exit.peakRssMb,
      cpuS: x.exit.userCpuS + x.exit.systemCpuS,
      ...(x.exit.profile ? { profile: x.exit.profile } : {}),
    });
    const file = writeResult('relay', {
      benchmark: 'relay',
      date: new Date().toISOString(),
      machine: { ...machine(), loadAverageBefore1m: loadBefore, loadAverageAfter1m: loadAfter },
      server: version,
      changes: CHANGES,
      transactions: TXNS,
      mix: { inserts: TXNS * INS, updates: TXNS * UPD, deletes: TXNS * DEL },
      startPosition: fromSource,
      endPosition: goal.text,
      sourceExecuting: { ms: sourceMs, changesPerSecond: sourceCps },
      relay: { storedAfterSourceMs: relayBehindMs, records: relayTxns, bytesOnDisk: relayBytes, peakRssMb: relayExit.peakRssMb, cpuS: relayExit.userCpuS + relayExit.systemCpuS },
      fromRelay: side(a),
      fromSource: side(b),
      ratio: relayCps / directCps,
      order: SOURCE_FIRST ? 'source first' : 'relay first',
    });
    log(`wrote ${file}`);
  } finally {
    if (relayRun) {
      relayRun.signal('SIGKILL');
      await relayRun.exited.catch(() => undefined);
    }
    await Promise.all([src.close(), viaRelay.close(), viaSource.close()]);
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
