import { sameDialect } from '../engines/registry.js';
import type { ComparableForm } from '../core/comparable.js';
import type { Column, TableSchema } from '../core/schema.js';
import type { Row, Value } from '../core/values.js';
import { keyString } from '../core/values.js';
import { columnRule, familyOf, type ColumnRule, type Family, type NormaliseOptions } from './normalise.js';

/**
 * How a table is compared:
 *
 * - `range`: each chunk is the same key range `(after, upTo]` read on both sides. Exact only when
 *   both engines order the key alike, so that a range selects the same rows on both: every key
 *   column is a number, boolean, bit string, date, time or byte string (ordered by value, or byte
 *   by byte, in every engine), or a character column on the same engine with the same collation
 *   on both sides (MySQL → MySQL as tributary creates it).
 * - `keys`: otherwise (a character key across engines, where MySQL's collations and PostgreSQL's
 *   differ on case, accents, trailing spaces and punctuation; or under collations that differ or
 *   cannot be told equal). The source's chunk is read by range and the target's rows by the
 *   source chunk's keys; rows only the target has are then found by one pass over the target's
 *   keys, looked up on the source, once the target's row count says there may be any.
 * - `multiset`: a table without a primary key. Both sides are read whole (streamed) and compared
 *   as multisets of rows: count and sum of row hashes, per hash bucket.
 */
export type Mode = 'range' | 'keys' | 'multiset';

export interface TablePlan {
  /** The source's schema: rows of both sides are aligned with its columns. */
  readonly table: TableSchema;
  /** The target's own definition of the table (Target.describe). */
  readonly onTarget: TableSchema;
  /** One rule per column of `table`. */
  readonly rules: readonly ColumnRule[];
  /** True when every rule is exact: rows hash as they are read. */
  readonly exact: boolean;
  /**
   * Each column's comparable form (ColumnRule.form), when every column has one: both servers can
   * then digest a chunk in those forms (checksum/chunk.ts digestApplies).
   */
  readonly forms?: readonly ComparableForm[];
  readonly mode: Mode;
  /** Why this mode, for logs and reports. */
  readonly reason: string;
}

const ORDERED: ReadonlySet<Family> = new Set(['int', 'decimal', 'float', 'bool', 'bits', 'date', 'datetime', 'instant', 'time', 'interval', 'bytes']);
const NUMERIC: ReadonlySet<Family> = new Set(['int', 'decimal', 'bool', 'bits']);

/** Whether ranges over this key column select the same rows on both sides (see Mode). */
function orderedAlike(sc: Column, sEngine: string, tc: Column, tEngine: string): boolean {
  const a = familyOf(sc);
  const b = familyOf(tc);
  if (ORDERED.has(a) && ORDERED.has(b)) {
    if (a === b) return true;
    if (NUMERIC.has(a) && NUMERIC.has(b)) return true;
    const pair = new Set([a, b]);
    return (pair.has('instant') && pair.has('datetime')) || (pair.has('time') && pair.has('interval'));
  }
  // Character keys: the same engine and the same named collation on both sides.
  return sameDialect(sEngine, tEngine) && sc.collation !== undefined && sc.collation === tc.collation;
}

/** NormaliseOptions, and whether the target's key ranges select what the source's do (TargetCapabilities.keyRanges; default true). */
export interface PlanOptions extends NormaliseOptions {
  readonly keyRanges?: boolean;
}

/**
 * The plan for one table, from the source's schema and the target's own definition (columns
 * matched by name; the caller checks they all exist, see core/aligned.ts).
 */
export function planTable(table: TableSchema, onTarget: TableSchema, opts: PlanOptions): TablePlan {
  const byName = new Map(onTarget.columns.map((c) => [c.name, c]));
  const rules = table.columns.map((c) => {
    const tc = byName.get(c.name) ?? c;
    return columnRule({ column: c, engine: table.engine }, { column: tc, engine: onTarget.engine }, opts);
  });
  const exact = rules.every((r) => r.name === 'exact');
  // What every mode's plan holds; the mode and its reason follow.
  const base = { table, onTarget, rules, exact, ...(rules.every((r) => r.form !== undefined) ? { forms: rules.map((r) => r.form as ComparableForm) } : {}) };
  if (table.primaryKey.length === 0) return { ...base, mode: 'multiset', reason: 'no primary key: compared as a multiset of rows' };
  if (opts.keyRanges === false) {
    return { ...base, mode: 'keys', reason: "the target orders keys by the bytes of their text, not as the source does: target rows are read by the source's keys" };
  }
  const unordered = table.primaryKey
    .map((i) => table.columns[i] as Column)
    .filter((c) => !orderedAlike(c, table.engine, byName.get(c.name) ?? c, onTarget.engine))
    .map((c) => c.name);
  if (unordered.length) {
    return {
      ...base,
      mode: 'keys',
      reason: `key column${unordered.length > 1 ? 's' : ''} ${unordered.join(', ')} may sort differently on the target (${table.engine} → ${onTarget.engine}, collation): target rows are read by the source's keys`,
    };
  }
  return { ...base, mode: 'range', reason: 'key ranges select the same rows on both sides' };
}

/** A row's comparable values on the source side. */
export function normaliseSource(plan: TablePlan, row: Row): Value[] {
  return plan.exact ? row : row.map((v, i) => (plan.rules[i] as ColumnRule).source(v));
}

/** As normaliseSource, into `into` (reused between rows: no allocation per row). */
export function normaliseSourceInto(plan: TablePlan, row: readonly Value[], into: Value[]): readonly Value[] {
  if (plan.exact) return row;
  for (let i = 0; i < row.length; i++) into[i] = (plan.rules[i] as ColumnRule).source(row[i] ?? null);
  into.length = row.length;
  return into;
}

/** As normaliseTarget, into `into`. */
export function normaliseTargetInto(plan: TablePlan, row: readonly Value[], into: Value[]): readonly Value[] {
  if (plan.exact) return row;
  for (let i = 0; i < row.length; i++) into[i] = (plan.rules[i] as ColumnRule).target(row[i] ?? null);
  into.length = row.length;
  return into;
}

/** A row's comparable values on the target side. */
export function normaliseTarget(plan: TablePlan, row: Row): Value[] {
  return plan.exact ? row : row.map((v, i) => (plan.rules[i] as ColumnRule).target(v));
}

/** The comparable key of a row of comparable values. */
export function keyOf(plan: TablePlan, norm: readonly Value[]): Value[] {
  return plan.table.primaryKey.map((i) => norm[i] ?? null);
}

/** A stable identity for a comparable key, for matching rows of both sides. */
export function keyId(key: readonly Value[]): string {
  return keyString(key);
}

/** A comparable key back to key values the source reads (and the target's write path renders). */
export function sourceKey(plan: TablePlan, key: readonly Value[]): Value[] {
  return plan.table.primaryKey.map((ci, j) => (plan.rules[ci] as ColumnRule).toSource(key[j] ?? null));
}
