/**
 * No password anywhere: a sync whose source and target URLs carry passwords is run with trace
 * logs, JSON progress and the HTTP API; neither password appears in its logs, progress, status,
 * metrics, history, the checkpoint rows on the target, or the output and errors of check, verify,
 * --dry-run and a refused second instance. Malformed URLs holding a password are refused (exit 2,
 * TRIB_DSN_INVALID) without printing it, and passwords given outside the URL (environment, file)
 * really connect: the MariaDB server checks them.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RowDataPacket } from 'mysql2/promise';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startMariaDb, startPostgres, type Server } from '../../src/testing/servers.js';
import { connect, runCli, startCli, waitUntil, type CliRun } from '../helpers/mysql.js';

const SOURCE_PASSWORD = 'Src-PASSWORD-7d1f2e';
const TARGET_PASSWORD = 'Tgt-PASSWORD-9a8b7c';
/** A password no URL could hold as typed; given outside the URL it needs no encoding. */
const WRITER_PASSWORD = 'Wr1ter 50%off#@/:?-5e6f';

let source: Server;
let target: Server;
const running: CliRun[] = [];

beforeAll(async () => {
  [source, target] = await Promise.all([startMariaDb({ serverId: 1 }), startPostgres()]);
  const root = await connect(source.url());
  await root.query('CREATE DATABASE shop');
  await root.query('CREATE TABLE shop.items (id BIGINT PRIMARY KEY, name VARCHAR(40), price DECIMAL(10,2))');
  await root.query("INSERT INTO shop.items SELECT seq, CONCAT('item ', seq), seq / 4 FROM shop.seq_1_to_500");
  await root.query(`CREATE USER 'syncer'@'%' IDENTIFIED BY '${SOURCE_PASSWORD}'`);
  await root.query("GRANT SELECT, RELOAD, REPLICATION SLAVE, REPLICATION CLIENT, BINLOG MONITOR ON *.* TO 'syncer'@'%'");
  // A MariaDB target on the same server (it checks passwords; the PostgreSQL one trusts everyone).
  await root.query('CREATE DATABASE shop_copy');
  await root.query('CREATE USER ?@? IDENTIFIED BY ?', ['writer', '%', WRITER_PASSWORD]);
  await root.query("GRANT ALL PRIVILEGES ON shop_copy.* TO 'writer'@'%'");
  await root.end();
  const admin = new pg.Client({ connectionString: target.url('postgres') });
  await admin.connect();
  await admin.query('CREATE DATABASE shop');
  // Trust authentication ignores the password, but every URL tributary is given carries it.
  await admin.end();
});

afterAll(async () => {
  for (const r of running) r.child.kill('SIGKILL');
  await Promise.all([source?.stop(), target?.stop()]);
});

const withPassword = (s: Server, user: string, password: string, db: string) => s.url(db).replace(/^(\w+):\/\/[^@]*@/, `$1://${user}:${password}@`);

function assertNoPassword(what: string, text: string): void {
  expect(text.length, `${what} is empty`).toBeGreaterThan(0);
  expect(text.includes(SOURCE_PASSWORD), `the source password appears in ${what}`).toBe(false);
  expect(text.includes(TARGET_PASSWORD), `the target password appears in ${what}`).toBe(false);
  expect(text.includes(WRITER_PASSWORD), `the writer password appears in ${what}`).toBe(false);
  // Pieces of the passwords (what a URL cut at an unencoded '#', '/' or '%' would leave).
  for (const piece of ['7d1f2e', '9a8b7c', '50%off', '-5e6f']) expect(text.includes(piece), `'${piece}' appears in ${what}`).toBe(false);
}

describe('secrets', () => {
  it('never prints a password: logs, progress, status, metrics, history, checkpoints, errors', async () => {
    const src = withPassword(source, 'syncer', SOURCE_PASSWORD, 'shop');
    const dst = withPassword(target, 'postgres', TARGET_PASSWORD, 'shop');
    expect(src).toContain(SOURCE_PASSWORD);

    // Commands that only read: check, a dry run.
    const check = await runCli(['check', '--source', src, '--target', dst]);
    assertNoPassword('tributary check', check.stdout + check.stderr);
    const dry = await runCli(['sync', '--dry-run', '--source', src, '--target', dst]);
    assertNoPassword('sync --dry-run', dry.stdout + dry.stderr);

    const port = await freePort();
    const run = startCli(['sync', '--source', src, '--target', dst, '--http', `127.0.0.1:${port}`, '--log-level', 'trace', '--progress', 'json', '--flush-interval', '200ms', '--checksum-interval', '300ms']);
    running.push(run);
    const get = async (path: string) => {
      const r = await fetch(`http://127.0.0.1:${port}${path}`);
      return r.text();
    };
    await waitUntil('streaming', async () => /"phase":\s*"stream"/.test(await get('/status').catch(() => '')) || run.child.exitCode !== null, 60_000, 200).catch((err: Error) => {
      throw new Error(`${err.message}: ${run.stderr().slice(-1500)}`, { cause: err });
    });
    expect(run.child.exitCode, run.stderr().slice(-2000)).toBeNull();
    const root = await connect(source.url());
    await root.query("INSERT INTO shop.items VALUES (1001, 'new', 1.00)");
    await root.end();
    await waitUntil('a checksum pass', async () => /"passesCompleted":\s*[1-9]/.test(await get('/status')), 30_000, 200);

    for (const path of ['/status', '/metrics', '/history', '/readyz', '/']) assertNoPassword(`GET ${path}`, await get(path));

    // The checkpoint rows on the target.
    const c = new pg.Client({ connectionString: target.url('shop') });
    await c.connect();
    const cp = await c.query('SELECT * FROM _tributary_checkpoint');
    await c.end();
    assertNoPassword('the checkpoint table', JSON.stringify(cp.rows));

    // A refused second instance, and verify beside the running sync.
    const second = await runCli(['sync', '--source', src, '--target', dst, '--progress', 'none']);
    expect(second.code).toBe(1);
    expect(second.stderr).toContain('TRIB_ALREADY_RUNNING');
    assertNoPassword('a refused second instance', second.stdout + second.stderr);
    const verify = await runCli(['verify', '--source', src, '--target', dst, '--json']);
    assertNoPassword('tributary verify', verify.stdout + verify.stderr);

    // A failure naming the source: a wrong password is refused without printing either.
    const wrong = await runCli(['verify', '--source', withPassword(source, 'syncer', `${SOURCE_PASSWORD}-wrong`, 'shop'), '--target', dst]);
    expect(wrong.code).not.toBe(0);
    assertNoPassword('a refused login', wrong.stdout + wrong.stderr);

    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
    assertNoPassword('the sync\'s logs and progress', run.stdout() + run.stderr());
    expect(run.stderr()).toContain('"level":10'); // trace lines were written, and checked
  }, 180_000);

  it('refuses malformed URLs holding a password (exit 2, TRIB_DSN_INVALID) without printing it, in sync, check and verify', async () => {
    const host = `127.0.0.1:${source.port}`;
    const good = withPassword(source, 'syncer', SOURCE_PASSWORD, 'shop');
    const malformed = [
      `mysql//syncer:${SOURCE_PASSWORD}@${host}/shop`, // the colon after the scheme forgotten
      `mysql:/syncer:${SOURCE_PASSWORD}@${host}/shop`,
      `syncer:${SOURCE_PASSWORD}@${host}/shop`, // no scheme
      `mysql://syncer:50%off${SOURCE_PASSWORD}@${host}/shop`, // a '%' not encoded
      `mysql://syncer:${SOURCE_PASSWORD}#x@${host}/shop`, // a '#' not encoded: cuts the URL
      `mysql://syncer:1234#${SOURCE_PASSWORD}@${host}/shop`, // parses as host 'syncer', port 1234
      `mysql://syncer:1234/${SOURCE_PASSWORD}@${host}/shop`, // parses as database '…@host/shop'
      `mysql://syncer:1234?${SOURCE_PASSWORD}@${host}/shop`,
      `mysqlx://syncer:${SOURCE_PASSWORD}@${host}/shop`, // unknown scheme
      `mysql://syncer:${SOURCE_PASSWORD}@/shop`, // empty host
      `mysql://syncer:${SOURCE_PASSWORD}@127.0.0.1:port/shop`,
      `mysql://syncer:${SOURCE_PASSWORD}`, // '@host' forgotten
    ];
    const dst = withPassword(target, 'postgres', TARGET_PASSWORD, 'shop');
    const commands = (url: string): [string[], NodeJS.ProcessEnv][] => [
      [['sync', '--source', url, '--target', dst], {}],
      [['check', '--source', good, '--target', url], {}],
      [['verify', '--source', url, '--target', dst], {}],
      [['sync', '--source', good, '--target', dst, '--replica', url, '--dry-run'], {}],
      [['verify'], { TRIBUTARY_SOURCE: url, TRIBUTARY_TARGET: dst }],
    ];
    // Each URL through one command (each command sees several), and the first through all of them.
    const runs = [...malformed.map((url, i) => commands(url)[i % 5] as [string[], NodeJS.ProcessEnv]), ...commands(malformed[0] as string).slice(1)];
    for (const [args, env] of runs) {
      const r = await runCli(args, env);
      const out = r.stdout + r.stderr;
      const what = `${args.join(' ')} ${JSON.stringify(env)}`.split(SOURCE_PASSWORD).join('…');
      expect(r.code, `${what}: ${out}`).toBe(2);
      expect(out, what).toContain('TRIB_DSN_INVALID');
      expect(out, what).not.toMatch(/unexpected error|URIError/);
      assertNoPassword(what, out);
    }
    // The fix is said: how to encode, and where else a password can go.
    const r = await runCli(['check', '--source', malformed[3] as string, '--target', dst]);
    expect(r.stderr).toMatch(/write a literal % as %25.*%23 for #, %40 for @, %2F for \/, %3A for :.*TRIBUTARY_SOURCE_PASSWORD or --source-password-file/);
  }, 180_000);

  it('connects with passwords given outside the URL (environment, file): sync copies, verify agrees, nothing prints them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'trib-secrets-'));
    const writerFile = join(dir, 'writer.pw');
    writeFileSync(writerFile, WRITER_PASSWORD + '\n', { mode: 0o600 });
    const sourceFile = join(dir, 'source.pw');
    writeFileSync(sourceFile, SOURCE_PASSWORD + '\n', { mode: 0o600 });
    const host = `127.0.0.1:${source.port}`;
    const src = `mysql://syncer@${host}/shop`;
    const dst = `mysql://writer@${host}/shop_copy`;

    // Without a password both are refused by the server: the passwords below are what connects.
    const none = await runCli(['verify', '--source', src, '--target', dst]);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('TRIB_AUTH_FAILED');

    // Source from the environment, target from a file.
    const copy = await runCli(['sync', '--source', src, '--target', dst, '--target-password-file', writerFile, '--copy-only', '--progress', 'none', '--log-level', 'debug'], { TRIBUTARY_SOURCE_PASSWORD: SOURCE_PASSWORD });
    expect(copy.code, copy.stderr.slice(-2000)).toBe(0);
    assertNoPassword('sync --copy-only with passwords from env and file', copy.stdout + copy.stderr);
    const root = await connect(source.url());
    try {
      const [rows] = await root.query<RowDataPacket[]>('SELECT COUNT(*) AS n, SUM(id) AS s FROM shop_copy.items');
      const [want] = await root.query<RowDataPacket[]>('SELECT COUNT(*) AS n, SUM(id) AS s FROM shop.items');
      expect(Number(rows[0]?.n)).toBeGreaterThanOrEqual(500);
      expect([rows[0]?.n, rows[0]?.s]).toEqual([want[0]?.n, want[0]?.s]);
    } finally {
      await root.end();
    }

    // The other way round: source from a file, target from the environment; verify and check.
    const env = { TRIBUTARY_TARGET_PASSWORD: WRITER_PASSWORD };
    const verify = await runCli(['verify', '--source', src, '--source-password-file', sourceFile, '--target', dst], env);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    assertNoPassword('verify with passwords from file and env', verify.stdout + verify.stderr);
    const check = await runCli(['check', '--source', src, '--source-password-file', sourceFile, '--target', dst], env);
    expect(check.stdout + check.stderr).not.toMatch(/AUTH_FAILED|Access denied/);
    assertNoPassword('check with passwords from file and env', check.stdout + check.stderr);

    // A password in the URL and one outside: refused, naming both places, printing neither.
    const twice = await runCli(['verify', '--source', withPassword(source, 'syncer', SOURCE_PASSWORD, 'shop'), '--target', dst], { TRIBUTARY_SOURCE_PASSWORD: SOURCE_PASSWORD, ...env });
    expect(twice.code).toBe(2);
    expect(twice.stderr).toMatch(/TRIB_CONFIG_INVALID: the source password is given in 2 places: the source URL .* and source-password \(TRIBUTARY_SOURCE_PASSWORD/);
    assertNoPassword('a password given twice', twice.stdout + twice.stderr);

    // A missing file, and a wrong password in a file: named, never printed.
    const missing = await runCli(['verify', '--source', src, '--source-password-file', join(dir, 'nope.pw'), '--target', dst], env);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(`TRIB_CONFIG_INVALID: source-password-file ${join(dir, 'nope.pw')} cannot be read (ENOENT)`);
    const wrongFile = join(dir, 'wrong.pw');
    writeFileSync(wrongFile, `${WRITER_PASSWORD}-wrong\n`);
    const wrong = await runCli(['verify', '--source', src, '--source-password-file', sourceFile, '--target', dst, '--target-password-file', wrongFile]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('TRIB_AUTH_FAILED');
    assertNoPassword('a wrong password from a file', wrong.stdout + wrong.stderr);
  }, 180_000);
});
