/**
 * Checksum throughput: `tributary verify` of a 1,000,000-row × 10-column table whose source and
 * target hold the same rows, measured in the same run beside the engines' own table checksums:
 *
 *   MariaDB → MariaDB:
 *     (a) `CHECKSUM TABLE t` (anchor), on the source alone and on both servers at once;
 *     (b) `tributary verify`, end to end (process start to exit), with its peak RSS.
 *   PostgreSQL → PostgreSQL:
 *     (a) `SELECT md5(string_agg(t::text, '' ORDER BY id)) FROM t` (anchor), likewise;
 *     (b) `tributary verify`.
 *   MariaDB → PostgreSQL (the same MariaDB table copied by `tributary sync --copy-only`):
 *     `tributary verify` across engines: chunks digested by both servers in comparable forms
 *     (core/comparable.ts), read and normalised where they differ (no engine has an anchor for
 *     it; the issue's goal is ≥ 200k rows/s).
 *
 * verify reads both servers (each chunk of the source and of the target), so the anchor it is
 * compared with is the one run on both servers at once; the single-server figure is printed too.
 * Every verify must exit 0 (the tables are equal). Rows/s = rows of the table / wall seconds.
 *
 *   node --import tsx bench/checksum.ts        (BENCH_ROWS=… to change the size, BENCH_THREADS=2,4,
 *                                               BENCH_PROFILE=1 to profile)
 */
import { spawn } from 'node:child_process';
import pg from 'pg';
import { startMariaDb, startPostgres, type Server } from '../src/testing/servers.js';
import {
  assertClean,
  buildTributary,
  connect,
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
  PG_ROW_SELECT,
  PG_TABLE_DDL,
  TABLE_DDL,
  writeResult,
  type ProfileSummary,
  warnIfBusy,
} from './lib/harness.js';

const ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000);
const THREADS = (process.env.BENCH_THREADS ?? '4').split(',').map(Number);
/** Which pairs to measure (BENCH_PAIRS=mysql,postgres,cross; default all three). */
const PAIRS = new Set((process.env.BENCH_PAIRS ?? 'mysql,postgres,cross').split(','));

interface Measured {
  readonly pair: string;
  readonly what: string;
  readonly ms: number;
  readonly rowsPerSecond: number;
  readonly peakRssMb?: number;
  readonly cpuS?: number;
  readonly threads?: number;
  /** Rows/s of the same pair's anchor on both servers at once, for the ratio. */
  readonly anchorRowsPerSecond?: number;
}

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await fn();
  return { ms: performance.now() - t0, value };
}

async function pgClient(server: Server, db: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: server.url(db) });
  await c.connect();
  return c;
}

/**
 * Percona's `pt-table-checksum` over the table on one server: its chunked CRC32/BIT_XOR checksums,
 * written into `percona.checksums` (no replicas: `--recursion-method none`; the replicas of a real
 * deployment recompute each chunk from the binlog at the same time). Resolves with the wall time;
 * rejects unless it exits 0 having checksummed every row of the table.
 */
function ptTableChecksum(server: Server): Promise<number> {
  const u = new URL(server.url('bench'));
  const args = [
    `--host=${u.hostname}`,
    `--port=${u.port}`,
    `--user=${decodeURIComponent(u.username)}`,
    ...(u.password ? [`--password=${decodeURIComponent(u.password)}`] : []),
    '--databases=bench',
    '--tables=t',
    '--recursion-method=none',
    '--no-check-binlog-format',
    '--no-check-replication-filters',
    '--no-version-check',
    '--replicate=percona.checksums',
    '--create-replicate-table',
  ];
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn('pt-table-checksum', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      const ms = performance.now() - t0;
      // TS ERRORS DIFFS ROWS DIFF_ROWS CHUNKS SKIPPED TIME TABLE
      const line = out.split('\n').find((l) => /\sbench\.t\s*$/.test(l));
      const rows = line ? Number(line.trim().split(/\s+/)[3]) : NaN;
      if (code !== 0 || rows !== ROWS) reject(new Error(`pt-table-checksum exited ${code} having checksummed ${rows} rows:\n${out}`));
      else resolve(ms);
    });
  });
}

async function verifyRuns(pair: string, label: string, source: string, target: string, anchorBoth: number, profiles: Record<string, ProfileSummary>): Promise<Measured[]> {
  const out: Measured[] = [];
  for (const threads of THREADS) {
    log(`tributary verify ${pair} --threads ${threads}`);
    const run = startTributary(`checksum-${label}-threads${threads}`, ['verify', '--source', source, '--target', target, '--threads', String(threads), '--log-level', 'warn']);
    const r = await run.exited;
    assertClean(`verify ${pair}`, r);
    out.push({
      pair,
      what: `tributary verify --threads ${threads}`,
      ms: r.wallMs,
      rowsPerSecond: (ROWS / r.wallMs) * 1000,
      peakRssMb: r.peakRssMb,
      cpuS: r.userCpuS + r.systemCpuS,
      threads,
      anchorRowsPerSecond: anchorBoth,
    });
    if (r.profile) profiles[`${label}-threads${threads}`] = r.profile;
  }
  return out;
}

async function main(): Promise<void> {
  buildTributary();
  const loadBefore = warnIfBusy();
  log('starting two MariaDB and two PostgreSQL servers');
  const [mySrc, myDst, pgSrc, pgDst] = await Promise.all([startMariaDb({ serverId: 1 }), startMariaDb({ serverId: 2 }), startPostgres(), startPostgres()]);
  const results: Measured[] = [];
  const profiles: Record<string, ProfileSummary> = {};
  let myVersion = '?';
  let pgVersion = '?';
  try {
    // The same deterministic rows on both servers of each pair, generated by each server.
    log(`generating ${ROWS} rows on each server`);
    const t0 = performance.now();
    const mysqlSide = async (s: Server) => {
      const c = await connect(s.url());
      await c.query('SET SESSION sql_log_bin = 0; CREATE DATABASE bench; USE bench');
      await c.query(TABLE_DDL);
      await generateRows(c, 1, ROWS);
      await c.query('ANALYZE TABLE t');
      myVersion = String((await queryRows(c, 'SELECT VERSION() AS v'))[0]?.v);
      await c.end();
    };
    const pgSide = async (s: Server) => {
      const admin = await pgClient(s, 'postgres');
      await admin.query('CREATE DATABASE bench');
      await admin.end();
      const c = await pgClient(s, 'bench');
      await c.query(PG_TABLE_DDL);
      for (let a = 1; a <= ROWS; a += 250_000) {
        await c.query(`INSERT INTO t SELECT ${PG_ROW_SELECT} FROM generate_series(${a}::bigint, ${Math.min(ROWS, a + 249_999)}::bigint) s`);
      }
      await c.query('VACUUM ANALYZE t');
      pgVersion = (await c.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]?.v ?? '?';
      await c.end();
    };
    const mysqlNeeded = PAIRS.has('mysql') || PAIRS.has('cross');
    const pgNeeded = PAIRS.has('postgres') || PAIRS.has('cross');
    await Promise.all([...(mysqlNeeded ? [mysqlSide(mySrc), mysqlSide(myDst)] : []), ...(pgNeeded ? [pgSide(pgSrc), pgSide(pgDst)] : [])]);
    log(`generated in ${seconds(performance.now() - t0)} s`);

    // MariaDB → MariaDB.
    if (PAIRS.has('mysql')) {
      const pair = 'MariaDB → MariaDB';
      const [a, b] = [await connect(mySrc.url('bench')), await connect(myDst.url('bench'))];
      const checksum = async (c: typeof a) => String((await queryRows(c, 'CHECKSUM TABLE t'))[0]?.Checksum);
      await checksum(a); // warm the buffer pool as verify's reads will find it
      log('anchor: CHECKSUM TABLE t (source alone, then both servers at once)');
      const one = await timed(() => checksum(a));
      const both = await timed(() => Promise.all([checksum(a), checksum(b)]));
      if (both.value[0] !== both.value[1]) throw new Error(`CHECKSUM TABLE differs: ${both.value.join(' vs ')}`);
      await a.end();
      await b.end();
      const bothRps = (ROWS / both.ms) * 1000;
      results.push({ pair, what: 'CHECKSUM TABLE t, source only', ms: one.ms, rowsPerSecond: (ROWS / one.ms) * 1000 });
      results.push({ pair, what: 'CHECKSUM TABLE t, both servers at once', ms: both.ms, rowsPerSecond: bothRps });
      // The anchor: Percona's pt-table-checksum (chunked, in the server, as verify is).
      log('anchor: pt-table-checksum (source alone, then both servers at once)');
      const ptOne = await ptTableChecksum(mySrc);
      const ptBoth = Math.max(...(await Promise.all([ptTableChecksum(mySrc), ptTableChecksum(myDst)])));
      const ptBothRps = (ROWS / ptBoth) * 1000;
      results.push({ pair, what: 'pt-table-checksum, source only', ms: ptOne, rowsPerSecond: (ROWS / ptOne) * 1000 });
      results.push({ pair, what: 'pt-table-checksum, both servers at once', ms: ptBoth, rowsPerSecond: ptBothRps });
      const runs = await verifyRuns(pair, 'mysql-mysql', mySrc.url('bench'), myDst.url('bench'), bothRps, profiles);
      results.push(...runs);
      for (const r of runs) results.push({ ...r, what: `${r.what} ÷ pt-table-checksum`, anchorRowsPerSecond: ptBothRps });
    }

    // PostgreSQL → PostgreSQL.
    if (PAIRS.has('postgres')) {
      const pair = 'PostgreSQL → PostgreSQL';
      const [a, b] = [await pgClient(pgSrc, 'bench'), await pgClient(pgDst, 'bench')];
      const md5 = async (c: pg.Client) => (await c.query<{ h: string }>("SELECT md5(string_agg(t::text, '' ORDER BY id)) AS h FROM t")).rows[0]?.h ?? '';
      await md5(a);
      log("anchor: md5(string_agg(t::text, '' ORDER BY id)) (source alone, then both servers at once)");
      const one = await timed(() => md5(a));
      const both = await timed(() => Promise.all([md5(a), md5(b)]));
      if (both.value[0] !== both.value[1]) throw new Error(`md5(string_agg) differs: ${both.value.join(' vs ')}`);
      await a.end();
      await b.end();
      const bothRps = (ROWS / both.ms) * 1000;
      results.push({ pair, what: "md5(string_agg(t::text, '' ORDER BY id)), source only", ms: one.ms, rowsPerSecond: (ROWS / one.ms) * 1000 });
      results.push({ pair, what: 'md5(string_agg(…)), both servers at once', ms: both.ms, rowsPerSecond: bothRps });
      results.push(...(await verifyRuns(pair, 'postgres-postgres', pgSrc.url('bench'), pgDst.url('bench'), bothRps, profiles)));
    }

    // MariaDB → PostgreSQL: the MariaDB table copied into a fresh PostgreSQL database first.
    if (PAIRS.has('cross')) {
      const pair = 'MariaDB → PostgreSQL';
      const admin = await pgClient(pgDst, 'postgres');
      await admin.query('CREATE DATABASE frommysql');
      await admin.end();
      log('copying the MariaDB table into PostgreSQL (tributary sync --copy-only, not timed)');
      const copy = await startTributary('checksum-mysql-pg-copy', ['sync', '--copy-only', '--source', mySrc.url('bench'), '--target', pgDst.url('frommysql'), '--progress', 'none']).exited;
      assertClean('copy MariaDB → PostgreSQL', copy);
      const mysqlAnchor = results.find((r) => r.what === 'CHECKSUM TABLE t, both servers at once')?.rowsPerSecond ?? NaN;
      results.push(...(await verifyRuns(pair, 'mysql-postgres', mySrc.url('bench'), pgDst.url('frommysql'), mysqlAnchor, profiles)));
    }

    printTable(`\nchecksum: ${ROWS.toLocaleString('en')} rows × 10 columns; ${myVersion}, PostgreSQL ${pgVersion}; ${machine().cpus} cores`, [
      ['pair', 'what', 'seconds', 'rows/s', 'peak RSS', 'CPU s', '÷ anchor (both servers)'],
      ...results.map((m) => [
        m.pair,
        m.what,
        seconds(m.ms),
        perSecond(m.rowsPerSecond),
        m.peakRssMb === undefined ? '' : `${m.peakRssMb.toFixed(0)} MB`,
        m.cpuS === undefined ? '' : m.cpuS.toFixed(1),
        m.anchorRowsPerSecond === undefined ? '' : ratio(m.rowsPerSecond, m.anchorRowsPerSecond),
      ]),
    ]);
    process.stdout.write('(MariaDB → PostgreSQL has no anchor of its own: its ratio is against CHECKSUM TABLE on both MariaDB servers.)\n');
    const cross = results.filter((r) => r.pair === 'MariaDB → PostgreSQL');
    if (cross.length) {
      const best = Math.max(...cross.map((r) => r.rowsPerSecond));
      process.stdout.write(`cross-engine verify ${perSecond(best)} rows/s (target ≥ 200k: ${best >= 200_000 ? 'met' : 'NOT met'})\n`);
    }
    for (const [k, p] of Object.entries(profiles)) printProfile(`tributary verify ${k}`, p);
    const file = writeResult('checksum', {
      benchmark: 'checksum',
      date: new Date().toISOString(),
      machine: { ...machine(), loadAverageBefore1m: loadBefore },
      servers: { mariadb: myVersion, postgres: pgVersion },
      rows: ROWS,
      columns: 10,
      results,
      ...(Object.keys(profiles).length ? { profiles } : {}),
    });
    log(`wrote ${file}`);
  } finally {
    await Promise.all([mySrc.stop(), myDst.stop(), pgSrc.stop(), pgDst.stop()]);
  }
}

await main();
