/**
 * `--progress-webhook` on a real MariaDB → MariaDB sync through the CLI: a local receiver records
 * the posts: the status during the copy, a `phase` post when streaming starts, the applied changes,
 * the token from TRIBUTARY_PROGRESS_WEBHOOK_TOKEN, a `stopped` post at SIGTERM; a sync that fails
 * posts `error` with the error's code; a receiver that is down never holds the sync back.
 */
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Connection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WebhookBody } from '../../src/server/webhook.js';
import { freePort, startMariaDb, type Server } from '../../src/testing/servers.js';
import { connect, runCli, startCli, waitUntil, type CliRun } from '../helpers/mysql.js';

let source: Server;
let target: Server;
let src: Connection;
let http: HttpServer;
let hookUrl: string;
const posts: { body: WebhookBody; auth: string | undefined }[] = [];
const running: CliRun[] = [];

beforeAll(async () => {
  [source, target] = await Promise.all([startMariaDb({ serverId: 61 }), startMariaDb({ serverId: 62 })]);
  src = await connect(source.url());
  await src.query('CREATE DATABASE wh; USE wh; CREATE TABLE t (id INT PRIMARY KEY, v INT); INSERT INTO t SELECT seq, seq FROM seq_1_to_2000;');
  const dst = await connect(target.url());
  await dst.query('CREATE DATABASE whfail; CREATE TABLE whfail.t (id INT PRIMARY KEY, v INT); INSERT INTO whfail.t VALUES (1, 1)');
  await dst.end();
  await src.query('CREATE DATABASE whfail; CREATE TABLE whfail.t (id INT PRIMARY KEY, v INT)');
  http = createServer((req, res) => {
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString()));
    req.on('end', () => {
      posts.push({ body: JSON.parse(text) as WebhookBody, auth: req.headers.authorization });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  hookUrl = `http://127.0.0.1:${(http.address() as AddressInfo).port}/progress`;
}, 120_000);

afterAll(async () => {
  for (const r of running) r.child.kill('SIGKILL');
  await src?.end();
  http?.closeAllConnections();
  await new Promise((r) => http?.close(r));
  await Promise.all([source?.stop(), target?.stop()]);
});

describe('--progress-webhook', () => {
  it('posts the status during the copy, at the phase change to streaming, with the changes applied, and at the stop', async () => {
    const run = startCli(['sync', '--source', source.url('wh'), '--target', target.url('wh'), '--flush-interval', '100ms', '--progress-webhook', hookUrl, '--progress-interval', '1s'], {
      TRIBUTARY_PROGRESS_WEBHOOK_TOKEN: 'wh-token-0123456789',
    });
    running.push(run);
    await waitUntil('the streaming phase post', async () => posts.some((p) => p.body.event === 'phase' && p.body.phase === 'stream'), 60_000);
    await src.query('UPDATE wh.t SET v = v + 1 WHERE id <= 10');
    await waitUntil('a post with the changes applied', async () => posts.some((p) => p.body.stream.changesApplied >= 10), 30_000);
    await waitUntil('posts every interval', async () => posts.filter((p) => p.body.event === 'interval').length >= 2, 30_000);
    run.child.kill('SIGTERM');
    expect(await run.exited, run.stderr()).toBe(0);
    const last = posts.at(-1) as (typeof posts)[number];
    expect(last.body).toMatchObject({ event: 'stopped', syncId: expect.any(String), exit: null, copy: { rowsCopied: 2000, percent: 100 } });
    expect(posts.every((p) => p.auth === 'Bearer wh-token-0123456789')).toBe(true);
    expect(run.stderr()).not.toContain('wh-token');
  }, 120_000);

  it('refuses an interval under a second by name', async () => {
    const r = await runCli(['sync', '--source', source.url('wh'), '--target', target.url('wh3'), '--progress-webhook', hookUrl, '--progress-interval', '300ms'], {}, 60_000);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('progress-interval');
    expect(r.stderr).toContain('is shorter than 1s');
  }, 60_000);

  it('posts the error a failed sync ends with, and a receiver that is down holds nothing back', async () => {
    posts.length = 0;
    const failed = await runCli(['sync', '--source', source.url('whfail'), '--target', target.url('whfail'), '--http-linger', '0', '--progress-webhook', hookUrl], {}, 60_000);
    expect(failed.code).not.toBe(0);
    expect(posts.at(-1)?.body).toMatchObject({ event: 'error', exit: { code: 'TRIB_TARGET_NOT_EMPTY' } });
    // Nothing listens on the port: the copy-only sync finishes all the same, and says the posts failed.
    const down = `http://127.0.0.1:${await freePort()}/nobody`;
    const ok = await runCli(['sync', '--copy-only', '--id', 'whdown', '--source', source.url('wh'), '--target', target.url('wh2'), '--progress-webhook', down], {}, 90_000);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stderr).toContain('progress webhook');
  }, 150_000);
});
