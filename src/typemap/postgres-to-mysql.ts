/**
 * PostgreSQL → MySQL/MariaDB: the target type of every PostgreSQL column and how its canonical
 * values (core/values.ts) become MySQL values. docs/type-mapping.md ("PostgreSQL → MySQL") is the
 * user-facing form of this file; keep the two in step.
 *
 * What must hold: a value lands exactly or is refused by name (table.column, the value, the fix);
 * never rounded, truncated, shifted or replaced. A column whose type cannot be mapped is refused
 * before anything is written (`assertMappable`), and `columnTypes` ({"table.column": "TYPE"})
 * overrides any mapping. Values are checked again at write time, because LOAD DATA LOCAL turns
 * data errors into warnings (the server cannot stop a client's file half way) and MySQL rounds
 * DECIMAL fractions and TIME/DATETIME fractions silently even in strict mode.
 */
import { columnTypesHint } from '../config/hints.js';
import { ErrorCode, TributaryError } from '../core/errors.js';
import type { Column, TableSchema } from '../core/schema.js';
import type { ColumnValueStats } from '../core/source.js';
import type { Value } from '../core/values.js';
import { civilFromDays, daysFromCivil, p2 } from '../core/calendar.js';

/** The two server families differ in JSON storage and in the binary NO PAD collation. */
export type MysqlFlavour = 'mariadb' | 'mysql';

export interface PgToMysqlOptions {
  /** Per-column overrides, {"table.column": "MySQL type"}; the type is used verbatim in CREATE TABLE. */
  readonly columnTypes?: Readonly<Record<string, string>>;
  /** Default 'mariadb'. */
  readonly flavour?: MysqlFlavour;
  /** Labels of user enum types by type name (udt_name), in sort order, when the source read them. */
  readonly enumLabels?: ReadonlyMap<string, readonly string[]>;
}

/**
 * How a canonical value is turned into the MySQL value of the column, chosen from the target type
 * (so an override changes it) and the PostgreSQL type.
 */
export type ValueKind =
  /** integers, booleans (1/0), bit strings as numbers: bare digits */
  | 'int'
  /** exact decimals, checked against DECIMAL(p,s); NaN/±Infinity refused */
  | 'decimal'
  /** FLOAT/DOUBLE; NaN/±Infinity refused */
  | 'float'
  /** BIT(n): a '0101' string sent as its unsigned integer */
  | 'bits'
  /** bytes: hex in LOAD DATA (UNHEX), X'…' literals */
  | 'bytes'
  /** DATETIME from timestamptz: converted to UTC, zone dropped */
  | 'timestamptz'
  /** DATETIME/DATE from timestamp/date: infinity, BC and years past 9999 refused */
  | 'timestamp'
  | 'date'
  /** TIME: text as PostgreSQL prints it */
  | 'time'
  /** everything else: the canonical value as text */
  | 'text';

export interface MappedColumn {
  readonly column: Column;
  /** The column's type in CREATE TABLE, e.g. 'DECIMAL(10,2)', 'VARCHAR(20)', 'CHAR(36) CHARACTER SET ascii COLLATE ascii_bin'. */
  readonly sql: string;
  readonly kind: ValueKind;
  /** Precision and scale when the target is DECIMAL. */
  readonly decimal?: { readonly precision: number; readonly scale: number };
  /** True when the type came from `columnTypes`. */
  readonly overridden: boolean;
}

export interface TypeProblem {
  readonly table: string;
  readonly column: string;
  /** The PostgreSQL type as the source prints it. */
  readonly pgType: string;
  readonly reason: string;
  readonly fix: string;
}

export interface TableMapping {
  readonly table: TableSchema;
  /** Aligned with `table.columns`; a refused column still has an entry (type LONGTEXT), see `problems`. */
  readonly columns: readonly MappedColumn[];
  readonly problems: readonly TypeProblem[];
}

/** MySQL's limits that shape the map. */
export const LIMITS = {
  /** DECIMAL(65,30). */
  decimalPrecision: 65,
  decimalScale: 30,
  /** InnoDB: bytes of one index key (all its columns), DYNAMIC row format. */
  keyBytes: 3072,
  /** Bytes of a row's declared columns (TEXT/BLOB count a pointer only). */
  rowBytes: 65535,
  /** CHAR(n) holds at most 255 characters. */
  charLength: 255,
  /** VARCHAR(n) utf8mb4 fits a row on its own up to 16383 characters. */
  varcharLength: 16383,
  /** BIT(n) holds at most 64 bits. */
  bitLength: 64,
  /** An ENUM has at most 65535 members, each at most 255 characters. */
  enumMembers: 65535,
  enumMemberLength: 255,
} as const;

/** Binary, NO PAD: equal exactly when PostgreSQL's deterministic collations say equal (bytes). */
export function binaryCollation(flavour: MysqlFlavour): string {
  return flavour === 'mariadb' ? 'utf8mb4_nopad_bin' : 'utf8mb4_0900_bin';
}

const ASCII = 'CHARACTER SET ascii COLLATE ascii_bin';

/** Built-in types with no faithful MySQL counterpart: refused unless overridden. */
const REFUSED: Record<string, string> = {
  money: "a currency type whose text depends on lc_monetary ('$1,000.00'),",
  point: 'a geometric type',
  line: 'a geometric type',
  lseg: 'a geometric type',
  box: 'a geometric type',
  path: 'a geometric type',
  polygon: 'a geometric type',
  circle: 'a geometric type',
  tsvector: 'a text-search type',
  tsquery: 'a text-search type',
  int4range: 'a range type',
  int8range: 'a range type',
  numrange: 'a range type',
  tsrange: 'a range type',
  tstzrange: 'a range type',
  daterange: 'a range type',
  int4multirange: 'a range type',
  int8multirange: 'a range type',
  nummultirange: 'a range type',
  tsmultirange: 'a range type',
  tstzmultirange: 'a range type',
  datemultirange: 'a range type',
  pg_lsn: 'a PostgreSQL-internal type',
  pg_snapshot: 'a PostgreSQL-internal type',
  txid_snapshot: 'a PostgreSQL-internal type',
  xid: 'a PostgreSQL-internal type',
  xid8: 'a PostgreSQL-internal type',
  cid: 'a PostgreSQL-internal type',
  tid: 'a PostgreSQL-internal type',
  regclass: 'a PostgreSQL-internal type',
  regtype: 'a PostgreSQL-internal type',
  regproc: 'a PostgreSQL-internal type',
  int2vector: 'a PostgreSQL-internal type',
  oidvector: 'a PostgreSQL-internal type',
  hstore: 'an extension type',
  ltree: 'an extension type',
  geometry: 'an extension type (PostGIS)',
  geography: 'an extension type (PostGIS)',
  vector: 'an extension type (pgvector)',
};

function overrideFix(table: string, column: string, example: string): string {
  return `set its type with ${columnTypesHint(table, column, example)}`;
}

/** The MySQL type of one column before key and row-size limits are applied. */
interface BaseType {
  readonly sql: string;
  /** A character/byte string type whose length adapts to key and row limits. */
  readonly string?: { readonly binary: boolean; readonly ascii?: boolean; readonly length?: number };
  readonly problem?: { reason: string; example: string };
}

function typmod(c: Column): number[] {
  const m = /\(([-\d,\s]+)\)/.exec(c.columnType);
  if (m) return (m[1] as string).split(',').map((s) => Number(s.trim()));
  return [];
}

/** Fraction digits of a temporal column: from the declaration, PostgreSQL's default 6 otherwise. */
function fsp(c: Column): number {
  const m = typmod(c);
  if (m.length && Number.isInteger(m[0])) return Math.min(6, Math.max(0, m[0] as number));
  return 6;
}

function numericTarget(c: Column): { precision: number; scale: number } | undefined {
  let p: number | undefined;
  let s: number | undefined;
  const m = typmod(c);
  if (m.length) [p, s] = [m[0], m[1] ?? 0];
  else if (c.precision !== undefined) [p, s] = [c.precision, c.scale ?? 0];
  if (p === undefined || s === undefined) return undefined;
  // numeric(3,-2) holds 99900 (integer digits p - s); numeric(2,5) holds 0.00099 (scale > precision).
  if (s < 0) return { precision: p - s, scale: 0 };
  return { precision: Math.max(p, s), scale: s };
}

function baseType(c: Column, flavour: MysqlFlavour, enumLabels?: ReadonlyMap<string, readonly string[]>): BaseType {
  const t = c.dataType;
  const declared = typmod(c)[0];
  if (t.startsWith('_') || /\[\]$/.test(c.columnType)) return { sql: 'LONGTEXT', string: { binary: false } };
  switch (t) {
    case 'int2':
      return { sql: 'SMALLINT' };
    case 'int4':
      return { sql: 'INT' };
    case 'int8':
      return { sql: 'BIGINT' };
    case 'oid':
      return { sql: 'INT UNSIGNED' };
    case 'numeric': {
      const d = numericTarget(c);
      if (!d) {
        return {
          sql: 'LONGTEXT',
          problem: {
            reason: 'numeric without precision holds up to 131072 integer digits, NaN and ±Infinity, beyond DECIMAL(65,30)',
            example: 'DECIMAL(65,30)',
          },
        };
      }
      if (d.precision > LIMITS.decimalPrecision || d.scale > LIMITS.decimalScale) {
        return {
          sql: 'LONGTEXT',
          problem: { reason: `${c.columnType} is beyond DECIMAL(65,30)`, example: 'DECIMAL(65,30)' },
        };
      }
      return { sql: `DECIMAL(${d.precision},${d.scale})` };
    }
    case 'float4':
      return { sql: 'FLOAT' };
    case 'float8':
      return { sql: 'DOUBLE' };
    case 'bool':
      return { sql: 'TINYINT(1)' };
    case 'text':
    case 'citext':
    case 'xml':
      return { sql: 'LONGTEXT', string: { binary: false } };
    case 'varchar':
      return declared ? { sql: `VARCHAR(${declared})`, string: { binary: false, length: declared } } : { sql: 'LONGTEXT', string: { binary: false } };
    case 'bpchar':
      if (!declared) return { sql: 'LONGTEXT', string: { binary: false } };
      if (declared <= LIMITS.charLength) return { sql: `CHAR(${declared})` };
      return { sql: `VARCHAR(${declared})`, string: { binary: false, length: declared } };
    case 'char':
      // PostgreSQL's one-byte "char"; a non-ASCII byte prints as \ooo.
      return { sql: 'VARCHAR(4)' };
    case 'name':
      return { sql: 'VARCHAR(63)' };
    case 'bytea':
      return { sql: 'LONGBLOB', string: { binary: true } };
    case 'date':
      return { sql: 'DATE' };
    case 'time':
      return { sql: `TIME(${fsp(c)})` };
    case 'timetz':
      return { sql: `VARCHAR(32) ${ASCII}` };
    case 'timestamp':
    case 'timestamptz':
      return { sql: `DATETIME(${fsp(c)})` };
    case 'interval':
      return { sql: `VARCHAR(100) ${ASCII}` };
    case 'json':
    case 'jsonb':
      return { sql: jsonType(c.name, flavour), string: { binary: false } };
    case 'uuid':
      return { sql: `CHAR(36) ${ASCII}` };
    case 'bit': {
      const n = declared ?? 1;
      if (n <= LIMITS.bitLength) return { sql: `BIT(${n})` };
      return { sql: `VARCHAR(${n}) ${ASCII}`, string: { binary: false, ascii: true, length: n } };
    }
    case 'varbit':
      return declared ? { sql: `VARCHAR(${declared}) ${ASCII}`, string: { binary: false, ascii: true, length: declared } } : { sql: 'LONGTEXT', string: { binary: false } };
    case 'inet':
    case 'cidr':
      return { sql: `VARCHAR(50) ${ASCII}` };
    case 'macaddr':
      return { sql: `CHAR(17) ${ASCII}` };
    case 'macaddr8':
      return { sql: `CHAR(23) ${ASCII}` };
  }
  const refused = REFUSED[t];
  if (refused !== undefined) {
    return { sql: 'LONGTEXT', problem: { reason: `${c.columnType} is ${refused} with no MySQL counterpart`, example: 'LONGTEXT' } };
  }
  // Any other name is a user type; an enum's labels come with the column (or by type name).
  const labels = c.enumLabels ?? enumLabels?.get(t);
  if (labels && labels.length > 0) return enumTarget(labels, flavour);
  return { sql: 'VARCHAR(63)', string: { binary: false, length: PG_ENUM_LABEL_CHARS } };
}

/** A PostgreSQL enum label is at most 63 bytes (NAMEDATALEN - 1), so at most 63 characters. */
const PG_ENUM_LABEL_CHARS = 63;

/** A MySQL string literal for the target session's sql_mode, which keeps backslash escapes. */
function mysqlStringLiteral(s: string): string {
  return "'" + s.replace(/\\/g, '\\\\').replace(/'/g, "''") + "'";
}

/**
 * A PostgreSQL enum as MySQL ENUM('l1','l2',…) in the enum's sort order, so values and ORDER BY
 * agree with the source, in the binary collation so members compare by bytes as PostgreSQL's
 * labels do. Kept as text instead — VARCHAR(n), n the longest label in characters, at least 63
 * so a label added to the type later fits too — when MySQL cannot hold the labels as members: a
 * label longer than 255 characters, more than 65535 labels, or a label with trailing spaces
 * (MySQL strips them from ENUM members, which would change the value).
 */
function enumTarget(labels: readonly string[], flavour: MysqlFlavour): BaseType {
  const chars = labels.map((l) => [...l].length);
  const fits = labels.length <= LIMITS.enumMembers && chars.every((n) => n <= LIMITS.enumMemberLength) && labels.every((l) => !/ $/.test(l));
  if (fits) return { sql: `ENUM(${labels.map(mysqlStringLiteral).join(',')}) COLLATE ${binaryCollation(flavour)}` };
  const length = chars.reduce((a, n) => Math.max(a, n), PG_ENUM_LABEL_CHARS);
  return { sql: `VARCHAR(${length})`, string: { binary: false, length } };
}

/**
 * MariaDB's JSON is LONGTEXT with a json_valid check: the text is kept byte for byte. MySQL's JSON
 * type re-serialises documents (key order, spacing, numbers as doubles), so there the text is
 * kept in LONGTEXT with the same check.
 */
function jsonType(name: string, flavour: MysqlFlavour): string {
  if (flavour === 'mariadb') return 'JSON';
  return `LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin CHECK (JSON_VALID(\`${name.replace(/`/g, '``')}\`))`;
}

/** Approximate bytes a type takes in MySQL's 65535-byte row limit and in an index key. */
function typeBytes(sql: string): number {
  const s = sql.toUpperCase();
  const len = Number(/\((\d+)/.exec(s)?.[1] ?? 1);
  const ascii = /ASCII/.test(s);
  if (/^(TINY|MEDIUM|LONG)?(TEXT|BLOB)\b|^JSON\b/.test(s) || /^LONGTEXT/.test(s)) return 12;
  if (/^VARCHAR/.test(s)) return len * (ascii ? 1 : 4) + 2;
  if (/^VARBINARY/.test(s)) return len + 2;
  if (/^CHAR/.test(s)) return len * (ascii ? 1 : 4);
  if (/^BINARY/.test(s)) return len;
  if (/^DECIMAL|^NUMERIC/.test(s)) return 30;
  if (/^ENUM|^SET/.test(s)) return 2;
  return 8;
}

function isLob(sql: string): boolean {
  return /^\s*((TINY|MEDIUM|LONG)?(TEXT|BLOB)|JSON)\b/i.test(sql) || /\bLONGTEXT\b/i.test(sql);
}

/** The smallest TEXT (or BLOB) type holding `chars` characters of `bytesPerChar` bytes. */
function textFor(chars: number, bytesPerChar: number, binary = false): string {
  const bytes = chars * bytesPerChar;
  const size = bytes <= 65535 ? '' : bytes <= 16777215 ? 'MEDIUM' : 'LONG';
  return size + (binary ? 'BLOB' : 'TEXT');
}

/** The value kind a target type takes, given the PostgreSQL type. */
export function valueKind(c: Column, sql: string): ValueKind {
  const head = /^\s*([A-Za-z]+)/.exec(sql)?.[1]?.toUpperCase() ?? '';
  switch (head) {
    case 'DECIMAL':
    case 'DEC':
    case 'NUMERIC':
    case 'FIXED':
      return 'decimal';
    case 'FLOAT':
    case 'DOUBLE':
    case 'REAL':
      return 'float';
    case 'TINYINT':
    case 'SMALLINT':
    case 'MEDIUMINT':
    case 'INT':
    case 'INTEGER':
    case 'BIGINT':
    case 'BOOL':
    case 'BOOLEAN':
    case 'SERIAL':
      return c.dataType === 'bit' || c.dataType === 'varbit' ? 'bits' : 'int';
    case 'BIT':
      return c.dataType === 'bit' || c.dataType === 'varbit' ? 'bits' : 'int';
    case 'BINARY':
    case 'VARBINARY':
    case 'TINYBLOB':
    case 'BLOB':
    case 'MEDIUMBLOB':
    case 'LONGBLOB':
      return 'bytes';
    case 'DATETIME':
    case 'TIMESTAMP':
      return c.dataType === 'timestamptz' ? 'timestamptz' : 'timestamp';
    case 'DATE':
      return 'date';
    case 'TIME':
      return 'time';
  }
  return 'text';
}

function decimalOf(sql: string): { precision: number; scale: number } | undefined {
  const m = /^\s*(?:DECIMAL|DEC|NUMERIC|FIXED)\s*(?:\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\))?/i.exec(sql);
  if (!m) return undefined;
  return { precision: m[1] ? Number(m[1]) : 10, scale: m[2] ? Number(m[2]) : 0 };
}

/**
 * Maps every column of a table read from PostgreSQL. Key columns of unbounded string types
 * (text, bytea, jsonb, arrays, …) become VARCHAR/VARBINARY sized to share InnoDB's 3072-byte key
 * limit (a single text primary key: VARCHAR(768)); character columns that would overflow the
 * 65535-byte row limit as VARCHAR become TEXT types of the same capacity.
 */
export function mapPostgresTable(table: TableSchema, opts: PgToMysqlOptions = {}): TableMapping {
  const flavour = opts.flavour ?? 'mariadb';
  const overrides = opts.columnTypes ?? {};
  const problems: TypeProblem[] = [];
  const problem = (c: Column, reason: string, example: string) =>
    problems.push({ table: table.name, column: c.name, pgType: c.columnType, reason, fix: overrideFix(table.name, c.name, example) });

  for (const key of Object.keys(overrides)) {
    const dot = key.indexOf('.');
    if (key.slice(0, dot) === table.name && !table.columns.some((c) => c.name === key.slice(dot + 1))) {
      problems.push({ table: table.name, column: key.slice(dot + 1), pgType: '-', reason: `--column-types names ${key}, which ${table.name} does not have`, fix: 'correct or remove the entry' });
    }
  }

  const keys: (readonly number[])[] = [table.primaryKey, ...(table.uniqueKeys ?? [])].filter((k) => k.length > 0);
  const inKey = new Set(keys.flat());
  const base = table.columns.map((c) => baseType(c, flavour, opts.enumLabels));
  const sql: string[] = base.map((b) => b.sql);
  const override = (i: number): string | undefined => overrides[`${table.name}.${(table.columns[i] as Column).name}`];

  // Key columns: unbounded strings get a VARCHAR/VARBINARY length from what the key leaves free.
  const keyLength = new Map<number, number>();
  for (const k of keys) {
    let fixed = 0;
    const open: number[] = [];
    for (const i of k) {
      const b = base[i] as BaseType;
      const o = override(i);
      if (o !== undefined) fixed += typeBytes(o);
      else if (b.string && b.string.length === undefined) open.push(i);
      else fixed += typeBytes(b.sql);
    }
    const perChar = (i: number) => ((base[i] as BaseType).string?.binary || (base[i] as BaseType).string?.ascii ? 1 : 4);
    const free = LIMITS.keyBytes - fixed;
    const cols = k.map((i) => (table.columns[i] as Column).name).join(', ');
    if (free < 0 || (open.length > 0 && free < open.length * 8)) {
      const c = table.columns[k[0] as number] as Column;
      problem(c, `the key (${cols}) needs more than MySQL's ${LIMITS.keyBytes}-byte index key limit`, 'VARCHAR(255)');
      continue;
    }
    for (const i of open) {
      // Equal shares of the free bytes, less the two length bytes of each VARCHAR.
      const n = Math.floor((free / open.length - 2) / perChar(i));
      keyLength.set(i, Math.min(keyLength.get(i) ?? Infinity, n));
    }
  }
  for (const [i, n] of keyLength) {
    const b = base[i] as BaseType;
    sql[i] = b.string?.binary ? `VARBINARY(${n})` : b.string?.ascii ? `VARCHAR(${n}) ${ASCII}` : `VARCHAR(${n})`;
  }

  // Row size: key columns first (they cannot become TEXT), then the rest in column order.
  let rowBytes = table.columns.length; // NULL flags and length bytes, roughly
  const order = [...table.columns.keys()].sort((a, b) => Number(inKey.has(b)) - Number(inKey.has(a)));
  for (const i of order) {
    const c = table.columns[i] as Column;
    const b = base[i] as BaseType;
    const o = overrides[`${table.name}.${c.name}`];
    if (o !== undefined) {
      rowBytes += typeBytes(o);
      continue;
    }
    const bytes = typeBytes(sql[i] as string);
    if (!inKey.has(i) && b.string?.length !== undefined && rowBytes + bytes > LIMITS.rowBytes - 1024) {
      sql[i] = b.string.ascii ? `${textFor(b.string.length, 1)} ${ASCII}` : textFor(b.string.length, b.string.binary ? 1 : 4, b.string.binary);
      rowBytes += 12;
    } else rowBytes += bytes;
  }

  const columns = table.columns.map((c, i): MappedColumn => {
    const b = base[i] as BaseType;
    const o = overrides[`${table.name}.${c.name}`];
    if (o !== undefined) {
      if (/;|--|\/\*|`/.test(o)) problem(c, `the override '${o}' is not a plain column type`, 'DECIMAL(65,30)');
      if (inKey.has(i) && isLob(o)) problem(c, `the override '${o}' cannot be part of a key in MySQL (TEXT/BLOB/JSON need a prefix length)`, 'VARCHAR(255)');
      const kind = valueKind(c, o);
      const decimal = kind === 'decimal' ? decimalOf(o) : undefined;
      return { column: c, sql: o, kind, overridden: true, ...(decimal ? { decimal } : {}) };
    }
    if (b.problem) problem(c, b.problem.reason, b.problem.example);
    const s = sql[i] as string;
    const kind = valueKind(c, s);
    const decimal = kind === 'decimal' ? decimalOf(s) : undefined;
    return { column: c, sql: s, kind, overridden: false, ...(decimal ? { decimal } : {}) };
  });
  return { table, columns, problems };
}

/**
 * The preflight check: throws TABLE_UNSUPPORTED listing every column that cannot be mapped, each
 * with the reason and the override that fixes it. Creates and reads nothing.
 */
export function assertMappable(tables: readonly TableSchema[], opts: PgToMysqlOptions = {}): TableMapping[] {
  const maps = tables.map((t) => mapPostgresTable(t, opts));
  const problems = maps.flatMap((m) => m.problems);
  if (problems.length) {
    const lines = problems.map((p) => `${p.table}.${p.column} (${p.pgType}): ${p.reason}; ${p.fix}`);
    throw new TributaryError(
      ErrorCode.TABLE_UNSUPPORTED,
      `${problems.length} column${problems.length > 1 ? 's' : ''} cannot be mapped to MySQL:\n  ${lines.join('\n  ')}`,
    );
  }
  return maps;
}

// ---------------------------------------------------------------------------------------------
// Values

/** Refuses a value the MySQL column cannot hold exactly; the message names table, column and value. */
export function refuseValue(table: string, m: MappedColumn, v: Value, why: string, fix: string): never {
  const shown = typeof v === 'string' ? `'${v.length > 60 ? v.slice(0, 60) + '…' : v}'` : Buffer.isBuffer(v) ? `<${v.length} bytes>` : String(v);
  throw new TributaryError(
    ErrorCode.TARGET_WRITE_FAILED,
    `${table}.${m.column.name} (${m.column.columnType} → MySQL ${m.sql}): value ${shown} ${why}; nothing was written. ${fix}`,
  );
}

const NON_FINITE = new Set(['NaN', 'Infinity', '-Infinity', 'infinity', '-infinity', 'inf', '-inf']);

function checkDecimal(table: string, m: MappedColumn, s: string): void {
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
function checkFraction(table: string, m: MappedColumn, s: string, frac: string): void {
  const digits = Number(/^\s*[A-Za-z]+\s*\(\s*(\d+)\s*\)/.exec(m.sql)?.[1] ?? 0);
  if (frac.replace(/0+$/, '').length - 1 > digits) {
    refuseValue(table, m, s, `has more fraction digits than MySQL ${m.sql} keeps (it would round them)`, `${overrideFix(table, m.column.name, `${/^\s*([A-Za-z]+)/.exec(m.sql)?.[1] ?? 'DATETIME'}(6)`)}.`);
  }
}

/**
 * A PostgreSQL date/timestamp/timestamptz text as MySQL DATE/DATETIME text: timestamptz shifted
 * to UTC by its offset (exactly, to the second; the fraction kept digit for digit) and the zone
 * dropped. Infinity, BC dates and years past 9999 are refused: MySQL has none of them.
 */
export function temporalValue(table: string, m: MappedColumn, s: string): string {
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
    if (off !== 0) {
      const t = daysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - off;
      const days = Math.floor(t / 86400);
      const sec = t - days * 86400;
      [y, mo, d] = civilFromDays(days);
      [h, mi, se] = [Math.floor(sec / 3600), Math.floor((sec % 3600) / 60), sec % 60];
    }
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
export function mysqlValue(table: string, m: MappedColumn, v: Value): string | Buffer | null {
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

// ---------------------------------------------------------------------------------------------
// Data preflight

/**
 * The smallest DECIMAL(p,s) that holds values of at most `maxIntegerDigits` integer and `maxScale`
 * fraction digits, or null when none within MySQL's DECIMAL(65,30) does (or nothing was counted).
 */
export function fitsDecimal(maxIntegerDigits: number | null, maxScale: number | null): string | null {
  const [d, s] = [maxIntegerDigits, maxScale];
  return d !== null && s !== null && d <= LIMITS.decimalPrecision - LIMITS.decimalScale && s <= LIMITS.decimalScale ? `DECIMAL(${Math.max(1, d + s)},${s})` : null;
}

/**
 * Problems a data scan of a PostgreSQL source (ChangeSource.valueStats) found for the mapped
 * columns: each names the column, the counts and the fix (an override that holds the data, or
 * correcting the rows).
 */
export function dataProblems(mapping: TableMapping, reports: readonly ColumnValueStats[]): TypeProblem[] {
  const out: TypeProblem[] = [];
  for (const r of reports) {
    const m = mapping.columns.find((c) => c.column.name === r.column);
    if (!m || m.kind === 'text') continue;
    const base = { table: r.table, column: r.column, pgType: r.sourceType };
    const bad = r.nan + r.posInfinity + r.negInfinity;
    if (bad > 0 && (m.kind === 'decimal' || m.kind === 'float' || m.kind === 'int')) {
      out.push({ ...base, reason: `${r.nan} NaN, ${r.posInfinity} Infinity and ${r.negInfinity} -Infinity values cannot be stored in MySQL ${m.sql}`, fix: `correct those rows, or ${overrideFix(r.table, r.column, 'VARCHAR(100)')} to keep the text` });
    }
    if (m.kind === 'decimal' && m.decimal && r.maxIntegerDigits !== null && r.maxScale !== null) {
      if (r.maxIntegerDigits > m.decimal.precision - m.decimal.scale || r.maxScale > m.decimal.scale) {
        out.push({ ...base, reason: `values with ${r.maxIntegerDigits} integer and ${r.maxScale} fraction digits do not fit ${m.sql}`, fix: overrideFix(r.table, r.column, fitsDecimal(r.maxIntegerDigits, r.maxScale) ?? 'VARCHAR(200)') });
      }
    }
    if (r.outOfRange > 0 && (m.kind === 'date' || m.kind === 'timestamp' || m.kind === 'timestamptz')) {
      out.push({ ...base, reason: `${r.outOfRange} infinite, BC or post-9999 values cannot be stored in MySQL ${m.sql}`, fix: `correct those rows, or ${overrideFix(r.table, r.column, 'VARCHAR(64)')} to keep the text` });
    }
  }
  return out;
}
