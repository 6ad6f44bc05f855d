import { sameDialect, valueConventions } from '../engines/registry.js';
import type { ValueConventions } from '../engines/engine.js';
import { ErrorCode, TributaryError } from '../core/errors.js';
import type { ComparableForm } from '../core/comparable.js';
import type { Column } from '../core/schema.js';
import type { Value } from '../core/values.js';
import { addSeconds, isZeroDate, p2 } from '../core/calendar.js';
import { ewkbToSpatial, normaliseSpatial, SpatialError } from '../core/spatial.js';

/**
 * Comparable forms of canonical values across engines.
 *
 * A source and a target of different engines give the same logical value different canonical
 * values (core/values.ts): MySQL's BIGINT UNSIGNED is a bigint, its PostgreSQL numeric(20,0) copy
 * a string; a timestamptz reads '…+00' where its MySQL DATETIME(6) copy reads '….000000'. Each
 * column pair (the source column's type, the target column's type) gets one rule that maps both
 * sides to one comparable form, so that equal values hash equal.
 *
 * What must hold: a rule never maps two source values the target's column can tell apart to the
 * same form (VARCHAR '1.50' and '1.5' stay different; DECIMAL(10,2) '1.50' and numeric(10,2)
 * '1.50' are the same value). The rules only drop what the target type cannot carry by design and
 * the type map documents (docs/type-mapping.md): trailing zeros of a fixed-scale decimal or of
 * fractional seconds, the zone of a UTC instant, CHAR padding, a zero date written as NULL under
 * `zeroDates: null`. A pair no rule knows compares canonical values exactly (each JS type hashes
 * apart from the others), which can report a difference that is not one, never the reverse.
 */

/** How columns compare across engines: the family of a column, by its logical type (familyOf). */
export type Family =
  | 'int'
  | 'decimal'
  | 'float'
  | 'bool'
  /** MySQL BIT (bigint), PostgreSQL bit(n) ('0101') */
  | 'bits'
  | 'date'
  /** a timestamp without zone */
  | 'datetime'
  /** an instant: MySQL TIMESTAMP (read in UTC, no zone), PostgreSQL timestamptz ('…+00') */
  | 'instant'
  /** MySQL TIME (±838:59:59), PostgreSQL time */
  | 'time'
  | 'interval'
  /** fixed-length character types: trailing spaces are padding (MySQL CHAR strips them, PostgreSQL bpchar pads) */
  | 'char'
  | 'text'
  | 'bytes'
  /** MySQL spatial types (SRID + WKB bytes), PostGIS geometry (hex EWKB) */
  | 'spatial';

/**
 * The family of a column, by its logical type (core/logical.ts). A bit varying, whose '01' and
 * '001' differ, compares as text; every kind with no ordering or form of its own (json, uuid, inet,
 * enum, set, array, other) compares as the text its reader gives.
 */
export function familyOf(col: Pick<Column, 'name' | 'logical'>): Family {
  const t = col.logical;
  if (t === undefined) {
    throw new TributaryError(
      ErrorCode.TABLE_UNSUPPORTED,
      `column ${col.name} has no logical type, so its values cannot be compared across engines; describe the table with its engine (Source.describe fills it) or set Column.logical`,
    );
  }
  switch (t.kind) {
    case 'integer':
    case 'year':
      return 'int';
    case 'decimal':
      return 'decimal';
    case 'float':
      return 'float';
    case 'boolean':
      return 'bool';
    case 'bit':
      return t.varying ? 'text' : 'bits';
    case 'date':
      return 'date';
    case 'timestamp':
      return t.zone ? 'instant' : 'datetime';
    case 'time':
      return 'time';
    case 'interval':
      return 'interval';
    case 'text':
      return t.fixed ? 'char' : 'text';
    case 'binary':
      return 'bytes';
    case 'spatial':
      return 'spatial';
    default:
      return 'text';
  }
}

/** One side of a column pair: the column as its engine describes it (with its logical type), and that engine (TableSchema.engine). */
export interface ColumnSide {
  readonly column: Column;
  /** Its dialect decides whether native types compare as they are; its value conventions (engines/registry.ts) how values look. */
  readonly engine: string;
}

export interface NormaliseOptions {
  /** The sync's policy for MySQL zero dates bound for a target without them (config zeroDates). */
  readonly zeroDates: 'error' | 'null';
}

/** The comparable forms of one column's values, on each side, and back to a source key value. */
export interface ColumnRule {
  /** For reports and tests: 'exact', 'int', 'decimal', 'duration', … */
  readonly name: string;
  source(v: Value): Value;
  target(v: Value): Value;
  /**
   * A comparable form back to a value the source reads as a key (to look up, or delete, a key
   * only the target has). Identity for every rule whose comparable form is such a value.
   */
  toSource(v: Value): Value;
  /**
   * The comparable form (core/comparable.ts) both servers render this pair's values in, so that a
   * chunk's digests agree exactly when this rule's comparison would: undefined when no form
   * carries it (the table is then compared by its rows).
   */
  readonly form?: ComparableForm;
}

const identity = (v: Value): Value => v;

function rule(name: string, both: (v: Value) => Value, toSource: (v: Value) => Value = identity): ColumnRule {
  return { name, source: both, target: both, toSource };
}

const EXACT: ColumnRule = rule('exact', identity);

/** Integers as bigint, whatever the side gives: a bigint, numeric(20,0)'s digits, a boolean. */
export function toInt(v: Value): Value {
  if (typeof v === 'bigint' || v === null) return v;
  if (typeof v === 'boolean') return v ? 1n : 0n;
  if (typeof v === 'string' && /^[+-]?\d+$/.test(v)) return BigInt(v);
  if (typeof v === 'number' && Number.isSafeInteger(v)) return BigInt(v);
  return v;
}

/** An exact decimal as its shortest text: no '+', no leading zeros, no trailing fraction zeros, no '-0'. */
export function toDecimal(v: Value): Value {
  if (v === null) return v;
  if (typeof v === 'bigint') return v.toString();
  if (typeof v !== 'string') return v;
  const m = /^([+-])?(\d*)(?:\.(\d*))?$/.exec(v);
  if (!m || (m[2] === '' && !m[3])) return v;
  const int = (m[2] ?? '').replace(/^0+/, '') || '0';
  const frac = (m[3] ?? '').replace(/0+$/, '');
  const body = frac ? `${int}.${frac}` : int;
  return m[1] === '-' && body !== '0' ? `-${body}` : body;
}

/** A float as a number (PostgreSQL's text forms of the specials included). */
export function toFloat(v: Value): Value {
  if (typeof v !== 'string') return v;
  if (v === 'NaN') return NaN;
  if (v === 'Infinity') return Infinity;
  if (v === '-Infinity') return -Infinity;
  return /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(v) ? Number(v) : v;
}

/** A bit string as its unsigned integer: MySQL BIT is one already, PostgreSQL bit(n) is '0101'. */
export function toBits(v: Value): Value {
  if (typeof v === 'string' && /^[01]*$/.test(v)) return v === '' ? 0n : BigInt('0b' + v);
  return toInt(v);
}

/** Fractional seconds without trailing zeros (MySQL prints the column's digits, PostgreSQL the fewest). */
export function trimFraction(v: Value): Value {
  if (typeof v !== 'string') return v;
  // The usual value needs no regex: no fraction, or a fraction of digits to the end that ends in 1–9.
  const dot = v.indexOf('.');
  if (dot < 0) return v;
  let digits = true;
  for (let i = dot + 1; i < v.length && digits; i++) digits = v.charCodeAt(i) >= 48 && v.charCodeAt(i) <= 57;
  if (digits && v.charCodeAt(v.length - 1) !== 48 && dot < v.length - 1) return v;
  return v.replace(/(\d\d:\d\d:\d\d)\.(\d*?)0*(?=$|[+-]\d|Z| BC)/, (_, hms: string, f: string) => (f ? `${hms}.${f}` : hms));
}

const TS = /^(\d{4,})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)(\.\d+)?(?:(Z)|([+-])(\d\d)(?::?(\d\d))?(?::?(\d\d))?)?$/;

/**
 * An instant as UTC text without zone and without trailing fraction zeros: '2024-01-01
 * 05:30:00.5+05:30' and MySQL's '2024-01-01 00:00:00.500000' (a TIMESTAMP read in UTC, or a
 * DATETIME holding UTC) both become '2024-01-01 00:00:00.5'. Infinity and BC values stay as they are.
 */
export function toUtc(v: Value): Value {
  if (typeof v !== 'string') return v;
  const x = TS.exec(v);
  if (!x) return trimFraction(v);
  let [y, mo, d, h, mi, se] = [Number(x[1]), Number(x[2]), Number(x[3]), Number(x[4]), Number(x[5]), Number(x[6])];
  const off = x[9] ? (Number(x[10]) * 3600 + Number(x[11] ?? 0) * 60 + Number(x[12] ?? 0)) * (x[9] === '-' ? -1 : 1) : 0;
  if (off !== 0) [y, mo, d, h, mi, se] = addSeconds(y, mo, d, h, mi, se, -off);
  const frac = (x[7] ?? '').replace(/0+$/, '');
  return `${String(y).padStart(4, '0')}-${p2(mo)}-${p2(d)} ${p2(h)}:${p2(mi)}:${p2(se)}${frac === '.' ? '' : frac}`;
}

const DURATION = /^(-)?(\d+):(\d\d):(\d\d)(?:\.(\d{1,6}))?$/;

/**
 * A time of day or a MySQL TIME as signed microseconds: MySQL '-838:59:59.000000', PostgreSQL
 * interval '-838:59:59', PostgreSQL time '12:00:00.5' and MySQL '12:00:00.500000'. Any other text
 * (an interval with days or months) stays as it is.
 */
export function toMicros(v: Value): Value {
  if (typeof v !== 'string') return v;
  const m = DURATION.exec(v);
  if (!m) return v;
  const us = ((BigInt(m[2]!) * 60n + BigInt(m[3]!)) * 60n + BigInt(m[4]!)) * 1_000_000n + BigInt((m[5] ?? '').padEnd(6, '0'));
  return m[1] ? -us : us;
}

/** Signed microseconds back to 'H:MM:SS[.ffffff]', which both engines read as a TIME / interval / time. */
export function fromMicros(v: Value): Value {
  if (typeof v !== 'bigint') return v;
  const neg = v < 0n;
  let us = neg ? -v : v;
  const frac = us % 1_000_000n;
  us /= 1_000_000n;
  const s = us % 60n;
  const m = (us / 60n) % 60n;
  const h = us / 3600n;
  const f = frac ? '.' + frac.toString().padStart(6, '0') : '';
  return `${neg ? '-' : ''}${h.toString().padStart(2, '0')}:${m.toString().padStart(2, '0')}:${s.toString().padStart(2, '0')}${f}`;
}

/** Trailing spaces of a CHAR value are padding: MySQL returns CHAR without them, PostgreSQL bpchar with them. */
export function stripPadding(v: Value): Value {
  return typeof v === 'string' ? v.replace(/ +$/, '') : v;
}

/**
 * A source value as the text a target text column holds for it, as the target's write path
 * renders it (its engine's ValueConventions): for a column a `--column-types` override made text.
 */
function textFor(target: ValueConventions): (v: Value) => Value {
  return (v) => {
    if (v === null || typeof v === 'string') return v;
    if (typeof v === 'bigint') return v.toString();
    if (Buffer.isBuffer(v)) return target.bytesAsText === 'utf8' ? v.toString('utf8') : '\\x' + v.toString('hex');
    if (typeof v === 'boolean') return target.booleanAsText[v ? 0 : 1] as string;
    return Object.is(v, -0) ? '-0' : String(v);
  };
}

/**
 * The rule for a pair of columns. Same engine and same declared type: exact. Otherwise by the two
 * families (see Family), as the type maps pair them; `toSource` inverts the forms a source cannot
 * read as they are (microseconds, a bool's 1/0, bit(n) text).
 */
export function columnRule(source: ColumnSide, target: ColumnSide, opts: NormaliseOptions): ColumnRule {
  const r = ruleOf(source, target, opts);
  const form = formOf(r, source, target, opts);
  return form ? { ...r, form } : r;
}

/** Text kinds whose canonical value is the text a server's cast to text gives, on every engine. */
const TEXT_KINDS: ReadonlySet<string> = new Set(['text', 'enum', 'set', 'uuid']);

/**
 * The comparable form that carries `r`'s comparison of this pair, if any: a form whose texts are
 * equal exactly when the rule's comparable values are (see core/comparable.ts).
 */
function formOf(r: ColumnRule, source: ColumnSide, target: ColumnSide, opts: NormaliseOptions): ComparableForm | undefined {
  const [s, t] = [source.column.logical, target.column.logical];
  if (!s || !t) return undefined;
  const a = familyOf(source.column);
  const b = familyOf(target.column);
  // Floats only as 64-bit doubles on both sides; texts only of kinds whose value is the server's text.
  const doubles = s.kind === 'float' && t.kind === 'float' && s.bits === 64 && t.bits === 64 ? 'float' : undefined;
  const texts = TEXT_KINDS.has(s.kind) && TEXT_KINDS.has(t.kind);
  // A zero date becomes NULL on one side only: no server form says so.
  const zeroToNull = valueConventions(source.engine).zeroDates && !valueConventions(target.engine).zeroDates && opts.zeroDates === 'null';
  switch (r.name) {
    case 'int':
      return 'int';
    case 'decimal':
      return 'decimal';
    case 'float':
      return doubles;
    case 'char':
      return texts ? 'char' : undefined;
    case 'date':
    case 'datetime':
    case 'instant':
      return zeroToNull ? undefined : r.name;
    case 'exact':
      if (a !== b) return undefined;
      if (a === 'text') return texts ? 'text' : undefined;
      if (a === 'char') return 'char';
      if (a === 'bytes') return 'bytes';
      if (a === 'bool' || a === 'int') return 'int';
      if (a === 'decimal') return 'decimal';
      if (a === 'float') return doubles;
      if (a === 'date' || a === 'datetime' || a === 'instant') return a;
      return undefined;
    default:
      return undefined;
  }
}

function ruleOf(source: ColumnSide, target: ColumnSide, opts: NormaliseOptions): ColumnRule {
  if (sameDialect(source.engine, target.engine) && source.column.columnType === target.column.columnType) return EXACT;
  const a = familyOf(source.column);
  const b = familyOf(target.column);
  const [sourceValues, targetValues] = [valueConventions(source.engine), valueConventions(target.engine)];
  // A zero date has no value in an engine without them; under zeroDates 'null' the target holds NULL.
  const zeroToNull = sourceValues.zeroDates && !targetValues.zeroDates && opts.zeroDates === 'null';
  const withZero = (r: ColumnRule): ColumnRule =>
    zeroToNull ? { ...r, source: (v) => (typeof v === 'string' && isZeroDate(v) ? null : r.source(v)) } : r;
  const pair = new Set([a, b]);
  const is = (...fs: Family[]) => pair.size === fs.length && fs.every((f) => pair.has(f));
  // A MySQL spatial column and its PostgreSQL copy (geometry, or bytea / text under the spatial
  // policy): both sides as SRID + WKB.
  if (a === 'spatial' || b === 'spatial') return { name: 'spatial', source: spatialForm(sourceValues), target: spatialForm(targetValues), toSource: identity };
  if (a === 'text' || b === 'text') {
    if (a === 'text' && b === 'text') return EXACT;
    // A column made text on one side (an override, or a type the map sends to text): the text the
    // writer renders. CHAR padding is still padding.
    const text = textFor(targetValues);
    if (a === 'char' || b === 'char') return { name: 'char', source: (v) => stripPadding(text(v)), target: stripPadding, toSource: identity };
    return { name: 'text', source: text, target: identity, toSource: identity };
  }
  if (a === b) {
    switch (a) {
      case 'int':
        return rule('int', toInt);
      case 'decimal':
        return rule('decimal', toDecimal);
      case 'float':
        return rule('float', toFloat);
      case 'bits':
        return { ...rule('bits', toBits), toSource: bitsToSource(source.column, sourceValues) };
      case 'date':
        return withZero(rule('date', identity));
      case 'datetime':
        return withZero(rule('datetime', trimFraction));
      case 'instant':
        return withZero(rule('instant', toUtc));
      case 'time':
        return rule('duration', toMicros, fromMicros);
      case 'char':
        return rule('char', stripPadding);
      default:
        return EXACT;
    }
  }
  if (is('int', 'decimal')) return rule('decimal', toDecimal, a === 'int' ? toInt : identity);
  if (is('int', 'bool')) return rule('int', toInt, a === 'bool' ? (v) => (typeof v === 'bigint' ? v !== 0n : v) : identity);
  if (is('int', 'bits')) return { ...rule('bits', toBits), toSource: bitsToSource(source.column, sourceValues) };
  if (is('instant', 'datetime')) return withZero(rule('instant', toUtc));
  if (is('time', 'interval')) return rule('duration', toMicros, fromMicros);
  return EXACT;
}

/**
 * A spatial value as SRID + little-endian WKB (core/spatial.ts): bytes of an engine whose spatial
 * bytes are SRID + WKB (MySQL) are that already (re-read, so a big-endian WKB would compare with
 * its twin); bytes of an engine of EWKB (PostGIS, or its bytea under the spatial policy) are EWKB;
 * text on either side is EWKB in hex (PostGIS geometry's text form, which a text column holds too).
 * Anything that does not parse as one geometry stays as it is, and differs.
 */
function spatialForm(side: ValueConventions): (v: Value) => Value {
  return (v) => {
    try {
      if (typeof v === 'string' && /^(?:[0-9a-f]{2})+$/i.test(v)) return ewkbToSpatial(Buffer.from(v, 'hex'));
      if (!Buffer.isBuffer(v)) return v;
      return side.spatialBytes === 'srid-wkb' ? normaliseSpatial(v) : ewkbToSpatial(v);
    } catch (err) {
      if (err instanceof SpatialError) return v;
      throw err;
    }
  };
}

/** An unsigned integer back to a source's '0101' text, where its bit strings read as text (PostgreSQL bit(n)); MySQL's BIT reads the integer. */
function bitsToSource(column: Column, source: ValueConventions): (v: Value) => Value {
  const t = column.logical;
  if (source.bits !== 'text' || t?.kind !== 'bit') return identity;
  const n = t.length ?? 1;
  return (v) => (typeof v === 'bigint' ? v.toString(2).padStart(n, '0') : v);
}
