import { describe, expect, it } from 'vitest';
import type { TableSchema } from '../../src/core/schema.js';
import { Batch } from '../../src/stream/batch.js';

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

  it('treats keys equal under a _ci PAD SPACE collation as one key, and _bin keys as distinct', () => {
    const b = new Batch(new Map([['t', ci], ['b', bin]]));
    b.add({ kind: 'upsert', table: 't', key: ['A '], row: ['A ', 1n] });
    b.add({ kind: 'delete', table: 't', key: ['a'] });
    b.add({ kind: 'upsert', table: 'b', key: ['A'], row: ['A', 1n] });
    b.add({ kind: 'delete', table: 'b', key: ['a'] });
    const { changes } = b.drain();
    expect(changes.filter((c) => c.table === 't')).toEqual([{ kind: 'delete', table: 't', key: ['a'] }]);
    expect(changes.filter((c) => c.table === 'b')).toHaveLength(2);
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
