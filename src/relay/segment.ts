import { open, readdir, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCode, TributaryError } from '../core/errors.js';
import {
  decodeHeader,
  decodeIndexEntry,
  FRAME_HEAD,
  frameAt,
  FORMAT_VERSION,
  OLDEST_FORMAT_VERSION,
  KIND_HEADER,
  KIND_INDEX,
  kindOf,
  MAX_PAYLOAD,
  type IndexEntry,
  type SegmentHeader,
} from './record.js';

/**
 * Segment files: `DIR/segments/<seq, 20 digits>.seg`, each a header record then transaction
 * records, and beside each its sparse index `<seq>.idx` (index entry records). A segment is only
 * ever appended to, by the one writer, and only the last one; once the writer rolls to the next,
 * it never changes again (retention deletes it whole).
 */

export const SEGMENTS_DIR = 'segments';
/** How much a reader reads at once. */
const CHUNK = 1 << 20;

export function segmentsDir(dir: string): string {
  return join(dir, SEGMENTS_DIR);
}

export function segmentFile(dir: string, seq: number): string {
  return join(segmentsDir(dir), `${String(seq).padStart(20, '0')}.seg`);
}

export function indexFile(dir: string, seq: number): string {
  return join(segmentsDir(dir), `${String(seq).padStart(20, '0')}.idx`);
}

/** The segments in the folder, by number, oldest first. */
export async function listSegments(dir: string): Promise<number[]> {
  let names: string[];
  try {
    names = await readdir(segmentsDir(dir));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return names
    .filter((n) => /^\d{20}\.seg$/.test(n))
    .map((n) => Number(n.slice(0, 20)))
    .sort((a, b) => a - b);
}

/** RELAY_CORRUPT naming the file, the offset and the fix. */
export function corrupt(file: string, offset: number, what: string, cause?: unknown): TributaryError {
  return new TributaryError(
    ErrorCode.RELAY_CORRUPT,
    `relay segment ${file} is damaged at byte offset ${offset}: ${what}; fix: the records from there on cannot be trusted — stop the relay, delete this segment and every later one (and their .idx files), then start the relay again: it re-reads the source from the last segment left (the source must still hold those changes), and readers past the cut wait for it`,
    { cause },
  );
}

/** The header of segment `seq` and the offset of its first transaction. Throws RELAY_CORRUPT on a damaged or foreign header. */
export async function readHeader(dir: string, seq: number): Promise<{ header: SegmentHeader; dataStart: number }> {
  const file = segmentFile(dir, seq);
  const fh = await open(file, 'r');
  try {
    const head = Buffer.alloc(FRAME_HEAD);
    const { bytesRead } = await fh.read(head, 0, FRAME_HEAD, 0);
    const length = head.readUInt32LE(0);
    if (bytesRead < FRAME_HEAD || length > MAX_PAYLOAD) throw corrupt(file, 0, 'no segment header');
    const buf = Buffer.alloc(FRAME_HEAD + length);
    const r = await fh.read(buf, 0, buf.length, 0);
    return parseHeader(file, buf, r.bytesRead, seq);
  } finally {
    await fh.close();
  }
}

/** The header frame at the start of `buf` (a segment's bytes up to `end`). */
export function parseHeader(file: string, buf: Buffer, end: number, seq: number): { header: SegmentHeader; dataStart: number } {
  const f = frameAt(buf, 0, end);
  if (!f.ok || kindOf(f.payload) !== KIND_HEADER) throw corrupt(file, 0, f.ok ? 'the first record is not a segment header' : `segment header ${f.why === 'crc' ? 'fails its CRC' : 'is incomplete'}`);
  let header: SegmentHeader;
  try {
    header = decodeHeader(f.payload);
  } catch (err) {
    throw corrupt(file, 0, (err as Error).message, err);
  }
  if (header.version < OLDEST_FORMAT_VERSION || header.version > FORMAT_VERSION) {
    throw new TributaryError(ErrorCode.RELAY_CORRUPT, `relay segment ${file} has format version ${header.version}, this tributary reads ${OLDEST_FORMAT_VERSION} to ${FORMAT_VERSION}; fix: run the tributary version that wrote the relay, or delete the relay directory and let the relay start again from the source`);
  }
  if (header.seq !== seq) throw corrupt(file, 0, `its header says segment ${header.seq}`);
  return { header, dataStart: f.next };
}

/** One record's frame as read from a segment. */
export interface FrameRead {
  readonly offset: number;
  readonly payload: Buffer;
  readonly next: number;
}

/**
 * Reads a segment's frames from `start` up to `limit`, where every byte before `limit` is durable:
 * any frame that does not check out there is damage (RELAY_CORRUPT naming the file and offset).
 */
export class SegmentCursor {
  private buf = Buffer.alloc(0);
  private bufStart = 0;
  constructor(
    private readonly fh: FileHandle,
    readonly file: string,
    /** The next frame's offset. */
    public offset: number,
  ) {}

  /** The next frame before `limit`, or undefined when `offset` reached it. */
  async next(limit: number): Promise<FrameRead | undefined> {
    const at = this.offset;
    if (at >= limit) return undefined;
    if (at + FRAME_HEAD > this.bufStart + this.buf.length) await this.fill(at, FRAME_HEAD, limit);
    const length = this.buf.length - (at - this.bufStart) >= FRAME_HEAD ? this.buf.readUInt32LE(at - this.bufStart) : 0;
    if (length > 0 && length <= MAX_PAYLOAD && at + FRAME_HEAD + length > this.bufStart + this.buf.length) await this.fill(at, FRAME_HEAD + length, limit);
    const f = frameAt(this.buf, at - this.bufStart, Math.min(this.buf.length, limit - this.bufStart));
    if (!f.ok) throw corrupt(this.file, at, f.why === 'crc' ? 'a record fails its CRC32' : f.why === 'length' ? 'a record has an impossible length' : 'a record runs past the durable end');
    this.offset = f.next + this.bufStart;
    return { offset: at, payload: f.payload, next: this.offset };
  }

  private async fill(at: number, need: number, limit: number): Promise<void> {
    const size = Math.max(need, Math.min(CHUNK, limit - at));
    const buf = Buffer.allocUnsafe(size);
    let got = 0;
    while (got < size) {
      const { bytesRead } = await this.fh.read(buf, got, size - got, at + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    this.buf = buf.subarray(0, got);
    this.bufStart = at;
  }
}

/** The sparse index of segment `seq`, as far as it reads whole (it is rebuilt by the writer; a missing one is empty). */
export async function readIndex(dir: string, seq: number): Promise<IndexEntry[]> {
  let fh: FileHandle;
  try {
    fh = await open(indexFile(dir, seq), 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  try {
    const buf = await fh.readFile();
    const out: IndexEntry[] = [];
    for (let at = 0; ; ) {
      const f = frameAt(buf, at, buf.length);
      if (!f.ok || kindOf(f.payload) !== KIND_INDEX) break;
      try {
        out.push(decodeIndexEntry(f.payload));
      } catch {
        break;
      }
      at = f.next;
    }
    return out;
  } finally {
    await fh.close();
  }
}

/**
 * Where to start reading a segment to find the first record after `from`: the offset of the last
 * index entry whose `before` is at or before `from` (every record before that offset is then at or
 * before `from` too), or `dataStart`. `limit`: entries at or past it are not used (not durable).
 */
export function seekOffset(entries: readonly IndexEntry[], from: string, compare: (a: string, b: string) => number, dataStart: number, limit: number): { offset: number; ordinal?: number } {
  let lo = 0;
  let hi = entries.length - 1;
  let found: IndexEntry | undefined;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const e = entries[mid]!;
    if (e.offset < limit && compare(e.before, from) <= 0) {
      found = e;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found ? { offset: found.offset, ordinal: found.ordinal } : { offset: dataStart };
}
