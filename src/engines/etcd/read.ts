import type { Etcd3 } from 'etcd3';
import type { TableSchema } from '../../core/schema.js';
import type { KeyRange } from '../../core/snapshot.js';
import type { Row, Value } from '../../core/values.js';
import type { ValueConventions } from '../engine.js';
import { getMany, scanTable } from './apply.js';
import { prefixEnd, type KeyLayout } from './keys.js';
import { parseRow } from '../../core/json-row.js';

/**
 * Reads etcd's copy of a table back, for checksums (TargetReader): the objects parsed into the
 * source's canonical values (core/json-row.ts), keys in etcd's order (the bytes of the key text).
 */
export class EtcdReadBack {
  private readonly client: Etcd3;
  private readonly layout: KeyLayout;
  private readonly conventions: (engine: string) => ValueConventions;

  constructor(opts: { readonly client: Etcd3; readonly layout: KeyLayout; readonly conventions: (engine: string) => ValueConventions }) {
    this.client = opts.client;
    this.layout = opts.layout;
    this.conventions = opts.conventions;
  }

  async countRows(table: TableSchema): Promise<number> {
    const prefix = Buffer.from(this.layout.tablePrefix(table.name));
    const res = await this.client.kv.range({ key: prefix, range_end: prefixEnd(prefix), count_only: true });
    return Number(res.count);
  }

  /**
   * The rows whose keys lie in `range`, compared as JavaScript compares the canonical values
   * (numbers by value, strings by code point, bytes byte by byte), in etcd's order. The checksum
   * never asks (TargetCapabilities.keyRanges is false): a whole-table read, for library callers.
   */
  async readChunk(table: TableSchema, range: KeyRange): Promise<Row[]> {
    const out: Row[] = [];
    for await (const page of scanTable(this.client, this.layout, table, this.conventions(table.engine))) {
      for (const { row } of page) {
        const key = table.primaryKey.map((i) => row[i] ?? null);
        if (range.after && compareKeys(key, range.after) <= 0) continue;
        if (range.upTo && compareKeys(key, range.upTo) > 0) continue;
        out.push(row);
      }
    }
    return out;
  }

  async readRowsByKeys(table: TableSchema, keys: readonly (readonly Value[])[]): Promise<Row[]> {
    const conv = this.conventions(table.engine);
    const stored = await getMany(this.client, keys.map((k) => this.layout.rowKey(table, k)));
    return [...stored.values()].map((text) => parseRow(table, text, conv));
  }

  async readKeys(table: TableSchema, after: readonly Value[] | null, limit: number): Promise<Value[][]> {
    const prefix = Buffer.from(this.layout.tablePrefix(table.name));
    const from = after ? Buffer.concat([Buffer.from(this.layout.rowKey(table, after)), Buffer.from([0])]) : prefix;
    const res = await this.client.kv.range({ key: from, range_end: prefixEnd(prefix), limit, keys_only: true });
    return res.kvs.map((kv) => this.layout.keyValues(table, kv.key.toString()));
  }

  async scanRows(table: TableSchema, onRows: (rows: Row[]) => void | Promise<void>): Promise<void> {
    for await (const page of scanTable(this.client, this.layout, table, this.conventions(table.engine))) await onRows(page.map((p) => p.row));
  }
}

function compareValue(a: Value, b: Value): number {
  if (a === b) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  if (Buffer.isBuffer(a) && Buffer.isBuffer(b)) return Buffer.compare(a, b);
  if ((typeof a === 'bigint' || typeof a === 'number') && (typeof b === 'bigint' || typeof b === 'number')) return a < b ? -1 : a > b ? 1 : 0;
  const [x, y] = [String(a), String(b)];
  return x < y ? -1 : x > y ? 1 : 0;
}

function compareKeys(a: readonly Value[], b: readonly Value[]): number {
  for (let i = 0; i < a.length; i++) {
    const c = compareValue(a[i] ?? null, b[i] ?? null);
    if (c !== 0) return c;
  }
  return 0;
}
