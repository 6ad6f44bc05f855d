import type { Column } from '../../core/schema.js';
import { isMysqlSpatial } from '../../core/spatial.js';
import type { Value } from '../../core/values.js';

/**
 * Conversion of MySQL/MariaDB values to canonical values, one codec per column, used by both the
 * copy path (raw text-protocol buffers) and the stream path (zongji's decoded binlog values) so
 * the two produce identical values.
 */
export interface ColumnCodec {
  /** The select-list expression that reads this column exactly. */
  readonly select: string;
  /** From the text protocol's raw bytes (utf8mb4 connection, UTC session). */
  fromText(raw: Buffer | null): Value;
  /** From a zongji row value (dateStrings, timezone 'Z'). */
  fromBinlog(raw: unknown): Value;
}

const INTEGER = new Set(['tinyint', 'smallint', 'mediumint', 'int', 'integer', 'bigint']);
const TEMPORAL = new Set(['date', 'datetime', 'timestamp', 'time']);
const BINARY = new Set(['binary', 'varbinary', 'tinyblob', 'blob', 'mediumblob', 'longblob']);

export function isIntegerType(dataType: string): boolean {
  return INTEGER.has(dataType);
}

function bitsToBigint(b: Buffer): bigint {
  let v = 0n;
  for (const byte of b) v = (v << 8n) | BigInt(byte);
  return v;
}

function toBigint(raw: unknown): bigint {
  if (typeof raw === 'bigint') return raw;
  if (typeof raw === 'number') {
    if (!Number.isSafeInteger(raw)) throw new Error(`integer ${raw} lost precision in the binlog decoder`);
    return BigInt(raw);
  }
  if (typeof raw === 'string') return BigInt(raw);
  throw new Error(`unexpected integer value ${String(raw)}`);
}

/** Renders a fractional-seconds temporal string with exactly `fsp` digits, as the server prints it. */
function fixFraction(s: string, fsp: number): string {
  const dot = s.indexOf('.');
  if (fsp === 0) return dot < 0 ? s : s.slice(0, dot);
  const frac = dot < 0 ? '' : s.slice(dot + 1);
  const base = dot < 0 ? s : s.slice(0, dot);
  return `${base}.${frac.padEnd(fsp, '0').slice(0, fsp)}`;
}

/**
 * zongji 0.9.0 decodes a negative TIME2 with no fraction from |v|−1 and then adds one to the
 * seconds field alone, so a whole minute comes out as '-11:63:64' for '-12:00:00'. Redo the
 * increment on the packed hour/minute/second value, with its carries.
 */
export function fixNegativeTime(s: string): string {
  const m = /^-(\d+):(\d\d):(\d\d)(\.\d+)?$/.exec(s);
  if (!m || Number(m[3]) < 60) return s;
  const packed = ((Number(m[1]) << 12) | (Number(m[2]) << 6) | (Number(m[3]) - 1)) + 1;
  const h = packed >> 12;
  const min = (packed >> 6) & 63;
  const sec = packed & 63;
  const pad = (n: number, w: number) => String(n).padStart(w, '0');
  return `-${pad(h, h > 99 ? 3 : 2)}:${pad(min, 2)}:${pad(sec, 2)}${m[4] ?? ''}`;
}

function asBuffer(raw: unknown): Buffer {
  if (Buffer.isBuffer(raw)) return raw;
  if (typeof raw === 'string') return Buffer.from(raw, 'latin1');
  throw new Error(`unexpected binary value ${String(raw)}`);
}

export function codecFor(col: Column, quotedName: string): ColumnCodec {
  const t = col.dataType;
  const text = (raw: Buffer | null): string | null => (raw === null ? null : raw.toString('utf8'));
  if (INTEGER.has(t)) {
    return {
      select: quotedName,
      fromText: (raw) => (raw === null ? null : BigInt(raw.toString('latin1'))),
      fromBinlog: (raw) => (raw === null || raw === undefined ? null : normaliseInt(toBigint(raw), col)),
    };
  }
  if (t === 'decimal') {
    return {
      select: quotedName,
      fromText: text,
      fromBinlog: (raw) => (raw === null || raw === undefined ? null : String(raw)),
    };
  }
  if (t === 'float' || t === 'double') {
    // MariaDB prints FLOAT with 6 significant digits; widened to DOUBLE it prints the float32
    // value exactly (shortest round-trip), which writes back to the same float32.
    return {
      select: t === 'float' ? `CAST(${quotedName} AS DOUBLE)` : quotedName,
      fromText: (raw) => (raw === null ? null : Number(raw.toString('latin1'))),
      fromBinlog: (raw) => (raw === null || raw === undefined ? null : Number(raw)),
    };
  }
  if (t === 'year') {
    return {
      select: quotedName,
      fromText: (raw) => (raw === null ? null : BigInt(raw.toString('latin1'))),
      // zongji decodes YEAR 0000 as 1900, a value YEAR cannot hold (1901–2155 or 0).
      fromBinlog: (raw) => (raw === null || raw === undefined ? null : Number(raw) === 1900 ? 0n : BigInt(Number(raw))),
    };
  }
  if (TEMPORAL.has(t)) {
    const fsp = t === 'date' ? 0 : (col.scale ?? 0);
    return {
      select: quotedName,
      fromText: text,
      fromBinlog: (raw) => {
        if (raw === null || raw === undefined) return null;
        const s = String(raw);
        if (t === 'date') return s;
        return fixFraction(t === 'time' ? fixNegativeTime(s) : s, fsp);
      },
    };
  }
  if (t === 'bit') {
    return {
      select: quotedName,
      fromText: (raw) => (raw === null ? null : bitsToBigint(raw)),
      fromBinlog: (raw) => {
        if (raw === null || raw === undefined) return null;
        if (Buffer.isBuffer(raw)) return bitsToBigint(raw);
        return toBigint(raw);
      },
    };
  }
  if (BINARY.has(t) || col.charset === 'binary') {
    return {
      select: quotedName,
      fromText: (raw) => raw,
      fromBinlog: (raw) => (raw === null || raw === undefined ? null : asBuffer(raw)),
    };
  }
  if (isMysqlSpatial(t)) {
    // The storage format, SRID + WKB (core/spatial.ts), from both paths: the text protocol sends
    // a spatial column's stored bytes, and keepSpatialBytes has zongji hand over the row image's.
    return {
      select: quotedName,
      fromText: (raw) => raw,
      fromBinlog: (raw) => {
        if (raw === null || raw === undefined) return null;
        if (Buffer.isBuffer(raw)) return raw;
        throw new Error(`spatial column ${col.name} arrived from the binlog decoded (${JSON.stringify(raw).slice(0, 60)}), not as its stored bytes; keepSpatialBytes must see the table map first`);
      },
    };
  }
  if (t === 'json' || t === 'longtext' && col.columnType === 'json') {
    return {
      select: quotedName,
      fromText: text,
      fromBinlog: (raw) => {
        if (raw === null || raw === undefined) return null;
        if (Buffer.isBuffer(raw)) return raw.toString('utf8');
        return typeof raw === 'string' ? raw : JSON.stringify(raw);
      },
    };
  }
  // Character types, ENUM and SET: text in the connection's utf8mb4.
  return {
    select: quotedName,
    fromText: text,
    fromBinlog: (raw) => {
      if (raw === null) return null;
      // zongji gives undefined for an invalid ENUM value (index 0), which the query path reads as ''.
      if (raw === undefined) return t === 'enum' ? '' : null;
      if (Buffer.isBuffer(raw)) return raw.toString(col.charset === 'latin1' ? 'latin1' : 'utf8');
      return String(raw);
    },
  };
}

/** The binlog carries unsigned integers as their signed bit pattern when a decoder ignores signedness. */
function normaliseInt(v: bigint, col: Column): bigint {
  if (!col.unsigned || v >= 0n) return v;
  const bits = { tinyint: 8n, smallint: 16n, mediumint: 24n, int: 32n, integer: 32n, bigint: 64n }[col.dataType] ?? 64n;
  return v + (1n << bits);
}

/** Column type codes of a binlog TABLE_MAP event (MySQL's enum_field_types). */
const MYSQL_TYPE_BLOB = 252;
const MYSQL_TYPE_GEOMETRY = 255;

/** The part of a zongji table-map entry keepSpatialBytes changes. */
export interface ZongjiTableMapEntry {
  columns?: { type: number; charset?: string | null }[];
}

/**
 * zongji 0.9.0 decodes a spatial value into coordinates ({x, y} objects and arrays): the SRID
 * is skipped and a LINESTRING comes out like a MULTIPOINT, so the value cannot be rebuilt. The
 * row image holds the stored format (SRID + WKB) behind a BLOB's length prefix, with the same
 * table-map metadata as a BLOB (the prefix's size), so re-typing the table map's spatial
 * columns as BLOBs without a charset makes zongji hand over the value's bytes, exactly what the
 * copy reads. Must run on each TABLE_MAP event before its row events are decoded: zongji emits
 * the table map first (at once, or after fetching column metadata with the connection paused)
 * and decodes a row event only when its packet is read, after that.
 */
export function keepSpatialBytes(entry: ZongjiTableMapEntry | undefined): void {
  for (const col of entry?.columns ?? []) {
    if (col.type === MYSQL_TYPE_GEOMETRY) {
      col.type = MYSQL_TYPE_BLOB;
      col.charset = null;
    }
  }
}
