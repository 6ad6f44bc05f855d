/**
 * Canonical values, produced identically by the copy path and the stream path of every source:
 * integers as bigint, DECIMAL as exact strings, floats as numbers (a FLOAT's float32 widened exactly),
 * temporal values as strings with full precision (UTC for zone-aware types), binary as Buffer,
 * JSON as text, ENUM/SET as their strings, BIT as a bigint. NULL is null, never ''.
 */
export type Value = null | bigint | number | string | Buffer;
export type Row = Value[];

/** Encodes values to JSON that keeps bigint and Buffer apart from numbers and strings. */
export function encodeValues(values: readonly Value[]): string {
  return JSON.stringify(
    values.map((v) => {
      if (typeof v === 'bigint') return { b: v.toString() };
      if (Buffer.isBuffer(v)) return { x: v.toString('hex') };
      return v;
    }),
  );
}

export function decodeValues(text: string): Value[] {
  const raw = JSON.parse(text) as unknown[];
  return raw.map((v) => {
    if (v !== null && typeof v === 'object') {
      const o = v as { b?: string; x?: string };
      if (o.b !== undefined) return BigInt(o.b);
      if (o.x !== undefined) return Buffer.from(o.x, 'hex');
    }
    return v as Value;
  });
}

/** A stable string for a key, for maps and coalescing (not for ordering). */
export function keyString(values: readonly Value[]): string {
  let s = '';
  for (const v of values) {
    if (v === null) s += 'n|';
    else if (typeof v === 'bigint') s += `i${v}|`;
    else if (typeof v === 'number') s += `f${v}|`;
    else if (Buffer.isBuffer(v)) s += `x${v.toString('hex')}|`;
    else s += `s${v.length}:${v}|`;
  }
  return s;
}

/** Approximate in-memory size of a row, for bounding buffers in bytes. */
export function rowBytes(row: readonly Value[]): number {
  let n = 16;
  for (const v of row) {
    if (v === null) n += 8;
    else if (typeof v === 'string') n += 16 + v.length * 2;
    else if (Buffer.isBuffer(v)) n += 32 + v.length;
    else n += 16;
  }
  return n;
}
