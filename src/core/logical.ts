/**
 * Logical column types: what a column can hold, in no engine's words (issue 11; DESIGN.md
 * "Types"). Each engine maps its native types to these (`toLogical` in engines/<e>/types.ts, run
 * where it describes a table) and these to its native types (`fromLogical`), so N engines need N
 * mappings, not N×N. The native declaration stays on the Column beside it: a same-engine sync
 * keeps it exactly, and a type with no logical counterpart is `other`, keeping its native text.
 *
 * What must hold: a logical type never claims more than the native type guarantees. Where an
 * engine's type is wider or narrower than any kind here (PostgreSQL's money, ranges and network
 * types, MySQL 9's VECTOR), it is `other`, never the nearest kind; a mapping refuses `other` by name
 * unless it is to the same engine, an override names the target type, or the engine gave it a
 * text form another engine may keep (OtherType.text).
 */

/** Binary integers. MySQL: TINYINT 1, SMALLINT 2, MEDIUMINT 3, INT 4, BIGINT 8, each signed or UNSIGNED. */
export interface IntegerType {
  readonly kind: 'integer';
  /** Storage width in bytes: the range is that of a two's-complement (signed) or plain (unsigned) integer this wide. */
  readonly bytes: 1 | 2 | 3 | 4 | 8;
  readonly signed: boolean;
}

/** Exact decimals. Both undefined: unconstrained (PostgreSQL numeric, which holds NaN and ±Infinity too). */
export interface DecimalType {
  readonly kind: 'decimal';
  /** Significant digits. */
  readonly precision?: number;
  /** Digits after the point; PostgreSQL 15 allows it negative (numeric(3,-2)) and above the precision (numeric(2,5)). */
  readonly scale?: number;
}

/** IEEE 754 binary floating point: 32 (MySQL FLOAT, PostgreSQL real) or 64 bits (DOUBLE, double precision). */
export interface FloatType {
  readonly kind: 'float';
  readonly bits: 32 | 64;
}

/** true/false (PostgreSQL boolean). MySQL's BOOL is TINYINT(1), a number: it is an `integer`. */
export interface BooleanType {
  readonly kind: 'boolean';
}

/** Character strings. */
export interface TextType {
  readonly kind: 'text';
  /** Declared length in characters (CHAR(n), VARCHAR(n)); undefined when the declaration has none (TEXT types, PostgreSQL text). */
  readonly length?: number;
  /** Fixed length, padded with spaces (CHAR, PostgreSQL character(n)). */
  readonly fixed: boolean;
  /** The character set, where the engine declares one per column (MySQL). */
  readonly charset?: string;
  /** The collation, where the column names one (MySQL always; PostgreSQL only a non-default one). */
  readonly collation?: string;
}

/** Byte strings (BINARY, VARBINARY, BLOB types, bytea). */
export interface BinaryType {
  readonly kind: 'binary';
  /** Declared length in bytes; undefined when the declaration has none (BLOB types, bytea). */
  readonly length?: number;
  /** Fixed length, padded with zero bytes (BINARY(n)). */
  readonly fixed: boolean;
}

/** A calendar date without time. MySQL's also holds zero dates ('0000-00-00'): core/calendar.ts. */
export interface DateType {
  readonly kind: 'date';
}

/** MySQL YEAR: 1901–2155 and 0000. */
export interface YearType {
  readonly kind: 'year';
}

/** A time of day, or MySQL's signed duration. */
export interface TimeType {
  readonly kind: 'time';
  /** Fractional seconds digits, 0–6. */
  readonly fsp: number;
  /** 'day': 00:00:00–24:00:00 (PostgreSQL time). 'hours838': -838:59:59 to 838:59:59 (MySQL TIME, a duration). */
  readonly range: 'day' | 'hours838';
}

/** A date and time. */
export interface TimestampType {
  readonly kind: 'timestamp';
  /**
   * True for an instant (PostgreSQL timestamptz; MySQL TIMESTAMP, stored in UTC and read in the
   * session's UTC); false for a wall-clock time without zone (DATETIME, PostgreSQL timestamp).
   */
  readonly zone: boolean;
  /** Fractional seconds digits, 0–6. */
  readonly fsp: number;
}

/** PostgreSQL interval: months, days and microseconds, each signed. */
export interface IntervalType {
  readonly kind: 'interval';
}

/** JSON documents. */
export interface JsonType {
  readonly kind: 'json';
  /**
   * True when the engine stores a parsed form and prints it back re-serialised (PostgreSQL jsonb,
   * MySQL 8 JSON: key order, spacing, duplicate keys and number spelling may change); false when
   * it keeps the text as written (PostgreSQL json, MariaDB JSON = LONGTEXT with a json_valid check).
   */
  readonly binary: boolean;
}

/** A 128-bit UUID (PostgreSQL uuid, MariaDB UUID). */
export interface UuidType {
  readonly kind: 'uuid';
}

/**
 * An IP address without a netmask: MariaDB INET4 (version 4) and INET6 (version 6, IPv4-mapped
 * addresses included). PostgreSQL's inet may carry a netmask ('10.0.0.1/8') and stays `other`.
 */
export interface InetType {
  readonly kind: 'inet';
  readonly version: 4 | 6;
}

/** One label of a fixed list, ordered as the list is. */
export interface EnumType {
  readonly kind: 'enum';
  /** The labels in sort order, exactly as the engine spells them. */
  readonly labels: readonly string[];
  /** The named type that declares them (PostgreSQL's CREATE TYPE … AS ENUM); undefined for MySQL's inline ENUM. */
  readonly typeName?: string;
}

/** MySQL SET: any subset of a fixed list of labels. */
export interface SetType {
  readonly kind: 'set';
  readonly labels: readonly string[];
}

/** Bit strings. */
export interface BitType {
  readonly kind: 'bit';
  /** Declared length in bits (the maximum for a varying one); undefined when the declaration has none. */
  readonly length?: number;
  /** PostgreSQL bit varying. MySQL BIT(n) and PostgreSQL bit(n) are fixed. */
  readonly varying: boolean;
}

/** A PostgreSQL array of an element type (any number of dimensions: PostgreSQL does not enforce them). */
export interface ArrayType {
  readonly kind: 'array';
  readonly of: LogicalType;
}

/** Geometries (MySQL/MariaDB spatial types, PostGIS geometry). */
export interface SpatialType {
  readonly kind: 'spatial';
  /**
   * The geometry type the column constrains its values to, in MySQL's lower-case words: 'geometry'
   * (any), 'point', 'linestring', 'polygon', 'multipoint', 'multilinestring', 'multipolygon',
   * 'geometrycollection'.
   */
  readonly subtype: string;
  /** The SRID the column declares, when it declares one other than 0. */
  readonly srid?: number;
  /**
   * True when the engine's values are PostGIS EWKB (hex text) rather than MySQL's SRID-prefixed
   * WKB. No value writer converts one form into the other yet, so only the same form is taken
   * (a MySQL target refuses PostGIS columns as an extension type).
   */
  readonly ewkb?: true;
}

/** Any type with no logical counterpart: only the same engine (or an override) can take it. */
export interface OtherType {
  readonly kind: 'other';
  /** The native declaration, as the engine prints it ('money', 'int4range', 'inet6', 'vector(3)'). */
  readonly native: string;
  /** The type's own name without modifiers or schema (PostgreSQL pg_type.typname), where it differs from `native` or names a user type. */
  readonly typeName?: string;
  /**
   * A text form that holds every value, for a target with no such type: its canonical value is
   * text of at most `length` characters (unbounded when undefined), ASCII only when `ascii`, always
   * exactly `length` long when `fixed`. `elastic`: the bound is a soft one (a declared or usual
   * length, not the type's nature), so a target may widen it to an unbounded text type when a row
   * would overflow. Undefined: the values have no text form a target may keep (a refusal).
   */
  readonly text?: TextForm;
  /** What kind of type it is, in words for a refusal ('a range type', 'an extension type (pgvector)'). */
  readonly what?: string;
}

/** OtherType.text. */
export interface TextForm {
  readonly length?: number;
  readonly fixed: boolean;
  readonly ascii: boolean;
  readonly elastic: boolean;
  /**
   * What the text looks like, for `tributary check` ("kept as text '…'"): PostgreSQL's output
   * syntax, which its input reads back to the same value ("'fat':2 'rat':3", '[1,5)', '(a,b)').
   */
  readonly form?: string;
}

export type LogicalType =
  | IntegerType
  | DecimalType
  | FloatType
  | BooleanType
  | TextType
  | BinaryType
  | DateType
  | YearType
  | TimeType
  | TimestampType
  | IntervalType
  | JsonType
  | UuidType
  | InetType
  | EnumType
  | SetType
  | BitType
  | ArrayType
  | SpatialType
  | OtherType;

export type LogicalKind = LogicalType['kind'];

/**
 * Whether converting a column from `before` to `after` (a source's ALTER … MODIFY, ALTER TYPE)
 * leaves every value it can hold as it was: the same kind, at least as wide, with the same
 * precision after the point, the same padding and character set (not floats: a FLOAT widened
 * to DOUBLE takes its binary value's longer decimal form). A target that stores values
 * without a type of its own (etcd's JSON objects) keeps its rows as they are when this holds, and
 * must read them again from the source when it does not (a narrowing may cut or round values, a
 * change of kind or character set may rewrite them). Errs towards false: `other` types only
 * when their declarations are identical; a string type without a declared length (TINYTEXT …
 * LONGBLOB, PostgreSQL text) only when it is the same type, for its size is not in its logical
 * type (a caller that knows the native type is unbounded may say more).
 */
export function keepsEveryValue(before: LogicalType, after: LogicalType): boolean {
  if (JSON.stringify(before) === JSON.stringify(after)) return true;
  const wider = (b: number | undefined, a: number | undefined) => a !== undefined && b !== undefined && a >= b;
  const prefix = (b: readonly string[], a: readonly string[]) => a.length >= b.length && b.every((l, i) => a[i] === l);
  switch (before.kind) {
    case 'integer':
      return after.kind === 'integer' && (before.signed === after.signed ? after.bytes >= before.bytes : !before.signed && after.signed && after.bytes > before.bytes);
    case 'decimal':
      return after.kind === 'decimal' && (before.scale ?? 0) === (after.scale ?? 0) && (after.precision === undefined || wider(before.precision, after.precision));
    case 'text':
      return after.kind === 'text' && !before.fixed && !after.fixed && (before.charset ?? '') === (after.charset ?? '') && wider(before.length, after.length);
    case 'binary':
      return after.kind === 'binary' && !before.fixed && !after.fixed && wider(before.length, after.length);
    case 'enum':
      return after.kind === 'enum' && prefix(before.labels, after.labels);
    case 'set':
      return after.kind === 'set' && prefix(before.labels, after.labels);
    case 'bit':
      return after.kind === 'bit' && before.varying === after.varying && before.varying && wider(before.length, after.length);
    default:
      return false;
  }
}
