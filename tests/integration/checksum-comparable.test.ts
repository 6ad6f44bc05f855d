/**
 * Chunk digests across engines (core/comparable.ts; engines/<engine>/digest.ts comparableField),
 * against real MariaDB and PostgreSQL servers, both directions: after a copy, every chunk of a
 * table of every digestable type is settled by the two servers' digests without reading rows; one
 * changed value in any column makes its chunk's digests differ, so the row comparison names the
 * key and the column; values the column rule holds equal though their texts differ (a decimal's
 * trailing zeros, a datetime's fraction zeros, CHAR padding, an instant's zone) digest alike; a
 * float that the two servers print differently ('1e-05' and '0.00001') is left to the row
 * comparison, which finds it equal.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import mysql from 'mysql2/promise';
import type { Logger } from 'pino';
import { planTable } from '../../src/checksum/plan.js';
import type { TableReport } from '../../src/checksum/report.js';
import { parseDsn } from '../../src/config/dsn.js';
import { SyncConfigSchema } from '../../src/config/schema.js';
import { createLogger } from '../../src/core/logger.js';
import { openSource, openTarget } from '../../src/engines/registry.js';
import { verify } from '../../src/runner/verify.js';
import { startMariaDb, startPostgres, type Server } from '../../src/testing/servers.js';
import { firstCleanPass } from '../helpers/continuous.js';
import { runCli } from '../helpers/mysql.js';

const ROWS = 80;
const CHUNK = 4;

type Name = 'mysql' | 'postgres';

interface Side {
  readonly name: Name;
  /** Column definitions after `id`, and each column's value (an SQL expression of `id`). */
  readonly columns: readonly (readonly [name: string, type: string, base: string])[];
}

/** One mutation per chunk of the target, in row 4k + 5: its column and new value, in the target's SQL. */
type Mutations = readonly (readonly [column: string, to: string])[];

const MYSQL_SOURCE: Side = {
  name: 'mysql',
  columns: [
    ['i', 'INT', 'CAST(id AS SIGNED) * -7'],
    ['bu', 'BIGINT UNSIGNED', '18446744073709551615 - id'],
    ['yr', 'YEAR', '2000 + id'],
    ['de', 'DECIMAL(12,3)', 'id + 0.5'],
    ['dz', 'DECIMAL(10,0)', 'id * 100'],
    ['db', 'DOUBLE', 'id / 3'],
    ['vc', 'VARCHAR(40)', "CONCAT('a,b ''q'' \\\\ é', id)"],
    ['l1', 'VARCHAR(20) CHARACTER SET latin1', "'caf\u00e9'"],
    ['ch', 'CHAR(6)', "'ab'"],
    ['en', "ENUM('a','b')", "'a'"],
    ['tx', 'TEXT', "'line1\\nline2'"],
    ['bn', 'VARBINARY(8)', '0x00ff'],
    ['dt', 'DATE', "'2024-02-29'"],
    ['dm', 'DATETIME(6)', "'2024-01-01 10:00:00.500000'"],
    ['d0', 'DATETIME', "'2024-01-01 10:00:00'"],
    ['ts', 'TIMESTAMP(3) NULL', "'2024-01-01 10:00:00.100'"],
    ['n1', 'VARCHAR(10) NULL', 'NULL'],
    ['n3', 'VARCHAR(10) NULL', "'N'"],
  ],
};

/** The same changes on a PostgreSQL copy of MYSQL_SOURCE's table. */
const ON_POSTGRES: Mutations = [
  ['i', '-6'],
  ['bu', '18446744073709551612'],
  ['yr', '1999'],
  ['de', '7.25'],
  ['dz', '701'],
  ['db', '3.0000000000000004'],
  ['vc', "'a,b ''q'' \\ é9 '"],
  ['l1', "'cafe'"],
  ['ch', "'ab c'"],
  ['en', "'b'"],
  ['tx', "'line1 line2'"],
  ['bn', "'\\x00fe'::bytea"],
  ['dt', "'2024-02-28'"],
  ['dm', "'2024-01-01 10:00:00.5001'"],
  ['d0', "'2024-01-01 10:00:01'"],
  ['ts', "'2024-01-01 10:00:00.1+01'"],
  ['n1', "''"],
  ['n3', 'NULL'],
];

const POSTGRES_SOURCE: Side = {
  name: 'postgres',
  columns: [
    ['i2', 'smallint', '-id'],
    ['i8', 'bigint', '9223372036854775807 - id'],
    ['nu', 'numeric(12,3)', 'id + 0.5'],
    ['f8', 'double precision', 'id / 3.0::float8'],
    ['tx', 'text', "'a,b ''q'' \\ é' || id"],
    ['vc', 'varchar(40)', "'v' || id"],
    ['ch', 'char(6)', "'ab'"],
    ['by', 'bytea', "'\\x00ff'::bytea"],
    ['d', 'date', "'2024-02-29'"],
    ['ts', 'timestamp(6)', "'2024-01-01 10:00:00.5'"],
    ['tz', 'timestamptz', "'2024-01-01 10:00:00.25+02'"],
    ['b', 'boolean', 'id % 2 = 0'],
    ['u', 'uuid', "'00000000-0000-0000-0000-000000000001'"],
    ['n1', 'text', 'NULL'],
    ['n3', 'text', "'N'"],
  ],
};

/** The same changes on a MySQL copy of POSTGRES_SOURCE's table. */
const ON_MYSQL: Mutations = [
  ['i2', '-2'],
  ['i8', '9223372036854775000'],
  ['nu', '7.25'],
  ['f8', '3.0000000000000004'],
  ['tx', "'a,b ''q'' \\\\ é9 '"],
  ['vc', "'v9 '"],
  ['ch', "'ab c'"],
  ['by', '0x00fe'],
  ['d', "'2024-02-28'"],
  ['ts', "'2024-01-01 10:00:00.5001'"],
  ['tz', "'2024-01-01 08:00:00.26'"],
  ['b', '1 - b'],
  ['u', "'00000000-0000-0000-0000-000000000002'"],
  ['n1', "''"],
  ['n3', 'NULL'],
];

const quiet = createLogger({ level: 'silent' }) as Logger;

let mariadb: Server;
let postgres: Server;

beforeAll(async () => {
  [mariadb, postgres] = await Promise.all([startMariaDb(), startPostgres()]);
}, 120_000);

afterAll(async () => {
  await Promise.all([mariadb?.stop(), postgres?.stop()]);
});

const serverOf = (n: Name): Server => (n === 'mysql' ? mariadb : postgres);
const quote = (n: Name, id: string): string => (n === 'mysql' ? `\`${id}\`` : `"${id}"`);

async function exec(n: Name, db: string | undefined, sql: string): Promise<void> {
  if (n === 'mysql') {
    const c = await mysql.createConnection({ uri: mariadb.url(db), multipleStatements: true });
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
    return;
  }
  const c = new pg.Client({ connectionString: postgres.url(db ?? 'postgres') });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

const CASES = [
  { source: MYSQL_SOURCE, target: 'postgres' as Name, mutations: ON_POSTGRES },
  { source: POSTGRES_SOURCE, target: 'mysql' as Name, mutations: ON_MYSQL },
];

describe.each(CASES)('comparable digests $source.name → $target', ({ source, target, mutations }) => {
  const db = `cmp_${source.name.slice(0, 2)}${target.slice(0, 2)}`;
  const config = (tables?: string[]) => ({
    source: serverOf(source.name).url(db),
    target: serverOf(target).url(db),
    chunkSize: CHUNK,
    threads: 2,
    logLevel: 'silent' as const,
    ...(tables ? { tables } : {}),
  });
  const report = (tables: readonly TableReport[], name: string): TableReport => tables.find((t) => t.table === name)!;

  beforeAll(async () => {
    const q = (id: string) => quote(source.name, id);
    const create = `CREATE TABLE cmp (id INT NOT NULL PRIMARY KEY, ${source.columns.map(([n, t]) => `${q(n)} ${t}`).join(', ')})`;
    const insert =
      source.name === 'mysql'
        ? `INSERT INTO cmp SELECT seq, ${source.columns.map(([, , b]) => b.replace(/\bid\b/g, 'seq')).join(', ')} FROM seq_1_to_${ROWS}`
        : `INSERT INTO cmp SELECT id, ${source.columns.map(([, , b]) => b).join(', ')} FROM generate_series(1, ${ROWS}) AS id`;
    await exec(source.name, source.name === 'mysql' ? undefined : 'postgres', `CREATE DATABASE ${db}`);
    await exec(source.name, db, create);
    await exec(source.name, db, insert);
    // A float each server prints its own way, in row 4 only: PostgreSQL '1e-05', MariaDB '0.00001'.
    await exec(source.name, db, `UPDATE cmp SET ${q(source.name === 'mysql' ? 'db' : 'f8')} = 0.00001 WHERE id = 4`);
    await exec(target, target === 'mysql' ? undefined : 'postgres', `CREATE DATABASE ${db}`);
    const copied = await runCli(['sync', '--copy-only', '--source', config().source, '--target', config().target, '--threads', '2']);
    expect(copied.code, copied.stderr).toBe(0);
  }, 120_000);

  it('settles equal chunks by both servers digests, but the one whose float each prints its own way', async () => {
    const t = report((await verify(config())).tables, 'cmp');
    expect(t.error).toBeUndefined();
    expect(t.equal).toBe(true);
    expect(t.mode).toBe('range');
    expect(t.rowsChecked).toBe(ROWS);
    expect(t.chunks).toBeGreaterThan(ROWS / CHUNK - 1);
    // Row 4's chunk: its digests differ ('1e-05' against '0.00001'), its rows compare equal.
    expect(t.chunksByDigest).toBe(t.chunks - 1);
  });

  it('finds one changed value in every column, one per chunk, and names the column', async () => {
    const q = (id: string) => quote(target, id);
    // One change per chunk (a digest that missed one would settle its chunk), from row 5 on: the
    // chunk of row 4 is read as rows anyway.
    const row = (k: number) => CHUNK * k + 5;
    for (const [k, [column, to]] of mutations.entries()) await exec(target, db, `UPDATE cmp SET ${q(column)} = ${to} WHERE id = ${row(k)}`);
    const t = report((await verify(config(), { recheck: { attempts: 0 } })).tables, 'cmp');
    expect(t.error).toBeUndefined();
    expect(t.changed).toBe(mutations.length);
    expect(t.missing + t.extra).toBe(0);
    const found = t.ranges.flatMap((range) => range.keys.map((k) => ({ id: Number(k.key.id), columns: k.columns })));
    found.sort((a, b) => a.id - b.id);
    expect(found).toEqual(mutations.map(([column], k) => ({ id: row(k), columns: [column] })));
    // The chunks holding a change, and row 4's, were read as rows; every other one settled by digest.
    expect(t.chunksByDigest).toBe(t.chunks - mutations.length - 1);

    const repaired = report((await verify(config(), { repair: true, recheck: { attempts: 0 } })).tables, 'cmp');
    expect(repaired.repaired).toBe(mutations.length);
    const again = report((await verify(config())).tables, 'cmp');
    expect(again.equal).toBe(true);
    expect(again.chunksByDigest).toBe(again.chunks - 1);
  });

  it('digests alike values the rule holds equal though their texts differ, and apart the smallest differences', async () => {
    const qs = (id: string) => quote(source.name, id);
    const qt = (id: string) => quote(target, id);
    // Source and target each get a table of their own engine's types, filled with values whose
    // texts differ across the engines (trailing zeros, padding, a zone) but compare equal.
    const [sdef, tdef, svals, tvals] =
      source.name === 'mysql'
        ? ['d DECIMAL(20,6), t DATETIME(6), c CHAR(5), z TIMESTAMP(6) NULL', 'd numeric(20,6), t timestamp(6), c char(5), z timestamptz', "1.500000, '2024-01-01 00:00:00.100000', 'x', '2024-01-01 00:00:00.000000'", "1.5, '2024-01-01 00:00:00.1', 'x  ', '2024-01-01 05:30:00+05:30'"]
        : ['d numeric(20,6), t timestamp(6), c char(5), z timestamptz', 'd DECIMAL(20,6), t DATETIME(6), c CHAR(5), z TIMESTAMP(6) NULL', "1.5, '2024-01-01 00:00:00.1', 'x  ', '2024-01-01 05:30:00+05:30'", "1.500000, '2024-01-01 00:00:00.100000', 'x', '2024-01-01 00:00:00.000000'"];
    await exec(source.name, db, `CREATE TABLE eq (id INT NOT NULL PRIMARY KEY, ${sdef.replace(/\b([dtcz]) /g, (_, n: string) => `${qs(n)} `)})`);
    await exec(target, db, `CREATE TABLE eq (id INT NOT NULL PRIMARY KEY, ${tdef.replace(/\b([dtcz]) /g, (_, n: string) => `${qt(n)} `)})`);
    const rows = (vals: string) => Array.from({ length: 8 }, (_, i) => `(${i + 1}, ${vals})`).join(', ');
    await exec(source.name, db, `SET ${source.name === 'mysql' ? "time_zone = '+00:00'" : "TIME ZONE 'UTC'"}; INSERT INTO eq VALUES ${rows(svals)}`);
    await exec(target, db, `SET ${target === 'mysql' ? "time_zone = '+00:00'" : "TIME ZONE 'UTC'"}; INSERT INTO eq VALUES ${rows(tvals)}`);
    const equal = report((await verify(config(['eq']))).tables, 'eq');
    expect(equal.error).toBeUndefined();
    expect(equal.equal).toBe(true);
    expect(equal.chunksByDigest).toBe(equal.chunks);
    // One microsecond, one millionth, one trailing non-space: each a difference, found.
    await exec(target, db, `UPDATE eq SET ${qt('d')} = 1.500001 WHERE id = 1`);
    await exec(target, db, `UPDATE eq SET ${qt('t')} = '2024-01-01 00:00:00.100001' WHERE id = 8`);
    const changed = report((await verify(config(['eq']), { recheck: { attempts: 0 } })).tables, 'eq');
    expect(changed.changed).toBe(2);
    expect(changed.chunksByDigest).toBe(changed.chunks - 2);
  });

  it('is taken by the continuous checker of a running sync too', async () => {
    const cfg = SyncConfigSchema.parse(config(['cmp']));
    const src = await openSource(cfg, parseDsn(cfg.source, 'source'), 'comparable-test', quiet);
    const dst = await openTarget(cfg, parseDsn(cfg.target, 'target'), 'comparable-test', quiet);
    await src.connect();
    await dst.connect();
    try {
      const table = await src.describe('cmp');
      const plan = planTable(table, (await dst.describe('cmp'))!, { zeroDates: cfg.zeroDates });
      expect(plan.forms).toBeDefined();
      const st = await firstCleanPass(src, dst, [plan], CHUNK, quiet);
      expect(st.rowsChecked).toBe(ROWS);
      expect(st.chunksDiffering).toBe(0);
      // All but the chunk of row 4, whose float each server prints its own way.
      expect(st.chunksByDigest).toBe(st.chunksChecked - 1);
    } finally {
      await src.close();
      await dst.close();
    }
  });
});
