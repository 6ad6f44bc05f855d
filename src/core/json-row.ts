import { ErrorCode, TributaryError } from './errors.js';
import type { LogicalType } from './logical.js';
import type { Column, TableSchema } from './schema.js';
import type { Row, Value, ValueConventions } from './values.js';

/**
 * A row as one JSON object, column name → value, and back: the etcd target's value format
 * (docs/etcd.md lists each form). Every form is exact: `parseRow` gives back the very canonical
 * values (core/values.ts) `renderRow` was given, for the source engine whose conventions
 * (engines/registry.ts) are passed in, so the checksum compares what etcd holds with the source
 * exactly.
 *
 * | logical type | JSON form |
 * |---|---|
 * | integer, year | number; a string of digits beyond ±(2^53 − 1) |
 * | decimal | string, as the source prints it ("-1.50", "NaN") |
 * | float | number; "NaN", "Infinity", "-Infinity", "-0" as strings |
 * | boolean | true / false |
 * | text, enum, uuid, inet | string |
 * | set | array of its labels, in the source's order |
 * | binary | string, base64 |
 * | date | string 'YYYY-MM-DD' (a MySQL zero date kept as '0000-00-00') |
 * | timestamp | string, ISO 8601 'YYYY-MM-DDTHH:MM:SS[.f]' with the source's fraction digits; an instant (with zone) in UTC ending in 'Z' |
 * | time, interval | string, as the source prints it ('-838:59:59.000000', '1 day 02:00:00') |
 * | json | the document itself, embedded as the source stores its text (the document `null` with a space before it: SQL NULL is a bare null) |
 * | bit | string of '0' and '1' (MySQL BIT(n): n digits) |
 * | array, other | string, PostgreSQL's text form ('{1,2,NULL}') |
 * | spatial | string, hex of the source's bytes (MySQL: SRID + WKB; PostGIS: EWKB) |
 *
 * NULL is null. A column missing from a stored object (added to the table after the row was last
 * written) reads as NULL.
 */

const SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** The column's logical type; one built by hand without it is written by its values' JS types (`other`). */
function logicalOf(column: Column): LogicalType {
  return column.logical ?? { kind: 'other', native: column.columnType };
}

function fail(table: TableSchema, column: Column, v: Value, why: string): TributaryError {
  const shown = Buffer.isBuffer(v) ? `0x${v.subarray(0, 16).toString('hex')}` : String(v).slice(0, 60);
  return new TributaryError(ErrorCode.TARGET_WRITE_FAILED, `table ${table.name} column ${column.name}: value ${shown} ${why}`);
}

const TS = /^(-?\d{4,}-\d\d-\d\d) (\d\d:\d\d:\d\d(?:\.\d+)?)(.*)$/s;
const ISO = /^(-?\d{4,}-\d\d-\d\d)T(\d\d:\d\d:\d\d(?:\.\d+)?)(Z?)(.*)$/s;

/** A canonical timestamp as ISO 8601 ('T' between date and time; an instant's UTC suffix as 'Z'). */
export function isoTimestamp(v: string, zone: boolean, conv: ValueConventions): string {
  // The common case, a local time 'YYYY-MM-DD HH:MM:SS[.f]' with nothing after it: 'T' for the space.
  if (!zone && plainLocal(v)) {
    return `${v.slice(0, 10)}T${v.slice(11)}`;
  }
  const m = TS.exec(v);
  if (!m) return v; // 'infinity', '-infinity'
  let rest = m[3] as string;
  if (zone) {
    if (conv.instantSuffix === '') rest = `Z${rest}`;
    else if (rest.startsWith(conv.instantSuffix) && !/^\d/.test(rest.slice(conv.instantSuffix.length))) rest = `Z${rest.slice(conv.instantSuffix.length)}`;
  }
  return `${m[1] as string}T${m[2] as string}${rest}`;
}

/** isoTimestamp's inverse. */
export function canonicalTimestamp(v: string, conv: ValueConventions): string {
  const m = ISO.exec(v);
  if (!m) return v;
  return `${m[1] as string} ${m[2] as string}${m[3] ? conv.instantSuffix : ''}${m[4] as string}`;
}

/** One value's JSON text. */
export function renderValue(table: TableSchema, column: Column, v: Value, conv: ValueConventions): string {
  if (v === null) return 'null';
  const t = logicalOf(column);
  switch (t.kind) {
    case 'integer':
    case 'year':
      if (typeof v === 'bigint') return v > SAFE || v < -SAFE ? `"${v}"` : v.toString();
      break;
    case 'float':
      if (typeof v === 'number') {
        if (Number.isFinite(v)) return Object.is(v, -0) ? '"-0"' : JSON.stringify(v);
        return `"${String(v)}"`;
      }
      break;
    case 'boolean':
      if (typeof v === 'boolean') return v ? 'true' : 'false';
      break;
    case 'set':
      if (typeof v === 'string') return JSON.stringify(v === '' ? [] : v.split(','));
      break;
    case 'binary':
      if (Buffer.isBuffer(v)) return `"${v.toString('base64')}"`;
      break;
    case 'timestamp':
      if (typeof v === 'string') return JSON.stringify(isoTimestamp(v, t.zone, conv));
      break;
    case 'json':
      if (typeof v === 'string') {
        try {
          JSON.parse(v);
        } catch {
          throw fail(table, column, v, 'is not a JSON document, and an etcd value embeds JSON columns as documents; fix the value on the source, or exclude the column');
        }
        // Embedded as the source stores it (spacing, key order and number spelling kept): a
        // reader's JSON parser gets the document, parseRow gets the exact text back. The document
        // `null` gets one space before it, which tells it from SQL NULL (a bare `null`).
        return v.trim() === 'null' ? ` ${v}` : v;
      }
      break;
    case 'bit':
      if (typeof v === 'bigint') return `"${v.toString(2).padStart(t.length ?? 1, '0')}"`;
      if (typeof v === 'string') return JSON.stringify(v);
      break;
    case 'spatial':
      if (Buffer.isBuffer(v)) return `"${v.toString('hex')}"`;
      if (typeof v === 'string') return JSON.stringify(v);
      break;
    default:
      if (typeof v === 'string') return JSON.stringify(v);
      if (typeof v === 'bigint') return v > SAFE || v < -SAFE ? `"${v}"` : v.toString();
      if (typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v))) return JSON.stringify(v);
      if (Buffer.isBuffer(v)) return `"${v.toString('base64')}"`;
  }
  throw fail(table, column, v, `is a ${Buffer.isBuffer(v) ? 'byte string' : typeof v}, which a ${t.kind} column's canonical value is not (a source bug)`);
}

/** Quoted member names of a table's columns, '"name":', cached per column list. */
const memberNames = new WeakMap<readonly Column[], string[]>();

function names(table: TableSchema): string[] {
  let n = memberNames.get(table.columns);
  if (!n) memberNames.set(table.columns, (n = table.columns.map((c) => `${JSON.stringify(c.name)}:`)));
  return n;
}

type Renderer = (table: TableSchema, column: Column, v: Value, conv: ValueConventions) => string;

// How a column's values are rendered: its common case without renderValue's switch (rendererOf),
// and, for some, without a string at all (writeRow); anything else through renderValue.
const W_GENERAL = 0;
const W_INTEGER = 1;
const W_FLOAT = 2;
const W_ZONED_TIMESTAMP = 3;
const W_LOCAL_TIMESTAMP = 4;
/** A string is JSON.stringify(v). */
const W_STRING = 5;

function wayOf(t: LogicalType): number {
  switch (t.kind) {
    case 'integer':
    case 'year':
      return W_INTEGER;
    case 'float':
      return W_FLOAT;
    case 'timestamp':
      return t.zone ? W_ZONED_TIMESTAMP : W_LOCAL_TIMESTAMP;
    case 'boolean':
    case 'set':
    case 'binary':
    case 'json':
    case 'bit':
    case 'spatial':
      return W_GENERAL;
    default:
      return W_STRING;
  }
}

/**
 * renderValue for one column, with its common cases first and no switch per value: the same
 * text, whatever the value (anything else goes through renderValue).
 */
function rendererOf(column: Column): Renderer {
  const t = logicalOf(column);
  switch (wayOf(t)) {
    case W_INTEGER:
      return (table, c, v, conv) => (typeof v === 'bigint' && v <= SAFE && v >= -SAFE ? v.toString() : renderValue(table, c, v, conv));
    case W_FLOAT:
      return (table, c, v, conv) => (typeof v === 'number' && Number.isFinite(v) && !Object.is(v, -0) ? JSON.stringify(v) : renderValue(table, c, v, conv));
    case W_ZONED_TIMESTAMP:
    case W_LOCAL_TIMESTAMP: {
      const zone = t.kind === 'timestamp' && t.zone;
      return (table, c, v, conv) => (typeof v === 'string' ? JSON.stringify(isoTimestamp(v, zone, conv)) : renderValue(table, c, v, conv));
    }
    case W_STRING:
      return (table, c, v, conv) => (typeof v === 'string' ? JSON.stringify(v) : renderValue(table, c, v, conv));
    default:
      return renderValue;
  }
}

/** Each column's renderer, cached per column list. */
const renderers = new WeakMap<readonly Column[], Renderer[]>();

function renderersOf(table: TableSchema): Renderer[] {
  let r = renderers.get(table.columns);
  if (!r) renderers.set(table.columns, (r = table.columns.map(rendererOf)));
  return r;
}

/**
 * A row as its JSON object text. `unchangedFrom`: for a change whose columns at `unchanged` the
 * source did not send (core/change.ts), the stored object's raw member texts to keep for them.
 */
export function renderRow(table: TableSchema, row: Row, conv: ValueConventions, kept?: ReadonlyMap<string, string>, unchanged?: readonly number[]): string {
  const n = names(table);
  const skip = unchanged?.length ? new Set(unchanged) : undefined;
  if (!skip) {
    const r = renderersOf(table);
    const cols = table.columns;
    let out = '{';
    for (let i = 0; i < cols.length; i++) {
      const v = row[i] ?? null;
      out += (i > 0 ? ',' : '') + (n[i] as string) + (v === null ? 'null' : (r[i] as Renderer)(table, cols[i] as Column, v, conv));
    }
    return out + '}';
  }
  let out = '{';
  for (let i = 0; i < table.columns.length; i++) {
    const c = table.columns[i] as Column;
    let text: string | undefined;
    if (skip?.has(i)) {
      text = kept?.get(c.name);
      if (text === undefined) continue;
    } else {
      text = renderValue(table, c, row[i] ?? null, conv);
    }
    out += (out.length > 1 ? ',' : '') + (n[i] as string) + text;
  }
  return out + '}';
}

/** Where writeRow writes a row's JSON bytes (slab.ts): appended, as UTF-8. */
export interface JsonOut {
  bytes(b: Buffer): void;
  byte(c: number): void;
  /** `s` as UTF-8. */
  text(s: string): void;
  /** A safe integer's digits. */
  int(n: number): void;
  /**
   * `s` quoted, as JSON.stringify(s) gives it, the unit at `t` (when ≥ 0) written as 'T'; false,
   * and nothing written, when `s` holds a unit JSON escapes or one beyond ASCII.
   */
  quoted(s: string, t: number): boolean;
  /**
   * The bytes `b[from, to)` quoted, as JSON.stringify gives their text when they are ASCII; false,
   * and nothing written, when one of them is a byte JSON escapes or one beyond ASCII.
   */
  quotedBytes(b: Buffer, from: number, to: number): boolean;
  /** `n` (0 ≤ n < 10^width, a safe integer) as `width` digits, zeros before it. */
  padded(n: number, width: number): void;
}

/** writeRow's plan of a column list: each column's way, its renderer, and '"name":' / ',"name":' as bytes. */
interface RowWriting {
  readonly ways: readonly number[];
  readonly renderers: readonly Renderer[];
  readonly names: readonly Buffer[];
}

const writings = new WeakMap<readonly Column[], RowWriting>();

function writingOf(table: TableSchema): RowWriting {
  let w = writings.get(table.columns);
  if (!w) {
    const ways = table.columns.map((c) => wayOf(logicalOf(c)));
    const members = names(table).map((n, i) => Buffer.from(`${i === 0 ? '' : ','}${n}`));
    writings.set(table.columns, (w = { ways, renderers: renderersOf(table), names: members }));
  }
  return w;
}

/** isoTimestamp's common case: a local 'YYYY-MM-DD HH:MM:SS[.f]', whose space becomes 'T'. */
function plainLocal(v: string): boolean {
  return v.length >= 19 && v.length <= 26 && v.charCodeAt(0) >= 48 && v.charCodeAt(0) <= 57 && v.charCodeAt(10) === 32 && v.charCodeAt(4) === 45 && v.charCodeAt(13) === 58 && (v.length === 19 || v.charCodeAt(19) === 46);
}

/**
 * renderRow's object (a row whose every column is sent) written into `out` as its UTF-8 bytes,
 * the common values (integers, local timestamps, ASCII strings) straight from the value, the rest
 * through the column's renderer: the same bytes as Buffer.from(renderRow(table, row, conv))
 * (tests/unit/etcd-values.test.ts compares them).
 */
export function writeRow(table: TableSchema, row: Row, conv: ValueConventions, out: JsonOut): void {
  const w = writingOf(table);
  out.byte(0x7b);
  for (let i = 0; i < w.names.length; i++) {
    out.bytes(w.names[i] as Buffer);
    writeMember(table, w, i, row[i] ?? null, conv, out);
  }
  out.byte(0x7d);
}

/** The value of column `i` as writeRow writes it (after its name). */
function writeMember(table: TableSchema, w: RowWriting, i: number, v: Value, conv: ValueConventions, out: JsonOut): void {
  if (v === null) {
    out.text('null');
    return;
  }
  switch (w.ways[i]) {
    case W_INTEGER:
      if (typeof v === 'bigint' && v <= SAFE && v >= -SAFE) {
        out.int(Number(v));
        return;
      }
      break;
    case W_FLOAT:
      // JSON.stringify of a finite number is its String (the renderer's text, without its call).
      if (typeof v === 'number' && Number.isFinite(v) && !Object.is(v, -0)) {
        out.text(String(v));
        return;
      }
      break;
    case W_LOCAL_TIMESTAMP:
      if (typeof v === 'string' && plainLocal(v) && out.quoted(v, 10)) return;
      break;
    case W_STRING:
      if (typeof v === 'string' && out.quoted(v, -1)) return;
      break;
  }
  out.text((w.renderers[i] as Renderer)(table, table.columns[i] as Column, v, conv));
}

/** How a column's value may be written without its value (see MemberWriter.form). */
export type MemberForm = 'integer' | 'string' | 'local-timestamp' | 'other';

/**
 * writeRow a member at a time, for a reader that writes some values from their source bytes
 * (engines/mysql/binlog-rows.ts): start, then for each column in order its name and either
 * value() or, where form() allows it, the value's JSON written straight (the same bytes value()
 * would write: an integer's digits; a string's JSON.stringify; a local timestamp's ISO text,
 * 'YYYY-MM-DDTHH:MM:SS[.f]', quoted), then end.
 */
export interface MemberWriter {
  readonly columns: number;
  start(out: JsonOut): void;
  name(i: number, out: JsonOut): void;
  value(i: number, v: Value, out: JsonOut): void;
  form(i: number): MemberForm;
  end(out: JsonOut): void;
}

const FORMS: Record<number, MemberForm> = { [W_INTEGER]: 'integer', [W_STRING]: 'string', [W_LOCAL_TIMESTAMP]: 'local-timestamp' };

/** The MemberWriter of `table`'s rows, rendered with `conv`. */
export function memberWriter(table: TableSchema, conv: ValueConventions): MemberWriter {
  const w = writingOf(table);
  const forms = w.ways.map((way) => FORMS[way] ?? 'other');
  return {
    columns: w.names.length,
    start: (out) => out.byte(0x7b),
    name: (i, out) => out.bytes(w.names[i] as Buffer),
    value: (i, v, out) => writeMember(table, w, i, v, conv, out),
    form: (i) => forms[i] as MemberForm,
    end: (out) => out.byte(0x7d),
  };
}

/**
 * The members of a JSON object text, each name → its value's raw text exactly as it stands
 * between the ':' and the next ',' or '}' (whitespace included). Throws on anything that is not
 * one JSON object.
 */
export function members(text: string): Map<string, string> {
  const out = new Map<string, string>();
  let i = skipWs(text, 0);
  if (text[i] !== '{') throw new SyntaxError('not a JSON object');
  i = skipWs(text, i + 1);
  if (text[i] === '}') return out;
  for (;;) {
    if (text[i] !== '"') throw new SyntaxError(`expected a member name at ${i}`);
    const end = endOfString(text, i);
    const name = JSON.parse(text.slice(i, end)) as string;
    i = skipWs(text, end);
    if (text[i] !== ':') throw new SyntaxError(`expected ':' at ${i}`);
    const start = i + 1;
    i = endOfValue(text, skipWs(text, start));
    const stop = skipWs(text, i);
    out.set(name, text.slice(start, stop));
    i = stop;
    if (text[i] === ',') {
      i = skipWs(text, i + 1);
      continue;
    }
    if (text[i] === '}') return out;
    throw new SyntaxError(`expected ',' or '}' at ${i}`);
  }
}

function skipWs(s: string, i: number): number {
  while (i < s.length && (s[i] === ' ' || s[i] === '\n' || s[i] === '\r' || s[i] === '\t')) i++;
  return i;
}

/** The index just after the string literal that starts at `i`. */
function endOfString(s: string, i: number): number {
  for (let j = i + 1; j < s.length; j++) {
    const c = s[j];
    if (c === '\\') j++;
    else if (c === '"') return j + 1;
  }
  throw new SyntaxError('unterminated string');
}

/** The index just after the JSON value that starts at `i`. */
function endOfValue(s: string, i: number): number {
  const c = s[i];
  if (c === '"') return endOfString(s, i);
  if (c === '{' || c === '[') {
    let depth = 0;
    for (let j = i; j < s.length; j++) {
      const d = s[j];
      if (d === '"') j = endOfString(s, j) - 1;
      else if (d === '{' || d === '[') depth++;
      else if (d === '}' || d === ']') {
        depth--;
        if (depth === 0) return j + 1;
      }
    }
    throw new SyntaxError('unterminated value');
  }
  let j = i;
  while (j < s.length && s[j] !== ',' && s[j] !== '}' && s[j] !== ']' && s[j] !== ' ' && s[j] !== '\n' && s[j] !== '\r' && s[j] !== '\t') j++;
  if (j === i) throw new SyntaxError(`expected a value at ${i}`);
  return j;
}

/** One member's raw JSON text back to the canonical value renderValue was given. */
export function parseValue(column: Column, raw: string, conv: ValueConventions): Value {
  const text = raw.trim();
  const t = logicalOf(column);
  if (t.kind === 'json') return raw === 'null' ? null : text === 'null' ? raw.slice(1) : raw;
  if (text === 'null') return null;
  const v = JSON.parse(text) as unknown;
  switch (t.kind) {
    case 'integer':
    case 'year':
      return BigInt(typeof v === 'string' ? v : text);
    case 'float':
      return typeof v === 'string' ? (v === '-0' ? -0 : Number(v)) : (v as number);
    case 'boolean':
      return v as boolean;
    case 'set':
      return (v as string[]).join(',');
    case 'binary':
      return Buffer.from(v as string, 'base64');
    case 'timestamp':
      return canonicalTimestamp(v as string, conv);
    case 'bit':
      return conv.bits === 'integer' && !t.varying ? BigInt(`0b${(v as string) || '0'}`) : (v as string);
    case 'spatial':
      return t.ewkb ? (v as string) : Buffer.from(v as string, 'hex');
    default:
      if (typeof v === 'number') return Number.isSafeInteger(v) && /^-?\d+$/.test(text) ? BigInt(text) : v;
      return v as Value;
  }
}

/** A stored object back to a row aligned with `table.columns`; a member it lacks reads as null. */
export function parseRow(table: TableSchema, text: string, conv: ValueConventions): Row {
  const m = members(text);
  return table.columns.map((c) => {
    const raw = m.get(c.name);
    return raw === undefined ? null : parseValue(c, raw, conv);
  });
}
