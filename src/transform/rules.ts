import { ErrorCode, TributaryError } from '../core/errors.js';
import { qualify, splitName } from '../core/names.js';
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
  /** Source table name → target table name (either may be `db.table` in a sync of several databases). */
  readonly tableRewrites: Readonly<Record<string, string>>;
  /** Source database (schema) → target database (schema), in a sync of several (absent: none). */
  readonly databaseRewrites?: Readonly<Record<string, string>>;
  /** --databases: a sync of several databases, whose rules may name `db.table` (absent or empty: one database). */
  readonly databases?: readonly string[];
  /** 'table.column' entries (source names; 'db.table.column' in a sync of several databases). */
  readonly excludeColumns: readonly string[];
  /** 'TABLE: EXPR' entries (source table names). */
  readonly where: readonly string[];
  /** --column-types: 'table.column' (source names; 'db.table.column' in a sync of several databases) → target type. */
  readonly columnTypes?: Readonly<Record<string, string>>;
}

/** A table's row filter before it is bound to the table's columns: the expression's text, or a caller's predicate pair. */
export type FilterSource = { readonly kind: 'expression'; readonly text: string } | { readonly kind: 'predicate'; readonly pair: PredicatePair };

/** The predicate pair as a bound RowFilter (core/row-filter.ts): it needs no binding. */
export function predicateFilter(pair: PredicatePair): RowFilter {
  return { kind: 'predicate', sql: pair.sql, matches: pair.matches };
}

const NAME = /^[^\s.=,:]+$/;
/** A table as a rule names it: `table`, or `db.table` (a sync of several databases). */
const TABLE = /^[^\s.=,:]+(\.[^\s.=,:]+)?$/;

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
  private readonly databases: ReadonlyMap<string, string>;
  private readonly databasesInverse: ReadonlyMap<string, string>;
  /** Target name → source name, of every name targetName gave (names are computed, not all listed). */
  private readonly inverse = new Map<string, string>();
  private readonly excluded: ReadonlyMap<string, readonly string[]>;
  private readonly filters: ReadonlyMap<string, FilterSource>;

  private targetTypes: Readonly<Record<string, string>> = {};

  private constructor(rewrites: Map<string, string>, excluded: Map<string, string[]>, filters: Map<string, FilterSource>, databases: Map<string, string> = new Map()) {
    this.rewrites = rewrites;
    this.databases = databases;
    this.databasesInverse = new Map([...databases].map(([s, t]) => [t, s]));
    for (const [s, t] of rewrites) if (s.includes('.') || !t.includes('.')) this.inverse.set(t, s);
    this.excluded = excluded;
    this.filters = filters;
    this.identity = rewrites.size === 0 && excluded.size === 0 && filters.size === 0 && databases.size === 0;
  }

  /** No rules. */
  static readonly NONE = new TransformRules(new Map(), new Map(), new Map());

  /**
   * The rules a configuration asks for, plus a library caller's predicate pairs by source table.
   * Refuses (CONFIG_INVALID, naming the entry and the fix) a malformed entry, a table rewritten
   * twice or two tables rewritten onto one name, a column excluded twice, a table with two filters.
   */
  static fromConfig(config: TransformConfig, predicates: Readonly<Record<string, PredicatePair>> = {}): TransformRules {
    const databases = new Map<string, string>();
    for (const [from, to] of Object.entries(config.databaseRewrites ?? {})) {
      if (!NAME.test(from) || !NAME.test(to)) {
        throw invalid(`--database-rewrites entry '${from}=${to}' is not source=target with two database names (no spaces, dots, commas, colons or '='); give e.g. --database-rewrites shop=shop_copy`);
      }
      if (from === to) continue;
      const other = [...databases].find(([, t]) => t === to);
      if (other) throw invalid(`--database-rewrites maps both '${other[0]}' and '${from}' onto target database '${to}'; give each source database its own target database`);
      databases.set(from, to);
    }
    // In a sync of one database a rule names bare tables: a `db.table` would write another database.
    const several = (config.databases?.length ?? 0) > 0;
    const bare = (what: string, table: string) => {
      if (!several && table.includes('.')) throw invalid(`${what} names '${table}': a table as db.table is for a sync of several databases (--databases); name the table alone, or add --databases`);
    };
    const rewrites = new Map<string, string>();
    for (const [from, to] of Object.entries(config.tableRewrites)) {
      bare(`--table-rewrites ${from}=${to}`, from);
      bare(`--table-rewrites ${from}=${to}`, to);
      if (!TABLE.test(from) || !TABLE.test(to)) {
        throw invalid(`--table-rewrites entry '${from}=${to}' is not source=target with two table names (table or db.table; no spaces, commas, colons or '='); give e.g. --table-rewrites orders=orders_archive`);
      }
      if (from === to) continue;
      const other = [...rewrites].find(([, t]) => t === to);
      if (other) throw invalid(`--table-rewrites maps both '${other[0]}' and '${from}' onto target table '${to}'; one target table can hold one source table: give each its own name`);
      rewrites.set(from, to);
    }
    const excluded = new Map<string, string[]>();
    for (const entry of config.excludeColumns) {
      const m = /^((?:[^.\s]+\.)?[^.\s]+)\.([^.\s]+)$/.exec(entry.trim());
      if (!m) throw invalid(`--exclude-columns entry '${entry}' is not table.column (or db.table.column); give e.g. --exclude-columns users.password_hash`);
      const [, table, column] = m as unknown as [string, string, string];
      bare(`--exclude-columns ${entry}`, table);
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
      bare(`--where '${entry}'`, table);
      if (!TABLE.test(table) || text === '') {
        throw invalid(`--where '${entry}' is not 'TABLE: EXPRESSION'; give e.g. --where 'orders: tenant_id = 42'`);
      }
      if (filters.has(table)) throw invalid(`--where gives table ${table} two filters; give one, joining the conditions with AND or OR`);
      filters.set(table, { kind: 'expression', text });
    }
    for (const [table, pair] of Object.entries(predicates)) {
      if (filters.has(table)) throw invalid(`table ${table} has both a --where filter and a predicate pair; give one`);
      filters.set(table, { kind: 'predicate', pair });
    }
    const types: [table: string, column: string, type: string][] = [];
    for (const [key, type] of Object.entries(config.columnTypes ?? {})) {
      const m = /^((?:[^.\s]+\.)?[^.\s]+)\.([^.\s]+)$/.exec(key.trim());
      if (!m) throw invalid(`--column-types entry '${key}=${type}' is not table.column=TYPE (or db.table.column=TYPE); give e.g. --column-types items.price=DECIMAL(65,30)`);
      const [, table, column] = m as unknown as [string, string, string];
      bare(`--column-types ${key}`, table);
      types.push([table, column, type]);
    }
    const rules = new TransformRules(rewrites, excluded, filters, databases);
    // The targets read overrides by the names they hold tables under (core/column-types.ts): a bare
    // table keeps applying in every database under its rewritten bare name.
    rules.targetTypes = Object.fromEntries(types.map(([table, column, type]) => [`${rules.targetName(table)}.${column}`, type]));
    return rules;
  }

  /**
   * --column-types keyed by the names the target holds the tables under (`table.column`,
   * `db.table.column`, or a bare `table.column` for that table in every database): what the
   * session gives the target (core/column-types.ts reads it).
   */
  columnTypesOnTarget(): Readonly<Record<string, string>> {
    return this.targetTypes;
  }

  /**
   * A rule keyed by source table: the entry for its exact name, else, for a qualified name
   * (`db.table`), the entry for its bare table name, which applies in every synced database.
   */
  private keyed<T>(map: ReadonlyMap<string, T>, source: string): T | undefined {
    const exact = map.get(source);
    if (exact !== undefined) return exact;
    const { namespace, table } = splitName(source);
    return namespace === undefined ? undefined : map.get(table);
  }

  /** The name the target holds source table `source` under (its database rewritten too, --database-rewrites). */
  targetName(source: string): string {
    const { namespace, table } = splitName(source);
    const rewritten = this.keyed(this.rewrites, source);
    let out: string;
    if (namespace === undefined) out = rewritten ?? source;
    else if (rewritten?.includes('.')) out = rewritten;
    else out = qualify(this.targetNamespace(namespace), rewritten ?? table);
    this.inverse.set(out, source);
    return out;
  }

  /** The source table written under target name `target` (inverse of targetName on synced tables). */
  sourceName(target: string): string {
    const known = this.inverse.get(target);
    if (known !== undefined) return known;
    const { namespace, table } = splitName(target);
    return namespace === undefined ? target : qualify(this.sourceNamespace(namespace), table);
  }

  /** The target database (schema) of source database `namespace` (--database-rewrites). */
  targetNamespace(namespace: string): string {
    return this.databases.get(namespace) ?? namespace;
  }

  /** The source database (schema) written as target database `namespace`. */
  sourceNamespace(namespace: string): string {
    return this.databasesInverse.get(namespace) ?? namespace;
  }

  /** Whether `source` is written under another name. */
  renames(source: string): boolean {
    return this.targetName(source) !== source;
  }

  /** The columns of source table `source` left out of the target (as configured: the source's spelling is resolved by view.ts). */
  excludedColumns(source: string): readonly string[] {
    return this.keyed(this.excluded, source) ?? [];
  }

  /** The row filter of source table `source`, unbound; undefined when it has none. */
  filterOf(source: string): FilterSource | undefined {
    return this.keyed(this.filters, source);
  }

  /** Whether any table has a row filter. */
  get hasFilters(): boolean {
    return this.filters.size > 0;
  }

  /**
   * Refuses, before anything is written (CONFIG_INVALID naming the entry and the fix), rules that
   * name a table the sync does not take (a typo would otherwise copy what it meant to rename,
   * filter or trim) and a rewrite onto the name of another synced table that keeps its own.
   * `selected`: the source tables the sync takes; `all`: every table of the source database;
   * `namespaces`: in a sync of several databases, every one it takes (tables or not).
   */
  checkSelection(selected: readonly string[], all: readonly string[], namespaces: readonly string[] = []): void {
    // A rule's table is a source table's exact name, or the bare name of tables of several databases.
    const names = (list: readonly string[]) => new Set(list.flatMap((n) => (n.includes('.') ? [n, splitName(n).table] : [n])));
    const taken = names(selected);
    const exists = names(all);
    const notSynced = (what: string, table: string): TributaryError =>
      invalid(
        `${what} names table '${table}', which ${exists.has(table) ? 'the sync does not take (see --tables)' : 'the source database does not have'}; fix the name${exists.has(table) ? ' or add it to --tables' : ''}, or drop the entry`,
      );
    for (const [from, to] of this.rewrites) if (!taken.has(from)) throw notSynced(`--table-rewrites ${from}=${to}`, from);
    const sourceDatabases = new Set([...namespaces, ...all.flatMap((n) => splitName(n).namespace ?? [])]);
    for (const [from, to] of this.databases) {
      if (!sourceDatabases.has(from)) throw invalid(`--database-rewrites ${from}=${to} names database '${from}', which the sync does not take (see --databases); fix the name, or drop the entry`);
      // Onto a synced database that keeps its name, two source databases would share one target.
      if (sourceDatabases.has(to) && !this.databases.has(to)) {
        throw invalid(`--database-rewrites ${from}=${to} writes database ${from} into '${to}', a synced database that keeps its own name: two source databases cannot share one target database. Rewrite '${to}' too, or pick another name`);
      }
    }
    // Two source tables may not end under one target name, however the rules combine.
    const byTarget = new Map<string, string>();
    for (const source of selected) {
      const target = this.targetName(source);
      const other = byTarget.get(target);
      if (other !== undefined) {
        const [moved, kept] = this.targetName(other) === other ? [source, other] : this.targetName(source) === source ? [other, source] : [undefined, undefined];
        if (moved !== undefined && kept !== undefined) {
          throw invalid(`${this.databases.size ? '--table-rewrites or --database-rewrites write' : '--table-rewrites writes'} ${moved} under the name of synced table '${kept}', which keeps its own name: two source tables cannot share one target table. Rewrite '${kept}' too, or pick another name`);
        }
        throw invalid(`source tables ${other} and ${source} would both be written as target table ${target} (--table-rewrites${this.databases.size ? ', --database-rewrites' : ''}): two source tables cannot share one target table; give one of them another name`);
      }
      byTarget.set(target, source);
    }
    for (const table of this.excluded.keys()) if (!taken.has(table)) throw notSynced(`--exclude-columns ${table}.${this.excluded.get(table)?.[0] ?? ''}`, table);
    for (const [table, f] of this.filters) if (!taken.has(table)) throw notSynced(f.kind === 'expression' ? `--where '${table}: ${f.text}'` : `the predicate pair of table ${table}`, table);
  }

  /** The rules as lines for --dry-run and check: each rewrite, exclusion and filter. */
  describe(): string[] {
    const out: string[] = [];
    for (const [from, to] of this.databases) out.push(`database ${from} → ${to}`);
    for (const [from, to] of this.rewrites) out.push(`${from} → ${to}`);
    for (const [table, cols] of this.excluded) out.push(`${table}: without ${cols.join(', ')}`);
    for (const [table, f] of this.filters) out.push(`${table}: rows where ${f.kind === 'expression' ? f.text : `${f.pair.sql} (predicate pair)`}`);
    return out;
  }
}
