import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { civilFromDays } from '../../core/calendar.js';
import { isKeyless, type Column, type TableSchema } from '../../core/schema.js';
import type { JsonOut, MemberForm, MemberWriter } from '../../core/json-row.js';
import { rowJson } from '../../core/slab.js';
import type { Value } from '../../core/values.js';
import { isMysqlSpatial } from './types.js';
import { normaliseInt, type ColumnCodec } from './values.js';

/**
 * Row images of binlog row events read straight into canonical values, in the table's column order.
 *
 * zongji decodes each row into an object keyed by column name whose values need converting again
 * (numbers into bigints, date strings re-cut to their fraction), and allocates along the way (a
 * copy of every DECIMAL, an object per fraction of a second, a string per zero-padded part).
 * Profiled on a 500k-change replay, that was a third of the decoding thread's busy time, and much of its
 * garbage. Here each column of a table map gets a reader once, from its type and metadata, and a
 * row is read in one pass into the Value[] the stream emits.
 *
 * What must hold: every value equals what zongji's decoder followed by the column's codec
 * (values.ts `fromBinlog`) gives. Columns whose types are read here are those whose encoding is
 * simple and whose canonical form is the decoder's own (integers, FLOAT/DOUBLE, DECIMAL, DATE,
 * DATETIME2, TIMESTAMP2, YEAR, ENUM, UTF-8 text, VARBINARY and BLOBs); any other column of the same
 * row (TIME, BIT, SET, JSON of MySQL, other charsets, MariaDB's UUID/INET, compressed columns…) is
 * read by zongji's own readMysqlValue and converted by its codec, exactly as before.
 * tests/integration/mysql-binlog-rows.test.ts reads real row events both ways and compares them.
 */

/** zongji's table-map column, the part read here. */
interface MapColumn {
  readonly name: string;
  readonly type: number;
  readonly charset: string | null;
  readonly metadata?: { readonly max_length?: number; readonly length_size?: number; readonly precision?: number; readonly decimals?: number; readonly size?: number };
}

/** zongji's per-column schema, built from the table map's FULL row metadata. */
interface MapColumnSchema {
  readonly UNSIGNED?: boolean;
  readonly COLUMN_TYPE: string;
  readonly ENUM_VALUES?: readonly string[];
}

/** zongji's table-map entry (tableMap[tableId]). */
export interface RowsTableMap {
  readonly columns: readonly MapColumn[];
  readonly columnSchemas: readonly MapColumnSchema[];
  readonly tableName: string;
  readonly parentSchema: string;
}

/** zongji's packet parser, the part read here. */
interface Parser {
  _buffer: Buffer;
  _offset: number;
}

/** The event a row is read for, as zongji's RowsEvent holds it. */
interface ZongjiRowsEvent {
  tableId: number;
  tableMap: Record<number, RowsTableMap>;
  columns_present_bitmap: Buffer;
  columns_present_bitmap2?: Buffer;
  _zongji: ZongjiWithRows;
  /** Set here: the schema the event's rows were read with (undefined: zongji's objects). */
  tributaryReadFor?: TableSchema;
  /** Set here for an UPDATE or DELETE read by a plan: whether its old images were read whole (else only their key). */
  tributaryOldWhole?: boolean;
  /** Set here, once per event, for an INSERT or UPDATE read by a plan: the writer of its new images' documents, or null for values. */
  _tributaryWriter?: MemberWriter | null;
  _tributaryPlan?: RowPlan | null;
}

/** A zongji client whose row events this module reads (installRowReader). */
export interface ZongjiWithRows {
  /** The plan for a table map's rows, or undefined to leave them to zongji. */
  tributaryRows?: (entry: RowsTableMap) => RowPlan | undefined;
  /**
   * Whether the old images of a table's rows (an UPDATE's before, a DELETE's row) are read whole,
   * asked once per event its plan reads; false: only their key (RowPlan.readKey). Absent: whole.
   */
  tributaryWholeOld?: (schema: TableSchema) => boolean;
  /**
   * The writer of a table's new images as JSON documents (StreamRequest.documents), asked once per
   * INSERT event, and per UPDATE event whose old images are read for their key only; undefined:
   * values. Its images are then DocumentImages.
   */
  tributaryDocuments?: (schema: TableSchema) => MemberWriter | undefined;
}

/** A new image read as its JSON document (RowPlan.readDocument): its key's values in `row` (the other slots null), the document in `doc`. */
export class DocumentImage {
  constructor(
    readonly row: Value[],
    readonly doc: Buffer,
  ) {}
}

// Binlog column type codes (MySQL's enum_field_types, as the table map carries them).
const T_TINY = 1;
const T_SHORT = 2;
const T_LONG = 3;
const T_FLOAT = 4;
const T_DOUBLE = 5;
const T_LONGLONG = 8;
const T_INT24 = 9;
const T_DATE = 10;
const T_YEAR = 13;
const T_VARCHAR = 15;
const T_TIMESTAMP2 = 17;
const T_DATETIME2 = 18;
const T_NEWDECIMAL = 246;
const T_ENUM = 247;
const T_BLOB = 252;
const T_STRING = 254;

// How each column is read.
const K_FALLBACK = 0;
const K_INT8 = 1;
const K_UINT8 = 2;
const K_INT16 = 3;
const K_UINT16 = 4;
const K_INT24 = 5;
const K_UINT24 = 6;
const K_INT32 = 7;
const K_UINT32 = 8;
const K_INT64 = 9;
const K_UINT64 = 10;
const K_FLOAT = 11;
const K_DOUBLE = 12;
const K_DECIMAL = 13;
const K_DATE = 14;
const K_DATETIME2 = 15;
const K_TIMESTAMP2 = 16;
const K_YEAR = 17;
const K_TEXT = 18;
const K_BYTES = 19;
const K_ENUM = 20;

const INTEGER_TYPES = new Set(['tinyint', 'smallint', 'mediumint', 'int', 'integer', 'bigint']);
const TEXT_TYPES = new Set(['char', 'varchar', 'tinytext', 'text', 'mediumtext', 'longtext']);
const BLOB_TYPES = new Set(['tinyblob', 'blob', 'mediumblob', 'longblob']);
const UTF8 = new Set(['utf8mb4', 'utf8mb3', 'utf8']);
/** Bytes of a DECIMAL group of 0–9 digits. */
const DIGIT_BYTES = [0, 1, 1, 2, 2, 3, 3, 4, 4, 4];
/** Bytes of `digits` digits of a binary DECIMAL's integral or fraction part: four a group of nine, then the rest's. */
const digitsBytes = (digits: number): number => 4 * Math.floor(digits / 9) + (DIGIT_BYTES[digits % 9] as number);
/** Bytes of each integer type's value. */
const INT_BYTES: Record<number, number> = { [T_TINY]: 1, [T_SHORT]: 2, [T_INT24]: 3, [T_LONG]: 4, [T_LONGLONG]: 8 };

/** How one binlog column is read: its kind, its schema slot and what the kind needs. */
interface ColumnReader {
  readonly kind: number;
  /** The column's index in the schema, or -1: read past it. */
  readonly slot: number;
  /** Length prefix bytes (text, bytes), value bytes (ENUM), or fraction digits (temporal). */
  readonly size: number;
  /** DECIMAL: integral and fraction digits. */
  readonly intg: number;
  readonly frac: number;
  /** Bytes of a value of this column when they are fixed (read past without reading it); 0 when not (text, bytes, zongji's). */
  readonly width: number;
  readonly choices: readonly string[] | undefined;
  readonly codec: ColumnCodec | undefined;
}

/** Reads a table map's rows with one schema: made by planRows, reused for later table maps it fits. */
export interface RowPlan {
  /** The definition the rows are read with: the values are in its column order. */
  readonly schema: TableSchema;
  /** The schema's columns read here; zongji reads the others (for tests and logs). */
  readonly readHere: readonly string[];
  /** Whether this plan reads `entry`'s rows: its columns are those the plan was made for. */
  fits(entry: RowsTableMap): boolean;
  /**
   * Reads one row image of `entry` (a table map this plan fits) at the parser's offset and moves
   * the offset past it. `present` is the event's columns-present bitmap; `client` the zongji
   * client (its decoder, for the columns left to it, reads the client's options).
   */
  read(parser: Parser, present: Buffer, client: unknown, entry: RowsTableMap): Value[];
  /**
   * As read, but only the schema's key columns (primaryKey) are read into values: every other
   * slot is null, its bytes read past. A table without a key (isKeyless) is read whole, its whole
   * row being its key. For old images whose other values nobody asked for.
   */
  readKey(parser: Parser, present: Buffer, client: unknown, entry: RowsTableMap): Value[];
  /**
   * As read, the image written as its JSON document by `w` (a MemberWriter of the plan's schema)
   * instead of values, where the plan's columns are the table map's in order (else undefined: use
   * read). Values whose JSON form the writer takes straight (integers, ASCII text, DATE, DATETIME,
   * DECIMAL) are written from their bytes, without a value in between; the key's are read into
   * values too.
   */
  readDocument(parser: Parser, present: Buffer, client: unknown, entry: RowsTableMap, w: MemberWriter): DocumentImage | undefined;
}

/** zongji's value decoder (lib/common.js readMysqlValue): the fallback for the columns not read here. */
type ReadMysqlValue = (parser: Parser, column: MapColumn, columnSchema: MapColumnSchema, tableMap: RowsTableMap, zongji: unknown) => unknown;

interface ZongjiModules {
  readonly readMysqlValue: ReadMysqlValue;
  readonly rowsEvents: { readonly WriteRows: { prototype: object }; readonly DeleteRows: { prototype: object }; readonly UpdateRows: { prototype: object } };
}

/**
 * zongji's own modules, by file (its package exports only its entry): the same module instances
 * zongji uses.
 */
async function loadZongji(): Promise<ZongjiModules> {
  const lib = join(dirname(createRequire(import.meta.url).resolve('@vlasky/zongji')), 'lib');
  const common = (await import(pathToFileURL(join(lib, 'common.js')).href)) as { readMysqlValue: ReadMysqlValue };
  const rowsEvents = (await import(pathToFileURL(join(lib, 'rows_event.js')).href)) as ZongjiModules['rowsEvents'];
  return { readMysqlValue: common.readMysqlValue, rowsEvents };
}

const zongji = await loadZongji();

/** The reader of one binlog column into a schema column (slot -1: the schema has no such column; it is read past). */
function readerFor(column: MapColumn, columnSchema: MapColumnSchema, slot: number, schema: TableSchema, codec: ColumnCodec | undefined): ColumnReader {
  const col = slot >= 0 ? schema.columns[slot] : undefined;
  const base = { slot, size: 0, intg: 0, frac: 0, width: 0, choices: undefined, codec };
  const fallback: ColumnReader = { ...base, kind: K_FALLBACK };
  if (!col) return fallback;
  const t = col.dataType;
  const meta = column.metadata ?? {};
  switch (column.type) {
    case T_TINY:
    case T_SHORT:
    case T_INT24:
    case T_LONG:
    case T_LONGLONG: {
      if (!INTEGER_TYPES.has(t) || columnSchema.UNSIGNED === undefined) return fallback;
      const kinds: Record<number, [number, number]> = { [T_TINY]: [K_INT8, K_UINT8], [T_SHORT]: [K_INT16, K_UINT16], [T_INT24]: [K_INT24, K_UINT24], [T_LONG]: [K_INT32, K_UINT32], [T_LONGLONG]: [K_INT64, K_UINT64] };
      const [signed, unsignedKind] = kinds[column.type] as [number, number];
      return { ...base, kind: columnSchema.UNSIGNED ? unsignedKind : signed, width: INT_BYTES[column.type] as number };
    }
    case T_FLOAT:
      return t === 'float' ? { ...base, kind: K_FLOAT, width: 4 } : fallback;
    case T_DOUBLE:
      return t === 'double' ? { ...base, kind: K_DOUBLE, width: 8 } : fallback;
    case T_NEWDECIMAL: {
      const precision = meta.precision ?? 0;
      const scale = meta.decimals ?? 0;
      return t === 'decimal' && precision > 0 ? { ...base, kind: K_DECIMAL, intg: precision - scale, frac: scale, width: digitsBytes(precision - scale) + digitsBytes(scale) } : fallback;
    }
    case T_DATE:
      return t === 'date' ? { ...base, kind: K_DATE, width: 3 } : fallback;
    case T_DATETIME2:
    case T_TIMESTAMP2: {
      const fsp = meta.decimals ?? 0;
      if (t !== (column.type === T_DATETIME2 ? 'datetime' : 'timestamp') || fsp !== (col.scale ?? 0) || fsp > 6) return fallback;
      return { ...base, kind: column.type === T_DATETIME2 ? K_DATETIME2 : K_TIMESTAMP2, size: fsp, width: (column.type === T_DATETIME2 ? 5 : 4) + ((fsp + 1) >> 1) };
    }
    case T_YEAR:
      return t === 'year' ? { ...base, kind: K_YEAR, width: 1 } : fallback;
    case T_ENUM:
      return t === 'enum' && columnSchema.ENUM_VALUES && (meta.size === 1 || meta.size === 2) ? { ...base, kind: K_ENUM, size: meta.size, width: meta.size, choices: columnSchema.ENUM_VALUES } : fallback;
    case T_VARCHAR:
    case T_STRING: {
      const size = (meta.max_length ?? 0) > 255 ? 2 : 1;
      if (column.charset !== null) return UTF8.has(column.charset) && (t === 'varchar' || t === 'char') ? { ...base, kind: K_TEXT, size } : fallback;
      // Fixed-width BINARY(n) is padded back to n by zongji, and MariaDB's UUID and INETs ride here too.
      return column.type === T_VARCHAR && t === 'varbinary' && columnSchema.COLUMN_TYPE.startsWith('varbin') ? { ...base, kind: K_BYTES, size } : fallback;
    }
    case T_BLOB: {
      const size = meta.length_size ?? 0;
      if (size < 1 || size > 4) return fallback;
      if (column.charset !== null) return UTF8.has(column.charset) && TEXT_TYPES.has(t) ? { ...base, kind: K_TEXT, size } : fallback;
      // A spatial column arrives re-typed as a BLOB without charset (values.ts keepSpatialBytes).
      return BLOB_TYPES.has(t) || isMysqlSpatial(t) ? { ...base, kind: K_BYTES, size } : fallback;
    }
    default:
      return fallback;
  }
}

const pad2 = (n: number): string => (n < 10 ? '0' + n : '' + n);
const PAD9 = '000000000';

/** `n` (0 ≤ n < 10^width) with zeros to `width` digits. */
function padTo(n: number, width: number): string {
  const s = '' + n;
  return s.length >= width ? s : PAD9.slice(0, width - s.length) + s;
}

/** A year as zongji prints it (its zeroPad): four digits, the last four of a longer one. */
function year4(y: number): string {
  const s = '' + y;
  return s.length === 4 ? s : s.length < 4 ? PAD9.slice(0, 4 - s.length) + s : s.slice(s.length - 4);
}

/** Big-endian unsigned integer of `n` (1–4) bytes. */
function uintBE(buf: Buffer, o: number, n: number): number {
  let v = 0;
  for (let i = 0; i < n; i++) v = v * 256 + (buf[o + i] as number);
  return v;
}

/** Where the last readDecimal ended. */
let decimalEnd = 0;

/** One group of a binary DECIMAL's digits: `n` bytes, the first group's sign bit flipped back, inverted when negative. */
function digitGroup(buf: Buffer, o: number, n: number, first: boolean, negative: boolean): number {
  let v = uintBE(buf, o, n);
  if (first) {
    const sign = 0x80 * 2 ** (8 * (n - 1));
    v = v >= sign ? v - sign : v + sign;
  }
  return negative ? 2 ** (8 * n) - 1 - v : v;
}

/** A binary DECIMAL's digits, as zongji's parseNewDecimal prints them; decimalEnd is where it ends. */
function readDecimal(buf: Buffer, o: number, intg: number, frac: number): string {
  // The stored first byte has its sign bit flipped: clear for a negative number, whose bits are all inverted.
  const negative = ((buf[o] as number) & 0x80) === 0;
  let first = true;
  let digits = '';
  const leadBytes = DIGIT_BYTES[intg % 9] as number;
  if (leadBytes > 0) {
    const v = digitGroup(buf, o, leadBytes, first, negative);
    first = false;
    o += leadBytes;
    if (v !== 0) digits = '' + v;
  }
  for (let i = Math.floor(intg / 9); i > 0; i--) {
    const v = digitGroup(buf, o, 4, first, negative);
    first = false;
    o += 4;
    // Leading zeros dropped, one digit kept.
    digits = digits !== '' ? digits + padTo(v, 9) : v !== 0 ? '' + v : '';
  }
  let s = (negative ? '-' : '') + (digits === '' ? '0' : digits);
  if (frac > 0) {
    s += '.';
    for (let i = Math.floor(frac / 9); i > 0; i--) {
      s += padTo(digitGroup(buf, o, 4, first, negative), 9);
      first = false;
      o += 4;
    }
    const tail = frac % 9;
    const tailBytes = DIGIT_BYTES[tail] as number;
    if (tailBytes > 0) {
      s += padTo(digitGroup(buf, o, tailBytes, first, negative), tail);
      o += tailBytes;
    }
  }
  decimalEnd = o;
  return s;
}

/** The fraction of a second of `fsp` digits stored big-endian after a temporal value: '' or '.ddd'. */
function fraction(buf: Buffer, o: number, fsp: number): string {
  if (fsp === 0) return '';
  const n = (fsp + 1) >> 1;
  let v = buf.readIntBE(o, n);
  if (fsp % 2 !== 0) v /= 10;
  if (v < 0) v = -v;
  return '.' + padTo(v, fsp);
}

const NO_METADATA: NonNullable<MapColumn['metadata']> = {};

function sameList(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  if (a === b) return true;
  if (!a || !b || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Whether two table maps' columns get the same readers: what readerFor reads of each column is
 * equal. (zongji builds a new entry per TABLE_MAP event, one per transaction; the columns left to
 * zongji are read with the event's own entry.)
 */
function sameReaders(a: RowsTableMap, b: RowsTableMap): boolean {
  if (a.columns.length !== b.columns.length || a.columnSchemas.length !== b.columnSchemas.length) return false;
  for (let i = 0; i < a.columns.length; i++) {
    const ca = a.columns[i] as MapColumn;
    const cb = b.columns[i] as MapColumn;
    const sa = a.columnSchemas[i] as MapColumnSchema;
    const sb = b.columnSchemas[i] as MapColumnSchema;
    const ma = ca.metadata ?? NO_METADATA;
    const mb = cb.metadata ?? NO_METADATA;
    if (
      ca.name !== cb.name || ca.type !== cb.type || ca.charset !== cb.charset ||
      ma.max_length !== mb.max_length || ma.length_size !== mb.length_size || ma.precision !== mb.precision || ma.decimals !== mb.decimals || ma.size !== mb.size ||
      sa.UNSIGNED !== sb.UNSIGNED || sa.COLUMN_TYPE !== sb.COLUMN_TYPE || !sameList(sa.ENUM_VALUES, sb.ENUM_VALUES)
    ) {
      return false;
    }
  }
  return true;
}

/**
 * The plan reading `entry`'s rows into `schema`'s columns, or undefined when the table map lacks
 * one of them (zongji's objects then show which, and rowsEvent says so).
 */
export function planRows(entry: RowsTableMap, schema: TableSchema, codecs: readonly ColumnCodec[]): RowPlan | undefined {
  const slotOf = new Map(schema.columns.map((c, i) => [c.name, i]));
  const readers: ColumnReader[] = [];
  const seen = new Set<number>();
  for (let i = 0; i < entry.columns.length; i++) {
    const column = entry.columns[i] as MapColumn;
    const columnSchema = entry.columnSchemas[i];
    if (!columnSchema || typeof column.name !== 'string') return undefined;
    const slot = slotOf.get(column.name) ?? -1;
    if (slot >= 0) seen.add(slot);
    readers.push(readerFor(column, columnSchema, slot, schema, slot >= 0 ? codecs[slot] : undefined));
  }
  if (seen.size !== schema.columns.length) return undefined;
  const width = schema.columns.length;
  // Per binlog column, 1 when readKey reads its value: a key column's, or every one of a keyless table.
  const keyed = new Set(schema.primaryKey);
  const keyColumns = Uint8Array.from(readers, (r) => (isKeyless(schema) || keyed.has(r.slot) ? 1 : 0));
  // readDocument writes members in the schema's order as it reads the binlog's: only when they agree.
  const inOrder = readers.length === width && readers.every((r, i) => r.slot === i);
  /**
   * One row image; with `only`, the values of the binlog columns it marks, the others read past.
   * With `doc` (inOrder), the image is written as its JSON document, and only the key's values
   * are read into the row.
   */
  const readImage = (parser: Parser, present: Buffer, client: unknown, current: RowsTableMap, only: Uint8Array | undefined, doc?: { readonly w: MemberWriter; readonly out: JsonOut }): Value[] => {
    const buf = parser._buffer;
    let presentCount = 0;
    for (let i = 0; i < readers.length; i++) if ((present[i >> 3] as number) & (1 << (i & 7))) presentCount++;
    const nulls = parser._offset;
    let o = nulls + ((presentCount + 7) >> 3);
    const row = new Array<Value>(width);
    if (doc) doc.w.start(doc.out);
    for (let i = 0, bit = 0; i < readers.length; i++) {
      const r = readers[i] as ColumnReader;
      if (doc) doc.w.name(i, doc.out);
      // A column absent from the image, or NULL, is null (every codec maps null to null).
      if (((present[i >> 3] as number) & (1 << (i & 7))) === 0) {
        if (r.slot >= 0) row[r.slot] = null;
        if (doc) doc.w.value(i, null, doc.out);
        continue;
      }
      const isNull = ((buf[nulls + (bit >> 3)] as number) & (1 << (bit & 7))) !== 0;
      bit++;
      if (isNull || (only !== undefined && only[i] === 0)) {
        if (r.slot >= 0) row[r.slot] = null;
        if (doc) doc.w.value(i, null, doc.out);
        if (!isNull) o = pastValue(r, buf, o, parser, current.columns[i] as MapColumn, current.columnSchemas[i] as MapColumnSchema, current, client);
        continue;
      }
      if (doc && keyColumns[i] === 0) {
        // Not a key column: its JSON from its bytes where the form allows (the same bytes as the value's).
        const end = straight(r, buf, o, doc.w.form(i), doc.out, schema.columns[i] as Column);
        if (end >= 0) {
          row[i] = null;
          o = end;
          continue;
        }
      }
      let v: Value;
      switch (r.kind) {
        case K_INT8:
          v = BigInt(buf.readInt8(o));
          o += 1;
          break;
        case K_UINT8:
          v = BigInt(buf[o] as number);
          o += 1;
          break;
        case K_INT16:
          v = BigInt(buf.readInt16LE(o));
          o += 2;
          break;
        case K_UINT16:
          v = BigInt(buf.readUInt16LE(o));
          o += 2;
          break;
        case K_INT24:
          v = BigInt(buf.readIntLE(o, 3));
          o += 3;
          break;
        case K_UINT24:
          v = BigInt(buf.readUIntLE(o, 3));
          o += 3;
          break;
        case K_INT32:
          v = BigInt(buf.readInt32LE(o));
          o += 4;
          break;
        case K_UINT32:
          v = BigInt(buf.readUInt32LE(o));
          o += 4;
          break;
        case K_INT64:
          v = buf.readBigInt64LE(o);
          o += 8;
          break;
        case K_UINT64:
          v = buf.readBigUInt64LE(o);
          o += 8;
          break;
        case K_FLOAT:
          v = buf.readFloatLE(o);
          o += 4;
          break;
        case K_DOUBLE:
          v = buf.readDoubleLE(o);
          o += 8;
          break;
        case K_DECIMAL:
          v = readDecimal(buf, o, r.intg, r.frac);
          o = decimalEnd;
          break;
        case K_DATE: {
          const raw = buf.readUIntLE(o, 3);
          o += 3;
          v = `${year4(raw >>> 9)}-${pad2((raw >>> 5) & 15)}-${pad2(raw & 31)}`;
          break;
        }
        case K_DATETIME2: {
          // 40 bits: sign, year × 13 + month (17), day (5), hour (5), minute (6), second (6).
          const high = buf.readUInt32BE(o);
          const low = buf.readUInt32BE(o + 1);
          o += 5;
          const ym = (high >>> 14) & 0x1ffff;
          v = `${year4(Math.floor(ym / 13))}-${pad2(ym % 13)}-${pad2((low >>> 17) & 31)} ${pad2((low >>> 12) & 31)}:${pad2((low >>> 6) & 63)}:${pad2(low & 63)}${fraction(buf, o, r.size)}`;
          o += (r.size + 1) >> 1;
          break;
        }
        case K_TIMESTAMP2: {
          const secs = buf.readInt32BE(o);
          o += 4;
          const frac = fraction(buf, o, r.size);
          o += (r.size + 1) >> 1;
          if (secs === 0 && (frac === '' || /^\.0+$/.test(frac))) v = '0000-00-00 00:00:00' + frac;
          else {
            const days = Math.floor(secs / 86400);
            const sec = secs - days * 86400;
            const [y, m, d] = civilFromDays(days);
            v = `${year4(y)}-${pad2(m)}-${pad2(d)} ${pad2(Math.floor(sec / 3600))}:${pad2(Math.floor((sec % 3600) / 60))}:${pad2(sec % 60)}${frac}`;
          }
          break;
        }
        case K_YEAR: {
          const y = buf[o] as number;
          o += 1;
          v = y === 0 ? 0n : BigInt(y + 1900);
          break;
        }
        case K_ENUM: {
          const index = r.size === 1 ? (buf[o] as number) : buf.readUInt16LE(o);
          o += r.size;
          // An invalid value (index 0) reads as '' on the query path too.
          v = (r.choices as readonly string[])[index - 1] ?? '';
          break;
        }
        case K_TEXT:
        case K_BYTES: {
          const n = r.size === 1 ? (buf[o] as number) : r.size === 2 ? buf.readUInt16LE(o) : buf.readUIntLE(o, r.size);
          o += r.size;
          v = r.kind === K_TEXT ? buf.toString('utf8', o, o + n) : buf.subarray(o, o + n);
          o += n;
          break;
        }
        default: {
          parser._offset = o;
          const raw = zongji.readMysqlValue(parser, current.columns[i] as MapColumn, current.columnSchemas[i] as MapColumnSchema, current, client);
          o = parser._offset;
          if (r.slot < 0) continue;
          v = r.codec ? r.codec.fromBinlog(raw) : (raw as Value);
        }
      }
      if (typeof v === 'bigint' && r.kind <= K_UINT64 && v < 0n && r.slot >= 0) v = normaliseInt(v, schema.columns[r.slot] as Column);
      if (doc) doc.w.value(i, v, doc.out);
      if (r.slot >= 0) row[r.slot] = doc && keyColumns[i] === 0 ? null : v;
    }
    parser._offset = o;
    if (doc) doc.w.end(doc.out);
    return row;
  };
  return {
    schema,
    readHere: readers.filter((r) => r.kind !== K_FALLBACK && r.slot >= 0).map((r) => (schema.columns[r.slot] as Column).name),
    fits: (other) => other === entry || sameReaders(entry, other),
    read: (parser, present, client, current) => readImage(parser, present, client, current, undefined),
    readKey: (parser, present, client, current) => readImage(parser, present, client, current, keyColumns),
    readDocument: (parser, present, client, current, w) => {
      if (!inOrder || w.columns !== width) return undefined;
      let row: Value[] = [];
      const bytes = rowJson((out) => (row = readImage(parser, present, client, current, undefined, { w, out })));
      return new DocumentImage(row, bytes);
    },
  };
}

/**
 * Writes a non-NULL value of a column read by `r` at `o` straight from its bytes as its JSON form
 * `form` (core/json-row.ts MemberWriter): the very bytes the writer would write for the value read
 * would be. Returns where the value ends, or -1 (nothing written) where it cannot: then the value
 * is read and written as a value.
 */
function straight(r: ColumnReader, buf: Buffer, o: number, form: MemberForm, out: JsonOut, col: Column): number {
  switch (r.kind) {
    case K_INT8:
    case K_UINT8:
    case K_INT16:
    case K_UINT16:
    case K_INT24:
    case K_UINT24:
    case K_INT32:
    case K_UINT32: {
      if (form !== 'integer') return -1;
      const n = r.kind === K_UINT8 ? (buf[o] as number) : r.kind === K_INT8 ? buf.readInt8(o) : r.kind === K_INT16 ? buf.readInt16LE(o) : r.kind === K_UINT16 ? buf.readUInt16LE(o) : r.kind === K_INT24 ? buf.readIntLE(o, 3) : r.kind === K_UINT24 ? buf.readUIntLE(o, 3) : r.kind === K_INT32 ? buf.readInt32LE(o) : buf.readUInt32LE(o);
      // A negative value of an unsigned column is normalised (values.ts normaliseInt): as a value.
      if (n < 0 && col.unsigned) return -1;
      out.int(n);
      return o + r.width;
    }
    case K_TEXT: {
      if (form !== 'string') return -1;
      const n = r.size === 1 ? (buf[o] as number) : r.size === 2 ? buf.readUInt16LE(o) : buf.readUIntLE(o, r.size);
      // ASCII without an escape is its own JSON text; anything else goes as its string.
      return out.quotedBytes(buf, o + r.size, o + r.size + n) ? o + r.size + n : -1;
    }
    case K_DECIMAL: {
      if (form !== 'string') return -1;
      const text = readDecimal(buf, o, r.intg, r.frac);
      return out.quoted(text, -1) ? decimalEnd : -1;
    }
    case K_DATE: {
      if (form !== 'string') return -1;
      const raw = buf.readUIntLE(o, 3);
      out.byte(QUOTE);
      // year4: four digits, the last four of a longer year.
      out.padded((raw >>> 9) % 10000, 4);
      out.byte(DASH);
      out.padded((raw >>> 5) & 15, 2);
      out.byte(DASH);
      out.padded(raw & 31, 2);
      out.byte(QUOTE);
      return o + 3;
    }
    case K_DATETIME2: {
      if (form !== 'local-timestamp') return -1;
      let f = 0;
      if (r.size > 0) {
        f = buf.readIntBE(o + 5, (r.size + 1) >> 1);
        if (r.size % 2 !== 0) f /= 10;
        if (f < 0) f = -f;
        // fraction()'s padTo keeps a longer number whole: as a value.
        if (f >= 10 ** r.size || !Number.isInteger(f)) return -1;
      }
      const high = buf.readUInt32BE(o);
      const low = buf.readUInt32BE(o + 1);
      const ym = (high >>> 14) & 0x1ffff;
      out.byte(QUOTE);
      out.padded(Math.floor(ym / 13) % 10000, 4);
      out.byte(DASH);
      out.padded(ym % 13, 2);
      out.byte(DASH);
      out.padded((low >>> 17) & 31, 2);
      out.byte(0x54); // T
      out.padded((low >>> 12) & 31, 2);
      out.byte(COLON);
      out.padded((low >>> 6) & 63, 2);
      out.byte(COLON);
      out.padded(low & 63, 2);
      if (r.size > 0) {
        out.byte(0x2e);
        out.padded(f, r.size);
      }
      out.byte(QUOTE);
      return o + r.width;
    }
    default:
      return -1;
  }
}

const QUOTE = 0x22;
const DASH = 0x2d;
const COLON = 0x3a;

/** Where a non-NULL value of a column read by `r` ends, from `o`: its value is not read, zongji's columns aside. */
function pastValue(r: ColumnReader, buf: Buffer, o: number, parser: Parser, column: MapColumn, columnSchema: MapColumnSchema, current: RowsTableMap, client: unknown): number {
  if (r.width > 0) return o + r.width;
  if (r.kind === K_TEXT || r.kind === K_BYTES) {
    const n = r.size === 1 ? (buf[o] as number) : r.size === 2 ? buf.readUInt16LE(o) : buf.readUIntLE(o, r.size);
    return o + r.size + n;
  }
  parser._offset = o;
  zongji.readMysqlValue(parser, column, columnSchema, current, client);
  return parser._offset;
}

type FetchOneRow = (this: ZongjiRowsEvent, parser: Parser) => unknown;

const rowsEventProto = Object.getPrototypeOf(zongji.rowsEvents.WriteRows.prototype) as { _fetchOneRow: FetchOneRow };
const deleteRowsProto = zongji.rowsEvents.DeleteRows.prototype as { _fetchOneRow?: FetchOneRow };
const updateRowsProto = zongji.rowsEvents.UpdateRows.prototype as { _fetchOneRow: FetchOneRow };
/** zongji's own row decoding (an object keyed by column name; for an update, its before and after). */
const zongjiFetch = rowsEventProto._fetchOneRow;
const zongjiFetchUpdate = updateRowsProto._fetchOneRow;

/** The plan for an event's rows, asked of its client once per event (null: zongji reads them). */
function planOf(evt: ZongjiRowsEvent): RowPlan | null {
  if (evt._tributaryPlan === undefined) {
    const entry = evt.tableMap[evt.tableId];
    const plan = entry ? (evt._zongji.tributaryRows?.(entry) ?? null) : null;
    evt._tributaryPlan = plan;
    if (plan) evt.tributaryReadFor = plan.schema;
  }
  return evt._tributaryPlan;
}

/**
 * A new image of an INSERT or UPDATE read by `plan`: its values, or its JSON document when the
 * client renders the table's new images (tributaryDocuments) and the plan can. `documents` (the
 * event's new images may be documents) and the client's writer are taken at the event's first
 * row, and kept for its others.
 */
function readNew(evt: ZongjiRowsEvent, plan: RowPlan, parser: Parser, entry: RowsTableMap, present: Buffer, documents: boolean): Value[] | DocumentImage {
  if (evt._tributaryWriter === undefined) evt._tributaryWriter = (documents && evt._zongji.tributaryDocuments?.(plan.schema)) || null;
  const w = evt._tributaryWriter;
  return (w && plan.readDocument(parser, present, evt._zongji, entry, w)) ?? plan.read(parser, present, evt._zongji, entry);
}

/** An old image of an UPDATE or DELETE read by `plan`: whole or its key only, as the client says once per event. */
function readOld(evt: ZongjiRowsEvent, plan: RowPlan, parser: Parser, entry: RowsTableMap): Value[] {
  evt.tributaryOldWhole ??= evt._zongji.tributaryWholeOld?.(plan.schema) ?? true;
  return evt.tributaryOldWhole ? plan.read(parser, evt.columns_present_bitmap, evt._zongji, entry) : plan.readKey(parser, evt.columns_present_bitmap, evt._zongji, entry);
}

let installed = false;

/**
 * Has zongji's row events ask their client's `tributaryRows` for a plan, and read their rows
 * with it: then an event's `rows` are Value[] (an update's, { before, after } of them) and its
 * `tributaryReadFor` names the schema they follow. Clients without the hook, and tables it
 * returns no plan for, decode as zongji does. Idempotent; per thread (each has its modules).
 */
export function installRowReader(): void {
  if (installed) return;
  installed = true;
  // WriteRows reads with the prototype's: the new images of an INSERT, whose table keeps its key (else its values).
  rowsEventProto._fetchOneRow = function (this: ZongjiRowsEvent, parser: Parser) {
    const plan = planOf(this);
    return plan ? readNew(this, plan, parser, this.tableMap[this.tableId] as RowsTableMap, this.columns_present_bitmap, !isKeyless(plan.schema)) : zongjiFetch.call(this, parser);
  };
  deleteRowsProto._fetchOneRow = function (this: ZongjiRowsEvent, parser: Parser) {
    const plan = planOf(this);
    return plan ? readOld(this, plan, parser, this.tableMap[this.tableId] as RowsTableMap) : zongjiFetch.call(this, parser);
  };
  updateRowsProto._fetchOneRow = function (this: ZongjiRowsEvent, parser: Parser) {
    const plan = planOf(this);
    if (!plan) return zongjiFetchUpdate.call(this, parser);
    const entry = this.tableMap[this.tableId] as RowsTableMap;
    const before = readOld(this, plan, parser, entry);
    // A new image whose old one goes whole keeps its values (the applier reads a cascade's new values).
    return { before, after: readNew(this, plan, parser, entry, this.columns_present_bitmap2 as Buffer, this.tributaryOldWhole === false) };
  };
}

/** zongji's own decoding of one row image at the parser's offset (tests compare planRows with it). */
export function zongjiRow(parser: Parser, entry: RowsTableMap, tableId: number, present: Buffer, client: ZongjiWithRows): Record<string, unknown> {
  const evt: ZongjiRowsEvent = { tableId, tableMap: { [tableId]: entry }, columns_present_bitmap: present, _zongji: client, _tributaryPlan: null };
  return zongjiFetch.call(evt, parser) as Record<string, unknown>;
}
