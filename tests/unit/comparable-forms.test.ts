/**
 * Every comparable form a column rule names (checksum/normalise.ts ColumnRule.form) is one both
 * engines can render for the columns of that pair (engines/<engine>/digest.ts comparableField), for
 * every table of the type corpus and the table a sync of it creates on the other engine: a form an
 * engine could not render would quietly turn the table's digests off. And the fields each engine
 * renders are what core/comparable.ts says, for the texts that are easy to get wrong.
 */
import { describe, expect, it } from 'vitest';
import { planTable } from '../../src/checksum/plan.js';
import type { ComparableForm } from '../../src/core/comparable.js';
import type { Column, TableSchema } from '../../src/core/schema.js';
import { comparableField as mysqlField } from '../../src/engines/mysql/digest.js';
import { codecFor } from '../../src/engines/mysql/values.js';
import { comparableField as postgresField } from '../../src/engines/postgres/digest.js';
import { corpusTables } from '../helpers/types-corpus.js';

function field(table: TableSchema, col: Column, form: ComparableForm): string | undefined {
  return table.engine === 'mysql' ? mysqlField(col, codecFor(col, `\`${col.name}\``), form) : postgresField(col, form);
}

const pairs = corpusTables().flatMap((c) => Object.entries(c.targets).map(([engine, target]) => ({ name: `${c.table.name} → ${engine}`, source: c.table, target })));

describe('comparable forms over the type corpus', () => {
  it.each(pairs.map((p) => [p.name, p] as const))('%s: every form a rule names, both engines render', (_, p) => {
    const plan = planTable(p.source, p.target, { zeroDates: 'error' });
    const byName = new Map(p.target.columns.map((c) => [c.name, c]));
    const unrendered: string[] = [];
    plan.rules.forEach((r, i) => {
      if (!r.form) return;
      const sc = p.source.columns[i] as Column;
      const tc = byName.get(sc.name) as Column;
      if (field(p.source, sc, r.form) === undefined) unrendered.push(`${sc.name} (${sc.columnType}) as ${r.form} on the source`);
      if (field(p.target, tc, r.form) === undefined) unrendered.push(`${tc.name} (${tc.columnType}) as ${r.form} on the target`);
    });
    expect(unrendered).toEqual([]);
  });

  it('covers the common types in both directions', () => {
    const formed = pairs.flatMap((p) => planTable(p.source, p.target, { zeroDates: 'error' }).rules.map((r) => r.form).filter(Boolean));
    expect(new Set(formed)).toEqual(new Set(['int', 'decimal', 'float', 'text', 'char', 'bytes', 'date', 'datetime', 'instant']));
  });
});

describe('comparable fields', () => {
  const my = (dataType: string, columnType: string, logical: Column['logical']): Column => ({ name: 'c', dataType, columnType, nullable: true, unsigned: false, charset: 'utf8mb4', logical });

  it('MySQL: a YEAR as its number, a DECIMAL and a DATETIME with a fraction trimmed, zero as 0', () => {
    const f = (c: Column, form: ComparableForm) => mysqlField(c, codecFor(c, '`c`'), form);
    expect(f(my('year', 'year(4)', { kind: 'year' }), 'int')).toBe("IFNULL(`c` + 0, 'N')");
    expect(f(my('decimal', 'decimal(10,2)', { kind: 'decimal', precision: 10, scale: 2 }), 'decimal')).toBe("IFNULL(IF(`c` = 0, '0', TRIM(TRAILING '.' FROM TRIM(TRAILING '0' FROM `c`))), 'N')");
    // Scale 0: nothing trimmed ('100' stays '100').
    expect(f(my('decimal', 'decimal(10,0)', { kind: 'decimal', precision: 10, scale: 0 }), 'decimal')).toBe("IFNULL(`c`, 'N')");
    expect(f(my('datetime', 'datetime', { kind: 'timestamp', zone: false, fsp: 0 }), 'datetime')).toBe("IFNULL(`c`, 'N')");
    expect(f(my('float', 'float', { kind: 'float', bits: 32 }), 'float')).toBeUndefined();
    expect(f(my('json', 'json', { kind: 'json', binary: false }), 'text')).toBeUndefined();
  });

  it('PostgreSQL: a boolean as 1/0, an instant in UTC, a float with MariaDB\'s exponent spelling', () => {
    const pg = (dataType: string, logical: Column['logical']): Column => ({ name: 'c', dataType, columnType: dataType, nullable: true, unsigned: false, logical });
    expect(postgresField(pg('bool', { kind: 'boolean' }), 'int')).toBe(`coalesce("c"::int::text, 'N')`);
    expect(postgresField(pg('timestamptz', { kind: 'timestamp', zone: true, fsp: 6 }), 'instant')).toBe(`coalesce(("c" AT TIME ZONE 'UTC')::text, 'N')`);
    expect(postgresField(pg('timestamptz', { kind: 'timestamp', zone: true, fsp: 6 }), 'datetime')).toBeUndefined();
    expect(postgresField(pg('float8', { kind: 'float', bits: 64 }), 'float')).toBe(`coalesce(replace("c"::text, 'e+', 'e'), 'N')`);
    expect(postgresField(pg('interval', { kind: 'interval' }), 'text')).toBeUndefined();
  });
});
