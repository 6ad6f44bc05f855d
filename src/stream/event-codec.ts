import type { StreamEvent } from '../core/change.js';
import { ErrorCode, TributaryError } from '../core/errors.js';
import type { Value } from '../core/values.js';

/**
 * The binary codec of StreamEvents: the relay's records hold events in it (relay/record.ts,
 * relay/README.md has the byte layout), and a decoding thread hands its events to the main thread
 * in it (stream/thread.ts). Encoding is exact: what decodes is deep-equal (toStrictEqual) to what
 * was encoded, every canonical value included (bigint of any size, -0, NaN, ±Infinity, strings that
 * are not well-formed UTF-16, Buffers), and every optional field keeps its presence.
 */

// ---- events ----

const E_BEGIN = 0;
const E_CHANGE = 1;
const E_COMMIT = 2;
/** Any other event (truncate, ddl, heartbeat, and kinds added later): the whole object, generically. */
const E_OTHER = 3;

const OPS = ['insert', 'update', 'delete'] as const;
const F_DELETE = 1;
const F_OP = 2;
const F_BEFORE = 4;
const F_UNCHANGED = 8;
const F_DOC = 16;

// The hot events (change, commit) have their own layout and so list their fields here: a field
// added to them in core/change.ts must be added here too (relay-record.test.ts builds every field,
// and fails on one this codec drops). Rare events go through the generic encoding, which keeps
// every field of a plain object.
export function encodeEvent(w: Encoder, e: StreamEvent): void {
  switch (e.type) {
    case 'begin':
      w.u8(E_BEGIN);
      return;
    case 'commit':
      w.u8(E_COMMIT);
      w.str(e.position);
      w.num(e.timestamp);
      return;
    case 'change': {
      const c = e.change;
      let flags = c.kind === 'delete' ? F_DELETE : 0;
      if (e.op !== undefined) flags |= F_OP;
      if (e.before !== undefined) flags |= F_BEFORE;
      if (c.kind === 'upsert' && c.unchanged !== undefined) flags |= F_UNCHANGED;
      if (c.kind === 'upsert' && c.doc !== undefined) flags |= F_DOC;
      w.u8(E_CHANGE);
      w.u8(flags);
      if (e.op !== undefined) w.u8(OPS.indexOf(e.op));
      w.str(c.table);
      w.values(c.key);
      if (c.kind === 'upsert' && c.doc !== undefined) w.bytes(c.doc);
      else if (c.kind === 'upsert') {
        w.values(c.row);
        if (c.unchanged !== undefined) {
          w.uint(c.unchanged.length);
          for (const i of c.unchanged) w.uint(i);
        }
      }
      if (e.before !== undefined) w.values(e.before);
      return;
    }
    default:
      w.u8(E_OTHER);
      w.any(e);
  }
}

export function decodeEvent(r: Decoder): StreamEvent {
  const tag = r.u8();
  switch (tag) {
    case E_BEGIN:
      return { type: 'begin' };
    case E_COMMIT:
      return { type: 'commit', position: r.str(), timestamp: r.num() };
    case E_CHANGE: {
      const flags = r.u8();
      const op = flags & F_OP ? OPS[r.u8()] : undefined;
      if (flags & F_OP && op === undefined) throw r.bad('operation');
      const table = r.str();
      const key = r.values();
      let change: Extract<StreamEvent, { type: 'change' }>['change'];
      if (flags & F_DELETE) change = { kind: 'delete', table, key };
      else if (flags & F_DOC) change = { kind: 'upsert', table, key, doc: r.bytes() };
      else {
        const row = r.values();
        if (flags & F_UNCHANGED) {
          const n = r.uint();
          const unchanged: number[] = new Array<number>(n);
          for (let i = 0; i < n; i++) unchanged[i] = r.uint();
          change = { kind: 'upsert', table, key, row, unchanged };
        } else change = { kind: 'upsert', table, key, row };
      }
      const ev: { type: 'change'; change: typeof change; op?: (typeof OPS)[number]; before?: Value[] } = { type: 'change', change };
      if (op !== undefined) ev.op = op;
      if (flags & F_BEFORE) ev.before = r.values();
      return ev;
    }
    case E_OTHER:
      return r.any() as StreamEvent;
    default:
      throw r.bad(`event tag ${tag}`);
  }
}

// ---- values ----
// One tag byte per value. Integers (bigint or number) within ±2^52 are zigzag varints; other bigints
// are 8 bytes (signed or unsigned 64-bit) or, beyond 64 bits, their decimal text; other numbers are
// 8-byte IEEE doubles (so -0, NaN and ±Infinity come back as they went).

const V_NULL = 0;
const V_FALSE = 1;
const V_TRUE = 2;
const V_F64 = 3;
const V_INT = 4; // a number that is an integer within ±2^52 (not -0)
const V_BIG = 5; // a bigint within ±2^52
const V_BIG_I64 = 6;
const V_BIG_U64 = 7;
const V_BIG_TEXT = 8;
const V_STR = 9; // UTF-8
const V_STR16 = 10; // UTF-16LE, for a string that is not well-formed UTF-16 (a lone surrogate)
const V_BUF = 11;
const V_UNDEFINED = 12;
const V_ARRAY = 13;
const V_OBJECT = 14;
const V_MAP = 15;

const SMALL = 2 ** 52;
const I64_MIN = -(2n ** 63n);
const I64_MAX = 2n ** 63n - 1n;
const U64_MAX = 2n ** 64n - 1n;

/** A growable byte buffer with the codec's primitive encodings. */
export class Encoder {
  private buf: Buffer;
  private off = 0;
  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(size);
  }
  private room(n: number): void {
    if (this.off + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.off + n));
    this.buf.copy(next, 0, 0, this.off);
    this.buf = next;
  }
  done(): Buffer {
    return this.buf.subarray(0, this.off);
  }
  /** Starts over at `at` (bytes before it are left for the caller). */
  reset(at: number): this {
    this.off = at;
    return this;
  }
  /** Lets a scratch buffer that a huge transaction grew go. */
  trim(): void {
    if (this.buf.length > 16 * 1024 * 1024) this.buf = Buffer.allocUnsafe(64 * 1024);
  }
  /** A copy of what was written (the scratch buffer is reused). */
  copy(): Buffer {
    const out = Buffer.allocUnsafe(this.off);
    this.buf.copy(out, 0, 0, this.off);
    return out;
  }
  u8(v: number): void {
    this.room(1);
    this.buf[this.off++] = v;
  }
  /** Unsigned LEB128 of a non-negative safe integer. */
  uint(v: number): void {
    if (v < 0x80 && this.off < this.buf.length) {
      this.buf[this.off++] = v;
      return;
    }
    this.room(8);
    while (v >= 0x80) {
      this.buf[this.off++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.off++] = v;
  }
  f64(v: number): void {
    this.room(8);
    this.buf.writeDoubleLE(v, this.off);
    this.off += 8;
  }
  /** A number: a zigzag varint when it is a small integer, else a double. */
  num(v: number): void {
    if (Number.isInteger(v) && v > -SMALL && v < SMALL && !Object.is(v, -0)) {
      this.u8(V_INT);
      this.uint(v >= 0 ? v * 2 : -v * 2 - 1);
    } else {
      this.u8(V_F64);
      this.f64(v);
    }
  }
  str(s: string): void {
    const len = s.length;
    if (len < 43) {
      // ASCII (numbers, dates, most names) a byte per unit, without the native call: the same
      // bytes as below, in half the time. Anything else stops at its first non-ASCII unit.
      this.room(2 + len * 3);
      const b = this.buf;
      let at = this.off + 2;
      let i = 0;
      while (i < len) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        b[at++] = c;
        i++;
      }
      if (i === len) {
        b[this.off] = V_STR;
        b[this.off + 1] = len;
        this.off = at;
        return;
      }
    }
    if (!(s as unknown as { isWellFormed(): boolean }).isWellFormed()) {
      this.u8(V_STR16);
      const n = s.length * 2;
      this.uint(n);
      this.room(n);
      this.off += this.buf.write(s, this.off, 'utf16le');
      return;
    }
    this.u8(V_STR);
    if (s.length < 43) {
      // At most 126 bytes of UTF-8: the length is one varint byte, written after the text.
      this.room(1 + s.length * 3);
      const n = this.buf.write(s, this.off + 1, 'utf8');
      this.buf[this.off] = n;
      this.off += 1 + n;
      return;
    }
    const n = Buffer.byteLength(s, 'utf8');
    this.uint(n);
    this.room(n);
    this.off += this.buf.write(s, this.off, 'utf8');
  }
  optStr(s: string | undefined): void {
    if (s === undefined) this.u8(V_UNDEFINED);
    else this.str(s);
  }
  bytes(b: Buffer): void {
    this.uint(b.length);
    this.room(b.length);
    b.copy(this.buf, this.off);
    this.off += b.length;
  }
  values(vs: readonly Value[]): void {
    this.uint(vs.length);
    for (const v of vs) this.value(v);
  }
  value(v: Value): void {
    if (v === null) this.u8(V_NULL);
    else if (typeof v === 'string') this.str(v);
    else if (typeof v === 'bigint') this.bigint(v);
    else if (typeof v === 'number') this.num(v);
    else if (typeof v === 'boolean') this.u8(v ? V_TRUE : V_FALSE);
    else if (Buffer.isBuffer(v)) {
      this.u8(V_BUF);
      this.bytes(v);
    } else throw unencodable(v);
  }
  private bigint(v: bigint): void {
    // Number(v) is exact within ±2^52 and rounds monotonically beyond, where it is at least 2^52
    // in size: so this tests -2^52 < v < 2^52 without comparing bigints.
    const n = Number(v);
    if (n > -SMALL && n < SMALL) {
      this.u8(V_BIG);
      this.uint(n >= 0 ? n * 2 : -n * 2 - 1);
    } else if (v >= I64_MIN && v <= I64_MAX) {
      this.u8(V_BIG_I64);
      this.room(8);
      this.buf.writeBigInt64LE(v, this.off);
      this.off += 8;
    } else if (v >= 0n && v <= U64_MAX) {
      this.u8(V_BIG_U64);
      this.room(8);
      this.buf.writeBigUInt64LE(v, this.off);
      this.off += 8;
    } else {
      this.u8(V_BIG_TEXT);
      this.str(v.toString());
    }
  }
  /** Any plain data: values, undefined, arrays, plain objects (own enumerable keys) and Maps. */
  any(v: unknown): void {
    if (v === undefined) this.u8(V_UNDEFINED);
    else if (Array.isArray(v)) {
      this.u8(V_ARRAY);
      this.uint(v.length);
      for (const x of v) this.any(x);
    } else if (v instanceof Map) {
      this.u8(V_MAP);
      this.uint(v.size);
      for (const [k, x] of v) {
        this.any(k);
        this.any(x);
      }
    } else if (v !== null && typeof v === 'object' && !Buffer.isBuffer(v)) {
      const proto = Object.getPrototypeOf(v) as unknown;
      if (proto !== Object.prototype && proto !== null) throw unencodable(v);
      const keys = Object.keys(v);
      this.u8(V_OBJECT);
      this.uint(keys.length);
      for (const k of keys) {
        this.str(k);
        this.any((v as Record<string, unknown>)[k]);
      }
    } else this.value(v as Value);
  }
}

function unencodable(v: unknown): TributaryError {
  const what = typeof v === 'object' && v !== null ? ((v as object).constructor?.name ?? 'object') : typeof v;
  return new TributaryError(ErrorCode.INTERNAL, `a stream event holds a value of type ${what}, which the event codec cannot encode; fix: only canonical values (core/values.ts), arrays, plain objects and Maps can be (a bug: please report it)`);
}

/** Buffer's UTF-8 decoder of a range, which toString('utf8', …) calls after checking its arguments. */
interface Utf8Slicer {
  utf8Slice(start: number, end: number): string;
}

/**
 * A range of `b` as UTF-8 text, `toString('utf8', from, to)` without its argument checks (the
 * Decoder checked the range): ~25 % less time a short string, and most values are short strings.
 */
const utf8Slice: (b: Buffer, from: number, to: number) => string =
  typeof (Buffer.prototype as Partial<Utf8Slicer>).utf8Slice === 'function' ? (b, from, to) => (b as unknown as Utf8Slicer).utf8Slice(from, to) : (b, from, to) => b.toString('utf8', from, to);

/** Reads what Encoder wrote. Throws a plain Error on malformed input; callers name the file and offset. */
export class Decoder {
  constructor(
    private readonly buf: Buffer,
    private off: number,
  ) {}
  bad(what: string): Error {
    return new Error(`malformed record payload: ${what} at payload byte ${this.off}`);
  }
  end(): void {
    if (this.off !== this.buf.length) throw this.bad(`${this.buf.length - this.off} trailing bytes`);
  }
  u8(): number {
    const v = this.buf[this.off++];
    if (v === undefined) throw this.bad('end of payload');
    return v;
  }
  uint(): number {
    // Most lengths and counts fit one byte.
    const first = this.buf[this.off];
    if (first !== undefined && first < 0x80) {
      this.off++;
      return first;
    }
    let v = 0;
    let scale = 1;
    for (;;) {
      const b = this.u8();
      v += (b & 0x7f) * scale;
      if (b < 0x80) return v;
      scale *= 0x80;
      if (scale > 2 ** 56) throw this.bad('varint too long');
    }
  }
  private zigzag(): number {
    const z = this.uint();
    return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
  }
  private take(n: number): number {
    const at = this.off;
    if (at + n > this.buf.length) throw this.bad('length past the end');
    this.off += n;
    return at;
  }
  num(): number {
    const tag = this.u8();
    if (tag === V_INT) return this.zigzag();
    if (tag === V_F64) return this.buf.readDoubleLE(this.take(8));
    throw this.bad(`number tag ${tag}`);
  }
  private strOf(tag: number): string {
    if (tag === V_STR) {
      const n = this.uint();
      const at = this.take(n);
      return utf8Slice(this.buf, at, at + n);
    }
    if (tag === V_STR16) {
      const n = this.uint();
      const at = this.take(n);
      return this.buf.toString('utf16le', at, at + n);
    }
    throw this.bad(`string tag ${tag}`);
  }
  str(): string {
    return this.strOf(this.u8());
  }
  /** What Encoder.bytes wrote, copied out (a slice would keep the whole payload alive). */
  bytes(): Buffer {
    const n = this.uint();
    const at = this.take(n);
    return Buffer.from(this.buf.subarray(at, at + n));
  }
  optStr(): string | undefined {
    if (this.buf[this.off] === V_UNDEFINED) {
      this.off++;
      return undefined;
    }
    return this.str();
  }
  values(): Value[] {
    const n = this.uint();
    const out: Value[] = new Array<Value>(n);
    for (let i = 0; i < n; i++) out[i] = this.value();
    return out;
  }
  /** One canonical value: any()'s value tags, read without its generic path; any other tag throws. */
  value(): Value {
    const tag = this.u8();
    switch (tag) {
      case V_STR:
      case V_STR16:
        return this.strOf(tag);
      case V_BIG:
        return BigInt(this.zigzag());
      case V_NULL:
        return null;
      case V_INT:
        return this.zigzag();
      case V_F64:
        return this.buf.readDoubleLE(this.take(8));
      case V_FALSE:
        return false;
      case V_TRUE:
        return true;
      case V_BIG_I64:
        return this.buf.readBigInt64LE(this.take(8));
      case V_BIG_U64:
        return this.buf.readBigUInt64LE(this.take(8));
      case V_BIG_TEXT:
        return BigInt(this.str());
      case V_BUF:
        return this.bytes();
      case V_UNDEFINED:
      case V_ARRAY:
      case V_OBJECT:
      case V_MAP:
        this.off--;
        throw this.bad('a value that is not canonical');
      default:
        this.off--;
        throw this.bad(`value tag ${tag}`);
    }
  }
  /** Any plain data Encoder.any wrote: a container here, a value through value(). */
  any(): unknown {
    switch (this.buf[this.off]) {
      case V_UNDEFINED:
        this.off++;
        return undefined;
      case V_ARRAY: {
        this.off++;
        const n = this.uint();
        const out: unknown[] = new Array<unknown>(n);
        for (let i = 0; i < n; i++) out[i] = this.any();
        return out;
      }
      case V_OBJECT: {
        this.off++;
        const n = this.uint();
        const out: Record<string, unknown> = {};
        for (let i = 0; i < n; i++) {
          const k = this.str();
          // A key named __proto__ must be an own property, not the object's prototype.
          if (k === '__proto__') Object.defineProperty(out, k, { value: this.any(), enumerable: true, writable: true, configurable: true });
          else out[k] = this.any();
        }
        return out;
      }
      case V_MAP: {
        this.off++;
        const n = this.uint();
        const out = new Map<unknown, unknown>();
        for (let i = 0; i < n; i++) {
          const k = this.any();
          out.set(k, this.any());
        }
        return out;
      }
      default:
        return this.value();
    }
  }
}
