/**
 * A sync of several databases (issue 14), without servers: qualified names (core/names.ts), the
 * --tables patterns over them, database rewrites in the transform rules, the binlog DDL parser's
 * qualified names, and the quoting every MySQL statement uses.
 */
import { describe, expect, it } from 'vitest';
import { selectDatabases, selectTables, tableSelected } from '../../src/config/tables.js';
import { columnTypeOf, overriddenColumns } from '../../src/core/column-types.js';
import { isQualified, namespacesOf, qualify, splitName } from '../../src/core/names.js';
import type { TableSchema } from '../../src/core/schema.js';
import { deriveSyncId } from '../../src/config/sync-id.js';
import { parseDsn } from '../../src/config/dsn.js';
import { parseDdl } from '../../src/engines/mysql/ddl-parse.js';
import { quoteTable } from '../../src/engines/mysql/sql.js';
import { withLogical } from '../../src/engines/mysql/types.js';
import { qualified } from '../../src/engines/postgres/sql.js';
import { TransformRules } from '../../src/transform/rules.js';

const rules = (over: { tableRewrites?: Record<string, string>; databaseRewrites?: Record<string, string>; excludeColumns?: string[]; where?: string[]; databases?: string[]; columnTypes?: Record<string, string> } = {}) =>
  TransformRules.fromConfig({ tableRewrites: {}, excludeColumns: [], where: [], databases: ['*'], ...over });

describe('qualified names', () => {
  it('split at the first dot: a database name never holds one, a table name may', () => {
    expect(splitName('shop.orders')).toEqual({ namespace: 'shop', table: 'orders' });
    expect(splitName('shop.a.b')).toEqual({ namespace: 'shop', table: 'a.b' });
    expect(splitName('orders')).toEqual({ namespace: undefined, table: 'orders' });
    expect(qualify('shop', 'a.b')).toBe('shop.a.b');
    expect(qualify(undefined, 'orders')).toBe('orders');
    expect(isQualified('orders')).toBe(false);
    expect(namespacesOf(['a.x', 'b.y', 'a.z', 'bare'])).toEqual(['a', 'b']);
  });

  it('are quoted as database and table by MySQL and as schema and table by PostgreSQL', () => {
    expect(quoteTable('shop.orders')).toBe('`shop`.`orders`');
    expect(quoteTable('shop.a.b')).toBe('`shop`.`a.b`');
    expect(quoteTable('or`ders')).toBe('`or``ders`');
    expect(qualified('public', 'shop.orders')).toBe('"shop"."orders"');
    expect(qualified('public', 'orders')).toBe('"public"."orders"');
  });
});

describe('--tables and --databases patterns', () => {
  const all = ['s1.orders', 's1.users', 's2.orders', 's2.items'];
  it('a bare pattern takes the table in every database, a db.table pattern the one table', () => {
    expect(selectTables(all, ['orders'], 's1, s2')).toEqual(['s1.orders', 's2.orders']);
    expect(selectTables(all, ['s2.*'], 's1, s2')).toEqual(['s2.orders', 's2.items']);
    expect(selectTables(all, ['*.users', 'items'], 's1, s2')).toEqual(['s1.users', 's2.items']);
    expect(() => selectTables(all, ['s3.orders'], 's1, s2')).toThrow("'s3.orders' matches no table");
    expect(tableSelected('s1.fresh', ['fresh'])).toBe(true);
    expect(tableSelected('s1.fresh', ['s2.fresh'])).toBe(false);
    // A sync of one database: unchanged.
    expect(selectTables(['orders', 'users'], ['ord*'], 'shop')).toEqual(['orders']);
  });

  it('selects databases by name or glob, and names a pattern that matches none', () => {
    expect(selectDatabases(['a', 'shop1', 'shop2'], ['shop*'], 'source x')).toEqual(['shop1', 'shop2']);
    expect(() => selectDatabases(['a'], ['shop*', 'a'], 'source x')).toThrow("--databases 'shop*' matches no database of source x (it has: a)");
  });

  it('the default sync id tells two selections apart, and a URL without a database parses only when asked', () => {
    const src = parseDsn('mysql://u@h:3306/', 'source', { databaseOptional: true });
    const dst = parseDsn('mysql://u@h2:3306/meta', 'target');
    expect(src.database).toBe('');
    expect(() => parseDsn('mysql://u@h:3306/', 'source')).toThrow('names no database');
    expect(deriveSyncId(src, dst, ['a*'])).not.toBe(deriveSyncId(src, dst, ['b*']));
    expect(deriveSyncId(src, dst, ['a', 'b'])).toBe(deriveSyncId(src, dst, ['b', 'a']));
    expect(deriveSyncId(src, dst, ['shop'])).toMatch(/^shop-/);
  });
});

describe('database rewrites', () => {
  it('rewrite the database of every table, compose with table rewrites, and invert', () => {
    const r = rules({ databaseRewrites: { s1: 'c1' }, tableRewrites: { 's2.orders': 'o2', users: 'people', 's1.items': 'c9.things' } });
    expect(r.identity).toBe(false);
    expect(r.targetName('s1.orders')).toBe('c1.orders');
    expect(r.targetName('s2.orders')).toBe('s2.o2');
    expect(r.targetName('s1.users')).toBe('c1.people');
    expect(r.targetName('s2.users')).toBe('s2.people');
    expect(r.targetName('s1.items')).toBe('c9.things');
    for (const name of ['s1.orders', 's2.orders', 's1.users', 's2.users', 's1.items']) expect(r.sourceName(r.targetName(name))).toBe(name);
    // A name targetName never gave (a table created later): inverted by its database.
    expect(r.sourceName('c1.fresh')).toBe('s1.fresh');
    expect(r.targetNamespace('s1')).toBe('c1');
    expect(r.sourceNamespace('c1')).toBe('s1');
    expect(r.describe()).toContain('database s1 → c1');
  });

  it('apply exclusions and filters by db.table or by bare name', () => {
    const r = rules({ excludeColumns: ['s1.users.pw', 'orders.secret'], where: ['s2.orders: tenant = 1'] });
    expect(r.excludedColumns('s1.users')).toEqual(['pw']);
    expect(r.excludedColumns('s2.users')).toEqual([]);
    expect(r.excludedColumns('s2.orders')).toEqual(['secret']);
    expect(r.filterOf('s2.orders')).toEqual({ kind: 'expression', text: 'tenant = 1' });
    expect(r.filterOf('s1.orders')).toBeUndefined();
  });

  it('name db.table only in a sync of several databases (a rewrite would write another database)', () => {
    expect(() => rules({ databases: [], tableRewrites: { orders: 'prod.orders' } })).toThrow("names 'prod.orders': a table as db.table is for a sync of several databases");
    expect(() => rules({ databases: [], excludeColumns: ['a.t.c'] })).toThrow("names 'a.t': a table as db.table");
    expect(() => rules({ databases: [], where: ['a.t: x = 1'] })).toThrow("names 'a.t'");
    expect(() => rules({ databases: [], tableRewrites: { orders: 'o2' } })).not.toThrow();
  });

  it('refuse a database rewrite onto a synced database that keeps its name', () => {
    const all = ['a.x', 'b.y'];
    expect(() => rules({ databaseRewrites: { a: 'b' } }).checkSelection(all, all)).toThrow("writes database a into 'b', a synced database that keeps its own name");
    expect(() => rules({ databaseRewrites: { a: 'b', b: 'c' } }).checkSelection(all, all)).not.toThrow();
    const r = rules({ databaseRewrites: { a: 'b', b: 'c' } });
    for (const n of all) r.targetName(n);
    expect(r.sourceName('b.x')).toBe('a.x');
    expect(r.sourceName('c.y')).toBe('b.y');
  });

  it('refuse two databases onto one, a collision of computed names, and rules naming nothing synced', () => {
    expect(() => rules({ databaseRewrites: { a: 'x', b: 'x' } })).toThrow("maps both 'a' and 'b' onto target database 'x'");
    expect(() => rules({ databaseRewrites: { 'a.b': 'x' } })).toThrow("--database-rewrites entry 'a.b=x' is not source=target");
    const all = ['a.t', 'b.t', 'b.u'];
    expect(() => rules({ databaseRewrites: { a: 'b' } }).checkSelection(all, all)).toThrow("a synced database that keeps its own name");
    expect(() => rules({ tableRewrites: { 'a.t': 'b.u' } }).checkSelection(all, all)).toThrow("under the name of synced table 'b.u'");
    expect(() => rules({ databaseRewrites: { c: 'x' } }).checkSelection(all, all)).toThrow("names database 'c', which the sync does not take");
    expect(() => rules({ tableRewrites: { v: 'w' } }).checkSelection(all, all)).toThrow("names table 'v'");
    expect(() => rules({ tableRewrites: { t: 'w' }, databaseRewrites: { a: 'x' } }).checkSelection(all, all)).not.toThrow();
    // A selected database without tables may be rewritten, and counts as one that keeps its name.
    expect(() => rules({ databaseRewrites: { c: 'x' } }).checkSelection(all, all, ['a', 'b', 'c'])).not.toThrow();
    expect(() => rules({ databaseRewrites: { a: 'c' } }).checkSelection(all, all, ['a', 'b', 'c'])).toThrow("writes database a into 'c', a synced database that keeps its own name");
  });
});

describe('the binlog DDL parser under --databases', () => {
  const t = (name: string): TableSchema =>
    withLogical({ name, columns: [{ name: 'id', dataType: 'int', columnType: 'int(11)', nullable: false, unsigned: false }], primaryKey: [0], generated: [], engine: 'mysql' });
  const ctx = (tables: TableSchema[], currentSchema = 'a') => ({
    database: '',
    databases: ['a', 'b'],
    currentSchema,
    tables: new Map(tables.map((x) => [x.name, x])),
    selects: (n: string) => tableSelected(n, []),
  });

  it('names every table db.table, qualified or through the current database, and leaves other databases alone', () => {
    const alter = parseDdl('ALTER TABLE t ADD COLUMN x INT', ctx([t('a.t'), t('b.t')]));
    expect(alter.tables).toEqual(['a.t']);
    expect(alter.operations[0]).toMatchObject({ op: 'add-column', table: 'a.t' });
    const other = parseDdl('ALTER TABLE b.t ADD COLUMN x INT', ctx([t('a.t'), t('b.t')]));
    expect(other.tables).toEqual(['b.t']);
    expect(parseDdl('ALTER TABLE c.t ADD COLUMN x INT', ctx([t('a.t')])).tables).toEqual([]);
    const created = parseDdl('CREATE TABLE b.fresh (id INT PRIMARY KEY)', ctx([t('a.t')]));
    expect(created.operations[0]).toMatchObject({ op: 'create-table', table: { name: 'b.fresh' } });
    expect(parseDdl('CREATE TABLE c.fresh (id INT PRIMARY KEY)', ctx([t('a.t')])).tables).toEqual([]);
  });

  it('names a foreign key the server names, after the table\'s own name', () => {
    const created = parseDdl('CREATE TABLE b.c (id INT PRIMARY KEY, p INT, FOREIGN KEY (p) REFERENCES a.t (id))', ctx([t('a.t')]));
    expect(created.operations[0]).toMatchObject({ op: 'create-table', table: { name: 'b.c', foreignKeys: [{ name: 'c_ibfk_1', referencedTable: 'a.t' }] } });
    const added = parseDdl('ALTER TABLE a.t ADD COLUMN q INT, ADD FOREIGN KEY (q) REFERENCES a.t (id)', ctx([t('a.t')]));
    expect(added.operations.find((o) => o.op === 'add-foreign-key')).toMatchObject({ foreignKey: { name: 't_ibfk_1' } });
  });

  it('follows a rename between two synced databases and stops on DROP DATABASE of one', () => {
    const moved = parseDdl('RENAME TABLE a.t TO b.u', ctx([t('a.t')]));
    expect(moved.operations).toEqual([{ op: 'rename-tables', pairs: [{ from: 'a.t', to: 'b.u' }] }]);
    expect(moved.unsupported).toBeUndefined();
    const out = parseDdl('RENAME TABLE a.t TO c.t', ctx([t('a.t')]));
    expect(out.unsupported).toContain('the rename moves synced table a.t to c.t');
    const dropped = parseDdl('DROP DATABASE b', ctx([t('a.t'), t('b.t')]));
    expect(dropped.tables).toEqual(['b.t']);
    expect(dropped.unsupported).toContain('DROP DATABASE b drops every synced table');
  });

  it('in a sync of one database never takes a table whose own name holds a dot', () => {
    const one = { database: 'a', currentSchema: 'a', tables: new Map([['t', t('t')]]), selects: () => true };
    expect(parseDdl('CREATE TABLE `x.y` (id INT PRIMARY KEY)', one).tables).toEqual([]);
    expect(parseDdl('RENAME TABLE t TO `x.y`', one).unsupported).toContain('which the table selection does not take');
  });
});

describe('--column-types by source names', () => {
  it('translates db.table.column and bare table.column through the rewrites; a target reads the exact key first, then the bare one', () => {
    const r = rules({
      databaseRewrites: { shop: 'copy' },
      tableRewrites: { orders: 'archive', 'kv.users': 'kv.people' },
      columnTypes: { 'shop.orders.total': 'DECIMAL(65,30)', 'orders.note': 'TEXT', 'kv.users.name': 'VARCHAR(100)' },
    });
    const types = r.columnTypesOnTarget();
    expect(types).toEqual({ 'copy.archive.total': 'DECIMAL(65,30)', 'archive.note': 'TEXT', 'kv.people.name': 'VARCHAR(100)' });
    expect(columnTypeOf(types, 'copy.archive', 'total')).toBe('DECIMAL(65,30)');
    expect(columnTypeOf(types, 'other.archive', 'total')).toBeUndefined();
    // A bare table's override applies in every database.
    expect(columnTypeOf(types, 'copy.archive', 'note')).toBe('TEXT');
    expect(columnTypeOf(types, 'other.archive', 'note')).toBe('TEXT');
    expect(columnTypeOf(types, 'kv.people', 'name')).toBe('VARCHAR(100)');
    expect(overriddenColumns(types, 'copy.archive').sort()).toEqual(['note', 'total']);
    expect(overriddenColumns(types, 'kv.archive')).toEqual(['note']);
    expect(overriddenColumns(types, 'kv.people')).toEqual(['name']);
  });

  it('in a sync of one database: table.column under the rewritten name; db.table.column refused', () => {
    const one = TransformRules.fromConfig({ tableRewrites: { orders: 'archive' }, excludeColumns: [], where: [], columnTypes: { 'orders.total': 'TEXT' } });
    expect(one.columnTypesOnTarget()).toEqual({ 'archive.total': 'TEXT' });
    expect(columnTypeOf(one.columnTypesOnTarget(), 'archive', 'total')).toBe('TEXT');
    expect(() => TransformRules.fromConfig({ tableRewrites: {}, excludeColumns: [], where: [], columnTypes: { 'shop.orders.total': 'TEXT' } })).toThrow(/--column-types shop\.orders\.total names 'shop\.orders': a table as db\.table is for a sync of several databases/);
    expect(() => rules({ columnTypes: { total: 'TEXT' } })).toThrow(/--column-types entry 'total=TEXT' is not table\.column=TYPE/);
  });
});
