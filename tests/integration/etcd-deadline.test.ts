/**
 * Every unary etcd call has a deadline (the URL's ?timeout=, docs/etcd.md), on a real etcd that
 * stops answering: held with SIGSTOP, it answers neither calls nor PINGs. A data-path transaction
 * (wire.ts writeTxn over h2.ts) and a call through the etcd3 client's grpc-js channel each fail
 * DEADLINE_EXCEEDED after their attempts (each with its own deadline), in bounded time,
 * not after the keepalive's 20 s; once etcd runs again the same client writes and reads, and what the
 * held transaction carried either committed whole or not at all.
 */
import { GRPCDeadlineExceededError, type Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDsn } from '../../src/config/dsn.js';
import { ErrorCode, TributaryError } from '../../src/core/errors.js';
import { CALL_TIMEOUT_MS, callTimeoutOf, clientOptions, openClient } from '../../src/engines/etcd/connection.js';
import { UnaryChannel } from '../../src/engines/etcd/unary.js';
import { encodeTxnMessage, writeTxn } from '../../src/engines/etcd/wire.js';
import { startEtcd, type EtcdServer } from '../../src/testing/servers.js';

let etcd: EtcdServer;
let client: Etcd3;
let channel: UnaryChannel;

beforeAll(async () => {
  etcd = await startEtcd();
  client = openClient(parseDsn(`etcd://127.0.0.1:${etcd.port}/p?timeout=400ms`, 'target'), 'target');
  channel = new UnaryChannel(undefined);
});

afterAll(async () => {
  channel?.close();
  client?.close();
  await etcd?.stop();
});

/** One transaction putting `value` at each of `keys`. */
const put = (keys: string[], value: string) => encodeTxnMessage([], keys.map((k) => ({ keyBytes: Buffer.from(k), value: Buffer.from(value) })));

async function elapsed<T>(p: Promise<T>): Promise<{ ms: number; err: unknown }> {
  const t0 = performance.now();
  try {
    await p;
    return { ms: performance.now() - t0, err: undefined };
  } catch (err) {
    return { ms: performance.now() - t0, err };
  }
}

/** Retries `fn` while the endpoint rests after the failures (connection.ts ENDPOINT_REST_MS). */
async function soon<T>(fn: () => Promise<T>): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (i >= 40) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

describe('etcd calls have a deadline', () => {
  it('?timeout= is read as a duration (30s by default); a value that is not one is refused naming it and the fix', () => {
    const dsn = (q: string) => parseDsn(`etcd://127.0.0.1:2379/p${q}`, 'target');
    expect(callTimeoutOf(dsn(''), 'target')).toBe(CALL_TIMEOUT_MS);
    expect(CALL_TIMEOUT_MS).toBe(30_000);
    expect(callTimeoutOf(dsn('?timeout=2s'), 'target')).toBe(2000);
    expect(callTimeoutOf(dsn('?timeout=1500'), 'target')).toBe(1500);
    expect(callTimeoutOf(dsn('?timeout=1m'), 'target')).toBe(60_000);
    expect(callTimeoutOf(dsn('?timeout=2147483647'), 'target')).toBe(2 ** 31 - 1);
    // A timer cannot wait longer than 2^31 - 1 ms (it would fire at once), nor less than 1 ms.
    for (const bad of ['soon', '0', '-1s', '', '0.4ms', '2147483648', '36000m']) {
      let err: unknown;
      try {
        clientOptions(dsn(`?timeout=${bad}`), 'target');
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(TributaryError);
      expect((err as TributaryError).code).toBe(ErrorCode.DSN_INVALID);
      expect((err as Error).message).toContain(`?timeout=${bad} is not a duration from 1ms to 2147483647ms (about 24 days); give how long an etcd call may wait for its answer, e.g. ?timeout=30s`);
    }
    // Unary calls get a deadline of their own; streams (watches, lease keepalives) none.
    const factory = clientOptions(dsn('?timeout=2s'), 'target').defaultCallOptions as (c: { isStream: boolean }) => { deadline?: number };
    const now = Date.now();
    expect(factory({ isStream: false }).deadline).toBeGreaterThanOrEqual(now + 2000);
    expect(factory({ isStream: true }).deadline).toBeUndefined();
  });

  it('etcd held (SIGSTOP): a transaction on the data path and a read through grpc-js fail DEADLINE_EXCEEDED in bounded time; continued, the same client works and the held write is whole or absent', { timeout: 60_000 }, async () => {
    expect(await writeTxn(client, put(['/p/before'], '1'), channel)).toBe(true);
    process.kill(etcd.pid, 'SIGSTOP');
    let write: { ms: number; err: unknown };
    let read: { ms: number; err: unknown };
    try {
      [write, read] = await Promise.all([elapsed(writeTxn(client, put(['/p/held/a', '/p/held/b', '/p/held/c'], '2'), channel)), elapsed(client.get('/p/before').string())]);
    } finally {
      process.kill(etcd.pid, 'SIGCONT');
    }
    for (const r of [write, read]) {
      expect(r.err).toBeInstanceOf(GRPCDeadlineExceededError);
      // Attempts of 400 ms each (up to the pool's 3; the endpoint's breaker, shared by both calls,
      // opens after 3 failures in all) and the backoff between them; the keepalive alone would take 20 s.
      expect(r.ms).toBeGreaterThanOrEqual(400 - 20);
      expect(r.ms).toBeLessThan(8_000);
    }
    expect(await soon(() => writeTxn(client, put(['/p/after'], '3'), channel))).toBe(true);
    expect(await soon(() => client.get('/p/after').string())).toBe('3');
    // The held transaction's three puts: all committed (etcd got it before it stopped) or none.
    const held = await client.getAll().prefix('/p/held/').count();
    expect([0, 3]).toContain(held);
  });
});
