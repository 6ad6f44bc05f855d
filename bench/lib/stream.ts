/**
 * The stream benchmark's machinery, for every direction (MySQL/MariaDB or PostgreSQL on either
 * side): a backlog of row changes written at the source while tributary is stopped, then replayed.
 *
 *   1. The source table holds `seed` rows; `tributary sync` copies them, reaches the stream phase
 *      and is stopped with SIGINT (it checkpoints).
 *   2. While tributary is stopped the source executes transactions of 500 row changes: 250 inserts
 *      (new keys), 150 updates and 100 deletes (of copied keys), so every key changes once and
 *      coalescing cannot shrink the work. Its wall time is the anchor: changes/s at the source.
 *   3. `tributary sync` restarts from the checkpoint; timed from process start until the target's
 *      checkpoint reaches the source's end position, with its peak RSS.
 *   4. Same engine on both sides: the engine's own replication applies the same backlog, the anchor
 *      the issue names. A third server holding the same seed follows the source from the backlog's
 *      start: a MariaDB replica (GTID, one SQL thread, the default) or a PostgreSQL logical
 *      subscription (copy_data off), set up during step 1 and started only now, after tributary,
 *      so the two never share the cores; timed from its start until the backlog's last transaction
 *      is visible on it.
 *
 * The target is then checked against the source: row count and a hash over every column, each
 * value in one engine-neutral text form, so the check works across engines.
 */
import pg from 'pg';
import type { Connection } from 'mysql2/promise';
import { startMariaDb, type Server } from '../../src/testing/servers.js';
import { connect, generateRows, startPgDatabase, log, PG_ROW_SELECT, PG_TABLE_DDL, queryRows, ROW_SELECT, sleep, startTributary, assertClean, TABLE_DDL, type TributaryExit } from './harness.js';

export type Engine = 'mysql' | 'postgres';

export interface Direction {
  readonly source: Engine;
  readonly target: Engine;
}

export const DIRECTIONS: Record<string, Direction> = {
  'mysql-mysql': { source: 'mysql', target: 'mysql' },
  'mysql-postgres': { source: 'mysql', target: 'postgres' },
  'postgres-postgres': { source: 'postgres', target: 'postgres' },
  'postgres-mysql': { source: 'postgres', target: 'mysql' },
};

/**
 * Row changes per source transaction, split 50% inserts, 30% updates, 20% deletes: 500, or
 * BENCH_TXN_ROWS (a multiple of 10; e.g. 100 for transactions that each fit one etcd transaction).
 */
export const TXN_ROWS = Number(process.env.BENCH_TXN_ROWS ?? 500);
if (!Number.isInteger(TXN_ROWS / 10) || TXN_ROWS <= 0) throw new Error(`BENCH_TXN_ROWS=${process.env.BENCH_TXN_ROWS} is not a positive multiple of 10`);
export const INS = TXN_ROWS / 2;
export const UPD = (TXN_ROWS * 3) / 10;
export const DEL = TXN_ROWS / 5;
/** Step 4, the native replica's run (BENCH_NATIVE=0 leaves it out). */
const NATIVE = process.env.BENCH_NATIVE !== '0';

const DB = 'bench';


/**
 * Every column as engine-neutral text, joined: DATETIME(6)/timestamp(6) with six fraction digits,
 * DOUBLE as DECIMAL(30,4) (PostgreSQL converts float8 to numeric through 15 significant digits,
 * which the generated values never exceed), NULL as 'N'. The hash is the sum of the first 32 bits
 * of each row's MD5: order-independent and exact in both engines.
 */
const MYSQL_ROW_TEXT = `CONCAT_WS('|', id, qty, name, price, DATE_FORMAT(created, '%Y-%m-%d %H:%i:%s.%f'), IFNULL(CAST(score AS DECIMAL(30,4)), 'N'), IFNULL(note, 'N'), flag, code, IFNULL(day, 'N'))`;
const PG_ROW_TEXT = `concat_ws('|', id, qty, name, price, to_char(created, 'YYYY-MM-DD HH24:MI:SS.US'), coalesce(score::numeric(30,4)::text, 'N'), coalesce(note, 'N'), flag, code, coalesce(day::text, 'N'))`;

/** One side of a direction: a throwaway server with database `bench`, and what the benchmark does there. */
export interface Endpoint {
  readonly engine: Engine;
  readonly server: Server;
  /** tributary's URL of the benchmark database. */
  readonly url: string;
  version(): Promise<string>;
  /** Source only: creates table t and fills keys [1, rows]. */
  seed(rows: number): Promise<void>;
  /** Source only: executes the backlog (TXNS transactions); returns its wall time and the end position to reach. */
  backlog(txns: number, seed: number): Promise<{ ms: number; goal: Goal }>;
  /** Target only: the stream checkpoint's position and phase, or undefined before the first. */
  checkpoint(): Promise<{ position: string; phase: string } | undefined>;
  fingerprint(): Promise<string>;
  close(): Promise<void>;
}

/** The source's end position after the backlog: `reached(position)` says the checkpoint covers it. */
export interface Goal {
  readonly text: string;
  reached(position: string): boolean;
}

/** The first key of the inserts, updates and deletes of backlog transaction `k`. */
export function keysOf(k: number, txns: number, seed: number): { ins: number; upd: number; del: number } {
  return { ins: seed + 1 + k * INS, upd: 1 + k * UPD, del: txns * UPD + 1 + k * DEL };
}

function checkAffected(k: number, affected: number[]): void {
  // Every statement must have touched exactly its rows, or the change count would be wrong.
  if (affected[0] !== INS || affected[1] !== UPD || affected[2] !== DEL) {
    throw new Error(`transaction ${k} changed ${affected.join('/')} rows, expected ${INS}/${UPD}/${DEL}`);
  }
}

async function mysqlFingerprint(c: Connection): Promise<string> {
  const rows = await queryRows(c, `SELECT COUNT(*) AS n, COALESCE(SUM(CONV(LEFT(MD5(${MYSQL_ROW_TEXT}), 8), 16, 10)), 0) AS s FROM \`${DB}\`.t`);
  return `${String(rows[0]?.n)}/${String(rows[0]?.s)}`;
}

async function pgFingerprint(c: pg.Client): Promise<string> {
  const r = await c.query<{ n: string; s: string }>(`SELECT count(*)::text AS n, coalesce(sum(('x' || left(md5(${PG_ROW_TEXT}), 8))::bit(32)::bigint), 0)::text AS s FROM t`);
  return `${r.rows[0]?.n}/${r.rows[0]?.s}`;
}

/** Table t with keys [1, rows], not in the binlog: the copy (or a replica's own seed) brings it, the stream only the backlog. */
async function mysqlSeed(c: Connection, rows: number): Promise<void> {
  await c.query('SET SESSION sql_log_bin = 0');
  await c.query(TABLE_DDL);
  await generateRows(c, 1, rows);
  await c.query('SET SESSION sql_log_bin = 1; ANALYZE TABLE t');
}

/** Table t with keys [1, rows] (the generated rows are functions of the key: every server gets the same). */
async function pgSeed(c: pg.Client, rows: number): Promise<void> {
  await c.query(PG_TABLE_DDL);
  for (let a = 1; a <= rows; a += 100_000) {
    await c.query(`INSERT INTO t SELECT ${PG_ROW_SELECT} FROM generate_series(${a}::bigint, ${Math.min(rows, a + 99_999)}::bigint) AS s`);
  }
  await c.query('VACUUM ANALYZE t');
}

async function mysqlEndpoint(serverId: number): Promise<Endpoint> {
  const server = await startMariaDb({ serverId });
  const c: Connection = await connect(server.url());
  await c.query(`CREATE DATABASE ${DB}`);
  await c.query(`USE ${DB}`);
  const fileIndex = (file: string) => Number(/\.(\d+)$/.exec(file)?.[1] ?? 0);
  return {
    engine: 'mysql',
    server,
    url: server.url(DB),
    async version() {
      return String((await queryRows(c, 'SELECT VERSION() AS v'))[0]?.v);
    },
    async seed(rows) {
      await mysqlSeed(c, rows);
    },
    async backlog(txns, seed) {
      const t0 = performance.now();
      for (let k = 0; k < txns; k++) {
        const { ins, upd, del } = keysOf(k, txns, seed);
        const [results] = await c.query(
          `START TRANSACTION;
           INSERT INTO t SELECT ${ROW_SELECT} FROM seq_${ins}_to_${ins + INS - 1};
           UPDATE t SET qty = qty + 1, name = CONCAT('updated-', id), price = price + 1.25,
                  created = created + INTERVAL 1 SECOND, score = score * 2, note = CONCAT('n', id), day = NULL
            WHERE id BETWEEN ${upd} AND ${upd + UPD - 1};
           DELETE FROM t WHERE id BETWEEN ${del} AND ${del + DEL - 1};
           COMMIT`,
        );
        checkAffected(k, (results as { affectedRows?: number }[]).slice(1, 4).map((r) => r.affectedRows ?? 0));
      }
      const ms = performance.now() - t0;
      const r = (await queryRows(c, 'SHOW MASTER STATUS'))[0];
      const goal = { file: String(r?.File), pos: Number(r?.Position) };
      return {
        ms,
        goal: {
          text: `${goal.file}:${goal.pos}`,
          reached(position) {
            const at = JSON.parse(position) as { file: string; pos: number };
            const a = fileIndex(at.file);
            const b = fileIndex(goal.file);
            return a > b || (a === b && at.pos >= goal.pos);
          },
        },
      };
    },
    async checkpoint() {
      const rows = await queryRows(c, `SELECT body FROM \`${DB}\`._tributary_checkpoint WHERE name = ''`).catch(() => []);
      const body = rows[0]?.body;
      if (typeof body !== 'string') return undefined;
      const b = JSON.parse(body) as { position: string; phase: string };
      return { position: b.position, phase: b.phase };
    },
    fingerprint: () => mysqlFingerprint(c),
    async close() {
      await c.end().catch(() => undefined);
      await server.stop();
    },
  };
}

/** 'X/Y' → bigint (PostgreSQL's LSN text). */
function lsn(text: string): bigint {
  const [hi, lo] = text.split('/');
  return (BigInt(`0x${hi}`) << 32n) | BigInt(`0x${lo}`);
}

async function postgresEndpoint(): Promise<Endpoint> {
  const { server, c } = await startPgDatabase(DB);
  return {
    engine: 'postgres',
    server,
    url: server.url(DB),
    async version() {
      return `PostgreSQL ${String((await c.query<{ v: string }>('SELECT current_setting($1) AS v', ['server_version'])).rows[0]?.v).replace(/ .*/, '')}`;
    },
    async seed(rows) {
      await pgSeed(c, rows);
    },
    async backlog(txns, seed) {
      const t0 = performance.now();
      let before = '';
      for (let k = 0; k < txns; k++) {
        const { ins, upd, del } = keysOf(k, txns, seed);
        const last = k === txns - 1;
        // In the last transaction, the WAL insert position before its commit record: a checkpoint
        // past it covers the whole backlog (positions are commit ends).
        const results = (await c.query(
          `BEGIN;
           INSERT INTO t SELECT ${PG_ROW_SELECT} FROM generate_series(${ins}::bigint, ${ins + INS - 1}::bigint) AS s;
           UPDATE t SET qty = qty + 1, name = 'updated-' || id, price = price + 1.25,
                  created = created + interval '1 second', score = score * 2, note = 'n' || id, day = NULL
            WHERE id BETWEEN ${upd} AND ${upd + UPD - 1};
           DELETE FROM t WHERE id BETWEEN ${del} AND ${del + DEL - 1};
           ${last ? 'SELECT pg_current_wal_insert_lsn()::text AS l;' : ''}
           COMMIT`,
        )) as unknown as pg.QueryResult[];
        checkAffected(k, results.slice(1, 4).map((r) => r.rowCount ?? 0));
        if (last) before = String((results[4]?.rows[0] as { l?: string } | undefined)?.l);
      }
      const ms = performance.now() - t0;
      const goal = lsn(before);
      return {
        ms,
        goal: {
          text: `after ${before}`,
          reached(position) {
            const m = /^postgres:[^:]+:(.+)$/.exec(position);
            return m !== null && lsn(m[1] as string) > goal;
          },
        },
      };
    },
    async checkpoint() {
      const r = await c.query<{ body: string }>(`SELECT body FROM _tributary_checkpoint WHERE name = ''`).catch(() => ({ rows: [] as { body: string }[] }));
      const body = r.rows[0]?.body;
      if (typeof body !== 'string') return undefined;
      const b = JSON.parse(body) as { position: string; phase: string };
      return { position: b.position, phase: b.phase };
    },
    fingerprint: () => pgFingerprint(c),
    async close() {
      await c.end().catch(() => undefined);
      await server.stop();
    },
  };
}

/** The engine's own replication of a source, set up before the backlog and started after it (step 4). */
export interface NativeReplica {
  readonly what: string;
  /** Starts applying; resolves with the ms until the row `lastId` (the backlog's last insert) is there. */
  apply(lastId: number): Promise<number>;
  /** As Endpoint.fingerprint: the replica must equal the source once applied. */
  fingerprint(): Promise<string>;
  close(): Promise<void>;
}

const NATIVE_TIMEOUT_MS = 300_000;

/** Polls `maxId()` until it reaches `lastId`; `stuck()`, where the replica can tell, names why it cannot (a replication error). */
async function untilApplied(what: string, lastId: number, maxId: () => Promise<number>, stuck?: () => Promise<string | undefined>): Promise<number> {
  const t0 = performance.now();
  for (let n = 0; ; n++) {
    if ((await maxId()) >= lastId) return performance.now() - t0;
    if (performance.now() - t0 > NATIVE_TIMEOUT_MS) throw new Error(`${what} did not apply the backlog within ${NATIVE_TIMEOUT_MS / 1000} s`);
    if (stuck && n % 50 === 49) {
      const why = await stuck();
      if (why) throw new Error(`${what} failed: ${why}`);
    }
    await sleep(20);
  }
}

/** Step 4's replica of `src`, holding the same `seedRows`, positioned at the source's current end. */
export async function nativeReplica(src: Endpoint, seedRows: number): Promise<NativeReplica> {
  if (src.engine === 'mysql') {
    const server = await startMariaDb({ serverId: 3 });
    const c: Connection = await connect(server.url());
    const s: Connection = await connect(src.server.url());
    try {
      await c.query(`SET SESSION sql_log_bin = 0; CREATE DATABASE ${DB}; USE ${DB}`);
      await mysqlSeed(c, seedRows);
      const at = String((await queryRows(s, 'SELECT @@gtid_binlog_pos AS p'))[0]?.p ?? '');
      await c.query(`SET GLOBAL gtid_slave_pos = '${at}'`);
      await c.query(`CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=${src.server.port}, MASTER_USER='root', MASTER_PASSWORD='', MASTER_USE_GTID=slave_pos`);
    } finally {
      await s.end().catch(() => undefined);
    }
    return {
      what: 'MariaDB replica (one SQL thread)',
      async apply(lastId) {
        await c.query('START SLAVE');
        return untilApplied(
          'the MariaDB replica',
          lastId,
          async () => Number((await queryRows(c, `SELECT COALESCE(MAX(id), 0) AS m FROM ${DB}.t`))[0]?.m ?? 0),
          async () => {
            const st = (await queryRows(c, 'SHOW SLAVE STATUS'))[0];
            return st && (st.Last_SQL_Error || st.Last_IO_Error) ? `${String(st.Last_SQL_Error)} ${String(st.Last_IO_Error)}`.trim() : undefined;
          },
        );
      },
      fingerprint: () => mysqlFingerprint(c),
      async close() {
        await c.query('STOP SLAVE').catch(() => undefined);
        await c.end().catch(() => undefined);
        await server.stop();
      },
    };
  }
  const { server, c } = await startPgDatabase(DB);
  await pgSeed(c, seedRows);
  const s = new pg.Client({ connectionString: src.server.url(DB) });
  await s.connect();
  await s.query('CREATE PUBLICATION bench_native FOR TABLE t');
  await s.end();
  // The subscription's slot is made now, at the backlog's start; it applies nothing until enabled.
  await c.query(`CREATE SUBSCRIPTION bench_native CONNECTION '${src.server.url(DB)}' PUBLICATION bench_native WITH (copy_data = false, enabled = false)`);
  return {
    what: 'PostgreSQL logical subscription',
    async apply(lastId) {
      await c.query('ALTER SUBSCRIPTION bench_native ENABLE');
      return untilApplied(
        'the PostgreSQL subscription',
        lastId,
        async () => Number((await c.query<{ m: string }>('SELECT coalesce(max(id), 0)::text AS m FROM t')).rows[0]?.m ?? 0),
      );
    },
    fingerprint: () => pgFingerprint(c),
    async close() {
      await c.query('ALTER SUBSCRIPTION bench_native DISABLE').catch(() => undefined);
      await c.query('ALTER SUBSCRIPTION bench_native SET (slot_name = NONE)').catch(() => undefined);
      await c.query('DROP SUBSCRIPTION bench_native').catch(() => undefined);
      await c.end().catch(() => undefined);
      await server.stop();
    },
  };
}

export function startEndpoint(engine: Engine, serverId: number): Promise<Endpoint> {
  return engine === 'mysql' ? mysqlEndpoint(serverId) : postgresEndpoint();
}

export interface ReplayResult {
  readonly version: { source: string; target: string };
  readonly sourceMs: number;
  readonly caughtUpMs: number;
  readonly firstMoveMs: number | undefined;
  readonly exit: TributaryExit;
  readonly samples: { ms: number; position: string }[];
  /** Step 4 (same engine only): the native replica's apply time of the same backlog. */
  readonly native?: { readonly what: string; readonly ms: number };
}

const CATCH_UP_TIMEOUT_MS = 300_000;

/** Steps 1–3 and the final check for one direction; the servers are stopped at the end. */
export async function replay(name: string, dir: Direction, txns: number): Promise<ReplayResult> {
  const seedRows = txns * (UPD + DEL);
  log(`${name}: starting source (${dir.source}) and target (${dir.target})`);
  const [src, dst] = await Promise.all([startEndpoint(dir.source, 1), startEndpoint(dir.target, 2)]);
  const args = ['sync', '--source', src.url, '--target', dst.url, '--progress', 'none'];
  let native: NativeReplica | undefined;
  try {
    const version = { source: await src.version(), target: await dst.version() };
    log(`${name}: seeding ${seedRows} rows on the source (${version.source})`);
    await src.seed(seedRows);

    // 1. Copy, reach the stream phase, stop with a checkpoint.
    log(`${name}: tributary sync: initial copy of the seed`);
    const first = startTributary(`stream-${name}-initial`, args);
    let exitedEarly = false;
    void first.exited.then(() => (exitedEarly = true));
    for (;;) {
      const cp = await dst.checkpoint();
      if (cp?.phase === 'stream') break;
      if (exitedEarly) assertClean('initial sync', await first.exited);
      await sleep(200);
    }
    first.signal('SIGINT');
    assertClean('initial sync', await first.exited);
    const stoppedAt = await dst.checkpoint();
    log(`${name}: copy done and checkpointed at ${stoppedAt?.position}; tributary stopped`);
    if (dir.source === dir.target && NATIVE) {
      log(`${name}: setting up the native anchor (a third server with the same seed, following the source from here)`);
      native = await nativeReplica(src, seedRows);
    }

    // 2. The backlog, executed at the source while tributary is stopped.
    log(`${name}: source: ${txns} transactions × ${TXN_ROWS} row changes (${INS} inserts, ${UPD} updates, ${DEL} deletes)`);
    const { ms: sourceMs, goal } = await src.backlog(txns, seedRows);
    log(`${name}: source done in ${(sourceMs / 1000).toFixed(2)} s; end position ${goal.text}`);

    // 3. Replay: restart and time until the checkpoint reaches the source's end.
    log(`${name}: tributary sync: replaying the backlog`);
    const run = startTributary(`stream-${name}-replay`, args);
    let done = false;
    let failed: unknown;
    void run.exited.then(() => (done = true), (e: unknown) => (failed = e));
    let firstMoveMs: number | undefined;
    let caughtUpMs: number | undefined;
    const samples: { ms: number; position: string }[] = [];
    for (;;) {
      const cp = await dst.checkpoint();
      const now = performance.now() - run.startedAt;
      if (cp && firstMoveMs === undefined && cp.position !== stoppedAt?.position) firstMoveMs = now;
      if (cp) samples.push({ ms: Math.round(now), position: cp.position });
      if (cp && goal.reached(cp.position)) {
        caughtUpMs = now;
        break;
      }
      if (done || failed) assertClean('replay', await run.exited);
      if (now > CATCH_UP_TIMEOUT_MS) break;
      await sleep(100);
    }
    run.signal('SIGINT');
    const exit = await run.exited;
    assertClean('replay', exit);
    if (caughtUpMs === undefined) throw new Error(`${name}: replay did not catch up within ${CATCH_UP_TIMEOUT_MS / 1000} s`);
    const [want, got] = await Promise.all([src.fingerprint(), dst.fingerprint()]);
    if (want !== got) throw new Error(`${name}: target fingerprint ${got} differs from the source's ${want}`);
    log(`${name}: target equals source (${got})`);
    let nativeRun: { what: string; ms: number } | undefined;
    if (native) {
      log(`${name}: ${native.what}: applying the backlog`);
      const ms = await native.apply(seedRows + txns * INS);
      nativeRun = { what: native.what, ms };
      const replicated = await native.fingerprint();
      if (replicated !== want) throw new Error(`${name}: ${native.what}: fingerprint ${replicated} differs from the source's ${want}`);
      log(`${name}: ${native.what}: applied in ${(ms / 1000).toFixed(2)} s; equals the source`);
    }
    return { version, sourceMs, caughtUpMs, firstMoveMs, exit, samples, ...(nativeRun ? { native: nativeRun } : {}) };
  } finally {
    await Promise.all([src.close(), dst.close(), native?.close()]);
  }
}
