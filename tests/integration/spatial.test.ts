/**
 * Spatial columns on real servers: every MariaDB spatial type (SRID 0 and 4326, NULL, an empty
 * GEOMETRYCOLLECTION, a polygon with a hole, collections in a GEOMETRY column) copied and
 * streamed (insert, update, delete, key move) MariaDB → MariaDB byte for byte, and MariaDB →
 * PostgreSQL as PostGIS geometry (same WKB and SRID, same EWKT) or, without PostGIS, as bytea
 * holding the EWKB under the policy `tributary check` shows; `tributary verify` is clean on each
 * and finds a point changed on the target. A table with a secondary unique key takes the REPLACE
 * path; a value whose SRID its PostGIS column refuses is refused by name.
 */
import type { RowDataPacket } from 'mysql2/promise';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VerifyResult } from '../../src/checksum/report.js';
import { startPostgres, type Server } from '../../src/testing/servers.js';
import { diffTables, runCli, startCli, startPair, waitEqual, waitUntil, type CliRun, type Pair } from '../helpers/mysql.js';
import { pgClient, pgColumns } from '../helpers/postgres.js';

const SPATIAL = ['g', 'pt', 'ls', 'pg', 'mpt', 'mls', 'mpg', 'gc', 'p4326', 'fp'] as const;

const TABLE = `CREATE TABLE geo (
  id INT NOT NULL PRIMARY KEY,
  g GEOMETRY, pt POINT, ls LINESTRING, pg POLYGON, mpt MULTIPOINT, mls MULTILINESTRING, mpg MULTIPOLYGON,
  gc GEOMETRYCOLLECTION, p4326 POINT REF_SYSTEM_ID=4326, fp POINT,
  note VARCHAR(20)
)`;

const COLS = 'id, g, pt, ls, pg, mpt, mls, mpg, gc, p4326, fp, note';

const geom = (wkt: string, srid = 0) => `ST_GeomFromText('${wkt}', ${srid})`;

/** Rows with ids base+1…base+3. `fp` holds coordinates no decimal text prints exactly. */
function geoRows(base: number): string {
  return [
    `(${base + 1}, ${geom('POINT(1 2)', 4326)}, ${geom('POINT(0.1 -123.456789012345)')}, ${geom('LINESTRING(0 0,1 1,2 0)')},
      ${geom('POLYGON((0 0,10 0,10 10,0 10,0 0),(2 2,3 2,3 3,2 3,2 2))', 4326)}, ${geom('MULTIPOINT(1 1,2.5 -2)')},
      ${geom('MULTILINESTRING((0 0,1 1),(2 2,3 3))')}, ${geom('MULTIPOLYGON(((0 0,1 0,1 1,0 0)),((5 5,9 5,9 9,5 5),(6 5.5,8 5.5,8 7,6 5.5)))')},
      ${geom('GEOMETRYCOLLECTION EMPTY')}, ${geom('POINT(-71.0603 42.3583)', 4326)},
      ST_PointFromWKB(X'0101000000000000000000000001000000000000009A9999999999D93F', 0), 'one')`,
    `(${base + 2}, ${geom('GEOMETRYCOLLECTION(POINT(1 2),LINESTRING(0 0,1 1),POLYGON((0 0,1 0,1 1,0 0)),MULTIPOINT(3 3,4 4))', 3857)}, NULL,
      ${geom('LINESTRING(-180 -90,180 90)', 4326)}, NULL, NULL, NULL, NULL,
      ${geom('GEOMETRYCOLLECTION(MULTIPOINT(1 1,2 2),GEOMETRYCOLLECTION EMPTY)', 4326)}, NULL,
      ST_PointFromWKB(X'0101000000FFFFFFFFFFFFEF7F0000000000000080', 4326), NULL)`,
    `(${base + 3}, ${geom('MULTIPOLYGON(((0 0,1 0,1 1,0 0)))', 4326)}, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'three')`,
  ].join(',\n');
}

/** The source's spatial values, id by id: SRID and WKB of each, exact (HEX of the WKB). */
async function mysqlWkb(conn: Pair['src'], db: string): Promise<string[]> {
  const list = SPATIAL.map((c) => `IFNULL(CONCAT(ST_SRID(${c}), ':', HEX(ST_AsBinary(${c}))), 'NULL')`).join(", '|', ");
  const [rows] = await conn.query<RowDataPacket[]>(`SELECT CONCAT(id, '|', ${list}) AS r FROM \`${db}\`.geo ORDER BY id`);
  return rows.map((r) => String(r.r));
}

/** The source's values as EWKT ('SRID=n;' when not 0, then the WKT), as PostGIS prints ST_AsEWKT; `fp` left out. */
async function mysqlEwkt(conn: Pair['src'], db: string): Promise<string[]> {
  const list = SPATIAL.filter((c) => c !== 'fp')
    .map((c) => `IFNULL(CONCAT(IF(ST_SRID(${c}) = 0, '', CONCAT('SRID=', ST_SRID(${c}), ';')), ST_AsText(${c})), 'NULL')`)
    .join(", '|', ");
  const [rows] = await conn.query<RowDataPacket[]>(`SELECT CONCAT(id, '|', ${list}) AS r FROM \`${db}\`.geo ORDER BY id`);
  return rows.map((r) => String(r.r));
}

async function postgisWkb(c: pg.Client): Promise<string[]> {
  const list = SPATIAL.map((x) => `COALESCE(ST_SRID(${x}) || ':' || upper(encode(ST_AsBinary(${x}, 'NDR'), 'hex')), 'NULL')`).join(" || '|' || ");
  const r = await c.query<{ r: string }>(`SELECT id || '|' || ${list} AS r FROM geo ORDER BY id`);
  return r.rows.map((x) => x.r);
}

async function postgisEwkt(c: pg.Client): Promise<string[]> {
  const list = SPATIAL.filter((x) => x !== 'fp')
    .map((x) => `COALESCE(ST_AsEWKT(${x}), 'NULL')`)
    .join(" || '|' || ");
  const r = await c.query<{ r: string }>(`SELECT id || '|' || ${list} AS r FROM geo ORDER BY id`);
  return r.rows.map((x) => x.r);
}

/** The target's bytea values read by PostGIS (in another database of the same server): SRID and WKB as for postgisWkb. */
async function byteaWkb(plain: pg.Client, postgis: pg.Client): Promise<string[]> {
  const r = await plain.query<{ id: string; v: (string | null)[] }>(`SELECT id, ARRAY[${SPATIAL.map((x) => `encode(${x}, 'hex')`).join(', ')}] AS v FROM geo ORDER BY id`);
  const out: string[] = [];
  for (const row of r.rows) {
    const parts: string[] = [String(row.id)];
    for (const hex of row.v) {
      if (hex === null) {
        parts.push('NULL');
        continue;
      }
      const g = await postgis.query<{ s: string }>(`SELECT ST_SRID(x) || ':' || upper(encode(ST_AsBinary(x, 'NDR'), 'hex')) AS s FROM (SELECT ST_GeomFromEWKB(decode($1, 'hex')) AS x) g`, [hex]);
      parts.push(g.rows[0]?.s ?? '?');
    }
    out.push(parts.join('|'));
  }
  return out;
}

/** Inserts, updates (SRIDs change too), deletes and a key move on the source while streaming. */
async function streamChanges(conn: Pair['src'], db: string): Promise<void> {
  await conn.query(`USE \`${db}\`;
    INSERT INTO geo (${COLS}) VALUES ${geoRows(100)};
    UPDATE geo SET pt = ${geom('POINT(7 8)', 4326)}, g = ${geom('LINESTRING(1 1,2 2)')}, gc = ${geom('GEOMETRYCOLLECTION EMPTY', 4326)} WHERE id = 1;
    UPDATE geo SET p4326 = NULL, mpg = NULL, note = 'moved' WHERE id = 102;
    UPDATE geo SET mpt = ${geom('MULTIPOINT(0 0)', 4326)} WHERE id = 2;
    DELETE FROM geo WHERE id = 3;
    UPDATE geo SET id = 200 WHERE id = 103;`);
}

let pair: Pair;
let postgres: Server;
const clients: pg.Client[] = [];
const running: CliRun[] = [];

async function pgDb(name: string, postgis: boolean): Promise<pg.Client> {
  const admin = await pgClient(postgres.url('postgres'));
  clients.push(admin);
  await admin.query(`CREATE DATABASE "${name}"`);
  const c = await pgClient(postgres.url(name));
  clients.push(c);
  if (postgis) await c.query('CREATE EXTENSION postgis');
  return c;
}

function sync(source: string, target: string, extra: string[] = []): CliRun {
  const run = startCli(['sync', '--source', source, '--target', target, '--flush-interval', '100ms', '--chunk-size', '2', ...extra]);
  running.push(run);
  return run;
}

async function stop(run: CliRun): Promise<void> {
  run.child.kill('SIGINT');
  expect(await run.exited, run.stderr().slice(-3000)).toBe(0);
}

async function verify(source: string, target: string, json = false) {
  const r = await runCli(['verify', '--source', source, '--target', target, '--chunk-size', '2', '--rechecks', '0', ...(json ? ['--json'] : [])], {}, 60_000);
  return { ...r, result: json ? (JSON.parse(r.stdout) as VerifyResult) : undefined };
}

/** The keys reported changed in table geo, with the columns that differ. */
function changed(r: VerifyResult): { key: unknown; columns: readonly string[] | undefined }[] {
  const t = r.tables.find((x) => x.table === 'geo');
  return (t?.ranges ?? []).flatMap((x) => x.keys.filter((k) => k.kind === 'changed').map((k) => ({ key: Object.values(k.key)[0], columns: k.columns })));
}

beforeAll(async () => {
  [pair, postgres] = await Promise.all([startPair(), startPostgres()]);
  await pair.src.query(`CREATE DATABASE geo; USE geo; ${TABLE}; INSERT INTO geo (${COLS}) VALUES ${geoRows(0)};`);
});

afterAll(async () => {
  for (const r of running) r.child.kill('SIGKILL');
  for (const c of clients) await c.end().catch(() => undefined);
  await Promise.all([pair?.stop(), postgres?.stop()]);
});

describe('spatial columns MariaDB → MariaDB', () => {
  it('copies and streams every spatial type byte for byte, SRIDs kept; verify is clean and finds a changed point', async () => {
    // geo_u has a secondary unique key: the stream writes it with REPLACE instead of ON DUPLICATE KEY UPDATE.
    await pair.src.query(`CREATE DATABASE geo_mm; USE geo_mm; CREATE TABLE geo LIKE geo.geo; INSERT INTO geo SELECT * FROM geo.geo;
      CREATE TABLE geo_u (id INT PRIMARY KEY, name VARCHAR(10) UNIQUE, p POINT); INSERT INTO geo_u VALUES (1, 'a', ${geom('POINT(1 1)', 4326)});`);
    await pair.dst.query('CREATE DATABASE geo_mm');
    const run = sync(pair.srcUrl('geo_mm'), pair.dstUrl('geo_mm'));
    await waitUntil('the initial copy', () => run.stderr().includes('initial copy done'), 60_000);
    expect(await diffTables(pair, 'geo_mm', 'geo_mm', 'geo'), 'copy').toBe('');

    await streamChanges(pair.src, 'geo_mm');
    await pair.src.query(`USE geo_mm; INSERT INTO geo_u VALUES (2, 'b', ${geom('POINT(2 2)')}); UPDATE geo_u SET p = ${geom('POINT(3 3)', 3857)}, name = 'c' WHERE id = 1;`);
    for (const t of ['geo', 'geo_u']) {
      await waitEqual(pair, 'geo_mm', 'geo_mm', t, 60_000).catch((err: Error) => {
        throw new Error(`${err.message}\n--- tributary stderr ---\n${run.stderr().slice(-3000)}`);
      });
    }
    // The stream wrote what the copy wrote: row 101 (streamed) holds row 1's values as copied.
    const [rows] = await pair.dst.query<RowDataPacket[]>(`SELECT id, ${SPATIAL.map((c) => `HEX(${c}) AS ${c}`).join(', ')} FROM geo_mm.geo WHERE id IN (101, 2, 102) ORDER BY id`);
    const [src] = await pair.src.query<RowDataPacket[]>(`SELECT id, ${SPATIAL.map((c) => `HEX(${c}) AS ${c}`).join(', ')} FROM geo.geo WHERE id IN (1, 2) ORDER BY id`);
    expect({ ...rows[1], id: 0 }).toEqual({ ...src[0], id: 0 });
    expect(String(rows[1]?.p4326)).toMatch(/^E6100000/); // SRID 4326, little-endian, in front
    await stop(run);

    const clean = await verify(pair.srcUrl('geo_mm'), pair.dstUrl('geo_mm'));
    expect(clean.code, clean.stdout + clean.stderr.slice(-2000)).toBe(0);
    expect(clean.stdout).toMatch(/geo: 5 rows checked in \d+ chunks? \((range|keys)\): equal/);

    // One coordinate one unit in the last place away.
    await pair.dst.query("UPDATE geo_mm.geo SET pt = ST_GeomFromText('POINT(0.1 -123.45678901234501)') WHERE id = 101");
    const found = await verify(pair.srcUrl('geo_mm'), pair.dstUrl('geo_mm'), true);
    expect(found.code, found.stderr.slice(-2000)).toBe(1);
    expect(changed(found.result!)).toEqual([{ key: 101, columns: ['pt'] }]);
  });

  it('keeps the spatial bytes of rows that arrive while a table entering the selection is described (the events wait behind it)', async () => {
    // staging is outside the selection; renamed into it, the stream reads its definition from the
    // catalogue while the events after the statement wait, read by zongji's own decoder then.
    await pair.src.query(`CREATE DATABASE geo_adopt; USE geo_adopt; CREATE TABLE geo LIKE geo.geo; INSERT INTO geo SELECT * FROM geo.geo;
      CREATE TABLE items_0 (id INT PRIMARY KEY); CREATE TABLE staging (id INT PRIMARY KEY, p POINT); INSERT INTO staging VALUES (1, ${geom('POINT(5 6)', 4326)});`);
    await pair.dst.query('CREATE DATABASE geo_adopt');
    const run = sync(pair.srcUrl('geo_adopt'), pair.dstUrl('geo_adopt'), ['--tables', 'geo,items_*']);
    await waitUntil('the initial copy', () => run.stderr().includes('initial copy done'), 60_000);
    // Written while the sync is held (SIGSTOP): the rows then reach it in the same socket read as
    // the rename, and are parsed before the renamed table is described.
    run.child.kill('SIGSTOP');
    try {
      await pair.src.query(`USE geo_adopt; RENAME TABLE staging TO items_new;
        INSERT INTO geo (${COLS}) VALUES ${geoRows(100)}; UPDATE geo SET pt = ${geom('POINT(7 8)', 4326)} WHERE id = 1;
        INSERT INTO items_new VALUES (2, ${geom('POINT(-1 -2)')});`);
    } finally {
      run.child.kill('SIGCONT');
    }
    for (const t of ['geo', 'items_new']) {
      await waitEqual(pair, 'geo_adopt', 'geo_adopt', t, 60_000).catch((err: Error) => {
        throw new Error(`${err.message}\n--- tributary stderr ---\n${run.stderr().slice(-3000)}`);
      });
    }
    expect(run.stderr()).toContain('table entered the selection while streaming');
    await stop(run);
  });

  it('copies every spatial type exactly through the canonical-value path too (LOAD DATA of values, no fast path)', async () => {
    const { MysqlTarget } = await import('../../src/engines/mysql/target.js');
    const { parseDsn } = await import('../../src/config/dsn.js');
    const { Runner } = await import('../../src/runner/runner.js');
    const { createLogger } = await import('../../src/core/logger.js');
    class CanonicalOnlyTarget extends MysqlTarget {
      // No chunk formats: every chunk takes the canonical path (readChunk, writeChunk).
      override readonly capabilities = { atomicCheckpoint: true, chunkFormats: [], chunkDigest: true, readBack: true, checkValues: true, plannedDdl: true, transactionalDdl: false, foreignKeys: true, keyRanges: true, namespaces: false, commitLimit: null, rowDocuments: false };
    }
    await pair.dst.query('CREATE DATABASE geo_canonical');
    const logger = createLogger({ level: 'warn', pretty: false });
    const target = new CanonicalOnlyTarget({ dsn: parseDsn(pair.dstUrl('geo_canonical'), 'target'), syncId: 'canonical', logger, poolSize: 2 });
    const runner = new Runner({ source: pair.srcUrl('geo'), target: pair.dstUrl('geo_canonical'), id: 'canonical', copyOnly: true, threads: 2 }, { logger, target });
    await runner.run();
    expect(runner.phase).toBe('stopped');
    expect(await diffTables(pair, 'geo', 'geo_canonical', 'geo')).toBe('');
  });
});

describe('spatial columns MariaDB → PostgreSQL', () => {
  it('with PostGIS: geometry columns typed as on the source, the same WKB and SRID through copy and stream; verify is clean and finds a changed point', async () => {
    await pair.src.query('CREATE DATABASE geo_mp; USE geo_mp; CREATE TABLE geo LIKE geo.geo; INSERT INTO geo SELECT * FROM geo.geo;');
    const c = await pgDb('geo_postgis', true);
    const target = postgres.url('geo_postgis');

    const check = await runCli(['check', '--source', pair.srcUrl('geo_mp'), '--target', target]);
    expect(check.code, check.stdout + check.stderr).toBe(0);
    expect(check.stdout).toMatch(/✔ geo\.p4326: point → "public"\.geometry\(Point,4326\) \(spatial as PostGIS geometry/);
    expect(check.stdout).toMatch(/✔ geo\.g: geometry → "public"\.geometry \(spatial as PostGIS geometry/);

    const run = sync(pair.srcUrl('geo_mp'), target);
    await waitUntil('the initial copy', () => run.stderr().includes('initial copy done'), 60_000);
    const types = Object.fromEntries((await pgColumns(c, 'geo')).map((x) => [x.name, x.type]));
    expect(types).toMatchObject({ g: 'geometry', pt: 'geometry(Point)', ls: 'geometry(LineString)', pg: 'geometry(Polygon)', mpt: 'geometry(MultiPoint)', mls: 'geometry(MultiLineString)', mpg: 'geometry(MultiPolygon)', gc: 'geometry', p4326: 'geometry(Point,4326)' });
    expect(await postgisWkb(c)).toEqual(await mysqlWkb(pair.src, 'geo_mp'));
    expect(await postgisEwkt(c)).toEqual(await mysqlEwkt(pair.src, 'geo_mp'));

    await streamChanges(pair.src, 'geo_mp');
    const want = await mysqlWkb(pair.src, 'geo_mp');
    await waitUntil('the stream to apply the changes', async () => JSON.stringify(await postgisWkb(c)) === JSON.stringify(want), 60_000).catch((err: Error) => {
      throw new Error(`${err.message}\n--- tributary stderr ---\n${run.stderr().slice(-3000)}`);
    });
    expect(await postgisEwkt(c)).toEqual(await mysqlEwkt(pair.src, 'geo_mp'));
    await stop(run);

    const clean = await verify(pair.srcUrl('geo_mp'), target);
    expect(clean.code, clean.stdout + clean.stderr.slice(-2000)).toBe(0);
    expect(clean.stdout).toMatch(/geo: 5 rows checked in \d+ chunks? \((range|keys)\): equal/);
    await c.query("UPDATE geo SET pt = 'POINT(0.1 -123.45678901234501)'::geometry WHERE id = 101");
    const found = await verify(pair.srcUrl('geo_mp'), target, true);
    expect(found.code, found.stderr.slice(-2000)).toBe(1);
    expect(changed(found.result!)).toEqual([{ key: 101, columns: ['pt'] }]);
  });

  it('refuses by name a value whose SRID is not the one its MariaDB column declares (REF_SYSTEM_ID is not enforced there)', async () => {
    await pair.src.query(`CREATE DATABASE geo_srid; CREATE TABLE geo_srid.places (id INT PRIMARY KEY, p POINT REF_SYSTEM_ID=4326);
      INSERT INTO geo_srid.places VALUES (1, ${geom('POINT(1 1)', 4326)}), (2, ${geom('POINT(2 2)')});`);
    await pgDb('geo_srid', true);
    const r = await runCli(['sync', '--copy-only', '--source', pair.srcUrl('geo_srid'), '--target', postgres.url('geo_srid')]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('TRIB_TARGET_WRITE_FAILED');
    expect(r.stderr).toMatch(/table places, column p, row id=2: the value's SRID 0 is not the SRID 4326 of the column geometry\(Point,4326\)/);
  });

  it('without PostGIS: bytea holding the EWKB, under the policy check shows; verify is clean', async () => {
    await pair.src.query('CREATE DATABASE geo_mb; USE geo_mb; CREATE TABLE geo LIKE geo.geo; INSERT INTO geo SELECT * FROM geo.geo;');
    const plain = await pgDb('geo_plain', false);
    const postgis = await pgDb('geo_reader', true);
    const target = postgres.url('geo_plain');

    const check = await runCli(['check', '--source', pair.srcUrl('geo_mb'), '--target', target]);
    expect(check.code, check.stdout + check.stderr).toBe(0);
    expect(check.stdout).toMatch(/✔ geo\.pt: point → bytea \(spatial as bytea \(EWKB\): PostGIS is not installed in the target database/);

    const run = sync(pair.srcUrl('geo_mb'), target);
    await waitUntil('the initial copy', () => run.stderr().includes('initial copy done'), 60_000);
    expect(new Set((await pgColumns(plain, 'geo')).filter((x) => x.name !== 'id' && x.name !== 'note').map((x) => x.type))).toEqual(new Set(['bytea']));
    expect(await byteaWkb(plain, postgis)).toEqual(await mysqlWkb(pair.src, 'geo_mb'));
    // SRID 0: the bytes are the OGC WKB itself.
    const r = await plain.query<{ pt: string }>("SELECT upper(encode(pt, 'hex')) AS pt FROM geo WHERE id = 1");
    const [m] = await pair.src.query<RowDataPacket[]>('SELECT HEX(ST_AsBinary(pt)) AS pt FROM geo_mb.geo WHERE id = 1');
    expect(r.rows[0]?.pt).toBe(String(m[0]?.pt));

    await streamChanges(pair.src, 'geo_mb');
    const want = await mysqlWkb(pair.src, 'geo_mb');
    await waitUntil('the stream to apply the changes', async () => JSON.stringify(await byteaWkb(plain, postgis)) === JSON.stringify(want), 60_000).catch((err: Error) => {
      throw new Error(`${err.message}\n--- tributary stderr ---\n${run.stderr().slice(-3000)}`);
    });
    await stop(run);

    const clean = await verify(pair.srcUrl('geo_mb'), target);
    expect(clean.code, clean.stdout + clean.stderr.slice(-2000)).toBe(0);
    expect(clean.stdout).toMatch(/geo: 5 rows checked in \d+ chunks? \((range|keys)\): equal/);
  });
});
