/**
 * HPACK (RFC 7541), the header compression of HTTP/2, as h2.ts needs it: a decoder for whatever a
 * server sends (its dynamic table, Huffman-coded strings, table size updates), and an encoder for
 * the few headers a gRPC call sends again and again, which indexes them once so that each later
 * request names them by index (as nghttp2, under node:http2, did).
 *
 * Header names and values are kept as latin1 strings: one character per octet, so a string's
 * length is its octet count, which is what the table's sizes count.
 */

/** RFC 7541 Appendix A: the static table, index 1 first. */
const STATIC: readonly (readonly [string, string])[] = [
  [':authority', ''], [':method', 'GET'], [':method', 'POST'], [':path', '/'], [':path', '/index.html'],
  [':scheme', 'http'], [':scheme', 'https'], [':status', '200'], [':status', '204'], [':status', '206'],
  [':status', '304'], [':status', '400'], [':status', '404'], [':status', '500'], ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'], ['accept-language', ''], ['accept-ranges', ''], ['accept', ''],
  ['access-control-allow-origin', ''], ['age', ''], ['allow', ''], ['authorization', ''], ['cache-control', ''],
  ['content-disposition', ''], ['content-encoding', ''], ['content-language', ''], ['content-length', ''],
  ['content-location', ''], ['content-range', ''], ['content-type', ''], ['cookie', ''], ['date', ''], ['etag', ''],
  ['expect', ''], ['expires', ''], ['from', ''], ['host', ''], ['if-match', ''], ['if-modified-since', ''],
  ['if-none-match', ''], ['if-range', ''], ['if-unmodified-since', ''], ['last-modified', ''], ['link', ''],
  ['location', ''], ['max-forwards', ''], ['proxy-authenticate', ''], ['proxy-authorization', ''], ['range', ''],
  ['referer', ''], ['refresh', ''], ['retry-after', ''], ['server', ''], ['set-cookie', ''],
  ['strict-transport-security', ''], ['transfer-encoding', ''], ['user-agent', ''], ['vary', ''], ['via', ''],
  ['www-authenticate', ''],
];

/** A static entry's index by `name\0value`, and the first index of each name. */
const STATIC_FIELD = new Map(STATIC.map(([n, v], i) => [`${n}\0${v}`, i + 1]));
const STATIC_NAME = new Map<string, number>();
STATIC.forEach(([n], i) => {
  if (!STATIC_NAME.has(n)) STATIC_NAME.set(n, i + 1);
});

/**
 * RFC 7541 Appendix B: each symbol's Huffman code length in bits (0–255, then EOS, 256). The code
 * is canonical (codes given out in order of length, then of symbol), so the lengths determine it:
 * HUFFMAN_TREE rebuilds the codes from them. tests/unit/etcd-hpack.test.ts checks the RFC's examples.
 */
const HUFFMAN_LENGTHS = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
  6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10, 13, 6,
  7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6, 15,
  5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, 6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
  20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, 24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
  22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, 21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
  26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, 19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
  20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, 26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
  30,
];
const EOS = 256;

/** The canonical codes of HUFFMAN_LENGTHS, by symbol: [code, length]. */
export function huffmanCodes(): [number, number][] {
  const symbols = HUFFMAN_LENGTHS.map((_, s) => s).sort((a, b) => (HUFFMAN_LENGTHS[a] as number) - (HUFFMAN_LENGTHS[b] as number) || a - b);
  const codes: [number, number][] = new Array<[number, number]>(HUFFMAN_LENGTHS.length);
  let code = 0;
  let length = HUFFMAN_LENGTHS[symbols[0] as number] as number;
  for (const s of symbols) {
    const l = HUFFMAN_LENGTHS[s] as number;
    // Codes of 30 bits: multiply, not shift, to stay clear of 32-bit signed arithmetic.
    code *= 2 ** (l - length);
    length = l;
    codes[s] = [code, l];
    code++;
  }
  return codes;
}

/**
 * The decoding tree: node n's children are at 2n and 2n + 1 (a 0 bit, a 1 bit); a child holds the
 * next node's number, or -(symbol + 1) at a leaf, or 0 where no code goes.
 */
const HUFFMAN_TREE = ((): Int32Array => {
  const tree = new Int32Array(2 * 2 * (EOS + 1));
  let nodes = 1;
  for (const [s, [code, length]] of huffmanCodes().entries()) {
    let node = 0;
    for (let bit = length - 1; bit >= 0; bit--) {
      const slot = 2 * node + (Math.floor(code / 2 ** bit) % 2);
      if (bit === 0) tree[slot] = -(s + 1);
      else {
        if (tree[slot] === 0) tree[slot] = nodes++;
        node = tree[slot] as number;
      }
    }
  }
  return tree;
})();

/** A header block that does not decode: the connection cannot go on (its table is out of step). */
export class HpackError extends Error {}

function huffmanDecode(b: Buffer, start: number, end: number): string {
  let out = '';
  let node = 0;
  // Bits read since the last symbol, and whether they were all 1s (only a prefix of EOS may pad).
  let pending = 0;
  let ones = true;
  for (let i = start; i < end; i++) {
    const byte = b[i] as number;
    for (let bit = 7; bit >= 0; bit--) {
      const one = (byte >> bit) & 1;
      const next = HUFFMAN_TREE[2 * node + one] as number;
      pending++;
      ones &&= one === 1;
      if (next < 0) {
        const symbol = -next - 1;
        if (symbol === EOS) throw new HpackError('a Huffman-coded string holds the EOS symbol');
        out += String.fromCharCode(symbol);
        node = 0;
        pending = 0;
        ones = true;
      } else if (next === 0) throw new HpackError('a Huffman-coded string holds no valid code');
      else node = next;
    }
  }
  if (pending > 7 || !ones) throw new HpackError('a Huffman-coded string ends in padding that is not a prefix of EOS');
  return out;
}

/** The size the table counts for an entry (RFC 7541 §4.1). */
const entrySize = (name: string, value: string): number => name.length + value.length + 32;

/** The dynamic table, newest entry first, evicting the oldest beyond `max` octets. */
class DynamicTable {
  readonly entries: [string, string][] = [];
  size = 0;
  constructor(public max: number) {}

  add(name: string, value: string): void {
    const s = entrySize(name, value);
    this.evictTo(this.max - s);
    // An entry larger than the table empties it and is not added (RFC 7541 §4.4).
    if (s <= this.max) {
      this.entries.unshift([name, value]);
      this.size += s;
    }
  }

  resize(max: number): void {
    this.max = max;
    this.evictTo(max);
  }

  private evictTo(room: number): void {
    while (this.size > room && this.entries.length > 0) {
      const [n, v] = this.entries.pop() as [string, string];
      this.size -= entrySize(n, v);
    }
  }
}

/** Decodes the header blocks of one connection, in the order they came (they share its table). */
export class HpackDecoder {
  private readonly table: DynamicTable;
  private b: Buffer = Buffer.alloc(0);
  private at = 0;

  /** `maxTableSize`: our SETTINGS_HEADER_TABLE_SIZE (4096 unless we announced another). */
  constructor(private readonly maxTableSize = 4096) {
    this.table = new DynamicTable(maxTableSize);
  }

  /** The fields of a whole header block, names as sent (lower-case in HTTP/2), in order. */
  decode(block: Buffer): [string, string][] {
    this.b = block;
    this.at = 0;
    const fields: [string, string][] = [];
    while (this.at < block.length) {
      const first = block[this.at] as number;
      if (first & 0x80) {
        fields.push(this.field(this.int(7)));
      } else if (first & 0x40) {
        const f = this.literal(6);
        this.table.add(f[0], f[1]);
        fields.push(f);
      } else if (first & 0x20) {
        const size = this.int(5);
        if (size > this.maxTableSize) throw new HpackError(`a table size update to ${size}, above the ${this.maxTableSize} allowed`);
        this.table.resize(size);
      } else {
        // Literal without indexing (0000) or never indexed (0001): the same to a decoder.
        fields.push(this.literal(4));
      }
    }
    return fields;
  }

  private field(index: number): [string, string] {
    if (index === 0) throw new HpackError('an indexed header field of index 0');
    if (index <= STATIC.length) return STATIC[index - 1] as [string, string];
    const e = this.table.entries[index - STATIC.length - 1];
    if (!e) throw new HpackError(`an indexed header field of index ${index}, beyond the table`);
    return e;
  }

  private literal(prefix: number): [string, string] {
    const index = this.int(prefix);
    const name = index === 0 ? this.string() : this.field(index)[0];
    return [name, this.string()];
  }

  /** An integer of an `n`-bit prefix (RFC 7541 §5.1). */
  private int(n: number): number {
    const b = this.b;
    const mask = (1 << n) - 1;
    let v = (b[this.at++] as number) & mask;
    if (v < mask) return v;
    let scale = 1;
    for (;;) {
      if (this.at >= b.length) throw new HpackError('a header block ends inside an integer');
      const x = b[this.at++] as number;
      v += (x & 0x7f) * scale;
      scale *= 128;
      if (x < 0x80) return v;
      if (scale > 2 ** 28) throw new HpackError('an integer of a header block beyond 2^28');
    }
  }

  private string(): string {
    if (this.at >= this.b.length) throw new HpackError('a header block ends before a string');
    const huffman = ((this.b[this.at] as number) & 0x80) !== 0;
    const length = this.int(7);
    const start = this.at;
    const end = start + length;
    if (end > this.b.length) throw new HpackError('a header block ends inside a string');
    this.at = end;
    return huffman ? huffmanDecode(this.b, start, end) : this.b.toString('latin1', start, end);
  }
}

/** Fields whose value changes from one request to the next: never indexed, lest they push the steady ones out of the table. */
const NEVER_INDEXED_NAMES = new Set(['grpc-timeout']);

/**
 * Encodes request header blocks: a field found whole in the static table or in this connection's
 * table is sent as its index; any other is sent as a literal and indexed (so the next request
 * names it by index), unless it is too large to be worth a place in the table or its value changes
 * with every request (NEVER_INDEXED_NAMES). Strings go as they are (Huffman coding is optional for
 * an encoder).
 */
export class HpackEncoder {
  private readonly table = new DynamicTable(4096);
  /** A smaller table size the peer asked for (SETTINGS_HEADER_TABLE_SIZE), announced in the next block. */
  private sizeUpdate: number | undefined;
  private out: number[] = [];

  /** The peer's SETTINGS_HEADER_TABLE_SIZE: the table never grows past it (nor past 4096). */
  setMaxTableSize(size: number): void {
    const max = Math.min(size, 4096);
    if (max === this.table.max) return;
    this.table.resize(max);
    this.sizeUpdate = max;
  }

  encode(fields: readonly (readonly [string, string])[]): Buffer {
    const out = (this.out = []);
    if (this.sizeUpdate !== undefined) {
      this.int(0x20, 5, this.sizeUpdate);
      this.sizeUpdate = undefined;
    }
    for (const [name, value] of fields) {
      const whole = STATIC_FIELD.get(`${name}\0${value}`) ?? this.dynamicIndex(name, value);
      if (whole !== undefined) {
        this.int(0x80, 7, whole);
        continue;
      }
      const nameIndex = STATIC_NAME.get(name) ?? 0;
      const indexed = entrySize(name, value) <= this.table.max / 4 && !NEVER_INDEXED_NAMES.has(name);
      this.int(indexed ? 0x40 : 0x00, indexed ? 6 : 4, nameIndex);
      if (nameIndex === 0) this.string(name);
      this.string(value);
      if (indexed) this.table.add(name, value);
    }
    return Buffer.from(out);
  }

  private dynamicIndex(name: string, value: string): number | undefined {
    const i = this.table.entries.findIndex(([n, v]) => n === name && v === value);
    return i < 0 ? undefined : STATIC.length + 1 + i;
  }

  private int(pattern: number, n: number, v: number): void {
    const mask = (1 << n) - 1;
    if (v < mask) {
      this.out.push(pattern | v);
      return;
    }
    this.out.push(pattern | mask);
    v -= mask;
    while (v >= 0x80) {
      this.out.push((v % 128) | 0x80);
      v = Math.floor(v / 128);
    }
    this.out.push(v);
  }

  private string(s: string): void {
    this.int(0x00, 7, s.length);
    for (let i = 0; i < s.length; i++) this.out.push(s.charCodeAt(i) & 0xff);
  }
}
