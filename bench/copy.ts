/**
 * Initial copy: 1,000,000 rows × 10 columns from one throwaway MariaDB to another, measured in the
 * same run against two anchors, each into a fresh empty database on the same target server:
 *
 *   (a) LOAD DATA LOCAL INFILE from mysql2 of the same rows (a file the source wrote with
 *       SELECT … INTO OUTFILE); only the load is timed: the ceiling for any MySQL target;
 *   (b) `mariadb-dump --single-transaction --quick | mariadb`, timed end to end;
 *   (c) `tributary sync --copy-only`, timed end to end (process start to exit), with its peak RSS,
 *       at --threads 2 and 4.
 *
 * Every copy is checked against the source by a count and CRC fingerprint of all columns.
 * Targets (the issue): tributary ≥ 1.5× dump|mariadb, peak RSS ≤ 300 MB.
 *
 *   node --import tsx bench/copy.ts            (BENCH_ROWS=… to change the size, BENCH_PROFILE=1 to profile,
 *                                              BENCH_COPY_ORDERS=asc,desc to time --copy-order desc beside asc,
 *                                              BENCH_TRIBUTARY_ARGS='--chunk-time 1s' for more options to each sync)
 */
import { spawn } from 'node:child_process';
import { createReadStream, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startMariaDb, type Server } from '../src/testing/servers.js';
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
  seconds,
  startTributary,
  TABLE_DDL,
  targetsMet,
  writeResult,
  type ProfileSummary,
  type TributaryExit,
  warnIfBusy,
} from './lib/harness.js';

const ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000);
const THREADS = (process.env.BENCH_THREADS ?? '2,4').split(',').map(Number);
/** The --copy-order values timed at each thread count (issue 14); default asc only, as before. */
const ORDERS = (process.env.BENCH_COPY_ORDERS ?? 'asc').split(',').map((o) => o.trim());
const RSS_LIMIT_MB = 300;
const DUMP_RATIO_TARGET = 1.5;

function sh(script: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', `set -euo pipefail; ${script}`], { stdio: ['ignore', 'ignore', 'inherit'] });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(0) : reject(new Error(`command failed (${code}): ${script}`))));
  });
}

interface Measured {
  readonly what: string;
  readonly ms: number;
  readonly rowsPerSecond: number;
  readonly peakRssMb?: number;
  readonly cpuS?: number;
  readonly threads?: number;
  readonly order?: string;
}

async function main(): Promise<void> {
  buildTributary();
  const loadBefore = warnIfBusy();
  log(`starting source and target MariaDB`);
  const [source, target] = await Promise.all([startMariaDb({ serverId: 1 }), startMariaDb({ serverId: 2 })]);
  const src = await connect(source.url());
  const dst = await connect(target.url());
  const results: Measured[] = [];
  const profiles: Record<string, ProfileSummary> = {};
  try {
    const version = String((await queryRows(src, 'SELECT VERSION() AS v'))[0]?.v);
    log(`generating ${ROWS} rows on the source (${version})`);
    let t0 = performance.now();
    // The copy does not read the binlog: keep the generation out of it.
    await src.query('SET SESSION sql_log_bin = 0; CREATE DATABASE bench; USE bench');
    await src.query(TABLE_DDL);
    await generateRows(src, 1, ROWS);
    await src.query('SET SESSION sql_log_bin = 1; ANALYZE TABLE t');
    log(`generated in ${seconds(performance.now() - t0)} s`);
    const expected = await fingerprint(src, 'bench');

    const verify = async (db: string) => {
      const got = await fingerprint(dst, db);
      if (got !== expected) throw new Error(`${db}: target fingerprint ${got} differs from the source's ${expected}`);
    };
    // A fresh database per measurement; the previous one is dropped so each starts from the same state.
    const fresh = async (db: string) => {
      await dst.query(`CREATE DATABASE \`${db}\``);
    };
    const drop = async (db: string) => {
      await dst.query(`DROP DATABASE \`${db}\``);
    };

    // (a) LOAD DATA LOCAL INFILE: the file is written by the source server, only the load is timed.
    const outfile = join(source.dir, 'bench-t.tsv');
    await src.query(`SELECT * FROM bench.t ORDER BY id INTO OUTFILE ${src.escape(outfile)}`);
    await fresh('anchor_load');
    await dst.query(`USE anchor_load`);
    await dst.query(TABLE_DDL);
    log('anchor: LOAD DATA LOCAL INFILE');
    t0 = performance.now();
    await dst.query({
      sql: `LOAD DATA LOCAL INFILE 'bench-t.tsv' INTO TABLE anchor_load.t CHARACTER SET utf8mb4`,
      infileStreamFactory: () => createReadStream(outfile, { highWaterMark: 1 << 20 }),
    });
    const loadMs = performance.now() - t0;
    results.push({ what: 'LOAD DATA LOCAL INFILE (mysql2, 1 statement)', ms: loadMs, rowsPerSecond: (ROWS / loadMs) * 1000 });
    await verify('anchor_load');
    await drop('anchor_load');
    rmSync(outfile, { force: true });

    // (b) mariadb-dump | mariadb, end to end.
    await fresh('anchor_dump');
    log('anchor: mariadb-dump --single-transaction --quick | mariadb');
    const conn = (s: Server) => `-h127.0.0.1 -P${s.port} -uroot`;
    t0 = performance.now();
    await sh(`mariadb-dump ${conn(source)} --single-transaction --quick bench t | mariadb ${conn(target)} anchor_dump`);
    const dumpMs = performance.now() - t0;
    results.push({ what: 'mariadb-dump --single-transaction --quick | mariadb', ms: dumpMs, rowsPerSecond: (ROWS / dumpMs) * 1000 });
    await verify('anchor_dump');
    await drop('anchor_dump');

    // (c) tributary sync --copy-only, process start to exit.
    for (const threads of THREADS) for (const order of ORDERS) {
      const db = `trib_t${threads}_${order}`;
      const label = `tributary sync --copy-only --threads ${threads}${order === 'asc' ? '' : ` --copy-order ${order}`}`;
      await fresh(db);
      log(label);
      const run = startTributary(`copy-threads${threads}${order === 'asc' ? '' : `-${order}`}`, [
        'sync',
        '--copy-only',
        '--source',
        source.url('bench'),
        '--target',
        target.url(db),
        '--threads',
        String(threads),
        '--copy-order',
        order,
        '--progress',
        'none',
        ...(process.env.BENCH_TRIBUTARY_ARGS ?? '').split(' ').filter(Boolean),
      ]);
      const r: TributaryExit = await run.exited;
      assertClean(`copy --threads ${threads} --copy-order ${order}`, r);
      results.push({
        what: label,
        ms: r.wallMs,
        rowsPerSecond: (ROWS / r.wallMs) * 1000,
        peakRssMb: r.peakRssMb,
        cpuS: r.userCpuS + r.systemCpuS,
        threads,
        order,
      });
      if (r.profile) profiles[`threads${threads}${order === 'asc' ? '' : `-${order}`}`] = r.profile;
      await verify(db);
      await drop(db);
    }

    const load = results[0] as Measured;
    const dump = results[1] as Measured;
    const tribs = results.slice(2);
    printTable(
      `\ncopy: ${ROWS.toLocaleString('en')} rows × 10 columns, ${version} → same, ${machine().cpus} cores`,
      [
        ['what', 'seconds', 'rows/s', 'peak RSS', 'CPU s', '÷ dump', '÷ LOAD DATA'],
        ...results.map((m) => [
          m.what,
          seconds(m.ms),
          perSecond(m.rowsPerSecond),
          m.peakRssMb === undefined ? '' : `${m.peakRssMb.toFixed(0)} MB`,
          m.cpuS === undefined ? '' : m.cpuS.toFixed(1),
          ratio(m.rowsPerSecond, dump.rowsPerSecond),
          ratio(m.rowsPerSecond, load.rowsPerSecond),
        ]),
      ],
    );
    for (const t of tribs) {
      const vsDump = t.rowsPerSecond / dump.rowsPerSecond;
      const rssOk = (t.peakRssMb ?? Infinity) <= RSS_LIMIT_MB;
      process.stdout.write(
        `threads ${t.threads}${t.order === 'desc' ? ' desc' : ''}: copy ${vsDump.toFixed(2)}× dump|mariadb (target ≥ ${DUMP_RATIO_TARGET}×: ${vsDump >= DUMP_RATIO_TARGET ? 'met' : 'NOT met'}), ` +
          `peak RSS ${t.peakRssMb?.toFixed(0)} MB (target ≤ ${RSS_LIMIT_MB} MB: ${rssOk ? 'met' : 'NOT met'})\n`,
      );
    }
    for (const [k, p] of Object.entries(profiles)) printProfile(`tributary copy ${k}`, p);
    const file = writeResult('copy', {
      benchmark: 'copy',
      date: new Date().toISOString(),
      machine: { ...machine(), loadAverageBefore1m: loadBefore },
      server: version,
      rows: ROWS,
      columns: 10,
      anchors: { loadData: load, dump },
      tributary: tribs,
      ratios: Object.fromEntries(
        tribs.map((t) => [`threads${t.threads}${t.order === 'desc' ? '-desc' : ''}`, { vsDump: t.rowsPerSecond / dump.rowsPerSecond, vsLoadData: t.rowsPerSecond / load.rowsPerSecond }]),
      ),
      targets: {
        vsDump: DUMP_RATIO_TARGET,
        peakRssMb: RSS_LIMIT_MB,
        met: targetsMet(tribs, dump.rowsPerSecond, DUMP_RATIO_TARGET, RSS_LIMIT_MB),
      },
      ...(Object.keys(profiles).length ? { profiles } : {}),
    });
    log(`wrote ${file}`);
  } finally {
    await src.end().catch(() => undefined);
    await dst.end().catch(() => undefined);
    await Promise.all([source.stop(), target.stop()]);
  }
}

await main();
