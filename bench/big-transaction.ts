/**
 * Peak RSS of `tributary sync` through one big source transaction in each phase (issue 9, item 7):
 * a table of 1M rows (id INT, a VARCHAR(100), b BIGINT) on MariaDB; an UPDATE of every row plus a
 * DELETE of a third of them, in one transaction that commits while the table is being copied
 * (executed before the sync starts, committed once the copy is under way); then, while streaming,
 * an UPDATE of every row left plus an INSERT of the deleted ones back, in one transaction. Into
 * MariaDB and into PostgreSQL, each with the CLI's heap policy and with V8's own
 * (TRIBUTARY_HEAP_GROWING_PERCENT=0), beside the target: peak RSS ≤ 300 MB. The target is checked
 * equal to the source (row count and a hash of every row) after each transaction.
 *
 *   node --import tsx bench/big-transaction.ts [mysql|postgres …]
 *   BENCH_ROWS=…  another size;  BENCH_HEAP_COMPARE=0  skip the V8-policy runs
 *
 * Writes bench/results/big-transaction.json.
 */
import type { Connection } from 'mysql2/promise';
import { startMariaDb, type Server } from '../src/testing/servers.js';
import { buildTributary, connect, startPgDatabase, log, machine, printTable, queryRows, seconds, sleep, startTributary, warnIfBusy, writeResult } from './lib/harness.js';

const ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000);
const RSS_LIMIT_MB = 300;
const DB = 'big';

interface Target {
  readonly url: string;
  count(): Promise<number>;
  fingerprint(): Promise<string>;
  phase(): Promise<string | undefined>;
  close(): Promise<void>;
}

const ROW_HASH_MYSQL = `COUNT(*) AS n, COALESCE(SUM(CAST(CONV(SUBSTR(MD5(CONCAT(id, '|', a, '|', b)), 1, 8), 16, 10) AS UNSIGNED)), 0) AS h`;

async function mysqlFingerprint(c: Connection): Promise<string> {
  const r = (await queryRows(c, `SELECT ${ROW_HASH_MYSQL} FROM \`${DB}\`.t`))[0];
  return `${String(r?.n)}:${String(r?.h)}`;
}

async function mysqlTarget(): Promise<Target & { server: Server }> {
  const server = await startMariaDb({ serverId: 2 });
  const c = await connect(server.url());
  await c.query(`CREATE DATABASE ${DB}`);
  return {
    server,
    url: server.url(DB),
    count: async () => Number((await queryRows(c, `SELECT COUNT(*) AS n FROM \`${DB}\`.t`))[0]?.n),
    fingerprint: () => mysqlFingerprint(c),
    phase: async () => {
      const rows = await queryRows(c, `SELECT body FROM \`${DB}\`._tributary_checkpoint WHERE name = ''`).catch(() => []);
      const body = rows[0]?.body;
      return typeof body === 'string' ? (JSON.parse(body) as { phase: string }).phase : undefined;
    },
    close: async () => {
      await c.end().catch(() => undefined);
      await server.stop();
    },
  };
}

async function postgresTarget(): Promise<Target & { server: Server }> {
  const { server, c } = await startPgDatabase(DB);
  return {
    server,
    url: server.url(DB),
    count: async () => Number((await c.query<{ n: string }>('SELECT count(*) AS n FROM t')).rows[0]?.n),
    fingerprint: async () => {
      const r = await c.query<{ n: string; h: string }>(
        `SELECT count(*) AS n, COALESCE(sum(('x' || substr(md5(id::text || '|' || a || '|' || b::text), 1, 8))::bit(32)::bigint), 0) AS h FROM t`,
      );
      return `${r.rows[0]?.n}:${r.rows[0]?.h}`;
    },
    phase: async () => {
      const r = await c.query<{ body: string }>(`SELECT body FROM _tributary_checkpoint WHERE name = ''`).catch(() => ({ rows: [] as { body: string }[] }));
      const body = r.rows[0]?.body;
      return body ? (JSON.parse(body) as { phase: string }).phase : undefined;
    },
    close: async () => {
      await c.end().catch(() => undefined);
      await server.stop();
    },
  };
}

async function until(what: string, pred: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await pred().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(1000);
  }
}

interface Measure {
  readonly target: string;
  readonly heapPolicy: string;
  readonly peakRssMb: number;
  readonly cpuS: number;
  readonly copyTxnApplyMs: number;
  readonly streamTxnApplyMs: number;
}

async function run(kind: 'mysql' | 'postgres', heapPercent: string | undefined): Promise<Measure> {
  const source = await startMariaDb({ serverId: 1 });
  const target = kind === 'mysql' ? await mysqlTarget() : await postgresTarget();
  const src = await connect(source.url());
  try {
    await src.query(`CREATE DATABASE ${DB}; CREATE TABLE ${DB}.t (id INT PRIMARY KEY, a VARCHAR(100) NOT NULL, b BIGINT NOT NULL)`);
    await src.query(`INSERT INTO ${DB}.t SELECT seq, REPEAT('a', 100), seq * 1000 FROM ${DB}.seq_1_to_${ROWS}`);
    const txn = await connect(source.url());
    await txn.query('BEGIN');
    await txn.query(`UPDATE ${DB}.t SET a = REPEAT('b', 100), b = b + 1; DELETE FROM ${DB}.t WHERE id % 3 = 0`);
    const label = `big-transaction-${kind}-${heapPercent ?? 'cli'}`;
    const trib = startTributary(
      label,
      ['sync', '--source', source.url(DB), '--target', target.url, '--threads', '2', '--copy-rate-limit', '50000', '--checksum', 'off', '--progress', 'none'],
      heapPercent === undefined ? {} : { TRIBUTARY_HEAP_GROWING_PERCENT: heapPercent },
    );
    await until('copy progress', async () => (await target.count()) >= 20_000, 120_000);
    await txn.query('COMMIT');
    await txn.end();
    const committed = Date.now();
    if ((await target.phase()) === 'stream') throw new Error('the copy ended before the transaction committed: slow the copy (--copy-rate-limit) down');
    const want1 = await mysqlFingerprint(src);
    await until('the transaction during the copy', async () => (await target.fingerprint()) === want1, 900_000);
    const copyTxnApplyMs = Date.now() - committed;
    await until('the copy to finish', async () => (await target.phase()) === 'stream', 300_000);
    await src.query(`BEGIN; UPDATE ${DB}.t SET a = REPEAT('c', 100), b = b + 1; INSERT INTO ${DB}.t SELECT seq, REPEAT('d', 100), seq FROM ${DB}.seq_1_to_${ROWS} WHERE seq % 3 = 0; COMMIT`);
    const committed2 = Date.now();
    const want2 = await mysqlFingerprint(src);
    await until('the transaction while streaming', async () => (await target.fingerprint()) === want2, 900_000);
    const streamTxnApplyMs = Date.now() - committed2;
    trib.signal('SIGINT');
    const exit = await trib.exited;
    if (exit.code !== 0) throw new Error(`${label}: tributary exited with ${exit.code}; see ${exit.logFile}`);
    return {
      target: kind === 'mysql' ? 'MariaDB' : 'PostgreSQL',
      heapPolicy: heapPercent === undefined ? 'CLI default (growing 100 %)' : heapPercent === '0' ? "V8's own" : `growing ${heapPercent} %`,
      peakRssMb: exit.peakRssMb,
      cpuS: exit.userCpuS + exit.systemCpuS,
      copyTxnApplyMs,
      streamTxnApplyMs,
    };
  } finally {
    await src.end().catch(() => undefined);
    await target.close();
    await source.stop();
  }
}

async function main(): Promise<void> {
  const kinds = (process.argv.slice(2).length ? process.argv.slice(2) : ['mysql', 'postgres']) as ('mysql' | 'postgres')[];
  buildTributary();
  const load = warnIfBusy();
  const policies: (string | undefined)[] = process.env.BENCH_HEAP_COMPARE === '0' ? [undefined] : [undefined, '0'];
  const results: Measure[] = [];
  for (const kind of kinds) {
    for (const p of policies) {
      log(`MariaDB → ${kind}, heap policy ${p ?? 'CLI default'}, ${ROWS} rows`);
      results.push(await run(kind, p));
    }
  }
  printTable(`\nbig source transactions (${ROWS.toLocaleString('en')}-row table; one during the copy, one while streaming), ${machine().cpus} cores`, [
    ['target', 'heap policy', 'peak RSS', `≤ ${RSS_LIMIT_MB} MB`, 'CPU s', 'txn during copy applied (s)', 'txn while streaming applied (s)'],
    ...results.map((r) => [
      `MariaDB → ${r.target}`,
      r.heapPolicy,
      `${r.peakRssMb.toFixed(0)} MB`,
      r.peakRssMb <= RSS_LIMIT_MB ? 'met' : 'NOT met',
      r.cpuS.toFixed(1),
      seconds(r.copyTxnApplyMs),
      seconds(r.streamTxnApplyMs),
    ]),
  ]);
  const file = writeResult('big-transaction', { benchmark: 'big-transaction', date: new Date().toISOString(), rows: ROWS, machine: { ...machine(), loadAverageBefore1m: load }, rssLimitMb: RSS_LIMIT_MB, results });
  log(`wrote ${file}`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
