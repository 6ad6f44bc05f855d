import { describe, expect, it } from 'vitest';
import type { Column, TableSchema } from '../../src/core/schema.js';
import { pgCopySelect } from '../../src/engines/mysql/load.js';
import { withLogical } from '../../src/engines/mysql/types.js';
import { declaredKind } from '../../src/engines/postgres/values.js';

function col(name: string, dataType: string, columnType: string, extra: Partial<Column> = {}): Column {
  return { name, dataType, columnType, nullable: true, unsigned: /unsigned/.test(columnType), ...extra };
}

function table(columns: Column[]): TableSchema {
  return { name: 't', columns, primaryKey: [0], generated: [], engine: 'mysql' };
}

describe('declaredKind', () => {
  it('gives the kind pgText renders for a type as CREATE TABLE spells it, or as format_type prints it', () => {
    expect(declaredKind('smallint')).toEqual({ kind: 'int' });
    expect(declaredKind('numeric(20,0)')).toEqual({ kind: 'numeric' });
    expect(declaredKind('real')).toEqual({ kind: 'float4' });
    expect(declaredKind('double precision')).toEqual({ kind: 'float8' });
    expect(declaredKind('bit(5)')).toEqual({ kind: 'bit', bits: 5 });
    expect(declaredKind('bit')).toEqual({ kind: 'bit', bits: 1 });
    expect(declaredKind('timestamp(6)')).toEqual({ kind: 'timestamp' });
    expect(declaredKind('timestamp(6) without time zone')).toEqual({ kind: 'timestamp' });
    expect(declaredKind('timestamptz(3)')).toEqual({ kind: 'timestamptz' });
    expect(declaredKind('timestamp(0) with time zone')).toEqual({ kind: 'timestamptz' });
    expect(declaredKind('date')).toEqual({ kind: 'date' });
    expect(declaredKind('bytea')).toEqual({ kind: 'bytea' });
    for (const t of ['interval', 'json', 'text', 'char(10)', 'character varying(50)', 'uuid', 'inet']) expect(declaredKind(t)).toEqual({ kind: 'text' });
  });
});

describe('pgCopySelect (MySQL → PostgreSQL COPY text rendered in SQL)', () => {
  it('renders each type for its mapped PostgreSQL type', () => {
    const sql = pgCopySelect(
      table([
        col('id', 'bigint', 'bigint(20) unsigned'),
        col('f', 'float', 'float'),
        col('b', 'bit', 'bit(5)'),
        col('y', 'year', 'year(4)'),
        col('ts', 'timestamp', 'timestamp(6)', { scale: 6 }),
        col('dt', 'datetime', 'datetime'),
        col('bl', 'blob', 'blob', { charset: 'binary' }),
        col('s', 'varchar', 'varchar(9)', { charset: 'latin1' }),
      ]),
    );
    expect(sql).toBe(
      "CONCAT_WS('\\t', IFNULL(`id`, '\\\\N'), IFNULL(CAST(`f` AS DOUBLE), '\\\\N'), IFNULL(LPAD(BIN(`b`), 5, '0'), '\\\\N'), IFNULL((`y` + 0), '\\\\N'), " +
        "IFNULL(IF(LEAST(YEAR(`ts`), MONTH(`ts`), DAYOFMONTH(`ts`)) = 0, CHAR(0 USING utf8mb4), CONCAT(`ts`, '+00')), '\\\\N'), " +
        "IFNULL(IF(LEAST(YEAR(`dt`), MONTH(`dt`), DAYOFMONTH(`dt`)) = 0, CHAR(0 USING utf8mb4), `dt`), '\\\\N'), " +
        "IFNULL(CONCAT('\\\\\\\\x', HEX(`bl`)), '\\\\N'), " +
        "IFNULL(REPLACE(REPLACE(REPLACE(REPLACE(CONVERT(`s` USING utf8mb4), '\\\\', '\\\\\\\\'), '\\t', '\\\\t'), '\\n', '\\\\n'), '\\r', '\\\\r'), '\\\\N'))",
    );
  });

  it('declines a table with a column it has no exact rendering for', () => {
    expect(pgCopySelect(table([col('id', 'int', 'int(11)'), col('g', 'point', 'point')]))).toBeUndefined();
    // A character column stored as bytes would map to char(n) (text) but reads as bytes.
    expect(pgCopySelect(table([col('id', 'int', 'int(11)'), col('c', 'char', 'char(4)', { charset: 'binary' })]))).toBeUndefined();
  });

  it('renders by each column’s logical type (Column.logical, as describe gives it)', () => {
    const t = table([col('id', 'int', 'int(11)'), col('at', 'timestamp', 'timestamp(3)', { scale: 3 }), col('s', 'varchar', 'varchar(9)', { charset: 'utf8mb4' })]);
    const described = withLogical(t);
    expect(described.columns.every((c) => c.logical !== undefined)).toBe(true);
    // Without a logical type (a table built by hand) a column gets its own engine's from its declaration: the same rendering.
    expect(pgCopySelect(described)).toBe(pgCopySelect(t));
    expect(pgCopySelect(described)).toContain("CONCAT(`at`, '+00')");
    // The logical type decides, not the native name: a timestamp without zone is written without one …
    const cols = described.columns;
    const naive = { ...described, columns: [cols[0]!, { ...cols[1]!, logical: { kind: 'timestamp', zone: false, fsp: 3 } as const }, cols[2]!] };
    expect(pgCopySelect(naive)).not.toContain("'+00'");
    // … and a kind with no rendering here sends the table to the canonical path.
    expect(pgCopySelect({ ...described, columns: [cols[0]!, cols[1]!, { ...cols[2]!, logical: { kind: 'other', native: 'varchar(9)' } }] })).toBeUndefined();
  });
});
