import { describe, expect, it } from 'vitest';
import { columnRule, fromMicros, toDecimal, toMicros, toUtc, trimFraction, type ColumnRule } from '../../src/checksum/normalise.js';
import { RowHasher } from '../../src/checksum/hash.js';
import type { Column } from '../../src/core/schema.js';
import type { Value } from '../../src/core/values.js';
import { toLogical as mysqlToLogical } from '../../src/engines/mysql/types.js';
import { toLogical as postgresToLogical } from '../../src/engines/postgres/types.js';

/**
 * Every column pair the type maps produce (docs/type-mapping.md, both directions), with canonical
 * values as each engine's reader gives them: the source's value and the value its target copy
 * reads back must compare equal, and different source values must stay different.
 */

function my(dataType: string, columnType: string, extra: Partial<Column> = {}): Column {
  return { name: 'c', dataType, columnType, nullable: true, unsigned: /unsigned/.test(columnType), ...extra };
}
function pgc(dataType: string, columnType: string, extra: Partial<Column> = {}): Column {
  return { name: 'c', dataType, columnType, nullable: true, unsigned: false, ...extra };
}

const hasher = new RowHasher();
const hash = (v: Value) => hasher.hash([v]).toString('hex');

interface Case {
  readonly name: string;
  readonly source: { column: Column; engine: string };
  readonly target: { column: Column; engine: string };
  /** [source value, the target's copy of it as its reader gives it] */
  readonly equal: readonly [Value, Value][];
  /** Source values the target's column tells apart: each must keep its own form. */
  readonly distinct?: readonly Value[];
  /** [source value, a target value that is not its copy] */
  readonly differ?: readonly [Value, Value][];
  readonly rule?: string;
  readonly zeroDates?: 'error' | 'null';
}

// Columns as each engine's describe gives them: with their logical types.
const M = (column: Column) => ({ column: { ...column, logical: mysqlToLogical(column) }, engine: 'mysql' });
const P = (column: Column) => ({ column: { ...column, logical: postgresToLogical(column) }, engine: 'postgres' });

const MYSQL_TO_POSTGRES: Case[] = [
  { name: 'TINYINT → smallint', source: M(my('tinyint', 'tinyint(4)')), target: P(pgc('int2', 'smallint')), equal: [[-128n, -128n], [9n, 9n]], distinct: [1n, 2n], rule: 'int' },
  { name: 'TINYINT(1) → smallint (a number: 9 stays 9)', source: M(my('tinyint', 'tinyint(1)')), target: P(pgc('int2', 'smallint')), equal: [[9n, 9n], [1n, 1n]], differ: [[1n, 0n]] },
  { name: 'SMALLINT UNSIGNED → integer', source: M(my('smallint', 'smallint(5) unsigned')), target: P(pgc('int4', 'integer')), equal: [[65535n, 65535n]] },
  { name: 'MEDIUMINT → integer', source: M(my('mediumint', 'mediumint(9)')), target: P(pgc('int4', 'integer')), equal: [[-8388608n, -8388608n]] },
  { name: 'INT UNSIGNED → bigint', source: M(my('int', 'int(10) unsigned')), target: P(pgc('int8', 'bigint')), equal: [[4294967295n, 4294967295n]] },
  { name: 'BIGINT → bigint', source: M(my('bigint', 'bigint(20)')), target: P(pgc('int8', 'bigint')), equal: [[-9223372036854775808n, -9223372036854775808n]] },
  {
    name: 'BIGINT UNSIGNED → numeric(20,0) (bigint vs digits)',
    source: M(my('bigint', 'bigint(20) unsigned')),
    target: P(pgc('numeric', 'numeric(20,0)', { precision: 20, scale: 0 })),
    equal: [[18446744073709551615n, '18446744073709551615'], [0n, '0']],
    distinct: [1n, 10n],
    differ: [[18446744073709551615n, '18446744073709551614']],
  },
  {
    name: 'DECIMAL(10,2) → numeric(10,2)',
    source: M(my('decimal', 'decimal(10,2)', { precision: 10, scale: 2 })),
    target: P(pgc('numeric', 'numeric(10,2)', { precision: 10, scale: 2 })),
    equal: [['-1.50', '-1.50'], ['0.00', '0.00'], ['12345678.99', '12345678.99']],
    distinct: ['1.50', '1.51', '-1.50', '15.00'],
  },
  { name: 'FLOAT → real', source: M(my('float', 'float')), target: P(pgc('float4', 'real')), equal: [[Math.fround(3.1415927), Math.fround(3.1415927)], [-0, -0]], distinct: [0, -0, Math.fround(0.1)] },
  { name: 'DOUBLE → double precision', source: M(my('double', 'double')), target: P(pgc('float8', 'double precision')), equal: [[5e-324, 5e-324], [1.7976931348623157e308, 1.7976931348623157e308]], distinct: [0.1, 0.30000000000000004, 0.3] },
  { name: 'BIT(5) → bit(5) (bigint vs bit string)', source: M(my('bit', 'bit(5)')), target: P(pgc('bit', 'bit(5)', { precision: 5 })), equal: [[5n, '00101'], [0n, '00000'], [31n, '11111']], distinct: [1n, 2n], differ: [[5n, '00100']] },
  { name: 'YEAR → smallint', source: M(my('year', 'year(4)')), target: P(pgc('int2', 'smallint')), equal: [[2024n, 2024n], [0n, 0n]] },
  { name: 'DATE → date', source: M(my('date', 'date')), target: P(pgc('date', 'date')), equal: [['2024-02-29', '2024-02-29']], distinct: ['2024-02-29', '2024-03-01'] },
  {
    name: 'DATETIME(6) → timestamp(6) (fraction digits)',
    source: M(my('datetime', 'datetime(6)', { scale: 6 })),
    target: P(pgc('timestamp', 'timestamp(6) without time zone', { scale: 6 })),
    equal: [['2024-01-01 00:00:00.500000', '2024-01-01 00:00:00.5'], ['2024-01-01 00:00:00.000000', '2024-01-01 00:00:00'], ['9999-12-31 23:59:59.999999', '9999-12-31 23:59:59.999999']],
    distinct: ['2024-01-01 00:00:00.500000', '2024-01-01 00:00:00.050000', '2024-01-01 00:00:00.000005', '2024-01-01 00:00:00.000000'],
    rule: 'datetime',
  },
  {
    name: 'TIMESTAMP(3) → timestamptz(3) (UTC, zone)',
    source: M(my('timestamp', 'timestamp(3)', { scale: 3 })),
    target: P(pgc('timestamptz', 'timestamp(3) with time zone', { scale: 3 })),
    equal: [['2024-01-01 00:00:00.120', '2024-01-01 00:00:00.12+00'], ['2038-01-19 03:14:07.000', '2038-01-19 03:14:07+00']],
    differ: [['2024-01-01 00:00:00.120', '2024-01-01 00:00:00.12+01']],
    rule: 'instant',
  },
  {
    name: 'TIME(6) → interval',
    source: M(my('time', 'time(6)', { scale: 6 })),
    target: P(pgc('interval', 'interval')),
    equal: [['-838:59:59.000000', '-838:59:59'], ['12:00:00.500000', '12:00:00.5'], ['00:00:00.000000', '00:00:00'], ['-00:00:01.500000', '-00:00:01.5'], ['25:00:00.000000', '25:00:00']],
    distinct: ['-00:00:01.000000', '00:00:01.000000', '12:00:00.500000', '12:00:00.050000'],
    differ: [['24:00:00.000000', '1 day']],
    rule: 'duration',
  },
  { name: 'CHAR(5) → char(5) (padding)', source: M(my('char', 'char(5)')), target: P(pgc('bpchar', 'character(5)')), equal: [['ab', 'ab   '], ['', '     ']], distinct: ['ab', 'a', ' ab'], rule: 'char' },
  { name: 'VARCHAR(10) → varchar(10) (trailing spaces kept)', source: M(my('varchar', 'varchar(10)')), target: P(pgc('varchar', 'character varying(10)')), equal: [['a ', 'a ']], distinct: ['a', 'a ', '1.50', '1.5'], differ: [['a', 'a ']] },
  { name: 'TEXT → text', source: M(my('text', 'text')), target: P(pgc('text', 'text')), equal: [['ü\n\t', 'ü\n\t']], distinct: ['', 'x'] },
  { name: 'BINARY(4) → bytea', source: M(my('binary', 'binary(4)', { charset: 'binary' })), target: P(pgc('bytea', 'bytea', { charset: 'binary' })), equal: [[Buffer.from('ab\0\0'), Buffer.from('ab\0\0')]], distinct: [Buffer.from('ab\0\0'), Buffer.from('ab\0\x01')] },
  { name: 'LONGBLOB → bytea', source: M(my('longblob', 'longblob', { charset: 'binary' })), target: P(pgc('bytea', 'bytea')), equal: [[Buffer.from([0, 255]), Buffer.from([0, 255])]] },
  { name: 'JSON → json (exact text)', source: M(my('json', 'json')), target: P(pgc('json', 'json')), equal: [['{"a": 1.0}', '{"a": 1.0}']], distinct: ['{"a": 1.0}', '{"a": 1}'] },
  { name: 'MariaDB JSON (LONGTEXT) → json', source: M(my('longtext', 'longtext')), target: P(pgc('json', 'json')), equal: [['[1, 2]', '[1, 2]']] },
  { name: 'ENUM → text', source: M(my('enum', "enum('a','b c')")), target: P(pgc('text', 'text')), equal: [['b c', 'b c'], ['', '']], distinct: ['a', 'b c'] },
  { name: 'SET → text', source: M(my('set', "set('x','y','z')")), target: P(pgc('text', 'text')), equal: [['x,z', 'x,z']] },
  { name: 'UUID (MariaDB) → uuid', source: M(my('uuid', 'uuid')), target: P(pgc('uuid', 'uuid')), equal: [['123e4567-e89b-12d3-a456-426614174000', '123e4567-e89b-12d3-a456-426614174000']] },
  { name: 'INET6 (MariaDB) → inet', source: M(my('inet6', 'inet6')), target: P(pgc('inet', 'inet')), equal: [['::1', '::1']] },
  { name: 'zero date → NULL under zeroDates null', source: M(my('date', 'date')), target: P(pgc('date', 'date')), equal: [['0000-00-00', null], ['2024-00-15', null], ['2024-01-01', '2024-01-01']], zeroDates: 'null' },
  { name: 'zero datetime → NULL under zeroDates null', source: M(my('datetime', 'datetime(0)')), target: P(pgc('timestamp', 'timestamp(0) without time zone')), equal: [['0000-00-00 00:00:00', null]], zeroDates: 'null' },
  { name: 'zero date under zeroDates error: a difference', source: M(my('date', 'date')), target: P(pgc('date', 'date')), equal: [], differ: [['0000-00-00', null]], zeroDates: 'error' },
  { name: 'override VARCHAR → text target', source: M(my('decimal', 'decimal(10,2)')), target: P(pgc('text', 'text')), equal: [['1.50', '1.50']], distinct: ['1.50', '1.5'], rule: 'text' },
];

const POSTGRES_TO_MYSQL: Case[] = [
  { name: 'int2 → SMALLINT', source: P(pgc('int2', 'smallint')), target: M(my('smallint', 'smallint(6)')), equal: [[-32768n, -32768n]] },
  { name: 'int4 → INT', source: P(pgc('int4', 'integer')), target: M(my('int', 'int(11)')), equal: [[2147483647n, 2147483647n]] },
  { name: 'int8 → BIGINT', source: P(pgc('int8', 'bigint')), target: M(my('bigint', 'bigint(20)')), equal: [[9223372036854775807n, 9223372036854775807n]], distinct: [1n, -1n] },
  { name: 'oid → INT UNSIGNED', source: P(pgc('oid', 'oid')), target: M(my('int', 'int(10) unsigned')), equal: [[4294967295n, 4294967295n]] },
  {
    name: 'numeric(10,2) → DECIMAL(10,2)',
    source: P(pgc('numeric', 'numeric(10,2)', { precision: 10, scale: 2 })),
    target: M(my('decimal', 'decimal(10,2)', { precision: 10, scale: 2 })),
    equal: [['-1.50', '-1.50'], ['0.00', '0.00']],
    distinct: ['1.50', '1.51', '-1.50'],
  },
  { name: 'numeric(5,-2) → DECIMAL(7,0)', source: P(pgc('numeric', 'numeric(5,-2)', { precision: 5, scale: -2 })), target: M(my('decimal', 'decimal(7,0)')), equal: [['12300', '12300']] },
  { name: 'numeric(2,3) → DECIMAL(3,3)', source: P(pgc('numeric', 'numeric(2,3)', { precision: 2, scale: 3 })), target: M(my('decimal', 'decimal(3,3)')), equal: [['0.012', '0.012']] },
  { name: 'numeric → DECIMAL(65,30) override (scale padding)', source: P(pgc('numeric', 'numeric')), target: M(my('decimal', 'decimal(65,30)')), equal: [['1.5', '1.500000000000000000000000000000'], ['-0.0', '0.000000000000000000000000000000']], distinct: ['1.5', '1.05', '15'] },
  { name: 'numeric NaN → VARCHAR override', source: P(pgc('numeric', 'numeric')), target: M(my('varchar', 'varchar(100)')), equal: [['NaN', 'NaN'], ['1.50', '1.50']], distinct: ['1.50', '1.5'], rule: 'text' },
  { name: 'float4 → FLOAT', source: P(pgc('float4', 'real')), target: M(my('float', 'float')), equal: [[Math.fround(3.1415927), Math.fround(3.1415927)], [-0, -0]], distinct: [0, -0] },
  { name: 'float8 → DOUBLE', source: P(pgc('float8', 'double precision')), target: M(my('double', 'double')), equal: [[0.1, 0.1]], distinct: [0.1, 0.2] },
  { name: 'float8 NaN → VARCHAR(32) override', source: P(pgc('float8', 'double precision')), target: M(my('varchar', 'varchar(32)')), equal: [[NaN, 'NaN'], [Infinity, 'Infinity'], [0.5, '0.5']], rule: 'text' },
  { name: 'bool → TINYINT(1)', source: P(pgc('bool', 'boolean')), target: M(my('tinyint', 'tinyint(1)')), equal: [[true, 1n], [false, 0n]], distinct: [true, false], differ: [[true, 0n]], rule: 'int' },
  { name: 'text → LONGTEXT', source: P(pgc('text', 'text')), target: M(my('longtext', 'longtext')), equal: [['a ', 'a ']], distinct: ['a', 'a '] },
  { name: 'varchar(10) → VARCHAR(10)', source: P(pgc('varchar', 'character varying(10)')), target: M(my('varchar', 'varchar(10)')), equal: [['x', 'x']], distinct: ['1.50', '1.5'] },
  { name: 'bpchar(5) → CHAR(5) (padding)', source: P(pgc('bpchar', 'character(5)')), target: M(my('char', 'char(5)')), equal: [['ab   ', 'ab'], ['     ', '']], distinct: ['ab   ', 'a    ', ' ab  '], rule: 'char' },
  { name: 'bpchar(300) → VARCHAR(300)', source: P(pgc('bpchar', 'character(300)')), target: M(my('varchar', 'varchar(300)')), equal: [['ab' + ' '.repeat(298), 'ab' + ' '.repeat(298)]], rule: 'char' },
  { name: '"char" → VARCHAR(4)', source: P(pgc('char', '"char"')), target: M(my('varchar', 'varchar(4)')), equal: [['c', 'c']] },
  { name: 'name → VARCHAR(63)', source: P(pgc('name', 'name')), target: M(my('varchar', 'varchar(63)')), equal: [['nm', 'nm']] },
  { name: 'bytea → LONGBLOB', source: P(pgc('bytea', 'bytea')), target: M(my('longblob', 'longblob', { charset: 'binary' })), equal: [[Buffer.from([0, 255]), Buffer.from([0, 255])]], distinct: [Buffer.from([0]), Buffer.alloc(0)] },
  { name: 'bytea key → VARBINARY(3070)', source: P(pgc('bytea', 'bytea')), target: M(my('varbinary', 'varbinary(3070)', { charset: 'binary' })), equal: [[Buffer.from('k'), Buffer.from('k')]] },
  { name: 'json → JSON (MariaDB LONGTEXT)', source: P(pgc('json', 'json')), target: M(my('longtext', 'longtext')), equal: [['{"a": 1.0}', '{"a": 1.0}']] },
  { name: 'jsonb → JSON', source: P(pgc('jsonb', 'jsonb')), target: M(my('longtext', 'longtext')), equal: [['{"a": 1, "b": 2}', '{"a": 1, "b": 2}']] },
  { name: 'uuid → CHAR(36) ascii', source: P(pgc('uuid', 'uuid')), target: M(my('char', 'char(36)', { charset: 'ascii' })), equal: [['123e4567-e89b-12d3-a456-426614174000', '123e4567-e89b-12d3-a456-426614174000']] },
  {
    name: 'timestamptz(6) → DATETIME(6) (UTC, zone dropped)',
    source: P(pgc('timestamptz', 'timestamp(6) with time zone', { scale: 6 })),
    target: M(my('datetime', 'datetime(6)', { scale: 6 })),
    equal: [['2024-01-01 00:00:00.5+00', '2024-01-01 00:00:00.500000'], ['2024-01-01 05:30:00+05:30', '2024-01-01 00:00:00.000000'], ['2024-01-01 00:00:00-01', '2024-01-01 01:00:00.000000'], ['0001-01-01 00:00:00+00', '0001-01-01 00:00:00.000000']],
    distinct: ['2024-01-01 00:00:00.5+00', '2024-01-01 00:00:00.05+00', '2024-01-01 00:00:00+00'],
    rule: 'instant',
  },
  { name: 'timestamp(3) → DATETIME(3)', source: P(pgc('timestamp', 'timestamp(3) without time zone', { scale: 3 })), target: M(my('datetime', 'datetime(3)', { scale: 3 })), equal: [['2024-01-01 00:00:00.12', '2024-01-01 00:00:00.120']], rule: 'datetime' },
  { name: 'date → DATE', source: P(pgc('date', 'date')), target: M(my('date', 'date')), equal: [['2024-02-29', '2024-02-29']] },
  { name: 'time(6) → TIME(6)', source: P(pgc('time', 'time(6) without time zone', { scale: 6 })), target: M(my('time', 'time(6)', { scale: 6 })), equal: [['24:00:00', '24:00:00.000000'], ['12:00:00.5', '12:00:00.500000']], distinct: ['12:00:00.5', '12:00:00.05'], rule: 'duration' },
  { name: 'timetz → VARCHAR(32)', source: P(pgc('timetz', 'time with time zone')), target: M(my('varchar', 'varchar(32)', { charset: 'ascii' })), equal: [['12:00:00+05:30', '12:00:00+05:30']] },
  { name: 'interval → VARCHAR(100)', source: P(pgc('interval', 'interval')), target: M(my('varchar', 'varchar(100)', { charset: 'ascii' })), equal: [['1 day 02:00:00', '1 day 02:00:00']], distinct: ['1 day', '24:00:00'], rule: 'text' },
  { name: 'int4[] → LONGTEXT', source: P(pgc('_int4', 'integer[]')), target: M(my('longtext', 'longtext')), equal: [['{1,2,NULL}', '{1,2,NULL}']], distinct: ['{1,2,NULL}', '{1,2,"NULL"}'] },
  { name: 'bit(5) → BIT(5)', source: P(pgc('bit', 'bit(5)', { precision: 5 })), target: M(my('bit', 'bit(5)')), equal: [['00101', 5n], ['00000', 0n]], distinct: ['00101', '00100'], rule: 'bits' },
  { name: 'bit(100) → VARCHAR(100)', source: P(pgc('bit', 'bit(100)', { precision: 100 })), target: M(my('varchar', 'varchar(100)', { charset: 'ascii' })), equal: [['1'.repeat(100), '1'.repeat(100)]], rule: 'text' },
  { name: 'varbit(10) → VARCHAR(10) (leading zeros kept)', source: P(pgc('varbit', 'bit varying(10)')), target: M(my('varchar', 'varchar(10)', { charset: 'ascii' })), equal: [['0101', '0101']], distinct: ['0101', '101'] },
  { name: 'inet → VARCHAR(50)', source: P(pgc('inet', 'inet')), target: M(my('varchar', 'varchar(50)', { charset: 'ascii' })), equal: [['192.168.0.1/24', '192.168.0.1/24']] },
  { name: 'cidr → VARCHAR(50)', source: P(pgc('cidr', 'cidr')), target: M(my('varchar', 'varchar(50)', { charset: 'ascii' })), equal: [['10.0.0.0/8', '10.0.0.0/8']] },
  { name: 'macaddr → CHAR(17)', source: P(pgc('macaddr', 'macaddr')), target: M(my('char', 'char(17)', { charset: 'ascii' })), equal: [['08:00:2b:01:02:03', '08:00:2b:01:02:03']] },
  { name: 'enum → ENUM', source: P(pgc('mood', 'mood', { enumLabels: ['sad', 'ok'] })), target: M(my('enum', "enum('sad','ok')")), equal: [['ok', 'ok']], distinct: ['sad', 'ok'] },
  { name: 'enum → VARCHAR(63)', source: P(pgc('mood', 'mood')), target: M(my('varchar', 'varchar(63)')), equal: [['ok', 'ok']] },
];

const SAME_ENGINE: Case[] = [
  { name: 'MySQL DECIMAL → same', source: M(my('decimal', 'decimal(10,2)')), target: M(my('decimal', 'decimal(10,2)')), equal: [['1.50', '1.50']], distinct: ['1.50', '1.5'], rule: 'exact' },
  { name: 'MySQL VARCHAR → same', source: M(my('varchar', 'varchar(10)')), target: M(my('varchar', 'varchar(10)')), equal: [['a ', 'a ']], distinct: ['a', 'a '], rule: 'exact' },
  { name: 'PostgreSQL numeric → same (scale kept)', source: P(pgc('numeric', 'numeric')), target: P(pgc('numeric', 'numeric')), equal: [['1.50', '1.50']], distinct: ['1.50', '1.5'], rule: 'exact' },
  { name: 'PostgreSQL timestamptz → same', source: P(pgc('timestamptz', 'timestamp with time zone')), target: P(pgc('timestamptz', 'timestamp with time zone')), equal: [['2024-01-01 00:00:00+00', '2024-01-01 00:00:00+00']], rule: 'exact' },
  { name: 'MySQL DATETIME(6) → DATETIME(3) (a user-made target)', source: M(my('datetime', 'datetime(6)')), target: M(my('datetime', 'datetime(3)')), equal: [['2024-01-01 00:00:00.500000', '2024-01-01 00:00:00.500']], differ: [['2024-01-01 00:00:00.500100', '2024-01-01 00:00:00.500']] },
];

function check(c: Case): void {
  const r: ColumnRule = columnRule(c.source, c.target, { zeroDates: c.zeroDates ?? 'error' });
  if (c.rule) expect(r.name).toBe(c.rule);
  for (const [s, t] of c.equal) expect(hash(r.source(s)), `${String(s)} vs ${String(t)}`).toBe(hash(r.target(t)));
  for (const [s, t] of c.differ ?? []) expect(hash(r.source(s)), `${String(s)} vs ${String(t)}`).not.toBe(hash(r.target(t)));
  const forms = (c.distinct ?? []).map((v) => hash(r.source(v)));
  expect(new Set(forms).size, `distinct values of ${c.name}`).toBe(forms.length);
  // NULL is NULL on both sides, and never any value.
  expect(hash(r.source(null))).toBe(hash(r.target(null)));
  for (const [s] of c.equal) if (s !== null && r.source(s) !== null) expect(hash(r.source(s))).not.toBe(hash(null));
}

/**
 * The comparable form (core/comparable.ts) each pair's rule names: the servers digest a chunk in
 * these texts instead of sending its rows. A pair not listed names none (its table is compared by
 * rows): a form must never carry a pair whose rule does more than the form's text does (a zero date
 * made NULL, a float widened, bits, durations, JSON, network values, types kept as `other`).
 */
const FORMS: Record<string, string> = {
  'TINYINT → smallint': 'int',
  'TINYINT(1) → smallint (a number: 9 stays 9)': 'int',
  'SMALLINT UNSIGNED → integer': 'int',
  'MEDIUMINT → integer': 'int',
  'INT UNSIGNED → bigint': 'int',
  'BIGINT → bigint': 'int',
  'BIGINT UNSIGNED → numeric(20,0) (bigint vs digits)': 'decimal',
  'DECIMAL(10,2) → numeric(10,2)': 'decimal',
  'DOUBLE → double precision': 'float',
  'YEAR → smallint': 'int',
  'DATE → date': 'date',
  'DATETIME(6) → timestamp(6) (fraction digits)': 'datetime',
  'TIMESTAMP(3) → timestamptz(3) (UTC, zone)': 'instant',
  'CHAR(5) → char(5) (padding)': 'char',
  'VARCHAR(10) → varchar(10) (trailing spaces kept)': 'text',
  'TEXT → text': 'text',
  'BINARY(4) → bytea': 'bytes',
  'LONGBLOB → bytea': 'bytes',
  'ENUM → text': 'text',
  'SET → text': 'text',
  'UUID (MariaDB) → uuid': 'text',
  'zero date under zeroDates error: a difference': 'date',
  'int2 → SMALLINT': 'int',
  'int4 → INT': 'int',
  'int8 → BIGINT': 'int',
  'oid → INT UNSIGNED': 'int',
  'numeric(10,2) → DECIMAL(10,2)': 'decimal',
  'numeric(5,-2) → DECIMAL(7,0)': 'decimal',
  'numeric(2,3) → DECIMAL(3,3)': 'decimal',
  'numeric → DECIMAL(65,30) override (scale padding)': 'decimal',
  'float8 → DOUBLE': 'float',
  'bool → TINYINT(1)': 'int',
  'text → LONGTEXT': 'text',
  'varchar(10) → VARCHAR(10)': 'text',
  'bpchar(5) → CHAR(5) (padding)': 'char',
  'bpchar(300) → VARCHAR(300)': 'char',
  'bytea → LONGBLOB': 'bytes',
  'bytea key → VARBINARY(3070)': 'bytes',
  'uuid → CHAR(36) ascii': 'char',
  'timestamptz(6) → DATETIME(6) (UTC, zone dropped)': 'instant',
  'timestamp(3) → DATETIME(3)': 'datetime',
  'date → DATE': 'date',
  'MySQL DECIMAL → same': 'decimal',
  'MySQL VARCHAR → same': 'text',
  'PostgreSQL numeric → same (scale kept)': 'decimal',
  'PostgreSQL timestamptz → same': 'instant',
  'MySQL DATETIME(6) → DATETIME(3) (a user-made target)': 'datetime',
};

describe('checksum normaliser: comparable forms', () => {
  it.each([...MYSQL_TO_POSTGRES, ...POSTGRES_TO_MYSQL, ...SAME_ENGINE].map((c) => [c.name, c] as const))('%s', (name, c) => {
    expect(columnRule(c.source, c.target, { zeroDates: c.zeroDates ?? 'error' }).form).toBe(FORMS[name]);
  });

  it('names every listed pair', () => {
    const names = new Set([...MYSQL_TO_POSTGRES, ...POSTGRES_TO_MYSQL, ...SAME_ENGINE].map((c) => c.name));
    expect(Object.keys(FORMS).filter((n) => !names.has(n))).toEqual([]);
  });
});

describe('checksum normaliser: MySQL → PostgreSQL pairs', () => {
  it.each(MYSQL_TO_POSTGRES.map((c) => [c.name, c] as const))('%s', (_, c) => check(c));
});

describe('checksum normaliser: PostgreSQL → MySQL pairs', () => {
  it.each(POSTGRES_TO_MYSQL.map((c) => [c.name, c] as const))('%s', (_, c) => check(c));
});

describe('checksum normaliser: same engine', () => {
  it.each(SAME_ENGINE.map((c) => [c.name, c] as const))('%s', (_, c) => check(c));
});

describe('checksum normaliser: forms', () => {
  it('shortens decimals without changing their value', () => {
    expect(toDecimal('001.500')).toBe('1.5');
    expect(toDecimal('-0.00')).toBe('0');
    expect(toDecimal('+12')).toBe('12');
    expect(toDecimal('.5')).toBe('0.5');
    expect(toDecimal(18446744073709551615n)).toBe('18446744073709551615');
    expect(toDecimal('NaN')).toBe('NaN');
    expect(toDecimal('-Infinity')).toBe('-Infinity');
  });

  it('trims fraction zeros of times and timestamps only', () => {
    expect(trimFraction('2024-01-01 10:00:00.100000')).toBe('2024-01-01 10:00:00.1');
    expect(trimFraction('2024-01-01 10:00:00.000000+00')).toBe('2024-01-01 10:00:00+00');
    expect(trimFraction('10:00:00.000001')).toBe('10:00:00.000001');
    expect(trimFraction('2024-01-01')).toBe('2024-01-01');
  });

  it('converts instants to UTC exactly, across days and years', () => {
    expect(toUtc('2024-01-01 00:30:00.25+01')).toBe('2023-12-31 23:30:00.25');
    expect(toUtc('2024-02-28 23:00:00-01:30')).toBe('2024-02-29 00:30:00');
    expect(toUtc('2024-01-01 00:00:00+00')).toBe('2024-01-01 00:00:00');
    expect(toUtc('2024-01-01 00:00:00.000000')).toBe('2024-01-01 00:00:00');
    expect(toUtc('infinity')).toBe('infinity');
  });

  it('reads durations as microseconds and writes them back', () => {
    expect(toMicros('-838:59:59.000000')).toBe(-(838n * 3600n + 59n * 60n + 59n) * 1_000_000n);
    expect(toMicros('00:00:00.5')).toBe(500_000n);
    expect(fromMicros(toMicros('-838:59:59.5'))).toBe('-838:59:59.500000');
    expect(fromMicros(toMicros('12:00:00'))).toBe('12:00:00');
    expect(toMicros('1 day 02:00:00')).toBe('1 day 02:00:00');
  });

  it('turns comparable keys back into values the source reads', () => {
    const bool = columnRule(P(pgc('bool', 'boolean')), M(my('tinyint', 'tinyint(1)')), { zeroDates: 'error' });
    expect(bool.toSource(bool.target(1n))).toBe(true);
    const bits = columnRule(P(pgc('bit', 'bit(5)', { precision: 5 })), M(my('bit', 'bit(5)')), { zeroDates: 'error' });
    expect(bits.toSource(bits.target(5n))).toBe('00101');
    const time = columnRule(M(my('time', 'time(0)')), P(pgc('interval', 'interval')), { zeroDates: 'error' });
    expect(time.toSource(time.target('-01:00:00'))).toBe('-01:00:00');
  });
});
