import * as crypto from 'node:crypto';
import type { Value } from '../core/values.js';

/**
 * Row and chunk hashes.
 *
 * A row hashes to 128 bits: MD5 over its comparable values (normalise.ts), each written as a type
 * tag, a length and its bytes, so no two different rows encode alike ('a','bc' vs 'ab','c'; the
 * string '1' vs the integer 1; NULL vs ''). MD5 is not here for secrecy: it is the fastest
 * 128-bit hash Node ships (crypto.hash, ~0.7 µs for a 100-byte row on this machine, sha1 and
 * sha256 alike), and 128 bits make an accidental collision among billions of rows negligible.
 *
 * A chunk's digest is its row count and the sum of its row hashes modulo 2^128: independent of row
 * order (each engine returns a chunk in its own key order, and a multiset has none), and a repeated
 * row adds its hash again instead of cancelling out as under XOR, so duplicates in a table
 * without a key cannot hide a difference.
 */

export const HASH_BYTES = 16;

const TAG_NULL = 0;
const TAG_FALSE = 1;
const TAG_TRUE = 2;
const TAG_INT = 3;
const TAG_FLOAT = 4;
const TAG_TEXT = 5;
const TAG_BYTES = 6;

/** One-shot hashing where Node has it (20.12+), else a Hash object per row. */
const md5: (data: Buffer) => Buffer =
  typeof crypto.hash === 'function' ? (data) => crypto.hash('md5', data, 'buffer') : (data) => crypto.createHash('md5').update(data).digest();

/** Encodes rows into one reused buffer and hashes them. Not shared between concurrent callers. */
export class RowHasher {
  private buf = Buffer.allocUnsafe(4096);
  private off = 0;

  private room(n: number): void {
    if (this.off + n <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.off + n));
    this.buf.copy(bigger, 0, 0, this.off);
    this.buf = bigger;
  }

  private put(v: Value): void {
    if (v === null) {
      this.room(1);
      this.buf[this.off++] = TAG_NULL;
    } else if (typeof v === 'boolean') {
      this.room(1);
      this.buf[this.off++] = v ? TAG_TRUE : TAG_FALSE;
    } else if (typeof v === 'number') {
      this.room(9);
      this.buf[this.off++] = TAG_FLOAT;
      // Every NaN alike; −0 stays apart from 0 (both engines keep it).
      this.off = this.buf.writeDoubleLE(Number.isNaN(v) ? NaN : v, this.off);
    } else if (typeof v === 'bigint') {
      const s = v.toString();
      this.room(5 + s.length);
      this.buf[this.off++] = TAG_INT;
      this.off = this.buf.writeUInt32LE(s.length, this.off);
      this.off += this.buf.write(s, this.off, 'latin1');
    } else if (Buffer.isBuffer(v)) {
      this.room(5 + v.length);
      this.buf[this.off++] = TAG_BYTES;
      this.off = this.buf.writeUInt32LE(v.length, this.off);
      this.off += v.copy(this.buf, this.off);
    } else {
      // UTF-8 takes at most 3 bytes per UTF-16 unit.
      this.room(5 + v.length * 3);
      this.buf[this.off++] = TAG_TEXT;
      const at = this.off;
      this.off += 4;
      const n = this.buf.write(v, this.off, 'utf8');
      this.buf.writeUInt32LE(n, at);
      this.off += n;
    }
  }

  /** The 128-bit hash of a row of comparable values. */
  hash(values: readonly Value[]): Buffer {
    this.off = 0;
    for (const v of values) this.put(v);
    return md5(this.buf.subarray(0, this.off));
  }

  /**
   * One hash of a sequence of rows, in order (rows of a table have a fixed number of values, and
   * each value carries its length, so the concatenation is unambiguous). Order-dependent: equal
   * only for the same rows in the same order; see compare.ts for when that may be used.
   */
  hashSequence(rows: readonly (readonly Value[])[], normalise: (row: readonly Value[], into: Value[]) => readonly Value[]): Buffer {
    const h = crypto.createHash('md5');
    const scratch: Value[] = [];
    this.off = 0;
    for (const row of rows) {
      for (const v of normalise(row, scratch)) this.put(v);
      if (this.off >= SEQUENCE_FLUSH_BYTES) {
        h.update(this.buf.subarray(0, this.off));
        this.off = 0;
      }
    }
    h.update(this.buf.subarray(0, this.off));
    return h.digest();
  }
}

/** Encoded bytes handed to the hash at a time by hashSequence (bounds the buffer). */
const SEQUENCE_FLUSH_BYTES = 256 * 1024;

/** Additions before the 32-bit limbs, held in doubles, must carry (2^53 / 2^32 = 2^21). */
const CARRY_EVERY = 1 << 20;

/** Row count and sum of row hashes mod 2^128, kept as four 32-bit limbs (little-endian words). */
export class Digest {
  count = 0;
  private readonly limbs = [0, 0, 0, 0];
  private pending = 0;

  add(hash: Buffer): void {
    this.limbs[0]! += hash.readUInt32LE(0);
    this.limbs[1]! += hash.readUInt32LE(4);
    this.limbs[2]! += hash.readUInt32LE(8);
    this.limbs[3]! += hash.readUInt32LE(12);
    this.count++;
    if (++this.pending >= CARRY_EVERY) this.carry();
  }

  /** Adds another digest (a part of the same multiset). */
  merge(other: Digest): void {
    const o = other.words();
    for (let i = 0; i < 4; i++) this.limbs[i]! += o[i]!;
    this.count += other.count;
    this.carry();
  }

  private carry(): void {
    let c = 0;
    for (let i = 0; i < 4; i++) {
      const v = this.limbs[i]! + c;
      this.limbs[i] = v % 0x1_0000_0000;
      c = Math.floor(v / 0x1_0000_0000);
    }
    this.pending = 0;
  }

  private words(): number[] {
    this.carry();
    return [...this.limbs];
  }

  /** The sum as 32 hex digits, most significant first. */
  sum(): string {
    return this.words()
      .reverse()
      .map((w) => w.toString(16).padStart(8, '0'))
      .join('');
  }

  equals(other: Digest): boolean {
    return this.count === other.count && this.sum() === other.sum();
  }
}
