import type { Etcd3, ICompare } from 'etcd3';
import { ErrorCode, TributaryError } from '../../core/errors.js';
import { perObject } from '../../core/memo.js';
import { GRPC_PREFIX, writeGrpcPrefix, type UnaryChannel } from './unary.js';

/**
 * The write transactions of the sync (copy, stream, checkpoints) reach etcd through here: the
 * `TxnRequest` is encoded straight into one buffer in protobuf's wire format, and of the
 * `TxnResponse` only `succeeded` is read. The etcd3 client's own `kv.txn` builds a protobufjs
 * message object per op, converts it, encodes it and decodes every op's response back into
 * objects: ~3–4 µs of CPU per put more than this (bench/README.md "etcd writes encoded by tributary").
 *
 * The call still goes through the etcd3 client's connection pool (`exec`): its choice of host and
 * failover between endpoints, its retry of recoverable errors, its TLS credentials and auth token
 * (renewed when etcd says it expired), and its errors, as `kv.txn` has them. Given a UnaryChannel
 * (unary.ts), the call itself is written straight onto HTTP/2 instead of through grpc-js.
 *
 * Contract: `encodeTxn` encodes what `kv.txn({ compare, success, failure: [] })` would for the
 * compares and the puts and deletes given (no reads, no nested transactions, no leases on puts);
 * tests/unit/etcd-wire.test.ts decodes it with etcd's own .proto and compares.
 */

/** One write of a transaction, as encodeTxn takes it. */
export interface WireOp {
  /** The key (a range's first key), UTF-8 bytes. */
  readonly keyBytes: Buffer;
  /** A put's value; absent for a delete. */
  readonly value?: Buffer;
  /** A delete's range end (exclusive), for a range delete. */
  readonly rangeEnd?: Buffer;
  /**
   * Several ops already encoded as the TxnRequest's `success` fields (encodePuts, encodeOps),
   * written as they are; `keyBytes` is then the first one's key, and `value` and `rangeEnd` are absent.
   */
  readonly encoded?: Buffer;
}

/** The service client's method this module adds: etcd's KV/Txn taking the encoded request. */
const ENCODED_TXN = 'tributaryEncodedTxn';

const RESULTS: Readonly<Record<string, number>> = { Equal: 0, Greater: 1, Less: 2, NotEqual: 3 };
const TARGETS: Readonly<Record<string, number>> = { Version: 0, Create: 1, Mod: 2, Value: 3, Lease: 4 };
/** Compare's target_union field of each target (by its number): version 4, create_revision 5, mod_revision 6, value 7, lease 8. */
const UNION_FIELDS = ['version', 'create_revision', 'mod_revision', 'value', 'lease'] as const;

/** An enum given by name or number (etcd3 takes both; unset is proto3's 0). */
function enumOf(v: string | number | undefined, names: Readonly<Record<string, number>>, what: string): number {
  const n = v === undefined ? 0 : typeof v === 'number' ? v : names[v];
  if (n === undefined || !Object.values(names).includes(n)) throw new TributaryError(ErrorCode.INTERNAL, `an etcd compare's ${what} is ${String(v)}, none of ${Object.keys(names).join(', ')}`);
  return n;
}

function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

function bigVarintSize(n: bigint): number {
  let size = 1;
  while (n >= 0x80n) {
    n >>= 7n;
    size++;
  }
  return size;
}

/** A length-delimited field of `length` bytes: its tag, its length and the bytes. */
function fieldSize(length: number): number {
  return 1 + varintSize(length) + length;
}

/** An int64 compare operand as protobuf writes it (two's complement in 64 bits for a negative). */
function int64(v: unknown, what: string): bigint {
  const n = typeof v === 'bigint' ? v : typeof v === 'number' && Number.isInteger(v) ? BigInt(v) : typeof v === 'string' && /^-?\d+$/.test(v) ? BigInt(v) : undefined;
  if (n === undefined) throw new TributaryError(ErrorCode.INTERNAL, `an etcd compare's ${what} is ${String(v)}, not an integer`);
  return BigInt.asUintN(64, n);
}

/** A compare's bytes field: tributary's compares carry Buffers (etcd3 would read a string as base64). */
function bytesOf(v: unknown, what: string): Buffer {
  if (Buffer.isBuffer(v)) return v;
  throw new TributaryError(ErrorCode.INTERNAL, `an etcd compare's ${what} is ${typeof v}, not a Buffer`);
}

/** A compare's fields as they will be written. */
interface EncodedCompare {
  readonly result: number;
  readonly target: number;
  readonly key: Buffer;
  readonly union: number;
  readonly operand: bigint | Buffer;
  readonly rangeEnd?: Buffer;
  readonly size: number;
}

function encodeCompare(c: ICompare): EncodedCompare {
  const key = bytesOf(c.key, 'key');
  const result = enumOf(c.result, RESULTS, 'result');
  const target = enumOf(c.target, TARGETS, 'target');
  const field = UNION_FIELDS[target] as (typeof UNION_FIELDS)[number];
  const raw = (c as unknown as Record<string, unknown>)[field];
  const operand = field === 'value' ? bytesOf(raw, field) : int64(raw ?? 0, field);
  const rangeEnd = c.range_end === undefined ? undefined : bytesOf(c.range_end, 'range_end');
  const size =
    1 + varintSize(result) + 1 + varintSize(target) +
    fieldSize(key.length) +
    (Buffer.isBuffer(operand) ? fieldSize(operand.length) : 1 + bigVarintSize(operand)) +
    // range_end is field 64: a two-byte tag.
    (rangeEnd ? 1 + fieldSize(rangeEnd.length) : 0);
  return { result, target, key, union: target + 4, operand, ...(rangeEnd ? { rangeEnd } : {}), size };
}

/** The PutRequest or DeleteRangeRequest of an op, and the RequestOp around it. */
function opSizes(op: WireOp): { inner: number; outer: number } {
  const inner = op.value !== undefined ? fieldSize(op.keyBytes.length) + fieldSize(op.value.length) : fieldSize(op.keyBytes.length) + (op.rangeEnd ? fieldSize(op.rangeEnd.length) : 0);
  return { inner, outer: fieldSize(inner) };
}

class Writer {
  at = 0;
  constructor(readonly buf: Buffer) {}

  varint(n: number): void {
    const b = this.buf;
    while (n >= 0x80) {
      b[this.at++] = (n & 0x7f) | 0x80;
      n = Math.floor(n / 128);
    }
    b[this.at++] = n;
  }

  bigVarint(n: bigint): void {
    while (n >= 0x80n) {
      this.buf[this.at++] = Number(n & 0x7fn) | 0x80;
      n >>= 7n;
    }
    this.buf[this.at++] = Number(n);
  }

  /** A length-delimited field: tag, length, bytes. */
  bytes(tag: number, b: Buffer): void {
    this.buf[this.at++] = tag;
    this.varint(b.length);
    this.at += b.copy(this.buf, this.at);
  }

  /** A message field's tag and length (its fields follow). */
  open(tag: number, length: number): void {
    this.buf[this.at++] = tag;
    this.varint(length);
  }
}

/** `TxnRequest { compare, success: ops, failure: [] }` in protobuf's wire format. */
export function encodeTxn(compare: readonly ICompare[], ops: readonly WireOp[]): Buffer {
  return encodeAfter(compare, ops, 0);
}

/**
 * The TxnRequest (encodeTxn) as one gRPC message, as unary.ts sends it: the 5-byte prefix
 * (uncompressed, then its length), then the request. Encoded there at once: framing it afterwards
 * allocated and copied a transaction's whole body again (bench/README.md, 2026-12-07).
 */
export function encodeTxnMessage(compare: readonly ICompare[], ops: readonly WireOp[]): Buffer {
  return writeGrpcPrefix(encodeAfter(compare, ops, GRPC_PREFIX));
}

/** encodeTxn's bytes written after `offset` bytes left for the caller. */
function encodeAfter(compare: readonly ICompare[], ops: readonly WireOp[], offset: number): Buffer {
  const compares = compare.map(encodeCompare);
  let size = offset;
  for (const c of compares) size += fieldSize(c.size);
  const sizes = new Array<number>(ops.length * 2);
  size += opsSize(ops, sizes);
  const w = new Writer(Buffer.allocUnsafe(size));
  w.at = offset;
  // TxnRequest: compare = 1, success = 2.
  for (const c of compares) {
    w.open(0x0a, c.size);
    w.buf[w.at++] = 0x08; // result = 1
    w.varint(c.result);
    w.buf[w.at++] = 0x10; // target = 2
    w.varint(c.target);
    w.bytes(0x1a, c.key); // key = 3
    if (Buffer.isBuffer(c.operand)) w.bytes((c.union << 3) | 2, c.operand);
    else {
      w.buf[w.at++] = c.union << 3;
      w.bigVarint(c.operand);
    }
    if (c.rangeEnd) {
      // range_end = 64, wire type 2: the tag 0x202 as a varint.
      w.buf[w.at++] = 0x82;
      w.bytes(0x04, c.rangeEnd);
    }
  }
  writeOps(w, ops, sizes);
  if (w.at !== size) throw new TributaryError(ErrorCode.INTERNAL, `an etcd transaction encoded to ${w.at} bytes, ${size} expected`);
  return w.buf;
}

/**
 * The `success` fields of `ops`, the very bytes encodeTxn writes for them, for WireOp.encoded: a
 * transaction's ops encoded once, when it is handed over (apply.ts OpBuffer), so that what waits
 * in flight is one buffer instead of an object, a key and a value per op.
 */
export function encodeOps(ops: readonly WireOp[]): Buffer {
  const sizes = new Array<number>(ops.length * 2);
  const size = opsSize(ops, sizes);
  const w = new Writer(Buffer.allocUnsafe(size));
  writeOps(w, ops, sizes);
  if (w.at !== size) throw new TributaryError(ErrorCode.INTERNAL, `etcd ops encoded to ${w.at} bytes, ${size} expected`);
  return w.buf;
}

/** The bytes of `ops` as `success` fields; each op's inner and outer sizes go into `sizes` (2i, 2i + 1). */
function opsSize(ops: readonly WireOp[], sizes: number[]): number {
  let size = 0;
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i] as WireOp;
    if (op.encoded) {
      size += op.encoded.length;
      continue;
    }
    const { inner, outer } = opSizes(op);
    sizes[2 * i] = inner;
    sizes[2 * i + 1] = outer;
    size += fieldSize(outer);
  }
  return size;
}

function writeOps(w: Writer, ops: readonly WireOp[], sizes: readonly number[]): void {
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i] as WireOp;
    if (op.encoded) {
      w.at += op.encoded.copy(w.buf, w.at);
      continue;
    }
    w.open(0x12, sizes[2 * i + 1] as number);
    // RequestOp: request_put = 2, request_delete_range = 3.
    w.open(op.value !== undefined ? 0x12 : 0x1a, sizes[2 * i] as number);
    w.bytes(0x0a, op.keyBytes); // key = 1
    if (op.value !== undefined) w.bytes(0x12, op.value); // value = 2
    else if (op.rangeEnd) w.bytes(0x12, op.rangeEnd); // range_end = 2
  }
}

/** The bytes of one put as a TxnRequest's `success` field, for a key and a value of these lengths. */
function putFieldSize(keyLength: number, valueLength: number): number {
  return fieldSize(fieldSize(fieldSize(keyLength) + fieldSize(valueLength)));
}

/**
 * Puts encoded as a TxnRequest's `success` fields, for WireOp.encoded: put i's key is `prefix`
 * followed by data[spans[3i], spans[3i+1]), in which each byte `separator` is written as '/'
 * (a composite key's parts, as the source's lines separate them; -1: none), and its value is
 * data[spans[3i+1] + 1, spans[3i+2]). The same bytes as encodeTxn writes for the puts one by one
 * (tests/unit/etcd-load.test.ts).
 */
export function encodePuts(prefix: Buffer, data: Buffer, spans: Int32Array, n: number, separator: number): Buffer {
  let size = 0;
  for (let i = 0; i < n; i++) size += putFieldSize(prefix.length + (spans[3 * i + 1] as number) - (spans[3 * i] as number), (spans[3 * i + 2] as number) - (spans[3 * i + 1] as number) - 1);
  const w = new Writer(Buffer.allocUnsafe(size));
  const buf = w.buf;
  for (let i = 0; i < n; i++) {
    const keyStart = spans[3 * i] as number;
    const keyEnd = spans[3 * i + 1] as number;
    const valueEnd = spans[3 * i + 2] as number;
    const keyLength = prefix.length + keyEnd - keyStart;
    const valueLength = valueEnd - keyEnd - 1;
    const put = fieldSize(keyLength) + fieldSize(valueLength);
    w.open(0x12, fieldSize(put)); // TxnRequest.success
    w.open(0x12, put); // RequestOp.request_put
    w.open(0x0a, keyLength); // PutRequest.key
    // A key's few bytes byte by byte: half the time of Buffer.copy's call (a view made per call).
    let at = w.at;
    for (let j = 0; j < prefix.length; j++) buf[at++] = prefix[j] as number;
    for (let j = keyStart; j < keyEnd; j++) {
      const b = data[j] as number;
      buf[at++] = b === separator ? 0x2f : b;
    }
    w.at = at;
    w.open(0x12, valueLength); // PutRequest.value
    w.at += data.copy(buf, w.at, keyEnd + 1, valueEnd);
  }
  if (w.at !== size) throw new TributaryError(ErrorCode.INTERNAL, `etcd puts encoded to ${w.at} bytes, ${size} expected`);
  return buf;
}

/** A TxnResponse's `succeeded` (field 2); every other field is skipped unread. */
export function succeededOf(b: Buffer): boolean {
  let at = 0;
  const varint = (): number => {
    let n = 0;
    let scale = 1;
    for (;;) {
      const x = b[at++];
      if (x === undefined) throw new TributaryError(ErrorCode.INTERNAL, 'an etcd transaction\u2019s response ended inside a number');
      n += (x & 0x7f) * scale;
      if (x < 0x80) return n;
      scale *= 128;
    }
  };
  while (at < b.length) {
    const tag = varint();
    const wire = tag & 7;
    if (wire === 0) {
      const v = varint();
      if (tag >>> 3 === 2) return v !== 0;
    } else if (wire === 2) {
      // Not `at += varint()`: that reads `at` before varint() moves it.
      const length = varint();
      at += length;
    } else if (wire === 1) at += 8;
    else if (wire === 5) at += 4;
    else throw new TributaryError(ErrorCode.INTERNAL, `an etcd transaction\u2019s response holds wire type ${wire}, which a TxnResponse never does`);
  }
  // proto3 leaves `false` out.
  return false;
}

/** What this module needs of the etcd3 client's pool (ICallable, reached as Namespace's `pool`). */
interface Pool {
  exec<T>(service: 'KV', method: string, params: unknown, options?: object): Promise<T>;
  withConnection<R>(service: 'KV', fn: (args: { client: object }) => R): Promise<R>;
}

type Callback = (err: Error | null, value?: boolean) => void;
interface UnaryCaller {
  makeUnaryRequest(path: string, serialize: (b: Buffer) => Buffer, deserialize: (b: Buffer) => boolean, arg: Buffer, metadata: unknown, options: unknown, cb: Callback): unknown;
  getChannel(): { getTarget(): string };
}
/** What the pool hands the method of a grpc-js call's metadata (a grpc-js Metadata). */
interface CallMetadata {
  getMap(): Record<string, string | Buffer>;
}

/** The call option carrying a UnaryChannel from writeTxn to the method (the pool passes call options through). */
const UNARY = Symbol('tributary unary channel');
const TXN_PATH = '/etcdserverpb.KV/Txn';

/** A grpc-js client's endpoint as host:port ('dns:127.0.0.1:2379' → '127.0.0.1:2379'). */
function authorityOf(client: UnaryCaller): string {
  return client.getChannel().getTarget().replace(/^dns:(\/\/[^/]*\/)?/, '');
}

/** The call's metadata as HTTP/2 headers (etcd's is its auth token; binary values in base64, as gRPC sends them). */
function headersOf(metadata: CallMetadata | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(metadata?.getMap() ?? {})) out[k] = Buffer.isBuffer(v) ? v.toString('base64') : v;
  return out;
}

/** The request of a gRPC message (encodeTxnMessage), for grpc-js, which frames it itself: a view, not a copy. */
const unframed = (message: Buffer): Buffer => message.subarray(GRPC_PREFIX);

function poolOf(client: Etcd3): Pool {
  const pool = (client as unknown as { pool?: Pool }).pool;
  if (!pool || typeof pool.exec !== 'function' || typeof pool.withConnection !== 'function') {
    throw new TributaryError(ErrorCode.INTERNAL, 'the etcd3 client has no connection pool where tributary expects one (an etcd3 version other than 1.1.x?); pin etcd3 as package.json does');
  }
  return pool;
}

/** Adds ENCODED_TXN to the class of etcd3's KV service clients, once. */
async function install(pool: Pool): Promise<void> {
  const proto = await pool.withConnection('KV', ({ client }) => Object.getPrototypeOf(client) as Record<string, unknown>);
  if (Object.prototype.hasOwnProperty.call(proto, ENCODED_TXN)) return;
  if (typeof (proto as Partial<UnaryCaller>).makeUnaryRequest !== 'function') throw new TributaryError(ErrorCode.INTERNAL, 'etcd3\u2019s KV service client is not a grpc-js client; pin etcd3 as package.json does');
  Object.defineProperty(proto, ENCODED_TXN, {
    value: function (this: UnaryCaller, body: Buffer, metadata: CallMetadata | undefined, options: { [UNARY]?: UnaryChannel; deadline?: Date | number } | undefined, cb: Callback) {
      const channel = options?.[UNARY];
      if (!channel) return this.makeUnaryRequest(TXN_PATH, unframed, succeededOf, body, metadata, options, cb);
      let authority: string;
      try {
        authority = authorityOf(this);
      } catch (err) {
        cb(err as Error);
        return undefined;
      }
      channel.callFramed(authority, TXN_PATH, headersOf(metadata), body, options?.deadline).then(
        (message) => {
          let succeeded: boolean;
          try {
            succeeded = succeededOf(message);
          } catch (err) {
            cb(err as Error);
            return;
          }
          cb(null, succeeded);
        },
        (err: Error) => cb(err),
      );
      return undefined;
    },
  });
}

/** install(), once per pool (again after a failure). */
const installed = perObject(install);

/**
 * Sends a TxnRequest encoded as a gRPC message (encodeTxnMessage) through the client's pool, over
 * `channel` when given (else grpc-js); resolves to whether its compares held (then its writes
 * committed), rejects with the etcd3 client's error of the call.
 */
export async function writeTxn(client: Etcd3, body: Buffer, channel?: UnaryChannel): Promise<boolean> {
  const pool = poolOf(client);
  await installed(pool);
  return channel ? pool.exec<boolean>('KV', ENCODED_TXN, body, { [UNARY]: channel }) : pool.exec<boolean>('KV', ENCODED_TXN, body);
}
