import { describe, expect, it } from 'vitest';
import { SchemaScope } from '../../src/engines/postgres/scope.js';
import { foreignKeyOf } from '../../src/engines/postgres/schema.js';

const fk = (schema: string, table: string) =>
  foreignKeyOf({ name: 'f', columns: ['a'], referencedSchema: schema, referencedTable: table, referencedColumns: ['id'], onUpdate: 'a', onDelete: 'c', match: 's', deferrable: false, initiallyDeferred: false }, SchemaScope.several(['s1', 's2'])).referencedTable;

describe('PostgreSQL source schema scope', () => {
  it('names the tables of one schema bare, and none of another schema', () => {
    const one = SchemaScope.one('app');
    expect(one.nameOf('app', 'orders')).toBe('orders');
    expect(one.nameOf('public', 'orders')).toBeUndefined();
    expect(one.placeOf('orders')).toEqual({ schema: 'app', relname: 'orders' });
    expect(one.quoted('orders')).toBe('"app"."orders"');
    expect(one.shown('orders')).toBe('"orders"');
    expect(one.syncable('a.b')).toBe(false);
  });

  it('names the tables of several schemas schema.table, both ways, split at the first dot', () => {
    const several = SchemaScope.several(['s1', 's2']);
    expect(several.nameOf('s1', 'orders')).toBe('s1.orders');
    expect(several.nameOf('s2', 'orders')).toBe('s2.orders');
    expect(several.nameOf('s3', 'orders')).toBeUndefined();
    expect(several.placeOf('s2.orders')).toEqual({ schema: 's2', relname: 'orders' });
    expect(several.nameOf('s1', 'a.b')).toBe('s1.a.b');
    expect(several.placeOf('s1.a.b')).toEqual({ schema: 's1', relname: 'a.b' });
    expect(several.quoted('s1.we"ird')).toBe('"s1"."we""ird"');
    expect(several.shown('s1.t')).toBe('"s1"."t"');
    expect(several.syncable('a.b')).toBe(true);
  });

  it('names a foreign key’s referenced table as the sync names it', () => {
    expect(fk('s2', 'parent')).toBe('s2.parent');
    expect(fk('other', 'parent')).toBe('other.parent');
    expect(foreignKeyOf({ name: 'f', columns: ['a'], referencedSchema: 'public', referencedTable: 'p', referencedColumns: ['id'], onUpdate: 'a', onDelete: 'a', match: 's', deferrable: false, initiallyDeferred: false }, 'public').referencedTable).toBe('p');
  });
});
