import { describe, expect, it } from 'vitest';
import { ErrorCode, TributaryError } from '../../src/core/errors.js';
import type { Column, TableSchema } from '../../src/core/schema.js';
import type { SchemaOperation } from '../../src/core/schema-change.js';
import { applyOperations } from '../../src/schema/apply.js';

const int = (name: string): Column => ({ name, dataType: 'int', columnType: 'int(11)', nullable: false, unsigned: false, logical: { kind: 'integer', bytes: 4, signed: true } });
const text = (name: string): Column => ({
  name,
  dataType: 'varchar',
  columnType: 'varchar(20)',
  nullable: true,
  unsigned: false,
  charset: 'latin1',
  collation: 'latin1_swedish_ci',
  logical: { kind: 'text', length: 20, fixed: false, charset: 'latin1', collation: 'latin1_swedish_ci' },
});

/** t(id, a, b, c): primary key (id), unique u_ab (a, b), unique u_c (c), generated g. */
const T: TableSchema = {
  name: 't',
  columns: [int('id'), text('a'), int('b'), text('c')],
  primaryKey: [0],
  uniqueKeys: [
    [1, 2],
    [3],
  ],
  generated: ['g'],
  indexes: [
    { name: 'u_ab', columns: ['a', 'b'], unique: true },
    { name: 'u_c', columns: ['c'], unique: true },
    { name: 'k_b', columns: ['b'], unique: false },
  ],
  createStatement:
    'CREATE TABLE `t` (\n  `id` int(11) NOT NULL,\n  `a` varchar(20),\n  `b` int(11) NOT NULL,\n  `c` varchar(20),\n  `g` int(11) GENERATED ALWAYS AS (`b` + 1) VIRTUAL,\n  PRIMARY KEY (`id`),\n  UNIQUE KEY `u_ab` (`a`,`b`),\n  UNIQUE KEY `u_c` (`c`),\n  KEY `k_b` (`b`)\n) ENGINE=InnoDB DEFAULT CHARSET=latin1',
  engine: 'mysql',
};
const U: TableSchema = { name: 'u', columns: [int('k')], primaryKey: [0], generated: [], engine: 'mysql', createStatement: 'CREATE TABLE `u` (...)' };
const tables = (): Map<string, TableSchema> => new Map([['t', T], ['u', U]]);

/** Applies `ops` and returns table t after them, with its columns' names and keys as names. */
function after(ops: SchemaOperation[], name = 't') {
  const out = applyOperations(tables(), ops).get(name);
  if (!out) throw new Error(`no ${name}`);
  const n = (i: number) => out.columns[i]?.name ?? `#${i}`;
  return { table: out, columns: out.columns.map((c) => c.name), pk: out.primaryKey.map(n), uniques: (out.uniqueKeys ?? []).map((k) => k.map(n)), generated: out.generated };
}

function refused(ops: SchemaOperation[], match: RegExp): void {
  let err: unknown;
  try {
    applyOperations(tables(), ops);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(TributaryError);
  expect((err as TributaryError).code).toBe(ErrorCode.DDL_UNSUPPORTED);
  expect((err as Error).message).toMatch(match);
}

describe('applyOperations: columns and key re-indexing', () => {
  it('appends a column and keeps keys', () => {
    const r = after([{ op: 'add-column', table: 't', column: int('d') }]);
    expect(r.columns).toEqual(['id', 'a', 'b', 'c', 'd']);
    expect(r.pk).toEqual(['id']);
    expect(r.uniques).toEqual([['a', 'b'], ['c']]);
  });
  it('adds FIRST and re-indexes every key', () => {
    const r = after([{ op: 'add-column', table: 't', column: int('z'), place: { first: true } }]);
    expect(r.columns).toEqual(['z', 'id', 'a', 'b', 'c']);
    expect(r.table.primaryKey).toEqual([1]);
    expect(r.table.uniqueKeys).toEqual([[2, 3], [4]]);
  });
  it('adds AFTER a column (case-insensitively)', () => {
    const r = after([{ op: 'add-column', table: 't', column: int('z'), place: { after: 'A' } }]);
    expect(r.columns).toEqual(['id', 'a', 'z', 'b', 'c']);
    expect(r.uniques).toEqual([['a', 'b'], ['c']]);
  });
  it('adds after a generated column by appending', () => {
    expect(after([{ op: 'add-column', table: 't', column: int('z'), place: { after: 'g' } }]).columns).toEqual(['id', 'a', 'b', 'c', 'z']);
  });
  it('drops a column: keys re-indexed, the dropped column leaves its unique key', () => {
    const r = after([{ op: 'drop-column', table: 't', column: 'b' }]);
    expect(r.columns).toEqual(['id', 'a', 'c']);
    expect(r.uniques).toEqual([['a'], ['c']]);
    expect(r.table.uniqueKeys).toEqual([[1], [2]]);
  });
  it('drops a single-column unique key with its column', () => {
    expect(after([{ op: 'drop-column', table: 't', column: 'c' }]).uniques).toEqual([['a', 'b']]);
  });
  it('drops a primary key column: the key loses it', () => {
    const r = after([{ op: 'drop-column', table: 't', column: 'id' }]);
    expect(r.pk).toEqual([]);
    expect(r.table.uniqueKeys).toEqual([[0, 1], [2]]);
  });
  it('drops a generated column from generated only', () => {
    const r = after([{ op: 'drop-column', table: 't', column: 'G' }]);
    expect(r.generated).toEqual([]);
    expect(r.columns).toEqual(['id', 'a', 'b', 'c']);
  });
  it('modifies a column in place', () => {
    const r = after([{ op: 'modify-column', table: 't', column: { ...int('b'), columnType: 'bigint(20)', dataType: 'bigint' } }]);
    expect(r.table.columns[2]?.columnType).toBe('bigint(20)');
    expect(r.uniques).toEqual([['a', 'b'], ['c']]);
  });
  it('modifies and moves a column FIRST: keys follow', () => {
    const r = after([{ op: 'modify-column', table: 't', column: int('b'), place: { first: true } }]);
    expect(r.columns).toEqual(['b', 'id', 'a', 'c']);
    expect(r.uniques).toEqual([['a', 'b'], ['c']]);
    expect(r.table.uniqueKeys).toEqual([[2, 0], [3]]);
    expect(r.table.primaryKey).toEqual([1]);
  });
  it('moves a column AFTER another', () => {
    const r = after([{ op: 'modify-column', table: 't', column: int('id'), place: { after: 'c' } }]);
    expect(r.columns).toEqual(['a', 'b', 'c', 'id']);
    expect(r.table.primaryKey).toEqual([3]);
  });
  it('renames a column: keys keep it under its new name', () => {
    const r = after([{ op: 'rename-column', table: 't', from: 'ID', to: 'key' }]);
    expect(r.columns).toEqual(['key', 'a', 'b', 'c']);
    expect(r.pk).toEqual(['key']);
  });
  it('renames then modifies (CHANGE COLUMN)', () => {
    const r = after([
      { op: 'rename-column', table: 't', from: 'b', to: 'bb' },
      { op: 'modify-column', table: 't', column: { ...int('bb'), nullable: true }, place: { after: 'c' } },
    ]);
    expect(r.columns).toEqual(['id', 'a', 'c', 'bb']);
    expect(r.uniques).toEqual([['a', 'bb'], ['c']]);
    expect(r.table.columns[3]?.nullable).toBe(true);
  });
  it('renames a generated column in generated', () => {
    expect(after([{ op: 'rename-column', table: 't', from: 'g', to: 'g2' }]).generated).toEqual(['g2']);
  });
  it('a modify that spells the name in another case takes the new spelling everywhere', () => {
    const r = after([{ op: 'modify-column', table: 't', column: int('B') }]);
    expect(r.columns).toEqual(['id', 'a', 'B', 'c']);
    expect(r.uniques).toEqual([['a', 'B'], ['c']]);
  });
  it('set-default changes no column but makes the create statement stale', () => {
    const r = after([{ op: 'set-default', table: 't', column: 'b', default: { kind: 'literal', value: '3' } }]);
    expect(r.table.columns).toEqual(T.columns);
    expect(r.table.createStatement).toBeUndefined();
  });
  it('several operations apply in order', () => {
    const r = after([
      { op: 'add-column', table: 't', column: int('x'), place: { first: true } },
      { op: 'drop-column', table: 't', column: 'a' },
      { op: 'add-column', table: 't', column: int('y'), place: { after: 'x' } },
      { op: 'rename-column', table: 't', from: 'c', to: 'cc' },
    ]);
    expect(r.columns).toEqual(['x', 'y', 'id', 'b', 'cc']);
    expect(r.pk).toEqual(['id']);
    expect(r.uniques).toEqual([['b'], ['cc']]);
  });
});

describe('applyOperations: indexes', () => {
  it('adds a unique index', () => {
    expect(after([{ op: 'add-index', table: 't', name: 'u_ba', columns: ['b', 'A'], unique: true }]).uniques).toEqual([['a', 'b'], ['c'], ['b', 'a']]);
  });
  it('a non-unique index changes no key', () => {
    expect(after([{ op: 'add-index', table: 't', name: 'k2', columns: ['b'], unique: false }]).uniques).toEqual([['a', 'b'], ['c']]);
  });
  it('drops a unique index known from the create statement', () => {
    expect(after([{ op: 'drop-index', table: 't', name: 'U_AB' }]).uniques).toEqual([['c']]);
    expect(after([{ op: 'drop-index', table: 't', name: 'u_c' }]).uniques).toEqual([['a', 'b']]);
  });
  it('drops a non-unique index: no key changes', () => {
    expect(after([{ op: 'drop-index', table: 't', name: 'k_b' }]).uniques).toEqual([['a', 'b'], ['c']]);
  });
  it('drops an index added earlier in the same statement', () => {
    const r = after([
      { op: 'drop-column', table: 't', column: 'c' },
      { op: 'add-index', table: 't', name: 'x', columns: ['a'], unique: true },
      { op: 'drop-index', table: 't', name: 'u_ab' },
      { op: 'drop-index', table: 't', name: 'x' },
    ]);
    expect(r.uniques).toEqual([]);
  });
  it('drops a unique index whose columns were renamed earlier', () => {
    const r = after([
      { op: 'rename-column', table: 't', from: 'a', to: 'aa' },
      { op: 'drop-index', table: 't', name: 'u_ab' },
    ]);
    expect(r.uniques).toEqual([['c']]);
  });
  it('refuses to drop an index it cannot resolve when the table has unique keys', () => {
    const stale = new Map([['t', { ...T, indexes: undefined }]]) as Map<string, TableSchema>;
    expect(() => applyOperations(stale, [{ op: 'drop-index', table: 't', name: 'u_c' }])).toThrow(/u_c.*no index of that name/);
  });
  it('keeps the indexes by name across statements: a unique key dropped by name after an earlier change (no create statement left) is found', () => {
    const first = applyOperations(tables(), [{ op: 'add-column', table: 't', column: int('x') }]);
    expect(first.get('t')?.createStatement).toBeUndefined();
    const second = applyOperations(first, [{ op: 'drop-index', table: 't', name: 'U_C' }]).get('t');
    expect(second?.uniqueKeys?.map((k) => k.map((i) => second.columns[i]?.name))).toEqual([['a', 'b']]);
    expect(second?.indexes?.map((i) => i.name)).toEqual(['u_ab', 'k_b']);
  });
  it('renames an index: a later drop by the new name finds it, by the old name is refused', () => {
    const renamed = applyOperations(tables(), [{ op: 'rename-index', table: 't', from: 'u_c', to: 'by_c' }]);
    expect(renamed.get('t')?.indexes?.find((i) => i.name === 'by_c')).toEqual({ name: 'by_c', columns: ['c'], unique: true });
    expect(applyOperations(renamed, [{ op: 'drop-index', table: 't', name: 'by_c' }]).get('t')?.uniqueKeys).toEqual([[1, 2]]);
    expect(() => applyOperations(renamed, [{ op: 'drop-index', table: 't', name: 'u_c' }])).toThrow(/u_c.*no index of that name/);
    expect(() => applyOperations(tables(), [{ op: 'rename-index', table: 't', from: 'nope', to: 'x' }])).toThrow(/no index 'nope'/);
    expect(() => applyOperations(tables(), [{ op: 'rename-index', table: 't', from: 'u_c', to: 'K_B' }])).toThrow(/an index 'K_B' exists/);
  });
  it('a dropped column leaves every index, and an index left with no column is gone; a renamed column follows into them', () => {
    const out = applyOperations(tables(), [
      { op: 'drop-column', table: 't', column: 'c' },
      { op: 'rename-column', table: 't', from: 'b', to: 'bee' },
    ]).get('t');
    expect(out?.indexes).toEqual([
      { name: 'u_ab', columns: ['a', 'bee'], unique: true },
      { name: 'k_b', columns: ['bee'], unique: false },
    ]);
  });
  it('an unknown index on a table without unique keys changes nothing', () => {
    const out = applyOperations(tables(), [{ op: 'drop-index', table: 'u', name: 'whatever' }]).get('u');
    expect(out?.uniqueKeys ?? []).toEqual([]);
  });
  it('primary keys: drop then add', () => {
    const r = after([
      { op: 'drop-index', table: 't', name: 'PRIMARY', primary: true },
      { op: 'add-index', table: 't', name: 'PRIMARY', columns: ['id', 'b'], unique: true, primary: true },
    ]);
    expect(r.pk).toEqual(['id', 'b']);
    expect(r.uniques).toEqual([['a', 'b'], ['c']]);
  });
  it('refuses a second primary key and an index on a missing column', () => {
    refused([{ op: 'add-index', table: 't', name: 'PRIMARY', columns: ['b'], unique: true, primary: true }], /primary key already/);
    refused([{ op: 'add-index', table: 't', name: 'k', columns: ['nope'], unique: false }], /no written column 'nope'/);
    refused([{ op: 'add-index', table: 't', name: 'u_c', columns: ['a'], unique: true }], /exists/);
  });
});

describe('applyOperations: a table keyed by a unique key', () => {
  it('keeps its key when that unique key is dropped and added again in one statement, though another comes first', () => {
    const k: TableSchema = {
      name: 'k',
      columns: [int('a'), int('b')],
      primaryKey: [1],
      keyFromUnique: true,
      uniqueKeys: [[1], [0]],
      indexes: [
        { name: 'ub', columns: ['b'], unique: true },
        { name: 'ua', columns: ['a'], unique: true },
      ],
      generated: [],
      engine: 'mysql',
    };
    const out = applyOperations(new Map([['k', k]]), [
      { op: 'drop-index', table: 'k', name: 'ub' },
      { op: 'add-index', table: 'k', name: 'ub', columns: ['b'], unique: true },
    ]).get('k') as TableSchema;
    expect(out.keyFromUnique).toBe(true);
    expect(out.primaryKey).toEqual([1]);
    // Once that key is gone for good, the next usable one takes over.
    const gone = applyOperations(new Map([['k', k]]), [{ op: 'drop-index', table: 'k', name: 'ub' }]).get('k') as TableSchema;
    expect(gone.primaryKey).toEqual([0]);
  });
});

describe('applyOperations: tables', () => {
  it('renames a table: entry and name', () => {
    const out = applyOperations(tables(), [{ op: 'rename-tables', pairs: [{ from: 't', to: 't2' }] }]);
    expect([...out.keys()].sort()).toEqual(['t2', 'u']);
    expect(out.get('t2')?.name).toBe('t2');
    expect(out.get('t2')?.createStatement).toBeUndefined();
    expect(out.get('u')).toBe(U);
  });
  it('swaps two tables through a temporary name', () => {
    const out = applyOperations(tables(), [
      {
        op: 'rename-tables',
        pairs: [
          { from: 't', to: 'tmp' },
          { from: 'u', to: 't' },
          { from: 'tmp', to: 'u' },
        ],
      },
    ]);
    expect(out.get('t')?.columns.map((c) => c.name)).toEqual(['k']);
    expect(out.get('u')?.columns.map((c) => c.name)).toEqual(['id', 'a', 'b', 'c']);
    expect(out.get('u')?.name).toBe('u');
    expect(out.has('tmp')).toBe(false);
  });
  it('refuses a rename onto an existing table', () => {
    refused([{ op: 'rename-tables', pairs: [{ from: 't', to: 'u' }] }], /'u' already exists/);
  });
  it('creates and drops tables', () => {
    const v: TableSchema = { name: 'v', columns: [int('id')], primaryKey: [0], generated: [], engine: 'mysql' };
    const out = applyOperations(tables(), [{ op: 'create-table', table: v }, { op: 'drop-table', table: 'T' }]);
    expect([...out.keys()].sort()).toEqual(['u', 'v']);
    expect(out.get('v')).toBe(v);
    refused([{ op: 'create-table', table: { ...v, name: 'U' } }], /already synced/);
  });
  it('truncate changes nothing', () => {
    expect(applyOperations(tables(), [{ op: 'truncate', table: 't' }]).get('t')).toBe(T);
  });
  it('table options keep the columns and drop the stale create statement', () => {
    const r = after([{ op: 'table-options', table: 't', sourceText: 'ENGINE=InnoDB' }]);
    expect(r.table.columns).toEqual(T.columns);
    expect(r.table.createStatement).toBeUndefined();
  });
  it('does not modify its input', () => {
    const input = tables();
    applyOperations(input, [{ op: 'drop-column', table: 't', column: 'a' }, { op: 'rename-tables', pairs: [{ from: 'u', to: 'w' }] }]);
    expect(input.get('t')).toBe(T);
    expect(T.columns).toHaveLength(4);
    expect([...input.keys()]).toEqual(['t', 'u']);
  });
});

describe('applyOperations: charset', () => {
  it('converts every character column and its logical type; others unchanged', () => {
    const r = after([{ op: 'convert-charset', table: 't', charset: 'utf8mb4', collation: 'utf8mb4_unicode_ci' }]);
    const a = r.table.columns[1];
    expect(a?.charset).toBe('utf8mb4');
    expect(a?.collation).toBe('utf8mb4_unicode_ci');
    expect(a?.logical).toEqual({ kind: 'text', length: 20, fixed: false, charset: 'utf8mb4', collation: 'utf8mb4_unicode_ci' });
    expect(r.table.columns[0]).toEqual(T.columns[0]);
  });
  it('leaves binary columns alone', () => {
    const bin: Column = { name: 'bin', dataType: 'varbinary', columnType: 'varbinary(4)', nullable: true, unsigned: false, charset: 'binary' };
    const t: TableSchema = { ...U, columns: [int('k'), bin] };
    const out = applyOperations(new Map([['u', t]]), [{ op: 'convert-charset', table: 'u', charset: 'utf8mb4', collation: 'utf8mb4_general_ci' }]);
    expect(out.get('u')?.columns[1]).toEqual(bin);
  });
});

describe('applyOperations: refusals name the table or column', () => {
  it.each<[SchemaOperation, RegExp]>([
    [{ op: 'add-column', table: 'nope', column: int('x') }, /table 'nope'/],
    [{ op: 'drop-column', table: 't', column: 'nope' }, /t\.nope/],
    [{ op: 'modify-column', table: 't', column: int('nope') }, /no written column 'nope'/],
    [{ op: 'modify-column', table: 't', column: int('g') }, /generated/],
    [{ op: 'rename-column', table: 't', from: 'nope', to: 'x' }, /'nope'/],
    [{ op: 'rename-column', table: 't', from: 'a', to: 'B' }, /'B' already exists/],
    [{ op: 'add-column', table: 't', column: int('A') }, /already exists/],
    [{ op: 'add-column', table: 't', column: int('x'), place: { after: 'nope' } }, /no column 'nope'/],
    [{ op: 'set-default', table: 't', column: 'nope', default: null }, /'nope'/],
    [{ op: 'drop-table', table: 'nope' }, /'nope'/],
    [{ op: 'truncate', table: 'nope' }, /'nope'/],
    [{ op: 'rename-tables', pairs: [{ from: 'nope', to: 'x' }] }, /'nope'/],
    [{ op: 'drop-index', table: 'u', name: 'PRIMARY', primary: true }, /u/],
  ])('%j', (op, match) => {
    if (op.op === 'drop-index') {
      const noPk = new Map([['u', { ...U, primaryKey: [] }]]);
      expect(() => applyOperations(noPk, [op])).toThrow(/no primary key/);
      return;
    }
    refused([op], match);
  });
});

describe('foreign keys added and dropped by schema changes', () => {
  const fk = (name: string, columns: string[]) => ({ name, columns, referencedTable: 'u', referencedColumns: ['k'], onUpdate: 'RESTRICT' as const, onDelete: 'CASCADE' as const });
  const add = (name: string, columns: string[]): SchemaOperation => ({ op: 'add-foreign-key', table: 't', foreignKey: fk(name, columns) });

  it('an added key joins the definition; one over an indexed column keeps the indexes known', () => {
    const t = applyOperations(tables(), [add('fk_b', ['b'])]).get('t') as TableSchema;
    expect(t.foreignKeys).toEqual([fk('fk_b', ['b'])]);
    expect(t.indexes?.map((i) => i.name)).toEqual(['u_ab', 'u_c', 'k_b']);
  });

  it('one over columns no index begins with makes the indexes not known (the server adds one by a name not certain)', () => {
    // u_ab begins with a; the primary key with id.
    expect(applyOperations(tables(), [add('fk_a', ['a'])]).get('t')?.indexes).toHaveLength(3);
    expect(applyOperations(tables(), [add('fk_id', ['id'])]).get('t')?.indexes).toHaveLength(3);
    expect(applyOperations(tables(), [add('fk_ca', ['c', 'a'])]).get('t')?.indexes).toBeUndefined();
    expect(applyOperations(tables(), [add('fk_idc', ['id', 'c'])]).get('t')?.indexes).toBeUndefined();
  });

  it('a dropped key leaves; a rename of its column follows into it; a second key of one name is refused', () => {
    const withKey = applyOperations(tables(), [add('fk_b', ['b'])]);
    const renamed = applyOperations(withKey, [{ op: 'rename-column', table: 't', from: 'b', to: 'bb' }]).get('t') as TableSchema;
    expect(renamed.foreignKeys?.[0]?.columns).toEqual(['bb']);
    expect(applyOperations(withKey, [{ op: 'drop-foreign-key', table: 't', name: 'FK_B' }]).get('t')?.foreignKeys).toEqual([]);
    expect(() => applyOperations(withKey, [add('fk_b', ['b'])])).toThrow(/already exists/);
  });
});
