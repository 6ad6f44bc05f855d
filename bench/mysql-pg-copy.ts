/**
 * Initial copy MySQL → PostgreSQL: 1,000,000 rows × 10 columns (bench/copy.ts's table) from a
 * throwaway MariaDB into a throwaway PostgreSQL, measured in the same run against the anchor, each
 * into a fresh empty database on the same target server:
 *
 *   (a) pgloader (Debian package), `pgloader mysql://…/bench postgresql://…/db` with its defaults
 *       (schema, data, then indexes), timed end to end, with its peak RSS;
 *   (b) `tributary sync --copy-only`, timed end to end (process start to exit), with its peak RSS,
 *       at --threads 2 and 4. The source renders each row as its COPY text line
 *       (src/engines/mysql/load.ts pgCopySelect); the log confirms the fast path was taken;
 *   (c) the same at the highest thread count through canonical values (a no-op --column-types
 *       override makes the target decline the fast path), to show what the fast path gains under
 *       the same machine load.
 *
 * Every copy is checked against the source by an engine-neutral fingerprint of all ten columns.
 * Target (the issue): tributary ≥ 1.5× pgloader, peak RSS ≤ 300 MB.
 *
 *   node --import tsx bench/mysql-pg-copy.ts   (BENCH_ROWS=… to change the size, BENCH_PROFILE=1 to profile)
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { startMariaDb, startPostgres } from '../src/testing/servers.js';
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
  RESULTS,
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
const RSS_LIMIT_MB = 300;
const PGLOADER_RATIO_TARGET = 1.5;

interface Measured {
  readonly what: string;
  readonly ms: number;
  readonly rowsPerSecond: number;
  readonly peakRssMb?: number;
  readonly cpuS?: number;
  readonly threads?: number;
  /** True for the run through canonical values (fast path declined). */
  readonly canonical?: boolean;
}

/**
 * Sums both engines compute exactly alike: integers and decimals summed, strings by length and a
 * 32-bit slice of their MD5, the DATETIME(6) in microseconds, the DOUBLE scaled and floored, the
 * DATE in days, NULLs counted. Equal iff the copies are (very likely) equal.
 */
const MYSQL_FINGERPRINT = `SELECT CONCAT_WS('/', COUNT(*), SUM(id), SUM(qty), SUM(price), SUM(flag),
    SUM(CAST(CONV(LEFT(MD5(name), 8), 16, 10) AS UNSIGNED)), SUM(CHAR_LENGTH(name)),
    SUM(TIMESTAMPDIFF(MICROSECOND, '2020-01-01', created)),
    COUNT(score), SUM(FLOOR(score * 1000)),
    COUNT(note), SUM(CAST(CONV(LEFT(MD5(note), 8), 16, 10) AS UNSIGNED)), SUM(CHAR_LENGTH(note)),
    SUM(CAST(CONV(LEFT(MD5(code), 8), 16, 10) AS UNSIGNED)), COUNT(day), SUM(DATEDIFF(day, '2000-01-01'))) AS f FROM bench.t`;

function pgFingerprint(table: string): string {
  const h = (c: string) => `sum(('x' || left(md5(${c}), 8))::bit(32)::bigint)`;
  return `SELECT concat_ws('/', count(*), sum(id), sum(qty), sum(price), sum(flag),
    ${h('name')}, sum(char_length(name)),
    sum((extract(epoch FROM created - timestamp '2020-01-01') * 1000000)::bigint),
    count(score), sum(floor(score * 1000)),
    count(note), ${h('note')}, sum(char_length(note)),
    ${h('code')}, count(day), sum(day - date '2000-01-01')) AS f FROM ${table}`;
}

interface TimedExit {
  readonly code: number;
  readonly wallMs: number;
  readonly peakRssMb: number;
  readonly cpuS: number;
}

/** Runs a command under /usr/bin/time -v (for its peak RSS), its output to bench/results/<label>.log. */
function timed(label: string, argv: readonly string[]): Promise<TimedExit> {
  mkdirSync(RESULTS, { recursive: true });
  const logFile = join(RESULTS, `${label}.log`);
  const timeFile = join(RESULTS, `${label}.time`);
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/time', ['-v', '-o', timeFile, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => out.push(b));
    child.on('error', reject);
    child.on('exit', (code) => {
      const wallMs = performance.now() - started;
      writeFileSync(logFile, Buffer.concat(out));
      const t = existsSync(timeFile) ? readFileSync(timeFile, 'utf8') : '';
      const num = (re: RegExp) => Number(re.exec(t)?.[1] ?? NaN);
      const status = num(/Exit status: (\d+)/);
      resolve({
        code: Number.isNaN(status) ? (code ?? -1) : status,
        wallMs,
        peakRssMb: num(/Maximum resident set size \(kbytes\): (\d+)/) / 1024,
        cpuS: num(/User time \(seconds\): ([\d.]+)/) + num(/System time \(seconds\): ([\d.]+)/),
      });
    });
  });
}

/** Chunks the tributary log says the source rendered itself, and chunks it handed to the canonical path. */
function fastPathSeen(logFile: string): { renders: boolean; canonicalChunks: number } {
  let renders = false;
  let canonicalChunks = 0;
  for (const line of readFileSync(logFile, 'utf8').split('\n')) {
    if (line.includes('the source renders chunks in the target format')) renders = true;
    if (line.includes('copying it as canonical values')) canonicalChunks++;
  }
  return { renders, canonicalChunks };
}

async function main(): Promise<void> {
  buildTributary();
  try {
    execFileSync('pgloader', ['--version'], { stdio: 'ignore' });
  } catch {
    throw new Error('pgloader is not installed: apt-get install -y pgloader (scripts/bench.sh does it)');
  }
  const loadBefore = warnIfBusy();
  log('starting a MariaDB source and a PostgreSQL target');
  const [source, target] = await Promise.all([startMariaDb({ serverId: 1 }), startPostgres()]);
  const src = await connect(source.url());
  const admin = new pg.Client({ connectionString: target.url('postgres') });
  await admin.connect();
  const results: Measured[] = [];
  const profiles: Record<string, ProfileSummary> = {};
  const pgVersion = String((await admin.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]?.v);
  try {
    const version = String((await queryRows(src, 'SELECT VERSION() AS v'))[0]?.v);
    log(`generating ${ROWS} rows on the source (${version})`);
    const t0 = performance.now();
    await src.query('SET SESSION sql_log_bin = 0; CREATE DATABASE bench; USE bench');
    await src.query(TABLE_DDL);
    await generateRows(src, 1, ROWS);
    await src.query('SET SESSION sql_log_bin = 1; ANALYZE TABLE t');
    log(`generated in ${seconds(performance.now() - t0)} s`);
    const expected = String((await queryRows(src, MYSQL_FINGERPRINT))[0]?.f);

    const onTarget = async <T>(db: string, fn: (c: pg.Client) => Promise<T>): Promise<T> => {
      const c = new pg.Client({ connectionString: target.url(db) });
      await c.connect();
      try {
        return await fn(c);
      } finally {
        await c.end();
      }
    };
    const verify = async (db: string, table: string) => {
      const got = await onTarget(db, async (c) => String((await c.query<{ f: string }>(pgFingerprint(table))).rows[0]?.f));
      if (got !== expected) throw new Error(`${db}: target fingerprint ${got} differs from the source's ${expected}`);
    };
    const fresh = (db: string) => admin.query(`CREATE DATABASE "${db}"`);
    const drop = (db: string) => admin.query(`DROP DATABASE "${db}"`);

    // (a) pgloader, end to end; it creates the schema (named after the MySQL database) itself.
    await fresh('anchor_pgloader');
    log('anchor: pgloader');
    const pgl = await timed('mysql-pg-copy-pgloader', ['pgloader', '--no-ssl-cert-verification', source.url('bench'), target.url('anchor_pgloader').replace(/^postgres:/, 'postgresql:')]);
    if (pgl.code !== 0) throw new Error(`pgloader exited with ${pgl.code}; see bench/results/mysql-pg-copy-pgloader.log`);
    results.push({ what: 'pgloader (defaults)', ms: pgl.wallMs, rowsPerSecond: (ROWS / pgl.wallMs) * 1000, peakRssMb: pgl.peakRssMb, cpuS: pgl.cpuS });
    await verify('anchor_pgloader', 'bench.t');
    await drop('anchor_pgloader');

    // (b) tributary sync --copy-only, process start to exit; (c) once more through canonical values.
    const runs = [...THREADS.map((threads) => ({ threads, canonical: false })), { threads: Math.max(...THREADS), canonical: true }];
    for (const { threads, canonical } of runs) {
      const db = `trib_t${threads}${canonical ? '_canonical' : ''}`;
      await fresh(db);
      log(`tributary sync --copy-only --threads ${threads}${canonical ? ' (canonical values)' : ''}`);
      const run = startTributary(`mysql-pg-copy-${canonical ? 'canonical-' : ''}threads${threads}`, [
        'sync',
        '--copy-only',
        '--source',
        source.url('bench'),
        '--target',
        target.url(db),
        '--threads',
        String(threads),
        '--progress',
        'none',
        '--log-level',
        'debug',
        // The override names the type the map gives anyway: only the fast path changes.
        ...(canonical ? ['--column-types', 't.flag=smallint'] : []),
      ]);
      const r: TributaryExit = await run.exited;
      assertClean(`copy --threads ${threads}`, r);
      const seen = fastPathSeen(r.logFile);
      if (canonical ? seen.renders : !seen.renders || seen.canonicalChunks > 0) {
        throw new Error(`threads ${threads}: the COPY text fast path was ${canonical ? '' : 'not '}taken (${JSON.stringify(seen)}); see ${r.logFile}`);
      }
      results.push({
        what: `tributary sync --copy-only --threads ${threads}${canonical ? ', canonical values' : ''}`,
        canonical,
        ms: r.wallMs,
        rowsPerSecond: (ROWS / r.wallMs) * 1000,
        peakRssMb: r.peakRssMb,
        cpuS: r.userCpuS + r.systemCpuS,
        threads,
      });
      if (r.profile) profiles[`${canonical ? 'canonical-' : ''}threads${threads}`] = r.profile;
      await verify(db, 't');
      await drop(db);
    }

    const anchor = results[0] as Measured;
    const tribs = results.slice(1).filter((m) => !m.canonical);
    const canonicalRun = results.find((m) => m.canonical);
    printTable(`\nMySQL → PostgreSQL copy: ${ROWS.toLocaleString('en')} rows × 10 columns, ${version} → PostgreSQL ${pgVersion}, ${machine().cpus} cores`, [
      ['what', 'seconds', 'rows/s', 'peak RSS', 'CPU s', '÷ pgloader', '÷ canonical'],
      ...results.map((m) => [
        m.what,
        seconds(m.ms),
        perSecond(m.rowsPerSecond),
        m.peakRssMb === undefined ? '' : `${m.peakRssMb.toFixed(0)} MB`,
        m.cpuS === undefined ? '' : m.cpuS.toFixed(1),
        ratio(m.rowsPerSecond, anchor.rowsPerSecond),
        canonicalRun && m.threads !== undefined ? ratio(m.rowsPerSecond, canonicalRun.rowsPerSecond) : '',
      ]),
    ]);
    for (const t of tribs) {
      const vs = t.rowsPerSecond / anchor.rowsPerSecond;
      const rssOk = (t.peakRssMb ?? Infinity) <= RSS_LIMIT_MB;
      process.stdout.write(
        `threads ${t.threads}: copy ${vs.toFixed(2)}× pgloader (target ≥ ${PGLOADER_RATIO_TARGET}×: ${vs >= PGLOADER_RATIO_TARGET ? 'met' : 'NOT met'}), ` +
          `peak RSS ${t.peakRssMb?.toFixed(0)} MB (target ≤ ${RSS_LIMIT_MB} MB: ${rssOk ? 'met' : 'NOT met'})\n`,
      );
    }
    for (const [k, p] of Object.entries(profiles)) printProfile(`tributary copy ${k}`, p);
    const file = writeResult('mysql-pg-copy', {
      benchmark: 'mysql-pg-copy',
      date: new Date().toISOString(),
      machine: { ...machine(), loadAverageBefore1m: loadBefore },
      source: version,
      target: `PostgreSQL ${pgVersion}`,
      rows: ROWS,
      columns: 10,
      anchors: { pgloader: anchor },
      tributary: tribs,
      ...(canonicalRun ? { canonical: canonicalRun } : {}),
      ratios: Object.fromEntries(
        tribs.map((t) => [
          `threads${t.threads}`,
          { vsPgloader: t.rowsPerSecond / anchor.rowsPerSecond, ...(canonicalRun ? { vsCanonical: t.rowsPerSecond / canonicalRun.rowsPerSecond } : {}) },
        ]),
      ),
      targets: {
        vsPgloader: PGLOADER_RATIO_TARGET,
        peakRssMb: RSS_LIMIT_MB,
        met: targetsMet(tribs, anchor.rowsPerSecond, PGLOADER_RATIO_TARGET, RSS_LIMIT_MB),
      },
      ...(Object.keys(profiles).length ? { profiles } : {}),
    });
    log(`wrote ${file}`);
  } finally {
    await src.end().catch(() => undefined);
    await admin.end().catch(() => undefined);
    await Promise.all([source.stop(), target.stop()]);
  }
}

await main();
