import { ErrorCode, TributaryError } from '../../core/errors.js';
import type { LogicalType } from '../../core/logical.js';
import type { Column, TableSchema } from '../../core/schema.js';
import type { Value } from '../../core/values.js';
import type { ValueConventions } from '../engine.js';
import { canonicalTimestamp, isoTimestamp, members, parseValue } from '../../core/json-row.js';

/**
 * Where rows live in etcd's one flat key space (docs/etcd.md):
 *
 * - `tributary` (default): `<root>/<table>/<key>`, where `<root>` is '/' and the URL's path, the
 *   table's name and each key part are percent-encoded ('%' as %25, '/' as %2F) and a composite
 *   key's parts are joined by '/'.
 * - `contrail`: `<root>/<resource>/<key>` as Juniper contrail's sync wrote it, the resource being
 *   the table's name with '_' as '-' (virtual_network → virtual-network); one key column.
 *
 * A key part is the key value's text: an integer's digits, a string as it is, a timestamp in its
 * ISO form, a byte string as lowercase hex, a boolean as true/false.
 *
 * tributary's own keys (checkpoint, versioned schemas, lock) live under `<root>/%tributary/<sync id>/`:
 * an encoded table name never starts with '%' followed by a letter other than a hex digit pair, so
 * no table can collide with it.
 */
export type LayoutName = 'tributary' | 'contrail';

/** '%' and '/' percent-encoded: the only two bytes a key part may not hold as they are. */
export function encodePart(s: string): string {
  // Most parts (integers, plain names) hold neither: returned as they are, with no regex run.
  if (!s.includes('%') && !s.includes('/')) return s;
  return s.replace(/%/g, '%25').replace(/\//g, '%2F');
}

export function decodePart(s: string): string {
  if (!s.includes('%')) return s;
  return s.replace(/%2F/gi, '/').replace(/%25/g, '%');
}

export class KeyLayout {
  readonly name: LayoutName;
  /** '/prefix' (or '' for the root of the key space). */
  readonly root: string;
  private readonly conv: (engine: string) => ValueConventions;

  constructor(opts: { readonly prefix: string; readonly layout: LayoutName; readonly conventions: (engine: string) => ValueConventions }) {
    this.name = opts.layout;
    const p = opts.prefix.replace(/^\/+|\/+$/g, '');
    this.root = p ? `/${p}` : '';
    this.conv = opts.conventions;
  }

  /** The segment a table's keys live under. */
  tableSegment(table: string): string {
    return this.name === 'contrail' ? encodePart(table.replace(/_/g, '-')) : encodePart(table);
  }

  /** Every key of the table starts with it: `<root>/<table>/`. */
  tablePrefix(table: string): string {
    // Asked per row written: made once per table.
    let p = this.prefixes.get(table);
    if (p === undefined) this.prefixes.set(table, (p = `${this.root}/${this.tableSegment(table)}/`));
    return p;
  }

  private readonly prefixes = new Map<string, string>();

  /** This sync's reserved keys: `<root>/%tributary/<sync id>/`. */
  meta(syncId: string): string {
    return `${this.root}/%tributary/${syncId}/`;
  }

  /**
   * Why this layout cannot key a table (no key; a composite key under contrail's; another of the
   * synced `tables` whose keys would share its prefix, as contrail's a_b and a-b do), or undefined.
   */
  refusal(table: TableSchema, tables: readonly TableSchema[] = []): string | undefined {
    const twin = tables.find((t) => t.name !== table.name && this.tableSegment(t.name) === this.tableSegment(table.name));
    if (twin) return `its keys would share ${this.tablePrefix(table.name)} with table ${twin.name}'s under --etcd-layout ${this.name}; leave one of them out of --tables, or use --etcd-layout tributary`;
    if (table.primaryKey.length === 0) return 'it has no primary key (nor a unique key of NOT NULL columns), and an etcd key names one row; add a primary key on the source, or leave the table out of --tables';
    if (this.name === 'contrail' && table.primaryKey.length !== 1) return `--etcd-layout contrail keys a row by one column and its key has ${table.primaryKey.length}; use --etcd-layout tributary (the parts joined by '/')`;
    return undefined;
  }

  /** The etcd key of the row whose primary key values are `key`. */
  rowKey(table: TableSchema, key: readonly Value[]): string {
    let out = this.tablePrefix(table.name);
    const conv = this.conv(table.engine);
    for (let i = 0; i < key.length; i++) {
      if (i > 0) out += '/';
      out += encodePart(keyText(table.columns[table.primaryKey[i] as number] as Column, key[i] ?? null, conv));
    }
    return out;
  }

  /** rowKey of a whole row (its primary key's values picked from it). */
  keyOfRow(table: TableSchema, row: readonly Value[]): string {
    let out = this.tablePrefix(table.name);
    const conv = this.conv(table.engine);
    const pk = table.primaryKey;
    for (let i = 0; i < pk.length; i++) {
      if (i > 0) out += '/';
      const ci = pk[i] as number;
      out += encodePart(keyText(table.columns[ci] as Column, row[ci] ?? null, conv));
    }
    return out;
  }

  /** The key of a stored object of `table`: rowKey of the values its key members hold (a schema change that changes the key). */
  objectKey(table: TableSchema, text: string): string {
    const m = members(text);
    const conv = this.conv(table.engine);
    return this.rowKey(
      table,
      table.primaryKey.map((i) => {
        const c = table.columns[i] as Column;
        const raw = m.get(c.name);
        return raw === undefined ? null : parseValue(c, raw, conv);
      }),
    );
  }

  /** The key values of an etcd key of `table` (the inverse of rowKey). */
  keyValues(table: TableSchema, etcdKey: string): Value[] {
    const rest = etcdKey.slice(this.tablePrefix(table.name).length);
    const parts = rest.split('/');
    const conv = this.conv(table.engine);
    return table.primaryKey.map((ci, i) => {
      const column = table.columns[ci] as Column;
      try {
        return keyValue(column, decodePart(parts[i] ?? ''), conv);
      } catch (err) {
        throw new TributaryError(
          ErrorCode.TARGET_WRITE_FAILED,
          `etcd key ${etcdKey} under table ${table.name}'s prefix is not a key of the table (its part '${parts[i] ?? ''}' is not a value of key column ${column.name}, ${column.columnType}): a key written there by something else, or one left from an earlier definition; delete it (etcdctl del '${etcdKey}'), or restart the sync with --force`,
          { cause: err },
        );
      }
    });
  }
}

function keyText(column: Column, v: Value, conv: ValueConventions): string {
  if (v === null) throw new TributaryError(ErrorCode.INTERNAL, `key column ${column.name} is NULL`);
  if (Buffer.isBuffer(v)) return v.toString('hex');
  if (typeof v === 'string') {
    const t = column.logical;
    return t?.kind === 'timestamp' ? isoTimestamp(v, t.zone, conv) : v;
  }
  if (typeof v === 'number' && Object.is(v, -0)) return '-0';
  return String(v);
}

function keyValue(column: Column, text: string, conv: ValueConventions): Value {
  const t = column.logical as LogicalType | undefined;
  switch (t?.kind) {
    case 'integer':
    case 'year':
      return BigInt(text);
    case 'binary':
      return Buffer.from(text, 'hex');
    case 'float':
      return Number(text);
    case 'boolean':
      return text === 'true';
    case 'bit':
      return conv.bits === 'integer' && !t.varying ? BigInt(text) : text;
    case 'timestamp':
      return canonicalTimestamp(text, conv);
    case 'spatial':
      return t.ewkb ? text : Buffer.from(text, 'hex');
    default:
      return text;
  }
}

/** The end of the key range of everything that starts with `prefix` (etcd's range_end). */
export function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if ((end[i] as number) < 0xff) {
      end[i] = (end[i] as number) + 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}
