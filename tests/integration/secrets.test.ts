/**
 * No password anywhere: a sync whose source and target URLs carry passwords is run with trace
 * logs, JSON progress and the HTTP API; neither password appears in its logs, progress, status,
 * metrics, history, the checkpoint rows on the target, or the output and errors of check, verify,
 * --dry-run and a refused second instance.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startMariaDb, startPostgres, type Server } from '../../src/testing/servers.js';
import { connect, runCli, startCli, waitUntil, type CliRun } from '../helpers/mysql.js';

const SOURCE_PASSWORD = 'Src-PASSWORD-7d1f2e';
const TARGET_PASSWORD = 'Tgt-PASSWORD-9a8b7c';

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
});
