import { describe, expect, it } from 'vitest';
import { isKeyless, keyedTable, secondaryUniqueKeys, type Column, type TableSchema } from '../../src/core/schema.js';
import { applyOperations } from '../../src/schema/apply.js';
import { createTableSql as mysqlCreate } from '../../src/engines/mysql/ddl.js';
import { withLogical as mysqlLogical } from '../../src/engines/mysql/types.js';
import { createTableSql as pgCreate, planTypes } from '../../src/engines/postgres/ddl.js';

const int = (name: string, nullable = false): Column => ({ name, dataType: 'int', columnType: 'int(11)', nullable, unsigned: false, logical: { kind: 'integer', bytes: 4, signed: true } });

/** t(a, b, c, d): no primary key; unique keys as given. */
function t(uniqueKeys: number[][], nullable: boolean[] = [false, false, true, false], primaryKey: number[] = []): TableSchema {
  return { name: 't', columns: ['a', 'b', 'c', 'd'].map((n, i) => int(n, nullable[i])), primaryKey, uniqueKeys, generated: [], engine: 'mysql' };
}

describe('keyedTable: a unique NOT NULL key is the key of a table without a primary key', () => {
  it('keeps a table with a primary key as it is (the same object)', () => {
    const x = t([[1]], undefined, [0]);
    expect(keyedTable(x)).toBe(x);
  });
  it('takes the first unique key whose columns are all NOT NULL', () => {
    const k = keyedTable(t([[2], [0, 1], [3]]));
    expect(k.primaryKey).toEqual([0, 1]);
    expect(k.keyFromUnique).toBe(true);
    expect(isKeyless(k)).toBe(false);
    // The key stays one of the unique keys; the others are the secondary ones.
    expect(k.uniqueKeys).toEqual([[2], [0, 1], [3]]);
    expect(secondaryUniqueKeys(k)).toEqual([[2], [3]]);
  });
  it('leaves a table keyless when every unique key has a nullable column, or there is none', () => {
    for (const x of [t([[2]]), t([[0, 2]]), t([]), t([[0]], [true, false, true, false])]) {
      const k = keyedTable(x);
      expect(k.primaryKey).toEqual([]);
      expect(k.keyFromUnique).toBeUndefined();
      expect(isKeyless(k)).toBe(true);
    }
  });
  it('skips a unique key on a generated column (index -1) and an empty one', () => {
    expect(keyedTable(t([[], [-1], [3]])).primaryKey).toEqual([3]);
  });
  it('is idempotent, and re-keys a table whose key column became nullable', () => {
    const k = keyedTable(t([[0], [3]]));
    expect(keyedTable(k)).toEqual(k);
    const columns = k.columns.map((c, i) => (i === 0 ? { ...c, nullable: true } : c));
    expect(keyedTable({ ...k, columns }).primaryKey).toEqual([3]);
    const none = keyedTable({ ...k, columns: k.columns.map((c) => ({ ...c, nullable: true })) });
    expect(none.primaryKey).toEqual([]);
    expect(none.keyFromUnique).toBeUndefined();
  });
  it('secondaryUniqueKeys of a table with its own primary key is every unique key', () => {
    expect(secondaryUniqueKeys(t([[1], [3]], undefined, [1]))).toEqual([[1], [3]]);
  });
});

describe('the schema registry re-keys after DDL', () => {
  const base = keyedTable({
    ...t([[0], [3]]),
    indexes: [
      { name: 'ua', columns: ['a'], unique: true },
      { name: 'ud', columns: ['d'], unique: true },
    ],
  });
  const after = (ops: Parameters<typeof applyOperations>[1]) => applyOperations(new Map([['t', base]]), ops).get('t') as TableSchema;
  it('dropping the key index moves the key to the next unique NOT NULL key', () => {
    const x = after([{ op: 'drop-index', table: 't', name: 'ua', sourceText: '' }] as never);
    expect(x.primaryKey.map((i) => x.columns[i]?.name)).toEqual(['d']);
    expect(x.keyFromUnique).toBe(true);
  });
  it('adding a primary key makes it the key (not refused as a second primary key)', () => {
    const x = after([{ op: 'add-index', table: 't', name: 'PRIMARY', columns: ['b'], primary: true, unique: true, sourceText: '' }] as never);
    expect(x.primaryKey.map((i) => x.columns[i]?.name)).toEqual(['b']);
    expect(x.keyFromUnique).toBeUndefined();
  });
  it('dropping the key column leaves the next key', () => {
    const x = after([{ op: 'drop-column', table: 't', column: 'a', sourceText: '' }] as never);
    expect(x.primaryKey.map((i) => x.columns[i]?.name)).toEqual(['d']);
  });
});

describe('targets create a key taken from a unique key as that unique key', () => {
  const k = keyedTable(t([[1], [3]]));
  it('PostgreSQL: a plain UNIQUE constraint (ON CONFLICT arbitrates on it), the others deferred, no PRIMARY KEY', () => {
    const logical = mysqlLogical({ ...k, createStatement: undefined });
    const sql = pgCreate('public', logical, planTypes(logical, { zeroDates: 'error', columnTypes: {} }));
    expect(sql).not.toContain('PRIMARY KEY');
    expect(sql).toContain('UNIQUE ("b"),');
    expect(sql).toContain('UNIQUE ("d") DEFERRABLE INITIALLY DEFERRED');
  });
  it('MySQL from another engine: UNIQUE KEYs only, no PRIMARY KEY', () => {
    const sql = mysqlCreate(mysqlLogical({ ...k, engine: 'postgres' }));
    expect(sql).not.toContain('PRIMARY KEY');
    expect(sql).toMatch(/UNIQUE KEY `tributary_uk1` \(`b`\)/);
    expect(sql).toMatch(/UNIQUE KEY `tributary_uk2` \(`d`\)/);
  });
});
