/**
 * Every MariaDB column type arrives unchanged, through the copy and through the stream, with the
 * tributary process in a non-UTC time zone. Compared byte for byte (HEX of every column).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { diffTables, startCli, startPair, waitEqual, waitUntil, type CliRun, type Pair } from '../helpers/mysql.js';

const COLUMNS = `
  id INT NOT NULL PRIMARY KEY,
  ti TINYINT, tiu TINYINT UNSIGNED, si SMALLINT, siu SMALLINT UNSIGNED,
  mi MEDIUMINT, miu MEDIUMINT UNSIGNED, i INT, iu INT UNSIGNED,
  bi BIGINT, biu BIGINT UNSIGNED,
  d65 DECIMAL(65,30), d10 DECIMAL(10,0), dneg DECIMAL(5,2),
  f FLOAT, dbl DOUBLE,
  dt6 DATETIME(6), dt DATETIME, ts6 TIMESTAMP(6) NULL, ts TIMESTAMP NULL, dte DATE,
  tm6 TIME(6), tm TIME, yr YEAR,
  c10 CHAR(10), vc VARCHAR(50), vlat VARCHAR(50) CHARACTER SET latin1, txt TEXT, lt LONGTEXT,
  bin4 BINARY(4), vb VARBINARY(20), bl BLOB,
  js JSON,
  en ENUM('a','b,c','d'), st SET('x','y','z'),
  b1 BIT(1), b8 BIT(8), b64 BIT(64),
  nul VARCHAR(10), emp VARCHAR(10),
  gen_stored BIGINT AS (i * 2) STORED,
  gen_virtual VARCHAR(60) AS (CONCAT(vc, '!')) VIRTUAL
`;

const COLS =
  'id, ti, tiu, si, siu, mi, miu, i, iu, bi, biu, d65, d10, dneg, f, dbl, dt6, dt, ts6, ts, dte, tm6, tm, yr, c10, vc, vlat, txt, lt, bin4, vb, bl, js, en, st, b1, b8, b64, nul, emp';

/** Edge values; `id` is substituted. */
function edgeRows(base: number): string[] {
  return [
    `(${base + 1}, -128, 255, -32768, 65535, -8388608, 16777215, -2147483648, 4294967295,
      -9223372036854775808, 18446744073709551615,
      '-12345678901234567890123456789012345.123456789012345678901234567890', 9999999999, -999.99,
      3.14159274, 0.1,
      '2024-02-29 23:59:59.123456', '1000-01-01 00:00:00', '2038-01-19 03:14:07.999999', '1970-01-01 00:00:01', '9999-12-31',
      '-838:59:59.000000', '838:59:59', 2155,
      'emoji😀', '😀𝄞 ünïcödé', 'café ÿ', 'text\\twith\\ttabs\\nand\\\\backslash', REPEAT('x', 70000),
      0x00010000, 0x00fffe80, 0x0001ff80c3,
      '{"big": 12345678901234567890, "f": 1.0, "s": "x", "n": null}',
      'b,c', 'x,z', b'1', b'10100101', b'1111111111111111111111111111111111111111111111111111111111111111',
      NULL, '')`,
    `(${base + 2}, 127, 0, 32767, 0, 8388607, 0, 2147483647, 0,
      9223372036854775807, 0,
      '0.000000000000000000000000000001', -9999999999, 0.00,
      -1e38, 1.7976931348623157e308,
      '0000-00-00 00:00:00.000000', '0000-00-00 00:00:00', '0000-00-00 00:00:00.000000', NULL, '0000-00-00',
      '-00:00:01.500000', '-00:00:01', 0,
      '', 'trailing  ', '', '', '',
      0x00000000, X'', X'',
      '[]', 'a', '', b'0', b'0', b'0',
      NULL, NULL)`,
    `(${base + 3}, 0, 128, 0, 32768, 0, 8388608, 0, 2147483648,
      0, 9223372036854775808,
      '1.5', 0, 1.5,
      1.1, 5e-324,
      '2024-01-01 00:00:00.000001', '2024-06-30 12:00:00', '2024-03-31 01:30:00.500000', '2024-03-31 02:30:00', '2024-02-29',
      '00:00:00.000001', '-12:00:00', 1901,
      'a', 'O''Brien "q" \\\\ ', 'ÀÉÎÕÜ', 'null', 'NULL',
      0xffffffff, 0x5c4e, 0x0a0d0900,
      '"just a string"', 'd', 'x,y,z', b'1', b'11111111', b'1000000000000000000000000000000000000000000000000000000000000000',
      'not null', 'x')`,
  ];
}

describe('type round trip MariaDB → MariaDB', () => {
  let pair: Pair;
  let cli: CliRun | undefined;

  beforeAll(async () => {
    pair = await startPair();
    await pair.src.query(`CREATE DATABASE types; USE types; SET SESSION sql_mode = '';
      CREATE TABLE t (${COLUMNS}) DEFAULT CHARSET=utf8mb4;
      CREATE TABLE k_str (k VARCHAR(20) NOT NULL, v INT, PRIMARY KEY (k)) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;
      CREATE TABLE k_bin (k VARBINARY(16) NOT NULL PRIMARY KEY, v INT);
      CREATE TABLE k_comp (a INT NOT NULL, b VARCHAR(10) NOT NULL, c DATETIME(6) NOT NULL, v TEXT, PRIMARY KEY (a, b, c));
      CREATE TABLE k_big (k BIGINT UNSIGNED NOT NULL PRIMARY KEY, v INT);
      CREATE TABLE k_dec (k DECIMAL(30,10) NOT NULL PRIMARY KEY, v INT);
      INSERT INTO t (${COLS}) VALUES ${edgeRows(0).join(',')};
      INSERT INTO k_str VALUES ('a', 1), ('B', 2), ('ü', 3), ('😀', 4), ('z ', 5);
      INSERT INTO k_bin VALUES (0x00, 1), (0xff, 2), (0x0000, 3), (0x80, 4);
      INSERT INTO k_comp VALUES (1, 'a', '2024-01-01 00:00:00.000001', 'x'), (1, 'b', '2024-01-01 00:00:00', 'y'), (2, 'a', '0000-00-00 00:00:00', 'z');
      INSERT INTO k_big VALUES (18446744073709551615, 1), (0, 2), (9223372036854775808, 3);
      INSERT INTO k_dec VALUES (-99999999999999999999.9999999999, 1), (0.0000000001, 2), (1, 3);
      INSERT INTO k_dec SELECT 12345678901234567890.1234567000 + seq * 0.0000000001, seq FROM types.seq_1_to_45;
      CREATE TABLE k_enum (e ENUM('z','b','a') NOT NULL, n INT NOT NULL, PRIMARY KEY (e, n));
      INSERT INTO k_enum SELECT ELT(1 + seq % 3, 'z', 'b', 'a'), seq FROM types.seq_1_to_40;
      CREATE TABLE k_set (s SET('z','b','a') NOT NULL PRIMARY KEY, n INT);
      INSERT INTO k_set VALUES ('', 0), ('z', 1), ('b', 2), ('z,b', 3), ('a', 4), ('z,a', 5), ('b,a', 6), ('z,b,a', 7);`);
    await pair.dst.query('CREATE DATABASE types');
  });

  afterAll(async () => {
    cli?.child.kill('SIGKILL');
    await pair?.stop();
  });

  it('copies and streams every type exactly', async () => {
    // Chunks of 10 rows, so keyset pagination crosses decimal keys that are equal as doubles and ENUM keys.
    cli = startCli(['sync', '--source', pair.srcUrl('types'), '--target', pair.dstUrl('types'), '--flush-interval', '100ms', '--chunk-size', '3', '--threads', '2'], { TZ: 'Asia/Kolkata' });
    await waitUntil('the initial copy', () => cli!.stderr().includes('initial copy done'), 60_000);
    for (const t of ['t', 'k_str', 'k_bin', 'k_comp', 'k_big', 'k_dec', 'k_enum', 'k_set']) {
      expect(await diffTables(pair, 'types', 'types', t), `copy of ${t}`).toBe('');
    }

    // Stream path: the same edge values inserted, rows updated to other edge values, deleted.
    await pair.src.query(`USE types; SET SESSION sql_mode = '';
      INSERT INTO t (${COLS}) VALUES ${edgeRows(100).join(',')};
      UPDATE t SET f = 1e38, dbl = -0.1, vc = 'ñ', bin4 = 0x01020304, js = '{"a": [1, 2.50, -0]}', b64 = 0, en = 'd', yr = 0 WHERE id = 1;
      UPDATE t SET ts6 = '2000-01-01 00:00:00.000000', tm6 = '-838:59:59.000000', biu = 18446744073709551614 WHERE id = 102;
      DELETE FROM t WHERE id = 3;
      INSERT INTO k_str VALUES ('c', 6); UPDATE k_str SET k = 'b2' WHERE k = 'B'; DELETE FROM k_str WHERE k = 'a';
      INSERT INTO k_bin VALUES (0x000000, 5); UPDATE k_bin SET v = 9 WHERE k = 0x00; DELETE FROM k_bin WHERE k = 0xff;
      UPDATE k_comp SET b = 'c' WHERE a = 1 AND b = 'a'; INSERT INTO k_comp VALUES (3, '', '2024-01-01 00:00:00.5', NULL);
      UPDATE k_big SET v = 10 WHERE k = 18446744073709551615; INSERT INTO k_big VALUES (18446744073709551614, 4);
      UPDATE k_dec SET k = 2.5 WHERE k = 1;
      DELETE FROM k_dec WHERE k = 12345678901234567890.1234567003; UPDATE k_dec SET v = -1 WHERE k = 12345678901234567890.1234567004;
      DELETE FROM k_enum WHERE e = 'b' AND n < 20; UPDATE k_enum SET n = n + 100 WHERE e = 'a' AND n > 30;`);
    for (const t of ['t', 'k_str', 'k_bin', 'k_comp', 'k_big', 'k_dec', 'k_enum', 'k_set']) {
      await waitEqual(pair, 'types', 'types', t, 30_000).catch((err: Error) => {
        throw new Error(`${err.message}\n--- tributary stderr ---\n${cli?.stderr().slice(-3000)}`);
      });
    }

    // The stream path reproduced the copy path's bytes: row 102 (streamed) equals row 2 (copied).
    const [rows] = await pair.dst.query<import('mysql2').RowDataPacket[]>(
      "SELECT id, HEX(f) hf, HEX(dbl) hd, HEX(bi) hb, HEX(js) hj, HEX(b64) hb64, HEX(yr) hy, HEX(tm) ht, HEX(dt6) hdt, HEX(d65) hdec, HEX(vb) hvb FROM types.t WHERE id IN (2, 102) ORDER BY id",
    );
    expect(rows).toHaveLength(2);
    const { id: _a, ...r2 } = rows[0] as Record<string, unknown>;
    const { id: _b, ...r102 } = rows[1] as Record<string, unknown>;
    expect(r102).toEqual(r2);

    cli.child.kill('SIGINT');
    expect(await cli.exited).toBe(0);
  });

  it('copies every type exactly through the canonical-value path too (a target without the same-format fast path)', async () => {
    const { MysqlTarget } = await import('../../src/engines/mysql/target.js');
    const { parseDsn } = await import('../../src/config/dsn.js');
    const { Runner } = await import('../../src/runner/runner.js');
    const { createLogger } = await import('../../src/core/logger.js');
    class CanonicalOnlyTarget extends MysqlTarget {
      // No chunk formats: every chunk takes the canonical path (readChunk, writeChunk).
      override readonly capabilities = { atomicCheckpoint: true, chunkFormats: [], chunkDigest: true, readBack: true, checkValues: true, plannedDdl: true, transactionalDdl: false, foreignKeys: true, keyRanges: true, namespaces: false, commitLimit: null, rowDocuments: false };
    }
    await pair.dst.query('CREATE DATABASE types_canonical');
    const logger = createLogger({ level: 'warn', pretty: false });
    const target = new CanonicalOnlyTarget({ dsn: parseDsn(pair.dstUrl('types_canonical'), 'target'), syncId: 'canonical', logger, poolSize: 2 });
    const runner = new Runner(
      { source: pair.srcUrl('types'), target: pair.dstUrl('types_canonical'), id: 'canonical', copyOnly: true, threads: 2 },
      { logger, target },
    );
    await runner.run();
    expect(runner.phase).toBe('stopped');
    for (const t of ['t', 'k_str', 'k_bin', 'k_comp', 'k_big', 'k_dec', 'k_enum', 'k_set']) {
      expect(await diffTables(pair, 'types', 'types_canonical', t), `canonical copy of ${t}`).toBe('');
    }
  });
});
