import type { StreamEvent } from '../core/change.js';
import type { StreamRequest } from '../core/change-log.js';
import type { ComparableForm } from '../core/comparable.js';
import type { TableSchema } from '../core/schema.js';
import type { ChangeSource, ChunkDigest, ColumnValueStats, EncodedChunk, KeyRange } from '../core/source.js';
import type { CopyOrder } from '../core/snapshot.js';
import type { Row, Value } from '../core/values.js';
import { ErrorCode, TributaryError } from '../core/errors.js';
import { filterBinder } from './binder.js';
import { transformChange } from './changes.js';
import { transformDdl } from './ddl.js';
import { TransformRules } from './rules.js';
import { tableView, type FilterBinder, type TableView } from './view.js';

export { TransformRules } from './rules.js';
export type { PredicatePair, TransformConfig } from './rules.js';

/**
 * The source as its consumers see it under `rules`: the one place where table rewrites, excluded
 * columns and row filters are applied, for every consumer alike (the copier, the applier, the
 * checksum, verify, move and every target, etcd included), since each reads the source only through
 * what this returns. With no rules it is the source itself, not a wrapper: the identity costs
 * nothing per row.
 *
 * Under rules the consumers see each table under its target name, without its excluded columns
 * (transform/view.ts), and:
 * - snapshot reads (copy, checksum, verify, repair) are the source's reads of those columns, with
 *   the table's row filter handed to the source as `TableSchema.rowFilter`, rendered in its SQL,
 *   encoded fast paths included;
 * - the stream decodes with the source's own definitions (`transformedFrom`) and its changes are
 *   renamed, trimmed and judged by the filter on their row images (transform/changes.ts): an UPDATE
 *   that takes a row out of the filter deletes it, one that brings it in writes it whole;
 * - schema changes are renamed and trimmed (transform/ddl.ts); one the rules cannot follow (a
 *   filter's column dropped, an excluded column renamed) stops the sync naming why.
 */
export function transformSource(source: ChangeSource, rules: TransformRules, binder: FilterBinder = filterBinder): ChangeSource {
  return rules.identity ? source : new TransformedSource(source, rules, binder);
}

class TransformedSource implements ChangeSource {
  readonly engine: string;
  readonly capabilities: ChangeSource['capabilities'];
  /** The view of each definition consumers hold, by that definition (views are made once per definition). */
  private readonly views = new WeakMap<TableSchema, TableView>();

  constructor(
    private readonly inner: ChangeSource,
    private readonly rules: TransformRules,
    private readonly binder: FilterBinder,
  ) {
    this.engine = inner.engine;
    this.capabilities = inner.capabilities;
    if (rules.hasFilters && !inner.capabilities.rowFilters) {
      throw new TributaryError(ErrorCode.CONFIG_INVALID, `this ${inner.engine} source cannot filter rows (capabilities.rowFilters is false): drop --where`);
    }
  }

  /** The TableView of a definition a consumer holds (from describe, a stream event or a checkpoint). */
  private viewOf(table: TableSchema): TableView {
    let v = this.views.get(table);
    if (!v) {
      // A view carries its source definition; a definition without one is the source's own.
      v = tableView(table.transformedFrom ?? table, this.rules, this.binder, false);
      this.views.set(table, v);
      this.views.set(v.view, v);
    }
    return v;
  }

  private remember(v: TableView): TableSchema {
    this.views.set(v.view, v);
    return v.view;
  }

  connect(): Promise<void> {
    return this.inner.connect();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
  preflight(): Promise<void> {
    return this.inner.preflight();
  }
  check(): ReturnType<ChangeSource['check']> {
    return this.inner.check();
  }
  identity(): ReturnType<ChangeSource['identity']> {
    return this.inner.identity();
  }
  databaseDefaults(namespace?: string): ReturnType<ChangeSource['databaseDefaults']> {
    return this.inner.databaseDefaults(namespace === undefined ? undefined : this.rules.sourceNamespace(namespace));
  }

  /** The source's tables under their target names. */
  /** The source's own names: a namespace is rewritten by TransformRules.targetNamespace. */
  listNamespaces(): Promise<string[]> {
    return this.inner.listNamespaces();
  }

  async listTables(): Promise<string[]> {
    return (await this.inner.listTables()).map((t) => this.rules.targetName(t));
  }

  /** The view of the source table written under `name`; refuses (CONFIG_INVALID) rules its columns do not allow. */
  async describe(name: string): Promise<TableSchema> {
    const full = await this.inner.describe(this.rules.sourceName(name));
    return this.remember(tableView(full, this.rules, this.binder, true));
  }

  async valueStats(table: TableSchema): Promise<ColumnValueStats[]> {
    const v = this.viewOf(table);
    const { rowFilter: _f, ...read } = v.read;
    return (await this.inner.valueStats(read)).map((s) => ({ ...s, table: v.view.name }));
  }

  stopWrites(): ReturnType<ChangeSource['stopWrites']> {
    return this.inner.stopWrites();
  }

  tableStats(table: string): Promise<{ rows: number; avgRowBytes: number }> {
    return this.inner.tableStats(this.rules.sourceName(table));
  }
  chunkBoundary(table: TableSchema, from: Value[] | null, size: number, order?: CopyOrder): Promise<Value[] | null> {
    return this.inner.chunkBoundary(this.viewOf(table).boundary, from, size, order);
  }
  readChunk(table: TableSchema, range: KeyRange): Promise<Row[]> {
    return this.inner.readChunk(this.viewOf(table).read, range);
  }
  readRowsByKeys(table: TableSchema, keys: readonly (readonly Value[])[]): Promise<Row[]> {
    return this.inner.readRowsByKeys(this.viewOf(table).read, keys);
  }
  scanRows(table: TableSchema, onRows: (rows: Row[]) => void | Promise<void>): Promise<void> {
    return this.inner.scanRows(this.viewOf(table).read, onRows);
  }
  chunkDigest(table: TableSchema, range: KeyRange, forms?: readonly ComparableForm[]): Promise<ChunkDigest | undefined> {
    return this.inner.chunkDigest(this.viewOf(table).read, range, forms);
  }
  readChunkEncoded(table: TableSchema, range: KeyRange, format: string): Promise<EncodedChunk | undefined> {
    return this.inner.readChunkEncoded(this.viewOf(table).read, range, format);
  }
  releaseSnapshot(): Promise<void> {
    return this.inner.releaseSnapshot();
  }

  currentPosition(opts?: { readonly wholeTables?: readonly string[] }): Promise<string> {
    if (!opts?.wholeTables) return this.inner.currentPosition(opts);
    return this.inner.currentPosition({ ...opts, wholeTables: opts.wholeTables.map((t) => this.rules.sourceName(t)) });
  }
  headPosition(): Promise<string> {
    return this.inner.headPosition();
  }
  retainedBytes(): Promise<number | undefined> {
    return this.inner.retainedBytes();
  }
  checkPosition(position: string, opts?: { readonly readOnly?: boolean; readonly otherServer?: string }): Promise<void> {
    return this.inner.checkPosition(position, opts);
  }
  prepareStream(): void {
    this.inner.prepareStream();
  }
  acknowledge(position: string): Promise<void> {
    return this.inner.acknowledge(position);
  }
  comparePositions(a: string, b: string): number {
    return this.inner.comparePositions(a, b);
  }
  describePosition(position: string): string {
    return this.inner.describePosition(position);
  }

  /**
   * The source's stream, decoded with the source's own definitions of `tables` (consumers' views),
   * its events renamed, trimmed and filtered. Refuses (CONFIG_INVALID) a view the rules would not
   * make of its source definition now: the definitions were stored under other rewrites or
   * exclusions than this run's, and the target's tables were made under those. With row filters,
   * every old image is asked for whole: transformChange judges old rows by them.
   */
  async *stream(from: string, tables: readonly TableSchema[], signal: AbortSignal, request?: StreamRequest): AsyncIterable<readonly StreamEvent[]> {
    const current = new Map<string, TableView>();
    for (const t of tables) {
      const v = this.viewOf(t);
      const names = (d: TableSchema) => d.columns.map((c) => c.name).join(', ');
      if (v.view.name !== t.name || names(v.view) !== names(t)) {
        throw new TributaryError(
          ErrorCode.CONFIG_INVALID,
          `table ${t.name} was synced under other --table-rewrites or --exclude-columns than this run's: the source's ${v.full.name} now maps to ${v.view.name} (${names(v.view)}), the target's stored definition is ${t.name} (${names(t)}); run with the rules the sync started with, or start over with --force`,
        );
      }
      current.set(v.full.name, v);
    }
    const fulls = [...current.values()].map((v) => v.full);
    // The rules read and rewrite rows' values: never documents.
    const inner: StreamRequest = { ...request, documents: false, ...(this.rules.hasFilters ? { oldImages: 'whole' } : {}) };
    for await (const evs of this.inner.stream(from, fulls, signal, inner)) {
      const out: StreamEvent[] = [];
      for (const ev of evs) {
        const t = this.transformEvent(ev, current);
        if (t) out.push(t);
      }
      if (out.length) yield out;
    }
  }

  /** One event of the source's stream as consumers see it (undefined: filtered out). */
  private transformEvent(ev: StreamEvent, current: Map<string, TableView>): StreamEvent | undefined {
    switch (ev.type) {
      case 'change': {
        const v = current.get(ev.change.table);
        return v ? (transformChange(v, ev) ?? undefined) : ev;
      }
      case 'truncate':
        return { ...ev, table: this.rules.targetName(ev.table) };
      case 'ddl': {
        const out = transformDdl(ev, current, this.rules, this.binder, (p) => this.inner.describePosition(p));
        for (const v of current.values()) this.remember(v);
        return out;
      }
      default:
        return ev;
    }
  }
}
