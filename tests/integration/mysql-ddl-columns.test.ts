/**
 * The MySQL DDL reader's columns are exact: for each column definition, MariaDB 10.11 itself
 * creates the column (CREATE TABLE with it, and ALTER TABLE … ADD COLUMN with it), and describeTable
 * (engines/mysql/schema.ts) reads it back; parseDdl's Column for `ALTER TABLE t ADD COLUMN
 * <definition>` must equal it field for field (logical type included), and its `after` table must
 * equal the altered table's description (columns, keys).
 */
import type { Connection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TableSchema } from '../../src/core/schema.js';
import { parseDdl } from '../../src/engines/mysql/ddl-parse.js';
import { describeTable } from '../../src/engines/mysql/schema.js';
import { startMariaDb, type Server } from '../../src/testing/servers.js';
import { connect } from '../helpers/mysql.js';

/** [definition, the table's default charset]. */
const DEFINITIONS: readonly (readonly [string, string?])[] = [
  ['tinyint'],
  ['tinyint unsigned'],
  ['smallint(3)'],
  ['mediumint unsigned'],
  ['int'],
  ['int unsigned not null'],
  ['integer(5) zerofill'],
  ['bigint'],
  ['bigint unsigned not null default 7'],
  ['bool'],
  ['boolean not null default true'],
  ['serial'],
  ['decimal'],
  ['decimal(5)'],
  ['numeric(10,2) unsigned'],
  ['dec(65,30)'],
  ['fixed(3,1) default -1.5'],
  ['float'],
  ['float(7,4)'],
  ['float(30)'],
  ['double'],
  ['double precision'],
  ['real'],
  ['double(10,3) unsigned'],
  ['bit'],
  ["bit(8) default b'101'"],
  ['date'],
  ['datetime'],
  ['datetime(6)'],
  ['timestamp'],
  ['timestamp(3) not null default current_timestamp(3) on update current_timestamp(3)'],
  ['time(2)'],
  ['year'],
  ['char'],
  ['char(10) binary'],
  ['varchar(20) character set latin1'],
  ['varchar(20) collate utf8mb4_unicode_ci'],
  ['varchar(20) charset utf8 collate utf8_bin'],
  ['character varying(7) not null'],
  ['national char(5)'],
  ['nvarchar(5)'],
  ['long varchar'],
  ['long varbinary'],
  ['text'],
  ['text(100)'],
  ['text(70000)'],
  ['tinytext'],
  ['mediumtext'],
  ['longtext charset ascii'],
  ['binary(4)'],
  ['varbinary(16)'],
  ['blob'],
  ['blob(300)'],
  ['mediumblob'],
  ['json'],
  ["enum('a','b')"],
  ["set('x','y') not null default 'x'"],
  ["enum('it''s','back\\\\slash')"],
  ['uuid'],
  ['inet6'],
  ['inet4'],
  ['point'],
  ['geometry not null'],
  ['point ref_system_id=4326'],
  ['varchar(10) ascii'],
  ['varchar(10)', 'latin1'],
  ['text', 'latin1'],
  ["enum('a')", 'latin1'],
  ['char(2) binary', 'latin1'],
  ['varchar(3) collate latin1_german1_ci', 'latin1'],
  ['tinyint(1) unsigned'],
  ['smallint unsigned'],
  ['mediumint'],
  ['int(3) unsigned zerofill'],
  ['int4'],
  ['int8 unsigned'],
  ['middleint'],
  ['float4'],
  ['float8'],
  ['float unsigned'],
  ['char(5) character set binary'],
  ['timestamp null'],
  ['datetime default now()'],
  ['text(10) charset latin1'],
  ['blob(70000)'],
  ['time'],
  ['year(4)'],
  ["set('a','b') charset latin1"],
  ["varchar(10) default 'x' comment 'c'"],
  ['int auto_increment unique'],
  ['linestring'],
  ['multipolygon'],
  ['geometrycollection'],
  ['national varchar(3)'],
  ['nchar(3)'],
  ['char(4) byte'],
  ['varchar(4) unicode'],
  ['bigint(10) signed'],
  ['int null auto_increment unique'],
  ['varchar(6) character set binary'],
  ['text charset binary'],
];

let server: Server;
let conn: Connection;
const DB = 'ddlcols';

beforeAll(async () => {
  server = await startMariaDb();
  conn = await connect(server.url());
  await conn.query(`CREATE DATABASE ${DB}`);
  await conn.query(`USE ${DB}`);
}, 120_000);

afterAll(async () => {
  await conn?.end().catch(() => undefined);
  await server?.stop();
});

describe('parseDdl columns against MariaDB 10.11', () => {
  it('has at least 40 definitions', () => {
    expect(DEFINITIONS.length).toBeGreaterThanOrEqual(40);
  });

  it.each(DEFINITIONS.map(([d, cs], i) => [d + (cs ? ` (table ${cs})` : ''), i, d, cs ?? 'utf8mb4'] as const))('%s', async (_name, i, def, charset) => {
    const created = `c${i}`;
    const altered = `a${i}`;
    await conn.query(`CREATE TABLE ${created} (id int NOT NULL PRIMARY KEY, c ${def}) DEFAULT CHARSET=${charset}`);
    await conn.query(`CREATE TABLE ${altered} (id int NOT NULL PRIMARY KEY, v varchar(3)) DEFAULT CHARSET=${charset}`);
    const before = await describeTable(conn, DB, altered);
    const statement = `ALTER TABLE ${altered} ADD COLUMN c ${def}`;
    await conn.query(statement);
    const afterAlter = await describeTable(conn, DB, altered);
    const fromCreate = (await describeTable(conn, DB, created)).columns.find((c) => c.name === 'c');

    const parsed = parseDdl(statement, { database: DB, currentSchema: DB, tables: new Map([[altered, before]]), selects: () => true });
    expect(parsed.unsupported).toBeUndefined();
    const op = parsed.operations[0];
    expect(op?.op).toBe('add-column');
    const column = op?.op === 'add-column' ? op.column : undefined;
    expect(column).toEqual(fromCreate);
    expect(column).toEqual(afterAlter.columns.find((c) => c.name === 'c'));

    const after = parsed.after.get(altered) as TableSchema;
    const { createStatement: _c, ...described } = afterAlter;
    expect(after).toEqual({ ...described, uniqueKeys: described.uniqueKeys ?? [] });
  });
});

/**
 * Whole statements: each runs on a real table whose definition was described first; the parsed
 * `after` must equal the table described again (columns in order, keys as indexes, generated
 * columns), so the operations and applyOperations together track what MariaDB did.
 */
const BASE =
  "CREATE TABLE %s (id int NOT NULL, a varchar(20) CHARACTER SET latin1, b int NOT NULL, c text, e enum('x','y'), l text CHARACTER SET latin1, g int AS (b + 1) VIRTUAL, PRIMARY KEY (id), UNIQUE KEY u_ab (a, b), UNIQUE KEY u_c (c(10)), KEY k_b (b)) DEFAULT CHARSET=utf8mb4";
const STATEMENTS: readonly string[] = [
  'ALTER TABLE %s ADD COLUMN z bigint unsigned NOT NULL DEFAULT 0 FIRST',
  'ALTER TABLE %s ADD COLUMN z int AFTER a, ADD COLUMN y varchar(3) AFTER z',
  'ALTER TABLE %s DROP COLUMN c',
  'ALTER TABLE %s DROP INDEX u_ab, DROP COLUMN a',
  'ALTER TABLE %s DROP COLUMN e, DROP COLUMN c, DROP COLUMN id',
  'ALTER TABLE %s MODIFY b bigint NOT NULL FIRST',
  'ALTER TABLE %s MODIFY id bigint',
  'ALTER TABLE %s CHANGE b bb int NULL AFTER e',
  'ALTER TABLE %s CHANGE COLUMN a A varchar(30)',
  'ALTER TABLE %s RENAME COLUMN c TO cc',
  'ALTER TABLE %s RENAME COLUMN b TO b2',
  "ALTER TABLE %s ALTER COLUMN a SET DEFAULT 'q'",
  'ALTER TABLE %s ADD UNIQUE KEY u_e (e), DROP INDEX u_ab',
  'ALTER TABLE %s DROP INDEX u_c, ADD INDEX k_e (e)',
  'ALTER TABLE %s ADD COLUMN s SERIAL',
  'ALTER TABLE %s ADD COLUMN j json, ADD COLUMN t timestamp(6) NOT NULL DEFAULT current_timestamp(6)',
  'ALTER TABLE %s CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci',
  'ALTER TABLE %s CONVERT TO CHARACTER SET latin1',
  'ALTER TABLE %s CONVERT TO CHARACTER SET utf8mb4',
  'ALTER TABLE %s DEFAULT CHARSET=latin1, ADD COLUMN v varchar(5)',
  'ALTER TABLE %s DROP COLUMN g',
  'ALTER TABLE %s ENGINE=InnoDB, ALGORITHM=COPY',
  'ALTER TABLE %s ADD (p1 int, p2 date)',
  'ALTER TABLE %s ADD COLUMN IF NOT EXISTS a int, DROP COLUMN IF EXISTS nope',
  // Key changes: the key's columns become NOT NULL (a was nullable), and an inline key on a renamed column.
  'ALTER TABLE %s DROP PRIMARY KEY, ADD PRIMARY KEY (a, id)',
  'ALTER TABLE %s DROP PRIMARY KEY, CHANGE COLUMN b bb int NOT NULL PRIMARY KEY',
];

describe('parseDdl after-tables against MariaDB 10.11', () => {
  it.each(STATEMENTS.map((s, i) => [s, i] as const))('%s', async (template, i) => {
    const table = `s${i}`;
    await conn.query(BASE.replace('%s', table));
    const before = await describeTable(conn, DB, table);
    const statement = template.replace('%s', table);
    await conn.query(statement);
    const described = await describeTable(conn, DB, table);
    const parsed = parseDdl(statement, { database: DB, currentSchema: DB, tables: new Map([[table, before]]), selects: () => true });
    if (/DROP COLUMN id/.test(statement)) {
      expect(parsed.unsupported).toMatch(/leaves s\d+ without a primary key or a unique key of NOT NULL columns/); // followed by nobody, but the definition is still tracked
    } else {
      expect(parsed.unsupported).toBeUndefined();
    }
    // Unique keys and indexes are sets (describeTable lists them by index name; a statement appends).
    const norm = ({ createStatement: _c, ...t }: TableSchema) => ({
      ...t,
      uniqueKeys: (t.uniqueKeys ?? []).map((k) => JSON.stringify(k)).sort(),
      ...(t.indexes ? { indexes: [...t.indexes].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)) } : {}),
    });
    expect(norm(parsed.after.get(table) as TableSchema)).toEqual(norm(described));
  });
});

/** CREATE TABLE of a selected table: the create-table operation's definition equals the created table described. */
const CREATES: readonly string[] = [
  'CREATE TABLE `%s` (`id` bigint NOT NULL AUTO_INCREMENT PRIMARY KEY, `body` text, `user_id` bigint, `created_at` datetime(6) NOT NULL, `updated_at` datetime(6) NOT NULL, INDEX `index_on_user_id` (`user_id`))',
  'CREATE TABLE `%s` (`id` integer AUTO_INCREMENT NOT NULL PRIMARY KEY, `name` varchar(50) NOT NULL UNIQUE, `weight` double precision NOT NULL, `meta` json NOT NULL, `uid` char(32) NOT NULL)',
  "CREATE TABLE `%s` (\n  `id` int(11) NOT NULL AUTO_INCREMENT,\n  `msg` varchar(255) CHARACTER SET latin1 COLLATE latin1_bin DEFAULT NULL,\n  `at` timestamp NOT NULL DEFAULT current_timestamp() ON UPDATE current_timestamp(),\n  `flags` set('a','b') DEFAULT 'a',\n  `price` decimal(8,3) unsigned DEFAULT 0.000,\n  PRIMARY KEY (`id`),\n  UNIQUE KEY `msg_at` (`msg`,`at`),\n  KEY `at` (`at`)\n) ENGINE=InnoDB AUTO_INCREMENT=7 DEFAULT CHARSET=utf8mb3 COLLATE=utf8mb3_unicode_ci",
  'CREATE TABLE %s (a int NOT NULL, b varchar(10) NOT NULL, c int AS (a * 2) STORED, d tinytext, PRIMARY KEY (b, a), KEY (d(5)), CONSTRAINT ch CHECK (a > 0)) DEFAULT CHARSET=latin1 /*!50100 PARTITION BY KEY (a) PARTITIONS 2 */',
  'CREATE TABLE IF NOT EXISTS %s (id serial, g point NOT NULL, SPATIAL INDEX (g), e enum(\'x\',\'y\') CHARACTER SET ascii) CHARACTER SET = utf8mb4 COLLATE = utf8mb4_unicode_ci',
  'CREATE TABLE %s (id int unsigned NOT NULL, k varchar(5) COLLATE utf8mb4_bin NOT NULL, PRIMARY KEY (id), UNIQUE KEY k1 (k), UNIQUE KEY k2 (k, id))',
  // Unnamed indexes: named after their first column, then _2, _3 …; a constraint's symbol names its unique key.
  'CREATE TABLE %s (id int NOT NULL PRIMARY KEY, a int, b varchar(20), c text, KEY (a), INDEX (a, b), UNIQUE (b), CONSTRAINT uq_ab UNIQUE (a, b), FULLTEXT (c), KEY a_3 (b))',
  // A foreign key over an index declared: the indexes are known; with none, the server adds its own (not known).
  'CREATE TABLE %s (id int NOT NULL PRIMARY KEY, parent int, KEY by_parent (parent), CONSTRAINT fk_p FOREIGN KEY (parent) REFERENCES %s (id))',
  'CREATE TABLE %s (id int NOT NULL PRIMARY KEY, parent int, FOREIGN KEY (parent) REFERENCES %s (id))',
];

describe('parseDdl create-table against MariaDB 10.11', () => {
  it.each(CREATES.map((s, i) => [s, i] as const))('%s', async (template, i) => {
    const table = `n${i}`;
    const statement = template.replace('%s', table).replace('%s', table);
    await conn.query(statement);
    const described = await describeTable(conn, DB, table);
    const parsed = parseDdl(statement, { database: DB, currentSchema: DB, tables: new Map(), selects: (n) => n === table });
    expect(parsed.unsupported).toBeUndefined();
    expect(parsed.tables).toEqual([table]);
    const op = parsed.operations[0];
    if (op?.op !== 'create-table') throw new Error(`expected create-table, got ${op?.op}`);
    // A created table's foreign keys are not read from the statement: the definition otherwise
    // equals the described one, its indexes as a set, by name (absent where the server adds an
    // index of its own for a foreign key: not known).
    const norm = ({ createStatement: _c, indexes: _i, foreignKeys: _f, ...t }: TableSchema) => ({ ...t, uniqueKeys: (t.uniqueKeys ?? []).map((k) => JSON.stringify(k)).sort() });
    expect(norm(op.table)).toEqual(norm(described));
    const byName = (t: TableSchema) => [...(t.indexes ?? [])].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const fkIndexAdded = /FOREIGN KEY/.test(statement) && !/KEY by_parent/.test(statement);
    if (fkIndexAdded) expect(op.table.indexes).toBeUndefined();
    else expect(byName(op.table)).toEqual(byName(described));
    // The statement it keeps creates the same table on a server of the same engine.
    await conn.query(`CREATE DATABASE IF NOT EXISTS ${DB}_copy`);
    await conn.query(`USE ${DB}_copy`);
    try {
      await conn.query(op.table.createStatement as string);
      expect(norm(await describeTable(conn, `${DB}_copy`, table))).toEqual(norm(described));
    } finally {
      await conn.query(`USE ${DB}`);
    }
  });
});

describe('a source reads each table with the definition it is given', () => {
  it('reads the new columns once a schema change gave the table a new definition (nothing cached by name)', async () => {
    const { MysqlSource } = await import('../../src/engines/mysql/source.js');
    const { parseDsn } = await import('../../src/config/dsn.js');
    const { createLogger } = await import('../../src/core/logger.js');
    await conn.query(`CREATE TABLE ${DB}.cached (id INT PRIMARY KEY, a VARCHAR(10))`);
    await conn.query(`INSERT INTO ${DB}.cached VALUES (1, 'x')`);
    const source = new MysqlSource({ dsn: parseDsn(server.url(DB), 'source'), logger: createLogger({ level: 'silent', pretty: false }), poolSize: 1, serverId: 77, positionMode: 'auto', maxBufferBytes: 1 << 20 });
    await source.connect();
    try {
      const before = await source.describe('cached');
      expect(await source.readChunk(before, { after: null, upTo: null })).toEqual([[1n, 'x']]);
      await conn.query(`ALTER TABLE ${DB}.cached ADD COLUMN b INT NOT NULL DEFAULT 7`);
      const after = await source.describe('cached');
      expect(await source.readChunk(after, { after: null, upTo: null })).toEqual([[1n, 'x', 7n]]);
      expect(await source.readRowsByKeys(after, [[1n]])).toEqual([[1n, 'x', 7n]]);
    } finally {
      await source.close();
    }
  });
});
