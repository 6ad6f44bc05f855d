/**
 * A stream batch's full images on a PostgreSQL target go through the session's load table (COPY,
 * then INSERT … ON CONFLICT: engines/postgres/apply.ts upsertRows). The load table is readied
 * without a statement of its own where it can (load.ts readyLoadTable): created once per session,
 * emptied only when the same transaction wrote it already, created again after a rollback took it.
 * Real PostgreSQL, its statement log read back.
 */
import { chmodSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDsn } from '../../src/config/dsn.js';
import type { Change } from '../../src/core/change.js';
import { ErrorCode } from '../../src/core/errors.js';
import { createLogger } from '../../src/core/logger.js';
import type { TableSchema } from '../../src/core/schema.js';
import type { StreamCheckpoint } from '../../src/core/target.js';
import { describeTable } from '../../src/engines/postgres/schema.js';
import { PostgresTarget } from '../../src/engines/postgres/target.js';
import { startPostgres, type Server } from '../../src/testing/servers.js';

let server: Server;
const LOGS = join(tmpdir(), `trib-pg-batch-log-${process.pid}`);
let dst: pg.Client;
const targets: PostgresTarget[] = [];
let table: TableSchema;
let tables: Map<string, TableSchema>;
const cp = (position: string): StreamCheckpoint => ({ version: 1, position, sourceId: 'src', phase: 'stream' });
/** Past the batch size from which full images go through COPY (apply.ts COPY_MIN_ROWS). */
const MANY = 1500;

beforeAll(async () => {
  // The statement log in a file the test reads back (the server's own stderr is kept until it stops).
  mkdirSync(LOGS, { recursive: true });
  chmodSync(LOGS, 0o777);
  server = await startPostgres({ args: ['-c', 'log_statement=all', '-c', 'logging_collector=on', '-c', `log_directory=${LOGS}`, '-c', 'log_filename=statements.log'] });
  const admin = new pg.Client({ connectionString: server.url('postgres') });
  admin.on('error', () => undefined);
  await admin.connect();
  await admin.query('CREATE DATABASE described');
  await admin.query('CREATE DATABASE batchdb');
  await admin.end();
  // The table as a PostgreSQL source describes it, created on the target by ensureSchema.
  // Raw text results, as a PostgreSQL source's connections read the catalogue.
  const d = new pg.Client({ connectionString: server.url('described'), types: { getTypeParser: () => (v: string) => v } });
  await d.connect();
  await d.query('CREATE TABLE t (id bigint PRIMARY KEY, v text)');
  table = (await describeTable(d, 'public', 't')).schema;
  await d.end();
  tables = new Map([['t', table]]);
  dst = new pg.Client({ connectionString: server.url('batchdb') });
  dst.on('error', () => undefined);
  await dst.connect();
  const first = await newTarget(false);
  await first.ensureSchema([table], { recreate: false });
}, 60_000);

afterAll(async () => {
  for (const t of targets) await t.close().catch(() => undefined);
  await dst?.end().catch(() => undefined);
  await server?.stop();
  rmSync(LOGS, { recursive: true, force: true });
});

/** A target with one connection, so that every batch uses the same session. */
async function newTarget(ready = true): Promise<PostgresTarget> {
  for (const t of targets.splice(0)) await t.close();
  const t = new PostgresTarget({ dsn: parseDsn(server.url('batchdb'), 'target'), syncId: 'batch', logger: createLogger({ level: 'silent', pretty: false }), poolSize: 1 });
  await t.connect();
  await t.lock();
  if (ready) await t.prepareWrites([table]);
  targets.push(t);
  return t;
}

/** Full images of keys [from, to) holding `v`. */
function upserts(from: number, to: number, v: string): Change[] {
  return Array.from({ length: to - from }, (_, i) => ({ kind: 'upsert' as const, table: 't', key: [BigInt(from + i)], row: [BigInt(from + i), v] }));
}

/** The statements the server logged from `offset` on (the log's length before them), about the load tables. */
function loadTableStatements(offset: number): string[] {
  const log = readFileSync(join(LOGS, 'statements.log'), 'utf8').slice(offset);
  return [...log.matchAll(/statement: ([^\n]*_tributary_load_[^\n]*)/g)].map((m) => (m[1] as string).replace(/\s+/g, ' ').slice(0, 60));
}

const logLength = () => readFileSync(join(LOGS, 'statements.log'), 'utf8').length;

/** How many times a load table was created since `offset`. */
const creations = (offset: number) => loadTableStatements(offset).filter((s) => s.startsWith('CREATE TEMP TABLE')).length;

async function summary(): Promise<string> {
  const r = await dst.query<{ n: string; v: string }>('SELECT count(*) AS n, string_agg(DISTINCT v, \',\' ORDER BY v) AS v FROM t');
  return `${r.rows[0]?.n} ${r.rows[0]?.v}`;
}

describe('PostgreSQL target: a batch for a table it was not readied for', () => {
  it('is refused with nothing written, never dropped quietly', async () => {
    const target = await newTarget(false);
    await dst.query('TRUNCATE t');
    const tx = await target.begin();
    await expect(tx.write(tables, upserts(1, 4, 'a'))).rejects.toMatchObject({ code: ErrorCode.INTERNAL, message: expect.stringMatching(/no write plan for table t: 3 change\(s\)/) as unknown });
    await tx.rollback();
    expect(await summary()).toBe('0 null');
  });
});

describe('PostgreSQL target: the load table of a stream batch', () => {
  it('is created once per session, and a later batch writes through it without creating or emptying it', async () => {
    const target = await newTarget();
    await dst.query('TRUNCATE t');
    let at = logLength();
    let tx = await target.begin();
    await tx.write(tables, upserts(1, 1 + MANY, 'a'));
    await tx.commit(cp('p1'));
    expect(creations(at)).toBe(1);

    at = logLength();
    tx = await target.begin();
    await tx.write(tables, upserts(1, 1 + MANY, 'b'));
    await tx.commit(cp('p2'));
    const second = loadTableStatements(at);
    expect(second.some((s) => /^(CREATE|TRUNCATE)/.test(s)), second.join('\n')).toBe(false);
    expect(second.some((s) => s.startsWith('INSERT INTO'))).toBe(true);
    expect(await summary()).toBe(`${MANY} b`);
  });

  it('is emptied when one transaction writes it twice, so a row deleted in between stays deleted', async () => {
    const target = await newTarget();
    await dst.query('TRUNCATE t');
    // A source transaction written in two pieces (a spill): the second piece deletes rows the
    // first one wrote through the load table, and writes others through it. The rows are there
    // already, so the first piece cannot COPY straight into the table (load.ts copyDirect).
    await dst.query(`INSERT INTO t SELECT s, 'x' FROM generate_series(1, ${MANY}) AS s`);
    const tx = await target.begin();
    await tx.write(tables, upserts(1, 1 + MANY, 'a'));
    await tx.write(tables, [...Array.from({ length: 10 }, (_, i): Change => ({ kind: 'delete', table: 't', key: [BigInt(1 + i)] })), ...upserts(5000, 5000 + MANY, 'b')]);
    await tx.commit(cp('p3'));
    expect(await summary()).toBe(`${2 * MANY - 10} a,b`);
    expect((await dst.query('SELECT count(*)::int AS n FROM t WHERE id <= 10')).rows[0]?.n).toBe(0);
  });

  it('is created again after the transaction that created it rolled back', async () => {
    const target = await newTarget();
    await dst.query('TRUNCATE t');
    let at = logLength();
    let tx = await target.begin();
    await tx.write(tables, upserts(1, 1 + MANY, 'a'));
    await tx.rollback();
    expect(creations(at)).toBe(1);
    at = logLength();
    tx = await target.begin();
    await tx.write(tables, upserts(1, 1 + MANY, 'c'));
    await tx.commit(cp('p4'));
    expect(creations(at)).toBe(1);
    expect(await summary()).toBe(`${MANY} c`);
  });
});
