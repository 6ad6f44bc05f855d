/**
 * Stream apply in every direction: a backlog of 1,000,000 row changes (2,000 source transactions of
 * 250 inserts, 150 updates and 100 deletes, every key changed once) written while tributary is
 * stopped, then replayed; MySQL → MySQL, MySQL → PostgreSQL, PostgreSQL → PostgreSQL and
 * PostgreSQL → MySQL, each beside its anchor measured in the same run: the engine's own replication
 * applying the same backlog where source and target are one engine (a MariaDB replica; a
 * PostgreSQL logical subscription), else the source executing the same changes (printed for every
 * direction). See bench/lib/stream.ts for the steps and the end-of-run equality check.
 *
 * Targets (issues 2 and 3): ≥ 50k changes/s in every direction, peak RSS ≤ 300 MB; issue 15: ≥ 0.5×
 * native replication and ≥ 100k changes/s.
 * Writes bench/results/stream-<direction>.json.
 *
 *   node --import tsx bench/stream.ts                      all four directions
 *   node --import tsx bench/stream.ts mysql-postgres       one (mysql-mysql, mysql-postgres, postgres-postgres, postgres-mysql)
 *   BENCH_CHANGES=…  another size;  BENCH_PROFILE=1  profile tributary;  BENCH_NATIVE=0  no native replica
 *   BENCH_TXN_ROWS=10  small transactions (10 row changes each; default 500)
 */
import { buildTributary, log, machine, perSecond, printProfile, printTable, ratio, seconds, warnIfBusy, writeResult } from './lib/harness.js';
import { DEL, DIRECTIONS, INS, replay, TXN_ROWS, UPD } from './lib/stream.js';
import { loadavg } from 'node:os';

const CHANGES = Number(process.env.BENCH_CHANGES ?? 1_000_000);
const TXNS = Math.ceil(CHANGES / TXN_ROWS);
const TARGET_CPS = 50_000;
const RSS_LIMIT_MB = 300;

const LABEL = { mysql: 'MySQL', postgres: 'PostgreSQL' } as const;

async function main(): Promise<void> {
  const names = process.argv.slice(2).length ? process.argv.slice(2) : Object.keys(DIRECTIONS);
  for (const n of names) if (!DIRECTIONS[n]) throw new Error(`unknown direction ${n}; one of ${Object.keys(DIRECTIONS).join(', ')}`);
  buildTributary();
  const summary: string[][] = [['direction', 'anchor', 'tributary', 'ratio', 'peak RSS', 'load 1m']];
  let failures = 0;
  for (const name of names) {
    const dir = DIRECTIONS[name] as (typeof DIRECTIONS)[string];
    const loadBefore = warnIfBusy();
    let r: Awaited<ReturnType<typeof replay>>;
    try {
      r = await replay(name, dir, TXNS);
    } catch (err) {
      failures++;
      log(`${name} failed: ${(err as Error).stack ?? String(err)}`);
      continue;
    }
    const loadAfter = loadavg()[0] ?? 0;
    const changes = TXNS * TXN_ROWS;
    const sourceCps = (changes / r.sourceMs) * 1000;
    const tribCps = (changes / r.caughtUpMs) * 1000;
    const applyMs = r.caughtUpMs - (r.firstMoveMs ?? 0);
    const x = r.exit;
    const arrow = `${LABEL[dir.source]} → ${LABEL[dir.target]}`;
    // The anchor: the engine's own replication of the same backlog where there is one (same engine), else the source executing it.
    const nativeCps = r.native ? (changes / r.native.ms) * 1000 : undefined;
    const anchorCps = nativeCps ?? sourceCps;
    printTable(`\nstream ${arrow}: backlog of ${changes.toLocaleString('en')} row changes in ${TXNS} transactions, ${r.version.source} → ${r.version.target}, ${machine().cpus} cores`, [
      ['what', 'seconds', 'changes/s', 'peak RSS', 'CPU s', '÷ anchor'],
      ...(r.native ? [[`${r.native.what} applying the backlog (anchor)`, seconds(r.native.ms), perSecond(nativeCps as number), '', '', '1.00×']] : []),
      [`source executing the changes${r.native ? '' : ' (anchor)'}`, seconds(r.sourceMs), perSecond(sourceCps), '', '', ratio(sourceCps, anchorCps)],
      ['tributary sync replay, start to caught up', seconds(r.caughtUpMs), perSecond(tribCps), `${x.peakRssMb.toFixed(0)} MB`, (x.userCpuS + x.systemCpuS).toFixed(1), ratio(tribCps, anchorCps)],
    ]);
    process.stdout.write(
      `tributary: first checkpoint advance ${seconds(r.firstMoveMs ?? NaN)} s after start; ${perSecond((changes / applyMs) * 1000)} changes/s from there\n` +
        `stream apply ${perSecond(tribCps)} changes/s (target ≥ ${perSecond(TARGET_CPS)}: ${tribCps >= TARGET_CPS ? 'met' : 'NOT met'}), ` +
        `peak RSS ${x.peakRssMb.toFixed(0)} MB (target ≤ ${RSS_LIMIT_MB} MB: ${x.peakRssMb <= RSS_LIMIT_MB ? 'met' : 'NOT met'}); ` +
        `load average ${loadBefore.toFixed(2)} before, ${loadAfter.toFixed(2)} after\n`,
    );
    printProfile(`tributary stream replay ${arrow}`, x.profile);
    summary.push([arrow, `${perSecond(anchorCps)}/s (${r.native ? 'native replica' : 'source'})`, `${perSecond(tribCps)}/s`, ratio(tribCps, anchorCps), `${x.peakRssMb.toFixed(0)} MB`, `${loadBefore.toFixed(2)}→${loadAfter.toFixed(2)}`]);
    const file = writeResult(`stream-${name}`, {
      benchmark: `stream-${name}`,
      direction: dir,
      date: new Date().toISOString(),
      machine: { ...machine(), loadAverageBefore1m: loadBefore, loadAverageAfter1m: loadAfter },
      servers: r.version,
      changes,
      transactions: TXNS,
      mix: { inserts: TXNS * INS, updates: TXNS * UPD, deletes: TXNS * DEL },
      anchor: r.native ? { what: r.native.what, ms: r.native.ms, changesPerSecond: nativeCps } : { what: 'source executing the changes', ms: r.sourceMs, changesPerSecond: sourceCps },
      source: { what: 'source executing the changes', ms: r.sourceMs, changesPerSecond: sourceCps },
      tributary: {
        ms: r.caughtUpMs,
        changesPerSecond: tribCps,
        firstCheckpointAdvanceMs: r.firstMoveMs,
        changesPerSecondAfterFirstAdvance: (changes / applyMs) * 1000,
        peakRssMb: x.peakRssMb,
        cpuS: x.userCpuS + x.systemCpuS,
        checkpointSamples: r.samples.filter((_, i) => i % 5 === 0),
      },
      ratio: tribCps / anchorCps,
      targets: { changesPerSecond: TARGET_CPS, peakRssMb: RSS_LIMIT_MB, met: tribCps >= TARGET_CPS && x.peakRssMb <= RSS_LIMIT_MB },
      ...(x.profile ? { profile: x.profile } : {}),
    });
    log(`wrote ${file}`);
  }
  if (summary.length > 2) printTable('\nstream, every direction', summary);
  if (failures) process.exitCode = 1;
}

await main();
