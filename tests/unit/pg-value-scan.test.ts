import { describe, expect, it } from 'vitest';
import type { Column, TableSchema } from '../../src/core/schema.js';
import { dataScanSql, scanPostgresData } from '../../src/engines/postgres/schema.js';

function col(name: string, dataType: string, columnType = dataType, extra: Partial<Column> = {}): Column {
  return { name, dataType, columnType, nullable: true, unsigned: false, ...extra };
}

const t: TableSchema = {
  name: 't',
  engine: 'postgres',
  generated: [],
  primaryKey: [0],
  columns: [col('id', 'int8', 'bigint', { nullable: false }), col('n', 'numeric', 'numeric'), col('f', 'float8'), col('d', 'timestamptz', 'timestamp with time zone'), col('s', 'text')],
};

describe('PostgreSQL value scan (ChangeSource.valueStats)', () => {
  it('builds one scan query for the columns whose values can be refused', () => {
    const scan = dataScanSql(t)!;
    expect(scan.columns.map((c) => c.name)).toEqual(['n', 'f', 'd']);
    expect(scan.sql).toMatch(/^SELECT count\(\*\) FILTER \(WHERE "n"::text = 'NaN'\) AS n1, .* FROM "public"\."t"$/);
  });

  it('reports NaN/Infinity, the most digits and out-of-range dates per column', async () => {
    const reports = await scanPostgresData(async () => [{ n1: '2', p1: '0', m1: '1', d1: 40, s1: 2, n2: 0, p2: 1, m2: 0, o3: '3' }], t);
    expect(reports[0]).toMatchObject({ column: 'n', nan: 2, negInfinity: 1, maxIntegerDigits: 40, maxScale: 2 });
    expect(reports[1]).toMatchObject({ column: 'f', nan: 0, posInfinity: 1, negInfinity: 0, maxIntegerDigits: null, maxScale: null });
    expect(reports[2]).toMatchObject({ column: 'd', outOfRange: 3 });
    const ok = await scanPostgresData(async () => [{ n1: 0, p1: 0, m1: 0, d1: 12, s1: 4 }], t);
    expect(ok[0]).toMatchObject({ maxIntegerDigits: 12, maxScale: 4 });
  });
});
