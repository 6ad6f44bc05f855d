/**
 * The PostgreSQL target's column types for MySQL columns (engines/postgres/types.ts
 * postgresColumnType, through the logical types the MySQL engine's describe gives them), its
 * CREATE TABLE, and the values it renders. Was typemap-mysql-postgres.test.ts (typemap's
 * mysqlToPostgresType), with the same expectations.
 */
import { describe, expect, it } from 'vitest';
import { ErrorCode, TributaryError } from '../../src/core/errors.js';
import type { Column, TableSchema } from '../../src/core/schema.js';
import { withLogical } from '../../src/engines/mysql/types.js';
import { createTableSql, planTypes } from '../../src/engines/postgres/ddl.js';
import { copyField, float4Text, pgText, quoteIdent, renderRow, type TargetColumn } from '../../src/engines/postgres/sql.js';
import { postgresColumnType, type PostgresColumnType, type PostgresTypeOptions } from '../../src/engines/postgres/types.js';
import { isZeroDate } from '../../src/core/calendar.js';

function col(name: string, dataType: string, columnType: string, extra: Partial<Column> = {}): Column {
  return { name, dataType, columnType, nullable: true, unsigned: /unsigned/.test(columnType), ...extra };
}

/** A MySQL table as the MySQL engine's describe gives it: each column with its logical type. */
function table(columns: Column[], extra: Partial<TableSchema> = {}): TableSchema {
  return withLogical({ name: 't', columns, primaryKey: [0], generated: [], engine: 'mysql', ...extra });
}

const opts = { zeroDates: 'error' as const, columnTypes: {} };

/** The target's type of the column named like `c` in `t` (by default a table of `c` alone). */
function typeOf(c: Column, t = table([c]), o: PostgresTypeOptions = opts): PostgresColumnType {
  const described = t.columns.find((x) => x.name === c.name) as Column;
  return postgresColumnType(t, described, o);
}
const map = (c: Column, t = table([c])) => typeOf(c, t).sql;

describe('MySQL → PostgreSQL types', () => {
  it('maps every integer width, signed and unsigned, to a type that holds its whole range', () => {
    expect(map(col('a', 'tinyint', 'tinyint(4)'))).toBe('smallint');
    expect(map(col('a', 'tinyint', 'tinyint(1)'))).toBe('smallint');
    expect(map(col('a', 'tinyint', 'tinyint(3) unsigned'))).toBe('smallint');
    expect(map(col('a', 'smallint', 'smallint(6)'))).toBe('smallint');
    expect(map(col('a', 'smallint', 'smallint(5) unsigned'))).toBe('integer');
    expect(map(col('a', 'mediumint', 'mediumint(9)'))).toBe('integer');
    expect(map(col('a', 'mediumint', 'mediumint(8) unsigned'))).toBe('integer');
    expect(map(col('a', 'int', 'int(11)'))).toBe('integer');
    expect(map(col('a', 'int', 'int(10) unsigned'))).toBe('bigint');
    expect(map(col('a', 'bigint', 'bigint(20)'))).toBe('bigint');
    expect(map(col('a', 'bigint', 'bigint(20) unsigned'))).toBe('numeric(20,0)');
  });

  it('maps decimals, floats, bits, years and temporal types exactly', () => {
    expect(map(col('a', 'decimal', 'decimal(65,30)', { precision: 65, scale: 30 }))).toBe('numeric(65,30)');
    expect(map(col('a', 'decimal', 'decimal(10,0)', { precision: 10, scale: 0 }))).toBe('numeric(10,0)');
    expect(map(col('a', 'float', 'float'))).toBe('real');
    expect(map(col('a', 'double', 'double'))).toBe('double precision');
    expect(map(col('a', 'bit', 'bit(1)'))).toBe('bit(1)');
    expect(map(col('a', 'bit', 'bit(64)'))).toBe('bit(64)');
    expect(map(col('a', 'year', 'year(4)'))).toBe('smallint');
    expect(map(col('a', 'date', 'date'))).toBe('date');
    expect(map(col('a', 'datetime', 'datetime(6)', { scale: 6 }))).toBe('timestamp(6)');
    expect(map(col('a', 'datetime', 'datetime', { scale: 0 }))).toBe('timestamp(0)');
    expect(map(col('a', 'timestamp', 'timestamp(6)', { scale: 6 }))).toBe('timestamptz(6)');
    expect(map(col('a', 'time', 'time(6)', { scale: 6 }))).toBe('interval');
  });

  it('maps strings, binaries, JSON (MySQL and MariaDB), ENUM and SET', () => {
    expect(map(col('a', 'char', 'char(10)'))).toBe('char(10)');
    expect(map(col('a', 'varchar', 'varchar(50)'))).toBe('varchar(50)');
    for (const t of ['tinytext', 'text', 'mediumtext', 'longtext']) expect(map(col('a', t, t))).toBe('text');
    for (const t of ['binary', 'varbinary', 'tinyblob', 'blob', 'mediumblob', 'longblob']) expect(map(col('a', t, `${t}(4)`))).toBe('bytea');
    expect(map(col('js', 'json', 'json'))).toBe('json');
    const js = col('js', 'longtext', 'longtext');
    expect(map(js, table([js], { createStatement: 'CREATE TABLE `t` (\n  `js` longtext DEFAULT NULL CHECK (json_valid(`js`))\n)' }))).toBe('json');
    expect(map(col('a', 'set', "set('x','y')"))).toBe('text');
    const en = col('en', 'enum', "enum('a','b,c','it''s')");
    const t = typeOf(en);
    expect(t.sql).toBe('text');
    expect(t.check?.('"en"')).toBe(`"en" IN ('', 'a', 'b,c', 'it''s')`);
    // enumMembers: tests/unit/enum-members.test.ts.
  });

  it('refuses an unmappable column by name, and takes a per-column override', () => {
    // MariaDB 11.7's VECTOR: a type the map does not know (spatial types map: tests/unit/spatial.test.ts).
    const g = col('shape', 'vector', 'vector(3)');
    expect(() => map(g)).toThrow(TributaryError);
    expect(() => map(g)).toThrow(/column t\.shape: MySQL type vector\(3\) has no PostgreSQL mapping; choose one with --column-types t\.shape=TYPE/);
    expect(typeOf(g, table([g]), { ...opts, columnTypes: { 't.shape': 'bytea' } })).toMatchObject({ sql: 'bytea', overridden: true });
  });

  it('takes an override only when it names a type, as the MySQL map did (an empty one is none)', () => {
    const a = col('a', 'int', 'int(11)');
    expect(typeOf(a, table([a]), { ...opts, columnTypes: { 't.a': 'numeric' } })).toEqual({ sql: 'numeric', forceNullable: false, overridden: true });
    expect(typeOf(a, table([a]), { ...opts, columnTypes: { 't.a': '' } })).toEqual({ sql: 'integer', forceNullable: false, overridden: false });
  });

  it('refuses a column without a logical type (not described by its engine) by name, never guessing from the native type', () => {
    const bare: TableSchema = { name: 't', columns: [col('a', 'int', 'int(11)')], primaryKey: [0], generated: [], engine: 'mysql' };
    let err: unknown;
    try {
      postgresColumnType(bare, bare.columns[0] as Column, opts);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TributaryError);
    expect((err as TributaryError).code).toBe(ErrorCode.INTERNAL);
    expect((err as TributaryError).message).toMatch(/^column t\.a: no logical type .*the mysql engine's describe fills it/);
    // An override still gives the column its type.
    expect(postgresColumnType(bare, bare.columns[0] as Column, { ...opts, columnTypes: { 't.a': 'bigint' } })).toMatchObject({ sql: 'bigint', overridden: true });
  });

  it('renders CREATE TABLE with quoted identifiers, NOT NULL, the key and deferred unique keys', () => {
    const cols = [
      col('id', 'bigint', 'bigint(20) unsigned', { nullable: false }),
      col('Order', 'varchar', 'varchar(10)', { nullable: false }),
      col('naïve "q"', 'datetime', 'datetime(6)', { scale: 6, nullable: false }),
      col('en', 'enum', "enum('a')"),
    ];
    const t = table(cols, { name: 'User Data', uniqueKeys: [[1]] });
    const sql = createTableSql('public', t, planTypes(t, opts));
    expect(sql).toBe(
      'CREATE TABLE IF NOT EXISTS "public"."User Data" (\n' +
        '  "id" numeric(20,0) NOT NULL,\n' +
        '  "Order" varchar(10) NOT NULL,\n' +
        '  "naïve ""q""" timestamp(6) NOT NULL,\n' +
        `  "en" text CHECK ("en" IN ('', 'a')),\n` +
        '  PRIMARY KEY ("id"),\n' +
        '  UNIQUE ("Order") DEFERRABLE INITIALLY DEFERRED\n)',
    );
    // Under zeroDates 'null' a NOT NULL temporal column is created nullable, so NULL can stand in.
    expect(createTableSql('public', t, planTypes(t, { ...opts, zeroDates: 'null' }))).toContain('"naïve ""q""" timestamp(6),');
    expect(() => planTypes(table([col('x'.repeat(64), 'int', 'int')]), opts)).toThrow(/63 bytes/);
    expect(quoteIdent('select')).toBe('"select"');
  });
});

const tc = (kind: TargetColumn['kind'], sqlType: string = kind, bits?: number): TargetColumn => ({ name: 'c', sqlType, kind, ...(bits ? { bits } : {}) });

describe('values rendered for PostgreSQL', () => {
  it('writes a float32 as its shortest decimal that reads back as the same float32', () => {
    const f = Math.fround(3.14159274);
    expect(f).toBe(3.1415927410125732);
    expect(float4Text(f)).toBe('3.1415927');
    expect(float4Text(Math.fround(0.1))).toBe('0.1');
    expect(float4Text(Math.fround(-1e38))).toBe('-1e+38');
    expect(float4Text(-0)).toBe('-0');
    expect(float4Text(NaN)).toBe('NaN');
    expect(float4Text(1.401298464324817e-45)).toBe('1e-45');
    // every float32 in a sample reads back exactly through the shortest form
    for (let i = 0; i < 20000; i++) {
      const v = Math.fround((Math.random() - 0.5) * 10 ** Math.floor(Math.random() * 70 - 35));
      expect(Math.fround(Number(float4Text(v)))).toBe(v);
    }
  });

  it('renders each kind exactly', () => {
    expect(pgText(5e-324, tc('float8'), 'error')).toBe('5e-324');
    expect(pgText(-0, tc('float8'), 'error')).toBe('-0');
    expect(pgText(18446744073709551615n, tc('numeric'), 'error')).toBe('18446744073709551615');
    expect(pgText(9n, tc('int'), 'error')).toBe('9');
    expect(pgText(5n, tc('bit', 'bit(5)', 5), 'error')).toBe('00101');
    expect(pgText(2n ** 64n - 1n, tc('bit', 'bit(64)', 64), 'error')).toBe('1'.repeat(64));
    expect(() => pgText(32n, tc('bit', 'bit(5)', 5), 'error')).toThrow(/needs 6 bits/);
    expect(pgText(Buffer.from([0, 0xff, 0x80]), tc('bytea'), 'error')).toBe('\\x00ff80');
    expect(pgText('2038-01-19 03:14:07.999999', tc('timestamptz'), 'error')).toBe('2038-01-19 03:14:07.999999+00');
    expect(pgText('2038-01-19 03:14:07+05:30', tc('timestamptz'), 'error')).toBe('2038-01-19 03:14:07+05:30');
    // A PostgreSQL source's special and era values are written as they are.
    expect(pgText('0001-01-01 00:00:00+00 BC', tc('timestamptz'), 'error')).toBe('0001-01-01 00:00:00+00 BC');
    expect(pgText('infinity', tc('timestamptz'), 'error')).toBe('infinity');
    expect(pgText('-infinity', tc('timestamptz'), 'error')).toBe('-infinity');
    expect(pgText('2024-02-29 23:59:59.123456', tc('timestamp'), 'error')).toBe('2024-02-29 23:59:59.123456');
    expect(pgText('-838:59:59.000000', tc('text', 'interval'), 'error')).toBe('-838:59:59.000000');
    expect(pgText('', tc('text'), 'error')).toBe('');
    expect(pgText(null, tc('text'), 'error')).toBeNull();
    expect(pgText(true, tc('bool'), 'error')).toBe('t');
  });

  it('applies the zero-date policy and refuses NUL in text, naming table, column and key', () => {
    for (const z of ['0000-00-00', '0000-00-00 00:00:00.000000', '2024-00-15', '2024-01-00 10:00:00']) expect(isZeroDate(z)).toBe(true);
    expect(isZeroDate('2024-01-01')).toBe(false);
    expect(pgText('0000-00-00 00:00:00', tc('timestamp'), 'null')).toBeNull();
    const t = table([col('id', 'int', 'int'), col('d', 'date', 'date'), col('s', 'varchar', 'varchar(5)')]);
    const cols = [tc('int'), { ...tc('date'), name: 'd' }, { ...tc('text', 'character varying(5)'), name: 's' }];
    expect(() => renderRow(t, cols, [7n, '0000-00-00', 'x'], 'error')).toThrow(/table t, column d, row id=7: MySQL zero date '0000-00-00'.*--zero-dates null/);
    expect(() => renderRow(t, cols, [7n, null, 'a\0b'], 'error')).toThrow(/table t, column s, row id=7: the value contains a NUL character/);
  });

  it('escapes COPY text fields', () => {
    expect(copyField('a\tb\nc\rd\\e')).toBe('a\\tb\\nc\\rd\\\\e');
    expect(copyField(null)).toBe('\\N');
    expect(copyField('\\N')).toBe('\\\\N');
    expect(copyField('')).toBe('');
  });
});
