/**
 * Helpers for integration tests against real throwaway MariaDB servers: a source/target pair,
 * the CLI as a child process, and row-for-row comparison.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { constants as osConstants } from 'node:os';
import { join } from 'node:path';
import mysql, { type Connection, type RowDataPacket } from 'mysql2/promise';
import { startMariaDb, type Server } from '../../src/testing/servers.js';

export const ROOT = join(import.meta.dirname, '..', '..');

export interface Pair {
  readonly source: Server;
  readonly target: Server;
  /** Root connection to the source (multi-statement, UTC). */
  readonly src: Connection;
  readonly dst: Connection;
  srcUrl(db: string): string;
  dstUrl(db: string): string;
  stop(): Promise<void>;
}

export async function connect(url: string): Promise<Connection> {
  const c = await mysql.createConnection({ uri: url, multipleStatements: true, timezone: 'Z', dateStrings: true, supportBigNumbers: true, bigNumberStrings: true });
  await c.query("SET time_zone = '+00:00'");
  return c;
}

/** Starts a source (server_id 1) and a target (server_id 2) MariaDB. */
export async function startPair(): Promise<Pair> {
  const [source, target] = await Promise.all([startMariaDb({ serverId: 1 }), startMariaDb({ serverId: 2 })]);
  const src = await connect(source.url());
  const dst = await connect(target.url());
  return {
    source,
    target,
    src,
    dst,
    srcUrl: (db) => source.url(db),
    dstUrl: (db) => target.url(db),
    async stop() {
      await src.end().catch(() => undefined);
      await dst.end().catch(() => undefined);
      await Promise.all([source.stop(), target.stop()]);
    },
  };
}

export interface CliRun {
  readonly child: ChildProcess;
  readonly stdout: () => string;
  readonly stderr: () => string;
  readonly exited: Promise<number>;
}

/**
 * TRIBUTARY_FROM_SOURCE for the CLI the tests spawn: '1' (the TypeScript sources through tsx)
 * unless the test command built dist/ from these sources first and says so (scripts/test.sh sets
 * TRIBUTARY_TEST_CLI=dist), which starts each process with less CPU.
 */
export const CLI_FROM_SOURCE = process.env.TRIBUTARY_TEST_CLI === 'dist' ? '0' : '1';

/** Starts `tributary ARGS` as a child process (from dist/ or the sources: CLI_FROM_SOURCE). */
export function startCli(args: readonly string[], env: NodeJS.ProcessEnv = {}): CliRun {
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'tributary.js'), ...args], {
    cwd: ROOT,
    env: { ...process.env, TRIBUTARY_FROM_SOURCE: CLI_FROM_SOURCE, TRIBUTARY_PROGRESS: 'plain', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr?.on('data', (b: Buffer) => (err += b.toString()));
  // Killed by a signal: 128 + its number, as a shell reports it (130 SIGINT unhandled, 134 SIGABRT, 137 SIGKILL).
  const exited = new Promise<number>((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 + (osConstants.signals[signal] ?? 0) : 1))));
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** Runs the CLI to completion. */
export async function runCli(args: readonly string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 120_000): Promise<{ code: number; stdout: string; stderr: string }> {
  const run = startCli(args, env);
  const timer = setTimeout(() => run.child.kill('SIGKILL'), timeoutMs);
  const code = await run.exited;
  clearTimeout(timer);
  return { code, stdout: run.stdout(), stderr: run.stderr() };
}

/** Waits until `pred` holds, polling. */
export async function waitUntil(what: string, pred: () => Promise<boolean> | boolean, timeoutMs = 60_000, everyMs = 200): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await pred()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * Every row of a table as exact text (each column HEX-encoded, so no driver conversion can hide a
 * difference), ordered by primary key.
 */
export async function tableRows(conn: Connection, db: string, table: string): Promise<string[]> {
  const [cols] = await conn.query<RowDataPacket[]>(
    'SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION',
    [db, table],
  );
  const [keys] = await conn.query<RowDataPacket[]>(
    "SELECT COLUMN_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND INDEX_NAME = 'PRIMARY' ORDER BY SEQ_IN_INDEX",
    [db, table],
  );
  const q = (n: unknown) => '`' + String(n).replace(/`/g, '``') + '`';
  const list = cols.map((c) => `IFNULL(HEX(${q(c.COLUMN_NAME)}), 'NULL')`).join(", '|', ");
  const order = keys.map((k) => q(k.COLUMN_NAME)).join(', ');
  const [rows] = await conn.query<RowDataPacket[]>(`SELECT CONCAT(${list}) AS r FROM ${q(db)}.${q(table)} ORDER BY ${order}`);
  return rows.map((r) => String(r.r));
}

/** Asserts-friendly comparison: returns a description of the first differences, or '' if equal. */
export async function diffTables(pair: Pair, srcDb: string, dstDb: string, table: string): Promise<string> {
  const a = await tableRows(pair.src, srcDb, table);
  const b = await tableRows(pair.dst, dstDb, table);
  if (a.length === b.length && a.every((r, i) => r === b[i])) return '';
  const setB = new Set(b);
  const setA = new Set(a);
  const cut = (r: string) => (r.length > 300 ? r.slice(0, 300) + '…' : r);
  const onlyA = a.filter((r) => !setB.has(r)).slice(0, 5).map(cut);
  const onlyB = b.filter((r) => !setA.has(r)).slice(0, 5).map(cut);
  return `${table}: source ${a.length} rows, target ${b.length} rows; only in source: ${onlyA.join(' ; ')}; only in target: ${onlyB.join(' ; ')}`;
}

/** Waits until the target table equals the source table. */
export async function waitEqual(pair: Pair, srcDb: string, dstDb: string, table: string, timeoutMs = 60_000): Promise<void> {
  let last = '';
  try {
    await waitUntil(`${table} to converge`, async () => (last = await diffTables(pair, srcDb, dstDb, table)) === '', timeoutMs, 500);
  } catch (err) {
    throw new Error(`${(err as Error).message}: ${last}`, { cause: err });
  }
}
