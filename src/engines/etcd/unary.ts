import { H2_CANCEL, H2_ENHANCE_YOUR_CALM, H2_INADEQUATE_SECURITY, H2_NO_ERROR, H2_REFUSED_STREAM, H2Session, type H2Handler, type Keepalive } from './h2.js';

/**
 * A gRPC unary call written straight onto HTTP/2 (h2.ts, on a socket of its own), for the data
 * path's etcd transactions (wire.ts writeTxn). grpc-js's channel layers (resolving, retrying,
 * load-balancing and subchannel calls, metadata objects) cost ~250 µs of CPU a call over HTTP/2
 * itself, and node:http2's request another ~90 µs where h2.ts spends ~20 (bench/README.md).
 *
 * Only the call is done here, and its deadline (the grpc-js call option the pool passes through:
 * connection.ts CALL_TIMEOUT_MS). Which endpoint, its circuit breaker, the retries, the auth token
 * and the error classes stay with the etcd3 client's pool, which calls this as it would call grpc-js:
 * it hands over the endpoint's address and the call's metadata (the token), and gets back either the
 * response message or an Error shaped as grpc-js's (`code`, `details`, and the message
 * `<code> <NAME>: <details>`, which etcd3's castGrpcError reads).
 *
 * One HTTP/2 connection per endpoint, opened on first use and dropped when it fails or the server
 * goes away; the next call opens another. Connections do not keep the process alive; close() ends them.
 */

/** TLS for every endpoint (connection.ts tlsFiles): absent, plain HTTP/2. */
export interface UnaryTls {
  readonly ca?: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
}

/** gRPC's status codes by number, named as grpc-js names them. */
const STATUS_NAMES = [
  'OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS', 'PERMISSION_DENIED', 'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE', 'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED',
] as const;
const UNKNOWN = 2;
const DEADLINE_EXCEEDED = 4;
const INTERNAL = 13;
const UNAVAILABLE = 14;

/** An error as grpc-js reports a call's status. */
export interface UnaryError extends Error {
  readonly code: number;
  readonly details: string;
}

export function unaryError(code: number, details: string): UnaryError {
  return Object.assign(new Error(`${code} ${STATUS_NAMES[code] ?? 'UNKNOWN'}: ${details}`), { code, details });
}

/** The gRPC status of a response whose HTTP status is not 200, as grpc-js maps it. */
function statusOfHttp(status: number): number {
  switch (status) {
    case 400:
      return INTERNAL;
    case 401:
      return 16;
    case 403:
      return 7;
    case 404:
      return 12;
    case 429:
    case 502:
    case 503:
    case 504:
      return UNAVAILABLE;
    default:
      return UNKNOWN;
  }
}

/** The gRPC status of a stream reset without one, by its HTTP/2 error code, as grpc-js maps it. */
function statusOfReset(code: number): { code: number; details: string } {
  switch (code) {
    case H2_REFUSED_STREAM:
      return { code: UNAVAILABLE, details: 'Stream refused by server' };
    case H2_CANCEL:
      return { code: 1, details: 'Call cancelled' };
    case H2_ENHANCE_YOUR_CALM:
      return { code: 8, details: 'Bandwidth exhausted or memory limit exceeded' };
    case H2_INADEQUATE_SECURITY:
      return { code: 7, details: 'Protocol not secure enough' };
    default:
      return { code: INTERNAL, details: `Received RST_STREAM with code ${code}` };
  }
}

/** grpc-message is percent-encoded (gRPC over HTTP/2); a malformed one is shown as it came. */
function decodeMessage(raw: string | undefined): string {
  const text = raw ?? '';
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** The bytes of a gRPC message's prefix: a compression flag (0: none), then the message's length in 32 bits. */
export const GRPC_PREFIX = 5;

/** Writes the prefix of the message that fills `frame` after GRPC_PREFIX bytes (uncompressed, its length); returns `frame`. */
export function writeGrpcPrefix(frame: Buffer): Buffer {
  frame[0] = 0;
  frame.writeUInt32BE(frame.length - GRPC_PREFIX, 1);
  return frame;
}

/** The one message of a unary response's body: the 5-byte gRPC prefix (uncompressed), then the message. */
export function messageOf(body: Buffer): Buffer {
  if (body.length < GRPC_PREFIX) throw unaryError(INTERNAL, `a response of ${body.length} bytes, without a whole gRPC message`);
  if (body[0] !== 0) throw unaryError(INTERNAL, 'a compressed response, which this call did not accept');
  const length = body.readUInt32BE(1);
  if (body.length !== GRPC_PREFIX + length) throw unaryError(INTERNAL, `a response of ${body.length - GRPC_PREFIX} bytes whose gRPC prefix says ${length}`);
  return body.subarray(GRPC_PREFIX);
}

export class UnaryChannel {
  private readonly sessions = new Map<string, H2Session>();
  private closed = false;

  /** `keepalive`: how a silent connection is found dead (h2.ts KEEPALIVE by default; tests shorten it). */
  constructor(
    private readonly tls: UnaryTls | undefined,
    private readonly keepalive?: Keepalive,
  ) {}

  /**
   * Calls `path` on the endpoint `authority` (host:port) with `message` (encoded) and `metadata`
   * (header name → value); resolves to the response message, rejects with a UnaryError.
   * `deadline` (a time, as grpc-js's call option): the call fails DEADLINE_EXCEEDED unless answered
   * by then; the server is told (grpc-timeout) and the stream reset when it passes.
   */
  call(authority: string, path: string, metadata: Readonly<Record<string, string>>, message: Buffer, deadline?: Date | number): Promise<Buffer> {
    const frame = Buffer.allocUnsafe(GRPC_PREFIX + message.length);
    message.copy(frame, GRPC_PREFIX);
    return this.callFramed(authority, path, metadata, writeGrpcPrefix(frame), deadline);
  }

  /**
   * call() with the message already framed as gRPC sends it: its prefix (writeGrpcPrefix), then
   * the message (wire.ts encodeTxnMessage writes both at once).
   */
  callFramed(authority: string, path: string, metadata: Readonly<Record<string, string>>, frame: Buffer, deadline?: Date | number): Promise<Buffer> {
    return new Promise<Buffer>((resolve, reject) => {
      if (this.closed) {
        reject(unaryError(1, 'the channel was closed'));
        return;
      }
      const left = deadline === undefined ? undefined : Math.ceil(Number(deadline) - Date.now());
      if (left !== undefined && left <= 0) {
        reject(unaryError(DEADLINE_EXCEEDED, 'Deadline exceeded'));
        return;
      }
      let session: H2Session;
      try {
        session = this.sessionOf(authority);
      } catch (err) {
        reject(unaryError(UNAVAILABLE, `No connection established. Last error: ${(err as Error).message}`));
        return;
      }
      const fields: [string, string][] = [[':path', path], [':authority', authority], ['content-type', 'application/grpc'], ['te', 'trailers']];
      // gRPC's TimeoutValue holds at most 8 digits.
      if (left !== undefined) fields.push(['grpc-timeout', left < 1e8 ? `${left}m` : `${Math.min(Math.ceil(left / 1000), 99_999_999)}S`]);
      for (const name in metadata) fields.push([name.toLowerCase(), metadata[name] as string]);
      const call = new UnaryCall(resolve, reject);
      session.request(fields, frame, call);
      if (left !== undefined) call.expireAfter(left, () => session.cancel(call));
    });
  }

  /** Ends every session; calls after it fail (CANCELLED). */
  close(): void {
    this.closed = true;
    const sessions = [...this.sessions.values()];
    this.sessions.clear();
    for (const s of sessions) s.close();
  }

  private sessionOf(authority: string): H2Session {
    const known = this.sessions.get(authority);
    if (known?.usable) return known;
    // Its failures reach the calls on it; once it can take no new call, the next call opens another.
    const session: H2Session = new H2Session(authority, {
      ...(this.tls ? { tls: this.tls } : {}),
      ...(this.keepalive ? { keepalive: this.keepalive } : {}),
      onGone: () => {
        if (this.sessions.get(authority) === session) this.sessions.delete(authority);
      },
    });
    this.sessions.set(authority, session);
    return session;
  }
}

/** One call's response as it comes: its status from the headers of a trailers-only response, or the trailers. */
class UnaryCall implements H2Handler {
  private readonly chunks: Buffer[] = [];
  private settled = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly onMessage: (message: Buffer) => void,
    private readonly onError: (err: UnaryError) => void,
  ) {}

  headers(h: Readonly<Record<string, string>>, end: boolean): void {
    const httpStatus = Number(h[':status']);
    if (httpStatus !== 200) this.settle(unaryError(statusOfHttp(httpStatus), `Received HTTP status code ${httpStatus}`));
    else if (!this.finish(h) && end) this.settle(unaryError(UNKNOWN, 'the response ended without a gRPC status'));
  }

  data(chunk: Buffer): void {
    this.chunks.push(chunk);
  }

  trailers(h: Readonly<Record<string, string>>): void {
    if (!this.finish(h)) this.settle(unaryError(UNKNOWN, 'the response ended without a gRPC status'));
  }

  ended(): void {
    this.settle(unaryError(UNKNOWN, 'the response ended without a gRPC status'));
  }

  /** Fails the call DEADLINE_EXCEEDED unless it ended within `ms`; `cancel` then gives up its stream. */
  expireAfter(ms: number, cancel: () => void): void {
    if (this.settled) return;
    this.timer = setTimeout(() => {
      if (this.settled) return;
      cancel();
      this.settle(unaryError(DEADLINE_EXCEEDED, 'Deadline exceeded'));
    }, ms);
    // As the connection: a call waiting does not keep the process alive.
    this.timer.unref();
  }

  reset(code: number): void {
    if (code === H2_NO_ERROR) {
      this.ended();
      return;
    }
    const s = statusOfReset(code);
    this.settle(unaryError(s.code, s.details));
  }

  failed(err: Error, connected: boolean): void {
    this.settle(unaryError(UNAVAILABLE, connected ? `Connection dropped (${err.message})` : `No connection established. Last error: ${err.message}`));
  }

  /** The call's end once its gRPC status is known; false while it is not. */
  private finish(h: Readonly<Record<string, string>>): boolean {
    const raw = h['grpc-status'];
    if (raw === undefined) return false;
    const code = Number(raw);
    if (code !== 0) {
      this.settle(unaryError(Number.isInteger(code) ? code : UNKNOWN, decodeMessage(h['grpc-message'])));
      return true;
    }
    let message: Buffer;
    try {
      message = messageOf(this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks));
    } catch (err) {
      this.settle(err as UnaryError);
      return true;
    }
    if (this.end()) this.onMessage(message);
    return true;
  }

  private settle(err: UnaryError): void {
    if (this.end()) this.onError(err);
  }

  /** Marks the call ended, its timer stopped: true the first time, when its outcome is to be told. */
  private end(): boolean {
    if (this.settled) return false;
    this.settled = true;
    if (this.timer) clearTimeout(this.timer);
    return true;
  }
}
