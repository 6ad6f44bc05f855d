import type { Column, TableSchema } from '../../core/schema.js';
import type { KeyRange } from '../../core/source.js';
import type { Value } from '../../core/values.js';
import { filterSql } from './filter.js';
import { quoteId, quoteTable } from './sql.js';
import { codecFor, type ColumnCodec } from './values.js';

/** The SQL pieces for keyset pagination over a table's primary key (any type, composite too). */
export interface ChunkSql {
  readonly codecs: ColumnCodec[];
  readonly keyCodecs: ColumnCodec[];
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

export function chunkSql(table: TableSchema): ChunkSql {
  const codecs = table.columns.map((c) => codecFor(c, quoteId(c.name)));
  const keyCols = table.primaryKey.map((i) => table.columns[i] as Column);
  return {
    codecs,
    keyCodecs: table.primaryKey.map((i) => codecs[i] as ColumnCodec),
    selectList: codecs.map((c) => c.select).join(', '),
    keyList: keyCols.map((c) => quoteId(c.name)).join(', '),
    keyListDesc: keyCols.map((c) => `${quoteId(c.name)} DESC`).join(', '),
    from: quoteTable(table.name),
    filter: table.rowFilter ? filterSql(table.rowFilter, table) : '',
  };
}

/** `where` (a `WHERE …` clause or '') with the table's row filter ANDed in. */
export function filtered(where: string, s: ChunkSql): string {
  if (!s.filter) return where;
  return where ? `${where} AND ${s.filter}` : `WHERE ${s.filter}`;
}

/**
 * The members of `enum('a','b''c',…)` / `set(…)` as the catalogue prints them: a quote doubled, a
 * backslash escaped as two (MariaDB prints the label back\slash as 'back\\slash').
 */
export function enumMembers(columnType: string): string[] {
  const out: string[] = [];
  let i = columnType.indexOf('(') + 1;
  while (i > 0 && i < columnType.length && columnType[i] === "'") {
    let v = '';
    i++;
    for (;;) {
      const ch = columnType[i];
      if (ch === undefined) return out;
      if (ch === "'" && columnType[i + 1] === "'") {
        v += "'";
        i += 2;
      } else if (ch === '\\' && columnType[i + 1] === '\\') {
        v += '\\';
        i += 2;
      } else if (ch === "'") {
        i++;
        break;
      } else {
        v += ch;
        i++;
      }
    }
    out.push(v);
    if (columnType[i] === ',') i++;
  }
  return out;
}

/**
 * A key comparison that the server evaluates exactly as it orders the key, with the column bare so
 * the primary key's range access applies: MySQL compares a DECIMAL with a string parameter as
 * doubles (losing digits past the 17th), so the parameter is cast; an ENUM sorts by its index but
 * compares with a string by collation (MariaDB's range access happens to use the index, a full
 * scan does not), so the parameter is the member's index (and a SET's, its bit mask). MariaDB does
 * not use range access for an ENUM compared with an integer, so chunks of an ENUM-keyed table each
 * scan the key from its start: correct, slower, and rare.
 */
function comparable(col: Column): { rhs: string; param: (v: Value) => Value } {
  if (col.dataType === 'decimal') return { rhs: `CAST(? AS DECIMAL(${col.precision ?? 65}, ${col.scale ?? 0}))`, param: (v) => v };
  if (col.dataType === 'enum') {
    const members = enumMembers(col.columnType);
    return { rhs: '?', param: (v) => (typeof v === 'string' ? BigInt(members.indexOf(v) + 1) : v) };
  }
  if (col.dataType === 'set') {
    // A SET sorts by its bit mask.
    const members = enumMembers(col.columnType);
    const mask = (v: string) => v.split(',').filter(Boolean).reduce((m, x) => m | (1n << BigInt(members.indexOf(x))), 0n);
    return { rhs: '?', param: (v) => (typeof v === 'string' ? mask(v) : v) };
  }
  return { rhs: '?', param: (v) => v };
}

/**
 * `(k1, k2, …) > (v1, v2, …)` expanded so that every server uses the primary key's range access:
 * k1 > v1 OR (k1 = v1 AND k2 > v2) OR …; with '<=' the last comparison is ≤.
 */
export function keyCompare(table: TableSchema, op: '>' | '<=', values: readonly Value[]): { sql: string; params: Value[] } {
  const cols = table.primaryKey.map((i) => table.columns[i] as Column);
  const sides = cols.map((c) => ({ name: quoteId(c.name), ...comparable(c) }));
  const strict = op === '>' ? '>' : '<';
  const ors: string[] = [];
  const params: Value[] = [];
  for (let i = 0; i < sides.length; i++) {
    const ands: string[] = [];
    for (let j = 0; j < i; j++) {
      const side = sides[j]!;
      ands.push(`${side.name} = ${side.rhs}`);
      params.push(side.param(values[j] ?? null));
    }
    const last = i === sides.length - 1 && op === '<=' ? '<=' : strict;
    const side = sides[i]!;
    ands.push(`${side.name} ${last} ${side.rhs}`);
    params.push(side.param(values[i] ?? null));
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

/**
 * `k IN (?, …)` / `(k1, k2) IN ((?, ?), …)` for a list of primary keys, each value compared as
 * `keyCompare` compares it (a DECIMAL cast, an ENUM's index), so the primary key's access applies.
 */
export function keysWhere(table: TableSchema, keys: readonly (readonly Value[])[]): { sql: string; params: Value[] } {
  const cols = table.primaryKey.map((i) => table.columns[i] as Column);
  const sides = cols.map((c) => comparable(c));
  const params: Value[] = [];
  const tuples = keys.map((key) => {
    const parts = sides.map((side, j) => {
      params.push(side.param(key[j] ?? null));
      return side.rhs;
    });
    return parts.length === 1 ? (parts[0] as string) : `(${parts.join(', ')})`;
  });
  const lhs = cols.length === 1 ? quoteId((cols[0] as Column).name) : `(${cols.map((c) => quoteId(c.name)).join(', ')})`;
  return { sql: tuples.length ? `WHERE ${lhs} IN (${tuples.join(', ')})` : 'WHERE FALSE', params };
}
