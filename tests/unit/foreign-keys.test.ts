import { describe, expect, it } from 'vitest';
import type { Column, ForeignKey, TableSchema } from '../../src/core/schema.js';
import { cascadesOf, creationOrder, keepSyncedForeignKeys, tablesWithReferentialActions } from '../../src/schema/foreign-keys.js';

const int = (name: string): Column => ({ name, dataType: 'int', columnType: 'int(11)', nullable: true, unsigned: false });

const fk = (name: string, columns: string[], referencedTable: string, referencedColumns: string[], onUpdate: ForeignKey['onUpdate'] = 'CASCADE', onDelete: ForeignKey['onDelete'] = 'RESTRICT'): ForeignKey => ({
  name,
  columns,
  referencedTable,
  referencedColumns,
  onUpdate,
  onDelete,
});

const table = (name: string, columns: string[], foreignKeys: ForeignKey[] = []): TableSchema => ({
  name,
  columns: columns.map(int),
  primaryKey: [0],
  generated: [],
  engine: 'mysql',
  foreignKeys,
});

// A Sakila-shaped chain: country ← city ← address ← store ↔ staff (a cycle), plus a self-reference.
const country = table('country', ['country_id']);
const city = table('city', ['city_id', 'country_id'], [fk('fk_city_country', ['country_id'], 'country', ['country_id'])]);
const address = table('address', ['address_id', 'city_id'], [fk('fk_address_city', ['city_id'], 'city', ['city_id'])]);
const store = table('store', ['store_id', 'manager_staff_id', 'address_id'], [
  fk('fk_store_staff', ['manager_staff_id'], 'staff', ['staff_id']),
  fk('fk_store_address', ['address_id'], 'address', ['address_id']),
]);
const staff = table('staff', ['staff_id', 'store_id', 'boss_id'], [fk('fk_staff_store', ['store_id'], 'store', ['store_id']), fk('fk_staff_boss', ['boss_id'], 'staff', ['staff_id'], 'CASCADE', 'SET NULL')]);

const names = (ts: readonly TableSchema[]) => ts.map((t) => t.name);
const map = (...ts: TableSchema[]) => new Map(ts.map((t) => [t.name, t]));

describe('keepSyncedForeignKeys', () => {
  it('keeps keys among the synced tables and names the others', () => {
    const { tables, leftOut } = keepSyncedForeignKeys([city, address]);
    expect(tables.find((t) => t.name === 'city')?.foreignKeys).toEqual([]);
    expect(tables.find((t) => t.name === 'address')).toBe(address);
    expect(leftOut).toEqual([{ table: 'city', foreignKey: city.foreignKeys?.[0] }]);
  });
  it('leaves out a key into another database (its name is qualified)', () => {
    const other = table('t', ['id', 'x'], [fk('fk_x', ['x'], 'otherdb.country', ['country_id'])]);
    expect(keepSyncedForeignKeys([other, country]).leftOut.map((l) => l.foreignKey.name)).toEqual(['fk_x']);
  });
  it('keeps everything when nothing points outside', () => {
    const { tables, leftOut } = keepSyncedForeignKeys([country, city]);
    expect(leftOut).toEqual([]);
    expect(tables[1]).toBe(city);
  });
});

describe('creationOrder', () => {
  it('creates referenced tables first', () => {
    expect(names(creationOrder([address, city, country]))).toEqual(['country', 'city', 'address']);
  });
  it('keeps the given order where keys do not decide, and ignores self-references', () => {
    const a = table('a', ['id']);
    const b = table('b', ['id', 'p'], [fk('self', ['p'], 'b', ['id'])]);
    expect(names(creationOrder([b, a]))).toEqual(['b', 'a']);
  });
  it('breaks a cycle with the first table left and places the rest after it', () => {
    expect(names(creationOrder([staff, store, address, city, country]))).toEqual(['country', 'city', 'address', 'staff', 'store']);
  });
  it('ignores keys to tables not in the list', () => {
    expect(names(creationOrder([address]))).toEqual(['address']);
  });
});

describe('cascadesOf', () => {
  const tables = map(country, city, address, staff, store);
  it('an update of a referenced key cascades, and on through keys referencing the changed column', () => {
    const { cascades, deeper } = cascadesOf(tables, 'country', [1n], [2n]);
    expect(cascades).toEqual([{ kind: 'update', table: 'city', foreignKey: 'fk_city_country', columns: ['country_id'], from: [1n], to: [2n] }]);
    expect(deeper).toEqual([]);
    const key = map(
      table('p', ['id']),
      table('c', ['id', 'pid'], [fk('c_p', ['pid'], 'p', ['id'])]),
      // g references c's cascaded column through a key of c: its values change the same way.
      table('g', ['id', 'cpid'], [fk('g_c', ['cpid'], 'c', ['pid'])]),
    );
    expect(cascadesOf(key, 'p', [5n], [6n]).cascades.map((c) => `${c.kind} ${c.table} ${String(c.from)}→${c.kind === 'update' ? String(c.to) : ''}`)).toEqual(['update c 5→6', 'update g 5→6']);
  });
  it('an update that leaves the referenced columns alone cascades nothing', () => {
    const wide = table('country', ['country_id', 'name']);
    expect(cascadesOf(map(wide, city), 'country', [1n, 'a'], [1n, 'b']).cascades).toEqual([]);
  });
  it('a delete under RESTRICT or NO ACTION cascades nothing', () => {
    expect(cascadesOf(tables, 'country', [1n], null).cascades).toEqual([]);
  });
  it('ON DELETE SET NULL and ON UPDATE CASCADE of a self-reference', () => {
    expect(cascadesOf(tables, 'staff', [7n, 1n, null], null).cascades).toEqual([{ kind: 'update', table: 'staff', foreignKey: 'fk_staff_boss', columns: ['boss_id'], from: [7n], to: [null] }]);
    expect(cascadesOf(tables, 'staff', [7n, 1n, null], [8n, 1n, null]).cascades.map((c) => c.table)).toEqual(['staff', 'store']);
  });
  it('ON DELETE CASCADE deletes, and names deeper keys it cannot follow', () => {
    const p = table('p', ['id']);
    const c = table('c', ['id', 'pid'], [fk('c_p', ['pid'], 'p', ['id'], 'CASCADE', 'CASCADE')]);
    const g = table('g', ['id', 'cid'], [fk('g_c', ['cid'], 'c', ['id'], 'RESTRICT', 'CASCADE')]);
    const r = cascadesOf(map(p, c, g), 'p', [3n], null);
    expect(r.cascades).toEqual([{ kind: 'delete', table: 'c', foreignKey: 'c_p', columns: ['pid'], from: [3n] }]);
    expect(r.deeper).toEqual(['c.c_p']);
  });
  it('composite keys cascade when any of their columns changed; a NULL referenced value references nothing', () => {
    const p = table('p', ['a', 'b']);
    const c = table('c', ['id', 'x', 'y'], [fk('c_p', ['x', 'y'], 'p', ['a', 'b'], 'CASCADE', 'SET NULL')]);
    expect(cascadesOf(map(p, c), 'p', [1n, 2n], [1n, 3n]).cascades).toEqual([{ kind: 'update', table: 'c', foreignKey: 'c_p', columns: ['x', 'y'], from: [1n, 2n], to: [1n, 3n] }]);
    expect(cascadesOf(map(p, c), 'p', [1n, null], [1n, 3n]).cascades).toEqual([]);
    expect(cascadesOf(map(p, c), 'p', [1n, 2n], null).cascades).toEqual([{ kind: 'update', table: 'c', foreignKey: 'c_p', columns: ['x', 'y'], from: [1n, 2n], to: [null, null] }]);
  });
  it('binary key values compare by bytes', () => {
    const p = table('p', ['id']);
    const c = table('c', ['id', 'pid'], [fk('c_p', ['pid'], 'p', ['id'])]);
    expect(cascadesOf(map(p, c), 'p', [Buffer.from('a')], [Buffer.from('a')]).cascades).toEqual([]);
  });
  it('tablesWithReferentialActions lists the referenced tables of acting keys only', () => {
    expect([...tablesWithReferentialActions(tables.values())].sort()).toEqual(['country', 'city', 'address', 'staff', 'store'].sort());
    expect([...tablesWithReferentialActions([table('c', ['id', 'p'], [fk('r', ['p'], 'p', ['id'], 'RESTRICT', 'NO ACTION')])])]).toEqual([]);
  });
});
