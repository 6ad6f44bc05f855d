/**
 * The progress webhook (server/webhook.ts) against a real local HTTP receiver, with a fake runner:
 * a post at start, at each phase change and at the end (`stopped`, or `error` with the code and a
 * redacted message); the bearer token; bounded retries with backoff on 5xx, none on 4xx; a receiver
 * that hangs holds nothing back beyond the final wait; no password or token in any log line.
 */
import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode, TributaryError } from '../../src/core/errors.js';
import { ProgressWebhook, type WebhookBody } from '../../src/server/webhook.js';

interface Received {
  readonly body: WebhookBody;
  readonly auth: string | undefined;
}

let server: Server | undefined;

afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
  server = undefined;
});

/** A receiver answering each post with the next status of `answers` (then 200), recording the posts. */
async function receiver(answers: number[] = [], hang = false): Promise<{ url: string; posts: Received[]; hits: () => number }> {
  const posts: Received[] = [];
  let hits = 0;
  server = createServer((req: IncomingMessage, res) => {
    hits++;
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString()));
    req.on('end', () => {
      if (hang) return;
      const status = answers.shift() ?? 200;
      if (status === 200) posts.push({ body: JSON.parse(text) as WebhookBody, auth: req.headers.authorization });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => (server as Server).listen(0, '127.0.0.1', r));
  return { url: `http://hook:pw-secret@127.0.0.1:${(server.address() as AddressInfo).port}/hook`, posts, hits: () => hits };
}

function fakeRunner(): EventEmitter & Record<string, unknown> {
  let phase = 'copy';
  const r = new EventEmitter() as EventEmitter & Record<string, unknown>;
  Object.assign(r, {
    syncId: 's1',
    config: { source: 'mysql://u:pw-secret@127.0.0.1/db', target: 'mysql://u:pw-secret@127.0.0.1/db2' },
    setPhase: (p: string) => {
      phase = p;
      r.emit('phase', p);
    },
    progress: () => ({ phase, summary: phase, tables: [], rowsCopied: 0, rowsTotal: 0, copyRowsPerSecond: 0, changesApplied: 3, changesPerSecond: 0, lagSeconds: 0.1, appliedPosition: 'p', checksum: null, throttle: { copyRateLimit: 0, replica: null, replicaLagSeconds: null, waiting: false, reason: null } }),
    health: () => ({ paused: false, retrying: false, reconnects: 0, startedAt: '2026-01-01T00:00:00.000Z', uptimeSeconds: 1, lastError: null, bufferBytes: 0, changesByTable: {} }),
    sourceHead: () => Promise.resolve(undefined),
    sourceRetainedBytes: () => Promise.resolve(undefined),
    members: () => Promise.resolve([]),
  });
  return r;
}

function logs(): { logger: pino.Logger; lines: string[] } {
  const lines: string[] = [];
  const logger = pino({ level: 'debug' }, new Writable({ write: (c: Buffer, _e, cb) => (lines.push(c.toString()), cb()) }));
  return { logger, lines };
}

const until = async (what: string, pred: () => boolean, ms = 20_000) => {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe('progress webhook', () => {
  it('posts the status at start, every interval, at each phase change and at the end, with the token', async () => {
    const rx = await receiver();
    const runner = fakeRunner();
    const { logger, lines } = logs();
    const hook = new ProgressWebhook({ runner: runner as never, url: rx.url, intervalMs: 100, token: 'tok-secret-123', readyMaxLagSeconds: 60, logger });
    hook.start();
    await until('the first post', () => rx.posts.length >= 1);
    (runner.setPhase as (p: string) => void)('stream');
    await until('the phase post', () => rx.posts.some((p) => p.body.event === 'phase' && p.body.phase === 'stream'));
    await until('interval posts', () => rx.posts.filter((p) => p.body.event === 'interval').length >= 3);
    await hook.finish();
    const last = rx.posts.at(-1) as Received;
    expect(last.body).toMatchObject({ event: 'stopped', syncId: 's1', phase: 'stream', exit: null, stream: { changesApplied: 3 } });
    expect(rx.posts.every((p) => p.auth === 'Bearer tok-secret-123')).toBe(true);
    // The URLs in the status are redacted, and nothing logs the webhook's password or the token.
    expect(JSON.stringify(rx.posts)).not.toContain('pw-secret');
    expect(lines.join('')).not.toMatch(/pw-secret|tok-secret/);
    // No post after the end.
    const n = rx.posts.length;
    await new Promise((r) => setTimeout(r, 250));
    expect(rx.posts.length).toBe(n);
  });

  it('a phase change waiting behind a slow post is not replaced by the interval posts due meanwhile', async () => {
    // The receiver holds the first post until released: meanwhile the phase changes and many intervals fall due.
    let release: () => void = () => undefined;
    const held = new Promise<void>((r) => (release = r));
    const posts: string[] = [];
    server = createServer((req, res) => {
      let text = '';
      req.on('data', (c: Buffer) => (text += c.toString()));
      req.on('end', () => {
        const body = JSON.parse(text) as WebhookBody;
        const answer = () => (posts.push(`${body.event}:${body.phase}`), res.writeHead(200).end());
        if (posts.length === 0 && body.event === 'interval') void held.then(answer);
        else answer();
      });
    });
    await new Promise<void>((r) => (server as Server).listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    const runner = fakeRunner();
    const hook = new ProgressWebhook({ runner: runner as never, url, intervalMs: 5, readyMaxLagSeconds: 60, logger: logs().logger });
    hook.start();
    await new Promise((r) => setTimeout(r, 20));
    (runner.setPhase as (p: string) => void)('stream');
    await new Promise((r) => setTimeout(r, 50));
    release();
    await until('the phase post', () => posts.includes('phase:stream'));
    await hook.finish();
    expect(posts[0]).toBe('interval:copy');
    expect(posts[1]).toBe('phase:stream');
    expect(posts.at(-1)).toBe('stopped:stream');
  });

  it('retries a 5xx with backoff a bounded number of times, does not retry a 4xx, and posts the error at the end', async () => {
    const rx = await receiver([500, 503, 200, 404, 500, 500, 500]);
    const { logger, lines } = logs();
    const hook = new ProgressWebhook({ runner: fakeRunner() as never, url: rx.url, intervalMs: 60_000, readyMaxLagSeconds: 60, logger, attempts: 3, backoffMs: 20 });
    hook.start();
    await until('the first post after two retries', () => rx.posts.length === 1);
    expect(rx.hits()).toBe(3);
    await hook.finish(new TributaryError(ErrorCode.TARGET_WRITE_FAILED, 'boom at mysql://u:pw-secret@h/db'));
    // The error post: refused once with 404 (not retried), so nothing arrived and a warning says so.
    expect(rx.hits()).toBe(4);
    expect(lines.join('')).toContain('did not take the error post (HTTP 404)');
    // Logs name the hook by its origin: a secret in its path or query never shows.
    expect(lines.join('')).not.toContain('/hook');
    expect(lines.join('')).not.toContain('pw-secret');
  });

  it('posts the failure with its code and redacted message', async () => {
    const rx = await receiver();
    const hook = new ProgressWebhook({ runner: fakeRunner() as never, url: rx.url, intervalMs: 60_000, readyMaxLagSeconds: 60, logger: logs().logger });
    hook.start();
    await until('the first post', () => rx.posts.length === 1);
    await hook.finish(new TributaryError(ErrorCode.TARGET_WRITE_FAILED, 'boom at mysql://u:pw-secret@h/db'));
    expect(rx.posts.at(-1)?.body).toMatchObject({ event: 'error', exit: { code: 'TRIB_TARGET_WRITE_FAILED', message: expect.stringContaining('boom at') } });
    expect(JSON.stringify(rx.posts.at(-1)?.body)).not.toContain('pw-secret');
    // Without a token, the URL's user and password go as basic authentication (fetch refuses them in a URL).
    expect(rx.posts.at(-1)?.auth).toBe(`Basic ${Buffer.from('hook:pw-secret').toString('base64')}`);
  });

  it('a receiver that never answers holds the end back only for the final wait, and an unusable URL is refused by name', async () => {
    const rx = await receiver([], true);
    const { logger } = logs();
    const hook = new ProgressWebhook({ runner: fakeRunner() as never, url: rx.url, intervalMs: 60_000, readyMaxLagSeconds: 60, logger, timeoutMs: 60_000 });
    hook.start();
    const t0 = Date.now();
    await hook.finish(undefined, 300);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(() => new ProgressWebhook({ runner: fakeRunner() as never, url: 'ftp://x/y', intervalMs: 1000, readyMaxLagSeconds: 60, logger }).start()).toThrow(/--progress-webhook is not an http\(s\) URL \(it is ftp:\)/);
  });
});
