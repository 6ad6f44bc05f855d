/**
 * The type corpus: every native column type the unit and integration tests use, as tables.
 *
 * - `tests/fixtures/types-corpus.json` holds the integration corpora (types, mysql-to-postgres,
 *   spatial, checksum-digest, postgres-to-postgres, postgres-enums, mysql-target-pg-values) as the
 *   engines' describe paths read them from real servers, each with the table a sync of it creates
 *   on the other engine, as that target describes it (tests/fixtures/capture-types-corpus.ts).
 * - UNIT_TABLES below adds the columns only the unit tests build by hand (MySQL 8's JSON, types a
 *   MariaDB 10.11 lacks, PostgreSQL types that need an extension the capture server has not).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Column, TableSchema } from '../../src/core/schema.js';
import { withLogical as mysqlWithLogical } from '../../src/engines/mysql/types.js';
import { withLogical as postgresWithLogical } from '../../src/engines/postgres/types.js';

export interface CorpusTable {
  /** Where the table comes from: 'server' (captured) or 'unit' (written here). */
  readonly origin: 'server' | 'unit';
  readonly table: TableSchema;
  /** The table as each target engine describes what a sync of it created ('postgres', 'postgis', 'mysql'). */
  readonly targets: Readonly<Record<string, TableSchema>>;
  /** The `--column-types` a PostgreSQL → MySQL sync of it needs (its refused columns), if any. */
  readonly mysqlOverrides?: Readonly<Record<string, string>>;
}

interface Captured {
  readonly mysql: readonly { table: TableSchema; onPostgres: TableSchema; onPostgis: TableSchema }[];
  readonly postgres: readonly { table: TableSchema; mysqlOverrides: Record<string, string>; onMysql: TableSchema }[];
}

function col(name: string, dataType: string, columnType = dataType, extra: Partial<Column> = {}): Column {
  return { name, dataType, columnType, nullable: true, unsigned: /unsigned/.test(columnType), ...extra };
}

function table(name: string, engine: 'mysql' | 'postgres', columns: Column[], extra: Partial<TableSchema> = {}): TableSchema {
  return { name, engine, columns, primaryKey: [0], generated: [], ...extra };
}

const MY_ID = col('id', 'int', 'int(11)', { nullable: false });
const PG_ID = col('id', 'int8', 'bigint', { nullable: false });

/** Columns the unit tests write by hand that the captured corpus lacks. */
export const UNIT_TABLES: readonly TableSchema[] = [
  table('my_unit', 'mysql', [
    MY_ID,
    col('js8', 'json', 'json'),
    col('vec', 'vector', 'vector(3)'),
    col('intg', 'integer', 'integer'),
    col('num', 'numeric', 'numeric(8,3)', { precision: 8, scale: 3 }),
    col('rl', 'real', 'real'),
    col('dp', 'double precision', 'double precision'),
    col('en', 'enum', "enum('a','b,c','it''s')", { charset: 'utf8mb4', collation: 'utf8mb4_general_ci' }),
    col('tm0', 'time', 'time'),
    col('dt0', 'datetime', 'datetime'),
    col('bitn', 'bit', 'bit'),
    col('chr', 'char', 'char'),
    col('dec', 'decimal', 'decimal'),
    col('mp', 'multipolygon', 'multipolygon', { srid: 4326 }),
    col('gc', 'geometrycollection', 'geometrycollection', { srid: 3857 }),
  ]),
  table('my_mariadb_json', 'mysql', [MY_ID, col('js', 'longtext', 'longtext', { charset: 'utf8mb4', collation: 'utf8mb4_bin' })], {
    createStatement: 'CREATE TABLE `my_mariadb_json` (\n  `id` int(11) NOT NULL,\n  `js` longtext DEFAULT NULL CHECK (json_valid(`js`)),\n  PRIMARY KEY (`id`)\n)',
  }),
  table('pg_unit', 'postgres', [
    PG_ID,
    col('g', 'geometry', 'geometry(Point,4326)'),
    col('gg', 'geography', 'geography'),
    col('vec', 'vector', 'vector(3)'),
    col('n', 'numeric', 'numeric'),
    col('n10', 'numeric', 'numeric(10,2)', { precision: 10, scale: 2 }),
    col('big', 'numeric', 'numeric(70,2)'),
    col('fine', 'numeric', 'numeric(40,31)'),
    col('mood', 'mood', 'mood'),
    col('lt', 'ltree', 'ltree'),
    col('x', 'xid', 'xid'),
    col('cid', 'cid', 'cid'),
    col('tid', 'tid', 'tid'),
    col('rt', 'regtype', 'regtype'),
    col('rp', 'regproc', 'regproc'),
    col('i2v', 'int2vector', 'int2vector'),
    col('ov', 'oidvector', 'oidvector'),
    col('snap', 'pg_snapshot', 'pg_snapshot'),
    col('tsn', 'txid_snapshot', 'txid_snapshot'),
    col('i4r', 'int4range', 'int4range'),
    col('i4m', 'int4multirange', 'int4multirange'),
    col('i8m', 'int8multirange', 'int8multirange'),
    col('nm', 'nummultirange', 'nummultirange'),
    col('tsm', 'tsmultirange', 'tsmultirange'),
    col('tzm', 'tstzmultirange', 'tstzmultirange'),
    col('dm', 'datemultirange', 'datemultirange'),
    col('bt', 'bit', 'bit'),
    col('bpc', 'bpchar', 'character'),
    col('trail', 'trail', 'trail', { enumType: 'trail', enumLabels: ['a ', 'b'] }),
    col('longl', 'longl', 'longl', { enumType: 'longl', enumLabels: ['x'.repeat(256), 'y'] }),
  ]),
];

/** Every corpus table: the captured ones, then the unit ones (which have no target descriptions). */
export function corpusTables(): CorpusTable[] {
  const captured = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'fixtures', 'types-corpus.json'), 'utf8')) as Captured;
  return [
    ...captured.mysql.map((t): CorpusTable => ({ origin: 'server', table: described(t.table), targets: { postgres: described(t.onPostgres), postgis: described(t.onPostgis) } })),
    ...captured.postgres.map((t): CorpusTable => ({ origin: 'server', table: described(t.table), targets: { mysql: described(t.onMysql) }, mysqlOverrides: t.mysqlOverrides })),
    ...UNIT_TABLES.map((table): CorpusTable => ({ origin: 'unit', table: described(table), targets: {} })),
  ];
}

/**
 * A table as its engine's describe returns it: with each column's logical type, which the fixture
 * (captured before logical types existed) does not hold.
 */
function described(t: TableSchema): TableSchema {
  return t.engine === 'mysql' ? mysqlWithLogical(t) : postgresWithLogical(t);
}
