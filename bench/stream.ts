/**
 * Stream apply: a backlog of 1,000,000 row changes replayed from the binlog.
 *
 *   1. The source table holds 500,000 rows; `tributary sync` copies them, reaches the stream phase
 *      and is stopped with SIGINT (it checkpoints).
 *   2. While tributary is stopped the source executes 2,000 transactions of 500 row changes each:
 *      250 inserts (new keys), 150 updates and 100 deletes (of copied keys), so every key changes
 *      once and coalescing cannot shrink the work. Its wall time is the anchor: changes/s at the
 *      source that produced the backlog.
 *   3. `tributary sync` restarts from the checkpoint; timed from process start until the target's
 *      checkpoint reaches the source's binlog end (SHOW MASTER STATUS), with its peak RSS.
 *
 * The target is then checked against the source (count and CRC fingerprint of all columns).
 * Targets (the issue): ≥ 50k changes/s, peak RSS ≤ 300 MB.
 *
 *   node --import tsx bench/stream.ts          (BENCH_CHANGES=… to change the size, BENCH_PROFILE=1 to profile)
 */
import { startMariaDb } from '../src/testing/servers.js';
import {
  assertClean,
  buildTributary,
  connect,
  fingerprint,
  generateRows,
  log,
  machine,
  perSecond,
  printProfile,
  printTable,
  queryRows,
  ratio,
  ROW_SELECT,
  seconds,
  sleep,
  startTributary,
  TABLE_DDL,
  warnIfBusy,
  writeResult,
} from './lib/harness.js';
import type { Connection } from 'mysql2/promise';

/** Row changes per source transaction, split 50% inserts, 30% updates, 20% deletes. */
const TXN_ROWS = 500;
const CHANGES = Number(process.env.BENCH_CHANGES ?? 1_000_000);
const TXNS = Math.ceil(CHANGES / TXN_ROWS);
const INS = TXN_ROWS / 2;
const UPD = (TXN_ROWS * 3) / 10;
const DEL = TXN_ROWS / 5;
/** Updates and deletes each touch a copied key once: the seed holds exactly the keys they need. */
const SEED = TXNS * (UPD + DEL);
const TARGET_CPS = 50_000;
const RSS_LIMIT_MB = 300;
const CATCH_UP_TIMEOUT_MS = 240_000;

interface BinlogPos {
  readonly file: string;
  readonly pos: number;
}

function fileIndex(file: string): number {
  return Number(/\.(\d+)$/.exec(file)?.[1] ?? 0);
}

function reached(at: BinlogPos, goal: BinlogPos): boolean {
  const a = fileIndex(at.file);
  const b = fileIndex(goal.file);
  return a > b || (a === b && at.pos >= goal.pos);
}

/** The stream checkpoint tributary keeps on the target (row name ''), or undefined before the first. */
async function checkpoint(dst: Connection, db: string): Promise<{ pos: BinlogPos; phase: string } | undefined> {
  const rows = await queryRows(dst, `SELECT body FROM \`${db}\`._tributary_checkpoint WHERE name = ''`).catch(() => []);
  const body = rows[0]?.body;
  if (typeof body !== 'string') return undefined;
  const b = JSON.parse(body) as { position: string; phase: string };
  const p = JSON.parse(b.position) as BinlogPos;
  return { pos: { file: p.file, pos: p.pos }, phase: b.phase };
}

async function masterStatus(src: Connection): Promise<BinlogPos> {
  const r = (await queryRows(src, 'SHOW MASTER STATUS'))[0];
  return { file: String(r?.File), pos: Number(r?.Position) };
}

/** The backlog: TXNS transactions of inserts, updates and deletes; returns the source's wall time. */
async function generateChanges(src: Connection): Promise<number> {
  const t0 = performance.now();
  for (let k = 0; k < TXNS; k++) {
    const ins = SEED + 1 + k * INS;
    const upd = 1 + k * UPD;
    const del = TXNS * UPD + 1 + k * DEL;
    const [results] = await src.query(
      `START TRANSACTION;
       INSERT INTO t SELECT ${ROW_SELECT} FROM seq_${ins}_to_${ins + INS - 1};
       UPDATE t SET qty = qty + 1, name = CONCAT('updated-', id), price = price + 1.25,
              created = created + INTERVAL 1 SECOND, score = score * 2, note = CONCAT('n', id), day = NULL
        WHERE id BETWEEN ${upd} AND ${upd + UPD - 1};
       DELETE FROM t WHERE id BETWEEN ${del} AND ${del + DEL - 1};
       COMMIT`,
    );
    // Every statement must have touched exactly its rows, or the change count would be wrong.
    const affected = (results as { affectedRows?: number }[]).slice(1, 4).map((r) => r.affectedRows ?? 0);
    if (affected[0] !== INS || affected[1] !== UPD || affected[2] !== DEL) {
      throw new Error(`transaction ${k} changed ${affected.join('/')} rows, expected ${INS}/${UPD}/${DEL}`);
    }
  }
  return performance.now() - t0;
}

async function main(): Promise<void> {
  buildTributary();
  const loadBefore = warnIfBusy();
  log('starting source and target MariaDB');
  const [source, target] = await Promise.all([startMariaDb({ serverId: 1 }), startMariaDb({ serverId: 2 })]);
  const src = await connect(source.url());
  const dst = await connect(target.url());
  const db = 'bench';
  const args = ['sync', '--source', source.url(db), '--target', target.url(db), '--progress', 'none'];
  try {
    const version = String((await queryRows(src, 'SELECT VERSION() AS v'))[0]?.v);
    log(`seeding ${SEED} rows on the source (${version})`);
    await src.query(`SET SESSION sql_log_bin = 0; CREATE DATABASE ${db}; USE ${db}`);
    await src.query(TABLE_DDL);
    await generateRows(src, 1, SEED);
    await src.query('SET SESSION sql_log_bin = 1; ANALYZE TABLE t');
    await dst.query(`CREATE DATABASE ${db}`);

    // 1. Copy, reach the stream phase, stop with a checkpoint.
    log('tributary sync: initial copy of the seed');
    const first = startTributary('stream-initial', args);
    let exitedEarly = false;
    void first.exited.then(() => (exitedEarly = true));
    for (;;) {
      const cp = await checkpoint(dst, db);
      if (cp?.phase === 'stream') break;
      if (exitedEarly) assertClean('initial sync', await first.exited);
      await sleep(200);
    }
    first.signal('SIGINT');
    const firstExit = await first.exited;
    assertClean('initial sync', firstExit);
    const stoppedAt = await checkpoint(dst, db);
    log(`copy done and checkpointed at ${stoppedAt?.pos.file}:${stoppedAt?.pos.pos}; tributary stopped`);

    // 2. The backlog, executed at the source while tributary is stopped.
    log(`source: ${TXNS} transactions × ${TXN_ROWS} row changes (${INS} inserts, ${UPD} updates, ${DEL} deletes)`);
    await src.query(`USE ${db}`);
    const sourceMs = await generateChanges(src);
    const goal = await masterStatus(src);
    log(`source done in ${seconds(sourceMs)} s; binlog end ${goal.file}:${goal.pos}`);

    // 3. Replay: restart and time until the checkpoint reaches the binlog end.
    log('tributary sync: replaying the backlog');
    const replay = startTributary('stream-replay', args);
    let done = false;
    let failed: unknown;
    void replay.exited.then(() => (done = true), (e: unknown) => (failed = e));
    let firstMoveMs: number | undefined;
    let caughtUpMs: number | undefined;
    const samples: { ms: number; pos: number }[] = [];
    for (;;) {
      const cp = await checkpoint(dst, db);
      const now = performance.now() - replay.startedAt;
      if (cp && stoppedAt && firstMoveMs === undefined && (cp.pos.pos !== stoppedAt.pos.pos || cp.pos.file !== stoppedAt.pos.file)) firstMoveMs = now;
      if (cp) samples.push({ ms: Math.round(now), pos: cp.pos.pos });
      if (cp && reached(cp.pos, goal)) {
        caughtUpMs = now;
        break;
      }
      if (done || failed) assertClean('replay', await replay.exited);
      if (now > CATCH_UP_TIMEOUT_MS) break;
      await sleep(100);
    }
    replay.signal('SIGINT');
    const r = await replay.exited;
    assertClean('replay', r);
    if (caughtUpMs === undefined) throw new Error(`replay did not catch up within ${CATCH_UP_TIMEOUT_MS / 1000} s`);
    const [want, got] = await Promise.all([fingerprint(src, db), fingerprint(dst, db)]);
    if (want !== got) throw new Error(`target fingerprint ${got} differs from the source's ${want}`);

    const changes = TXNS * TXN_ROWS;
    const sourceCps = (changes / sourceMs) * 1000;
    const tribCps = (changes / caughtUpMs) * 1000;
    const applyMs = caughtUpMs - (firstMoveMs ?? 0);
    printTable(`\nstream: backlog of ${changes.toLocaleString('en')} row changes in ${TXNS} transactions, ${version} → same, ${machine().cpus} cores`, [
      ['what', 'seconds', 'changes/s', 'peak RSS', 'CPU s', '÷ source'],
      ['source executing the changes (anchor)', seconds(sourceMs), perSecond(sourceCps), '', '', '1.00×'],
      ['tributary sync replay, start to caught up', seconds(caughtUpMs), perSecond(tribCps), `${r.peakRssMb.toFixed(0)} MB`, (r.userCpuS + r.systemCpuS).toFixed(1), ratio(tribCps, sourceCps)],
    ]);
    process.stdout.write(
      `tributary: first checkpoint advance ${seconds(firstMoveMs ?? NaN)} s after start; ${perSecond((changes / applyMs) * 1000)} changes/s from there\n` +
        `stream apply ${perSecond(tribCps)} changes/s (target ≥ ${perSecond(TARGET_CPS)}: ${tribCps >= TARGET_CPS ? 'met' : 'NOT met'}), ` +
        `peak RSS ${r.peakRssMb.toFixed(0)} MB (target ≤ ${RSS_LIMIT_MB} MB: ${r.peakRssMb <= RSS_LIMIT_MB ? 'met' : 'NOT met'})\n`,
    );
    printProfile('tributary stream replay', r.profile);
    const file = writeResult('stream', {
      benchmark: 'stream',
      date: new Date().toISOString(),
      machine: { ...machine(), loadAverageBefore1m: loadBefore },
      server: version,
      changes,
      transactions: TXNS,
      mix: { inserts: TXNS * INS, updates: TXNS * UPD, deletes: TXNS * DEL },
      anchor: { what: 'source executing the changes', ms: sourceMs, changesPerSecond: sourceCps },
      tributary: {
        ms: caughtUpMs,
        changesPerSecond: tribCps,
        firstCheckpointAdvanceMs: firstMoveMs,
        changesPerSecondAfterFirstAdvance: (changes / applyMs) * 1000,
        peakRssMb: r.peakRssMb,
        cpuS: r.userCpuS + r.systemCpuS,
        checkpointSamples: samples.filter((_, i) => i % 5 === 0),
      },
      ratio: tribCps / sourceCps,
      targets: { changesPerSecond: TARGET_CPS, peakRssMb: RSS_LIMIT_MB, met: tribCps >= TARGET_CPS && r.peakRssMb <= RSS_LIMIT_MB },
      ...(r.profile ? { profile: r.profile } : {}),
    });
    log(`wrote ${file}`);
  } finally {
    await src.end().catch(() => undefined);
    await dst.end().catch(() => undefined);
    await Promise.all([source.stop(), target.stop()]);
  }
}

await main();
