/**
 * unary.ts, the data path's gRPC call written straight onto node:http2, against a real HTTP/2
 * server playing etcd's side of gRPC: the request as gRPC frames it, the response's message, every
 * way a status comes back (trailers, trailers-only, an HTTP status, a stream reset, no server at
 * all), a server going away, and the errors as the etcd3 client's pool must see them (castGrpcError:
 * its retries, its token renewal, and connection.ts connectError's messages key on them).
 */
import http2 from 'node:http2';
import net, { type AddressInfo } from 'node:net';
import { castGrpcError, EtcdInvalidAuthTokenError, GRPCResourceExhastedError, GRPCUnavailableError, isRecoverableError } from 'etcd3';
import { afterEach, describe, expect, it } from 'vitest';
import { parseDsn } from '../../src/config/dsn.js';
import { connectError } from '../../src/engines/etcd/connection.js';
import { messageOf, UnaryChannel, unaryError, type UnaryError } from '../../src/engines/etcd/unary.js';

type Handler = (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, body: Buffer) => void;

const servers: http2.Http2Server[] = [];
const serverSessions = new Set<http2.ServerHttp2Session>();
const channels: UnaryChannel[] = [];

afterEach(async () => {
  for (const c of channels.splice(0)) c.close();
  for (const s of serverSessions) s.destroy();
  serverSessions.clear();
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
});

/** An HTTP/2 server whose every stream `handler` answers once the request body is in; its sessions are counted. */
async function serve(handler: Handler, options: http2.ServerOptions = {}): Promise<{ authority: string; sessions: () => number; server: http2.Http2Server }> {
  const server = http2.createServer(options);
  let sessions = 0;
  server.on('session', (s) => {
    sessions++;
    serverSessions.add(s);
    s.on('error', () => {});
  });
  server.on('stream', (stream, headers) => {
    const parts: Buffer[] = [];
    stream.on('data', (d: Buffer) => parts.push(d));
    stream.on('end', () => handler(stream, headers, Buffer.concat(parts)));
    stream.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return { authority: `127.0.0.1:${(server.address() as AddressInfo).port}`, sessions: () => sessions, server };
}

/** A message as gRPC frames it: uncompressed, its length in 4 bytes big-endian, the message. */
function framed(message: Buffer): Buffer {
  const out = Buffer.alloc(5 + message.length);
  out.writeUInt32BE(message.length, 1);
  message.copy(out, 5);
  return out;
}

/** Answers with `message` and status 0, as a gRPC server does. */
const ok = (message: Buffer): Handler => (stream) => {
  stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
  stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
  stream.end(framed(message));
};

function channel(): UnaryChannel {
  const c = new UnaryChannel(undefined);
  channels.push(c);
  return c;
}

async function failure(p: Promise<unknown>): Promise<UnaryError> {
  try {
    await p;
  } catch (err) {
    return err as UnaryError;
  }
  throw new Error('the call succeeded');
}

describe('a gRPC unary call on HTTP/2 (h2.ts)', () => {
  it('frames the request as gRPC does, with the call metadata as headers, and returns the response message', async () => {
    let seen: { headers: http2.IncomingHttpHeaders; body: Buffer } | undefined;
    const { authority } = await serve((stream, headers, body) => {
      seen = { headers, body };
      ok(Buffer.from('response bytes'))(stream, headers, body);
    });
    const message = Buffer.from('request bytes');
    const got = await channel().call(authority, '/etcdserverpb.KV/Txn', { token: 'T0k3n' }, message);
    expect(got.toString()).toBe('response bytes');
    expect(seen?.headers[':method']).toBe('POST');
    expect(seen?.headers[':path']).toBe('/etcdserverpb.KV/Txn');
    expect(seen?.headers['content-type']).toBe('application/grpc');
    expect(seen?.headers.te).toBe('trailers');
    expect(seen?.headers.token).toBe('T0k3n');
    expect(seen?.body).toEqual(framed(message));
  });

  it('sends a message framed ahead (callFramed) as it is', async () => {
    let body: Buffer | undefined;
    const { authority } = await serve((stream, headers, b) => {
      body = b;
      ok(Buffer.from('r'))(stream, headers, b);
    });
    const frame = framed(Buffer.alloc(70_000, 0x61));
    expect(String(await channel().callFramed(authority, '/p', {}, frame))).toBe('r');
    expect(body).toEqual(frame);
  });

  it('reuses one session for every call to an endpoint, in flight together', async () => {
    const { authority, sessions } = await serve(ok(Buffer.from('x')));
    const c = channel();
    const all = await Promise.all(Array.from({ length: 20 }, () => c.call(authority, '/p', {}, Buffer.from('m'))));
    expect(all.map(String)).toEqual(Array.from({ length: 20 }, () => 'x'));
    expect(sessions()).toBe(1);
  });

  it("rejects with the status of the trailers, the message percent-decoded, worded as grpc-js words it", async () => {
    const { authority } = await serve((stream) => {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '3', 'grpc-message': 'etcdserver%3A too many operations in txn request' }));
      stream.end();
    });
    const err = await failure(channel().call(authority, '/p', {}, Buffer.from('m')));
    expect(err.code).toBe(3);
    expect(err.message).toBe('3 INVALID_ARGUMENT: etcdserver: too many operations in txn request');
  });

  it('rejects with the status of a trailers-only response', async () => {
    const { authority } = await serve((stream) => stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '16', 'grpc-message': 'etcdserver: invalid auth token' }, { endStream: true }));
    const err = await failure(channel().call(authority, '/p', {}, Buffer.from('m')));
    expect(err.message).toBe('16 UNAUTHENTICATED: etcdserver: invalid auth token');
  });

  it('an HTTP status other than 200, a stream refused, and no server are UNAVAILABLE or what grpc-js makes of them', async () => {
    const http = await serve((stream) => stream.respond({ ':status': 503 }, { endStream: true }));
    expect((await failure(channel().call(http.authority, '/p', {}, Buffer.from('m')))).message).toBe('14 UNAVAILABLE: Received HTTP status code 503');
    const refused = await serve((stream) => stream.close(http2.constants.NGHTTP2_REFUSED_STREAM));
    expect((await failure(channel().call(refused.authority, '/p', {}, Buffer.from('m')))).message).toBe('14 UNAVAILABLE: Stream refused by server');
    const reset = await serve((stream) => stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR));
    expect((await failure(channel().call(reset.authority, '/p', {}, Buffer.from('m')))).message).toBe('13 INTERNAL: Received RST_STREAM with code 2');
    // A port nothing listens on (taken, then let go).
    const gone = await serve(ok(Buffer.from('x')));
    await new Promise<void>((resolve) => gone.server.close(() => resolve()));
    const none = await failure(channel().call(gone.authority, '/p', {}, Buffer.from('m')));
    expect(none.code).toBe(14);
    expect(none.message).toMatch(/^14 UNAVAILABLE: No connection established\. Last error: .*ECONNREFUSED/);
  });

  it('a response that is not one whole uncompressed gRPC message is INTERNAL', async () => {
    const { authority } = await serve((stream) => {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.end(Buffer.from([0, 0, 0, 0, 9, 1, 2]));
    });
    expect((await failure(channel().call(authority, '/p', {}, Buffer.from('m')))).message).toBe('13 INTERNAL: a response of 2 bytes whose gRPC prefix says 9');
    expect(() => messageOf(Buffer.from([1, 0, 0, 0, 0]))).toThrow('a compressed response');
    expect(() => messageOf(Buffer.from([0, 0]))).toThrow('without a whole gRPC message');
  });

  it('a server that goes away: the call in flight still completes, and the next call opens a new session', async () => {
    const { authority, sessions } = await serve((stream, headers, body) => {
      ok(Buffer.from('x'))(stream, headers, body);
      stream.session?.goaway();
    });
    const c = channel();
    expect(String(await c.call(authority, '/p', {}, Buffer.from('m')))).toBe('x');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(String(await c.call(authority, '/p', {}, Buffer.from('m')))).toBe('x');
    expect(sessions()).toBe(2);
  });

  it('after close(), calls fail as cancelled and no session is opened', async () => {
    const { authority, sessions } = await serve(ok(Buffer.from('x')));
    const c = channel();
    await c.call(authority, '/p', {}, Buffer.from('m'));
    c.close();
    expect((await failure(c.call(authority, '/p', {}, Buffer.from('m')))).message).toBe('1 CANCELLED: the channel was closed');
    expect(sessions()).toBe(1);
  });

  it("its errors are the etcd3 client's: an expired token renews, UNAVAILABLE is retried, a full cluster and a large request are named", () => {
    const dsn = parseDsn('etcd://127.0.0.1:2379/p', 'target');
    expect(castGrpcError(unaryError(16, 'etcdserver: invalid auth token'))).toBeInstanceOf(EtcdInvalidAuthTokenError);
    const unavailable = castGrpcError(unaryError(14, 'No connection established. Last error: connect ECONNREFUSED 127.0.0.1:2379'));
    expect(unavailable).toBeInstanceOf(GRPCUnavailableError);
    expect(isRecoverableError(unavailable)).toBe(true);
    expect(connectError(unavailable, dsn, 'target').message).toMatch(/no endpoint answered/);
    const full = castGrpcError(unaryError(8, 'etcdserver: mvcc: database space exceeded'));
    expect(full).toBeInstanceOf(GRPCResourceExhastedError);
    expect(connectError(full, dsn, 'target').message).toMatch(/out of space .*--quota-backend-bytes/);
    expect(connectError(castGrpcError(unaryError(3, 'etcdserver: too many operations in txn request')), dsn, 'target').message).toMatch(/--max-txn-ops/);
    expect(connectError(castGrpcError(unaryError(3, 'etcdserver: request is too large')), dsn, 'target').message).toMatch(/--max-request-bytes/);
  });

  it("waits for the server's windows: a body larger than a small initial window arrives whole", async () => {
    const bodies: Buffer[] = [];
    const { authority } = await serve(
      (stream, headers, b) => {
        bodies.push(b);
        ok(Buffer.from('r'))(stream, headers, b);
      },
      { settings: { initialWindowSize: 1024 } },
    );
    const frame = framed(Buffer.from(Array.from({ length: 300_000 }, (_, i) => i % 251)));
    const c = channel();
    const answers = await Promise.all([c.callFramed(authority, '/p', {}, frame), c.callFramed(authority, '/p', {}, framed(Buffer.from('small')))]);
    expect(answers.map(String)).toEqual(['r', 'r']);
    expect(bodies.some((b) => b.equals(frame))).toBe(true);
    expect(bodies.some((b) => b.equals(framed(Buffer.from('small'))))).toBe(true);
  });

  it("keeps to the server's SETTINGS_MAX_CONCURRENT_STREAMS: the calls beyond it wait for a stream and all complete", async () => {
    let open = 0;
    let most = 0;
    const { authority } = await serve(
      (stream, headers, b) => {
        open++;
        most = Math.max(most, open);
        setTimeout(() => {
          open--;
          ok(Buffer.from('x'))(stream, headers, b);
        }, 5);
      },
      { settings: { maxConcurrentStreams: 2 } },
    );
    const c = channel();
    // The first call opens the connection; the server's SETTINGS are in before the rest.
    await c.call(authority, '/p', {}, Buffer.from('m'));
    const all = await Promise.all(Array.from({ length: 12 }, () => c.call(authority, '/p', {}, Buffer.from('m'))));
    expect(all.map(String)).toEqual(Array.from({ length: 12 }, () => 'x'));
    expect(most).toBe(2);
  });

  it('reads headers that span CONTINUATION frames, padded frames, and a response larger than its stream window', async () => {
    const big = Buffer.alloc(6 * 1024 * 1024, 0x62);
    const long = 'v'.repeat(40_000);
    const { authority } = await serve(
      (stream) => {
        stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'x-long': long }, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0', 'x-long-too': long }));
        stream.end(framed(big));
      },
      { paddingStrategy: http2.constants.PADDING_STRATEGY_MAX, maxSendHeaderBlockLength: 200_000 },
    );
    const got = await channel().call(authority, '/p', {}, Buffer.from('m'));
    expect(got.length).toBe(big.length);
    expect(got.equals(big)).toBe(true);
  });

  it('a GOAWAY naming an earlier stream as the last: the calls after it fail UNAVAILABLE (the pool may send them again), the others complete', async () => {
    let first: http2.ServerHttp2Stream | undefined;
    const { authority } = await serve((stream, headers, b) => {
      if (!first) {
        first = stream;
        return;
      }
      // The second call arrived: the server stops at the first one, then answers it.
      const s = first;
      s.session?.goaway(http2.constants.NGHTTP2_NO_ERROR, s.id as number);
      ok(Buffer.from('first'))(s, headers, b);
    });
    const c = channel();
    const one = c.call(authority, '/p', {}, Buffer.from('m'));
    await new Promise((resolve) => setTimeout(resolve, 50));
    const two = failure(c.call(authority, '/p', {}, Buffer.from('m')));
    expect(String(await one)).toBe('first');
    const err = await two;
    expect(err.code).toBe(14);
    expect(err.message).toMatch(/^14 UNAVAILABLE: Connection dropped \(the server went away \(GOAWAY code 0/);
  });

  it("answers the server's PING", async () => {
    let pinged: Promise<number> | undefined;
    const { authority } = await serve((stream, headers, b) => {
      const session = stream.session as http2.ServerHttp2Session;
      pinged = new Promise((resolve, reject) => session.ping((err, ms) => (err ? reject(err) : resolve(ms))));
      ok(Buffer.from('x'))(stream, headers, b);
    });
    await channel().call(authority, '/p', {}, Buffer.from('m'));
    expect(await pinged).toBeGreaterThanOrEqual(0);
  });

  it('a connection gone silent while a call waits is found dead by a PING left unanswered: the call fails UNAVAILABLE (the pool retries it on a new one)', async () => {
    // A server that says its SETTINGS, then nothing more: a peer cut off without a word.
    const sockets: net.Socket[] = [];
    const mute = net.createServer((socket) => {
      sockets.push(socket);
      socket.on('error', () => {});
      socket.write(Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]));
    });
    await new Promise<void>((resolve) => mute.listen(0, '127.0.0.1', resolve));
    try {
      const c = new UnaryChannel(undefined, { silentMs: 100, answerMs: 150 });
      channels.push(c);
      const t0 = performance.now();
      const err = await failure(c.call(`127.0.0.1:${(mute.address() as AddressInfo).port}`, '/p', {}, Buffer.from('m')));
      expect(err.code).toBe(14);
      expect(err.message).toMatch(/^14 UNAVAILABLE: Connection dropped \(the server answered no PING within 0\.15 s after 0\.1 s of silence/);
      expect(performance.now() - t0).toBeLessThan(5_000);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => mute.close(() => resolve()));
    }
  });

  it('a slow answer on a live connection is waited for: the server answers the PINGs meanwhile', async () => {
    const { authority } = await serve((stream, headers, b) => setTimeout(() => ok(Buffer.from('late'))(stream, headers, b), 800));
    const c = new UnaryChannel(undefined, { silentMs: 100, answerMs: 150 });
    channels.push(c);
    expect(String(await c.call(authority, '/p', {}, Buffer.from('m')))).toBe('late');
  });

  it('a call unanswered by its deadline fails DEADLINE_EXCEEDED (etcd3: recoverable), its stream reset with CANCEL, while the connection serves the next calls', { timeout: 10_000 }, async () => {
    const timeouts: (string | undefined)[] = [];
    const resets: number[] = [];
    const { authority, sessions } = await serve((stream, headers, b) => {
      timeouts.push(headers['grpc-timeout'] as string | undefined);
      // The first call is never answered; the server sees it reset.
      if (timeouts.length === 1) stream.on('close', () => resets.push(stream.rstCode));
      else ok(Buffer.from('next'))(stream, headers, b);
    });
    const c = channel();
    const t0 = performance.now();
    const err = await failure(c.call(authority, '/p', {}, Buffer.from('m'), Date.now() + 300));
    const waited = performance.now() - t0;
    expect([err.code, err.message]).toEqual([4, '4 DEADLINE_EXCEEDED: Deadline exceeded']);
    expect(isRecoverableError(castGrpcError(err))).toBe(true);
    expect(waited).toBeGreaterThanOrEqual(280);
    // The server is told how long the call may take, in milliseconds as gRPC writes it.
    expect(timeouts[0]).toMatch(/^\d{1,3}m$/);
    expect(Number((timeouts[0] as string).slice(0, -1))).toBeLessThanOrEqual(300);
    // Later calls, with and without a deadline, go on the same connection.
    expect(String(await c.call(authority, '/p', {}, Buffer.from('m'), new Date(Date.now() + 5000)))).toBe('next');
    expect(String(await c.call(authority, '/p', {}, Buffer.from('m')))).toBe('next');
    expect(timeouts.slice(1).map((t) => t === undefined)).toEqual([false, true]);
    expect(resets).toEqual([http2.constants.NGHTTP2_CANCEL]);
    expect(sessions()).toBe(1);
  });

  it('a call queued behind SETTINGS_MAX_CONCURRENT_STREAMS past its deadline fails and never starts; a deadline already past fails at once', { timeout: 10_000 }, async () => {
    const started: string[] = [];
    let release: (() => void) | undefined;
    let arrived: () => void = () => undefined;
    const aArrived = new Promise<void>((resolve) => (arrived = resolve));
    const { authority } = await serve(
      (stream, headers, b) => {
        const m = b.subarray(5).toString();
        started.push(m);
        // Call 'a' holds the only stream until released.
        if (m === 'a') {
          release = () => ok(Buffer.from('first'))(stream, headers, b);
          arrived();
        }
        else ok(Buffer.from('later'))(stream, headers, b);
      },
      { settings: { maxConcurrentStreams: 1 } },
    );
    const c = channel();
    // The server's SETTINGS in first.
    await c.call(authority, '/p', {}, Buffer.from('warm'));
    started.length = 0;
    const first = c.call(authority, '/p', {}, Buffer.from('a'));
    // 'a' holds the stream before 'b' is asked for, however slow this machine.
    await aArrived;
    const queued = failure(c.call(authority, '/p', {}, Buffer.from('b'), Date.now() + 200));
    const third = c.call(authority, '/p', {}, Buffer.from('c'));
    expect((await queued).code).toBe(4);
    (release as () => void)();
    expect(String(await first)).toBe('first');
    expect(String(await third)).toBe('later');
    expect(started).toEqual(['a', 'c']);
    expect((await failure(c.call(authority, '/p', {}, Buffer.from('d'), Date.now() - 1))).code).toBe(4);
  });
});
