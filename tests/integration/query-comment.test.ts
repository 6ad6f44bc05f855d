/**
 * `--query-comment` (issue 14) on real servers: every statement tributary sends carries the
 * comment, read back from the servers' own statement logs (MariaDB's general log as a table,
 * PostgreSQL's log_statement=all file), across a chain PostgreSQL → MariaDB → PostgreSQL: one sync
 * writes the MariaDB database another reads, so the DDL the first replays (commented) reaches the
 * second through the binlog and is followed. `verify` and `check` run with the comment too.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Connection, RowDataPacket } from 'mysql2/promise';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMariaDb, startPostgres, type Server } from '../../src/testing/servers.js';
import { connect, runCli, startCli, waitUntil, type CliRun } from '../helpers/mysql.js';
import { pgClient } from '../helpers/postgres.js';

const COMMENT = 'tributary sync=test';
const PREFIX = `/* ${COMMENT} */ `;
/** The walsender's own commands, which take no comment (engines/postgres/connection.ts). */
const REPLICATION_COMMAND = /^(IDENTIFY_SYSTEM|CREATE_REPLICATION_SLOT|DROP_REPLICATION_SLOT|START_REPLICATION)\b/;
/** MariaDB general-log command types that carry no SQL text of ours (the binlog client's protocol commands, connection bookkeeping). */
const NOT_SQL = new Set(['Connect', 'Quit', 'Binlog Dump', 'Register Slave', 'Init DB', 'Ping', 'Close stmt', 'Change user', 'Reset connection']);

let maria: Server;
let postgres: Server;
let root: Connection;
let admin: pg.Client;
const clients: pg.Client[] = [];
const running: CliRun[] = [];

async function pgDb(db: string): Promise<pg.Client> {
  const c = await pgClient(postgres.url(db));
  clients.push(c);
  return c;
}

const mariaUrl = (db: string) => `mysql://trib@127.0.0.1:${maria.port}/${db}`;

function sync(source: string, target: string, extra: string[] = [], env: NodeJS.ProcessEnv = {}): CliRun {
  const run = startCli(['sync', '--source', source, '--target', target, '--flush-interval', '200ms', '--checksum-interval', '1s', ...extra], env);
  running.push(run);
  return run;
}

async function stop(run: CliRun): Promise<number> {
  run.child.kill('SIGINT');
  return run.exited;
}

/** What the `trib` user sent MariaDB, from its general log: command type and text. */
async function mariaStatements(): Promise<{ type: string; text: string }[]> {
  const [rows] = await root.query<RowDataPacket[]>(
    "SELECT command_type AS type, CONVERT(argument USING utf8mb4) AS text FROM mysql.general_log WHERE user_host LIKE 'trib[trib]%' ORDER BY event_time",
  );
  return rows.map((r) => ({ type: String(r.type), text: String(r.text) }));
}

/** PostgreSQL's log file (log_statement=all, log_replication_commands) for connections named 'tributary'. */
function pgStatements(): { statements: string[]; replication: string[] } {
  const file = join(postgres.dir, 'data', 'log', 'statements.log');
  const statements: string[] = [];
  const replication: string[] = [];
  for (const line of (existsSync(file) ? readFileSync(file, 'utf8') : '').split('\n')) {
    const m = /^tributary\|[^|]*\| LOG: {2}(?:statement|execute [^:]+): (.*)$/.exec(line);
    if (m) statements.push(m[1] as string);
    const r = /^tributary\|[^|]*\| LOG: {2}received replication command: (.*)$/.exec(line);
    if (r) replication.push(r[1] as string);
  }
  return { statements, replication };
}

beforeAll(async () => {
  [maria, postgres] = await Promise.all([
    startMariaDb({ args: ['--general-log=1', '--log-output=TABLE'] }),
    startPostgres({
      args: ['-c', 'log_statement=all', '-c', 'log_replication_commands=on', '-c', 'logging_collector=on', '-c', 'log_directory=log', '-c', 'log_filename=statements.log', '-c', 'log_line_prefix=%a|%c| '],
    }),
  ]);
  root = await connect(maria.url());
  // tributary connects to MariaDB as its own user, so the general log tells its statements from the test's.
  await root.query("CREATE USER trib@'127.0.0.1' IDENTIFIED BY ''; GRANT ALL PRIVILEGES ON *.* TO trib@'127.0.0.1'");
  admin = await pgClient(postgres.url('postgres'));
}, 120_000);

afterAll(async () => {
  for (const r of running) r.child.kill('SIGKILL');
  for (const c of clients) await c.end().catch(() => undefined);
  await admin?.end().catch(() => undefined);
  await root?.end().catch(() => undefined);
  await Promise.all([maria?.stop(), postgres?.stop()]);
});

describe('--query-comment', () => {
  it('is refused with */ in it, naming the value and the fix, before anything connects', async () => {
    const r = await runCli(['sync', '--source', mariaUrl('none'), '--target', postgres.url('none'), '--query-comment', 'x */ DROP TABLE t; /*']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/query-comment: holds '\*\/', which would end the comment early; remove it \(got "x \*\/ DROP TABLE t; \/\*"\)/);
    expect((await mariaStatements()).length).toBe(0);
  });

  it('PostgreSQL → MariaDB → PostgreSQL: every statement on every connection carries it, DDL through the chain included', async () => {
    await admin.query('CREATE DATABASE b');
    const b = await pgDb('b');
    await b.query("CREATE TABLE u (id int PRIMARY KEY, v text, n numeric(10,2)); INSERT INTO u SELECT g, 'v' || g, g / 4.0 FROM generate_series(1, 300) g");

    // First link: PostgreSQL b → MariaDB b (created by the sync), the comment from the flag.
    const first = sync(postgres.url('b'), mariaUrl('b'), ['--query-comment', COMMENT]);
    await waitUntil('the first link copied', async () => {
      const [rows] = await root.query<RowDataPacket[]>("SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = 'b' AND table_name = 'u'").catch(() => [[]] as never);
      if (Number(rows[0]?.n) !== 1) return false;
      const [c] = await root.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM b.u');
      return Number(c[0]?.n) === 300;
    }, 90_000);

    // Second link: MariaDB b → PostgreSQL c, the comment from the environment.
    const second = sync(mariaUrl('b'), postgres.url('c'), [], { TRIBUTARY_QUERY_COMMENT: COMMENT });
    await waitUntil('the second link copied', async () => {
      const c = await pgDb('c').catch(() => undefined);
      if (!c) return false;
      const r = await c.query<{ n: string }>('SELECT COUNT(*)::text AS n FROM u').catch(() => undefined);
      await c.end().catch(() => undefined);
      return r?.rows[0]?.n === '300';
    }, 90_000);

    await b.query("INSERT INTO u SELECT g, 'w' || g, g FROM generate_series(301, 350) g");
    await b.query("UPDATE u SET v = 'changed' WHERE id <= 20");
    await b.query('DELETE FROM u WHERE id BETWEEN 100 AND 109');
    await b.query('ALTER TABLE u ADD COLUMN w int');
    await b.query('UPDATE u SET w = id * 2 WHERE id <= 10');

    const c = await pgDb('c');
    await waitUntil('the chain carried the changes and the new column', async () => {
      const r = await c.query<{ n: string; w: string | null; changed: string }>(
        "SELECT COUNT(*)::text AS n, (SELECT SUM(w)::text FROM u) AS w, COUNT(*) FILTER (WHERE v = 'changed')::text AS changed FROM u",
      ).catch(() => undefined);
      return r?.rows[0]?.n === '340' && r.rows[0].w === '110' && r.rows[0].changed === '20';
    }, 90_000);
    const columns = await c.query<{ column_name: string }>("SELECT column_name FROM information_schema.columns WHERE table_name = 'u' ORDER BY ordinal_position");
    expect(columns.rows.map((r) => r.column_name)).toEqual(['id', 'v', 'n', 'w']);

    expect(await stop(second)).toBe(0);
    expect(await stop(first)).toBe(0);

    // verify (env) and check (flag) of the first link, with the comment.
    const verified = await runCli(['verify', '--source', postgres.url('b'), '--target', mariaUrl('b'), '--json'], { TRIBUTARY_QUERY_COMMENT: COMMENT });
    expect(verified.stderr).not.toMatch(/error/i);
    expect(JSON.parse(verified.stdout)).toMatchObject({ equal: true });
    const checked = await runCli(['check', '--source', postgres.url('b'), '--target', mariaUrl('b'), '--query-comment', COMMENT]);
    expect(checked.code, checked.stdout + checked.stderr).toBe(0);

    // MariaDB b's binlog keeps the comment in the DDL the first link replayed: the second link read it from there.
    const [logs] = await root.query<RowDataPacket[]>('SHOW BINARY LOGS');
    const queries: string[] = [];
    for (const l of logs) {
      const [events] = await root.query<RowDataPacket[]>(`SHOW BINLOG EVENTS IN '${String(l.Log_name)}'`);
      for (const e of events) if (e.Event_type === 'Query') queries.push(String(e.Info));
    }
    // (SHOW BINLOG EVENTS shows the event's session settings first: "use `b`; set foreign_key_checks=0; ".)
    expect(queries.filter((q) => /ALTER TABLE/i.test(q) && /\bw\b/.test(q))).toEqual([expect.stringMatching(/(?:^|; )\/\* tributary sync=test \*\/ ALTER TABLE `u` ADD COLUMN `w`/)]);

    // Every statement the trib user sent MariaDB (the first link's target, the second's source, verify, check).
    const sent = await mariaStatements();
    const sql = sent.filter((s) => !NOT_SQL.has(s.type));
    expect(sql.length).toBeGreaterThan(50);
    expect(sql.filter((s) => !s.text.startsWith(PREFIX))).toEqual([]);
    // The binlog client's setup queries, the copy's LOAD DATA and the checkpoint all went through it.
    expect(sql.some((s) => /^\/\* tributary sync=test \*\/ set @master_binlog_checksum/i.test(s.text))).toBe(true);
    expect(sql.some((s) => /^\/\* tributary sync=test \*\/ LOAD DATA LOCAL INFILE/i.test(s.text))).toBe(true);
    expect(sent.some((s) => s.type === 'Binlog Dump')).toBe(true);

    // Every statement tributary sent PostgreSQL (the first link's source, the second's target).
    let pgLog = pgStatements();
    await waitUntil('the PostgreSQL log written', () => (pgLog = pgStatements()).statements.length > 50, 10_000);
    expect(pgLog.statements.filter((s) => !s.startsWith(PREFIX))).toEqual([]);
    expect(pgLog.statements.some((s) => /^\/\* tributary sync=test \*\/ COPY /.test(s))).toBe(true);
    expect(pgLog.statements.some((s) => /^\/\* tributary sync=test \*\/ SET TRANSACTION SNAPSHOT/.test(s))).toBe(true);
    // Without the comment: only the walsender's own commands (the slot's creation, the stream's start).
    expect(pgLog.replication.filter((s) => !REPLICATION_COMMAND.test(s))).toEqual([]);
    expect(pgLog.replication.some((s) => s.startsWith('CREATE_REPLICATION_SLOT'))).toBe(true);
    expect(pgLog.replication.some((s) => s.startsWith('START_REPLICATION'))).toBe(true);
  }, 300_000);
});
