import { crc32 } from 'node:zlib';
import type { StreamEvent } from '../core/change.js';
import { ErrorCode, TributaryError } from '../core/errors.js';
import type { TableSchema } from '../core/schema.js';
import { decodeEvent, Decoder, encodeEvent, Encoder } from '../stream/event-codec.js';

/**
 * The relay's records: one frame = a 4-byte little-endian payload length, a 4-byte little-endian
 * CRC32 (of the length bytes, then the payload), then the payload. The payload's first byte says
 * what it is: a segment header, a committed transaction, or an index entry (README.md has the
 * byte layout). Encoding is exact: what decodes is deep-equal (toStrictEqual) to what was encoded,
 * every canonical value included (bigint of any size, -0, NaN, ±Infinity, strings that are not
 * well-formed UTF-16, Buffers), and every optional field keeps its presence.
 */

/** Bytes before a frame's payload. */
export const FRAME_HEAD = 8;
/** The largest payload a frame may carry (1 GiB): a longer length field is damage, not a record. */
export const MAX_PAYLOAD = 1 << 30;

/** Payload kinds (the payload's first byte). */
export const KIND_HEADER = 0x48; // 'H'
export const KIND_TXN = 0x54; // 'T'
export const KIND_INDEX = 0x49; // 'I'

/**
 * The segment format version written into every header. Version 2 added the header's table
 * definitions (`tables`); a version 1 segment is still read (without them). A reader refuses others.
 */
export const FORMAT_VERSION = 2;
/** The oldest segment format this tributary reads. */
export const OLDEST_FORMAT_VERSION = 1;

/**
 * One committed source transaction, as the relay stores it: its events in source order (begin,
 * changes, commit; or a single truncate, ddl or heartbeat event) and the position to resume after
 * it. `position` is opaque (only the source compares it) and never goes backwards from one record
 * to the next; `gtidSet`, when the source has one, is the GTID set executed once it is applied.
 */
export interface RelayTransaction {
  readonly position: string;
  readonly gtidSet?: string;
  readonly events: readonly StreamEvent[];
}

/** A transaction as read back: with its ordinal, the relay's own count of records from 0. */
export interface StoredTransaction extends RelayTransaction {
  readonly ordinal: number;
}

/** The first record of every segment: where the segment starts. */
export interface SegmentHeader {
  readonly version: number;
  /** The segment's number (its file name). */
  readonly seq: number;
  /** The ordinal of the segment's first transaction. */
  readonly firstOrdinal: number;
  /** The source position before the segment's first transaction (the previous one's, or where the relay began). */
  readonly startPosition: string;
  readonly startGtidSet?: string;
  /** The source's identity as the caller gave it (opaque). */
  readonly sourceId: string;
  /** ms since epoch. */
  readonly createdAt: number;
  /**
   * The definitions of the relay's tables at the segment's start, which its first records were
   * decoded with (schemas.ts): a relay resuming in this segment decodes with these as its records'
   * schema changes left them, not with the source's definitions of now. Absent in a version 1
   * segment (and in a header given none).
   */
  readonly tables?: readonly TableSchema[];
}

/**
 * One sparse index entry: the record at byte `offset` of its segment has ordinal `ordinal`, and
 * every record before it has a position at or before `before` (the previous record's position).
 */
export interface IndexEntry {
  readonly ordinal: number;
  readonly offset: number;
  readonly before: string;
}

// ---- framing ----

/** The frame around `payload`. */
export function frame(payload: Buffer): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEAD + payload.length);
  payload.copy(out, FRAME_HEAD);
  return sealFrame(out);
}

/** Fills in the frame head of `out`, whose payload starts at FRAME_HEAD. */
function sealFrame(out: Buffer): Buffer {
  const length = out.length - FRAME_HEAD;
  out.writeUInt32LE(length, 0);
  out.writeUInt32LE(frameCrc(out, 0, length), 4);
  return out;
}

function frameCrc(buf: Buffer, at: number, length: number): number {
  return crc32(buf.subarray(at + FRAME_HEAD, at + FRAME_HEAD + length), crc32(buf.subarray(at, at + 4)));
}

/** What is at `at` in `buf` (which holds a file's bytes up to `end`). */
export type FrameAt =
  | { readonly ok: true; readonly payload: Buffer; readonly next: number }
  /** `short`: the frame runs past `end` (a torn tail if `end` is the file's end); `crc`: a whole frame whose checksum fails. */
  | { readonly ok: false; readonly why: 'short' | 'crc' | 'length' };

export function frameAt(buf: Buffer, at: number, end: number): FrameAt {
  if (at + FRAME_HEAD > end) return { ok: false, why: 'short' };
  const length = buf.readUInt32LE(at);
  if (length > MAX_PAYLOAD || length === 0) return { ok: false, why: 'length' };
  if (at + FRAME_HEAD + length > end) return { ok: false, why: 'short' };
  if (frameCrc(buf, at, length) !== buf.readUInt32LE(at + 4)) return { ok: false, why: 'crc' };
  return { ok: true, payload: buf.subarray(at + FRAME_HEAD, at + FRAME_HEAD + length), next: at + FRAME_HEAD + length };
}

// ---- payloads ----

const scratch = new Encoder(64 * 1024);

/**
 * The framed record of a transaction, ready to append. Encoding runs in one scratch buffer shared
 * by every call (it is synchronous) and copies out once: allocating per record was most of its cost.
 */
export function transactionFrame(ordinal: number, txn: RelayTransaction): Buffer {
  const w = scratch.reset(FRAME_HEAD);
  w.u8(KIND_TXN);
  w.uint(ordinal);
  w.str(txn.position);
  w.optStr(txn.gtidSet);
  w.uint(txn.events.length);
  for (const e of txn.events) encodeEvent(w, e);
  const length = w.done().length - FRAME_HEAD;
  if (length > MAX_PAYLOAD) {
    w.trim();
    throw new TributaryError(ErrorCode.STREAM_FAILED, `a source transaction ending at ${txn.position} encodes to ${length} bytes, more than the relay's record limit of ${MAX_PAYLOAD} bytes; fix: sync this source without the relay (it streams such a transaction through its spool), or split such transactions on the source`);
  }
  const out = sealFrame(w.copy());
  w.trim();
  return out;
}

/** The payload of a transaction's record (transactionFrame without the frame). */
export function encodeTransaction(ordinal: number, txn: RelayTransaction): Buffer {
  return transactionFrame(ordinal, txn).subarray(FRAME_HEAD);
}

export function encodeHeader(h: SegmentHeader): Buffer {
  const w = new Encoder(128);
  w.u8(KIND_HEADER);
  w.uint(h.version);
  w.uint(h.seq);
  w.uint(h.firstOrdinal);
  w.str(h.startPosition);
  w.optStr(h.startGtidSet);
  w.str(h.sourceId);
  w.num(h.createdAt);
  // Version 2 on: the definitions (or undefined), in the generic encoding.
  if (h.version >= 2) w.any(h.tables);
  return w.done();
}

export function encodeIndexEntry(e: IndexEntry): Buffer {
  const w = new Encoder(64);
  w.u8(KIND_INDEX);
  w.uint(e.ordinal);
  w.uint(e.offset);
  w.str(e.before);
  return w.done();
}

/** The payload's kind byte. */
export function kindOf(payload: Buffer): number {
  return payload[0] ?? -1;
}

export function decodeTransaction(payload: Buffer): StoredTransaction {
  const r = new Decoder(payload, 1);
  const ordinal = r.uint();
  const position = r.str();
  const gtidSet = r.optStr();
  const n = r.uint();
  const events: StreamEvent[] = new Array<StreamEvent>(n);
  for (let i = 0; i < n; i++) events[i] = decodeEvent(r);
  r.end();
  return gtidSet === undefined ? { ordinal, position, events } : { ordinal, position, gtidSet, events };
}

export function decodeHeader(payload: Buffer): SegmentHeader {
  const r = new Decoder(payload, 1);
  const version = r.uint();
  const seq = r.uint();
  const firstOrdinal = r.uint();
  const startPosition = r.str();
  const startGtidSet = r.optStr();
  const sourceId = r.str();
  const createdAt = r.num();
  const tables = version >= 2 ? r.any() : undefined;
  r.end();
  if (tables !== undefined && !Array.isArray(tables)) throw r.bad('segment header tables');
  const h = { version, seq, firstOrdinal, startPosition, sourceId, createdAt };
  return { ...h, ...(startGtidSet === undefined ? {} : { startGtidSet }), ...(tables === undefined ? {} : { tables: tables as TableSchema[] }) };
}

export function decodeIndexEntry(payload: Buffer): IndexEntry {
  const r = new Decoder(payload, 1);
  const e = { ordinal: r.uint(), offset: r.uint(), before: r.str() };
  r.end();
  return e;
}
