/**
 * Canonical values: every source produces them, identically on its copy path and its stream path,
 * and every target consumes them. One representation per kind of value, whatever the engine:
 *
 * | kind | canonical value | examples |
 * |---|---|---|
 * | integers (any width, signed or not; MySQL YEAR) | bigint | 18446744073709551615n |
 * | exact decimals (DECIMAL, NUMERIC) | string, as the source prints it (scale kept) | '-1.50', 'NaN', 'Infinity' (PostgreSQL) |
 * | binary floats (FLOAT, REAL, DOUBLE) | number (a float32 widened exactly) | 3.1415927410125732, NaN, Infinity |
 * | booleans (PostgreSQL boolean) | boolean | true |
 * | dates | string 'YYYY-MM-DD' (MySQL zero dates '0000-00-00' kept as they are) | '2024-02-29' |
 * | timestamps without zone (DATETIME, timestamp) | string 'YYYY-MM-DD HH:MM:SS[.ffffff]' with the column's fraction digits | '2024-01-01 00:00:00.500000' |
 * | timestamps with zone (MySQL TIMESTAMP, timestamptz) | the same form, in UTC, suffixed 'Z' only by sources whose type carries a zone (PostgreSQL); MySQL TIMESTAMP is read in a +00:00 session | '2024-01-01 00:00:00.5+00' |
 * | times (TIME, time, timetz, interval) | string as the source prints it | '-838:59:59.000000', '1 day 02:00:00' |
 * | text (CHAR, VARCHAR, TEXT, ENUM, SET, citext, uuid, inet, …) | string | 'x,z' |
 * | bytes (BINARY, BLOB, bytea) | Buffer | <Buffer 00 ff> |
 * | JSON (json, jsonb, MySQL JSON) | string, the exact text the source stores | '{"a": 1.0}' |
 * | bit strings (BIT(n), bit(n), varbit) | MySQL BIT: bigint; PostgreSQL bit/varbit: string of '0'/'1' | 5n, '0101' |
 * | arrays and other composite PostgreSQL values | string, PostgreSQL's text form | '{1,2,NULL}' |
 * | spatial (MySQL GEOMETRY, POINT, …, GEOMETRYCOLLECTION) | Buffer: MySQL's storage format, the 4-byte little-endian SRID then the little-endian WKB (core/spatial.ts) | <Buffer e6 10 00 00 01 01 00 00 00 …> |
 *
 * NULL is null, never ''. Never a JS Date: it drops microseconds and applies the process time zone.
 * A target maps each column by its logical type (its engine's types.ts) and renders these values for its engine; a value a
 * target cannot hold exactly is refused by name (see docs/type-mapping.md), never altered.
 */
export type Value = null | boolean | bigint | number | string | Buffer;
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
    else if (typeof v === 'boolean') s += v ? 'T|' : 'F|';
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

/**
 * How an engine's canonical values (above) look where engines differ, and how its writer
 * puts a value of another kind into a text column: what the checksum needs to compare values
 * across dialects (checksum/normalise.ts) without naming engines.
 */
export interface ValueConventions {
  /** Its date and timestamp types hold zero dates ('0000-00-00'), which an engine without them has no value for. */
  readonly zeroDates: boolean;
  /** A fixed bit string's canonical value: an unsigned integer (MySQL BIT) or its '0101' text (PostgreSQL bit(n)). */
  readonly bits: 'integer' | 'text';
  /** The bytes of a spatial value, in a spatial column or a byte string: SRID + WKB (MySQL) or EWKB (PostGIS). */
  readonly spatialBytes: 'srid-wkb' | 'ewkb';
  /** How its writer renders a byte string into a text column: the bytes as UTF-8, or '\x' and their hex. */
  readonly bytesAsText: 'utf8' | 'hex';
  /** How its writer renders true and false into a text column. */
  readonly booleanAsText: readonly [string, string];
  /**
   * What ends its canonical text of an instant (a timestamp with zone, always in UTC): nothing
   * (MySQL TIMESTAMP, read in a +00:00 session) or '+00' (PostgreSQL timestamptz).
   */
  readonly instantSuffix: '' | '+00';
}
