import type { Column, TableSchema } from '../../core/schema.js';
import type { KeyRange } from '../../core/source.js';
import type { Value } from '../../core/values.js';
import { quoteIdent } from './connection.js';
import { qualified } from './schema.js';
import { codecFor, type TextCodec } from './values.js';

/** The SQL pieces for keyset pagination over a table's primary key (any type, composite too). */
export interface ChunkSql {
  readonly codecs: TextCodec[];
  readonly keyCodecs: TextCodec[];
  readonly selectList: string;
  readonly keyList: string;
  readonly from: string;
}

export function chunkSql(namespace: string, table: TableSchema): ChunkSql {
  const codecs = table.columns.map((c) => codecFor(c));
  const keyCols = table.primaryKey.map((i) => table.columns[i] as Column);
  return {
    codecs,
    keyCodecs: table.primaryKey.map((i) => codecs[i] as TextCodec),
    selectList: table.columns.map((c) => quoteIdent(c.name)).join(', ') || 'NULL',
    keyList: keyCols.map((c) => quoteIdent(c.name)).join(', '),
    from: qualified(namespace, table.name),
  };
}

/**
 * `(k1, k2) > ($1, $2)` and `(k1, k2) <= ($3, $4)`: PostgreSQL compares row values
 * lexicographically, in the key's own collations and operators, exactly as the primary key index
 * orders them, and uses the index for it. Parameters are untyped, so the server reads each one as
 * its column's type (a bigint's decimal text, a Buffer as bytea, a float's shortest text).
 */
export function rangeWhere(table: TableSchema, range: KeyRange, firstParam = 1): { sql: string; params: Value[] } {
  const names = table.primaryKey.map((i) => quoteIdent((table.columns[i] as Column).name));
  const lhs = names.length === 1 ? (names[0] as string) : `(${names.join(', ')})`;
  const parts: string[] = [];
  const params: Value[] = [];
  const rhs = (values: readonly Value[]) => {
    const ps = names.map((_, i) => {
      params.push(values[i] ?? null);
      return `$${firstParam + params.length - 1}`;
    });
    return ps.length === 1 ? (ps[0] as string) : `(${ps.join(', ')})`;
  };
  if (range.after) parts.push(`${lhs} > ${rhs(range.after)}`);
  if (range.upTo) parts.push(`${lhs} <= ${rhs(range.upTo)}`);
  return { sql: parts.length ? `WHERE ${parts.join(' AND ')}` : '', params };
}
