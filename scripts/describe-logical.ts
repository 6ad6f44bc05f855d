/**
 * A logical column type (src/core/logical.ts) in words, as docs/type-mapping.md prints it. The
 * one place those words are made: the generator (scripts/type-mapping.ts) and its test use it.
 */
import type { LogicalKind, LogicalType, TextForm } from '../src/core/logical.js';

/**
 * The kinds in the order the doc's tables list them (core/logical.ts's order). A Record, so a
 * kind added to LogicalType fails the type check here until the doc has a place for it.
 */
const KIND_ORDER: Readonly<Record<LogicalKind, number>> = {
  integer: 0,
  decimal: 1,
  float: 2,
  boolean: 3,
  text: 4,
  binary: 5,
  date: 6,
  year: 7,
  time: 8,
  timestamp: 9,
  interval: 10,
  json: 11,
  uuid: 12,
  inet: 13,
  enum: 14,
  set: 15,
  bit: 16,
  array: 17,
  spatial: 18,
  other: 19,
};

export const LOGICAL_KINDS = (Object.keys(KIND_ORDER) as LogicalKind[]).sort((a, b) => KIND_ORDER[a] - KIND_ORDER[b]);

export function kindOrder(kind: LogicalKind): number {
  return KIND_ORDER[kind];
}

/** A label as written in a list: quoted, a long one cut with its length given. */
function label(l: string): string {
  const chars = [...l];
  return chars.length > 24 ? `'${chars.slice(0, 8).join('')}…' (${chars.length} characters)` : `'${l}'`;
}

function labels(ls: readonly string[]): string {
  return ls.length === 0 ? 'no labels' : `(${ls.map(label).join(', ')})`;
}

function textForm(t: TextForm): string {
  const chars = `${t.ascii ? 'ASCII ' : ''}characters`;
  const size = t.length === undefined ? `text of any length` : t.fixed ? `text of exactly ${t.length} ${chars}` : `text of at most ${t.length} ${chars}`;
  return `kept as ${size}${t.elastic && t.length !== undefined ? ' (may widen)' : ''}`;
}

/** The words for a logical type: 'integer, 4 bytes, unsigned', 'text, length 10, fixed, utf8mb4, utf8mb4_bin'. */
export function describeLogical(t: LogicalType): string {
  switch (t.kind) {
    case 'integer':
      return `integer, ${t.bytes} byte${t.bytes === 1 ? '' : 's'}, ${t.signed ? 'signed' : 'unsigned'}`;
    case 'decimal':
      if (t.precision === undefined) return 'decimal, unconstrained';
      return `decimal, precision ${t.precision}, scale ${t.scale ?? 0}`;
    case 'float':
      return `float, ${t.bits} bits`;
    case 'boolean':
      return 'boolean';
    case 'text':
    case 'binary': {
      const parts: string[] = [t.kind, t.length === undefined ? 'unbounded' : `length ${t.length}`];
      if (t.fixed) parts.push('fixed');
      if (t.kind === 'text') {
        if (t.charset !== undefined) parts.push(t.charset);
        if (t.collation !== undefined) parts.push(t.charset === undefined ? `collation ${t.collation}` : t.collation);
      }
      return parts.join(', ');
    }
    case 'date':
      return 'date';
    case 'year':
      return 'year';
    case 'time':
      return `time, fsp ${t.fsp}, ${t.range === 'day' ? 'one day' : '±838:59:59'}`;
    case 'timestamp':
      return `timestamp ${t.zone ? 'with' : 'without'} zone, fsp ${t.fsp}`;
    case 'interval':
      return 'interval';
    case 'json':
      return t.binary ? 'json, re-serialised' : 'json, text as written';
    case 'uuid':
      return 'uuid';
    case 'inet':
      return `inet, version ${t.version}`;
    case 'enum':
      return `enum${t.typeName !== undefined ? ` type ${t.typeName}` : ''} ${labels(t.labels)}`;
    case 'set':
      return `set ${labels(t.labels)}`;
    case 'bit':
      return `bit${t.varying ? ' varying' : ''}, ${t.length === undefined ? 'unbounded' : `length ${t.length}`}`;
    case 'array':
      return `array of ${describeLogical(t.of)}`;
    case 'spatial':
      return `spatial ${t.subtype}${t.srid !== undefined ? `, SRID ${t.srid}` : ''}${t.ewkb ? ', EWKB values' : ''}`;
    case 'other': {
      const name = t.typeName !== undefined && t.typeName !== t.native ? `${t.native} (type ${t.typeName})` : t.native;
      if (t.text) return `other: ${name}, ${textForm(t.text)}`;
      return `other: ${name}, ${t.what !== undefined ? t.what.replace(/,$/, '') : 'no text form'}`;
    }
  }
}
