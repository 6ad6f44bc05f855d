import { describe, expect, it } from 'vitest';
import { compareRows, stillDiffering } from '../../src/checksum/compare.js';
import { Digest, RowHasher } from '../../src/checksum/hash.js';
import { planTable } from '../../src/checksum/plan.js';
import { formatReport, jsonValue, type VerifyResult } from '../../src/checksum/report.js';
import type { Column, TableSchema } from '../../src/core/schema.js';
import type { Row } from '../../src/core/values.js';
import { withLogical as mysqlWithLogical } from '../../src/engines/mysql/types.js';
import { withLogical as postgresWithLogical } from '../../src/engines/postgres/types.js';

const col = (name: string, dataType: string, columnType: string, extra: Partial<Column> = {}): Column => ({ name, dataType, columnType, nullable: true, unsigned: false, ...extra });

/** A table as its engine's describe gives it: with each column's logical type. */
function table(engine: 'mysql' | 'postgres', columns: Column[], primaryKey: number[]): TableSchema {
  const t: TableSchema = { name: 't', columns, primaryKey, generated: [], engine };
  return engine === 'mysql' ? mysqlWithLogical(t) : postgresWithLogical(t);
}

describe('row hashes', () => {
  const h = new RowHasher();
  const hex = (row: Row) => h.hash(row).toString('hex');

  it('encode values unambiguously (lengths, types, NULL)', () => {
    expect(hex(['a', 'bc'])).not.toBe(hex(['ab', 'c']));
    expect(hex(['1'])).not.toBe(hex([1n]));
    expect(hex([1n])).not.toBe(hex([1]));
    expect(hex([null])).not.toBe(hex(['']));
    expect(hex([Buffer.from('a')])).not.toBe(hex(['a']));
    expect(hex([true])).not.toBe(hex([1n]));
    expect(hex([0])).not.toBe(hex([-0]));
    expect(hex([NaN])).toBe(hex([Number('x')]));
    expect(hex(['ü'])).toBe(hex(['ü']));
    expect(hex(['x'.repeat(10_000)])).not.toBe(hex(['x'.repeat(10_001)]));
  });

  it('sum independently of order, and duplicates add up instead of cancelling', () => {
    const rows: Row[] = [[1n, 'a'], [2n, 'b'], [3n, 'c']];
    const a = new Digest();
    const b = new Digest();
    for (const r of rows) a.add(h.hash(r));
    for (const r of [...rows].reverse()) b.add(h.hash(r));
    expect(a.equals(b)).toBe(true);
    // XOR of {x, x, y} equals {y}; the sum does not, nor does the count.
    const twice = new Digest();
    const once = new Digest();
    twice.add(h.hash([1n, 'x']));
    twice.add(h.hash([1n, 'x']));
    twice.add(h.hash([2n, 'y']));
    once.add(h.hash([2n, 'y']));
    expect(twice.equals(once)).toBe(false);
    // Same count, one row duplicated in place of another.
    const dup = new Digest();
    for (const r of [[1n, 'a'], [1n, 'a'], [3n, 'c']] as Row[]) dup.add(h.hash(r));
    expect(dup.count).toBe(a.count);
    expect(dup.equals(a)).toBe(false);
  });

  it('carries across the 32-bit limbs modulo 2^128', () => {
    const ff = Buffer.alloc(16, 0xff);
    const one = Buffer.alloc(16);
    one[0] = 1;
    const d = new Digest();
    d.add(ff);
    d.add(one);
    expect(d.sum()).toBe('0'.repeat(32));
    const many = new Digest();
    for (let i = 0; i < (1 << 20) + 5; i++) many.add(ff);
    // (2^20 + 5) · (2^128 − 1) ≡ −(2^20 + 5) mod 2^128
    const expected = ((1n << 128n) - BigInt((1 << 20) + 5)).toString(16);
    expect(many.sum()).toBe(expected);
    const merged = new Digest();
    merged.merge(d);
    merged.merge(many);
    expect(merged.sum()).toBe(expected);
    expect(merged.count).toBe(many.count + 2);
  });
});

describe('chunk comparison', () => {
  const mysql = table('mysql', [col('id', 'bigint', 'bigint(20) unsigned', { unsigned: true }), col('v', 'decimal', 'decimal(10,2)'), col('at', 'datetime', 'datetime(6)')], [0]);
  const pgTarget = table('postgres', [col('id', 'numeric', 'numeric(20,0)'), col('v', 'numeric', 'numeric(10,2)'), col('at', 'timestamp', 'timestamp(6) without time zone')], [0]);
  const plan = planTable(mysql, pgTarget, { zeroDates: 'error' });
  const src: Row[] = [
    [1n, '1.50', '2024-01-01 00:00:00.500000'],
    [2n, '2.00', '2024-01-01 00:00:00.000000'],
    [18446744073709551615n, '-3.25', null],
  ];
  const dst: Row[] = [
    ['18446744073709551615', '-3.25', null],
    ['2', '2.00', '2024-01-01 00:00:00'],
    ['1', '1.50', '2024-01-01 00:00:00.5'],
  ];

  it('finds equal chunks equal across engines, in any row order', () => {
    const c = compareRows(plan, src, dst);
    expect(c.equal).toBe(true);
    expect(c.differences).toEqual([]);
    expect(c.sourceRows).toBe(3);
    expect(c.targetRows).toBe(3);
  });

  it('lists keys missing, extra and changed, with the changed columns', () => {
    const drifted: Row[] = [['1', '1.51', '2024-01-01 00:00:00.5'], ['18446744073709551615', '-3.25', null], ['7', '0.00', null]];
    const c = compareRows(plan, src, drifted);
    expect(c.equal).toBe(false);
    const byKind = Object.fromEntries(c.differences.map((d) => [d.kind, d]));
    expect(byKind.changed?.key).toEqual([1n]);
    expect(byKind.changed?.columns).toEqual(['v']);
    expect(byKind.changed?.sourceRow).toEqual(src[0]);
    expect(byKind.missing?.key).toEqual([2n]);
    // An extra key comes back in the source's form (numeric(20,0) text → the integer).
    expect(byKind.extra?.key).toEqual([7n]);
    expect(byKind.extra?.sourceRow).toBeUndefined();
  });

  it('keeps only keys that differ at every re-read', () => {
    const first = compareRows(plan, src, [dst[0]!, dst[1]!]).differences;
    expect(first.map((d) => d.kind)).toEqual(['missing']);
    const later = compareRows(plan, src, dst).differences;
    expect(stillDiffering(first, later)).toEqual([]);
    const other = compareRows(plan, src, [dst[0]!, dst[2]!]).differences;
    expect(stillDiffering(first, other)).toEqual([]);
    expect(stillDiffering(first, first)).toHaveLength(1);
  });
});

describe('comparison modes', () => {
  it('ranges for numeric and temporal keys across engines', () => {
    const s = table('postgres', [col('at', 'timestamptz', 'timestamp with time zone'), col('n', 'int4', 'integer')], [0, 1]);
    const t = table('mysql', [col('at', 'datetime', 'datetime(6)'), col('n', 'int', 'int(11)')], [0, 1]);
    expect(planTable(s, t, { zeroDates: 'error' }).mode).toBe('range');
  });

  it('keys for a character key across engines, or under other collations', () => {
    const s = table('mysql', [col('k', 'varchar', 'varchar(20)', { collation: 'utf8mb4_general_ci' })], [0]);
    const pg = table('postgres', [col('k', 'varchar', 'character varying(20)', { collation: 'default' })], [0]);
    expect(planTable(s, pg, { zeroDates: 'error' }).mode).toBe('keys');
    const other = table('mysql', [col('k', 'varchar', 'varchar(20)', { collation: 'utf8mb4_bin' })], [0]);
    expect(planTable(s, other, { zeroDates: 'error' }).mode).toBe('keys');
    expect(planTable(s, s, { zeroDates: 'error' }).mode).toBe('range');
  });

  it('multiset for a table without a primary key', () => {
    const s = table('mysql', [col('a', 'int', 'int(11)')], []);
    expect(planTable(s, s, { zeroDates: 'error' }).mode).toBe('multiset');
  });
});

describe('report', () => {
  it('renders values for JSON exactly and prints no more than it holds', () => {
    expect(jsonValue(18446744073709551615n)).toBe('18446744073709551615');
    expect(jsonValue(42n)).toBe(42);
    expect(jsonValue(Buffer.from([0, 255]))).toBe('0xff'.replace('ff', '00ff'));
    expect(jsonValue(-0)).toBe('-0');
    expect(jsonValue(NaN)).toBe('NaN');
    const r: VerifyResult = {
      equal: false,
      repair: false,
      source: 'mysql://u@h:1/d',
      target: 'postgres://u@h:2/d',
      durationMs: 1200,
      totals: { tables: 1, tablesDiffering: 1, rowsChecked: 10, chunks: 1, missing: 1, extra: 0, changed: 0, repaired: 0, remaining: 1 },
      tables: [
        {
          table: 't',
          mode: 'range',
          reason: '',
          rowsChecked: 10,
          targetRows: 9,
          chunks: 1,
          chunksDiffering: 1,
          rechecks: 2,
          missing: 1,
          extra: 0,
          changed: 0,
          repaired: 0,
          remaining: 1,
          ranges: [{ scope: 'range', after: null, upTo: { id: 10 }, sourceRows: 10, targetRows: 9, differences: 1, keys: [{ kind: 'missing', key: { id: 3 }, repaired: false }] }],
          rangesTruncated: false,
          notes: [],
          equal: false,
        },
      ],
    };
    const text = formatReport(r);
    expect(text).toContain('t: 10 rows checked in 1 chunk (range): 1 difference in 1 chunk (1 missing on target); 1 remaining');
    expect(text).toContain('range (start .. id=10]: 1 difference');
    expect(text).toContain('missing on target id=3');
    expect(text).toContain('1 table differs, 1 difference remaining');
  });
});
