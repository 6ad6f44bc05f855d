import http2 from 'node:http2';

/**
 * A gRPC unary call written straight onto node:http2, for the data path's etcd transactions
 * (wire.ts writeTxn). grpc-js's channel layers (resolving, retrying, load-balancing and subchannel
 * calls, metadata objects) cost ~250 µs of CPU a call over HTTP/2 itself, ~2 µs a row at 127 rows a
 * transaction (bench/README.md): a fifth of what tributary spends a change on the etcd replay.
 *
 * Only the call is done here. Which endpoint, its circuit breaker, the retries, the auth token and
 * the error classes stay with the etcd3 client's pool, which calls this as it would call grpc-js:
 * it hands over the endpoint's address and the call's metadata (the token), and gets back either the
 * response message or an Error shaped as grpc-js's (`code`, `details`, and the message
 * `<code> <NAME>: <details>`, which etcd3's castGrpcError reads).
 *
 * One HTTP/2 session per endpoint, opened on first use and dropped when it fails or the server
 * goes away; the next call opens another. Sessions do not keep the process alive; close() ends them.
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
  const { NGHTTP2_REFUSED_STREAM, NGHTTP2_CANCEL, NGHTTP2_ENHANCE_YOUR_CALM, NGHTTP2_INADEQUATE_SECURITY } = http2.constants;
  switch (code) {
    case NGHTTP2_REFUSED_STREAM:
      return { code: UNAVAILABLE, details: 'Stream refused by server' };
    case NGHTTP2_CANCEL:
      return { code: 1, details: 'Call cancelled' };
    case NGHTTP2_ENHANCE_YOUR_CALM:
      return { code: 8, details: 'Bandwidth exhausted or memory limit exceeded' };
    case NGHTTP2_INADEQUATE_SECURITY:
      return { code: 7, details: 'Protocol not secure enough' };
    default:
      return { code: INTERNAL, details: `Received RST_STREAM with code ${code}` };
  }
}

/** grpc-message is percent-encoded (gRPC over HTTP/2); a malformed one is shown as it came. */
function decodeMessage(raw: string | string[] | undefined): string {
  const text = Array.isArray(raw) ? raw.join(',') : (raw ?? '');
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

/** Sessions that connected (a call failing on one that never did says "No connection established", as grpc-js does). */
const connected = new WeakSet<http2.ClientHttp2Session>();

export class UnaryChannel {
  private readonly sessions = new Map<string, http2.ClientHttp2Session>();
  private closed = false;

  constructor(private readonly tls: UnaryTls | undefined) {}

  /**
   * Calls `path` on the endpoint `authority` (host:port) with `message` (encoded) and `metadata`
   * (header name → value); resolves to the response message, rejects with a UnaryError.
   */
  call(authority: string, path: string, metadata: Readonly<Record<string, string>>, message: Buffer): Promise<Buffer> {
    const frame = Buffer.allocUnsafe(GRPC_PREFIX + message.length);
    message.copy(frame, GRPC_PREFIX);
    return this.callFramed(authority, path, metadata, writeGrpcPrefix(frame));
  }

  /**
   * call() with the message already framed as gRPC sends it: its prefix (writeGrpcPrefix), then
   * the message (wire.ts encodeTxnMessage writes both at once).
   */
  callFramed(authority: string, path: string, metadata: Readonly<Record<string, string>>, frame: Buffer): Promise<Buffer> {
    return new Promise<Buffer>((resolve, reject) => {
      if (this.closed) {
        reject(unaryError(1, 'the channel was closed'));
        return;
      }
      let session: http2.ClientHttp2Session;
      try {
        session = this.sessionOf(authority);
      } catch (err) {
        reject(unaryError(UNAVAILABLE, `No connection established. Last error: ${(err as Error).message}`));
        return;
      }
      const headers: http2.OutgoingHttpHeaders = { ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers', ...metadata };
      let stream: http2.ClientHttp2Stream;
      try {
        stream = session.request(headers);
      } catch (err) {
        this.drop(authority, session);
        reject(unaryError(UNAVAILABLE, `Connection dropped (${(err as Error).message})`));
        return;
      }
      const chunks: Buffer[] = [];
      let settled = false;
      const settle = (err: UnaryError | null, body?: Buffer) => {
        if (settled) return;
        settled = true;
        if (err) reject(err);
        else resolve(body as Buffer);
      };
      /** The call's end once its gRPC status is known (in the headers of a trailers-only response, or the trailers). */
      const finish = (h: http2.IncomingHttpHeaders) => {
        const raw = h['grpc-status'];
        if (raw === undefined) return false;
        const code = Number(raw);
        if (code !== 0) {
          settle(unaryError(Number.isInteger(code) ? code : UNKNOWN, decodeMessage(h['grpc-message'])));
          return true;
        }
        try {
          settle(null, messageOf(Buffer.concat(chunks)));
        } catch (err) {
          settle(err as UnaryError);
        }
        return true;
      };
      stream.on('response', (h) => {
        const httpStatus = Number(h[':status']);
        if (httpStatus !== 200) settle(unaryError(statusOfHttp(httpStatus), `Received HTTP status code ${httpStatus}`));
        else finish(h);
      });
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('trailers', (h) => {
        if (!finish(h)) settle(unaryError(UNKNOWN, 'the response ended without a gRPC status'));
      });
      /** The stream ended without a gRPC status: reset by the server, or its session failed or went away. */
      const ended = (err?: Error) => {
        if (settled) return;
        if (!connected.has(session)) {
          this.drop(authority, session);
          settle(unaryError(UNAVAILABLE, `No connection established. Last error: ${err?.message ?? 'the connection closed'}`));
          return;
        }
        if (session.destroyed || session.closed) {
          this.drop(authority, session);
          settle(unaryError(UNAVAILABLE, `Connection dropped${err ? ` (${err.message})` : ''}`));
          return;
        }
        const reset = stream.rstCode;
        if (reset !== undefined && reset !== http2.constants.NGHTTP2_NO_ERROR) {
          const s = statusOfReset(reset);
          settle(unaryError(s.code, s.details));
        } else settle(unaryError(UNKNOWN, 'the response ended without a gRPC status'));
      };
      stream.on('error', ended);
      stream.on('close', () => ended());
      stream.end(frame);
    });
  }

  /** Ends every session; calls after it fail (CANCELLED). */
  close(): void {
    this.closed = true;
    for (const s of this.sessions.values()) s.destroy();
    this.sessions.clear();
  }

  private sessionOf(authority: string): http2.ClientHttp2Session {
    const known = this.sessions.get(authority);
    if (known && !known.closed && !known.destroyed) return known;
    const tls = this.tls;
    const session = tls
      ? http2.connect(`https://${authority}`, { ...(tls.ca ? { ca: tls.ca } : {}), ...(tls.cert ? { cert: tls.cert } : {}), ...(tls.key ? { key: tls.key } : {}), ALPNProtocols: ['h2'] })
      : http2.connect(`http://${authority}`);
    session.once('connect', () => connected.add(session));
    // Its failures reach the calls on it (their streams' errors); the session itself is dropped.
    session.on('error', () => this.drop(authority, session));
    session.on('goaway', () => this.drop(authority, session));
    session.on('close', () => this.drop(authority, session));
    session.unref();
    this.sessions.set(authority, session);
    return session;
  }

  /** Forgets a session that failed or is going away (its open streams end on their own); the next call opens another. */
  private drop(authority: string, session: http2.ClientHttp2Session): void {
    if (this.sessions.get(authority) === session) this.sessions.delete(authority);
    if (!session.closed && !session.destroyed) session.close();
  }
}
