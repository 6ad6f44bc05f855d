/**
 * The copy into etcd with rows rendered by MariaDB (core/formats.ts ETCD_JSON_LINES,
 * engines/mysql/json.ts), on real servers: every key and value in etcd is, byte for byte, what the
 * canonical path gives (the MySQL source's readChunk, then the etcd target's keyOfRow and
 * renderRow) for a table of every type the SQL renders, with values at the edges of each form
 * (integers beyond 2^53, negative zero, NULL floats, decimals, zero dates, fractions, instants, quotes,
 * backslashes, '/', unicode, newlines, tabs and other control characters, bytes long enough for
 * base64 line breaks, NULL); the chunks holding a value MariaDB prints otherwise than JavaScript (a
 * DOUBLE of 1e20, an ESC character, which JSON_QUOTE escapes in uppercase hex)
 * go by the canonical path and land the same; a table with a type the SQL does not render (JSON)
 * is copied by the canonical path. A composite key with a ZEROFILL column lands the same, its
 * chunks split into several transactions.
 */
import { Etcd3 } from 'etcd3';
import type { Logger } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDsn } from '../../src/config/dsn.js';
import { SyncConfigSchema } from '../../src/config/schema.js';
import { createLogger } from '../../src/core/logger.js';
import { openSource, valueConventions } from '../../src/engines/registry.js';
import { KeyLayout } from '../../src/engines/etcd/keys.js';
import { renderRow } from '../../src/core/json-row.js';
import { startEtcd, startMariaDb, type Server } from '../../src/testing/servers.js';
import { connect, runCli } from '../helpers/mysql.js';

const quiet = createLogger({ level: 'silent' }) as Logger;

let mariadb: Server;
let etcd: Server;
let client: Etcd3;

beforeAll(async () => {
  [mariadb, etcd] = await Promise.all([startMariaDb(), startEtcd()]);
  client = new Etcd3({ hosts: `http://127.0.0.1:${etcd.port}` });
  const c = await connect(mariadb.url());
  try {
    await c.query("SET SESSION sql_mode = 'NO_ENGINE_SUBSTITUTION', time_zone = '+00:00'");
    await c.query('CREATE DATABASE j');
    await c.query('USE j');
    await c.query(`CREATE TABLE t (
      id BIGINT NOT NULL PRIMARY KEY,
      i INT, ti TINYINT(1), bu BIGINT UNSIGNED, bs BIGINT, yr YEAR,
      de DECIMAL(30,10), dz DECIMAL(5,0), f FLOAT, d DOUBLE,
      dt DATE, dm DATETIME(6), d0 DATETIME, ts TIMESTAMP(3) NULL, tm TIME(6),
      vc VARCHAR(60), l1 VARCHAR(20) CHARACTER SET latin1, ch CHAR(5), en ENUM('a', 'b c'), tx TEXT,
      bn VARBINARY(10), bl BLOB
    ) DEFAULT CHARSET = utf8mb4`);
    const rows: string[] = [];
    for (let id = 1; id <= 40; id++) {
      rows.push(
        `(${id}, ${id * -1000}, ${id % 2}, ${id % 3 === 0 ? '18446744073709551615' : id}, ${id % 4 === 0 ? '-9223372036854775808' : '9007199254740991'}, ${id % 5 === 0 ? 0 : 1990 + id},
        ${id % 2 ? "'-12345678901234567890.0000000001'" : "'0.5'"}, ${id}, ${id % 5 === 0 ? 'NULL' : id / 8}, ${id % 6 === 0 ? '-0e0' : id % 7 === 0 ? '0e0' : id % 5 === 0 ? 'NULL' : `${id} / 7e0`},
        ${id % 9 === 0 ? "'0000-00-00'" : "'2024-02-29'"}, '2024-01-01 10:00:00.${String(id).padStart(6, '0')}', ${id % 9 === 0 ? "'0000-00-00 00:00:00'" : "'1999-12-31 23:59:59'"}, ${id % 8 === 0 ? 'NULL' : "'2024-01-01 00:00:00.125'"}, '-838:59:58.999999',
        ${id % 10 === 0 ? 'NULL' : `'q"uo\\\\te/ é 😀 ${id}'`}, 'caf\u00e9', 'ab', ${id % 2 ? "'b c'" : "'a'"}, ${id % 11 === 0 ? "''" : "'li\\nne\\tq\\r'"},
        ${id % 12 === 0 ? "''" : '0x00ff10'}, REPEAT(0xdeadbeef, ${id}))`,
      );
    }
    await c.query(`INSERT INTO t VALUES ${rows.join(', ')}`);
    // Values MariaDB prints otherwise than JavaScript: their chunks take the canonical path.
    await c.query('UPDATE t SET d = 1e20 WHERE id = 13');
    await c.query("UPDATE t SET vc = CONCAT('esc', CHAR(27)) WHERE id = 27");
    // Control characters JSON_QUOTE escapes as JavaScript does (\n, \t, \r above; \u0001 here): the SQL path.
    await c.query("UPDATE t SET vc = CONCAT('soh', CHAR(1)) WHERE id = 33");
    // A composite key: negative values, and ZEROFILL columns, whose text the server pads (rowKey's and JSON's are the number's own).
    // Its NOT NULL columns of every form: rendered without a NULL test, their pieces in the row's CONCAT.
    await c.query(`CREATE TABLE ck (a INT(4) ZEROFILL NOT NULL, b BIGINT NOT NULL, v VARCHAR(20), z SMALLINT ZEROFILL, dz DECIMAL(6,2) ZEROFILL, fz DOUBLE ZEROFILL,
      nd DECIMAL(6,2) NOT NULL, ndt DATETIME(3) NOT NULL, nts TIMESTAMP(6) NOT NULL DEFAULT '2024-01-01 00:00:00', ns VARCHAR(20) NOT NULL, nl VARCHAR(20) CHARACTER SET latin1 NOT NULL,
      nb VARBINARY(8) NOT NULL, nf DOUBLE NOT NULL, ne ENUM('x', 'y z') NOT NULL, ny YEAR NOT NULL, nday DATE NOT NULL, ntm TIME(2) NOT NULL, PRIMARY KEY (a, b))`);
    await c.query(`INSERT INTO ck SELECT seq % 3, CAST(seq AS SIGNED) - 150, CONCAT('v', seq), seq, seq / 4, seq / 8,
      seq / 3, '2024-02-29 12:34:56.789' + INTERVAL seq SECOND, '2024-01-01 00:00:00' + INTERVAL seq MINUTE, CONCAT('"q/', seq, '😀'), 'café',
      UNHEX(LPAD(HEX(seq), 6, '0')), seq / 7e0, IF(seq % 2, 'x', 'y z'), 1990 + seq % 50, '2000-01-01' + INTERVAL seq DAY, '-12:00:00.5' FROM seq_1_to_300`);
    await c.query('CREATE TABLE js (id INT NOT NULL PRIMARY KEY, doc JSON)');
    await c.query(`INSERT INTO js VALUES (1, '{"a": [1, 2]}'), (2, NULL)`);
  } finally {
    await c.end();
  }
}, 120_000);

afterAll(async () => {
  client?.close();
  await Promise.all([mariadb?.stop(), etcd?.stop()]);
});

/** Every key under the prefix and its value, as etcd holds them. */
async function stored(prefix: string): Promise<Record<string, string>> {
  return client.getAll().prefix(`/${prefix}/`).strings();
}

/** What the canonical path writes for `table`: keyOfRow → renderRow of the source's readChunk. */
async function canonical(prefix: string, table: string): Promise<Record<string, string>> {
  const cfg = SyncConfigSchema.parse({ source: mariadb.url('j'), target: etcd.url(prefix) });
  const source = await openSource(cfg, parseDsn(cfg.source, 'source'), 'json-lines-test', quiet);
  await source.connect();
  try {
    const schema = await source.describe(table);
    const layout = new KeyLayout({ prefix, layout: 'tributary', conventions: valueConventions });
    const out: Record<string, string> = {};
    for (const row of await source.readChunk(schema, { after: null, upTo: null })) out[layout.keyOfRow(schema, row)] = renderRow(schema, row, valueConventions('mysql'));
    return out;
  } finally {
    await source.close();
  }
}

describe('ETCD_JSON_LINES: the copy into etcd rendered by MariaDB', () => {
  it('lands every key and value byte for byte as the canonical path would, and takes that path for the chunks it cannot render', async () => {
    const r = await runCli(['sync', '--copy-only', '--source', mariadb.url('j'), '--target', etcd.url('jl'), '--tables', 't,js', '--chunk-size', '5', '--threads', '2', '--log-level', 'debug'], {}, 120_000);
    expect(r.code, r.stderr).toBe(0);
    const logs = r.stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { msg: string; table?: string; format?: string });
    const said = (msg: string, table: string) => logs.some((l) => l.msg === msg && l.table === table && l.format === 'etcd-json-lines');
    expect(said('the source renders chunks in the target format', 't')).toBe(true);
    expect(said('a column has no exact rendering in this format; copying canonical values', 'js')).toBe(true);
    // The chunks of rows 13 (1e20) and 27 (ESC), and no other.
    expect(logs.filter((l) => l.msg.startsWith('chunk holds') && l.table === 't')).toHaveLength(2);

    const all = await stored('jl');
    const want = { ...(await canonical('jl', 't')), ...(await canonical('jl', 'js')) };
    const tables = Object.fromEntries(Object.entries(all).filter(([k]) => !k.includes('/%tributary/')));
    expect(Object.keys(tables).sort()).toEqual(Object.keys(want).sort());
    for (const [k, v] of Object.entries(want)) expect({ key: k, value: tables[k] }).toEqual({ key: k, value: v });
  });

  it('lands a composite key (ZEROFILL, negative values) in chunks of several transactions as the canonical path would', async () => {
    const r = await runCli(['sync', '--copy-only', '--source', mariadb.url('j'), '--target', etcd.url('ck'), '--tables', 'ck', '--chunk-size', '200', '--max-txn-ops', '16', '--log-level', 'debug'], {}, 120_000);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('the source renders chunks in the target format');
    expect(r.stderr).not.toContain('chunk holds');
    const all = await stored('ck');
    const want = await canonical('ck', 'ck');
    const tables = Object.fromEntries(Object.entries(all).filter(([k]) => !k.includes('/%tributary/')));
    expect(Object.keys(want)).toHaveLength(300);
    expect(tables).toEqual(want);
    // ZEROFILL's padding is not the value's (the binlog's values have none): neither path keeps it.
    expect(JSON.parse(tables['/ck/ck/1/-149'] as string)).toMatchObject({ a: 1, b: -149, v: 'v1', z: 1, dz: '0.25', fz: 0.125, ns: '"q/1😀', nl: 'café', ne: 'x' });
  });
});
