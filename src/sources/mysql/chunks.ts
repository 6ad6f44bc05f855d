import type { Column, TableSchema } from '../../core/schema.js';
import type { KeyRange } from '../../core/source.js';
import type { Value } from '../../core/values.js';
import { quoteId } from './connection.js';
import { codecFor, type ColumnCodec } from './values.js';

/** The SQL pieces for keyset pagination over a table's primary key (any type, composite too). */
export interface ChunkSql {
  readonly codecs: ColumnCodec[];
  readonly keyCodecs: ColumnCodec[];
  readonly selectList: string;
  readonly keyList: string;
  readonly from: string;
}

export function chunkSql(table: TableSchema): ChunkSql {
  const codecs = table.columns.map((c) => codecFor(c, quoteId(c.name)));
  const keyCols = table.primaryKey.map((i) => table.columns[i] as Column);
  return {
    codecs,
    keyCodecs: table.primaryKey.map((i) => codecs[i] as ColumnCodec),
    selectList: codecs.map((c) => c.select).join(', '),
    keyList: keyCols.map((c) => quoteId(c.name)).join(', '),
    from: quoteId(table.name),
  };
}

/**
 * `(k1, k2, …) > (v1, v2, …)` expanded so that every server uses the primary key's range access:
 * k1 > v1 OR (k1 = v1 AND k2 > v2) OR …; `inclusive` makes the last comparison ≥/≤.
 */
export function keyCompare(table: TableSchema, op: '>' | '<=', values: readonly Value[]): { sql: string; params: Value[] } {
  const names = table.primaryKey.map((i) => quoteId((table.columns[i] as Column).name));
  const strict = op === '>' ? '>' : '<';
  const ors: string[] = [];
  const params: Value[] = [];
  for (let i = 0; i < names.length; i++) {
    const ands: string[] = [];
    for (let j = 0; j < i; j++) {
      ands.push(`${names[j]} = ?`);
      params.push(values[j] ?? null);
    }
    const last = i === names.length - 1 && op === '<=' ? '<=' : strict;
    ands.push(`${names[i]} ${last} ?`);
    params.push(values[i] ?? null);
    ors.push(ands.length === 1 ? (ands[0] as string) : `(${ands.join(' AND ')})`);
  }
  return { sql: ors.length === 1 ? (ors[0] as string) : `(${ors.join(' OR ')})`, params };
}

export function rangeWhere(table: TableSchema, range: KeyRange): { sql: string; params: Value[] } {
  const parts: string[] = [];
  const params: Value[] = [];
  if (range.after) {
    const c = keyCompare(table, '>', range.after);
    parts.push(c.sql);
    params.push(...c.params);
  }
  if (range.upTo) {
    const c = keyCompare(table, '<=', range.upTo);
    parts.push(c.sql);
    params.push(...c.params);
  }
  return { sql: parts.length ? `WHERE ${parts.join(' AND ')}` : '', params };
}
