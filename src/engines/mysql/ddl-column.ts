import type { Column } from '../../core/schema.js';
import type { ColumnDefault, ColumnPlace } from '../../core/schema-change.js';
import { isName, isPunct, isWord, nameOf, type Token } from './ddl-tokens.js';
import { toLogical } from './types.js';

/**
 * A column definition of MySQL DDL (ADD/MODIFY/CHANGE COLUMN, CREATE TABLE) read into the Column
 * that describeTable (schema.ts) reads back from MariaDB 10.11's information_schema for the same
 * column: DATA_TYPE and COLUMN_TYPE in the catalogue's canonical spelling ('int(11)',
 * 'bigint(20) unsigned', 'tinyint(1)' for BOOL, 'decimal(10,0)', 'double' for REAL), nullability,
 * charset and collation (the table's default when the column names none), scale and precision as
 * NUMERIC_/DATETIME_PRECISION give them, and its logical type (types.ts toLogical).
 * tests/integration/mysql-ddl-columns.test.ts compares both column by column on a real server.
 */

/** The character set and collation a column without its own takes (the table's defaults). */
export interface CharsetDefaults {
  readonly charset: string;
  readonly collation: string;
}

/** A column definition read. */
export interface ColumnDefinition {
  readonly column: Column;
  /** DEFAULT clause; undefined when the definition has none. */
  readonly default?: ColumnDefault;
  /** FIRST / AFTER x (ALTER specifications only). */
  readonly place?: ColumnPlace;
  /** `AS (expr)` / GENERATED ALWAYS: a generated column (not written). */
  readonly generated: boolean;
  /** Inline PRIMARY KEY. */
  readonly primary: boolean;
  /** Inline UNIQUE [KEY] (or SERIAL, which implies it). */
  readonly unique: boolean;
}

/** MariaDB 10.11's default collation of each character set (SHOW CHARACTER SET). */
const DEFAULT_COLLATION: Readonly<Record<string, string>> = {
  armscii8: 'armscii8_general_ci',
  ascii: 'ascii_general_ci',
  big5: 'big5_chinese_ci',
  binary: 'binary',
  cp1250: 'cp1250_general_ci',
  cp1251: 'cp1251_general_ci',
  cp1256: 'cp1256_general_ci',
  cp1257: 'cp1257_general_ci',
  cp850: 'cp850_general_ci',
  cp852: 'cp852_general_ci',
  cp866: 'cp866_general_ci',
  cp932: 'cp932_japanese_ci',
  dec8: 'dec8_swedish_ci',
  eucjpms: 'eucjpms_japanese_ci',
  euckr: 'euckr_korean_ci',
  gb2312: 'gb2312_chinese_ci',
  gbk: 'gbk_chinese_ci',
  geostd8: 'geostd8_general_ci',
  greek: 'greek_general_ci',
  hebrew: 'hebrew_general_ci',
  hp8: 'hp8_english_ci',
  keybcs2: 'keybcs2_general_ci',
  koi8r: 'koi8r_general_ci',
  koi8u: 'koi8u_general_ci',
  latin1: 'latin1_swedish_ci',
  latin2: 'latin2_general_ci',
  latin5: 'latin5_turkish_ci',
  latin7: 'latin7_general_ci',
  macce: 'macce_general_ci',
  macroman: 'macroman_general_ci',
  sjis: 'sjis_japanese_ci',
  swe7: 'swe7_swedish_ci',
  tis620: 'tis620_thai_ci',
  ucs2: 'ucs2_general_ci',
  ujis: 'ujis_japanese_ci',
  utf16: 'utf16_general_ci',
  utf16le: 'utf16le_general_ci',
  utf32: 'utf32_general_ci',
  utf8mb3: 'utf8mb3_general_ci',
  utf8mb4: 'utf8mb4_general_ci',
};

/** Bytes per character at most (TEXT(n) and BLOB(n) pick their type by n × this). */
const MAX_BYTES: Readonly<Record<string, number>> = { ucs2: 2, utf16: 4, utf16le: 4, utf32: 4, utf8mb3: 3, utf8mb4: 4, big5: 2, gbk: 2, gb2312: 2, sjis: 2, cp932: 2, euckr: 2, ujis: 3, eucjpms: 3 };

/** A character set's name as MariaDB 10.6+ reports it ('utf8' is 'utf8mb3'). */
export function canonicalCharset(cs: string): string {
  const c = cs.toLowerCase();
  return c === 'utf8' ? 'utf8mb3' : c;
}

/** A collation's name as MariaDB 10.6+ reports it ('utf8_bin' is 'utf8mb3_bin'). */
export function canonicalCollation(co: string): string {
  const c = co.toLowerCase();
  return c.startsWith('utf8_') ? `utf8mb3_${c.slice(5)}` : c;
}

/** The default collation of `charset` (MariaDB 10.11), or `<charset>_general_ci` for one not listed. */
export function defaultCollation(charset: string): string {
  const cs = canonicalCharset(charset);
  return DEFAULT_COLLATION[cs] ?? `${cs}_general_ci`;
}

/** The character set a collation belongs to: its name up to the first '_' ('utf8mb4_unicode_ci' → 'utf8mb4'). */
export function charsetOfCollation(collation: string): string {
  const c = canonicalCollation(collation);
  return c === 'binary' ? 'binary' : (c.split('_')[0] as string);
}

/** Integer types: DATA_TYPE, display width signed/unsigned, NUMERIC_PRECISION signed/unsigned. */
const INTEGERS: Readonly<Record<string, readonly [string, number, number, number, number]>> = {
  TINYINT: ['tinyint', 4, 3, 3, 3],
  INT1: ['tinyint', 4, 3, 3, 3],
  SMALLINT: ['smallint', 6, 5, 5, 5],
  INT2: ['smallint', 6, 5, 5, 5],
  MEDIUMINT: ['mediumint', 9, 8, 7, 8],
  MIDDLEINT: ['mediumint', 9, 8, 7, 8],
  INT3: ['mediumint', 9, 8, 7, 8],
  INT: ['int', 11, 10, 10, 10],
  INTEGER: ['int', 11, 10, 10, 10],
  INT4: ['int', 11, 10, 10, 10],
  BIGINT: ['bigint', 20, 20, 19, 20],
  INT8: ['bigint', 20, 20, 19, 20],
};

const TEXT_BY_SIZE = ['tinytext', 'text', 'mediumtext', 'longtext'] as const;
const BLOB_BY_SIZE = ['tinyblob', 'blob', 'mediumblob', 'longblob'] as const;
const SIZE_LIMITS = [255, 65535, 16777215] as const;

/** The smallest TEXT/BLOB type holding `bytes` bytes (TEXT(n), BLOB(n)). */
function bySize(names: readonly string[], bytes: number): string {
  const i = SIZE_LIMITS.findIndex((max) => bytes <= max);
  return names[i < 0 ? 3 : i] as string;
}

/**
 * The column after CONVERT TO CHARACTER SET `charset` COLLATE `collation`: MariaDB widens a TEXT
 * type whose characters would no longer fit in its bytes (a latin1 TEXT holds 65535 characters, so
 * in utf8mb4 it becomes MEDIUMTEXT), and never narrows one. Other columns only take the charset
 * (applyOperations does that); this returns undefined for them.
 */
export function convertedText(c: Column, charset: string, collation: string): Column | undefined {
  const at = (TEXT_BY_SIZE as readonly string[]).indexOf(c.dataType);
  if (at < 0 || c.charset === undefined || c.charset === 'binary') return undefined;
  const capacity = at < 3 ? (SIZE_LIMITS[at] as number) : 4294967295;
  const chars = Math.floor(capacity / (MAX_BYTES[c.charset] ?? 1));
  const wider = bySize(TEXT_BY_SIZE, chars * (MAX_BYTES[charset] ?? 1));
  const dataType = TEXT_BY_SIZE.indexOf(wider as (typeof TEXT_BY_SIZE)[number]) > at ? wider : c.dataType;
  const column: Column = { ...c, dataType, columnType: dataType, charset, collation };
  return { ...column, logical: toLogical(column) };
}

const SPATIAL = new Set(['GEOMETRY', 'POINT', 'LINESTRING', 'POLYGON', 'MULTIPOINT', 'MULTILINESTRING', 'MULTIPOLYGON', 'GEOMETRYCOLLECTION']);

/** Thrown for a definition this reader cannot read; ddl-parse.ts reports it as the spec's reason. */
export class DefinitionError extends Error {}

/** A cursor over a specification's tokens. */
export class Cursor {
  i = 0;
  /** `text`: the statement the tokens' offsets are in (for expressions' source text). */
  constructor(
    readonly tokens: readonly Token[],
    readonly text = '',
  ) {}
  peek(k = 0): Token | undefined {
    return this.tokens[this.i + k];
  }
  next(): Token | undefined {
    return this.tokens[this.i++];
  }
  done(): boolean {
    return this.i >= this.tokens.length;
  }
  /** Consumes the words `w…` in order when they are next; whether it did. */
  accept(...w: string[]): boolean {
    for (let k = 0; k < w.length; k++) if (!isWord(this.peek(k), w[k] as string)) return false;
    this.i += w.length;
    return true;
  }
  /** Consumes one word when it is any of `w`; whether it did. */
  acceptOne(...w: string[]): boolean {
    if (!isWord(this.peek(), ...w)) return false;
    this.i++;
    return true;
  }
  acceptPunct(p: string): boolean {
    if (!isPunct(this.peek(), p)) return false;
    this.i++;
    return true;
  }
  expectPunct(p: string): void {
    if (!this.acceptPunct(p)) throw new DefinitionError(`expected '${p}' at ${this.where()}`);
  }
  /** A name (identifier or bare word). */
  name(): string {
    const t = this.next();
    if (!t || !isName(t)) throw new DefinitionError(`expected a name at ${t ? `'${t.text}'` : 'the end'}`);
    return nameOf(t);
  }
  /** The tokens of a parenthesised group starting here ('(' included … ')' included). */
  group(): Token[] {
    const open = this.peek();
    if (!open || !isPunct(open, '(')) throw new DefinitionError(`expected '(' at ${this.where()}`);
    const start = this.i;
    this.i++;
    while (!this.done() && !(isPunct(this.peek(), ')') && (this.peek() as Token).depth === open.depth)) this.i++;
    if (this.done()) throw new DefinitionError(`'(' at '${open.text}' does not close`);
    this.i++;
    return this.tokens.slice(start, this.i);
  }
  where(): string {
    const t = this.peek();
    return t ? `'${t.text}'` : 'the end';
  }
}

interface TypeRead {
  dataType: string;
  columnType: string;
  unsigned: boolean;
  charset?: string;
  collation?: string;
  scale?: number;
  precision?: number;
  /** A character type (takes the table's charset when it names none). */
  character: boolean;
  /** NATIONAL/NCHAR: utf8mb3. */
  national?: boolean;
  json?: boolean;
  serial?: boolean;
  /** TEXT(n)/BLOB(n): sized once the charset is known. */
  sizedLength?: number;
}

/** The numbers (or quoted labels, as written) inside a type's parentheses. */
function typeArgs(c: Cursor): Token[] {
  if (!isPunct(c.peek(), '(')) return [];
  const g = c.group();
  return g.slice(1, -1).filter((t) => !isPunct(t, ','));
}

function num(t: Token | undefined, what: string): number {
  if (t?.kind !== 'number' || !/^\d+$/.test(t.value)) throw new DefinitionError(`${what}: expected a number, found ${t ? `'${t.text}'` : 'nothing'}`);
  return Number(t.value);
}

/** An enum/set label in information_schema's spelling: quotes doubled, backslashes doubled. */
function label(t: Token): string {
  if (t.kind !== 'string') throw new DefinitionError(`enum/set label expected, found '${t.text}'`);
  return `'${t.value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

function readType(c: Cursor): TypeRead {
  const t = c.next();
  if (t?.kind !== 'word') throw new DefinitionError(`expected a data type at ${t ? `'${t.text}'` : 'the end'}`);
  let w = t.value;
  // Multi-word spellings.
  let national = false;
  if (w === 'NATIONAL') {
    national = true;
    const n = c.next();
    if (!isWord(n, 'CHAR', 'CHARACTER', 'VARCHAR')) throw new DefinitionError(`NATIONAL must be followed by CHAR or VARCHAR`);
    w = (n as Token).value;
  } else if (w === 'NCHAR') {
    national = true;
    w = 'CHAR';
  } else if (w === 'NVARCHAR') {
    national = true;
    w = 'VARCHAR';
  }
  if ((w === 'CHAR' || w === 'CHARACTER') && c.accept('VARYING')) w = 'VARCHAR';
  if (w === 'CHARACTER') w = 'CHAR';
  if (w === 'DOUBLE') c.accept('PRECISION');
  if (w === 'LONG') {
    if (c.accept('VARBINARY')) w = 'MEDIUMBLOB';
    else {
      if (!c.accept('VARCHAR')) c.accept('CHAR', 'VARYING');
      w = 'MEDIUMTEXT';
    }
  }
  if (w === 'CHAR' && c.accept('BYTE')) w = 'BINARY';

  const integer = INTEGERS[w];
  if (integer) {
    const args = typeArgs(c);
    const { unsigned, zerofill } = signedness(c);
    const [dataType, wSigned, wUnsigned, pSigned, pUnsigned] = integer;
    const width = args[0] ? num(args[0], w) : unsigned ? wUnsigned : wSigned;
    return {
      dataType,
      columnType: `${dataType}(${width})${unsigned ? ' unsigned' : ''}${zerofill ? ' zerofill' : ''}`,
      unsigned,
      scale: 0,
      precision: unsigned ? pUnsigned : pSigned,
      character: false,
    };
  }
  switch (w) {
    case 'BOOL':
    case 'BOOLEAN':
      return { dataType: 'tinyint', columnType: 'tinyint(1)', unsigned: false, scale: 0, precision: 3, character: false };
    case 'SERIAL':
      return { dataType: 'bigint', columnType: 'bigint(20) unsigned', unsigned: true, scale: 0, precision: 20, character: false, serial: true };
    case 'DECIMAL':
    case 'DEC':
    case 'NUMERIC':
    case 'FIXED': {
      const args = typeArgs(c);
      const p = args[0] ? num(args[0], w) : 10;
      const s = args[1] ? num(args[1], w) : 0;
      const { unsigned, zerofill } = signedness(c);
      return { dataType: 'decimal', columnType: `decimal(${p},${s})${suffix(unsigned, zerofill)}`, unsigned, scale: s, precision: p, character: false };
    }
    case 'FLOAT':
    case 'FLOAT4':
    case 'FLOAT8':
    case 'DOUBLE':
    case 'REAL': {
      const args = typeArgs(c);
      let dataType = w === 'FLOAT' || w === 'FLOAT4' ? 'float' : 'double';
      let md: [number, number] | undefined;
      if (args.length === 2) md = [num(args[0], w), num(args[1], w)];
      else if (args.length === 1 && dataType === 'float' && num(args[0], w) > 24) dataType = 'double';
      const { unsigned, zerofill } = signedness(c);
      return {
        dataType,
        columnType: `${dataType}${md ? `(${md[0]},${md[1]})` : ''}${suffix(unsigned, zerofill)}`,
        unsigned,
        ...(md ? { precision: md[0], scale: md[1] } : { precision: dataType === 'float' ? 12 : 22 }),
        character: false,
      };
    }
    case 'BIT': {
      const args = typeArgs(c);
      const len = args[0] ? num(args[0], w) : 1;
      return { dataType: 'bit', columnType: `bit(${len})`, unsigned: false, precision: len, character: false };
    }
    case 'DATE':
      return { dataType: 'date', columnType: 'date', unsigned: false, character: false };
    case 'YEAR': {
      const args = typeArgs(c);
      const len = args[0] ? num(args[0], w) : 4;
      return { dataType: 'year', columnType: `year(${len})`, unsigned: false, character: false };
    }
    case 'DATETIME':
    case 'TIMESTAMP':
    case 'TIME': {
      const args = typeArgs(c);
      const fsp = args[0] ? num(args[0], w) : 0;
      const dataType = w.toLowerCase();
      return { dataType, columnType: fsp > 0 ? `${dataType}(${fsp})` : dataType, unsigned: false, scale: fsp, character: false };
    }
    case 'CHAR':
    case 'VARCHAR': {
      const args = typeArgs(c);
      if (w === 'VARCHAR' && !args[0]) throw new DefinitionError('VARCHAR needs a length');
      const len = args[0] ? num(args[0], w) : 1;
      const dataType = w.toLowerCase();
      return { dataType, columnType: `${dataType}(${len})`, unsigned: false, character: true, national };
    }
    case 'VARCHARACTER':
      throw new DefinitionError('VARCHARACTER is not a MariaDB type');
    case 'BINARY':
    case 'VARBINARY': {
      const args = typeArgs(c);
      if (w === 'VARBINARY' && !args[0]) throw new DefinitionError('VARBINARY needs a length');
      const len = args[0] ? num(args[0], w) : 1;
      const dataType = w.toLowerCase();
      return { dataType, columnType: `${dataType}(${len})`, unsigned: false, charset: 'binary', character: false };
    }
    case 'TINYTEXT':
    case 'TEXT':
    case 'MEDIUMTEXT':
    case 'LONGTEXT': {
      const args = typeArgs(c);
      const dataType = w.toLowerCase();
      return { dataType, columnType: dataType, unsigned: false, character: true, ...(w === 'TEXT' && args[0] ? { sizedLength: num(args[0], w) } : {}) };
    }
    case 'TINYBLOB':
    case 'BLOB':
    case 'MEDIUMBLOB':
    case 'LONGBLOB': {
      const args = typeArgs(c);
      const dataType = w === 'BLOB' && args[0] ? bySize(BLOB_BY_SIZE, num(args[0], w)) : w.toLowerCase();
      return { dataType, columnType: dataType, unsigned: false, charset: 'binary', character: false };
    }
    case 'ENUM':
    case 'SET': {
      const args = typeArgs(c);
      if (args.length === 0) throw new DefinitionError(`${w} needs its members`);
      const dataType = w.toLowerCase();
      return { dataType, columnType: `${dataType}(${args.map(label).join(',')})`, unsigned: false, character: true };
    }
    case 'JSON':
      return { dataType: 'longtext', columnType: 'longtext', unsigned: false, charset: 'utf8mb4', collation: 'utf8mb4_bin', character: true, json: true };
    case 'UUID':
    case 'INET4':
    case 'INET6':
      return { dataType: w.toLowerCase(), columnType: w.toLowerCase(), unsigned: false, character: false };
  }
  if (SPATIAL.has(w)) return { dataType: w.toLowerCase(), columnType: w.toLowerCase(), unsigned: false, character: false };
  throw new DefinitionError(`unknown data type '${t.text}'`);
}

function suffix(unsigned: boolean, zerofill: boolean): string {
  return `${unsigned ? ' unsigned' : ''}${zerofill ? ' zerofill' : ''}`;
}

/** UNSIGNED / SIGNED / ZEROFILL after a numeric type (ZEROFILL implies UNSIGNED). */
function signedness(c: Cursor): { unsigned: boolean; zerofill: boolean } {
  let unsigned = false;
  let zerofill = false;
  for (;;) {
    if (c.accept('UNSIGNED')) unsigned = true;
    else if (c.accept('SIGNED')) unsigned = false;
    else if (c.accept('ZEROFILL')) zerofill = unsigned = true;
    else return { unsigned, zerofill };
  }
}

/**
 * Reads a column definition: the tokens after the column's name, up to the end of the
 * specification. `table` gives the defaults a character column takes; `allowPlace` accepts FIRST /
 * AFTER x (ALTER TABLE only).
 */
export function readColumnDefinition(name: string, tokens: readonly Token[], text: string, table: CharsetDefaults, allowPlace: boolean): ColumnDefinition {
  const c = new Cursor(tokens, text);
  const type = readType(c);
  let nullable = true;
  let charset: string | undefined = type.charset;
  let collation: string | undefined = type.collation;
  let binaryCollation = false;
  let def: ColumnDefault | undefined;
  let place: ColumnPlace | undefined;
  let generated = false;
  let primary = false;
  let unique = type.serial === true;
  let srid: number | undefined;
  let autoIncrement = false;
  if (type.serial) nullable = false;
  while (!c.done()) {
    if (c.accept('NOT', 'NULL')) {
      nullable = false;
    } else if (c.accept('NULL')) {
      nullable = true;
    } else if (c.accept('CHARACTER', 'SET') || c.accept('CHARSET')) {
      c.acceptPunct('=');
      charset = canonicalCharset(c.name());
    } else if (c.accept('COLLATE')) {
      c.acceptPunct('=');
      collation = canonicalCollation(c.name());
    } else if (c.accept('BINARY')) {
      binaryCollation = true;
    } else if (type.dataType === 'char' && c.accept('BYTE')) {
      charset = 'binary';
    } else if (c.accept('ASCII')) {
      charset = 'latin1';
    } else if (c.accept('UNICODE')) {
      charset = 'ucs2';
    } else if (c.accept('DEFAULT')) {
      def = readDefault(c);
    } else if (c.accept('ON', 'UPDATE')) {
      readDefault(c);
    } else if (c.accept('AUTO_INCREMENT')) {
      autoIncrement = true;
    } else if (c.accept('SERIAL', 'DEFAULT', 'VALUE')) {
      nullable = false;
      unique = true;
    } else if (c.accept('PRIMARY', 'KEY') || c.accept('PRIMARY')) {
      primary = true;
      nullable = false;
    } else if (c.accept('UNIQUE')) {
      c.accept('KEY');
      unique = true;
    } else if (c.accept('KEY')) {
      primary = true;
      nullable = false;
    } else if (c.accept('COMMENT')) {
      c.next();
    } else if (c.accept('COLUMN_FORMAT') || c.accept('STORAGE')) {
      c.next();
    } else if (c.accept('GENERATED', 'ALWAYS')) {
      // AS (…) follows
    } else if (c.accept('AS')) {
      c.group();
      generated = true;
      c.acceptOne('VIRTUAL', 'STORED', 'PERSISTENT');
    } else if (c.acceptOne('VIRTUAL', 'STORED', 'PERSISTENT')) {
      // after AS (…)
    } else if (c.accept('CHECK')) {
      c.group();
    } else if (c.accept('CONSTRAINT')) {
      if (!isWord(c.peek(), 'CHECK')) c.name();
    } else if (c.accept('REFERENCES')) {
      c.name();
      if (c.acceptPunct('.')) c.name();
      if (isPunct(c.peek(), '(')) c.group();
      while (!c.done() && !isWord(c.peek(), 'FIRST', 'AFTER')) c.next();
    } else if (c.accept('INVISIBLE') || c.accept('VISIBLE') || c.accept('COMPRESSED') || c.accept('WITH', 'SYSTEM', 'VERSIONING') || c.accept('WITHOUT', 'SYSTEM', 'VERSIONING')) {
      // nothing describeTable reads
    } else if (c.accept('SRID') || c.accept('REF_SYSTEM_ID')) {
      c.acceptPunct('=');
      srid = num(c.next(), 'SRID');
    } else if (allowPlace && c.accept('FIRST')) {
      place = { first: true };
    } else if (allowPlace && c.accept('AFTER')) {
      place = { after: c.name() };
    } else {
      throw new DefinitionError(`unexpected '${(c.peek() as Token).text}' in the definition of column '${name}'`);
    }
  }
  // MariaDB makes an AUTO_INCREMENT column NOT NULL whatever the definition says.
  if (autoIncrement) nullable = false;

  if (type.character && !type.json) {
    if (type.national && charset === undefined) charset = 'utf8mb3';
    if (charset === undefined && collation !== undefined) charset = charsetOfCollation(collation);
    if (charset === undefined) {
      charset = table.charset;
      collation ??= table.collation;
    }
    collation ??= binaryCollation ? `${charset}_bin` : defaultCollation(charset);
    if (binaryCollation && collation === defaultCollation(charset)) collation = `${charset}_bin`;
  }
  let dataType = type.dataType;
  let columnType = type.columnType;
  if (type.character && charset === 'binary') {
    // CHARACTER SET binary makes a character type its byte-string twin: CHAR(n) is BINARY(n), TEXT is BLOB.
    collation = undefined;
    const twin: Readonly<Record<string, string>> = { char: 'binary', varchar: 'varbinary', tinytext: 'tinyblob', text: 'blob', mediumtext: 'mediumblob', longtext: 'longblob' };
    const to = twin[dataType];
    if (to !== undefined) {
      columnType = columnType.replace(dataType, to);
      dataType = to;
    }
  }
  if (type.sizedLength !== undefined) {
    dataType = columnType = bySize(TEXT_BY_SIZE, type.sizedLength * (MAX_BYTES[charset ?? ''] ?? 1));
  }
  const temporal = ['datetime', 'timestamp', 'time'].includes(dataType);
  const column: Column = {
    name,
    dataType,
    columnType,
    nullable,
    unsigned: type.unsigned,
    ...(charset !== undefined ? { charset } : {}),
    ...(collation !== undefined && charset !== 'binary' ? { collation } : {}),
    ...(temporal ? { scale: type.scale ?? 0 } : type.scale !== undefined ? { scale: type.scale } : {}),
    ...(type.precision !== undefined ? { precision: type.precision } : {}),
    ...(srid !== undefined && srid > 0 && SPATIAL.has(dataType.toUpperCase()) ? { srid } : {}),
  };
  // MariaDB's JSON is LONGTEXT with CHECK (json_valid(`c`)), which toLogical reads from the CREATE statement.
  const create = type.json ? `json_valid(\`${name.replace(/`/g, '``')}\`)` : undefined;
  const withLogical: Column = { ...column, logical: toLogical(column, create !== undefined ? { createStatement: create } : undefined) };
  return { column: withLogical, ...(def !== undefined ? { default: def } : {}), ...(place ? { place } : {}), generated, primary, unique };
}

/**
 * A DEFAULT clause's value: a literal's text unquoted ('5', 'abc', '-1.50'), NULL, the current
 * time (CURRENT_TIMESTAMP[(n)], NOW([n]), LOCALTIME[STAMP]), or any other expression as its SQL.
 */
export function readDefault(c: Cursor): ColumnDefault {
  const t = c.peek();
  if (!t) throw new DefinitionError('DEFAULT without a value');
  if (isWord(t, 'NULL')) {
    c.next();
    return { kind: 'null' };
  }
  if (isWord(t, 'CURRENT_TIMESTAMP', 'NOW', 'LOCALTIME', 'LOCALTIMESTAMP')) {
    c.next();
    let fsp: number | undefined;
    if (isPunct(c.peek(), '(')) {
      const args = c.group().slice(1, -1);
      if (args[0]) fsp = num(args[0], t.value);
    } else if (t.value === 'NOW') {
      throw new DefinitionError('NOW without parentheses');
    }
    return { kind: 'now', ...(fsp !== undefined && fsp > 0 ? { fsp } : {}) };
  }
  if (isWord(t, 'TRUE', 'FALSE')) {
    c.next();
    return { kind: 'literal', value: t.value === 'TRUE' ? '1' : '0' };
  }
  // -1.5, +3
  if (isPunct(t, '-') || isPunct(t, '+')) {
    const n = c.peek(1);
    if (n?.kind === 'number') {
      c.i += 2;
      return { kind: 'literal', value: `${t.value === '-' ? '-' : ''}${n.value}` };
    }
  }
  if (t.kind === 'number' && !/^0x/i.test(t.value)) {
    c.next();
    return { kind: 'literal', value: t.value };
  }
  // _utf8mb4'abc' (a charset introducer) and 'a' 'b' (adjacent strings concatenate).
  if (t.kind === 'string' && !/^[xb]'/i.test(t.text)) {
    let v = '';
    while (c.peek()?.kind === 'string' && !/^[xb]'/i.test((c.peek() as Token).text)) v += (c.next() as Token).value;
    return { kind: 'literal', value: v };
  }
  if (t.kind === 'word' && t.value.startsWith('_') && c.peek(1)?.kind === 'string') {
    c.next();
    return readDefault(c);
  }
  // Anything else: one token, or a word with its parenthesised arguments, or a parenthesised expression.
  const start = c.i;
  if (isPunct(t, '(')) c.group();
  else {
    c.next();
    if (t.kind === 'word' && isPunct(c.peek(), '(')) c.group();
  }
  const toks = c.tokens.slice(start, c.i);
  const first = toks[0] as Token;
  const last = toks[toks.length - 1] as Token;
  return { kind: 'expression', sql: c.text ? c.text.slice(first.start, last.end) : toks.map((x) => x.text).join(' ') };
}
