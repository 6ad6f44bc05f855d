/**
 * The transform stage's pure parts (transform/view.ts, changes.ts, ddl.ts, rules.ts): views of a
 * table under rewrites and exclusions, row changes judged by a filter on their images, schema changes
 * renamed and trimmed. The filter here is a stand-in binder (tenant = 1), so these tests hold
 * whatever the expression language's own tests cover.
 */
import { describe, expect, it } from 'vitest';
import type { StreamEvent } from '../../src/core/change.js';
import type { RowFilter } from '../../src/core/row-filter.js';
import type { Column, TableSchema } from '../../src/core/schema.js';
import type { Row } from '../../src/core/values.js';
import { transformChange } from '../../src/transform/changes.js';
import { transformDdl } from '../../src/transform/ddl.js';
import { TransformRules as Rules } from '../../src/transform/rules.js';
import { transformSource, type TransformRules } from '../../src/transform/transform.js';
import { tableView, type FilterBinder, type TableView } from '../../src/transform/view.js';
import { FakeSource } from '../helpers/fakes.js';

const col = (name: string, nullable = true): Column => ({ name, dataType: 'int', columnType: 'int', nullable, unsigned: false, logical: { kind: 'integer', bytes: 4, signed: true } });

/** orders(id PK, tenant, secret, note), an index on secret, one on tenant, a foreign key on tenant → tenants(id). */
const ORDERS: TableSchema = {
  name: 'orders',
  engine: 'fake',
  generated: [],
  primaryKey: [0],
  columns: [col('id', false), col('tenant'), col('secret'), col('note')],
  uniqueKeys: [[2], [3]],
  indexes: [
    { name: 'k_secret', columns: ['secret'], unique: true },
    { name: 'k_note', columns: ['note'], unique: true },
    { name: 'k_tenant', columns: ['tenant'], unique: false },
  ],
  foreignKeys: [{ name: 'fk_tenant', columns: ['tenant'], referencedTable: 'tenants', referencedColumns: ['id'], onUpdate: 'NO ACTION', onDelete: 'CASCADE' }],
};

/** tenant = 1, on rows aligned with the table's columns. */
const BINDER: FilterBinder = {
  bind: (_s, table) => {
    if (!table.columns.some((c) => c.name === 'tenant')) throw new Error(`table ${table.name} has no column tenant`);
    return { kind: 'compare', column: 'tenant', op: '=', value: 1n };
  },
  compile: (_f: RowFilter, table) => {
    const i = table.columns.findIndex((c) => c.name === 'tenant');
    return (row: Row) => (row[i] === null ? null : row[i] === 1n);
  },
  columns: () => ['tenant'],
};

const rules = (over: Partial<{ tableRewrites: Record<string, string>; excludeColumns: string[]; where: string[] }> = {}) =>
  Rules.fromConfig({ tableRewrites: {}, excludeColumns: [], where: [], ...over });

describe('rules', () => {
  it('refuse malformed entries and collisions by name', () => {
    expect(() => rules({ tableRewrites: { a: 'x', b: 'x' } })).toThrow("maps both 'a' and 'b' onto target table 'x'");
    expect(() => rules({ excludeColumns: ['a'] })).toThrow("entry 'a' is not table.column");
    expect(() => rules({ excludeColumns: ['a.b', 'a.b'] })).toThrow('names a.b twice');
    expect(() => rules({ where: ['a: x = 1', 'a: y = 2'] })).toThrow('gives table a two filters');
    expect(() => rules({ where: ['no colon'] })).toThrow("is not 'TABLE: EXPRESSION'");
    const r = rules({ tableRewrites: { a: 'x' } });
    expect(() => r.checkSelection(['a', 'x'], ['a', 'x'])).toThrow("under the name of synced table 'x'");
    expect(() => r.checkSelection(['b'], ['a', 'b'])).toThrow("names table 'a', which the sync does not take");
    expect(() => rules({ tableRewrites: { q: 'x' } }).checkSelection(['a'], ['a'])).toThrow("names table 'q', which the source database does not have");
    // A swap of two synced tables' names is allowed: both are rewritten.
    expect(() => rules({ tableRewrites: { a: 'b', b: 'a' } }).checkSelection(['a', 'b'], ['a', 'b'])).not.toThrow();
    expect(rules().identity).toBe(true);
  });
});

describe('tableView', () => {
  it('is the definition itself when the rules change nothing for it', () => {
    const v = tableView({ ...ORDERS, foreignKeys: [] }, rules({ tableRewrites: { other: 'x' } }), BINDER, true);
    expect(v.view).toBe(v.full);
    expect(v.keep).toBeNull();
  });

  it('renames, leaves out columns with their indexes and keys, and keeps the source definition', () => {
    const v = tableView(ORDERS, rules({ tableRewrites: { orders: 'o2', tenants: 't2' }, excludeColumns: ['orders.SECRET'] }), BINDER, true);
    expect(v.view.name).toBe('o2');
    expect(v.view.columns.map((c) => c.name)).toEqual(['id', 'tenant', 'note']);
    expect(v.view.primaryKey).toEqual([0]);
    expect(v.view.uniqueKeys).toEqual([[2]]);
    expect(v.view.indexes?.map((i) => i.name)).toEqual(['k_note', 'k_tenant']);
    expect(v.view.foreignKeys?.[0]?.referencedTable).toBe('t2');
    expect(v.view.transformedFrom?.name).toBe('orders');
    expect(v.view.transformedFrom?.columns).toHaveLength(4);
    expect(v.read.name).toBe('orders');
    expect(v.read.columns.map((c) => c.name)).toEqual(['id', 'tenant', 'note']);
    expect(v.keep).toEqual([0, 1, 3]);
  });

  it('drops a foreign key whose parent column is excluded', () => {
    const v = tableView(ORDERS, rules({ excludeColumns: ['tenants.id'] }), BINDER, true);
    expect(v.view.foreignKeys).toEqual([]);
  });

  it('refuses a key column and (at the start) an unknown column', () => {
    expect(() => tableView(ORDERS, rules({ excludeColumns: ['orders.id'] }), BINDER, true)).toThrow('id is a column of the table\'s primary key');
    expect(() => tableView(ORDERS, rules({ excludeColumns: ['orders.nope'] }), BINDER, true)).toThrow('table orders has no column nope');
    expect(tableView(ORDERS, rules({ excludeColumns: ['orders.nope'] }), BINDER, false).view.columns).toHaveLength(4);
  });
});

describe('transformChange under a filter (tenant = 1) and an excluded column', () => {
  const v: TableView = tableView(ORDERS, rules({ tableRewrites: { orders: 'o2' }, excludeColumns: ['orders.secret'], where: ['orders: tenant = 1'] }), BINDER, true);
  const row = (id: number, tenant: number | null): Row => [BigInt(id), tenant === null ? null : BigInt(tenant), 99n, 7n];
  const upsert = (r: Row, op?: 'insert' | 'update', before?: Row): Extract<StreamEvent, { type: 'change' }> => ({
    type: 'change',
    change: { kind: 'upsert', table: 'orders', key: [r[0] ?? null], row: r },
    ...(op ? { op } : {}),
    ...(before ? { before } : {}),
  });
  const del = (id: number, before?: Row): Extract<StreamEvent, { type: 'change' }> => ({ type: 'change', change: { kind: 'delete', table: 'orders', key: [BigInt(id)] }, op: 'delete', ...(before ? { before } : {}) });

  it('writes an image inside the filter renamed and trimmed', () => {
    expect(transformChange(v, upsert(row(1, 1), 'insert'))?.change).toEqual({ kind: 'upsert', table: 'o2', key: [1n], row: [1n, 1n, 7n] });
  });
  it('drops an INSERT outside, and an UPDATE that stays outside', () => {
    expect(transformChange(v, upsert(row(1, 2), 'insert'))).toBeNull();
    expect(transformChange(v, upsert(row(1, 2), 'update', row(1, 3)))).toBeNull();
    expect(transformChange(v, upsert(row(1, null), 'update', row(1, null)))).toBeNull();
  });
  it('deletes on an UPDATE out of the filter, and when the old image is unknown', () => {
    const out = transformChange(v, upsert(row(1, 2), 'update', row(1, 1)));
    expect(out?.change).toEqual({ kind: 'delete', table: 'o2', key: [1n] });
    expect(out?.before).toBeUndefined();
    expect(transformChange(v, upsert(row(1, 2), 'update'))?.change.kind).toBe('delete');
  });
  it('writes the whole row on an UPDATE into the filter, with the old image trimmed', () => {
    const out = transformChange(v, upsert(row(1, 1), 'update', row(1, 2)));
    expect(out?.change).toEqual({ kind: 'upsert', table: 'o2', key: [1n], row: [1n, 1n, 7n] });
    expect(out?.before).toEqual([1n, 2n, 7n]);
  });
  it('drops a DELETE of a row known to be outside; passes the others', () => {
    expect(transformChange(v, del(1, row(1, 2)))).toBeNull();
    expect(transformChange(v, del(1, row(1, 1)))?.change).toEqual({ kind: 'delete', table: 'o2', key: [1n] });
    expect(transformChange(v, del(1))?.change).toEqual({ kind: 'delete', table: 'o2', key: [1n] });
  });
  it('passes a partial image that leaves out the filter column as it is, its unchanged indexes remapped', () => {
    const ev = upsert(row(1, null), 'update');
    const partial = { ...ev, change: { ...ev.change, unchanged: [1, 2] } } as typeof ev;
    expect(transformChange(v, partial)?.change).toEqual({ kind: 'upsert', table: 'o2', key: [1n], row: [1n, null, 7n], unchanged: [1] });
  });
  it('judges a keyless table by its images: an insert or delete outside is dropped', () => {
    const keyless = tableView({ ...ORDERS, primaryKey: [], uniqueKeys: [] }, rules({ excludeColumns: ['orders.secret'], where: ['orders: tenant = 1'] }), BINDER, true);
    const ins = (r: Row): Extract<StreamEvent, { type: 'change' }> => ({ type: 'change', change: { kind: 'upsert', table: 'orders', key: r, row: r }, op: 'insert' });
    expect(transformChange(keyless, ins(row(1, 2)))).toBeNull();
    expect(transformChange(keyless, ins(row(1, 1)))?.change).toEqual({ kind: 'upsert', table: 'orders', key: [1n, 1n, 7n], row: [1n, 1n, 7n] });
    expect(transformChange(keyless, { type: 'change', change: { kind: 'delete', table: 'orders', key: row(1, 2) } })).toBeNull();
    expect(transformChange(keyless, { type: 'change', change: { kind: 'delete', table: 'orders', key: row(1, 1) } })?.change).toEqual({ kind: 'delete', table: 'orders', key: [1n, 1n, 7n] });
  });
});

describe('transformDdl', () => {
  const r = rules({ tableRewrites: { orders: 'o2' }, excludeColumns: ['orders.secret'], where: ['orders: tenant = 1'] });
  const ddl = (operations: StreamEvent extends never ? never : NonNullable<Extract<StreamEvent, { type: 'ddl' }>['operations']>, after: TableSchema): Extract<StreamEvent, { type: 'ddl' }> => ({
    type: 'ddl',
    tables: ['orders'],
    statement: 'ALTER TABLE orders …',
    position: '9',
    operations,
    before: new Map([['orders', ORDERS]]),
    after: new Map([[after.name, after]]),
  });
  const current = () => new Map([['orders', tableView(ORDERS, r, BINDER, true)]]);

  it('leaves out operations on excluded columns and their indexes; renames the rest', () => {
    const after = { ...ORDERS, columns: [...ORDERS.columns, col('extra')] };
    const cur = current();
    const out = transformDdl(
      ddl(
        [
          { op: 'modify-column', table: 'orders', column: col('secret'), sourceText: 'MODIFY secret int' },
          { op: 'add-column', table: 'orders', column: col('extra'), place: { after: 'secret' }, sourceText: 'ADD extra int AFTER secret' },
          { op: 'drop-index', table: 'orders', name: 'k_secret', sourceText: 'DROP INDEX k_secret' },
          { op: 'drop-index', table: 'orders', name: 'k_note', sourceText: 'DROP INDEX k_note' },
          { op: 'add-index', table: 'orders', name: 'k2', columns: ['secret', 'note'], unique: false },
        ],
        after,
      ),
      cur,
      r,
      BINDER,
    );
    expect(out.unsupported).toBeUndefined();
    expect(out.tables).toEqual(['o2']);
    expect(out.operations).toEqual([
      { op: 'add-column', table: 'o2', column: col('extra'), place: { after: 'tenant' } },
      { op: 'drop-index', table: 'o2', name: 'k_note', sourceText: 'DROP INDEX k_note' },
    ]);
    expect([...(out.after?.keys() ?? [])]).toEqual(['o2']);
    expect(out.after?.get('o2')?.columns.map((c) => c.name)).toEqual(['id', 'tenant', 'note', 'extra']);
    expect(cur.get('orders')?.keep).toEqual([0, 1, 3, 4]);
  });

  it('follows a rename of an excluded column keeping the new name out, and says so', () => {
    const renamed = { ...ORDERS, columns: ORDERS.columns.map((c) => (c.name === 'secret' ? col('secret2') : c)) };
    const cur = current();
    const out = transformDdl(ddl([{ op: 'rename-column', table: 'orders', from: 'secret', to: 'secret2', sourceText: 'RENAME COLUMN secret TO secret2' }], renamed), cur, r, BINDER);
    expect(out.unsupported).toContain('renames column orders.secret, which --exclude-columns leaves out');
    expect(out.operations).toEqual([]);
    expect(out.after?.get('o2')?.columns.map((c) => c.name)).toEqual(['id', 'tenant', 'note']);
    expect(cur.get('orders')?.keep).toEqual([0, 1, 3]);
  });

  it('throws, naming the statement, when the filter column is dropped or a key takes an excluded column', () => {
    const dropped = { ...ORDERS, columns: ORDERS.columns.filter((c) => c.name !== 'tenant') };
    expect(() => transformDdl(ddl([{ op: 'drop-column', table: 'orders', column: 'tenant' }], dropped), current(), r, BINDER)).toThrow(/schema change at 9 .*has no column tenant/);
    const rekeyed = { ...ORDERS, primaryKey: [0, 2] };
    expect(() => transformDdl(ddl([{ op: 'add-index', table: 'orders', name: 'PRIMARY', columns: ['id', 'secret'], unique: true, primary: true }], rekeyed), current(), r, BINDER)).toThrow('secret is a column of the table');
  });

  it('renders from fields an operation whose text names an excluded column, and drops table options over one', () => {
    const after = { ...ORDERS, columns: ORDERS.columns.map((c) => (c.name === 'note' ? col('note2') : c)) };
    const out = transformDdl(
      ddl(
        [
          { op: 'rename-column', table: 'orders', from: 'note', to: 'note2', sourceText: 'CHANGE `note` `note2` int AFTER `secret`' },
          { op: 'modify-column', table: 'orders', column: col('note2'), place: { after: 'secret' } },
          { op: 'table-options', table: 'orders', sourceText: 'ADD CONSTRAINT chk CHECK (`secret` > 0)' },
          { op: 'table-options', table: 'orders', sourceText: 'ENGINE=InnoDB' },
        ],
        after,
      ),
      current(),
      r,
      BINDER,
    );
    expect(out.operations).toEqual([
      { op: 'rename-column', table: 'o2', from: 'note', to: 'note2' },
      { op: 'modify-column', table: 'o2', column: col('note2'), place: { after: 'tenant' } },
      { op: 'table-options', table: 'o2', sourceText: 'ENGINE=InnoDB' },
    ]);
  });

  it('refuses a RENAME TABLE to a name with other rules, and leaves out one onto the target name the table has', () => {
    const rename = (to: string, rr: TransformRules, cur: Map<string, TableView>) =>
      transformDdl(
        { type: 'ddl', tables: ['orders'], statement: `RENAME TABLE orders TO ${to}`, position: '9', operations: [{ op: 'rename-tables', pairs: [{ from: 'orders', to }] }], before: new Map([['orders', ORDERS]]), after: new Map([[to, { ...ORDERS, name: to }]]) },
        cur,
        rr,
        BINDER,
      );
    expect(() => rename('orders_2024', r, current())).toThrow('it renames table orders to orders_2024, and --exclude-columns leaves out (secret) of orders but (nothing) of orders_2024');
    const rr = rules({ tableRewrites: { orders: 'orders_eu' } });
    const cur = new Map([['orders', tableView({ ...ORDERS, foreignKeys: [] }, rr, BINDER, true)]]);
    expect(rename('orders_eu', rr, cur).operations).toEqual([]);
  });

  it('renames both sides of RENAME TABLE and refuses a second table under a taken target name', () => {
    const rr = rules({ tableRewrites: { orders: 'o2', archive: 'o2b' } });
    const cur = new Map([['orders', tableView({ ...ORDERS, foreignKeys: [] }, rr, BINDER, true)]]);
    const out = transformDdl(
      { type: 'ddl', tables: ['orders'], statement: 'RENAME TABLE orders TO archive', position: '9', operations: [{ op: 'rename-tables', pairs: [{ from: 'orders', to: 'archive' }] }], before: new Map([['orders', ORDERS]]), after: new Map([['archive', { ...ORDERS, name: 'archive' }]]) },
      cur,
      rr,
      BINDER,
    );
    expect(out.operations).toEqual([{ op: 'rename-tables', pairs: [{ from: 'o2', to: 'o2b' }] }]);
    const clash = rules({ tableRewrites: { orders: 'x' } });
    const cur2 = new Map([['orders', tableView({ ...ORDERS, foreignKeys: [] }, clash, BINDER, true)]]);
    const made = { ...ORDERS, name: 'x', foreignKeys: [] };
    const out2 = transformDdl({ type: 'ddl', tables: ['x'], statement: 'CREATE TABLE x …', position: '9', operations: [{ op: 'create-table', table: made }], before: new Map(), after: new Map([['x', made]]) }, cur2, clash, BINDER);
    expect(out2.unsupported).toContain('brings source table x under target name x, which synced table orders already has');
  });
});

describe('transformSource', () => {
  it('is the source itself without rules', () => {
    const fake = new FakeSource();
    expect(transformSource(fake, rules())).toBe(fake);
  });

  it('hands every argument of every member on to the source (a member that drops an optional one, as --copy-order was, fails here)', () => {
    const fake = new FakeSource([ORDERS]);
    const wrapped = transformSource(fake, rules({ tableRewrites: { orders: 'o2' } }), BINDER) as unknown as Record<string, unknown>;
    const members = Object.getOwnPropertyNames(Object.getPrototypeOf(fake)).filter((m) => m !== 'constructor' && typeof (fake as unknown as Record<string, unknown>)[m] === 'function');
    const shortened = members.filter((m) => typeof wrapped[m] === 'function' && (wrapped[m] as () => void).length < ((fake as unknown as Record<string, () => void>)[m] as () => void).length);
    expect(shortened).toEqual([]);
  });

  it('passes the copy order to the source', async () => {
    const fake = new FakeSource([ORDERS]);
    let seen: unknown;
    const inner = new Proxy(fake, { get: (t, p) => (p === 'chunkBoundary' ? (...args: unknown[]) => ((seen = args[3]), Promise.resolve(null)) : Reflect.get(t, p)) });
    const wrapped = transformSource(inner, rules({ tableRewrites: { orders: 'o2' } }), BINDER);
    await wrapped.chunkBoundary(await wrapped.describe('o2'), null, 10, 'desc');
    expect(seen).toBe('desc');
  });

  it('refuses a filter for a source that cannot filter rows', () => {
    const fake = new FakeSource();
    fake.capabilities = { ...fake.capabilities, rowFilters: false };
    expect(() => transformSource(fake, rules({ where: ['t: id = 1'] }), BINDER)).toThrow('cannot filter rows');
  });

  it('refuses to stream definitions stored under other rules, the same number of columns included', async () => {
    const fake = new FakeSource([ORDERS]);
    const stored = tableView(ORDERS, rules({ excludeColumns: ['orders.secret'] }), BINDER, true).view;
    const src = transformSource(fake, rules({ excludeColumns: ['orders.note'] }), BINDER);
    const it = src.stream('0', [stored], new AbortController().signal)[Symbol.asyncIterator]();
    await expect(it.next()).rejects.toThrow('was synced under other --table-rewrites or --exclude-columns');
  });
});
