/**
 * Online schema change tools' shadow tables (src/engines/mysql/osc.ts): gh-ost's and
 * pt-online-schema-change's shadows are recognised by name, created like the real table, their
 * ALTERs remembered, and the swap becomes one schema change of the real table.
 */
import { describe, expect, it } from 'vitest';
import type { SchemaOperation } from '../../src/core/schema-change.js';
import type { Column, TableSchema } from '../../src/core/schema.js';
import { shadowPatterns, ShadowTables } from '../../src/engines/mysql/osc.js';

const ID: Column = { name: 'id', dataType: 'int', columnType: 'int(11)', nullable: false, unsigned: false, logical: { kind: 'integer', bytes: 4, signed: true } };
const C: Column = { name: 'c', dataType: 'int', columnType: 'int(11)', nullable: true, unsigned: false, logical: { kind: 'integer', bytes: 4, signed: true } };
const T: TableSchema = { name: 't', engine: 'mysql', columns: [ID], primaryKey: [0], generated: [] };
const SYNCED = new Map([['t', T]]);
/** The stream's naming in a sync of database `db` alone. */
const inDb = (schema: string, table: string): string | undefined => (schema === 'db' ? table : undefined);

describe('online schema change shadows', () => {
  it.each([
    ['pt-online-schema-change', 'CREATE TABLE `db`.`_t_new` LIKE `db`.`t`', '_t_new', 'RENAME TABLE `db`.`t` TO `db`.`_t_old`, `db`.`_t_new` TO `db`.`t`', '_t_old'],
    ['gh-ost', 'create /* gh-ost */ table `db`.`_t_gho` like `db`.`t`', '_t_gho', 'rename /* gh-ost */ table `db`.`t` to `db`.`_t_del`, `db`.`_t_gho` to `db`.`t`', '_t_del'],
    // A tool run with a query comment (tributary's --query-comment, marginalia, sqlcommenter) puts it first.
    ['a leading comment', '/* app=gh-ost */ create table `db`.`_t_gho` like `db`.`t`', '_t_gho', '/* app=gh-ost */ rename table `db`.`t` to `db`.`_t_del`, `db`.`_t_gho` to `db`.`t`', '_t_del'],
  ])('%s: the shadow is followed from its CREATE … LIKE to the swap, which carries its ALTERs', (_tool, create, shadow, _rename, old) => {
    const s = new ShadowTables();
    expect(s.created(create, 'db', SYNCED, inDb)).toBe(shadow);
    expect(s.has(shadow)).toBe(true);
    expect(s.definitions().get(shadow)).toMatchObject({ name: shadow, columns: [ID] });
    const add: SchemaOperation = { op: 'add-column', table: shadow, column: C, sourceText: 'ADD COLUMN c int' };
    expect(s.record([shadow], [add], new Map([[shadow, { ...T, name: shadow, columns: [ID, C] }]]))).toBe(true);
    const swap = s.swap([{ op: 'rename-tables', pairs: [{ from: 't', to: old }, { from: shadow, to: 't' }] }]);
    expect(swap).toEqual({ table: 't', shadow: { ...T, name: shadow, columns: [ID, C], shadowOf: { table: 't', operations: [add] } }, operations: [{ ...add, table: 't' }], after: { ...T, columns: [ID, C] } });
    expect(s.has(shadow)).toBe(false);
  });

  it('ignores tables that are no shadow of a synced table, and other databases', () => {
    const s = new ShadowTables();
    expect(s.created('CREATE TABLE _u_new LIKE u', 'db', SYNCED, inDb)).toBeUndefined();
    expect(s.created('CREATE TABLE other._t_new LIKE other.t', 'db', SYNCED, inDb)).toBeUndefined();
    expect(s.created('CREATE TABLE _t_new (id int)', 'db', SYNCED, inDb)).toBeUndefined();
    expect(s.created('CREATE TABLE copy_t LIKE t', 'db', SYNCED, inDb)).toBeUndefined();
    expect(s.definitions().size).toBe(0);
  });

  it('forgets a shadow dropped before its swap (an aborted online schema change)', () => {
    const s = new ShadowTables();
    s.created('CREATE TABLE _t_new LIKE t', 'db', SYNCED, inDb);
    expect(s.record(['_t_new'], [{ op: 'drop-table', table: '_t_new' }], new Map())).toBe(true);
    expect(s.has('_t_new')).toBe(false);
    expect(s.swap([{ op: 'rename-tables', pairs: [{ from: 't', to: '_t_old' }, { from: '_t_new', to: 't' }] }])).toBeUndefined();
  });

  it('is no swap when the statement renames another synced table too, or touches a synced table', () => {
    const s = new ShadowTables();
    s.created('CREATE TABLE _t_new LIKE t', 'db', SYNCED, inDb);
    expect(s.record(['t'], [{ op: 'drop-column', table: 't', column: 'c' }], new Map([['t', T]]))).toBe(false);
    expect(s.swap([{ op: 'rename-tables', pairs: [{ from: 'u', to: 'v' }, { from: '_t_new', to: 't' }] }])).toBeUndefined();
    expect(s.has('_t_new')).toBe(true);
  });

  it('adopts a shadow created with its own definition (pt-online-schema-change copies SHOW CREATE TABLE)', () => {
    const s = new ShadowTables();
    expect(s.adopt({ ...T, name: '_t_new' }, SYNCED)).toBe(true);
    expect(s.adopt({ ...T, name: 'other' }, SYNCED)).toBe(false);
    expect(s.swap([{ op: 'rename-tables', pairs: [{ from: 't', to: '_t_old' }, { from: '_t_new', to: 't' }] }])).toEqual({ table: 't', shadow: { ...T, name: '_t_new', shadowOf: { table: 't', operations: [] } }, operations: [], after: T });
  });

  it('takes other shadow names from patterns with one * for the real table (--osc-shadows)', () => {
    const s = new ShadowTables(shadowPatterns(['__*_shadow', 'tmp+*']));
    expect(s.created('CREATE TABLE __t_shadow LIKE t', 'db', SYNCED, inDb)).toBe('__t_shadow');
    expect(s.baseOf('tmp+t', SYNCED)).toBe('t');
    expect(s.baseOf('tmppt', SYNCED)).toBeUndefined();
    expect(s.baseOf('_t_gho', SYNCED)).toBeUndefined();
  });

  it('stores a shadow with what it is the shadow of and its ALTERs, and a restart follows it again from that (a tool run across a restart)', () => {
    const s = new ShadowTables();
    const fk = { name: 'fk', columns: ['id'], referencedTable: 'p', referencedColumns: ['id'], onUpdate: 'CASCADE', onDelete: 'RESTRICT' } as const;
    s.created('CREATE TABLE _t_new LIKE t', 'db', new Map([['t', { ...T, foreignKeys: [fk], createStatement: 'CREATE TABLE `t` (…)' }]]), inDb);
    const add: SchemaOperation = { op: 'add-column', table: '_t_new', column: C, sourceText: 'ADD COLUMN c int' };
    s.record(['_t_new'], [add], new Map([['_t_new', { ...T, name: '_t_new', columns: [ID, C] }]]));
    const stored = s.stored('_t_new');
    // What LIKE makes: no foreign keys, no create statement of the real table's.
    expect(stored).toEqual({ ...T, name: '_t_new', columns: [ID, C], shadowOf: { table: 't', operations: [add] } });
    expect(s.stored('t')).toBeUndefined();
    // Through JSON, as the checkpoint keeps it.
    const again = new ShadowTables();
    again.restore([T, JSON.parse(JSON.stringify(stored)) as TableSchema]);
    expect(again.has('_t_new')).toBe(true);
    expect(again.has('t')).toBe(false);
    expect(again.swap([{ op: 'rename-tables', pairs: [{ from: 't', to: '_t_old' }, { from: '_t_new', to: 't' }] }])).toMatchObject({ table: 't', operations: [{ ...add, table: 't' }], after: { ...T, columns: [ID, C] } });
  });
});

describe('online schema change shadows under --databases (names db.table)', () => {
  const both = (schema: string, table: string): string | undefined => (['a', 'b'].includes(schema) ? `${schema}.${table}` : undefined);
  const synced = new Map([['a.t', { ...T, name: 'a.t' }], ['b.u', { ...T, name: 'b.u' }]]);

  it("a shadow belongs to the real table of its own database, whichever database the session's is", () => {
    const s = new ShadowTables();
    expect(s.created('CREATE TABLE `a`.`_t_gho` LIKE `a`.`t`', 'mysql', synced, both)).toBe('a._t_gho');
    expect(s.created('CREATE TABLE _u_new LIKE u', 'b', synced, both)).toBe('b._u_new');
    // No real table t in b, and another database's table is no shadow's model.
    expect(s.created('CREATE TABLE b._t_gho LIKE b.t', 'a', synced, both)).toBeUndefined();
    expect(s.created('CREATE TABLE b._t_gho LIKE a.t', 'a', synced, both)).toBeUndefined();
    // A database the sync does not follow.
    expect(s.created('CREATE TABLE c._t_gho LIKE c.t', 'c', synced, both)).toBeUndefined();
    expect(s.stored('a._t_gho')).toMatchObject({ name: 'a._t_gho', shadowOf: { table: 'a.t' } });
    expect(s.baseOf('b._u_new', synced)).toBe('b.u');
    expect(s.baseOf('a._u_new', synced)).toBeUndefined();
    expect(s.isToolTable('a._t_ghc', synced)).toBe(true);
    expect(s.isToolTable('b._t_del', synced)).toBe(false);

    const swap = s.swap([{ op: 'rename-tables', pairs: [{ from: 'a.t', to: 'a._t_del' }, { from: 'a._t_gho', to: 'a.t' }] } as SchemaOperation]);
    expect(swap).toMatchObject({ table: 'a.t', after: { name: 'a.t' } });
    expect(s.has('a._t_gho')).toBe(false);
  });
});
