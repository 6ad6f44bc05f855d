/**
 * A PostgreSQL table on a MySQL/MariaDB target (issue 11, plan step 6d: moved from
 * typemap-postgres-mysql.test.ts with the code it tests): the MySQL types of its columns by their
 * logical types (engines/mysql/types.ts mapLogicalTable), CREATE TABLE (ddl.ts), the preflight
 * (check.ts assertMappable, dataProblems) and the value writers (values.ts mysqlValue, load.ts,
 * sql.ts). The tables are built by hand as the PostgreSQL describe reads them, and get their
 * logical types from that engine's toLogical (withLogical), as describe's last step gives them.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ErrorCode, TributaryError } from '../../../src/core/errors.js';
import type { Column, TableSchema } from '../../../src/core/schema.js';
import type { Value } from '../../../src/core/values.js';
import { assertMappable, dataProblems, fitsDecimal, mappingRequirements } from '../../../src/engines/mysql/check.js';
import { createTableSql } from '../../../src/engines/mysql/ddl.js';
import { loadPlan, serialise } from '../../../src/engines/mysql/load.js';
import { columnLiteral } from '../../../src/engines/mysql/sql.js';
import { mapLogicalTable, type MapTableOptions, type MysqlColumnType } from '../../../src/engines/mysql/types.js';
import { mysqlValue } from '../../../src/engines/mysql/values.js';
import { scanPostgresData } from '../../../src/engines/postgres/schema.js';
import { withLogical } from '../../../src/engines/postgres/types.js';

function col(name: string, dataType: string, columnType = dataType, extra: Partial<Column> = {}): Column {
  return { name, dataType, columnType, nullable: true, unsigned: false, ...extra };
}

/** A PostgreSQL table as describe gives it: each column with its logical type. */
function table(columns: Column[], extra: Partial<TableSchema> = {}): TableSchema {
  return withLogical({ name: 't', engine: 'postgres', generated: [], primaryKey: [0], columns, ...extra });
}

const ID = col('id', 'int8', 'bigint', { nullable: false });

/** The MySQL type of one PostgreSQL column (as a non-key column of a table keyed on a bigint). */
function typeOf(c: Column, opts: MapTableOptions = {}): string {
  const m = mapLogicalTable(table([ID, c]), opts);
  expect(m.problems).toEqual([]);
  return m.columns[1]!.sql;
}

function mapped(c: Column, opts: MapTableOptions = {}): MysqlColumnType {
  return mapLogicalTable(table([ID, c]), opts).columns[1]!;
}

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(TributaryError);
    return (err as Error).message;
  }
  throw new Error('expected a refusal');
}

describe('PostgreSQL → MySQL type map', () => {
  it('maps every listed type to its documented MySQL type', () => {
    const cases: [Column, string][] = [
      [col('a', 'int2', 'smallint'), 'SMALLINT'],
      [col('a', 'int4', 'integer'), 'INT'],
      [col('a', 'int8', 'bigint'), 'BIGINT'],
      [col('a', 'numeric', 'numeric(10,2)', { precision: 10, scale: 2 }), 'DECIMAL(10,2)'],
      [col('a', 'numeric', 'numeric(65,30)'), 'DECIMAL(65,30)'],
      [col('a', 'numeric', 'numeric(3,-2)'), 'DECIMAL(5,0)'],
      [col('a', 'numeric', 'numeric(2,5)'), 'DECIMAL(5,5)'],
      [col('a', 'float4', 'real'), 'FLOAT'],
      [col('a', 'float8', 'double precision'), 'DOUBLE'],
      [col('a', 'bool', 'boolean'), 'TINYINT(1)'],
      [col('a', 'text'), 'LONGTEXT'],
      [col('a', 'citext'), 'LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_uca1400_nopad_as_ci'],
      [col('a', 'xml'), 'LONGTEXT'],
      [col('a', 'varchar', 'character varying(20)'), 'VARCHAR(20)'],
      [col('a', 'varchar', 'character varying'), 'LONGTEXT'],
      [col('a', 'bpchar', 'character(3)'), 'CHAR(3)'],
      [col('a', 'bpchar', 'character(300)'), 'VARCHAR(300)'],
      [col('a', 'bytea', 'bytea', { charset: 'binary' }), 'LONGBLOB'],
      [col('a', 'json'), 'JSON'],
      [col('a', 'jsonb'), 'JSON'],
      [col('a', 'uuid'), 'CHAR(36) CHARACTER SET ascii COLLATE ascii_bin'],
      [col('a', 'timestamptz', 'timestamp with time zone'), 'DATETIME(6)'],
      [col('a', 'timestamptz', 'timestamp(3) with time zone'), 'DATETIME(3)'],
      [col('a', 'timestamp', 'timestamp(0) without time zone'), 'DATETIME(0)'],
      [col('a', 'timestamp', 'timestamp without time zone'), 'DATETIME(6)'],
      [col('a', 'date'), 'DATE'],
      [col('a', 'time', 'time(2) without time zone'), 'TIME(2)'],
      [col('a', 'time', 'time without time zone'), 'TIME(6)'],
      [col('a', 'timetz', 'time with time zone'), 'VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin'],
      [col('a', 'interval'), 'VARCHAR(100) CHARACTER SET ascii COLLATE ascii_bin'],
      [col('a', '_int4', 'integer[]'), 'LONGTEXT'],
      [col('a', '_text', 'text[]'), 'LONGTEXT'],
      [col('a', 'bit', 'bit(5)'), 'BIT(5)'],
      [col('a', 'bit', 'bit(64)'), 'BIT(64)'],
      [col('a', 'bit', 'bit(65)'), 'VARCHAR(65) CHARACTER SET ascii COLLATE ascii_bin'],
      [col('a', 'varbit', 'bit varying(10)'), 'VARCHAR(10) CHARACTER SET ascii COLLATE ascii_bin'],
      [col('a', 'varbit', 'bit varying'), 'LONGTEXT'],
      [col('a', 'inet'), 'VARCHAR(50) CHARACTER SET ascii COLLATE ascii_bin'],
      [col('a', 'cidr'), 'VARCHAR(50) CHARACTER SET ascii COLLATE ascii_bin'],
      [col('a', 'macaddr'), 'CHAR(17) CHARACTER SET ascii COLLATE ascii_bin'],
      [col('a', 'mood', 'mood'), 'VARCHAR(63)'],
    ];
    for (const [c, want] of cases) expect(`${c.columnType} → ${typeOf(c)}`).toBe(`${c.columnType} → ${want}`);
  });

  it('keeps JSON text on MySQL (whose JSON type re-serialises) in LONGTEXT with a JSON_VALID check', () => {
    expect(typeOf(col('doc', 'jsonb'), { flavour: 'mysql' })).toBe('LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin CHECK (JSON_VALID(`doc`))');
  });

  it('maps user enums to ENUM when their labels are known, VARCHAR(63) otherwise', () => {
    const labels = new Map([['mood', ['sad', "it's", 'happy']]]);
    expect(typeOf(col('a', 'mood'), { enumLabels: labels })).toBe("ENUM('sad','it''s','happy') COLLATE utf8mb4_nopad_bin");
    // MySQL strips trailing spaces from ENUM members: such a type stays text.
    expect(typeOf(col('a', 'mood'), { enumLabels: new Map([['mood', ['a ', 'b']]]) })).toBe('VARCHAR(63)');
  });

  it('refuses unconstrained and oversized numeric, and types without a counterpart, naming the column and the override', () => {
    const t = table([ID, col('n', 'numeric', 'numeric'), col('big', 'numeric', 'numeric(70,2)'), col('fine', 'numeric', 'numeric(40,31)'), col('m', 'money'), col('p', 'point'), col('g', 'geometry', 'geometry(Point,4326)')]);
    const msg = refusal(() => assertMappable([t]));
    expect(msg).toContain('6 columns cannot be mapped to MySQL');
    expect(msg).toContain('t.g (geometry(Point,4326)): geometry(Point,4326) is an extension type (PostGIS) with no MySQL counterpart');
    expect(msg).toContain('t.n (numeric): numeric without precision');
    expect(msg).toContain('--column-types t.n=DECIMAL(65,30) (in the config file: column-types: {t.n: "DECIMAL(65,30)"})');
    expect(msg).toContain('t.big (numeric(70,2)): numeric(70,2) is beyond DECIMAL(65,30)');
    expect(msg).toContain('t.fine (numeric(40,31))');
    expect(msg).toContain('t.m (money)');
    expect(msg).toContain('t.p (point): point is a geometric type');
    expect(() => createTableSql(t)).toThrow(/t\.n \(numeric\)/);
  });

  it('honours overrides, and refuses one naming a column the table lacks or a LOB in a key', () => {
    const t = table([ID, col('n', 'numeric', 'numeric'), col('r', 'int4range')]);
    const maps = assertMappable([t], { columnTypes: { 't.n': 'DECIMAL(65,30)', 't.r': 'VARCHAR(100)', 'other.x': 'INT' } });
    expect(maps[0]!.columns[1]).toMatchObject({ sql: 'DECIMAL(65,30)', kind: 'decimal', decimal: { precision: 65, scale: 30 }, overridden: true });
    expect(maps[0]!.columns[2]).toMatchObject({ sql: 'VARCHAR(100)', kind: 'text' });
    expect(refusal(() => assertMappable([t], { columnTypes: { 't.n': 'DECIMAL(65,30)', 't.r': 'TEXT', 't.nope': 'INT' } }))).toContain(
      '--column-types names t.nope, which t does not have',
    );
    expect(refusal(() => assertMappable([table([col('k', 'text', 'text', { nullable: false })])], { columnTypes: { 't.k': 'LONGTEXT' } }))).toContain('cannot be part of a key');
  });

  it('sizes string key columns to InnoDB’s 3072-byte key limit', () => {
    expect(mapLogicalTable(table([col('k', 'text', 'text', { nullable: false })])).columns[0]!.sql).toBe('VARCHAR(767)');
    expect(mapLogicalTable(table([col('k', 'bytea', 'bytea', { charset: 'binary', nullable: false })])).columns[0]!.sql).toBe('VARBINARY(3070)');
    const two = mapLogicalTable(table([col('a', 'text'), col('b', 'int8', 'bigint'), col('c', '_int4', 'integer[]')], { primaryKey: [0, 1, 2] }));
    expect(two.columns.map((c) => c.sql)).toEqual(['VARCHAR(382)', 'BIGINT', 'VARCHAR(382)']);
    // A text column in a secondary unique key, and a uuid (ascii) key.
    const u = mapLogicalTable(table([col('id', 'uuid', 'uuid', { nullable: false }), col('email', 'text')], { uniqueKeys: [[1]] }));
    expect(u.columns.map((c) => c.sql)).toEqual(['CHAR(36) CHARACTER SET ascii COLLATE ascii_bin', 'VARCHAR(767)']);
    expect(refusal(() => assertMappable([table([col('k', 'varchar', 'character varying(1000)', { nullable: false })])]))).toContain('3072-byte index key limit');
  });

  it('turns VARCHAR columns that would overflow the 65535-byte row into TEXT types', () => {
    const cols = [ID, ...Array.from({ length: 6 }, (_, i) => col(`v${i}`, 'varchar', 'character varying(4000)'))];
    const m = mapLogicalTable(table(cols));
    expect(m.columns.map((c) => c.sql)).toEqual(['BIGINT', 'VARCHAR(4000)', 'VARCHAR(4000)', 'VARCHAR(4000)', 'VARCHAR(4000)', 'TEXT', 'TEXT']);
    expect(typeOf(col('v', 'varchar', 'character varying(20000)'))).toBe('MEDIUMTEXT');
  });
});

describe('CREATE TABLE from a PostgreSQL schema', () => {
  it('renders keys, NOT NULL, utf8mb4 with a binary NO PAD collation, quoted names', () => {
    const t: TableSchema = withLogical({
      name: 'Order`s',
      engine: 'postgres',
      generated: ['total'],
      primaryKey: [0, 1],
      uniqueKeys: [[2], [3, 1]],
      columns: [
        col('tenant', 'text', 'text', { nullable: false }),
        col('id', 'int4', 'integer', { nullable: false }),
        col('code', 'varchar', 'character varying(20)'),
        col('select', 'uuid'),
        col('amount', 'numeric', 'numeric(12,2)', { nullable: false }),
      ],
    });
    expect(createTableSql(t)).toBe(
      'CREATE TABLE IF NOT EXISTS `Order``s` (\n' +
        '  `tenant` VARCHAR(765) NOT NULL,\n' +
        '  `id` INT NOT NULL,\n' +
        '  `code` VARCHAR(20),\n' +
        '  `select` CHAR(36) CHARACTER SET ascii COLLATE ascii_bin,\n' +
        '  `amount` DECIMAL(12,2) NOT NULL,\n' +
        '  PRIMARY KEY (`tenant`, `id`),\n' +
        '  UNIQUE KEY `tributary_uk1` (`code`),\n' +
        '  UNIQUE KEY `tributary_uk2` (`select`, `id`)\n' +
        ') ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin',
    );
    expect(createTableSql(t, { flavour: 'mysql', columnTypes: { 'Order`s.amount': 'DECIMAL(20,4)' } })).toContain('`amount` DECIMAL(20,4) NOT NULL');
    expect(createTableSql(t, { flavour: 'mysql' })).toContain('COLLATE=utf8mb4_0900_bin');
  });

  it('keeps a MySQL source’s own CREATE TABLE unchanged', () => {
    const t: TableSchema = { name: 'x', engine: 'mysql', generated: [], primaryKey: [0], columns: [ID], createStatement: 'CREATE TABLE `x` (\n  `id` int NOT NULL\n) ENGINE=InnoDB AUTO_INCREMENT=5' };
    expect(createTableSql(t, { columnTypes: { 'x.id': 'TEXT' } })).toBe('CREATE TABLE IF NOT EXISTS `x` (\n  `id` int NOT NULL\n) ENGINE=InnoDB');
  });
});

describe('PostgreSQL canonical values in MySQL', () => {
  const v = (c: Column, value: Value, opts: MapTableOptions = {}) => mysqlValue('t', mapped(c, opts), value);

  it('renders booleans, bit strings, bytes, floats and decimals exactly', () => {
    expect(v(col('b', 'bool'), true)).toBe('1');
    expect(v(col('b', 'bool'), false)).toBe('0');
    expect(v(col('b', 'bit', 'bit(4)'), '0101')).toBe('5');
    expect(v(col('b', 'bit', 'bit(64)'), '1'.repeat(64))).toBe('18446744073709551615');
    expect(v(col('b', 'bit', 'bit(65)'), '1'.repeat(65))).toBe('1'.repeat(65));
    expect(v(col('b', 'bytea', 'bytea', { charset: 'binary' }), Buffer.from([0, 255]))).toEqual(Buffer.from([0, 255]));
    expect(v(col('f', 'float8'), 0.1)).toBe('0.1');
    expect(v(col('f', 'float4'), -0)).toBe('-0');
    expect(v(col('n', 'numeric', 'numeric(10,2)'), '-12345678.90')).toBe('-12345678.90');
    expect(v(col('i', 'int8'), -9223372036854775808n)).toBe('-9223372036854775808');
    expect(v(col('j', 'jsonb'), '{"a": 1.0}')).toBe('{"a": 1.0}');
    expect(v(col('a', '_int4', 'integer[]'), '{1,2,NULL}')).toBe('{1,2,NULL}');
    expect(v(col('u', 'uuid'), 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11')).toBe('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11');
    expect(v(col('x', 'text'), null)).toBe(null);
  });

  it('converts timestamptz to UTC without the zone, exactly, and keeps timestamps, dates and times', () => {
    const tz = col('ts', 'timestamptz', 'timestamp with time zone');
    expect(v(tz, '2024-01-01 00:00:00.5+00')).toBe('2024-01-01 00:00:00.5');
    expect(v(tz, '2024-01-01 00:00:00+00')).toBe('2024-01-01 00:00:00');
    expect(v(tz, '2024-01-01 05:30:00+05:30')).toBe('2024-01-01 00:00:00');
    expect(v(tz, '2024-03-01 01:00:00.123456+05:30')).toBe('2024-02-29 19:30:00.123456');
    expect(v(tz, '1999-12-31 22:00:00-02')).toBe('2000-01-01 00:00:00');
    expect(v(tz, '1900-01-01 00:00:00+00:19:32')).toBe('1899-12-31 23:40:28');
    expect(v(tz, '2024-06-30 12:00:00Z')).toBe('2024-06-30 12:00:00');
    expect(v(col('t', 'timestamp'), '2024-01-01 00:00:00.123456')).toBe('2024-01-01 00:00:00.123456');
    expect(v(col('d', 'date'), '0001-01-01')).toBe('0001-01-01');
    expect(v(col('tm', 'time'), '24:00:00')).toBe('24:00:00');
    expect(v(col('tm', 'timetz', 'time with time zone'), '12:00:00+05:30')).toBe('12:00:00+05:30');
    expect(v(col('iv', 'interval'), '1 day 02:00:00')).toBe('1 day 02:00:00');
  });

  it('refuses NaN, ±Infinity, out-of-range decimals and dates MySQL lacks, naming table and column, never altering them', () => {
    expect(refusal(() => v(col('f', 'float8'), NaN))).toMatch(/^t\.f \(float8 → MySQL DOUBLE\): value NaN cannot be stored/);
    expect(refusal(() => v(col('f', 'float4'), -Infinity))).toContain('t.f');
    expect(refusal(() => v(col('n', 'numeric', 'numeric(10,2)'), 'NaN'))).toContain("t.n (numeric(10,2) → MySQL DECIMAL(10,2)): value 'NaN'");
    const wide = mapped(col('n', 'numeric', 'numeric'), { columnTypes: { 't.n': 'DECIMAL(65,30)' } });
    expect(mysqlValue('t', wide, '1.500000000000000000000000000000000000')).toBe('1.500000000000000000000000000000000000');
    expect(refusal(() => mysqlValue('t', wide, '1234567890123456789012345678901234567890'))).toContain('has 40 integer and 0 fraction digits, beyond DECIMAL(65,30)');
    expect(refusal(() => mysqlValue('t', wide, '0.0000000000000000000000000000001'))).toContain('31 fraction digits');
    expect(refusal(() => mysqlValue('t', wide, 'Infinity'))).toContain('no NaN or Infinity');
    // Kept as text, NaN is fine.
    expect(v(col('n', 'numeric', 'numeric'), 'NaN', { columnTypes: { 't.n': 'VARCHAR(100)' } })).toBe('NaN');
    const tz = col('ts', 'timestamptz', 'timestamp with time zone');
    expect(refusal(() => v(tz, 'infinity'))).toContain('no infinite dates');
    expect(refusal(() => v(col('d', 'date'), '-infinity'))).toContain('t.d');
    expect(refusal(() => v(col('d', 'date'), '0044-03-15 BC'))).toContain('BC date');
    expect(refusal(() => v(col('d', 'date'), '10000-01-01'))).toContain('0001–9999');
    expect(refusal(() => v(tz, '0001-01-01 00:30:00+01'))).toContain('0001–9999');
    expect(refusal(() => v(col('t', 'timestamp', 'timestamp(6) without time zone'), '2024-01-01 00:00:00.1234567'))).toContain('fraction digits');
    expect(refusal(() => v(tz, '2024-01-01 00:00:00.5+00', { columnTypes: { 't.ts': 'DATETIME' } }))).toContain('would round');
  });

  it('writes LOAD DATA lines through the map, bytes as hex and BIT as a number', () => {
    const t = table([
      ID,
      col('ok', 'bool'),
      col('bits', 'bit', 'bit(4)'),
      col('raw', 'bytea', 'bytea', { charset: 'binary' }),
      col('ts', 'timestamptz', 'timestamp with time zone'),
      col('s', 'text'),
      col('blob', 'mood'), // a user type whose name looks like a MySQL binary type: still text
    ]);
    const m = mapLogicalTable(t);
    const plan = loadPlan(t, m);
    expect(plan.sql).toContain('(`id`, `ok`, @v2, @v3, `ts`, `s`, `blob`) SET `bits` = CAST(@v2 AS UNSIGNED), `raw` = UNHEX(@v3)');
    const out = serialise(
      [
        [1n, true, '0101', Buffer.from([0, 9, 255]), '2024-01-01 05:30:00+05:30', 'a\tb\\', 'sad'],
        [2n, null, null, null, null, null, null],
      ],
      plan,
    ).toString();
    expect(out).toBe('1\t1\t5\t0009ff\t2024-01-01 00:00:00\ta\\tb\\\\\tsad\n2\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\n');
    expect(() => serialise([[3n, null, null, null, 'infinity', null, null]], plan)).toThrow(/t\.ts \(timestamp with time zone → MySQL DATETIME\(6\)\): value 'infinity'/);
  });

  it('renders stream literals through the map', () => {
    const lit = (c: Column, value: Value, opts: MapTableOptions = {}) => columnLiteral('t', mapped(c, opts), value);
    expect(lit(col('b', 'bool'), true)).toBe('1');
    expect(lit(col('b', 'bit', 'bit(4)'), '0101')).toBe('5');
    expect(lit(col('n', 'numeric', 'numeric(10,2)'), '-1.50')).toBe('-1.50');
    expect(lit(col('f', 'float8'), 1)).toBe('1e0');
    expect(lit(col('r', 'bytea', 'bytea', { charset: 'binary' }), Buffer.from([0]))).toBe("X'00'");
    expect(lit(col('ts', 'timestamptz', 'timestamp with time zone'), '2024-01-01 05:30:00+05:30')).toBe("'2024-01-01 00:00:00'");
    expect(lit(col('s', 'text'), "it's")).toBe("'it\\'s'");
    expect(lit(col('s', 'text'), null)).toBe('NULL');
    expect(refusal(() => lit(col('f', 'float8'), NaN))).toContain('t.f');
  });
});

describe('PostgreSQL data preflight', () => {
  const t = table([ID, col('n', 'numeric', 'numeric'), col('f', 'float8'), col('d', 'timestamptz', 'timestamp with time zone'), col('s', 'text')]);

  it('reports NaN/Infinity, digits beyond the target and out-of-range dates, with the fix', async () => {
    const reports = await scanPostgresData(async () => [{ n1: '2', p1: '0', m1: '1', d1: 40, s1: 2, n2: 0, p2: 1, m2: 0, o3: '3' }], t);
    expect(fitsDecimal(reports[0]!.maxIntegerDigits, reports[0]!.maxScale)).toBeNull();
    const m = mapLogicalTable(t, { columnTypes: { 't.n': 'DECIMAL(65,30)' } });
    const problems = dataProblems(m, reports);
    expect(problems.map((p) => `${p.column}: ${p.reason}`)).toEqual([
      'n: 2 NaN, 0 Infinity and 1 -Infinity values cannot be stored in MySQL DECIMAL(65,30)',
      'n: values with 40 integer and 2 fraction digits do not fit DECIMAL(65,30)',
      'f: 0 NaN, 1 Infinity and 0 -Infinity values cannot be stored in MySQL DOUBLE',
      'd: 3 infinite, BC or post-9999 values cannot be stored in MySQL DATETIME(6)',
    ]);
    expect(problems[1]!.fix).toContain('VARCHAR(200)');
    const ok = await scanPostgresData(async () => [{ n1: 0, p1: 0, m1: 0, d1: 12, s1: 4 }], t);
    expect(fitsDecimal(ok[0]!.maxIntegerDigits, ok[0]!.maxScale)).toBe('DECIMAL(16,4)');
    const narrow = mapLogicalTable(t, { columnTypes: { 't.n': 'DECIMAL(10,2)' } });
    expect(dataProblems(narrow, ok).map((p) => p.fix)).toEqual([expect.stringContaining('DECIMAL(16,4)')]);
  });
});

describe('tributary check: the mapping of a PostgreSQL table, column by column', () => {
  it('says which policy each column’s MySQL type follows, by its logical type', () => {
    const t = table(
      [
        col('k', 'text', 'text', { nullable: false }),
        col('ts', 'timestamptz', 'timestamp with time zone'),
        col('lts', 'timestamp', 'timestamp without time zone'),
        col('d', 'date'),
        col('n', 'numeric', 'numeric(10,2)'),
        col('f', 'float8', 'double precision'),
        col('j', 'jsonb'),
        col('b', 'bool', 'boolean'),
        col('u', 'uuid'),
        col('ip', 'inet'),
        col('tz', 'timetz', 'time with time zone'),
        col('tm', 'time', 'time without time zone'),
        col('a', '_int4', 'integer[]'),
        col('e', 'mood', 'mood', { enumType: 'mood', enumLabels: ['a', 'b'] }),
        col('vc', 'varchar', 'character varying'),
        col('i', 'int4', 'integer'),
        col('ci', 'citext'),
        col('bits', 'bit', 'bit(3)'),
        col('r', 'int4range'),
        col('tr', 'trail', 'trail', { enumType: 'trail', enumLabels: ['a ', 'b'] }),
        col('raw', 'bytea'),
      ],
      { uniqueKeys: [[14], [20]] },
    );
    const lines = mappingRequirements([t], { columnTypes: { 't.r': 'VARCHAR(100)' } }).map((r) => `${r.ok ? '✔' : '✘'} ${r.name}: ${r.value} (${r.fix})`);
    expect(lines).toEqual([
      "✔ t.k: text → VARCHAR(767) (key column sized to InnoDB's 3072-byte key limit; longer values are refused)",
      '✔ t.ts: timestamp with time zone → DATETIME(6) (converted to UTC, zone dropped; infinity and BC dates refused)',
      '✔ t.lts: timestamp without time zone → DATETIME(6) (infinity, BC and post-9999 dates refused by name)',
      '✔ t.d: date → DATE (infinity, BC and post-9999 dates refused by name)',
      '✔ t.n: numeric(10,2) → DECIMAL(10,2) (exact; NaN and ±Infinity refused by name)',
      '✔ t.f: double precision → DOUBLE (NaN and ±Infinity refused by name)',
      '✔ t.j: jsonb → JSON (JSON text kept as PostgreSQL prints it)',
      '✔ t.b: boolean → TINYINT(1) (true/false as 1/0)',
      '✔ t.u: uuid → CHAR(36) CHARACTER SET ascii COLLATE ascii_bin (kept as its PostgreSQL text form)',
      '✔ t.ip: inet → VARCHAR(50) CHARACTER SET ascii COLLATE ascii_bin (kept as its PostgreSQL text form)',
      '✔ t.tz: time with time zone → VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin (kept as its PostgreSQL text form)',
      '✔ t.tm: time without time zone → TIME(6) (fractions beyond the column refused, never rounded)',
      '✔ t.a: integer[] → LONGTEXT (array kept as its PostgreSQL text form)',
      "✔ t.e: mood → ENUM('a','b') COLLATE utf8mb4_nopad_bin (enum labels in the source order)",
      "✔ t.ci: citext → LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_uca1400_nopad_as_ci (case-insensitive, accent-sensitive NO PAD collation, as citext compares)",
      '✔ t.r: int4range → VARCHAR(100) (override (--column-types); values are checked against it as they are written)',
      '✔ t.tr: trail → VARCHAR(63) (enum kept as text (labels MySQL ENUM cannot hold))',
      "✔ t.raw: bytea → VARBINARY(3070) (key column sized to InnoDB's 3072-byte key limit; longer values are refused)",
    ]);
    const mysql = mappingRequirements([t], { flavour: 'mysql' });
    expect(mysql.find((r) => r.name === 't.j')?.fix).toBe('JSON text kept as PostgreSQL prints it (MySQL JSON would re-serialise it)');
    // A range has an exact text form: kept as it (issue 12), no longer refused.
    expect(mysql.filter((r) => !r.ok)).toEqual([]);
    expect(mysql.find((r) => r.name === 't.r')?.fix).toBe("kept as text '[lower,upper)', PostgreSQL's own output, which reads back to the same value");
  });
});

describe('a column without its logical type', () => {
  it('is refused before anything is written, naming table.column (TABLE_UNSUPPORTED)', () => {
    const bare: TableSchema = { name: 't', engine: 'postgres', generated: [], primaryKey: [0], columns: [ID, col('x', 'int4', 'integer')] };
    for (const fn of [() => assertMappable([bare]), () => createTableSql(bare), () => mappingRequirements([bare], {}), () => mapLogicalTable(bare)]) {
      let err: unknown;
      try {
        fn();
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(TributaryError);
      expect((err as TributaryError).code).toBe(ErrorCode.TABLE_UNSUPPORTED);
      expect((err as Error).message).toMatch(/^t\.id has no logical type \(Column\.logical\)/);
    }
  });
});

describe('the MySQL engine folder', () => {
  it('imports nothing from src/typemap (issue 11: it maps other engines’ columns by their logical types)', () => {
    const dir = join(import.meta.dirname, '..', '..', '..', 'src', 'engines', 'mysql');
    const offending = readdirSync(dir)
      .filter((f) => f.endsWith('.ts'))
      .filter((f) => /from '(\.\.\/)+typemap\//.test(readFileSync(join(dir, f), 'utf8')));
    expect(offending).toEqual([]);
  });
});
