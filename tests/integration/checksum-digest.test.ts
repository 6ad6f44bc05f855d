/**
 * Chunk digests computed inside the database (checksum/chunk.ts digestChunk, engines/<engine>/
 * digest.ts), against real MariaDB and PostgreSQL servers: for a same-engine pair with identical
 * column types, equal chunks are settled by digest without reading rows, and a change of one value
 * in any column of a wide table makes that chunk's digests differ, so the row comparison reads it
 * and names the key and the column. The continuous checker takes the same path.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import mysql from 'mysql2/promise';
import type { Logger } from 'pino';
import { parseDsn } from '../../src/config/dsn.js';
import { SyncConfigSchema } from '../../src/config/schema.js';
import { planTable } from '../../src/checksum/plan.js';
import type { TableReport, VerifyResult } from '../../src/checksum/report.js';
import { verify } from '../../src/runner/verify.js';
import { createLogger } from '../../src/core/logger.js';
import { openSource, openTarget } from '../../src/engines/registry.js';
import { startMariaDb, startPostgres, type Server } from '../../src/testing/servers.js';
import { firstCleanPass } from '../helpers/continuous.js';
import { runCli } from '../helpers/mysql.js';

const ROWS = 120;
const CHUNK = 4;

interface Mutation {
  readonly column: string;
  /** An SQL expression for the new value on the target. */
  readonly to: string;
}

interface Case {
  readonly name: 'mysql' | 'postgres';
  start(): Promise<Server>;
  /** Column definitions after `id`, and each column's base value (an SQL expression of `id`). */
  readonly columns: readonly (readonly [name: string, type: string, base: string])[];
  /** One mutation per row 2k + 1: two in each chunk of four rows. */
  readonly mutations: readonly Mutation[];
  exec(server: Server, db: string | undefined, sql: string): Promise<void>;
}

const MYSQL: Case = {
  name: 'mysql',
  start: () => startMariaDb(),
  columns: [
    ['ti', 'TINYINT', '1'],
    ['su', 'SMALLINT UNSIGNED', '65535'],
    ['bu', 'BIGINT UNSIGNED', '18446744073709551615'],
    ['bs', 'BIGINT', '-9223372036854775808'],
    ['de', 'DECIMAL(30,10)', "'12345678901234567890.0000000001'"],
    ['fl', 'FLOAT', '0.1'],
    ['db', 'DOUBLE', '0.1'],
    ['vc', 'VARCHAR(100)', "CONCAT('a\\tb\\nc ''q'' \"d\" ', id)"],
    ['l1', 'VARCHAR(50) CHARACTER SET latin1', "'caf\u00e9'"],
    ['n1', 'VARCHAR(10) NULL', 'NULL'],
    ['n2', 'VARCHAR(10) NULL', "''"],
    ['n3', 'VARCHAR(10) NULL', "'N'"],
    ['tx', 'TEXT', "'line1\\nline2\\\\'"],
    ['bn', 'VARBINARY(20)', '0x00'],
    ['bl', 'BLOB', '0x0001ff'],
    ['dt', 'DATE', "'2024-02-29'"],
    ['dm', 'DATETIME(6)', "'2024-01-01 10:00:00.000001'"],
    ['ts', 'TIMESTAMP(3) NULL', "'2024-01-01 10:00:00.001'"],
    ['tm', 'TIME(6)', "'-838:59:58.999999'"],
    ['yr', 'YEAR', '2024'],
    ['bt', 'BIT(10)', "b'1'"],
    ['en', "ENUM('a','b','c')", "'a'"],
    ['js', 'JSON', '\'{"a": 1}\''],
    ['uc', 'VARCHAR(20) COLLATE utf8mb4_unicode_ci', "'x,y'"],
    ['st', "SET('a','b','c')", "'a'"],
    ['as', 'CHAR(4) CHARACTER SET ascii', "'ab'"],
    ['u3', 'VARCHAR(10) CHARACTER SET utf8mb3', "'\u00e9'"],
  ],
  mutations: [
    { column: 'ti', to: '2' },
    { column: 'su', to: '65534' },
    { column: 'bu', to: '18446744073709551614' },
    { column: 'bs', to: '-9223372036854775807' },
    { column: 'de', to: "'12345678901234567890.0000000002'" },
    { column: 'fl', to: '0.10000001' },
    { column: 'db', to: '0.10000000000000002' },
    { column: 'vc', to: "CONCAT('a\\nb\\tc ''q'' \"d\" ', id)" },
    { column: 'l1', to: "'cafe'" },
    { column: 'n1', to: "''" },
    { column: 'n2', to: "'N'" },
    { column: 'n3', to: 'NULL' },
    { column: 'n2', to: 'NULL' },
    { column: 'tx', to: "'line1\\nline2\\\\ '" },
    { column: 'bn', to: '0x0000' },
    { column: 'bl', to: '0x00ff01' },
    { column: 'dt', to: "'2024-02-28'" },
    { column: 'dm', to: "'2024-01-01 10:00:00.000002'" },
    { column: 'ts', to: "'2024-01-01 10:00:00.002'" },
    { column: 'tm', to: "'-838:59:58.999998'" },
    { column: 'yr', to: '2023' },
    { column: 'bt', to: "b'10'" },
    { column: 'en', to: "'b'" },
    { column: 'js', to: '\'{"a": 2}\'' },
    { column: 'uc', to: "'x,z'" },
    { column: 'st', to: "'a,b'" },
    { column: 'as', to: "'ab,'" },
    { column: 'u3', to: "'\u00e8'" },
  ],
  async exec(server, db, sql) {
    const c = await mysql.createConnection({ uri: server.url(db), multipleStatements: true });
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  },
};

const POSTGRES: Case = {
  name: 'postgres',
  start: () => startPostgres(),
  columns: [
    ['i2', 'smallint', '-32768'],
    ['i8', 'bigint', '9223372036854775807'],
    ['nu', 'numeric(30,10)', "'12345678901234567890.0000000001'"],
    ['r4', 'real', '0.1'],
    ['f8', 'double precision', '0.1'],
    ['tx', 'text', "E'a\\tb\\nc ''q'' \"d\" (x,y) \\\\ ' || id"],
    ['n1', 'text', 'NULL'],
    ['n2', 'text', "''"],
    ['n3', 'text', "'N'"],
    ['ch', 'char(5)', "'ab'"],
    ['by', 'bytea', "'\\x00'::bytea"],
    ['d', 'date', "'2024-02-29'"],
    ['ts', 'timestamp(6)', "'2024-01-01 10:00:00.000001'"],
    ['tz', 'timestamptz', "'2024-01-01 10:00:00.000001+00'"],
    ['tm', 'time(6)', "'23:59:59.999999'"],
    ['iv', 'interval', "'1 day 00:00:00.000001'"],
    ['b', 'boolean', 'true'],
    ['bt', 'bit(10)', "B'0000000001'"],
    ['js', 'jsonb', '\'{"a": 1}\''],
    ['u', 'uuid', "'00000000-0000-0000-0000-000000000001'"],
    ['arr', 'integer[]', "'{1,NULL,3}'"],
  ],
  mutations: [
    { column: 'i2', to: '-32767' },
    { column: 'i8', to: '9223372036854775806' },
    { column: 'nu', to: "'12345678901234567890.0000000002'" },
    { column: 'r4', to: '0.10000001' },
    { column: 'f8', to: '0.10000000000000002' },
    { column: 'tx', to: "E'a\\nb\\tc ''q'' \"d\" (x,y) \\\\ ' || id" },
    { column: 'n1', to: "''" },
    { column: 'n2', to: "'N'" },
    { column: 'n3', to: 'NULL' },
    { column: 'n2', to: 'NULL' },
    { column: 'ch', to: "'ab c'" },
    { column: 'by', to: "'\\x0000'::bytea" },
    { column: 'd', to: "'2024-02-28'" },
    { column: 'ts', to: "'2024-01-01 10:00:00.000002'" },
    { column: 'tz', to: "'2024-01-01 10:00:00.000002+00'" },
    { column: 'tm', to: "'23:59:59.999998'" },
    { column: 'iv', to: "'1 day 00:00:00.000002'" },
    { column: 'b', to: 'false' },
    { column: 'bt', to: "B'0000000010'" },
    { column: 'js', to: '\'{"a": 2}\'' },
    { column: 'u', to: "'00000000-0000-0000-0000-000000000002'" },
    { column: 'arr', to: "'{1,3,NULL}'" },
  ],
  async exec(server, db, sql) {
    const c = new pg.Client({ connectionString: server.url(db) });
    await c.connect();
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  },
};

const quiet = createLogger({ level: 'silent' }) as Logger;

describe.each([MYSQL, POSTGRES])('chunk digests $name → $name', (c) => {
  let server: Server;
  const q = (n: string) => (c.name === 'mysql' ? `\`${n}\`` : `"${n}"`);
  const config = (tables?: string[]) => ({ source: server.url('dsrc'), target: server.url('ddst'), chunkSize: CHUNK, threads: 2, logLevel: 'silent' as const, ...(tables ? { tables } : {}) });

  beforeAll(async () => {
    server = await c.start();
    const create = `CREATE TABLE wide (id INT NOT NULL PRIMARY KEY, ${c.columns.map(([n, t]) => `${q(n)} ${t}`).join(', ')})`;
    const ids = Array.from({ length: ROWS }, (_, i) => i + 1);
    const insert =
      c.name === 'mysql'
        ? `INSERT INTO wide SELECT seq, ${c.columns.map(([, , b]) => b.replace(/\bid\b/g, 'seq')).join(', ')} FROM (${ids.map((i) => `SELECT ${i} AS seq`).join(' UNION ALL ')}) AS s`
        : `INSERT INTO wide SELECT id, ${c.columns.map(([, , b]) => b).join(', ')} FROM generate_series(1, ${ROWS}) AS id`;
    for (const db of ['dsrc', 'ddst']) {
      await c.exec(server, c.name === 'mysql' ? undefined : 'postgres', `CREATE DATABASE ${db}`);
      await c.exec(server, db, create);
      await c.exec(server, db, insert);
    }
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
  });

  const wide = (t: readonly TableReport[]): TableReport => t.find((x) => x.table === 'wide')!;

  it('settles equal chunks by digest, reading no rows', async () => {
    const r = await verify(config());
    const t = wide(r.tables);
    expect(t.error).toBeUndefined();
    expect(t.equal).toBe(true);
    expect(t.mode).toBe('range');
    expect(t.rowsChecked).toBe(ROWS);
    expect(t.chunks).toBeGreaterThan(ROWS / CHUNK - 1);
    expect(t.chunksByDigest).toBe(t.chunks);
  });

  it('finds one changed value in every column type, two per chunk, and names the column', async () => {
    const ups = c.mutations.map((m, k) => `UPDATE wide SET ${q(m.column)} = ${m.to} WHERE id = ${2 * k + 1}`);
    for (const u of ups) await c.exec(server, 'ddst', u);
    const r = await verify(config(), { recheck: { attempts: 0 } });
    const t = wide(r.tables);
    expect(t.error).toBeUndefined();
    expect(t.changed).toBe(c.mutations.length);
    expect(t.missing + t.extra).toBe(0);
    // Every other chunk was settled by digest; the changed ones were read as rows.
    expect(t.chunksByDigest).toBe(t.chunks - Math.ceil(c.mutations.length / 2));
    const found = t.ranges.flatMap((range) => range.keys.map((k) => ({ id: Number(k.key.id), columns: k.columns })));
    found.sort((a, b) => a.id - b.id);
    expect(found).toEqual(c.mutations.map((m, k) => ({ id: 2 * k + 1, columns: [m.column] })));

    const repaired = await verify(config(), { repair: true, recheck: { attempts: 0 } });
    expect(wide(repaired.tables).repaired).toBe(c.mutations.length);
    const again = wide((await verify(config())).tables);
    expect(again.equal).toBe(true);
    expect(again.chunksByDigest).toBe(again.chunks);
  });

  it('digests a table whose column types differ in comparable forms, and leaves one with a type no form carries to the row comparison', async () => {
    await c.exec(server, 'dsrc', 'CREATE TABLE loose (id INT NOT NULL PRIMARY KEY, v INT)');
    await c.exec(server, 'ddst', 'CREATE TABLE loose (id INT NOT NULL PRIMARY KEY, v BIGINT)');
    for (const db of ['dsrc', 'ddst']) await c.exec(server, db, 'INSERT INTO loose VALUES (1, 1), (2, NULL)');
    const t = (await verify(config(['loose']))).tables[0]!;
    expect(t.equal).toBe(true);
    expect(t.chunksByDigest).toBe(t.chunks);
    // A time of day of another precision: no comparable form carries it (core/comparable.ts).
    await c.exec(server, 'dsrc', 'CREATE TABLE looser (id INT NOT NULL PRIMARY KEY, v TIME)');
    await c.exec(server, 'ddst', `CREATE TABLE looser (id INT NOT NULL PRIMARY KEY, v TIME(3))`);
    for (const db of ['dsrc', 'ddst']) await c.exec(server, db, "INSERT INTO looser VALUES (1, '10:00:00'), (2, NULL)");
    const u = (await verify(config(['looser']))).tables[0]!;
    expect(u.equal).toBe(true);
    expect(u.chunksByDigest).toBe(0);
  });

  it('renders rows unambiguously: values that shift across a field boundary differ', async () => {
    // Joined without length prefixes or quoting, each pair would render alike: 'a,b' + 'c' and
    // 'a' + 'b,c' both as a,b,c; 'N' + NULL and NULL + 'N' both as N,N (NULL as N).
    const create = 'CREATE TABLE shift (id INT NOT NULL PRIMARY KEY, a VARCHAR(10), b VARCHAR(10))';
    const rows = (one: string, five: string) => `INSERT INTO shift VALUES ${[1, 2, 3, 4, 5, 6, 7, 8].map((i) => `(${i}, ${i === 1 ? one : i === 5 ? five : `'v${i}', 'w${i}'`})`).join(', ')}`;
    for (const db of ['dsrc', 'ddst']) await c.exec(server, db, create);
    await c.exec(server, 'dsrc', rows("'a,b', 'c'", "'N', NULL"));
    await c.exec(server, 'ddst', rows("'a', 'b,c'", "NULL, 'N'"));
    const t = (await verify(config(['shift']), { recheck: { attempts: 0 } })).tables[0]!;
    expect(t.error).toBeUndefined();
    expect(t.changed).toBe(2);
    // The two chunks holding rows 1 and 5 were read as rows; any other was settled by digest.
    expect(t.chunksByDigest).toBe(t.chunks - 2);
  });

  it.runIf(c.name === 'mysql')('digests character columns of one collation as they are, beside latin1 and binary ones, and still finds a change', async () => {
    const create = 'CREATE TABLE onecoll (id INT NOT NULL PRIMARY KEY, a VARCHAR(20), b TEXT, e ENUM(\'x\', \'y\'), l VARCHAR(20) CHARACTER SET latin1, bl BLOB) DEFAULT CHARSET=utf8mb4';
    const rows = `INSERT INTO onecoll VALUES ${Array.from({ length: 12 }, (_, i) => `(${i + 1}, 'a${i}', 'b,${i}', 'x', 'caf\u00e9', 0x00ff)`).join(', ')}`;
    for (const db of ['dsrc', 'ddst']) {
      await c.exec(server, db, create);
      await c.exec(server, db, rows);
    }
    const equal = (await verify(config(['onecoll']))).tables[0]!;
    expect(equal.error).toBeUndefined();
    expect(equal.equal).toBe(true);
    expect(equal.chunksByDigest).toBe(equal.chunks);
    await c.exec(server, 'ddst', "UPDATE onecoll SET b = 'b,5 ' WHERE id = 6");
    const changed = (await verify(config(['onecoll']), { recheck: { attempts: 0 } })).tables[0]!;
    expect(changed.changed).toBe(1);
    expect(changed.chunksByDigest).toBe(changed.chunks - 1);
  });

  it.runIf(c.name === 'postgres')("digests with the server's own hash, named in the format by its value for a fixed text", async () => {
    const cfg = SyncConfigSchema.parse(config(['wide']));
    const source = await openSource(cfg, parseDsn(cfg.source, 'source'), 'format-test', quiet);
    await source.connect();
    try {
      const d = await source.chunkDigest(await source.describe('wide'), { after: null, upTo: null });
      expect(d?.rows).toBe(ROWS);
      // Two sums of 64-bit hashes; servers whose hash of 'tributary' differs never compare digests.
      expect(d?.digest).toMatch(/^-?\d+:-?\d+$/);
      expect(d?.format).toMatch(/^postgres-hash-v3 probe=-?\d+ TimeZone=/);
    } finally {
      await source.close();
    }
  });

  it('the CLI digests in chunks of 20,000 rows and reads rows in chunks of 1,000 unless a chunk size is named', async () => {
    // 2,500 equal rows, digested (one chunk), then with a column type changed on the target (no
    // form for TIME: rows compared, three chunks); --chunk-size 1000 names the size for both.
    const ids = c.name === 'mysql' ? 'SELECT seq FROM seq_1_to_2500' : 'SELECT g FROM generate_series(1, 2500) g';
    for (const db of ['dsrc', 'ddst']) {
      await c.exec(server, db, 'CREATE TABLE many (id INT NOT NULL PRIMARY KEY, v INT)');
      await c.exec(server, db, `INSERT INTO many ${ids.replace(/SELECT (\w+)/, 'SELECT $1, $1')}`);
      await c.exec(server, db, `CREATE TABLE manyt (id INT NOT NULL PRIMARY KEY, v TIME${db === 'ddst' ? '(3)' : ''})`);
      await c.exec(server, db, `INSERT INTO manyt ${ids.replace(/SELECT (\w+)/, "SELECT $1, '10:00:00'")}`);
    }
    const cli = async (extra: string[]): Promise<VerifyResult> => {
      const r = await runCli(['verify', '--source', server.url('dsrc'), '--target', server.url('ddst'), '--tables', 'many,manyt', '--json', ...extra], {}, 60_000);
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as VerifyResult;
    };
    const chunks = (r: VerifyResult) => Object.fromEntries(r.tables.map((t) => [t.table, [t.chunks, t.chunksByDigest]]));
    expect(chunks(await cli([]))).toEqual({ many: [1, 1], manyt: [3, 0] });
    expect(chunks(await cli(['--chunk-size', '1000']))).toEqual({ many: [3, 3], manyt: [3, 0] });
  });

  it('sizes chunks by an average row that counts values stored apart from the row (TOAST, off-page BLOBs)', async () => {
    // 40 rows of 200 KB of incompressible bytes: a few dozen bytes each in the row itself.
    const ddl =
      c.name === 'mysql'
        ? ['CREATE TABLE big (id INT NOT NULL PRIMARY KEY, v LONGBLOB)', 'INSERT INTO big SELECT seq, REPEAT(RANDOM_BYTES(1024), 200) FROM seq_1_to_40', 'ANALYZE TABLE big']
        : [
            'CREATE TABLE big (id int PRIMARY KEY, v bytea)',
            'ALTER TABLE big ALTER COLUMN v SET STORAGE EXTERNAL',
            "INSERT INTO big SELECT g, (SELECT string_agg(decode(md5(g::text || '-' || k), 'hex'), ''::bytea) FROM generate_series(1, 12500) k) FROM generate_series(1, 40) g",
            'ANALYZE big',
          ];
    for (const sql of ddl) await c.exec(server, 'dsrc', sql);
    const cfg = SyncConfigSchema.parse(config(['big']));
    const source = await openSource(cfg, parseDsn(cfg.source, 'source'), 'stats-test', quiet);
    await source.connect();
    try {
      const stats = await source.tableStats('big');
      expect(stats.rows).toBe(40);
      expect(stats.avgRowBytes).toBeGreaterThan(200_000);
      expect(stats.avgRowBytes).toBeLessThan(400_000);
    } finally {
      await source.close();
    }
  });

  it('is taken by the continuous checker too', async () => {
    const cfg = SyncConfigSchema.parse(config(['wide']));
    const source = await openSource(cfg, parseDsn(cfg.source, 'source'), 'digest-test', quiet);
    const target = await openTarget(cfg, parseDsn(cfg.target, 'target'), 'digest-test', quiet);
    await source.connect();
    await target.connect();
    try {
      const table = await source.describe('wide');
      const plan = planTable(table, (await target.describe('wide'))!, { zeroDates: cfg.zeroDates });
      const st = await firstCleanPass(source, target, [plan], CHUNK, quiet);
      expect(st.rowsChecked).toBe(ROWS);
      expect(st.chunksChecked).toBeGreaterThan(0);
      expect(st.chunksByDigest).toBe(st.chunksChecked);
      expect(st.chunksDiffering).toBe(0);
    } finally {
      await source.close();
      await target.close();
    }
  });
});
