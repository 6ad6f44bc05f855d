import { addSeconds, p2 } from '../../core/calendar.js';
import { ErrorCode, TributaryError } from '../../core/errors.js';
import type { Column } from '../../core/schema.js';
import { isMysqlSpatial } from './types.js';
import type { Value } from '../../core/values.js';
import { LIMITS, overrideFix, type MysqlColumnType } from './types.js';

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

/**
 * A number column as its number: a ZEROFILL column's text is padded with zeros ('0042',
 * '0034.75'), which the binlog's values are not, nor JSON's numbers and etcd keys; `+ 0` gives
 * the number's own text, and the same value.
 */
function unpadded(col: Column, quotedName: string): string {
  return /\bzerofill\b/i.test(col.columnType) ? `(${quotedName} + 0)` : quotedName;
}

export function codecFor(col: Column, quoted: string): ColumnCodec {
  const t = col.dataType;
  const quotedName = INTEGER.has(t) || t === 'decimal' || t === 'float' || t === 'double' ? unpadded(col, quoted) : quoted;
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
  if (t === 'uuid' || t === 'inet6' || t === 'inet4') {
    // MariaDB's UUID, INET6 and INET4 reach the binlog as their 16 (4) stored bytes, and the
    // query path as the server's text: the stream prints the bytes as the server does.
    const print = t === 'uuid' ? uuidText : t === 'inet6' ? inet6Text : (b: Buffer) => [...b].join('.');
    return {
      select: quotedName,
      fromText: text,
      fromBinlog: (raw) => {
        if (raw === null || raw === undefined) return null;
        if (Buffer.isBuffer(raw) && raw.length === (t === 'inet4' ? 4 : 16)) return print(raw);
        return Buffer.isBuffer(raw) ? raw.toString('latin1') : String(raw);
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

/** A UUID's 16 bytes as MariaDB prints them: 8-4-4-4-12 lowercase hex. */
export function uuidText(b: Buffer): string {
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/**
 * An IPv6 address's 16 bytes as MariaDB's INET6 prints them (its inet6 text, after MySQL's
 * INET6_NTOA): lowercase hex words without leading zeros, the longest run of two or more zero
 * words (the first of equals) as '::', and the IPv4-compatible (::a.b.c.d) and IPv4-mapped
 * (::ffff:a.b.c.d) forms in dotted notation.
 */
export function inet6Text(b: Buffer): string {
  const words = Array.from({ length: 8 }, (_, i) => b.readUInt16BE(i * 2));
  let best = { pos: -1, len: 0 };
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > best.len) best = { pos: i, len: j - i };
    i = j;
  }
  if (best.len < 2) best = { pos: -1, len: 0 };
  const dotted = `${b[12] as number}.${b[13] as number}.${b[14] as number}.${b[15] as number}`;
  if (best.pos === 0 && best.len === 6) return `::${dotted}`;
  if (best.pos === 0 && best.len === 5 && words[5] === 0xffff) return `::ffff:${dotted}`;
  const hex = (ws: number[]) => ws.map((w) => w.toString(16)).join(':');
  if (best.pos < 0) return hex(words);
  return `${hex(words.slice(0, best.pos))}::${hex(words.slice(best.pos + best.len))}`;
}

/** The binlog carries unsigned integers as their signed bit pattern when a decoder ignores signedness. */
export function normaliseInt(v: bigint, col: Column): bigint {
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

// ---------------------------------------------------------------------------------------------
// Canonical values → MySQL, for the columns of another engine's table (types.ts mapLogicalTable)

/*
 * What must hold: a value lands exactly or is refused by name (table.column, the value, the fix);
 * never rounded, truncated, shifted or replaced. Values are checked as they are written, because
 * LOAD DATA LOCAL turns data errors into warnings (the server cannot stop a client's file half
 * way) and MySQL rounds DECIMAL fractions and TIME/DATETIME fractions silently even in strict mode.
 */

/** Refuses a value the MySQL column cannot hold exactly; the message names table, column and value. */
export function refuseValue(table: string, m: MysqlColumnType, v: Value, why: string, fix: string): never {
  const shown = typeof v === 'string' ? `'${v.length > 60 ? v.slice(0, 60) + '…' : v}'` : Buffer.isBuffer(v) ? `<${v.length} bytes>` : String(v);
  throw new TributaryError(
    ErrorCode.TARGET_WRITE_FAILED,
    `${table}.${m.column.name} (${m.column.columnType} → MySQL ${m.sql}): value ${shown} ${why}; nothing was written. ${fix}`,
  );
}

const NON_FINITE = new Set(['NaN', 'Infinity', '-Infinity', 'infinity', '-infinity', 'inf', '-inf']);

function checkDecimal(table: string, m: MysqlColumnType, s: string): void {
  const d = m.decimal;
  const x = /^([-+])?(\d*)(?:\.(\d*))?$/.exec(s);
  if (!x) {
    if (NON_FINITE.has(s)) {
      refuseValue(table, m, s, 'cannot be stored in a MySQL number column (MySQL has no NaN or Infinity)', `Fix the row on the source, or keep the text: ${overrideFix(table, m.column.name, 'VARCHAR(100)')}.`);
    }
    refuseValue(table, m, s, 'is not a plain decimal number', `${overrideFix(table, m.column.name, 'VARCHAR(100)')}.`);
  }
  if (!d) return;
  const intDigits = (x[2] ?? '').replace(/^0+/, '').length;
  const fracDigits = (x[3] ?? '').replace(/0+$/, '').length;
  if (intDigits > d.precision - d.scale || fracDigits > d.scale) {
    refuseValue(
      table,
      m,
      s,
      `has ${intDigits} integer and ${fracDigits} fraction digits, beyond DECIMAL(${d.precision},${d.scale}) (MySQL would round or refuse it)`,
      `${overrideFix(table, m.column.name, fracDigits > LIMITS.decimalScale || intDigits > LIMITS.decimalPrecision - LIMITS.decimalScale ? 'VARCHAR(200)' : `DECIMAL(${Math.min(65, Math.max(intDigits, d.precision - d.scale) + Math.max(fracDigits, d.scale))},${Math.max(fracDigits, d.scale)})`)}.`,
    );
  }
}

const TS = /^(\d{4,})-(\d\d)-(\d\d)(?: (\d\d):(\d\d):(\d\d)(\.\d+)?)?(?:(Z)|([+-])(\d\d)(?::?(\d\d))?(?::?(\d\d))?)?( BC)?$/;

/** MySQL rounds fractional seconds beyond the column's digits, silently: refuse instead. */
function checkFraction(table: string, m: MysqlColumnType, s: string, frac: string): void {
  const digits = Number(/^\s*[A-Za-z]+\s*\(\s*(\d+)\s*\)/.exec(m.sql)?.[1] ?? 0);
  if (frac.replace(/0+$/, '').length - 1 > digits) {
    refuseValue(table, m, s, `has more fraction digits than MySQL ${m.sql} keeps (it would round them)`, `${overrideFix(table, m.column.name, `${/^\s*([A-Za-z]+)/.exec(m.sql)?.[1] ?? 'DATETIME'}(6)`)}.`);
  }
}

/**
 * A canonical date or timestamp (core/values.ts; a zone-aware one with its offset, as PostgreSQL
 * prints timestamptz) as MySQL DATE/DATETIME text: a zone-aware value shifted to UTC by its offset
 * (exactly, to the second; the fraction kept digit for digit) and the zone dropped. Infinity, BC
 * dates and years past 9999 are refused: MySQL has none of them.
 */
export function temporalValue(table: string, m: MysqlColumnType, s: string): string {
  const x = TS.exec(s);
  const fix = `Fix the row on the source, or keep the text: ${overrideFix(table, m.column.name, 'VARCHAR(64)')}.`;
  if (!x) {
    if (/^-?infinity$/.test(s)) refuseValue(table, m, s, 'cannot be stored in MySQL (no infinite dates)', fix);
    refuseValue(table, m, s, 'is not a date/time MySQL can hold', fix);
  }
  if (x[13]) refuseValue(table, m, s, 'is a BC date; MySQL dates start at year 1', fix);
  let [y, mo, d] = [Number(x[1]), Number(x[2]), Number(x[3])];
  if (x[4] === undefined) {
    if (y < 1 || y > 9999) refuseValue(table, m, s, 'is outside the years 0001–9999 MySQL holds', fix);
    return s;
  }
  let [h, mi, se] = [Number(x[4]), Number(x[5]), Number(x[6])];
  const frac = x[7] ?? '';
  checkFraction(table, m, s, frac);
  if (m.kind === 'timestamptz' && x[9]) {
    const off = (Number(x[10]) * 3600 + Number(x[11] ?? 0) * 60 + Number(x[12] ?? 0)) * (x[9] === '-' ? -1 : 1);
    if (off !== 0) [y, mo, d, h, mi, se] = addSeconds(y, mo, d, h, mi, se, -off);
  } else if (m.kind !== 'timestamptz' && (x[8] || x[9])) {
    refuseValue(table, m, s, 'carries a time zone but the column is a timestamp without one', fix);
  }
  if (y < 1 || y > 9999) refuseValue(table, m, s, 'is outside the years 0001–9999 MySQL holds (in UTC)', fix);
  return `${String(y).padStart(4, '0')}-${p2(mo)}-${p2(d)} ${p2(h)}:${p2(mi)}:${p2(se)}${frac}`;
}

/**
 * One canonical value as the text MySQL reads into the column (not yet escaped or quoted), or a
 * Buffer for byte columns; null stays null. Throws TARGET_WRITE_FAILED naming table, column and
 * value when the column cannot hold it exactly.
 */
export function mysqlValue(table: string, m: MysqlColumnType, v: Value): string | Buffer | null {
  if (v === null) return null;
  switch (m.kind) {
    case 'int':
    case 'decimal':
    case 'float': {
      if (typeof v === 'boolean') return v ? '1' : '0';
      if (typeof v === 'bigint') {
        if (m.kind === 'decimal') checkDecimal(table, m, v.toString());
        return v.toString();
      }
      if (typeof v === 'number') {
        if (!Number.isFinite(v)) {
          refuseValue(table, m, v, 'cannot be stored in a MySQL number column (MySQL has no NaN or Infinity)', `Fix the row on the source, or keep the text: ${overrideFix(table, m.column.name, 'VARCHAR(32)')}.`);
        }
        return Object.is(v, -0) ? '-0' : String(v);
      }
      const s = Buffer.isBuffer(v) ? v.toString('utf8') : v;
      if (m.kind === 'decimal') checkDecimal(table, m, s);
      else if (NON_FINITE.has(s)) {
        refuseValue(table, m, s, 'cannot be stored in a MySQL number column (MySQL has no NaN or Infinity)', `Fix the row on the source, or keep the text: ${overrideFix(table, m.column.name, 'VARCHAR(100)')}.`);
      }
      return s;
    }
    case 'bits': {
      if (typeof v === 'bigint') return v.toString();
      const s = String(v);
      if (!/^[01]*$/.test(s)) refuseValue(table, m, v, 'is not a bit string', `${overrideFix(table, m.column.name, 'VARCHAR(64)')}.`);
      return s === '' ? '0' : BigInt('0b' + s).toString();
    }
    case 'bytes':
      return Buffer.isBuffer(v) ? v : Buffer.from(String(v), 'utf8');
    case 'timestamptz':
    case 'timestamp':
    case 'date':
      return temporalValue(table, m, String(v));
    case 'time': {
      const s = String(v);
      checkFraction(table, m, s, /(\.\d+)$/.exec(s)?.[1] ?? '');
      return s;
    }
    case 'text':
      if (typeof v === 'string') return v;
      if (typeof v === 'boolean') return v ? 'true' : 'false';
      if (Buffer.isBuffer(v)) return '\\x' + v.toString('hex');
      return String(v);
  }
}
