import { ErrorCode, TributaryError } from '../core/errors.js';
import type { RowFilter } from '../core/row-filter.js';
import type { Value } from '../core/values.js';

/**
 * A library caller's row filter for one table (as Ghostferry's CopyFilter): `sql`, a boolean SQL
 * expression in the source's dialect that the source's reads AND into their WHERE, and `matches`,
 * the same predicate over a row image (column name → canonical value) that the stream's changes
 * are judged by. The caller answers for their agreement.
 */
export interface PredicatePair {
  readonly sql: string;
  readonly matches: (row: Readonly<Record<string, Value>>) => boolean;
}

/** The configuration keys the transform stage reads (config/schema.ts). */
export interface TransformConfig {
  /** Source table name → target table name. */
  readonly tableRewrites: Readonly<Record<string, string>>;
  /** 'table.column' entries (source names). */
  readonly excludeColumns: readonly string[];
  /** 'TABLE: EXPR' entries (source table names). */
  readonly where: readonly string[];
}

/** A table's row filter before it is bound to the table's columns: the expression's text, or a caller's predicate pair. */
export type FilterSource = { readonly kind: 'expression'; readonly text: string } | { readonly kind: 'predicate'; readonly pair: PredicatePair };

/** The predicate pair as a bound RowFilter (core/row-filter.ts): it needs no binding. */
export function predicateFilter(pair: PredicatePair): RowFilter {
  return { kind: 'predicate', sql: pair.sql, matches: pair.matches };
}

const NAME = /^[^\s.=,:]+$/;

function invalid(message: string): TributaryError {
  return new TributaryError(ErrorCode.CONFIG_INVALID, message);
}

/**
 * What the transform stage does to a sync's tables, by the source's table names: the target name
 * each table is written under, the columns left out, the row filter. Built once from the
 * configuration (`fromConfig`, which refuses malformed entries), then checked against the source's
 * tables (`checkSelection`) before anything is written. Immutable.
 *
 * Names: rewrites and exclusions name source tables exactly as the source spells them; a rewrite's
 * target name is used as given. `targetName` and `sourceName` are inverse on the synced tables,
 * since no two source tables may map to one target name (checkSelection refuses it).
 */
export class TransformRules {
  /** No rewrite, exclusion or filter: the source is handed on as it is (transform.ts). */
  readonly identity: boolean;
  private readonly rewrites: ReadonlyMap<string, string>;
  private readonly inverse: ReadonlyMap<string, string>;
  private readonly excluded: ReadonlyMap<string, readonly string[]>;
  private readonly filters: ReadonlyMap<string, FilterSource>;

  private constructor(rewrites: Map<string, string>, excluded: Map<string, string[]>, filters: Map<string, FilterSource>) {
    this.rewrites = rewrites;
    this.inverse = new Map([...rewrites].map(([s, t]) => [t, s]));
    this.excluded = excluded;
    this.filters = filters;
    this.identity = rewrites.size === 0 && excluded.size === 0 && filters.size === 0;
  }

  /** No rules. */
  static readonly NONE = new TransformRules(new Map(), new Map(), new Map());

  /**
   * The rules a configuration asks for, plus a library caller's predicate pairs by source table.
   * Refuses (CONFIG_INVALID, naming the entry and the fix) a malformed entry, a table rewritten
   * twice or two tables rewritten onto one name, a column excluded twice, a table with two filters.
   */
  static fromConfig(config: TransformConfig, predicates: Readonly<Record<string, PredicatePair>> = {}): TransformRules {
    const rewrites = new Map<string, string>();
    for (const [from, to] of Object.entries(config.tableRewrites)) {
      if (!NAME.test(from) || !NAME.test(to)) {
        throw invalid(`--table-rewrites entry '${from}=${to}' is not source=target with two table names (no spaces, dots, commas, colons or '='); give e.g. --table-rewrites orders=orders_archive`);
      }
      if (from === to) continue;
      const other = [...rewrites].find(([, t]) => t === to);
      if (other) throw invalid(`--table-rewrites maps both '${other[0]}' and '${from}' onto target table '${to}'; one target table can hold one source table: give each its own name`);
      rewrites.set(from, to);
    }
    const excluded = new Map<string, string[]>();
    for (const entry of config.excludeColumns) {
      const m = /^([^.\s]+)\.([^.\s]+)$/.exec(entry.trim());
      if (!m) throw invalid(`--exclude-columns entry '${entry}' is not table.column; give e.g. --exclude-columns users.password_hash`);
      const [, table, column] = m as unknown as [string, string, string];
      const list = excluded.get(table) ?? [];
      if (list.includes(column)) throw invalid(`--exclude-columns names ${table}.${column} twice; give it once`);
      list.push(column);
      excluded.set(table, list);
    }
    const filters = new Map<string, FilterSource>();
    for (const entry of config.where) {
      const colon = entry.indexOf(':');
      const table = colon > 0 ? entry.slice(0, colon).trim() : '';
      const text = colon > 0 ? entry.slice(colon + 1).trim() : '';
      if (!NAME.test(table) || text === '') {
        throw invalid(`--where '${entry}' is not 'TABLE: EXPRESSION'; give e.g. --where 'orders: tenant_id = 42'`);
      }
      if (filters.has(table)) throw invalid(`--where gives table ${table} two filters; give one, joining the conditions with AND or OR`);
      filters.set(table, { kind: 'expression', text });
    }
    for (const [table, pair] of Object.entries(predicates)) {
      if (filters.has(table)) throw invalid(`table ${table} has both a --where filter and a predicate pair; give one`);
      filters.set(table, { kind: 'predicate', pair });
    }
    return new TransformRules(rewrites, excluded, filters);
  }

  /** The name the target holds source table `source` under. */
  targetName(source: string): string {
    return this.rewrites.get(source) ?? source;
  }

  /** The source table written under target name `target` (inverse of targetName on synced tables). */
  sourceName(target: string): string {
    return this.inverse.get(target) ?? target;
  }

  /** Whether `source` is written under another name. */
  renames(source: string): boolean {
    return this.rewrites.has(source);
  }

  /** The columns of source table `source` left out of the target (as configured: the source's spelling is resolved by view.ts). */
  excludedColumns(source: string): readonly string[] {
    return this.excluded.get(source) ?? [];
  }

  /** The row filter of source table `source`, unbound; undefined when it has none. */
  filterOf(source: string): FilterSource | undefined {
    return this.filters.get(source);
  }

  /** Whether any table has a row filter. */
  get hasFilters(): boolean {
    return this.filters.size > 0;
  }

  /**
   * Refuses, before anything is written (CONFIG_INVALID naming the entry and the fix), rules that
   * name a table the sync does not take (a typo would otherwise copy what it meant to rename,
   * filter or trim) and a rewrite onto the name of another synced table that keeps its own.
   * `selected`: the source tables the sync takes; `all`: every table of the source database.
   */
  checkSelection(selected: readonly string[], all: readonly string[]): void {
    const taken = new Set(selected);
    const notSynced = (what: string, table: string): TributaryError =>
      invalid(
        `${what} names table '${table}', which ${all.includes(table) ? 'the sync does not take (see --tables)' : 'the source database does not have'}; fix the name${all.includes(table) ? ' or add it to --tables' : ''}, or drop the entry`,
      );
    for (const [from, to] of this.rewrites) {
      if (!taken.has(from)) throw notSynced(`--table-rewrites ${from}=${to}`, from);
      if (taken.has(to) && !this.rewrites.has(to)) {
        throw invalid(`--table-rewrites ${from}=${to} writes ${from} under the name of synced table '${to}', which keeps its own name: two source tables cannot share one target table. Rewrite '${to}' too, or pick another name`);
      }
    }
    for (const table of this.excluded.keys()) if (!taken.has(table)) throw notSynced(`--exclude-columns ${table}.${this.excluded.get(table)?.[0] ?? ''}`, table);
    for (const [table, f] of this.filters) if (!taken.has(table)) throw notSynced(f.kind === 'expression' ? `--where '${table}: ${f.text}'` : `the predicate pair of table ${table}`, table);
  }

  /** The rules as lines for --dry-run and check: each rewrite, exclusion and filter. */
  describe(): string[] {
    const out: string[] = [];
    for (const [from, to] of this.rewrites) out.push(`${from} → ${to}`);
    for (const [table, cols] of this.excluded) out.push(`${table}: without ${cols.join(', ')}`);
    for (const [table, f] of this.filters) out.push(`${table}: rows where ${f.kind === 'expression' ? f.text : `${f.pair.sql} (predicate pair)`}`);
    return out;
  }
}
