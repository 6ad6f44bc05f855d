import { describe, expect, it } from 'vitest';
import type { Value } from '../../src/core/values.js';
import { Decoder, Encoder } from '../../src/stream/event-codec.js';

// The value tags of the codec's layout (relay/README.md): the bytes on disk must not change.
const V_BIG = 5;
const V_BIG_I64 = 6;
const V_BIG_U64 = 7;
const V_BIG_TEXT = 8;

const B52 = 2n ** 52n;

describe('event codec values', () => {
  it('writes a bigint as a varint only strictly within ±2^52, as 64 bits up to 2^64 − 1, else as text; all round-trip', () => {
    const cases: [bigint, number][] = [
      [0n, V_BIG],
      [1n, V_BIG],
      [-1n, V_BIG],
      [B52 - 1n, V_BIG],
      [-(B52 - 1n), V_BIG],
      // From 2^52 on, Number() rounds: to 2^52 itself for 2^52 + 1, which must still leave the varint.
      [B52, V_BIG_I64],
      [-B52, V_BIG_I64],
      [B52 + 1n, V_BIG_I64],
      [-(B52 + 1n), V_BIG_I64],
      [2n ** 53n + 1n, V_BIG_I64],
      [2n ** 63n - 1n, V_BIG_I64],
      [-(2n ** 63n), V_BIG_I64],
      [2n ** 63n, V_BIG_U64],
      [2n ** 64n - 1n, V_BIG_U64],
      [2n ** 64n, V_BIG_TEXT],
      [-(2n ** 63n) - 1n, V_BIG_TEXT],
      [10n ** 40n, V_BIG_TEXT],
    ];
    for (const [v, tag] of cases) {
      const w = new Encoder(1);
      w.value(v);
      const bytes = w.copy();
      expect(bytes[0], String(v)).toBe(tag);
      const r = new Decoder(bytes, 0);
      expect(r.value(), String(v)).toBe(v);
      r.end();
    }
  });

  it('reads lengths of one byte and of several alike (the one-byte fast path)', () => {
    const lengths = [0, 1, 0x7f, 0x80, 0x3fff, 0x4000, 2 ** 21, 2 ** 40, Number.MAX_SAFE_INTEGER];
    const w = new Encoder(1);
    for (const n of lengths) w.uint(n);
    const r = new Decoder(w.copy(), 0);
    for (const n of lengths) expect(r.uint()).toBe(n);
    r.end();
  });

  it('reads a row of every value kind, and refuses a row holding an array, an object or undefined', () => {
    const row: Value[] = [null, true, false, 7, -0, 1.5, NaN, 12n, 2n ** 60n, 2n ** 64n - 1n, 2n ** 70n, 'text', 'é\ud800', Buffer.from([1, 2])];
    const w = new Encoder(8);
    w.values(row);
    const r = new Decoder(w.copy(), 0);
    expect(r.values()).toStrictEqual(row);
    r.end();

    for (const bad of [[1], { a: 1 }, undefined]) {
      const e = new Encoder(8);
      e.uint(2);
      e.value('ok');
      e.any(bad);
      expect(() => new Decoder(e.copy(), 0).values(), JSON.stringify(bad) ?? 'undefined').toThrow(/not canonical/);
    }
    // A tag no value has.
    expect(() => new Decoder(Buffer.from([1, 99]), 0).values()).toThrow(/value tag 99/);
  });
});
