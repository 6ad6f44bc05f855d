import type { Column } from '../../core/schema.js';
import type { Value } from '../../core/values.js';

/**
 * PostgreSQL text → canonical value (src/core/values.ts), one function per column. The copy path
 * (SELECT through raw-text parsers) and the stream path (pgoutput's text tuples) both print values
 * with the session settings of connection.ts, so both feed the same text through the same
 * function and produce identical values.
 */
export type TextCodec = (text: string | null) => Value;

const INTEGER = new Set(['int2', 'int4', 'int8', 'oid', 'xid', 'cid']);
const FLOAT = new Set(['float4', 'float8']);

function float(text: string): number {
  switch (text) {
    case 'NaN':
      return NaN;
    case 'Infinity':
      return Infinity;
    case '-Infinity':
      return -Infinity;
    default:
      return Number(text);
  }
}

function bytea(text: string): Buffer {
  // bytea_output=hex: '\x0001ff'.
  if (text.startsWith('\\x')) return Buffer.from(text.slice(2), 'hex');
  throw new Error(`bytea value not in hex form (bytea_output must be 'hex'): ${text.slice(0, 20)}`);
}

export function codecFor(column: Pick<Column, 'dataType'>): TextCodec {
  const t = column.dataType;
  if (INTEGER.has(t)) return (s) => (s === null ? null : BigInt(s));
  // float4 is printed in its shortest exact form; Math.fround gives the float32 widened exactly.
  if (t === 'float4') return (s) => (s === null ? null : Math.fround(float(s)));
  if (FLOAT.has(t)) return (s) => (s === null ? null : float(s));
  if (t === 'bool') return (s) => (s === null ? null : s === 't');
  if (t === 'bytea') return (s) => (s === null ? null : bytea(s));
  // numeric (NaN, Infinity kept), json/jsonb as stored, timestamptz in the UTC session, and
  // every other type (temporal, uuid, arrays, ranges, enums, bit strings…) as PostgreSQL prints it.
  return (s) => s;
}

/**
 * How a canonical value is written into a column, by the target column's type (pg_type.typname):
 * the writer renders values by it (sql.ts pgText, apply.ts, load.ts), and so does the read-back for
 * another engine's keys (read.ts).
 */
export type ValueKind = 'int' | 'numeric' | 'float4' | 'float8' | 'bool' | 'bit' | 'bytea' | 'date' | 'timestamp' | 'timestamptz' | 'text';

export function kindOf(udtName: string): ValueKind {
  switch (udtName) {
    case 'int2':
    case 'int4':
    case 'int8':
    case 'oid':
      return 'int';
    case 'numeric':
      return 'numeric';
    case 'float4':
      return 'float4';
    case 'float8':
      return 'float8';
    case 'bool':
      return 'bool';
    case 'bit':
    case 'varbit':
      return 'bit';
    case 'bytea':
      return 'bytea';
    case 'date':
      return 'date';
    case 'timestamp':
      return 'timestamp';
    case 'timestamptz':
      return 'timestamptz';
    default:
      return 'text';
  }
}

/** Names a CREATE TABLE may spell a type with, as pg_type.typname. */
const TYPNAME: Record<string, string> = {
  smallint: 'int2',
  integer: 'int4',
  int: 'int4',
  bigint: 'int8',
  decimal: 'numeric',
  real: 'float4',
  'double precision': 'float8',
  boolean: 'bool',
  'timestamp without time zone': 'timestamp',
  'timestamp with time zone': 'timestamptz',
  character: 'bpchar',
  char: 'bpchar',
  'character varying': 'varchar',
};

/**
 * The kind (and bit(n) length) of a type as written in CREATE TABLE — 'numeric(20,0)',
 * 'timestamptz(6)', 'double precision', 'bit(5)' — as `kindOf` gives it for the catalogue's type
 * once the table exists. Lets a writer know, before the table is read back, how values of a
 * mapped column will be rendered.
 */
export function declaredKind(sqlType: string): { kind: ValueKind; bits?: number } {
  const m = /^\s*([a-z ]*[a-z])\s*(?:\(\s*(\d+)[^)]*\))?\s*(with(?:out)? time zone)?\s*$/i.exec(sqlType);
  if (!m) return { kind: 'text' };
  let name = (m[1] as string).toLowerCase();
  if (m[3]) name = `${name} ${m[3].toLowerCase()}`;
  const kind = kindOf(TYPNAME[name] ?? name);
  return kind === 'bit' && name === 'bit' ? { kind, bits: m[2] === undefined ? 1 : Number(m[2]) } : { kind };
}
