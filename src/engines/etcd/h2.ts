import net from 'node:net';
import tls from 'node:tls';
import { HpackDecoder, HpackEncoder, HpackError } from './hpack.js';

/**
 * An HTTP/2 client connection (RFC 7540) written on a socket, for unary.ts's gRPC calls: requests
 * of one header block and one body, answered by headers, data and trailers. node:http2 spends
 * ~90 µs of CPU on each such request (an Http2Stream with its two stream states, an AsyncResource
 * bound per request, the nghttp2 session's calls) where this spends ~20 (bench/README.md,
 * 2026-12-07): on an etcd replay, ~8,000 requests per million changes, on the thread that applies them.
 *
 * What it does: the connection preface and SETTINGS (server push off, large receive windows);
 * flow control both ways (a body waits for the server's windows, received data is given back in
 * WINDOW_UPDATEs); the peer's SETTINGS (initial window, frame size, concurrent streams, header
 * table); PING answered; GOAWAY (streams the server will not process fail, the rest complete, no
 * new one starts); RST_STREAM both ways (cancel(): a request given up); HPACK both ways
 * (hpack.ts). What is written in one turn of the event loop goes out in one write, or every
 * 256 KiB (FLUSH_BYTES). What it does not: server push, priorities, trailers on requests, request
 * bodies sent as a stream.
 */

const DATA = 0;
const HEADERS = 1;
const RST_STREAM = 3;
const SETTINGS = 4;
const PUSH_PROMISE = 5;
const PING = 6;
const GOAWAY = 7;
const WINDOW_UPDATE = 8;
const CONTINUATION = 9;

const END_STREAM = 0x1;
const ACK = 0x1;
const END_HEADERS = 0x4;
const PADDED = 0x8;
const PRIORITY = 0x20;

const SETTINGS_HEADER_TABLE_SIZE = 1;
const SETTINGS_ENABLE_PUSH = 2;
const SETTINGS_MAX_CONCURRENT_STREAMS = 3;
const SETTINGS_INITIAL_WINDOW_SIZE = 4;
const SETTINGS_MAX_FRAME_SIZE = 5;

/** HTTP/2 error codes (RFC 7540 §7) named here or by unary.ts (a stream reset as a gRPC status). */
export const H2_NO_ERROR = 0;
const PROTOCOL_ERROR = 1;
const FLOW_CONTROL_ERROR = 3;
const FRAME_SIZE_ERROR = 6;
export const H2_REFUSED_STREAM = 7;
/** Also the code of a request this side gives up on (cancel()). */
export const H2_CANCEL = 8;
const COMPRESSION_ERROR = 9;
export const H2_ENHANCE_YOUR_CALM = 11;
export const H2_INADEQUATE_SECURITY = 12;

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
/** The default initial window (RFC 7540 §6.9.2), the connection's until a WINDOW_UPDATE. */
const DEFAULT_WINDOW = 65_535;
/** What this side lets the server send on a stream, and on the connection, before a WINDOW_UPDATE. */
const STREAM_RECEIVE_WINDOW = 4 * 1024 * 1024;
const CONNECTION_RECEIVE_WINDOW = 16 * 1024 * 1024;
/** The largest frame a server may send without asking (RFC 7540 §4.2): this side never asks for more. */
const MAX_RECEIVED_FRAME = 16_384;
const MAX_STREAM_ID = 2 ** 31 - 1;
const EMPTY = Buffer.alloc(0);
/** Held writes go out once this much is held, before the end of the turn. */
const FLUSH_BYTES = 256 * 1024;

/** What a request hears back, each once at most, in this order: headers, data, then trailers or the end. */
export interface H2Handler {
  /** The response's headers; `end`: the stream ended with them (a trailers-only response). */
  headers(fields: Readonly<Record<string, string>>, end: boolean): void;
  data(chunk: Buffer): void;
  /** The trailers, which end the stream. */
  trailers(fields: Readonly<Record<string, string>>): void;
  /** The stream ended by the server without trailers (a DATA frame's END_STREAM). */
  ended(): void;
  /** The server reset the stream (RST_STREAM) with an HTTP/2 error code. */
  reset(code: number): void;
  /**
   * The connection failed or closed before the stream ended (`connected`: the server's SETTINGS
   * had come), or the server went away without processing it (GOAWAY: it may be sent again).
   */
  failed(err: Error, connected: boolean): void;
}

interface Queued {
  readonly fields: readonly (readonly [string, string])[];
  readonly body: Buffer;
  readonly handler: H2Handler;
}

interface Stream {
  readonly id: number;
  readonly handler: H2Handler;
  /** The body left to send, and how much the server's window for the stream lets go now. */
  body: Buffer;
  sent: number;
  sendWindow: number;
  /** Received DATA not yet given back to the server's window for the stream. */
  unacked: number;
  gotHeaders: boolean;
}

/** Header fields as one object, a repeated name's values joined with ', '. */
function fieldsOf(list: readonly [string, string][]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of list) out[name] = name in out ? `${out[name]}, ${value}` : value;
  return out;
}

function frameHeader(length: number, type: number, flags: number, stream: number): Buffer {
  const h = Buffer.allocUnsafe(9);
  h[0] = length >>> 16;
  h[1] = (length >>> 8) & 0xff;
  h[2] = length & 0xff;
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(stream, 5);
  return h;
}

/** host:port (a v6 address in brackets) → its host and port. */
export function hostPort(authority: string): { host: string; port: number } {
  const at = authority.lastIndexOf(':');
  const host = authority.slice(0, at).replace(/^\[(.*)\]$/, '$1');
  return { host, port: Number(authority.slice(at + 1)) };
}

export interface H2Options {
  /** TLS (ALPN h2) when given: its CA, client certificate and key. */
  readonly tls?: { readonly ca?: Buffer; readonly cert?: Buffer; readonly key?: Buffer };
  /** Called once when the connection can take no new request (closed, failed, or the server going away). */
  readonly onGone: () => void;
  /** How long the server may stay silent while calls wait before a PING asks, and how long it has to answer (KEEPALIVE). */
  readonly keepalive?: Keepalive;
}

export interface Keepalive {
  readonly silentMs: number;
  readonly answerMs: number;
}

/**
 * While calls wait and the server has sent nothing for `silentMs`, a PING asks whether the
 * connection still stands; without an answer within `answerMs` it is taken for dead and its calls
 * fail UNAVAILABLE, which the etcd3 pool retries on a new connection. Without it a connection cut
 * without a word (a network partition, a host gone) would hold its calls until TCP gave up, which
 * takes minutes to hours. etcd's HTTP/2 layer answers a PING however busy its disk is.
 */
export const KEEPALIVE: Keepalive = { silentMs: 10_000, answerMs: 10_000 };

export class H2Session {
  private readonly socket: net.Socket;
  private readonly streams = new Map<number, Stream>();
  private readonly decoder = new HpackDecoder();
  private readonly encoder = new HpackEncoder();
  private nextId = 1;
  /** Whether the server's first SETTINGS came: the connection is up. */
  connected = false;
  /** No new request: closed, failed, out of stream ids, or the server going away. */
  private gone = false;
  private destroyed = false;
  /** Streams waiting for the server's windows to send the rest of their body, oldest first. */
  private blocked: Stream[] = [];
  /** Requests waiting for a stream under the server's SETTINGS_MAX_CONCURRENT_STREAMS, oldest first. */
  private queued: Queued[] = [];
  private sendWindow = DEFAULT_WINDOW;
  private peerInitialWindow = DEFAULT_WINDOW;
  private peerMaxFrame = 16_384;
  private peerMaxStreams = Infinity;
  private receivedUnacked = 0;
  /** A header block arriving in CONTINUATION frames: its stream, flags and fragments. */
  private continuing: { stream: number; end: boolean; parts: Buffer[] } | undefined;
  /** Bytes of an incomplete frame from the last read. */
  private rest: Buffer | undefined;
  private readonly scheme: string;
  /** When the server last sent a frame, the PING awaiting its answer (when sent), and the timer watching both while calls wait. */
  private lastHeard = performance.now();
  private pingSentAt: number | undefined;
  private watch: NodeJS.Timeout | undefined;
  /** Whether the socket is corked until the end of this turn, and the bytes it holds. */
  private corked = false;
  private held = 0;

  constructor(
    readonly authority: string,
    private readonly opts: H2Options,
  ) {
    const { host, port } = hostPort(authority);
    this.scheme = opts.tls ? 'https' : 'http';
    this.socket = opts.tls
      ? tls.connect({ host, port, ...(net.isIP(host) ? {} : { servername: host }), ...opts.tls, ALPNProtocols: ['h2'] })
      : net.connect({ host, port });
    this.socket.setNoDelay(true);
    this.socket.unref();
    if (opts.tls) {
      this.socket.once('secureConnect', () => {
        if ((this.socket as tls.TLSSocket).alpnProtocol !== 'h2') this.fail(new Error(`the server at ${authority} did not agree to HTTP/2 over TLS (ALPN)`));
      });
    }
    this.socket.on('data', (chunk: Buffer) => this.read(chunk));
    this.socket.on('error', (err) => this.fail(err));
    this.socket.on('close', () => this.fail(new Error('the connection closed')));
    const settings = Buffer.allocUnsafe(12);
    settings.writeUInt16BE(SETTINGS_ENABLE_PUSH, 0);
    settings.writeUInt32BE(0, 2);
    settings.writeUInt16BE(SETTINGS_INITIAL_WINDOW_SIZE, 6);
    settings.writeUInt32BE(STREAM_RECEIVE_WINDOW, 8);
    this.write(PREFACE);
    this.write(frameHeader(12, SETTINGS, 0, 0), settings);
    this.windowUpdate(0, CONNECTION_RECEIVE_WINDOW - DEFAULT_WINDOW);
  }

  /** Whether a new request may start here. */
  get usable(): boolean {
    return !this.gone;
  }

  /**
   * Starts a request of `fields` (pseudo-headers first) and `body` (sent whole, ending the stream).
   * Call only while `usable`; `handler` hears what comes back.
   */
  request(fields: readonly (readonly [string, string])[], body: Buffer, handler: H2Handler): void {
    if (this.streams.size >= this.peerMaxStreams || this.queued.length > 0) {
      this.queued.push({ fields, body, handler });
      return;
    }
    this.start(fields, body, handler);
  }

  private start(fields: readonly (readonly [string, string])[], body: Buffer, handler: H2Handler): void {
    const id = this.nextId;
    this.nextId += 2;
    if (this.nextId > MAX_STREAM_ID) this.goneAway();
    const s: Stream = { id, handler, body, sent: 0, sendWindow: this.peerInitialWindow, unacked: 0, gotHeaders: false };
    this.streams.set(id, s);
    this.watch ??= this.watchSilence();
    const block = this.encoder.encode([[':method', 'POST'], [':scheme', this.scheme], ...fields]);
    // One block per request: a server's frame size (16 KiB at least) holds a gRPC call's headers.
    this.write(frameHeader(block.length, HEADERS, END_HEADERS | (body.length === 0 ? END_STREAM : 0), id), block);
    if (body.length > 0 && (this.blocked.length > 0 || !this.send(s))) this.blocked.push(s);
  }

  /**
   * Gives up on the request whose handler is `handler`: a queued one is dropped, a started one
   * reset (RST_STREAM CANCEL) and forgotten, so that its handler hears nothing more. The server
   * may still act on what it received (an etcd transaction may commit all the same).
   */
  cancel(handler: H2Handler): void {
    const q = this.queued.findIndex((x) => x.handler === handler);
    if (q >= 0) {
      this.queued.splice(q, 1);
      return;
    }
    for (const s of this.streams.values()) {
      if (s.handler !== handler) continue;
      const b = this.blocked.indexOf(s);
      if (b >= 0) this.blocked.splice(b, 1);
      const p = Buffer.allocUnsafe(4);
      p.writeUInt32BE(H2_CANCEL, 0);
      this.write(frameHeader(4, RST_STREAM, 0, s.id), p);
      this.forget(s);
      return;
    }
  }

  /** Ends the connection; streams in flight fail. */
  close(): void {
    this.fail(new Error('the connection was closed'));
  }

  /** Sends what the windows let of `s`'s body; true once all of it went. */
  private send(s: Stream): boolean {
    while (s.sent < s.body.length) {
      const n = Math.min(s.body.length - s.sent, this.peerMaxFrame, this.sendWindow, s.sendWindow);
      if (n <= 0) return false;
      const end = s.sent + n === s.body.length;
      this.write(frameHeader(n, DATA, end ? END_STREAM : 0, s.id), s.body.subarray(s.sent, s.sent + n));
      s.sent += n;
      this.sendWindow -= n;
      s.sendWindow -= n;
    }
    // Sent: the body is not held any longer.
    s.body = EMPTY;
    s.sent = 0;
    return true;
  }

  /** Sends the blocked bodies, in order, as far as the windows now let them. */
  private unblock(): void {
    while (this.blocked.length > 0) {
      const s = this.blocked[0] as Stream;
      if (this.streams.get(s.id) === s && !this.send(s)) return;
      this.blocked.shift();
    }
  }

  /**
   * Writes a frame's header and payload. What is written in one turn of the event loop goes out in
   * one write at its end (the socket stays corked until then), or once FLUSH_BYTES are held: a
   * caller that keeps the thread busy (the applier taking events in microtasks) still has its
   * requests reach the server meanwhile.
   */
  private write(a: Buffer, b?: Buffer): void {
    if (this.destroyed) return;
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(() => this.flush());
    }
    this.socket.write(a);
    this.held += a.length;
    if (b !== undefined && b.length > 0) {
      this.socket.write(b);
      this.held += b.length;
    }
    if (this.held >= FLUSH_BYTES) {
      this.socket.uncork();
      this.socket.cork();
      this.held = 0;
    }
  }

  private flush(): void {
    if (!this.corked) return;
    this.corked = false;
    this.held = 0;
    this.socket.uncork();
  }

  /** The keepalive's timer (KEEPALIVE): runs while calls wait, stops once none does. */
  private watchSilence(): NodeJS.Timeout {
    const { silentMs, answerMs } = this.opts.keepalive ?? KEEPALIVE;
    const timer = setInterval(() => {
      const now = performance.now();
      if (this.pingSentAt !== undefined) {
        if (now - this.pingSentAt > answerMs) this.fail(new Error(`the server answered no PING within ${answerMs / 1000} s after ${silentMs / 1000} s of silence; the connection is taken for dead`));
        return;
      }
      if (this.streams.size === 0 && this.queued.length === 0) {
        clearInterval(timer);
        this.watch = undefined;
        return;
      }
      if (now - this.lastHeard > silentMs) {
        this.pingSentAt = now;
        this.write(frameHeader(8, PING, 0, 0), Buffer.alloc(8));
      }
    }, Math.max(10, Math.min(silentMs, answerMs) / 4));
    timer.unref();
    return timer;
  }

  private windowUpdate(stream: number, increment: number): void {
    const p = Buffer.allocUnsafe(4);
    p.writeUInt32BE(increment, 0);
    this.write(frameHeader(4, WINDOW_UPDATE, 0, stream), p);
  }

  private read(chunk: Buffer): void {
    let b = chunk;
    if (this.rest !== undefined) {
      b = Buffer.concat([this.rest, chunk]);
      this.rest = undefined;
    }
    let at = 0;
    try {
      while (b.length - at >= 9 && !this.destroyed) {
        const length = ((b[at] as number) << 16) | ((b[at + 1] as number) << 8) | (b[at + 2] as number);
        if (length > MAX_RECEIVED_FRAME) throw new H2ConnectionError(FRAME_SIZE_ERROR, `a frame of ${length} bytes, above the ${MAX_RECEIVED_FRAME} allowed`);
        if (b.length - at < 9 + length) break;
        const type = b[at + 3] as number;
        const flags = b[at + 4] as number;
        const stream = b.readUInt32BE(at + 5) & 0x7fffffff;
        const payload = b.subarray(at + 9, at + 9 + length);
        at += 9 + length;
        this.lastHeard = performance.now();
        this.frame(type, flags, stream, payload);
      }
    } catch (err) {
      const code = err instanceof H2ConnectionError ? err.code : err instanceof HpackError ? COMPRESSION_ERROR : PROTOCOL_ERROR;
      this.sendGoaway(code);
      this.fail(err as Error, true);
      return;
    }
    if (at < b.length) this.rest = b.subarray(at);
  }

  private frame(type: number, flags: number, id: number, payload: Buffer): void {
    if (this.continuing !== undefined && type !== CONTINUATION) throw new H2ConnectionError(PROTOCOL_ERROR, `a frame of type ${type} inside a header block`);
    switch (type) {
      case DATA:
        return this.onData(flags, id, payload);
      case HEADERS: {
        let start = 0;
        let end = payload.length;
        if (flags & PADDED) {
          end -= payload[0] as number;
          start = 1;
        }
        if (flags & PRIORITY) start += 5;
        if (start > end) throw new H2ConnectionError(PROTOCOL_ERROR, 'a HEADERS frame shorter than its padding');
        this.continuing = { stream: id, end: (flags & END_STREAM) !== 0, parts: [payload.subarray(start, end)] };
        if (flags & END_HEADERS) this.headerBlock();
        return;
      }
      case CONTINUATION:
        if (this.continuing?.stream !== id) throw new H2ConnectionError(PROTOCOL_ERROR, 'a CONTINUATION frame outside a header block');
        this.continuing.parts.push(payload);
        if (flags & END_HEADERS) this.headerBlock();
        return;
      case RST_STREAM: {
        const s = this.streams.get(id);
        if (s) {
          this.forget(s);
          s.handler.reset(payload.length >= 4 ? payload.readUInt32BE(0) : PROTOCOL_ERROR);
        }
        return;
      }
      case SETTINGS:
        if (!(flags & ACK)) this.onSettings(payload);
        return;
      case PUSH_PROMISE:
        throw new H2ConnectionError(PROTOCOL_ERROR, 'a PUSH_PROMISE, though server push was turned off');
      case PING:
        if (!(flags & ACK)) this.write(frameHeader(payload.length, PING, ACK, 0), Buffer.from(payload));
        else this.pingSentAt = undefined;
        return;
      case GOAWAY:
        return this.onGoaway(payload);
      case WINDOW_UPDATE: {
        const increment = payload.readUInt32BE(0) & 0x7fffffff;
        if (id === 0) this.sendWindow += increment;
        else {
          const s = this.streams.get(id);
          if (s) s.sendWindow += increment;
        }
        this.unblock();
        return;
      }
      default:
      // PRIORITY, and frame types this side does not know, are ignored (RFC 7540 §4.1).
    }
  }

  private onData(flags: number, id: number, payload: Buffer): void {
    // Flow control counts the whole frame, padding included, whether or not the stream is still known.
    this.receivedUnacked += payload.length;
    if (this.receivedUnacked >= CONNECTION_RECEIVE_WINDOW / 2) {
      this.windowUpdate(0, this.receivedUnacked);
      this.receivedUnacked = 0;
    }
    const s = this.streams.get(id);
    if (!s) return;
    let data = payload;
    if (flags & PADDED) data = payload.subarray(1, payload.length - (payload[0] as number));
    s.unacked += payload.length;
    if (s.unacked >= STREAM_RECEIVE_WINDOW / 2 && !(flags & END_STREAM)) {
      this.windowUpdate(id, s.unacked);
      s.unacked = 0;
    }
    if (data.length > 0) s.handler.data(data);
    if (flags & END_STREAM) {
      this.forget(s);
      s.handler.ended();
    }
  }

  private headerBlock(): void {
    const c = this.continuing as NonNullable<H2Session['continuing']>;
    this.continuing = undefined;
    // Every block is decoded, a stream's or not: they share the connection's table.
    const fields = fieldsOf(this.decoder.decode(c.parts.length === 1 ? (c.parts[0] as Buffer) : Buffer.concat(c.parts)));
    const s = this.streams.get(c.stream);
    if (!s) return;
    if (!s.gotHeaders) {
      s.gotHeaders = true;
      if (c.end) this.forget(s);
      s.handler.headers(fields, c.end);
      return;
    }
    this.forget(s);
    s.handler.trailers(fields);
  }

  private onSettings(p: Buffer): void {
    if (p.length % 6 !== 0) throw new H2ConnectionError(FRAME_SIZE_ERROR, `a SETTINGS frame of ${p.length} bytes`);
    for (let i = 0; i < p.length; i += 6) {
      const id = p.readUInt16BE(i);
      const value = p.readUInt32BE(i + 2);
      if (id === SETTINGS_HEADER_TABLE_SIZE) this.encoder.setMaxTableSize(value);
      else if (id === SETTINGS_MAX_CONCURRENT_STREAMS) this.peerMaxStreams = value;
      else if (id === SETTINGS_INITIAL_WINDOW_SIZE) {
        if (value > 2 ** 31 - 1) throw new H2ConnectionError(FLOW_CONTROL_ERROR, `an initial window of ${value}`);
        const delta = value - this.peerInitialWindow;
        this.peerInitialWindow = value;
        for (const s of this.streams.values()) s.sendWindow += delta;
      } else if (id === SETTINGS_MAX_FRAME_SIZE) {
        if (value < 16_384 || value > 2 ** 24 - 1) throw new H2ConnectionError(PROTOCOL_ERROR, `a maximum frame size of ${value}`);
        this.peerMaxFrame = value;
      }
    }
    this.write(frameHeader(0, SETTINGS, ACK, 0));
    this.connected = true;
    this.unblock();
    this.startQueued();
  }

  /** Starts the queued requests the server's stream limit now lets in. */
  private startQueued(): void {
    while (this.queued.length > 0 && this.streams.size < this.peerMaxStreams && !this.destroyed) {
      const q = this.queued.shift() as Queued;
      this.start(q.fields, q.body, q.handler);
    }
  }

  private onGoaway(p: Buffer): void {
    const last = p.readUInt32BE(0) & 0x7fffffff;
    const code = p.length >= 8 ? p.readUInt32BE(4) : H2_NO_ERROR;
    this.goneAway();
    // Streams above `last` were not and will not be processed: they fail, and may be sent again.
    const err = new Error(`the server went away (GOAWAY code ${code}${p.length > 8 ? `: ${p.toString('latin1', 8)}` : ''})`);
    for (const s of [...this.streams.values()]) {
      if (s.id > last) {
        this.forget(s);
        s.handler.failed(err, this.connected);
      }
    }
    // Those still queued never started.
    for (const q of this.queued.splice(0)) q.handler.failed(err, this.connected);
    if (this.streams.size === 0) this.fail(err, true);
  }

  /** The stream is done: nothing more of it is sent or heard. The connection ends with its last stream once it is going away. */
  private forget(s: Stream): void {
    this.streams.delete(s.id);
    if (this.queued.length > 0) this.startQueued();
    if (this.gone && this.streams.size === 0 && this.queued.length === 0 && !this.destroyed) queueMicrotask(() => this.fail(new Error('the connection was done'), true));
  }

  private goneAway(): void {
    if (this.gone) return;
    this.gone = true;
    this.opts.onGone();
  }

  private sendGoaway(code: number): void {
    const p = Buffer.alloc(8);
    p.writeUInt32BE(0, 0);
    p.writeUInt32BE(code, 4);
    this.write(frameHeader(8, GOAWAY, 0, 0), p);
  }

  /**
   * Ends the connection: every stream not yet ended, and every request queued, fails with `err`.
   * `flush`: what was written goes out first (a GOAWAY of this side's), the socket then ends.
   */
  private fail(err: Error, flush = false): void {
    this.goneAway();
    if (this.destroyed) return;
    this.destroyed = true;
    if (this.watch) clearInterval(this.watch);
    const streams = [...this.streams.values()];
    const queued = this.queued.splice(0);
    this.streams.clear();
    this.blocked = [];
    this.flush();
    if (flush) this.socket.end();
    else this.socket.destroy();
    for (const s of streams) s.handler.failed(err, this.connected);
    for (const q of queued) q.handler.failed(err, this.connected);
  }
}

/** A connection error (RFC 7540 §5.4.1): its code goes in the GOAWAY this side sends. */
class H2ConnectionError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}
