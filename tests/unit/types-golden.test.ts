/**
 * The golden type fixture (issue 11, plan step 6a): for every table of the type corpus
 * (tests/helpers/types-corpus.ts), what today's type functions give, recorded in
 * tests/fixtures/types-golden.json:
 *
 * - MySQL columns: mysqlToPostgresType and postgresTypeFor (zero dates refused / as NULL with
 *   PostGIS; both are the PostgreSQL target's postgresColumnType now, of the column as the MySQL
 *   engine's describe gives it, with its logical type), pgCopySelect of the column alone and of the table;
 * - PostgreSQL columns: mapPostgresTable of the table (MariaDB, MySQL, with the overrides its
 *   refused columns need, and with enum labels by name) and of each column alone, postgresTypeFor
 *   (postgresColumnType now; into another schema too). Since plan step 6d the MySQL target maps
 *   another engine's table by its logical types: the `mapPostgresTable` entries are computed by
 *   engines/mysql/types.ts mapLogicalTable over the PostgreSQL engine's toLogical (the JSON keys
 *   keep their names);
 * - for each (source, target) engine pair: the checksum's columnRule (its name, and what its three
 *   functions make of a fixed list of probe values) and planTable's mode, reason and exactness.
 *
 * Refusals are recorded by their message. By default the test compares; `UPDATE_GOLDEN=1 npx
 * vitest run tests/unit/types-golden.test.ts` rewrites the fixture. Phase B of issue 11 (logical
 * types) must leave it unchanged at every step: that is how "behaviour does not change" is proven.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { columnRule, type NormaliseOptions } from '../../src/checksum/normalise.js';
import { planTable } from '../../src/checksum/plan.js';
import type { Column, TableSchema } from '../../src/core/schema.js';
import type { Value } from '../../src/core/values.js';
import { pgCopySelect } from '../../src/engines/mysql/load.js';
import {
  fromLogical as fromMysqlLogical,
  mapLogicalTable,
  toLogical as mysqlToLogical,
  withLogical as mysqlWithLogical,
  type MapTableOptions,
  type TableMapping,
} from '../../src/engines/mysql/types.js';
import {
  fromLogical as postgresFromLogical,
  postgresColumnType,
  toLogical as postgresToLogical,
  withLogical as postgresWithLogical,
  type PostgresColumnType,
  type PostgresType,
  type PostgresTypeOptions,
} from '../../src/engines/postgres/types.js';
import { corpusTables, type CorpusTable } from '../helpers/types-corpus.js';

const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'types-golden.json');

/** Probe values for the checksum rules: one or more of each canonical form either engine gives. */
const hex = (s: string) => Buffer.from(s, 'hex');
const PROBES: readonly Value[] = [
  null,
  0n,
  5n,
  -1n,
  18446744073709551615n,
  '18446744073709551615',
  '1.50',
  '-0.0',
  '00101',
  '',
  1.5,
  -0,
  NaN,
  'NaN',
  'Infinity',
  true,
  false,
  Buffer.from([0, 1, 255]),
  '2024-01-01 05:30:00.500+05:30',
  '2024-01-01 00:00:00.500000',
  '2024-01-01',
  '0000-00-00',
  '0000-00-00 00:00:00',
  '-838:59:59.000000',
  '12:00:00.5',
  'ab  ',
  'text',
  // POINT(1 2) SRID 4326 as MySQL stores it, and as PostGIS's EWKB (bytes and hex text).
  hex('E61000000101000000000000000000F03F0000000000000040'),
  hex('0101000020E6100000000000000000F03F0000000000000040'),
  '0101000020E6100000000000000000F03F0000000000000040',
];

type Json = null | boolean | string | number | Json[] | { [k: string]: Json };

/** A value as JSON that keeps its JS type. */
function tag(v: unknown): Json {
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return v;
  if (v === undefined) return { undefined: true };
  if (typeof v === 'bigint') return { bigint: v.toString() };
  if (typeof v === 'number') return { number: Object.is(v, -0) ? '-0' : String(v) };
  if (Buffer.isBuffer(v)) return { hex: v.toString('hex') };
  if (Array.isArray(v)) return v.map(tag);
  return { other: String(v) };
}

function attempt(fn: () => unknown): Json {
  try {
    return tag(fn());
  } catch (err) {
    return { refused: (err as Error).message };
  }
}

/** Rule behaviours by a short hash of what they do, so equal rules are written once. */
const behaviours = new Map<string, Json>();

function ruleOf(source: Column, sEngine: string, target: Column | undefined, tEngine: string, opts: NormaliseOptions): Json {
  if (!target) return { missing: true };
  let r;
  try {
    r = columnRule({ column: source, engine: sEngine }, { column: target, engine: tEngine }, opts);
  } catch (err) {
    return { refused: (err as Error).message };
  }
  const rule = r;
  const does = {
    source: PROBES.map((v) => attempt(() => rule.source(v))),
    target: PROBES.map((v) => attempt(() => rule.target(v))),
    toSource: PROBES.map((v) => attempt(() => rule.toSource(v))),
  };
  const text = JSON.stringify(does);
  const id = createHash('sha1').update(text).digest('hex').slice(0, 10);
  behaviours.set(id, does);
  return { name: r.name, does: id, target: target.columnType };
}

function pgType(fn: () => PostgresColumnType): Json {
  try {
    const t = fn();
    return { sql: t.sql, forceNullable: t.forceNullable, overridden: t.overridden, ...(t.check ? { check: t.check('"c"') } : {}) };
  } catch (err) {
    return { refused: (err as Error).message };
  }
}

function mapping(m: TableMapping): Json {
  return {
    columns: Object.fromEntries(
      m.columns.map((c) => [c.column.name, { sql: c.sql, kind: c.kind, overridden: c.overridden, ...(c.decimal ? { decimal: [c.decimal.precision, c.decimal.scale] } : {}) }]),
    ),
    problems: m.problems.map((p) => `${p.column} (${p.pgType}): ${p.reason}; ${p.fix}`),
  };
}

/** mapPostgresTable's entry, now the MySQL engine's mapping of the table as the PostgreSQL describe gives it (with logical types). */
function mapTable(t: TableSchema, opts: MapTableOptions): Json {
  try {
    return mapping(mapLogicalTable(pgLogical(t), opts));
  } catch (err) {
    return { refused: (err as Error).message };
  }
}

function plan(source: TableSchema, onTarget: TableSchema | undefined, opts: NormaliseOptions): Json {
  if (!onTarget) return { missing: true };
  try {
    const p = planTable(source, onTarget, opts);
    return { mode: p.mode, reason: p.reason, exact: p.exact };
  } catch (err) {
    return { refused: (err as Error).message };
  }
}

const ERROR: PostgresTypeOptions = { zeroDates: 'error', columnTypes: {} };
const NULL_POSTGIS: PostgresTypeOptions = { zeroDates: 'null', columnTypes: {}, postgis: 'public' };
const Z_ERROR: NormaliseOptions = { zeroDates: 'error' };
const Z_NULL: NormaliseOptions = { zeroDates: 'null' };

function byName(t: TableSchema | undefined, name: string): Column | undefined {
  return t?.columns.find((c) => c.name === name);
}

function mysqlEntry(ct: CorpusTable): Json {
  const t = ct.table;
  // The table as the MySQL engine's describe gives it: each column with its logical type, which
  // the PostgreSQL target's types and pgCopySelect's rendering come from.
  const described = mysqlWithLogical(t);
  const columns = Object.fromEntries(
    t.columns.map((c, i) => [
      c.name,
      {
        native: c.columnType,
        mysqlToPostgresType: {
          error: pgType(() => postgresColumnType(described, described.columns[i] as Column, ERROR)),
          nullPostgis: pgType(() => postgresColumnType(described, described.columns[i] as Column, NULL_POSTGIS)),
        },
        postgresTypeFor: {
          error: pgType(() => postgresColumnType(described, described.columns[i] as Column, ERROR)),
          nullPostgis: pgType(() => postgresColumnType(described, described.columns[i] as Column, NULL_POSTGIS, 'tgt')),
        },
        pgCopySelect: attempt(() => pgCopySelect({ ...described, columns: [described.columns[i] as Column], primaryKey: [0], uniqueKeys: [] })),
        columnRule: {
          'mysql→mysql': ruleOf(c, 'mysql', c, 'mysql', Z_ERROR),
          'mysql→postgres': ruleOf(c, 'mysql', byName(ct.targets.postgres, c.name), 'postgres', Z_ERROR),
          'mysql→postgres zeroDates null': ruleOf(c, 'mysql', byName(ct.targets.postgres, c.name), 'postgres', Z_NULL),
          'mysql→postgis': ruleOf(c, 'mysql', byName(ct.targets.postgis, c.name), 'postgres', Z_NULL),
        },
      },
    ]),
  );
  return {
    engine: 'mysql',
    origin: ct.origin,
    pgCopySelect: attempt(() => pgCopySelect(described)),
    planTable: {
      'mysql→mysql': plan(t, t, Z_ERROR),
      'mysql→postgres': plan(t, ct.targets.postgres, Z_NULL),
      'mysql→postgis': plan(t, ct.targets.postgis, Z_NULL),
    },
    columns,
  };
}

function postgresEntry(ct: CorpusTable): Json {
  const t = ct.table;
  const overrides = ct.mysqlOverrides ?? {};
  const enumLabels = new Map([['mood', ['sad', "it's", 'happy']]]);
  const described = postgresWithLogical(t);
  const columns = Object.fromEntries(
    t.columns.map((c, i) => [
      c.name,
      {
        native: c.columnType,
        mapPostgresTableAlone: mapTable({ ...t, columns: [c], primaryKey: [], uniqueKeys: [] }, {}),
        postgresTypeFor: {
          error: pgType(() => postgresColumnType(described, described.columns[i] as Column, ERROR)),
          otherSchema: pgType(() => postgresColumnType(described, described.columns[i] as Column, NULL_POSTGIS, 'tgt')),
        },
        columnRule: {
          'postgres→postgres': ruleOf(c, 'postgres', c, 'postgres', Z_ERROR),
          'postgres→mysql': ruleOf(c, 'postgres', byName(ct.targets.mysql, c.name), 'mysql', Z_ERROR),
        },
      },
    ]),
  );
  return {
    engine: 'postgres',
    origin: ct.origin,
    mapPostgresTable: {
      mariadb: mapTable(t, {}),
      mysql: mapTable(t, { flavour: 'mysql' }),
      ...(Object.keys(overrides).length ? { mariadbOverrides: mapTable(t, { columnTypes: overrides }) } : {}),
      enumLabels: mapTable(t, { enumLabels }),
    },
    planTable: {
      'postgres→postgres': plan(t, t, Z_ERROR),
      'postgres→mysql': plan(t, ct.targets.mysql, Z_ERROR),
    },
    columns,
  };
}

function golden(): { tables: Record<string, Json>; ruleBehaviours: Record<string, Json>; size: Json } {
  behaviours.clear();
  const tables: Record<string, Json> = {};
  let columns = 0;
  for (const ct of corpusTables()) {
    tables[`${ct.table.engine}.${ct.table.name}`] = ct.table.engine === 'mysql' ? mysqlEntry(ct) : postgresEntry(ct);
    columns += ct.table.columns.length;
  }
  const ruleBehaviours = Object.fromEntries([...behaviours].sort(([a], [b]) => a.localeCompare(b)));
  return { size: { tables: Object.keys(tables).length, columns, ruleBehaviours: behaviours.size }, tables, ruleBehaviours };
}

describe('golden type fixture', () => {
  const actual = golden();
  if (process.env.UPDATE_GOLDEN === '1') {
    writeFileSync(FIXTURE, JSON.stringify(actual, null, 1) + '\n');
  }
  if (!existsSync(FIXTURE)) throw new Error(`${FIXTURE} is missing: write it with UPDATE_GOLDEN=1`);
  const expected = JSON.parse(readFileSync(FIXTURE, 'utf8')) as typeof actual;

  it('covers the same tables and columns', () => {
    expect(actual.size).toEqual(expected.size);
    expect(Object.keys(actual.tables)).toEqual(Object.keys(expected.tables));
  });

  it.each(Object.keys(expected.tables))('%s: today’s types, COPY rendering, checksum rules and plans', (name) => {
    expect(actual.tables[name]).toEqual(expected.tables[name]);
  });

  it('rule behaviours are unchanged', () => {
    expect(actual.ruleBehaviours).toEqual(expected.ruleBehaviours);
  });
});

/** A fromLogical result in the fixture's form of a PostgresColumnType (no override in play). */
function viaLogical(t: PostgresType | undefined): Json {
  if (!t) return 'unmapped';
  return { sql: t.sql, forceNullable: t.forceNullable, overridden: false, ...(t.check ? { check: t.check('"c"') } : {}) };
}

/** The fixture's entry for a refusal becomes 'unmapped': the caller words the refusal. */
function recorded(j: Json): Json {
  return j !== null && typeof j === 'object' && !Array.isArray(j) && 'refused' in j ? 'unmapped' : j;
}

type Entry = { columns: Record<string, { mysqlToPostgresType?: Record<string, Json>; postgresTypeFor?: Record<string, Json> }> };

describe('PostgreSQL types through logical types (issue 11, plan step 6c)', () => {
  const expected = JSON.parse(readFileSync(FIXTURE, 'utf8')) as { tables: Record<string, Entry> };
  const tables = corpusTables();

  it.each(tables.filter((t) => t.table.engine === 'mysql').map((t) => [t.table.name, t] as const))(
    'postgres fromLogical(mysql toLogical(c)) is mysqlToPostgresType for every column of %s',
    (_, { table }) => {
      const entry = expected.tables[`mysql.${table.name}`] as Entry;
      for (const c of table.columns) {
        const logical = mysqlToLogical(c, table);
        const want = entry.columns[c.name]?.mysqlToPostgresType ?? {};
        expect(viaLogical(postgresFromLogical(logical, { zeroDates: 'error' })), `${table.name}.${c.name}`).toEqual(recorded(want.error ?? null));
        expect(viaLogical(postgresFromLogical(logical, { zeroDates: 'null', postgis: 'public' })), `${table.name}.${c.name}`).toEqual(recorded(want.nullPostgis ?? null));
      }
    },
  );

  it('names a PostgreSQL enum column’s type in the target schema as postgresTypeFor does', () => {
    let n = 0;
    for (const { table } of tables.filter((t) => t.table.engine === 'postgres')) {
      const entry = expected.tables[`postgres.${table.name}`] as Entry;
      for (const c of table.columns.filter((x) => x.enumType !== undefined)) {
        const want = entry.columns[c.name]?.postgresTypeFor ?? {};
        expect(viaLogical(postgresFromLogical(postgresToLogical(c), { zeroDates: 'error', schema: 'tgt' })), `${table.name}.${c.name}`).toEqual(want.otherSchema);
        expect(viaLogical(postgresFromLogical(postgresToLogical(c), { zeroDates: 'error' })), `${table.name}.${c.name}`).toEqual(want.error);
        n++;
      }
    }
    expect(n).toBeGreaterThan(5);
  });
});

type PgEntry = {
  mapPostgresTable: Record<string, Json>;
  columns: Record<string, { mapPostgresTableAlone: Json }>;
};

/** A PostgreSQL table as its describe gives it, with each column's logical type. */
function pgLogical(t: TableSchema): TableSchema {
  return { ...t, columns: t.columns.map((c) => ({ ...c, logical: postgresToLogical(c) })) };
}

/** mapLogicalTable in the fixture's form of a mapPostgresTable result. */
function viaMysqlLogical(t: TableSchema, opts: MapTableOptions): Json {
  try {
    const m = mapLogicalTable(t, opts);
    return mapping({ table: t, columns: m.columns, problems: m.problems });
  } catch (err) {
    return { refused: (err as Error).message };
  }
}

describe('MySQL types through logical types (issue 11, plan step 6d)', () => {
  const expected = JSON.parse(readFileSync(FIXTURE, 'utf8')) as { tables: Record<string, PgEntry> };
  const pgTables = corpusTables().filter((t) => t.table.engine === 'postgres');
  const enumLabels = new Map([['mood', ['sad', "it's", 'happy']]]);

  it.each(pgTables.map((t) => [t.table.name, t] as const))(
    'mysql mapLogicalTable(postgres toLogical(c)) is mapPostgresTable for %s, under every recorded option set and column by column',
    (_, ct) => {
      const entry = expected.tables[`postgres.${ct.table.name}`] as PgEntry;
      const t = pgLogical(ct.table);
      const sets: Record<string, MapTableOptions> = {
        mariadb: {},
        mysql: { flavour: 'mysql' },
        ...(ct.mysqlOverrides && Object.keys(ct.mysqlOverrides).length ? { mariadbOverrides: { columnTypes: ct.mysqlOverrides } } : {}),
        enumLabels: { enumLabels },
      };
      expect(Object.keys(sets)).toEqual(Object.keys(entry.mapPostgresTable));
      for (const [name, opts] of Object.entries(sets)) {
        expect(viaMysqlLogical(t, opts), `${ct.table.name} ${name}`).toEqual(entry.mapPostgresTable[name]);
      }
      for (const c of t.columns) {
        const alone = { ...t, columns: [c], primaryKey: [], uniqueKeys: [] };
        expect(viaMysqlLogical(alone, {}), `${ct.table.name}.${c.name} alone`).toEqual(entry.columns[c.name]?.mapPostgresTableAlone);
      }
    },
  );
});

/**
 * A MySQL column type as information_schema's COLUMN_TYPE spells it, with what only changes the
 * spelling folded: integer display widths, aliases, the default length or precision written out,
 * and character sets and collations (COLUMN_TYPE never shows them). A spatial type's SRID clause
 * becomes ' srid n', which the source column holds in `srid`.
 */
function spelling(sql: string): string {
  return sql
    .toLowerCase()
    .replace(/ (collate|character set) \w+/g, '')
    .replace(/ ref_system_id=(\d+)| srid (\d+)/, (_, a: string | undefined, b: string | undefined) => ` srid ${a ?? b}`)
    .replace(/^(tinyint|smallint|mediumint|int|bigint|year)\(\d+\)/, '$1')
    .replace(/^integer\b/, 'int')
    .replace(/^(real|double precision)$/, 'double')
    .replace(/^numeric\b/, 'decimal')
    .replace(/^decimal$/, 'decimal(10,0)')
    .replace(/^(bit|char|binary)$/, '$1(1)')
    .replace(/^(time|datetime|timestamp)$/, '$1(0)');
}

/**
 * The MySQL columns of the corpus whose type does not survive toLogical then fromLogical, by
 * COLUMN_TYPE, with what fromLogical gives instead. A same-engine sync never takes this path: it
 * keeps the CREATE statement (engines/mysql/ddl.ts), so none of these changes what a MySQL → MySQL
 * sync creates. Each is a fact the logical type does not carry, because no other engine needs it:
 */
const NOT_ROUND_TRIP = new Map<string, string>([
  // The size class of an unbounded string: a logical text/binary without a length is LONGTEXT/LONGBLOB, which holds every value of the smaller ones.
  ['tinytext', 'longtext'],
  ['text', 'longtext'],
  ['mediumtext', 'longtext'],
  ['tinyblob', 'longblob'],
  ['blob', 'longblob'],
  ['mediumblob', 'longblob'],
  // TIMESTAMP is a zone-aware timestamp; DATETIME holds every value of it (written in UTC), TIMESTAMP not every one of PostgreSQL's timestamptz.
  ['timestamp(0)', 'datetime(0)'],
  ['timestamp(3)', 'datetime(3)'],
  ['timestamp(6)', 'datetime(6)'],
  // MariaDB's UUID: a uuid from PostgreSQL is kept as CHAR(36) ascii today (its value writers and checksum rules expect that text).
  ['uuid', 'char(36)'],
  // ZEROFILL and FLOAT(M,D) are display/rounding attributes, not part of the logical type.
  ['mediumint unsigned zerofill', 'mediumint unsigned'],
  ['float(10,2)', 'float'],
  // A type with no logical counterpart (MariaDB 11's VECTOR) has no text form another engine could keep: refused.
  ['vector(3)', 'longtext'],
]);

describe('MySQL types through their own logical types (issue 11, plan step 6d)', () => {
  const mysqlTables = corpusTables().filter((t) => t.table.engine === 'mysql');

  it('mysql fromLogical(mysql toLogical(c)) keeps a MySQL column’s own type, but for the kinds listed', () => {
    const used = new Set<string>();
    let same = 0;
    for (const { table } of mysqlTables) {
      for (const c of table.columns) {
        const got = fromMysqlLogical(mysqlToLogical(c, table), {}, { name: c.name, declared: c.columnType });
        const native = spelling(c.columnType) + (c.srid ? ` srid ${c.srid}` : '');
        // MariaDB's JSON is LONGTEXT with a json_valid check: COLUMN_TYPE says longtext.
        const made = spelling(got.sql) === 'json' && c.dataType === 'longtext' ? 'longtext' : spelling(got.sql);
        const want = NOT_ROUND_TRIP.get(native) ?? native;
        if (NOT_ROUND_TRIP.has(native)) used.add(native);
        else same++;
        expect(made, `${table.name}.${c.name} (${c.columnType})`).toBe(want);
        expect(got.refusal !== undefined, `${table.name}.${c.name} refused`).toBe(native === 'vector(3)');
      }
    }
    expect([...NOT_ROUND_TRIP.keys()].filter((k) => !used.has(k))).toEqual([]);
    expect(same).toBeGreaterThan(100);
  });
});
