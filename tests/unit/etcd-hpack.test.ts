/**
 * hpack.ts, the header compression of h2.ts: the RFC 7541 examples (static and dynamic table,
 * Huffman-coded strings), the encoder's blocks read back, table size updates and eviction, and
 * every malformed block refused (the connection cannot go on after one).
 */
import { describe, expect, it } from 'vitest';
import { HpackDecoder, HpackEncoder, HpackError, huffmanCodes } from '../../src/engines/etcd/hpack.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('HPACK', () => {
  it('decodes the requests of RFC 7541 C.4, Huffman-coded, each naming what the one before put in the table', () => {
    const d = new HpackDecoder();
    expect(d.decode(hex('8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff'))).toEqual([
      [':method', 'GET'],
      [':scheme', 'http'],
      [':path', '/'],
      [':authority', 'www.example.com'],
    ]);
    expect(d.decode(hex('8286 84be 5886 a8eb 1064 9cbf'))).toEqual([
      [':method', 'GET'],
      [':scheme', 'http'],
      [':path', '/'],
      [':authority', 'www.example.com'],
      ['cache-control', 'no-cache'],
    ]);
    expect(d.decode(hex('8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf'))).toEqual([
      [':method', 'GET'],
      [':scheme', 'https'],
      [':path', '/index.html'],
      [':authority', 'www.example.com'],
      ['custom-key', 'custom-value'],
    ]);
  });

  it('the Huffman code is RFC 7541\u2019s: a prefix code whose 5-bit codes are 0 1 2 a c e i o s t, and EOS thirty 1 bits', () => {
    const codes = huffmanCodes();
    const five = codes.flatMap(([code, length], s) => (length === 5 ? [[code, String.fromCharCode(s)] as const] : []));
    expect(five).toEqual(['0', '1', '2', 'a', 'c', 'e', 'i', 'o', 's', 't'].map((c, i) => [i, c]));
    expect(codes[256]).toEqual([2 ** 30 - 1, 30]);
    // Prefix-free: no code is the start of another.
    const bits = codes.map(([code, length]) => code.toString(2).padStart(length, '0')).sort();
    for (let i = 1; i < bits.length; i++) expect((bits[i] as string).startsWith(bits[i - 1] as string)).toBe(false);
  });

  it('the encoder indexes a request\u2019s headers once: the next block names each by index, one byte a field', () => {
    const e = new HpackEncoder();
    const d = new HpackDecoder();
    const fields: [string, string][] = [
      [':method', 'POST'],
      [':scheme', 'http'],
      [':path', '/etcdserverpb.KV/Txn'],
      [':authority', '127.0.0.1:2379'],
      ['content-type', 'application/grpc'],
      ['te', 'trailers'],
      ['token', 'é-latin1'],
    ];
    const first = e.encode(fields);
    expect(d.decode(first)).toEqual(fields);
    const second = e.encode(fields);
    expect(second.length).toBe(fields.length);
    expect(d.decode(second)).toEqual(fields);
    // A value too large for a quarter of the table goes as a literal, not indexed.
    const big: [string, string][] = [['token', 'x'.repeat(2000)]];
    expect(d.decode(e.encode(big))).toEqual(big);
    expect(e.encode(big).length).toBeGreaterThan(2000);
  });

  it('grpc-timeout, whose value changes with every call, is never indexed: a thousand values leave the steady headers indexed', () => {
    const e = new HpackEncoder();
    const d = new HpackDecoder();
    const steady: [string, string][] = [
      [':path', '/etcdserverpb.KV/Txn'],
      [':authority', '127.0.0.1:2379'],
      ['token', 'abc'],
    ];
    expect(d.decode(e.encode(steady))).toEqual(steady);
    for (let ms = 30_000; ms > 29_000; ms--) {
      const fields: [string, string][] = [...steady, ['grpc-timeout', `${ms}m`]];
      const block = e.encode(fields);
      expect(d.decode(block)).toEqual(fields);
      // Three indexed fields of one byte each, then the timeout as a literal without indexing (0x00, a new name).
      expect(block[3]).toBe(0x00);
      expect(block.length).toBe(3 + 1 + 1 + 'grpc-timeout'.length + 1 + `${ms}m`.length);
    }
  });

  it('a smaller table asked for by the peer is announced in the next block, and the decoder follows it', () => {
    const e = new HpackEncoder();
    const d = new HpackDecoder();
    const fields: [string, string][] = [['te', 'trailers']];
    d.decode(e.encode(fields));
    e.setMaxTableSize(0);
    const block = e.encode(fields);
    expect(block[0]).toBe(0x20);
    expect(d.decode(block)).toEqual(fields);
    // Nothing can be indexed in a table of 0 octets: the same block again.
    expect(e.encode(fields)).toEqual(block.subarray(1));
  });

  it('evicts the oldest entries past the table size: an index then names the newest', () => {
    const d = new HpackDecoder();
    // Literal with incremental indexing, new name: 0x40, name, value (each 7-bit length, raw).
    const literal = (name: string, value: string) => Buffer.concat([Buffer.from([0x40, name.length]), Buffer.from(name), Buffer.from([0x7f, value.length - 127]), Buffer.from(value)]);
    for (let i = 0; i < 30; i++) d.decode(literal(`n${i}`, String(i).padEnd(200, '.')));
    // Each entry is 2 + 200 + 32 (or 3 + 200 + 32) octets: 17 fit in 4096.
    expect(d.decode(Buffer.from([0x80 | 62]))).toEqual([['n29', '29'.padEnd(200, '.')]]);
    expect(() => d.decode(Buffer.from([0x80 | 62 + 17]))).toThrow(HpackError);
  });

  it('refuses a malformed block: index 0, an index beyond the table, a string cut short, Huffman holding EOS or bad padding, a size update above the maximum', () => {
    const bad = ['80', 'ff00', '4005 6162', '0083 6162', '0081 fe', '0084 ffff ffff', '0082 ffff', '3fe2 1f'];
    for (const b of bad) expect(() => new HpackDecoder().decode(hex(b)), b).toThrow(HpackError);
  });
});
