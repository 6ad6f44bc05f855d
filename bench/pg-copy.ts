/**
 * Initial copy PostgreSQL → PostgreSQL: 1,000,000 rows × 10 columns from one throwaway PostgreSQL
 * to another, measured in the same run against the anchor, each into a fresh database on the same
 * target server (the table created beforehand, outside the timing):
 *
 *   (a) `pg_dump --data-only -t t source | psql target`, timed end to end (one COPY out, one in);
 *   (b) `tributary sync --copy-only`, timed end to end (process start to exit: slot with exported
 *       snapshot, chunked COPY (SELECT …) TO STDOUT loaded as it is, checkpoints), with its peak
 *       RSS, at --threads 2 and 4.
 *
 * Every copy is checked against the source by a count and a hash sum over every row's text.
 * Target (issue 3): tributary ≥ 1.0× pg_dump | psql, peak RSS ≤ 300 MB.
 *
 *   node --import tsx bench/pg-copy.ts         (BENCH_ROWS=… to change the size, BENCH_PROFILE=1 to profile)
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { pgBin, startPostgres, type Server } from '../src/testing/servers.js';
import {
  assertClean,
  buildTributary,
  log,
  machine,
  perSecond,
  printProfile,
  printTable,
  ratio,
  seconds,
  startTributary,
  PG_ROW_SELECT,
  PG_TABLE_DDL,
  targetsMet,
  writeResult,
  type ProfileSummary,
  type TributaryExit,
  warnIfBusy,
} from './lib/harness.js';

const ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000);
const THREADS = (process.env.BENCH_THREADS ?? '2,4').split(',').map(Number);
const RSS_LIMIT_MB = 300;
const DUMP_RATIO_TARGET = 1.0;


function sh(script: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', `set -euo pipefail; ${script}`], { stdio: ['ignore', 'ignore', 'inherit'] });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(0) : reject(new Error(`command failed (${code}): ${script}`))));
  });
}

async function client(server: Server, db: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: server.url(db), options: '-c TimeZone=UTC -c extra_float_digits=1' });
  await c.connect();
  return c;
}

/** Count and a sum of 64-bit hashes of every row's text: equal iff the rows are (very likely) equal. */
async function fingerprint(c: pg.Client): Promise<string> {
  const r = await c.query<{ n: string; s: string }>('SELECT count(*)::text AS n, COALESCE(sum(hashtextextended(t::text, 0)::numeric), 0)::text AS s FROM t');
  return `${r.rows[0]?.n}/${r.rows[0]?.s}`;
}

/**
 * CPU seconds a server has used so far: the postmaster's own and its exited backends' (which the
 * postmaster reaps, so they add to its cutime/cstime). Read once every connection has closed.
 */
function serverCpuS(server: Server): number {
  const stat = readFileSync(`/proc/${server.pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number);
  // Fields 14-17 of stat (utime, stime, cutime, cstime), here 0-based after the command name.
  return ((f[11] ?? 0) + (f[12] ?? 0) + (f[13] ?? 0) + (f[14] ?? 0)) / 100;
}

async function settle(): Promise<void> {
  // Backends exit right after their client disconnects; give the postmaster a moment to reap them.
  await new Promise((r) => setTimeout(r, 300));
}

interface Measured {
  readonly what: string;
  readonly ms: number;
  readonly rowsPerSecond: number;
  readonly peakRssMb?: number;
  readonly cpuS?: number;
  /** CPU seconds of the source and target servers during the run. */
  readonly serverCpuS: { source: number; target: number };
  readonly threads?: number;
}

async function main(): Promise<void> {
  buildTributary();
  const loadBefore = warnIfBusy();
  log('starting source and target PostgreSQL');
  const [source, target] = await Promise.all([startPostgres(), startPostgres()]);
  const admin = await client(target, 'postgres');
  const results: Measured[] = [];
  const profiles: Record<string, ProfileSummary> = {};
  try {
    const srcAdmin = await client(source, 'postgres');
    await srcAdmin.query('CREATE DATABASE bench');
    await srcAdmin.end();
    const src = await client(source, 'bench');
    const version = (await src.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]?.v ?? '?';
    log(`generating ${ROWS} rows on the source (PostgreSQL ${version})`);
    let t0 = performance.now();
    await src.query(PG_TABLE_DDL);
    for (let a = 1; a <= ROWS; a += 250_000) {
      await src.query(`INSERT INTO t SELECT ${PG_ROW_SELECT} FROM generate_series(${a}::bigint, ${Math.min(ROWS, a + 249_999)}::bigint) s`);
    }
    await src.query('VACUUM ANALYZE t');
    log(`generated in ${seconds(performance.now() - t0)} s`);
    const expected = await fingerprint(src);
    await src.end();

    const verify = async (db: string) => {
      const c = await client(target, db);
      try {
        const got = await fingerprint(c);
        if (got !== expected) throw new Error(`${db}: target fingerprint ${got} differs from the source's ${expected}`);
      } finally {
        await c.end();
      }
    };
    const fresh = async (db: string, withTable: boolean) => {
      await admin.query(`CREATE DATABASE ${db}`);
      if (!withTable) return;
      const c = await client(target, db);
      await c.query(PG_TABLE_DDL);
      await c.end();
    };
    const drop = (db: string) => admin.query(`DROP DATABASE ${db}`);

    // (a) pg_dump | psql, end to end, into the table created beforehand (untimed; tributary's own
    // CREATE TABLE is inside its timing, a few milliseconds).
    await fresh('anchor_dump', true);
    log('anchor: pg_dump --data-only -t t | psql');
    const conn = (s: Server, db: string) => `-h 127.0.0.1 -p ${s.port} -U postgres ${db}`;
    await settle();
    let cpu0 = [serverCpuS(source), serverCpuS(target)];
    const serverCpu = async () => {
      await settle();
      return { source: serverCpuS(source) - (cpu0[0] ?? 0), target: serverCpuS(target) - (cpu0[1] ?? 0) };
    };
    t0 = performance.now();
    await sh(`${pgBin('pg_dump')} --data-only -t t ${conn(source, 'bench')} | ${pgBin('psql')} -q -v ON_ERROR_STOP=1 ${conn(target, 'anchor_dump')}`);
    const dumpMs = performance.now() - t0;
    results.push({ what: 'pg_dump --data-only -t t | psql', ms: dumpMs, rowsPerSecond: (ROWS / dumpMs) * 1000, serverCpuS: await serverCpu() });
    await verify('anchor_dump');
    await drop('anchor_dump');

    // (b) tributary sync --copy-only, process start to exit; it creates the table itself.
    for (const threads of THREADS) {
      const db = `trib_t${threads}`;
      await fresh(db, false);
      log(`tributary sync --copy-only --threads ${threads}`);
      await settle();
      cpu0 = [serverCpuS(source), serverCpuS(target)];
      const run = startTributary(`pg-copy-threads${threads}`, [
        'sync',
        '--copy-only',
        '--source',
        source.url('bench'),
        '--target',
        target.url(db),
        '--id',
        `bench_t${threads}`,
        '--threads',
        String(threads),
        '--progress',
        'none',
      ]);
      const r: TributaryExit = await run.exited;
      assertClean(`pg-copy --threads ${threads}`, r);
      results.push({
        what: `tributary sync --copy-only --threads ${threads}`,
        ms: r.wallMs,
        rowsPerSecond: (ROWS / r.wallMs) * 1000,
        peakRssMb: r.peakRssMb,
        cpuS: r.userCpuS + r.systemCpuS,
        serverCpuS: await serverCpu(),
        threads,
      });
      if (r.profile) profiles[`threads${threads}`] = r.profile;
      await verify(db);
      await drop(db);
    }

    const dump = results[0] as Measured;
    const tribs = results.slice(1);
    printTable(`\npg-copy: ${ROWS.toLocaleString('en')} rows × 10 columns, PostgreSQL ${version} → same, ${String(machine().cpus)} cores`, [
      ['what', 'seconds', 'rows/s', 'peak RSS', 'CPU s', 'source CPU s', 'target CPU s', '÷ pg_dump|psql'],
      ...results.map((m) => [
        m.what,
        seconds(m.ms),
        perSecond(m.rowsPerSecond),
        m.peakRssMb === undefined ? '' : `${m.peakRssMb.toFixed(0)} MB`,
        m.cpuS === undefined ? '' : m.cpuS.toFixed(1),
        m.serverCpuS.source.toFixed(1),
        m.serverCpuS.target.toFixed(1),
        ratio(m.rowsPerSecond, dump.rowsPerSecond),
      ]),
    ]);
    for (const t of tribs) {
      const vsDump = t.rowsPerSecond / dump.rowsPerSecond;
      const rssOk = (t.peakRssMb ?? Infinity) <= RSS_LIMIT_MB;
      process.stdout.write(
        `threads ${t.threads}: copy ${vsDump.toFixed(2)}× pg_dump|psql (target ≥ ${DUMP_RATIO_TARGET}×: ${vsDump >= DUMP_RATIO_TARGET ? 'met' : 'NOT met'}), ` +
          `peak RSS ${t.peakRssMb?.toFixed(0)} MB (target ≤ ${RSS_LIMIT_MB} MB: ${rssOk ? 'met' : 'NOT met'})\n`,
      );
    }
    for (const [k, p] of Object.entries(profiles)) printProfile(`tributary pg-copy ${k}`, p);
    const file = writeResult('pg-copy', {
      benchmark: 'pg-copy',
      date: new Date().toISOString(),
      machine: { ...machine(), loadAverageBefore1m: loadBefore },
      server: `PostgreSQL ${version}`,
      rows: ROWS,
      columns: 10,
      anchors: { dump },
      tributary: tribs,
      ratios: Object.fromEntries(tribs.map((t) => [`threads${t.threads}`, { vsDump: t.rowsPerSecond / dump.rowsPerSecond }])),
      targets: {
        vsDump: DUMP_RATIO_TARGET,
        peakRssMb: RSS_LIMIT_MB,
        met: targetsMet(tribs, dump.rowsPerSecond, DUMP_RATIO_TARGET, RSS_LIMIT_MB),
      },
      ...(Object.keys(profiles).length ? { profiles } : {}),
    });
    log(`wrote ${file}`);
  } finally {
    await admin.end().catch(() => undefined);
    await Promise.all([source.stop(), target.stop()]);
  }
}

await main();
