/**
 * Shared plumbing of the benchmarks: the tributary build they run, the CLI as a measured child
 * process (wall time, peak RSS, optional CPU profile), result tables and JSON files.
 *
 * The benchmarks run tributary compiled by tsc (as users run it), built into bench/results/build
 * rather than dist/: bin/tributary.js prefers dist/ when it exists, and a stale dist/ left behind by
 * a benchmark would silently change what the tests run.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import mysql, { type Connection, type RowDataPacket } from 'mysql2/promise';
import pg from 'pg';
import { startPostgres, type Server } from '../../src/testing/servers.js';

export const ROOT = join(import.meta.dirname, '..', '..');
export const RESULTS = join(ROOT, 'bench', 'results');
export const BUILD = join(RESULTS, 'build');
/** BENCH_ENTRY=path/to/entry.mjs runs another build (e.g. a patched one, to compare) instead of this one. */
export const ENTRY = process.env.BENCH_ENTRY ?? join(BUILD, 'tributary.mjs');

/** True when BENCH_PROFILE=1: tributary runs under `node --cpu-prof` and the top self-time functions are printed. */
export const PROFILE = process.env.BENCH_PROFILE === '1';

/** The newest modification time of any file under `dir`. */
function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

/** Compiles src/ with tsconfig.build.json into bench/results/build unless it is up to date. */
export function buildTributary(): void {
  if (process.env.BENCH_ENTRY) return;
  const built = existsSync(ENTRY) ? statSync(ENTRY).mtimeMs : 0;
  if (built > newest(join(ROOT, 'src')) && built > statSync(join(ROOT, 'package-lock.json')).mtimeMs) return;
  mkdirSync(BUILD, { recursive: true });
  log('building tributary (tsc -p tsconfig.build.json) into bench/results/build');
  execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json', '--outDir', BUILD, '--sourceMap', 'false', '--declaration', 'false'], {
    cwd: ROOT,
    stdio: 'inherit',
  });
  // The same entry as bin/tributary.js, pointed at this build.
  writeFileSync(
    ENTRY,
    [
      "import { main } from './cli/main.js';",
      'const code = await main(process.argv.slice(2));',
      'process.exit(code);',
      '',
    ].join('\n'),
  );
}

export function log(msg: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

export function seconds(ms: number): string {
  return (ms / 1000).toFixed(2);
}

/** 123456 → '123.5k'. */
export function perSecond(n: number): string {
  if (!Number.isFinite(n)) return '-';
  return n >= 1000 ? `${(n / 1000).toFixed(1)}k` : n.toFixed(0);
}

export function ratio(a: number, b: number): string {
  return `${(a / b).toFixed(2)}×`;
}

/** Prints rows as an aligned plain-text table (the first row is the header). */
export function printTable(title: string, rows: string[][]): void {
  const widths = (rows[0] ?? []).map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  const out = [title, line(rows[0] ?? []), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)];
  process.stdout.write(out.join('\n') + '\n');
}

export function writeResult(name: string, result: unknown): string {
  mkdirSync(RESULTS, { recursive: true });
  const file = join(RESULTS, `${name}.json`);
  writeFileSync(file, JSON.stringify(result, null, 2) + '\n');
  return file;
}

export function machine(): Record<string, unknown> {
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? '',
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    loadAverage1m: loadavg()[0],
  };
}

/**
 * Other processes competing for the CPUs skew every figure (anchors and tributary alike, but not
 * equally). Warns when the machine was not idle before the benchmark started.
 */
export function warnIfBusy(): number {
  const load = loadavg()[0] ?? 0;
  if (load > 0.7) log(`warning: 1-minute load average is ${load.toFixed(2)} on ${cpus().length} cores before the benchmark; other processes will skew the figures`);
  return load;
}

/** Clock ticks per second of /proc's CPU times (getconf CLK_TCK; 100 on every Linux seen). */
let ticksPerSecond: number | undefined;

/**
 * CPU seconds (user + system) process `pid` has used so far, from /proc/PID/stat: read before and
 * after a phase to charge a server its share of the machine's cores.
 */
export function processCpuSeconds(pid: number): number {
  ticksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
}

/** A throwaway PostgreSQL server with database `db` created, and a client connected to it. */
export async function startPgDatabase(db: string): Promise<{ server: Server; c: pg.Client }> {
  const server = await startPostgres();
  const admin = new pg.Client({ connectionString: server.url('postgres') });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${db}`);
  await admin.end();
  const c = new pg.Client({ connectionString: server.url(db) });
  await c.connect();
  return { server, c };
}

export async function connect(url: string): Promise<Connection> {
  const c = await mysql.createConnection({
    uri: url,
    multipleStatements: true,
    timezone: 'Z',
    dateStrings: true,
    supportBigNumbers: true,
    bigNumberStrings: true,
    flags: ['+LOCAL_FILES'],
  });
  await c.query("SET time_zone = '+00:00'");
  return c;
}

export async function queryRows(c: Connection, sql: string, values: unknown[] = []): Promise<RowDataPacket[]> {
  const [rows] = await c.query<RowDataPacket[]>(sql, values);
  return rows;
}

/** A running tributary CLI under `/usr/bin/time -v`. */
export interface TributaryRun {
  /** The node process (not the time wrapper): signal this one. */
  readonly nodePid: () => number | undefined;
  readonly startedAt: number;
  readonly exited: Promise<TributaryExit>;
  signal(sig: NodeJS.Signals): void;
}

export interface TributaryExit {
  readonly code: number;
  readonly wallMs: number;
  /** Peak resident set size of the node process, in MiB (from getrusage via /usr/bin/time). */
  readonly peakRssMb: number;
  readonly userCpuS: number;
  readonly systemCpuS: number;
  readonly logFile: string;
  readonly profile?: ProfileSummary;
}

/** The pid of `parent`'s first child, from /proc (the kernel may lack /proc/PID/task/PID/children). */
function childOf(parent: number): number | undefined {
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === parent) return Number(e);
    } catch {
      /* gone */
    }
  }
  return undefined;
}

/**
 * Starts `tributary ARGS` from the build, wrapped in `/usr/bin/time -v` for its peak RSS. Its
 * stderr (logs) goes to bench/results/<label>.log. `entry`: another build's tributary.mjs
 * (bench/etcd-ab.ts compares builds in one run); ENTRY by default.
 */
export function startTributary(label: string, args: readonly string[], env: NodeJS.ProcessEnv = {}, entry = ENTRY): TributaryRun {
  mkdirSync(RESULTS, { recursive: true });
  const logFile = join(RESULTS, `${label}.log`);
  const timeFile = join(RESULTS, `${label}.time`);
  const profDir = join(RESULTS, 'profiles', label);
  // For experiments: BENCH_NODE_ARGS='--max-semi-space-size=32' passes node flags to tributary only;
  // BENCH_STDOUT=/tmp/out keeps each run's standard output in /tmp/out-<label> (with BENCH_NODE_ARGS=--trace-gc, its
  // collections, every thread's).
  const nodeArgs = [...(PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : []), ...(process.env.BENCH_NODE_ARGS ?? '').split(/\s+/).filter(Boolean)];
  if (PROFILE) mkdirSync(profDir, { recursive: true });
  // For experiments: BENCH_TRIBUTARY_ARGS='--chunk-time 200ms' adds CLI flags to every run.
  const extra = (process.env.BENCH_TRIBUTARY_ARGS ?? '').split(/\s+/).filter(Boolean);
  const startedAt = performance.now();
  const stdout = process.env.BENCH_STDOUT ? openSync(`${process.env.BENCH_STDOUT}-${label}`, 'w') : 'ignore';
  const child: ChildProcess = spawn('/usr/bin/time', ['-v', '-o', timeFile, process.execPath, ...nodeArgs, entry, ...args, ...extra], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', stdout, 'pipe'],
  });
  if (typeof stdout === 'number') closeSync(stdout);
  const logChunks: Buffer[] = [];
  child.stderr?.on('data', (b: Buffer) => logChunks.push(b));
  let nodePid: number | undefined;
  const findNode = () => (nodePid ??= child.pid === undefined ? undefined : childOf(child.pid));
  const exited = new Promise<TributaryExit>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => {
      const wallMs = performance.now() - startedAt;
      writeFileSync(logFile, Buffer.concat(logChunks));
      const t = existsSync(timeFile) ? readFileSync(timeFile, 'utf8') : '';
      const num = (re: RegExp) => Number(re.exec(t)?.[1] ?? NaN);
      const exitCode = num(/Exit status: (\d+)/);
      resolve({
        code: Number.isNaN(exitCode) ? (code ?? -1) : exitCode,
        wallMs,
        peakRssMb: num(/Maximum resident set size \(kbytes\): (\d+)/) / 1024,
        userCpuS: num(/User time \(seconds\): ([\d.]+)/),
        systemCpuS: num(/System time \(seconds\): ([\d.]+)/),
        logFile,
        ...(PROFILE ? { profile: summariseProfile(profDir) } : {}),
      });
    });
  });
  return {
    nodePid: findNode,
    startedAt,
    exited,
    signal(sig) {
      // GNU time ignores SIGINT/SIGQUIT while it waits, so the signal must reach node itself.
      const pid = findNode();
      if (pid) process.kill(pid, sig);
    },
  };
}

/** Fails with the tail of the CLI's log when it did not exit cleanly. */
export function assertClean(label: string, r: TributaryExit): void {
  if (r.code === 0) return;
  const tail = readFileSync(r.logFile, 'utf8').split('\n').slice(-30).join('\n');
  throw new Error(`${label}: tributary exited with code ${r.code}; log tail:\n${tail}`);
}

export interface ProfileSummary {
  readonly file: string;
  readonly totalMs: number;
  /** Sampled time not idle (the thread's CPU, roughly). */
  readonly busyMs: number;
  readonly top: { readonly fn: string; readonly selfMs: number; readonly pct: number }[];
  /** The process's other threads (a decoding thread, …) with more than 5 % of their time busy, busiest first. */
  readonly others?: readonly ProfileSummary[];
}

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number }[];
  samples: number[];
  timeDeltas: number[];
}

/** Top self-time functions of one .cpuprofile. */
function summariseFile(file: string, top: number): ProfileSummary {
  const prof = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  let total = 0;
  for (let i = 0; i < prof.samples.length; i++) {
    const n = byId.get(prof.samples[i] as number);
    const dt = (prof.timeDeltas[i] ?? 0) / 1000;
    total += dt;
    if (!n) continue;
    const cf = n.callFrame;
    const where = cf.url ? `${cf.url.replace(/^file:\/\//, '').replace(ROOT + '/', '')}:${cf.lineNumber + 1}` : '';
    const key = `${cf.functionName || '(anonymous)'}${where ? ' ' + where : ''}`;
    self.set(key, (self.get(key) ?? 0) + dt);
  }
  const list = [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([fn, ms]) => ({ fn, selfMs: Math.round(ms), pct: Math.round((1000 * ms) / total) / 10 }));
  return { file, totalMs: Math.round(total), busyMs: Math.round(total - (self.get('(idle)') ?? 0)), top: list };
}

/**
 * The profiles of one run in `dir` (node --cpu-prof writes one per thread: the main thread, a
 * decoding thread, the module loader's): the main thread's (thread 0 of the newest process), with
 * the other busy threads beside it.
 */
export function summariseProfile(dir: string, top = 20): ProfileSummary | undefined {
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).sort() : [];
  if (!files.length) return undefined;
  // CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile
  const pidOf = (f: string) => f.split('.')[3];
  const pid = pidOf(files.at(-1) as string);
  const mine = files.filter((f) => pidOf(f) === pid).map((f) => summariseFile(join(dir, f), top));
  const main = mine.find((p) => basename(p.file).split('.')[4] === '0') ?? (mine[0] as ProfileSummary);
  const others = mine.filter((p) => p !== main && p.busyMs > 0.05 * p.totalMs).sort((a, b) => b.busyMs - a.busyMs);
  return others.length ? { ...main, others } : main;
}

export function printProfile(label: string, p: ProfileSummary | undefined): void {
  if (!p) return;
  printTable(
    `\n${label}: top self time (node --cpu-prof, ${(p.totalMs / 1000).toFixed(1)} s sampled, ${(p.busyMs / 1000).toFixed(1)} s busy; ${p.file.replace(ROOT + '/', '')})`,
    [['function', 'self ms', '%'], ...p.top.map((t) => [t.fn, String(t.selfMs), t.pct.toFixed(1)])],
  );
  for (const o of p.others ?? []) printProfile(`${label}, another thread`, o);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * The benchmark table: ten columns of the usual kinds. Generated rows are deterministic functions
 * of the key, so two servers given the same key range hold the same data.
 */
export const TABLE_DDL = `CREATE TABLE t (
  id BIGINT NOT NULL PRIMARY KEY,
  qty INT NOT NULL,
  name VARCHAR(64) NOT NULL,
  price DECIMAL(12,2) NOT NULL,
  created DATETIME(6) NOT NULL,
  score DOUBLE,
  note TEXT,
  flag TINYINT NOT NULL,
  code CHAR(8) NOT NULL,
  day DATE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`;

/** The select list that generates row `seq` (use with FROM seq_A_to_B). */
export const ROW_SELECT = `seq,
  (seq * 7919) % 1000003,
  CONCAT('customer-', seq, '-', LEFT(MD5(seq), 20)),
  ((seq * 7927) % 100000000) / 100,
  TIMESTAMP'2020-01-01 00:00:00' + INTERVAL seq SECOND + INTERVAL ((seq * 37) % 1000000) MICROSECOND,
  IF(seq % 11 = 0, NULL, seq / 7e0),
  IF(seq % 13 = 0, NULL, CONCAT('note ', seq % 997, ' for ', seq)),
  seq % 2,
  LEFT(SHA1(seq), 8),
  IF(seq % 17 = 0, NULL, DATE'2000-01-01' + INTERVAL (seq % 9000) DAY)`;

/** Generates rows [from, to] into table t, `step` rows per statement. */
export async function generateRows(c: Connection, from: number, to: number, step = 100_000): Promise<void> {
  for (let a = from; a <= to; a += step) {
    const b = Math.min(to, a + step - 1);
    await c.query(`INSERT INTO t SELECT ${ROW_SELECT} FROM seq_${a}_to_${b}`);
  }
}

/** A content fingerprint of table t (count and a CRC sum over every column), equal iff the rows are (very likely) equal. */
export async function fingerprint(c: Connection, db: string): Promise<string> {
  const rows = await queryRows(
    c,
    `SELECT COUNT(*) AS n, COALESCE(SUM(CRC32(CONCAT_WS('|', id, qty, name, price, created, IFNULL(score, 'N'), IFNULL(note, 'N'), flag, code, IFNULL(day, 'N')))), 0) AS s FROM \`${db}\`.t`,
  );
  return `${String(rows[0]?.n)}/${String(rows[0]?.s)}`;
}

/** The same ten columns as TABLE_DDL, in PostgreSQL's types. */
export const PG_TABLE_DDL = `CREATE TABLE t (
  id bigint NOT NULL PRIMARY KEY,
  qty integer NOT NULL,
  name varchar(64) NOT NULL,
  price numeric(12,2) NOT NULL,
  created timestamp(6) NOT NULL,
  score double precision,
  note text,
  flag smallint NOT NULL,
  code char(8) NOT NULL,
  day date
)`;

/** Row `s` of the table, generated by PostgreSQL (use with FROM generate_series(a, b) AS s). */
export const PG_ROW_SELECT = `s,
  (s * 7919) % 1000003,
  'customer-' || s || '-' || left(md5(s::text), 20),
  ((s * 7927) % 100000000) / 100.0,
  timestamp '2020-01-01 00:00:00' + s * interval '1 second' + ((s * 37) % 1000000) * interval '1 microsecond',
  CASE WHEN s % 11 = 0 THEN NULL ELSE s::float8 / 7 END,
  CASE WHEN s % 13 = 0 THEN NULL ELSE 'note ' || (s % 997) || ' for ' || s END,
  s % 2,
  left(md5('c' || s), 8),
  CASE WHEN s % 17 = 0 THEN NULL ELSE date '2000-01-01' + (s % 9000)::int END`;

/** Per thread count: whether a copy met its ratio target over the anchor and the memory limit. */
export function targetsMet(
  runs: readonly { threads?: number | undefined; rowsPerSecond: number; peakRssMb?: number | undefined }[],
  anchorRowsPerSecond: number,
  ratioTarget: number,
  rssLimitMb: number,
): Record<string, boolean> {
  return Object.fromEntries(
    runs.map((t) => [`threads${t.threads}`, t.rowsPerSecond / anchorRowsPerSecond >= ratioTarget && (t.peakRssMb ?? Infinity) <= rssLimitMb]),
  );
}
