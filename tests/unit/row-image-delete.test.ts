import { describe, expect, it } from 'vitest';
import type { Column, TableSchema } from '../../src/core/schema.js';
import { rowImageDelete as mysqlDelete } from '../../src/engines/mysql/apply.js';
import { literal } from '../../src/engines/mysql/sql.js';
import { rowImageDelete as pgDelete } from '../../src/engines/postgres/apply.js';
import { buildPlan } from '../../src/engines/postgres/load.js';
import type { TargetColumn } from '../../src/engines/postgres/sql.js';

const col = (name: string, dataType: string, extra: Partial<Column> = {}): Column => ({ name, dataType, columnType: dataType, nullable: true, unsigned: false, ...extra });

/** A keyless table (no primary key, no unique key on NOT NULL columns). */
const logs: TableSchema = {
  name: 'lo`gs',
  engine: 'mysql',
  generated: [],
  primaryKey: [],
  columns: [
    col('id', 'int', { logical: { kind: 'integer', bytes: 4, signed: true } }),
    col('msg', 'varchar', { charset: 'utf8mb4' }),
    col('f', 'float', { logical: { kind: 'float', bits: 32 } }),
    col('d', 'double', { logical: { kind: 'float', bits: 64 } }),
    col('amount', 'decimal'),
  ],
};

describe('MySQL: DELETE of one row equal to a row image', () => {
  const lit = (v: Parameters<typeof literal>[0]) => literal(v);
  it('compares every column NULL-safely and deletes one row', () => {
    expect(mysqlDelete(logs, [1n, "it's", null, 0.5, null], lit)).toBe(
      "DELETE FROM `lo``gs` WHERE `id` <=> 1 AND `msg` <=> 'it\\'s' AND `f` <=> NULL AND `d` <=> 0.5 AND `amount` <=> NULL LIMIT 1",
    );
  });
  it('compares a FLOAT as a FLOAT (its stored float32, not the double of its decimal text)', () => {
    const sql = mysqlDelete(logs, [2n, 'x', 1.1, 1.1, '3.10'], (v, i) => (i === 4 ? String(v) : literal(v)));
    expect(sql).toContain('`f` <=> CAST(1.1 AS FLOAT)');
    // A DOUBLE compares with its round-trippable literal as it is; a DECIMAL by the literal given.
    expect(sql).toContain('`d` <=> 1.1 AND `amount` <=> 3.10 LIMIT 1');
  });
  it('uses the column literals it is given (a table from another engine) by column index', () => {
    const seen: number[] = [];
    mysqlDelete(logs, [1n, 'a', 1, 2, '3'], (v, i) => (seen.push(i), literal(v)));
    expect(seen).toEqual([0, 1, 2, 3, 4]);
  });
});

describe('PostgreSQL: DELETE of one row equal to a row image', () => {
  const pgTable: TableSchema = {
    name: 'Logs',
    engine: 'postgres',
    generated: [],
    primaryKey: [],
    columns: [col('id', 'integer'), col('doc', 'json'), col('at', 'point'), col('tags', 'text[]'), col('r', 'real')],
  };
  const cols: TargetColumn[] = [
    { name: 'id', sqlType: 'integer', kind: 'int' },
    { name: 'doc', sqlType: 'json', kind: 'text' },
    { name: 'at', sqlType: 'point', kind: 'text' },
    { name: 'tags', sqlType: 'text[]', kind: 'text' },
    { name: 'r', sqlType: 'real', kind: 'float4' },
  ];
  const plan = buildPlan('public', pgTable, cols, 0, 'error');

  it('selects one row by (tableoid, ctid), every column IS NOT DISTINCT FROM its parameter parsed into the column type', () => {
    expect(pgDelete(plan)).toBe(
      'DELETE FROM "public"."Logs" WHERE (tableoid, ctid) = (SELECT tableoid, ctid FROM "public"."Logs" WHERE ' +
        '"id" IS NOT DISTINCT FROM $1::integer AND ' +
        '"doc"::text IS NOT DISTINCT FROM ($2::json)::text AND ' +
        '"at"::text IS NOT DISTINCT FROM ($3::point)::text AND ' +
        '"tags" IS NOT DISTINCT FROM $4::text[] AND ' +
        '"r" IS NOT DISTINCT FROM $5::real LIMIT 1)',
    );
  });
  it('compares jsonb by its own equality, json and the geometric types (and their arrays) by text', () => {
    const p = buildPlan('s', { ...pgTable, columns: [col('a', 'jsonb'), col('b', 'json'), col('c', 'box')] }, [
      { name: 'a', sqlType: 'jsonb', kind: 'text' },
      { name: 'b', sqlType: 'json[]', kind: 'text' },
      { name: 'c', sqlType: 'box', kind: 'text' },
    ], 1, 'error');
    const sql = pgDelete(p);
    expect(sql).toContain('"a" IS NOT DISTINCT FROM $1::jsonb');
    expect(sql).toContain('"b"::text IS NOT DISTINCT FROM ($2::json[])::text');
    expect(sql).toContain('"c"::text IS NOT DISTINCT FROM ($3::box)::text');
  });
  it('a keyless table\'s plan inserts without ON CONFLICT or key order, and keeps no holder deletes', () => {
    expect(plan.onConflict).toBe('');
    expect(plan.orderByKey).toBe('');
    expect(buildPlan('public', { ...pgTable, uniqueKeys: [[0]] }, cols, 0, 'error').uniqueKeys).toEqual([]);
  });
});
