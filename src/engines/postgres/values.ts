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
