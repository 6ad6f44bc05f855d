import { describe, expect, it } from 'vitest';
import type { Change } from '../../src/core/change.js';
import type { TableSchema } from '../../src/core/schema.js';
import { Batch } from '../../src/stream/batch.js';
import { opBytes } from '../../src/copier/convergence.js';

const ci: TableSchema = {
  name: 't',
  engine: 'mysql',
  generated: [],
  primaryKey: [0],
  columns: [
    { name: 'k', dataType: 'varchar', columnType: 'varchar(10)', nullable: false, unsigned: false, charset: 'utf8mb4', collation: 'utf8mb4_general_ci' },
    { name: 'v', dataType: 'int', columnType: 'int(11)', nullable: true, unsigned: false },
  ],
};
const bin: TableSchema = { ...ci, name: 'b', columns: [{ ...ci.columns[0]!, collation: 'utf8mb4_bin' }, ci.columns[1]!] };

describe('Batch coalescing', () => {
  it('keeps the last image per key', () => {
    const b = new Batch(new Map([['t', ci]]));
    b.add({ kind: 'upsert', table: 't', key: ['a'], row: ['a', 1n] });
    b.add({ kind: 'upsert', table: 't', key: ['a'], row: ['a', 2n] });
    b.add({ kind: 'delete', table: 't', key: ['x'] });
    const out = b.drain();
    expect(out.changes).toEqual([
      { kind: 'upsert', table: 't', key: ['a'], row: ['a', 2n] },
      { kind: 'delete', table: 't', key: ['x'] },
    ]);
    expect(b.empty).toBe(true);
  });

  it('keeps keys exact: keys equal under a _ci collation but different in bytes stay apart', () => {
    const b = new Batch(new Map([['t', ci], ['b', bin]]));
    // UPDATE k = 'ABC' WHERE k = 'abc' arrives as delete 'abc' + upsert 'ABC'; both must survive.
    b.add({ kind: 'delete', table: 't', key: ['abc'] });
    b.add({ kind: 'upsert', table: 't', key: ['ABC'], row: ['ABC', 1n] });
    // 'k' and the Kelvin sign fold together in JavaScript but are two rows in the database.
    b.add({ kind: 'upsert', table: 't', key: ['k'], row: ['k', 1n] });
    b.add({ kind: 'upsert', table: 't', key: ['\u212a'], row: ['\u212a', 2n] });
    const { changes } = b.drain();
    expect(changes.map((c) => [c.kind, c.key[0]])).toEqual([
      ['delete', 'abc'],
      ['upsert', 'ABC'],
      ['upsert', 'k'],
      ['upsert', '\u212a'],
    ]);
  });

  it('a truncate discards what came before it in the table', () => {
    const b = new Batch(new Map([['t', ci]]));
    b.add({ kind: 'upsert', table: 't', key: ['a'], row: ['a', 1n] });
    b.add({ kind: 'truncate', table: 't' });
    b.add({ kind: 'upsert', table: 't', key: ['b'], row: ['b', 1n] });
    const out = b.drain();
    expect(out.truncates).toEqual(['t']);
    expect(out.changes).toEqual([{ kind: 'upsert', table: 't', key: ['b'], row: ['b', 1n] }]);
  });
});

describe('Batch with partial images (PostgreSQL unchanged TOAST columns)', () => {
  it('fills unchanged columns from an earlier image of the same key, and keeps them unchanged otherwise', () => {
    const b = new Batch(new Map([['t', ci]]));
    b.add({ kind: 'upsert', table: 't', key: ['a'], row: ['a', 1n] });
    b.add({ kind: 'upsert', table: 't', key: ['a'], row: ['a', null], unchanged: [1] });
    b.add({ kind: 'upsert', table: 't', key: ['b'], row: ['b', null], unchanged: [1] });
    const { changes } = b.drain();
    expect(changes).toEqual([
      { kind: 'upsert', table: 't', key: ['a'], row: ['a', 1n] },
      { kind: 'upsert', table: 't', key: ['b'], row: ['b', null], unchanged: [1] },
    ]);
  });

  it('leaves a delete when a partial image of the same key follows it (no row for it to update)', () => {
    const b = new Batch(new Map([['t', ci]]));
    b.add({ kind: 'delete', table: 't', key: ['a'] });
    b.add({ kind: 'upsert', table: 't', key: ['a'], row: ['a', null], unchanged: [1] });
    b.add({ kind: 'delete', table: 't', key: ['b'] });
    b.add({ kind: 'upsert', table: 't', key: ['b'], row: ['b', 2n] });
    b.add({ kind: 'upsert', table: 't', key: ['b'], row: ['b', null], unchanged: [1] });
    const { changes } = b.drain();
    expect(changes).toEqual([
      { kind: 'delete', table: 't', key: ['a'] },
      { kind: 'upsert', table: 't', key: ['b'], row: ['b', 2n] },
    ]);
  });
});

describe('Batch bytes', () => {
  it('counts bytes per table, drains some tables only, and keeps the rest counted', () => {
    const b = new Batch(new Map([['t', ci], ['b', bin]]));
    const t1: Change = { kind: 'upsert', table: 't', key: ['a'], row: ['a', 1n] };
    const b1: Change = { kind: 'upsert', table: 'b', key: ['a'], row: ['a', 'x'.repeat(50)] };
    b.add(t1);
    b.add(b1);
    b.add(b1);
    expect(b.bytes).toBe(opBytes(t1) + 2 * opBytes(b1));
    expect(b.tableBytes()).toEqual([
      { table: 'b', bytes: 2 * opBytes(b1) },
      { table: 't', bytes: opBytes(t1) },
    ]);
    expect(b.drain((name) => name === 'b').changes).toEqual([b1]);
    expect(b.bytes).toBe(opBytes(t1));
    expect(b.empty).toBe(false);
    b.add({ kind: 'truncate', table: 't' });
    expect(b.bytes).toBe(0);
    expect(b.drain().truncates).toEqual(['t']);
    expect(b.empty).toBe(true);
  });
});

describe('Batch: a keyless table is never coalesced', () => {
  const keyless: TableSchema = { ...ci, name: 'n', primaryKey: [] };
  const up = (row: Change['key']): Change => ({ kind: 'upsert', table: 'n', key: row, row });
  const del = (row: Change['key']): Change => ({ kind: 'delete', table: 'n', key: row });

  it('keeps every change, equal images included, in stream order', () => {
    const b = new Batch(new Map([['n', keyless], ['t', ci]]));
    const ops = [up(['a', 1n]), up(['a', 1n]), del(['a', 1n]), up(['a', 1n]), del(['b', null]), up(['b', 2n])];
    for (const op of ops) b.add(op);
    // A keyed table beside it still coalesces.
    b.add({ kind: 'upsert', table: 't', key: ['x'], row: ['x', 1n] });
    b.add({ kind: 'upsert', table: 't', key: ['x'], row: ['x', 2n] });
    expect(b.changes).toBe(8);
    const { changes } = b.drain();
    expect(changes.filter((c) => c.table === 'n')).toEqual(ops);
    expect(changes.filter((c) => c.table === 't')).toEqual([{ kind: 'upsert', table: 't', key: ['x'], row: ['x', 2n] }]);
  });

  it('counts the bytes of every change, and a truncate still discards what came before it', () => {
    const b = new Batch(new Map([['n', keyless]]));
    b.add(up(['a', 1n]));
    b.add(up(['a', 1n]));
    expect(b.bytes).toBe(2 * opBytes(up(['a', 1n])));
    b.add({ kind: 'truncate', table: 'n' });
    b.add(up(['c', 3n]));
    b.add(up(['c', 3n]));
    const out = b.drain();
    expect(out.truncates).toEqual(['n']);
    expect(out.changes).toEqual([up(['c', 3n]), up(['c', 3n])]);
    expect(b.bytes).toBe(0);
  });
});
