import type { Column, TableSchema } from '../../core/schema.js';
import type { KeyRange } from '../../core/source.js';
import type { Value } from '../../core/values.js';
import { filterSql } from './filter.js';
import { quoteIdent } from './sql.js';
import { qualified } from './schema.js';
import { codecFor, type TextCodec } from './values.js';

/** The SQL pieces for keyset pagination over a table's primary key (any type, composite too). */
export interface ChunkSql {
  readonly codecs: TextCodec[];
  readonly keyCodecs: TextCodec[];
  readonly selectList: string;
  readonly keyList: string;
  /** `keyList` with each column DESC: the key's order reversed, for a copy that walks down (copyOrder desc). */
  readonly keyListDesc: string;
  readonly from: string;
  /**
   * The table's row filter (TableSchema.rowFilter) as SQL (filter.ts), '' without one. Every
   * snapshot read but chunkBoundary ANDs it in (`filtered`); it is part of the SQL cached per
   * definition, so a filtered and an unfiltered definition of a table never share a statement.
   */
  readonly filter: string;
}

export function chunkSql(namespace: string, table: TableSchema): ChunkSql {
  const codecs = table.columns.map((c) => codecFor(c));
  const keyCols = table.primaryKey.map((i) => table.columns[i] as Column);
  return {
    codecs,
    keyCodecs: table.primaryKey.map((i) => codecs[i] as TextCodec),
    selectList: table.columns.map((c) => quoteIdent(c.name)).join(', ') || 'NULL',
    keyList: keyCols.map((c) => quoteIdent(c.name)).join(', '),
    keyListDesc: keyCols.map((c) => `${quoteIdent(c.name)} DESC`).join(', '),
    from: qualified(namespace, table.name),
    filter: table.rowFilter ? filterSql(table.rowFilter, table) : '',
  };
}

/** `where` (a `WHERE …` clause or '') with the table's row filter ANDed in. */
export function filtered(where: string, s: ChunkSql): string {
  if (!s.filter) return where;
  return where ? `${where} AND ${s.filter}` : `WHERE ${s.filter}`;
}

/**
 * `(k1, k2) > ($1, $2)` and `(k1, k2) <= ($3, $4)`: PostgreSQL compares row values
 * lexicographically, in the key's own collations and operators, exactly as the primary key index
 * orders them, and uses the index for it. Parameters are untyped, so the server reads each one as
 * its column's type (a bigint's decimal text, a Buffer as bytea, a float's shortest text).
 */
export function rangeWhere(table: TableSchema, range: KeyRange, firstParam = 1): { sql: string; params: Value[] } {
  const params: Value[] = [];
  const sql = rangeSql(table, range, (v) => {
    params.push(v);
    return `$${firstParam + params.length - 1}`;
  });
  return { sql, params };
}

/** The WHERE clause of a range, each key value written by `bind` (a placeholder or a literal). */
function rangeSql(table: TableSchema, range: KeyRange, bind: (v: Value) => string): string {
  const names = table.primaryKey.map((i) => quoteIdent((table.columns[i] as Column).name));
  const lhs = names.length === 1 ? (names[0] as string) : `(${names.join(', ')})`;
  const parts: string[] = [];
  const rhs = (values: readonly Value[]) => {
    const ps = names.map((_, i) => bind(values[i] ?? null));
    return ps.length === 1 ? (ps[0] as string) : `(${ps.join(', ')})`;
  };
  if (range.after) parts.push(`${lhs} > ${rhs(range.after)}`);
  if (range.upTo) parts.push(`${lhs} <= ${rhs(range.upTo)}`);
  return parts.length ? `WHERE ${parts.join(' AND ')}` : '';
}

/**
 * An untyped literal read exactly as the same value sent as an untyped parameter (what pg sends:
 * a bigint's or float's toString(), 'true'/'false', a Buffer as bytea hex, a string as is), so
 * the server resolves it to its column's type as it does in rangeWhere. Undefined for a value
 * with no such form.
 */
export function untypedLiteral(v: Value): string | undefined {
  let text: string;
  if (v === null) return 'NULL';
  if (Buffer.isBuffer(v)) text = '\\x' + v.toString('hex');
  else if (typeof v === 'string') text = v;
  else if (typeof v === 'bigint' || typeof v === 'number' || typeof v === 'boolean') text = String(v);
  else return undefined;
  // A NUL cannot be in a PostgreSQL string; the parameterised read would fail the same way.
  if (text.includes('\0')) return undefined;
  // E'' keeps backslashes meaning the same whatever standard_conforming_strings says.
  return `E'${text.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

/**
 * `COPY (SELECT … WHERE range ORDER BY pk) TO STDOUT`: the chunk of readChunk in COPY's text
 * format, or in its binary format with `binary`. COPY takes no parameters, so the range is
 * inlined; undefined when a key value cannot be.
 */
export function copyChunkSql(s: ChunkSql, table: TableSchema, range: KeyRange, binary = false): string | undefined {
  let inlinable = true;
  const where = rangeSql(table, range, (v) => {
    const l = untypedLiteral(v);
    if (l === undefined) inlinable = false;
    return l ?? 'NULL';
  });
  if (!inlinable) return undefined;
  return `COPY (SELECT ${s.selectList} FROM ${s.from} ${filtered(where, s)} ORDER BY ${s.keyList}) TO STDOUT${binary ? ' (FORMAT binary)' : ''}`;
}
