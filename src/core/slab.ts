import type { JsonOut } from './json-row.js';

/**
 * Bytes written into shared slabs, a slice each (etcd keys and values; rows rendered as JSON
 * documents where a stream decodes them): one allocation per SLAB bytes instead of Buffer.from's per
 * string (and its 8 KiB pool's, every ~35 rows). A slab is garbage once every slice of it is.
 *
 * A row's JSON object is written here straight from its values (json-row.ts writeRow), without
 * building its text first: the text of a row is some twenty strings concatenated, then flattened
 * to be encoded, and that was the largest share of the stream's garbage.
 */
const SLAB = 256 * 1024;
let slab = Buffer.allocUnsafe(SLAB);
let at = 0;
/** Where the value being written (between begin and end) starts. */
let start = 0;

/** `s` as UTF-8 bytes, a slice of the current slab (a string too large for one gets its own buffer). */
export function utf8(s: string): Buffer {
  // UTF-8 takes at most 3 bytes per UTF-16 unit.
  const most = s.length * 3;
  if (most > SLAB / 4) return Buffer.from(s);
  begin();
  room(most);
  at += slab.write(s, at, 'utf8');
  return end();
}

function begin(): void {
  start = at;
}

function end(): Buffer {
  return slab.subarray(start, at);
}

/** Makes room for `n` more bytes of the value begun: a new slab, holding what was written of it so far, when this one is full. */
function room(n: number): void {
  if (at + n <= slab.length) return;
  const written = at - start;
  const next = Buffer.allocUnsafe(Math.max(SLAB, 2 * (written + n)));
  slab.copy(next, 0, start, at);
  slab = next;
  start = 0;
  at = written;
}

const QUOTE = 0x22;

/** The JsonOut writeRow writes a row's object into, here. */
const out: JsonOut = {
  bytes(b: Buffer): void {
    room(b.length);
    for (let i = 0; i < b.length; i++) slab[at++] = b[i] as number;
  },
  byte(c: number): void {
    room(1);
    slab[at++] = c;
  },
  text(s: string): void {
    room(s.length * 3);
    at += slab.write(s, at, 'utf8');
  },
  int(n: number): void {
    room(17);
    if (n < 0) {
      slab[at++] = 0x2d;
      n = -n;
    }
    let digits = 1;
    for (let x = n; x >= 10; x = Math.floor(x / 10)) digits++;
    at += digits;
    let i = at;
    do {
      slab[--i] = 0x30 + (n % 10);
      n = Math.floor(n / 10);
    } while (n > 0);
  },
  quoted(s: string, t: number): boolean {
    const len = s.length;
    room(len + 2);
    const from = at;
    slab[at++] = QUOTE;
    for (let i = 0; i < len; i++) {
      const c = s.charCodeAt(i);
      // What JSON.stringify escapes, and anything beyond ASCII (its UTF-8 is the general path's).
      if (c < 0x20 || c === QUOTE || c === 0x5c || c > 0x7f) {
        at = from;
        return false;
      }
      slab[at++] = i === t ? 0x54 : c;
    }
    slab[at++] = QUOTE;
    return true;
  },
  quotedBytes(b: Buffer, from: number, to: number): boolean {
    room(to - from + 2);
    const mark = at;
    slab[at++] = QUOTE;
    for (let i = from; i < to; i++) {
      const c = b[i] as number;
      if (c < 0x20 || c === QUOTE || c === 0x5c || c > 0x7f) {
        at = mark;
        return false;
      }
      slab[at++] = c;
    }
    slab[at++] = QUOTE;
    return true;
  },
  padded(n: number, width: number): void {
    room(width);
    for (let i = at + width - 1; i >= at; i--) {
      slab[i] = 0x30 + (n % 10);
      n = Math.floor(n / 10);
    }
    at += width;
  },
};

/**
 * A row's JSON object (json-row.ts writeRow: the very bytes of renderRow's text as UTF-8), a slice
 * of the current slab.
 */
export function rowJson(write: (o: JsonOut) => void): Buffer {
  begin();
  write(out);
  return end();
}
