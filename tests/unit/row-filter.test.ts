/**
 * The row filter language (transform/expression.ts): parsing, binding per logical type with every
 * refusal, and SQL's three-valued logic on canonical values; the engines' renderings are proved
 * against real servers in tests/integration/row-filter.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { ErrorCode, TributaryError } from '../../src/core/errors.js';
import type { LogicalType } from '../../src/core/logical.js';
import type { RowFilter } from '../../src/core/row-filter.js';
import type { Column, TableSchema } from '../../src/core/schema.js';
import type { Row, Value } from '../../src/core/values.js';
import { bindFilter, compareDecimal, compareUtf8, compileFilter, evaluateFilter, parseFilter, showFilter } from '../../src/transform/expression.js';
import { FakeSource } from '../helpers/fakes.js';

const col = (name: string, logical: LogicalType, extra: Partial<Column> = {}): Column => ({ name, dataType: logical.kind, columnType: logical.kind, nullable: true, unsigned: false, logical, ...extra });

const TABLE: TableSchema = {
  name: 'orders',
  engine: 'test',
  primaryKey: [0],
  generated: ['total_x2'],
  columns: [
    col('id', { kind: 'integer', bytes: 8, signed: true }, { nullable: false }),
    col('tenant_id', { kind: 'integer', bytes: 4, signed: true }),
    col('big_u', { kind: 'integer', bytes: 8, signed: false }),
    col('tiny', { kind: 'integer', bytes: 1, signed: true }),
    col('price', { kind: 'decimal', precision: 10, scale: 2 }),
    col('num', { kind: 'decimal' }),
    col('ratio', { kind: 'float', bits: 64 }),
    col('active', { kind: 'boolean' }),
    col('Name', { kind: 'text', fixed: false, length: 50, collation: 'utf8mb4_general_ci' }),
    col('code', { kind: 'text', fixed: true, length: 4 }),
    col('payload', { kind: 'binary', fixed: false }),
    col('day', { kind: 'date' }),
    col('created_at', { kind: 'timestamp', zone: false, fsp: 6 }),
    col('seen_at', { kind: 'timestamp', zone: true, fsp: 3 }),
    col('dur', { kind: 'time', fsp: 0, range: 'hours838' }),
    col('tod', { kind: 'time', fsp: 2, range: 'day' }),
    col('status', { kind: 'enum', labels: ['new', 'paid'] }),
    col('flags', { kind: 'bit', length: 8, varying: false }),
    col('vbits', { kind: 'bit', length: 16, varying: true }),
    col('doc', { kind: 'json', binary: false }),
    col('yr', { kind: 'year' }),
    col('uid', { kind: 'uuid' }),
    col('shape', { kind: 'spatial', subtype: 'point' }),
  ],
};

const NAMES = TABLE.columns.map((c) => c.name);

function bind(text: string, table = TABLE): RowFilter {
  return bindFilter(parseFilter(text), table, 'shop.orders');
}

function refusal(fn: () => unknown): TributaryError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(TributaryError);
    return err as TributaryError;
  }
  throw new Error('expected a refusal');
}

/** A row with the named columns set and every other column NULL. */
function row(values: Record<string, Value>): Row {
  return NAMES.map((n) => (n in values ? (values[n] as Value) : null));
}

const keeps = (text: string, values: Record<string, Value>) => evaluateFilter(bind(text), TABLE, row(values));

describe('parseFilter', () => {
  it('gives NOT precedence over AND, and AND over OR', () => {
    expect(showFilter(parseFilter('a = 1 OR b = 2 AND NOT c = 3'))).toBe('a = 1 OR (b = 2 AND NOT c = 3)');
    expect(parseFilter('a = 1 OR b = 2 AND c = 3')).toMatchObject({ kind: 'or', items: [{ kind: 'compare' }, { kind: 'and' }] });
    expect(parseFilter('(a = 1 OR b = 2) AND c = 3')).toMatchObject({ kind: 'and', items: [{ kind: 'or' }, { kind: 'compare' }] });
    expect(parseFilter('NOT (a = 1 AND b = 2)')).toMatchObject({ kind: 'not', item: { kind: 'and' } });
    expect(parseFilter('NOT NOT a = 1')).toMatchObject({ kind: 'not', item: { kind: 'not', item: { kind: 'compare' } } });
  });

  it('reads keywords in any case and quoted names with their quotes doubled', () => {
    expect(parseFilter('a is not null and b Between 1 aNd 2 or c not in (1)')).toMatchObject({
      kind: 'or',
      items: [{ kind: 'and', items: [{ kind: 'is-null', negated: true }, { kind: 'between', negated: false }] }, { kind: 'in', negated: true }],
    });
    expect(parseFilter('`we``ird` = 1')).toMatchObject({ column: { name: 'we`ird', quoted: true } });
    expect(parseFilter('"and" = 1')).toMatchObject({ column: { name: 'and', quoted: true } });
    expect(parseFilter('"a""b" <> 1')).toMatchObject({ column: { name: 'a"b' }, op: '<>' });
    expect(parseFilter('ünïcode_1$ != 1')).toMatchObject({ column: { name: 'ünïcode_1$', quoted: false }, op: '<>' });
  });

  it('reads every literal form', () => {
    const value = (text: string) => (parseFilter(`a = ${text}`) as { value: unknown }).value;
    expect(value("'it''s'")).toMatchObject({ kind: 'string', text: "it's" });
    expect(value("''")).toMatchObject({ kind: 'string', text: '' });
    expect(value('42')).toMatchObject({ kind: 'number', text: '42' });
    expect(value('-42')).toMatchObject({ kind: 'number', text: '-42' });
    expect(value('+1.5')).toMatchObject({ kind: 'number', text: '1.5' });
    expect(value('.5e-3')).toMatchObject({ kind: 'number', text: '.5e-3' });
    expect(value('1E10')).toMatchObject({ kind: 'number', text: '1E10' });
    expect(value('TRUE')).toMatchObject({ kind: 'boolean', value: true });
    expect(value('false')).toMatchObject({ kind: 'boolean', value: false });
    expect(value("x'00fF'")).toMatchObject({ kind: 'bytes', value: Buffer.from([0, 255]) });
    expect(value("X''")).toMatchObject({ kind: 'bytes', value: Buffer.alloc(0) });
    expect(value('0xCAFE')).toMatchObject({ kind: 'bytes', value: Buffer.from([0xca, 0xfe]) });
    expect(value("b'0101'")).toMatchObject({ kind: 'bits', text: '0101' });
  });

  it('turns a literal on the left round', () => {
    expect(parseFilter('42 < a')).toMatchObject({ kind: 'compare', column: { name: 'a' }, op: '>', value: { text: '42' } });
    expect(parseFilter("'x' >= a")).toMatchObject({ op: '<=' });
  });

  it('refuses syntax errors naming the expression, the place and what was expected', () => {
    const cases: [string, RegExp][] = [
      ['', /the expression is empty/],
      ['a = ', /at its end: expected a literal/],
      ['a = 1 AND', /at its end: expected a column name, a literal, NOT or '\('/],
      ['(a = 1', /expected '\)' or AND\/OR/],
      ['a = 1)', /offset 5, near '\)': expected AND, OR or the end/],
      ['a 1', /expected a comparison .* after a/],
      ["a = 'open", /unterminated string/],
      ['`a = 1', /unterminated quoted name/],
      ["a = x'abc'", /not an even number of hexadecimal digits/],
      ['a = 0x', /not an even, non-zero number/],
      ["a = b'012'", /other than 0 and 1/],
      ['a = 12abc', /runs into a name/],
      ['a IN ()', /IN needs at least one value/],
      ['a IN (1, 2', /expected ',' or '\)' in the IN list/],
      ['a BETWEEN 1 OR 2', /expected AND between the two bounds/],
      ['a IS 1', /expected NULL after IS/],
      ['a NOT = 1', /expected IN or BETWEEN after a NOT/],
      ['a = b', /compares with a column/],
      ['1 = 2', /compares two literals/],
      ['a ~ 1', /unexpected character '~'/],
      ['a = - 1', /a sign must be followed directly by a number/],
      ['AND = 1', /expected a column name/],
    ];
    for (const [text, re] of cases) {
      const err = refusal(() => parseFilter(text));
      expect(err.code, text).toBe(ErrorCode.CONFIG_INVALID);
      expect(err.message, text).toMatch(re);
      expect(err.message, text).toContain(`row filter "${text}"`);
    }
  });

  it('refuses NULL as an operand, pointing at IS NULL', () => {
    for (const text of ['a = NULL', 'NULL = a', 'a <> NULL', 'a IN (1, NULL)', 'a BETWEEN NULL AND 2']) {
      expect(refusal(() => parseFilter(text)).message, text).toMatch(/use (column )?IS (NOT )?NULL/);
    }
  });
});

describe('bindFilter', () => {
  it('resolves columns exactly, then ignoring case, and names the table and its columns when one is unknown', () => {
    expect(bind('name = \'x\'')).toEqual({ kind: 'compare', column: 'Name', op: '=', value: 'x' });
    expect(bind('"Name" = \'x\'')).toMatchObject({ column: 'Name' });
    const err = refusal(() => bind('nope = 1'));
    expect(err.code).toBe(ErrorCode.CONFIG_INVALID);
    expect(err.message).toContain('row filter on shop.orders: table orders has no column nope; its columns are id, tenant_id,');
    expect(refusal(() => bind('total_x2 = 1')).message).toMatch(/total_x2 is a generated column/);
    const twins: TableSchema = { ...TABLE, columns: [col('a', { kind: 'integer', bytes: 4, signed: true }), col('A', { kind: 'integer', bytes: 4, signed: true })] };
    expect(bindFilter(parseFilter('A = 1'), twins, 't')).toMatchObject({ column: 'A' });
    expect(refusal(() => bindFilter(parseFilter('"a " = 1'), twins, 't')).message).toMatch(/no column a /);
    const three: TableSchema = { ...TABLE, columns: [col('Ab', { kind: 'integer', bytes: 4, signed: true }), col('aB', { kind: 'integer', bytes: 4, signed: true })] };
    expect(refusal(() => bindFilter(parseFilter('ab = 1'), three, 't')).message).toMatch(/matches Ab and aB but for case/);
  });

  it('makes each literal the canonical value of its column', () => {
    const value = (text: string) => (bind(text) as { value: Value }).value;
    expect(value('tenant_id = 42')).toBe(42n);
    expect(value('tenant_id = 4.2e1')).toBe(42n);
    expect(value("tenant_id = '-7'")).toBe(-7n);
    expect(value('tiny = TRUE')).toBe(1n);
    expect(value('big_u = 18446744073709551615')).toBe(18446744073709551615n);
    expect(value('price = 1.50')).toBe('1.5');
    expect(value('price = -0012.3400')).toBe('-12.34');
    expect(value('price = 1.5e3')).toBe('1500');
    expect(value('price = 15e-4')).toBe('0.0015');
    expect(value('price = -0.0')).toBe('0');
    expect(value("num = 'NaN'")).toBe('NaN');
    expect(value("num = '-Infinity'")).toBe('-Infinity');
    expect(value('ratio = 0.1')).toBe(0.1);
    expect(value('active = FALSE')).toBe(false);
    expect(value("name = 'Ünï'")).toBe('Ünï');
    expect(value("payload = x'00ff'")).toEqual(Buffer.from([0, 255]));
    expect(value("payload = 'é'")).toEqual(Buffer.from('é', 'utf8'));
    expect(value("day = '2024-02-29'")).toBe('2024-02-29');
    expect(value("created_at = '2024-01-01'")).toBe('2024-01-01 00:00:00.000000');
    expect(value("created_at = '2024-01-01T10:20:30.5'")).toBe('2024-01-01 10:20:30.500000');
    expect(value("seen_at = '2024-01-01 01:00:00.100+02:00'")).toBe('2023-12-31 23:00:00.100');
    expect(value("seen_at = '2024-01-01 00:00:00Z'")).toBe('2024-01-01 00:00:00.000');
    expect(value("dur = '-838:59:59'")).toBe('-838:59:59');
    expect(value("dur = '-00:00:00'")).toBe('00:00:00');
    expect(value("tod = '24:00:00'")).toBe('24:00:00.00');
    expect(value("tod = '12:30'")).toBe('12:30:00.00');
    expect(value("status = 'paid'")).toBe('paid');
    expect(value('flags = 5')).toBe(5n);
    expect(value("flags = b'101'")).toBe(5n);
    expect(value("flags = '11111111'")).toBe(255n);
    expect(value('flags = 0xff')).toBe(255n);
    expect(value("vbits = b'0101'")).toBe('0101');
    expect(value('yr = 2024')).toBe(2024n);
    expect(value("uid = 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'")).toBe('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11');
    expect(bind('id IN (1, 2)')).toEqual({ kind: 'in', column: 'id', values: [1n, 2n] });
    expect(bind('id NOT BETWEEN 1 AND 2')).toEqual({ kind: 'not', item: { kind: 'between', column: 'id', low: 1n, high: 2n } });
    expect(bind('doc IS NOT NULL')).toEqual({ kind: 'not', item: { kind: 'is-null', column: 'doc' } });
  });

  it('refuses what cannot be compared exactly, naming table, predicate, value and fix', () => {
    const cases: [string, RegExp][] = [
      ['tenant_id = 1.5', /1\.5 for column tenant_id \(integer\) has a fraction/],
      ['tenant_id = 2147483648', /outside the column's range -2147483648\.\.2147483647/],
      ['big_u = -1', /outside the column's range 0\.\.18446744073709551615/],
      ["tenant_id = 'abc'", /is not a number/],
      ["tenant_id = x'01'", /is not a number/],
      ["price = 'abc'", /is not a decimal number/],
      ["price = 'NaN'", /is not a decimal number/],
      ["ratio = 'NaN'", /is not a finite number/],
      ['ratio = 1e400', /beyond the range of a double/],
      ['active = 2', /is not TRUE or FALSE/],
      ['name = 42', /is not a quoted string; write the text in quotes/],
      ['name = TRUE', /is not a quoted string/],
      ["name = 'a\0'", /NUL/],
      ['payload = 12', /is not a byte string/],
      ["day = '2024-02-30'", /is not a date 'YYYY-MM-DD'/],
      ["day = '0000-00-00'", /is not a date/],
      ['day = 20240101', /is not a quoted string/],
      ["created_at = 'yesterday'", /is not a timestamp/],
      ["created_at = '2024-01-01 00:00:00+01:00'", /carries a time zone, but the column holds times without one/],
      ["created_at = '2024-01-01 00:00:00.0000001'", /more fraction digits than the column keeps \(6\)/],
      ["seen_at = '2024-01-01 00:00:00.0001'", /more fraction digits than the column keeps \(3\)/],
      ["created_at = '2024-01-01 25:00:00'", /time of day out of range/],
      ["dur = '839:00:00'", /outside the column's range/],
      ["dur = '00:00:00.5'", /more fraction digits than the column keeps \(0\)/],
      ["tod = '-01:00:00'", /outside the column's range/],
      ["tod = '12:61:00'", /out of range/],
      ['flags = 256', /does not fit the column's 8 bits/],
      ['vbits = 5', /varying length; write the bits/],
      ["vbits = b'10101010101010101'", /more than the column's 16 bits/],
      ['yr = 2156', /outside the column's range 0\.\.2155/],
      ["uid = 'nope'", /is not a UUID/],
      ["doc = '{}'", /column doc \(json\) holds JSON, which a filter cannot compare exactly; only doc IS \[NOT\] NULL/],
      ["shape IN ('x')", /holds a geometry/],
    ];
    for (const [text, re] of cases) {
      const err = refusal(() => bind(text));
      expect(err.code, text).toBe(ErrorCode.CONFIG_INVALID);
      expect(err.message, text).toMatch(re);
      expect(err.message, text).toContain('row filter on shop.orders: ');
    }
  });
});

describe('evaluateFilter', () => {
  it('follows SQL three-valued logic', () => {
    expect(keeps('tenant_id = 1', { tenant_id: null })).toBe(null);
    expect(keeps('NOT tenant_id = 1', { tenant_id: null })).toBe(null);
    expect(keeps('tenant_id = 1 AND id = 1', { tenant_id: null, id: 2n })).toBe(false);
    expect(keeps('tenant_id = 1 AND id = 1', { tenant_id: null, id: 1n })).toBe(null);
    expect(keeps('tenant_id = 1 OR id = 1', { tenant_id: null, id: 1n })).toBe(true);
    expect(keeps('tenant_id = 1 OR id = 1', { tenant_id: null, id: 2n })).toBe(null);
    expect(keeps('tenant_id IN (1, 2)', { tenant_id: null })).toBe(null);
    expect(keeps('tenant_id NOT IN (1, 2)', { tenant_id: null })).toBe(null);
    expect(keeps('tenant_id NOT IN (1, 2)', { tenant_id: 3n })).toBe(true);
    expect(keeps('tenant_id BETWEEN 1 AND 2', { tenant_id: null })).toBe(null);
    expect(keeps('tenant_id BETWEEN 2 AND 1', { tenant_id: 1n })).toBe(false);
    expect(keeps('tenant_id IS NULL', { tenant_id: null })).toBe(true);
    expect(keeps('tenant_id IS NOT NULL', { tenant_id: null })).toBe(false);
    expect(keeps('tenant_id <> 1', { tenant_id: 1n })).toBe(false);
    expect(keeps('tenant_id <= 1 AND tenant_id >= 1 AND NOT tenant_id < 1 AND NOT tenant_id > 1', { tenant_id: 1n })).toBe(true);
  });

  it('compares every logical type as its canonical values compare', () => {
    expect(keeps('big_u > 9007199254740993', { big_u: 9007199254740994n })).toBe(true);
    expect(keeps('big_u > 9007199254740993', { big_u: 9007199254740993n })).toBe(false);
    expect(keeps('price = 1.5', { price: '1.50' })).toBe(true);
    expect(keeps('price > -2', { price: '-10.00' })).toBe(false);
    expect(keeps('price < 0.10', { price: '0.09' })).toBe(true);
    expect(keeps('price = 0', { price: '-0.00' })).toBe(true);
    expect(keeps('num > 99999999999999999999999999', { num: '100000000000000000000000000.000001' })).toBe(true);
    expect(keeps("num > 1e30", { num: 'NaN' })).toBe(true);
    expect(keeps("num = 'NaN'", { num: 'NaN' })).toBe(true);
    expect(keeps("num < '-Infinity'", { num: '-99' })).toBe(false);
    expect(keeps('ratio > 1e300', { ratio: NaN })).toBe(true);
    expect(keeps('ratio = 0', { ratio: -0 })).toBe(true);
    expect(keeps('ratio = 0.1', { ratio: Math.fround(0.1) })).toBe(false);
    expect(keeps('active = TRUE', { active: true })).toBe(true);
    expect(keeps('active < TRUE', { active: false })).toBe(true);
    // Bytes, not a collation: case, accents and trailing spaces all count.
    expect(keeps("name = 'abc'", { Name: 'ABC' })).toBe(false);
    expect(keeps("name = 'abc'", { Name: 'abc ' })).toBe(false);
    expect(keeps("name > 'Z'", { Name: 'a' })).toBe(true);
    expect(keeps("name > 'z'", { Name: 'é' })).toBe(true);
    expect(keeps("name > '\uffff'", { Name: '😀' })).toBe(true);
    expect(keeps("code = 'ab'", { code: 'ab  ' })).toBe(false);
    expect(keeps("payload > x'00'", { payload: Buffer.from([0, 0]) })).toBe(true);
    expect(keeps("payload < x'ff'", { payload: Buffer.from([0x7f, 0xff]) })).toBe(true);
    expect(keeps("day >= '2024-01-01'", { day: '2023-12-31' })).toBe(false);
    expect(keeps("day < '0001-01-01'", { day: '0000-00-00' })).toBe(true);
    expect(keeps("day > '9999-12-31'", { day: 'infinity' })).toBe(true);
    expect(keeps("day < '0001-01-01'", { day: '0044-03-15 BC' })).toBe(true);
    expect(keeps("day < '0001-01-01'", { day: '-infinity' })).toBe(true);
    expect(keeps("created_at = '2024-01-01 00:00:00.5'", { created_at: '2024-01-01 00:00:00.500000' })).toBe(true);
    expect(keeps("created_at < '2024-01-01 00:00:00.000001'", { created_at: '2024-01-01 00:00:00.000000' })).toBe(true);
    expect(keeps("created_at < '10000-01-01'".replace('10000-01-01', '9999-01-01'), { created_at: '12345-01-01 00:00:00' })).toBe(false);
    expect(keeps("seen_at = '2024-01-01 00:00:00.5'", { seen_at: '2024-01-01 00:00:00.5+00' })).toBe(true);
    expect(keeps("seen_at = '2024-01-01 00:00:00.5'", { seen_at: '2024-01-01 01:00:00.5+01' })).toBe(true);
    expect(keeps("dur < '-01:00:00'", { dur: '-838:59:59' })).toBe(true);
    expect(keeps("dur > '99:00:00'", { dur: '100:00:00' })).toBe(true);
    expect(keeps("tod = '12:00:00.5'", { tod: '12:00:00.5' })).toBe(true);
    expect(keeps("status < 'new'", { status: 'paid' })).toBe(false);
    expect(keeps('flags = 5', { flags: 5n })).toBe(true);
    expect(keeps('flags = 5', { flags: '00000101' })).toBe(true);
    expect(keeps("flags > b'1'", { flags: '10000000' })).toBe(true);
    expect(keeps("vbits = b'01'", { vbits: '01' })).toBe(true);
    expect(keeps("vbits < b'10'", { vbits: '1' })).toBe(true);
    expect(keeps('yr BETWEEN 2000 AND 2100', { yr: 2024n })).toBe(true);
  });

  it('compares strings by UTF-8 bytes and decimals exactly', () => {
    const pairs: [string, string][] = [['a', 'b'], ['', 'a'], ['a', 'ab'], ['Z', 'a'], ['\uffff', '😀'], ['é', 'z'.repeat(3)], ['\ue000', '\ud83d\ude00']];
    for (const [a, b] of pairs) {
      expect(Math.sign(compareUtf8(a, b)), `${a} ${b}`).toBe(Math.sign(Buffer.compare(Buffer.from(a), Buffer.from(b))));
      expect(Math.sign(compareUtf8(b, a)), `${b} ${a}`).toBe(Math.sign(Buffer.compare(Buffer.from(b), Buffer.from(a))));
    }
    expect(compareDecimal('10', '9.999')).toBeGreaterThan(0);
    expect(compareDecimal('-10', '-9.999')).toBeLessThan(0);
    expect(compareDecimal('0010.100', '10.1')).toBe(0);
    expect(compareDecimal('-0', '0.000')).toBe(0);
    expect(compareDecimal('12345678901234567890.000000000000000000001', '12345678901234567890')).toBeGreaterThan(0);
    expect(compareDecimal('Infinity', 'NaN')).toBeLessThan(0);
    expect(compareDecimal('-Infinity', '-1e999'.replace('e999', ''))).toBeLessThan(0);
  });

  it('hands a predicate the row by column name', () => {
    const filter: RowFilter = { kind: 'and', items: [{ kind: 'predicate', sql: 'tenant_id % 2 = 0', matches: (r) => typeof r.tenant_id === 'bigint' && r.tenant_id % 2n === 0n }, { kind: 'compare', column: 'id', op: '>', value: 1n }] };
    const keep = compileFilter(filter, TABLE);
    expect(keep(row({ id: 2n, tenant_id: 4n }))).toBe(true);
    expect(keep(row({ id: 2n, tenant_id: 3n }))).toBe(false);
    expect(keep(row({ id: 1n, tenant_id: 4n }))).toBe(false);
  });

  it('is honoured by the fake source on every snapshot read', async () => {
    const t: TableSchema = { name: 't', engine: 'fake', primaryKey: [0], generated: [], columns: [col('id', { kind: 'integer', bytes: 8, signed: true }, { nullable: false }), col('v', { kind: 'text', fixed: false })] };
    const source = new FakeSource([t]);
    source.seed('t', [[1n, 'a'], [2n, 'B'], [3n, null], [4n, 'b']]);
    const filtered: TableSchema = { ...t, rowFilter: bindFilter(parseFilter("v >= 'a'"), t, 't') };
    const all = { after: null, upTo: null };
    expect(await source.readChunk(filtered, all)).toEqual([[1n, 'a'], [4n, 'b']]);
    expect(await source.readRowsByKeys(filtered, [[2n], [4n]])).toEqual([[4n, 'b']]);
    const scanned: Row[] = [];
    await source.scanRows(filtered, (rows) => void scanned.push(...rows));
    expect(scanned).toEqual([[1n, 'a'], [4n, 'b']]);
    expect((await source.chunkDigest(filtered, all))?.rows).toBe(2);
    expect(await source.chunkBoundary(filtered, null, 3)).toEqual([3n]);
  });
});
