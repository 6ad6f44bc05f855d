import { describe, expect, it } from 'vitest';
import { Decoder, Encoder } from '../../src/stream/event-codec.js';

/** Strings around the codec's short-string fast path: ASCII up to 42 units, and what leaves it. */
const STRINGS = [
  '',
  'a',
  '2024-01-02 03:04:05.123456',
  '-12345678901234567890.123',
  'x'.repeat(42),
  'x'.repeat(43),
  '\x00\x7f',
  '\x80',
  'abc\u00e9',
  '\u00e9abc',
  `${'y'.repeat(41)}\u00e9`,
  '\u{1F600}',
  'ab\ud800',
  '\udc00cd',
  '\u4e2d\u6587',
];

describe('event codec strings', () => {
  it('round-trips every string exactly, ASCII and not, both sides of the short-string bound', () => {
    const w = new Encoder(16);
    for (const s of STRINGS) w.str(s);
    const r = new Decoder(w.copy(), 0);
    for (const s of STRINGS) expect(r.str()).toBe(s);
    r.end();
  });

  it('writes a short ASCII string as its tag, its length and its bytes', () => {
    for (const s of ['', 'a', 'x'.repeat(42), '2024-01-02']) {
      const w = new Encoder(4);
      w.str(s);
      const bytes = w.copy();
      expect(bytes.length).toBe(2 + s.length);
      expect(bytes[1]).toBe(s.length);
      expect(bytes.subarray(2).toString('latin1')).toBe(s);
    }
  });
});
