/**
 * The PostgreSQL source on its own, against real PostgreSQL 15 servers (no target): the exported
 * snapshot, the pgoutput stream and its acknowledgements, canonical values, preflight refusals.
 */
import pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDsn } from '../../src/config/dsn.js';
import { coalesce, rowOf, type Change, type StreamEvent } from '../../src/core/change.js';
import { ErrorCode, TributaryError } from '../../src/core/errors.js';
import type { TableSchema } from '../../src/core/schema.js';
import type { Row, Value } from '../../src/core/values.js';
import { PostgresSource, type PostgresSourceOptions } from '../../src/engines/postgres/source.js';
import { startPostgres, type Server } from '../../src/testing/servers.js';

const logger = pino({ level: 'silent' });

let server: Server;
let admin: pg.Client;
const opened: PostgresSource[] = [];

async function client(db: string, user = 'postgres'): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: server.url(db).replace('postgres@', `${user}@`), options: '-c TimeZone=UTC' });
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

async function database(db: string, ddl: string): Promise<pg.Client> {
  await admin.query(`CREATE DATABASE ${db}`);
  const c = await client(db);
  await c.query(ddl);
  return c;
}

async function source(db: string, opts: Partial<PostgresSourceOptions> = {}, url = server.url(db)): Promise<PostgresSource> {
  const s = new PostgresSource({ dsn: parseDsn(url, 'source'), logger, poolSize: 3, syncId: db, maxBufferBytes: 1 << 20, ...opts });
  opened.push(s);
  await s.connect();
  return s;
}

async function allRows(s: PostgresSource, t: TableSchema): Promise<Row[]> {
  return s.readChunk(t, { after: null, upTo: null });
}

/** Reads the stream until `done` says so (or the time runs out), then stops it. */
async function collect(
  s: PostgresSource,
  from: string,
  tables: TableSchema[],
  done: (evs: StreamEvent[]) => boolean,
  ms = 15_000,
  onEvent?: (ev: StreamEvent) => void,
  stop?: AbortSignal,
): Promise<StreamEvent[]> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), ms);
  stop?.addEventListener('abort', () => ac.abort());
  const events: StreamEvent[] = [];
  try {
    stream: for await (const run of s.stream(from, tables, ac.signal)) {
      expect(run.length).toBeGreaterThan(0);
      for (const ev of run) {
        events.push(ev);
        onEvent?.(ev);
        if (done(events)) break stream;
      }
    }
  } finally {
    clearTimeout(timer);
    ac.abort();
  }
  return events;
}

const changes = (evs: StreamEvent[]): Change[] => evs.flatMap((e) => (e.type === 'change' ? [e.change] : []));
const commits = (evs: StreamEvent[]) => evs.filter((e) => e.type === 'commit').length;

async function rejection(p: Promise<unknown>): Promise<TributaryError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(TributaryError);
    return err as TributaryError;
  }
  throw new Error('expected a rejection');
}

beforeAll(async () => {
  server = await startPostgres();
  admin = await client('postgres');
});

afterAll(async () => {
  for (const s of opened) await s.close().catch(() => undefined);
  await admin?.end().catch(() => undefined);
  await server?.stop();
});

describe('PostgreSQL positions and partial changes (no server)', () => {
  const s = new PostgresSource({ dsn: parseDsn('postgres://u@h/db', 'source'), logger, poolSize: 1, syncId: 'Shop DB/1', maxBufferBytes: 1 });
  it('names the slot after the sync id and compares LSNs as 64-bit numbers', () => {
    expect(s.slot).toBe('tributary_shop_db_1');
    const at = (lsn: string) => `postgres:${s.slot}:${lsn}`;
    expect(s.comparePositions(at('0/FFFFFFFF'), at('1/0'))).toBeLessThan(0);
    expect(s.comparePositions(at('A/0'), at('9/FFFFFFFF'))).toBeGreaterThan(0);
    expect(s.comparePositions(at('0/16B3748'), at('0/16b3748'))).toBe(0);
    expect(s.describePosition(at('0/16b3748'))).toBe('LSN 0/16B3748 (slot tributary_shop_db_1)');
    expect(() => s.comparePositions('{"file":"x","pos":4}', at('0/1'))).toThrow(/not valid/);
  });
  it('coalesces a change with unchanged columns onto the image before it', () => {
    const ins: Change = { kind: 'upsert', table: 't', key: [1n], row: [1n, 0n, 'big'] };
    const upd: Change = { kind: 'upsert', table: 't', key: [1n], row: [1n, 5n, null], unchanged: [2] };
    expect(coalesce(ins, upd)).toEqual({ kind: 'upsert', table: 't', key: [1n], row: [1n, 5n, 'big'] });
    expect(coalesce(undefined, upd)).toBe(upd);
    expect(coalesce({ ...upd, row: [1n, 4n, null] }, upd)).toEqual(upd);
  });
});

describe('PostgreSQL source', () => {
  it('copies through the exported snapshot, then streams inserts, updates, deletes, truncate and key updates', async () => {
    const c = await database('snap', `
      CREATE TABLE t (id int PRIMARY KEY, v text);
      CREATE TABLE u (a int, b text, v int, PRIMARY KEY (a, b));
      INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 100) g;
      INSERT INTO u VALUES (1, 'x', 1), (2, 'y', 2);`);
    const s = await source('snap');
    await s.preflight();
    const t = await s.describe('t');
    const u = await s.describe('u');
    const p0 = await s.currentPosition();
    expect(s.describePosition(p0)).toMatch(/^LSN [0-9A-F]+\/[0-9A-F]+ \(slot tributary_snap\)$/);
    expect(s.snapshot).toBeDefined();
    expect((await s.identity()).id).toMatch(/^postgres system_identifier=\d+ slot=tributary_snap$/);

    // Changes after the slot's consistent point: invisible to the copy, delivered by the stream.
    await c.query("UPDATE t SET v = 'changed' WHERE id <= 10");
    await c.query('DELETE FROM t WHERE id > 90');
    await c.query("INSERT INTO t VALUES (1000, 'new')");
    const boundary = await s.chunkBoundary(t, null, 50);
    expect(boundary).toEqual([50n]);
    const first = await s.readChunk(t, { after: null, upTo: boundary });
    const rest = await s.readChunk(t, { after: boundary, upTo: null });
    expect(first).toHaveLength(50);
    expect(rest).toHaveLength(50);
    expect(first[0]).toEqual([1n, 'v1']);
    expect(rest.at(-1)).toEqual([100n, 'v100']);
    expect(await s.readChunk(u, { after: [1n, 'x'], upTo: null })).toEqual([[2n, 'y', 2n]]);

    await c.query('BEGIN');
    await c.query("UPDATE u SET a = 3 WHERE a = 1 AND b = 'x'");
    await c.query('TRUNCATE u');
    await c.query("INSERT INTO u VALUES (5, 'z', 5)");
    await c.query('COMMIT');

    await s.releaseSnapshot();
    expect(s.snapshot).toBeUndefined();
    // Plain reads now: the current data.
    expect((await allRows(s, t)).length).toBe(91);

    const evs = await collect(s, p0, [t, u], (e) => commits(e) >= 4);
    const ch = changes(evs);
    expect(ch.filter((x) => x.table === 't' && x.kind === 'upsert' && rowOf(x)[1] === 'changed')).toHaveLength(10);
    expect(ch.filter((x) => x.table === 't' && x.kind === 'delete').map((x) => x.key)).toEqual(Array.from({ length: 10 }, (_, i) => [BigInt(91 + i)]));
    expect(ch).toContainEqual({ kind: 'upsert', table: 't', key: [1000n], row: [1000n, 'new'] });
    // The key update: delete of the old key, upsert of the new; then the truncate; then the insert.
    const uEvents = evs.filter((e) => (e.type === 'change' && e.change.table === 'u') || e.type === 'truncate');
    expect(uEvents.map((e) => (e.type === 'change' ? `${e.change.kind}:${e.change.key.join(',')}` : `truncate:${e.type === 'truncate' ? e.table : ''}`))).toEqual([
      'delete:1,x',
      'upsert:3,x',
      'truncate:u',
      'upsert:5,z',
    ]);
    // Positions grow; commit positions are the commits' end LSNs.
    const positions = evs.flatMap((e) => (e.type === 'commit' ? [e.position] : []));
    for (let i = 1; i < positions.length; i++) expect(s.comparePositions(positions[i - 1] as string, positions[i] as string)).toBeLessThan(0);
    expect(s.comparePositions(p0, positions[0] as string)).toBeLessThan(0);
    await c.end();
  });

  it('never turns an unchanged TOAST value into NULL, under REPLICA IDENTITY DEFAULT and FULL', async () => {
    const c = await database('toast', `
      CREATE TABLE d (id int PRIMARY KEY, n int, big text);
      CREATE TABLE f (id int PRIMARY KEY, n int, big text);
      ALTER TABLE d ALTER COLUMN big SET STORAGE EXTERNAL;
      ALTER TABLE f ALTER COLUMN big SET STORAGE EXTERNAL;
      ALTER TABLE f REPLICA IDENTITY FULL;`);
    const s = await source('toast');
    const d = await s.describe('d');
    const f = await s.describe('f');
    const p0 = await s.currentPosition();
    await s.releaseSnapshot();
    const big = 'x'.repeat(10_000) + 'end';
    for (const t of ['d', 'f']) {
      await c.query(`INSERT INTO ${t} VALUES (1, 0, $1), (2, 0, $1)`, [big]);
      await c.query(`UPDATE ${t} SET n = 1 WHERE id = 1`);
      await c.query(`UPDATE ${t} SET id = 20, n = 2 WHERE id = 2`);
    }
    const evs = await collect(s, p0, [d, f], (e) => commits(e) >= 6);
    const ch = changes(evs);
    for (const x of ch) {
      if (x.kind !== 'upsert') continue;
      // The big column is either delivered exactly or declared unchanged: never a bare NULL.
      if (rowOf(x)[2] === null) expect(x.unchanged).toContain(2);
      else expect(rowOf(x)[2]).toBe(big);
    }
    const upd = (t: string, id: bigint) => ch.find((x) => x.table === t && x.kind === 'upsert' && x.key[0] === id && rowOf(x)[1] !== 0n);
    // DEFAULT: pgoutput sends no value; the change says so.
    expect(upd('d', 1n)).toEqual({ kind: 'upsert', table: 'd', key: [1n], row: [1n, 1n, null], unchanged: [2] });
    // FULL: the old row is sent whole, and the value comes from it.
    expect(upd('f', 1n)).toEqual({ kind: 'upsert', table: 'f', key: [1n], row: [1n, 1n, big] });
    // A key update leaves no target row to keep the value in: the source reads it (DEFAULT) or
    // has it (FULL), and the old key is deleted.
    for (const t of ['d', 'f']) {
      expect(ch).toContainEqual({ kind: 'delete', table: t, key: [2n] });
      expect(upd(t, 20n)).toEqual({ kind: 'upsert', table: t, key: [20n], row: [20n, 2n, big] });
    }
    await c.end();
  });

  it('reports ALTER TABLE ADD COLUMN as a typed change between transactions, and decodes the rows after it with the new column', async () => {
    const c = await database('alter', 'CREATE TABLE t (id int PRIMARY KEY, v text)');
    const s = await source('alter');
    const t = await s.describe('t');
    const p0 = await s.currentPosition();
    await s.releaseSnapshot();
    await c.query("INSERT INTO t VALUES (1, 'a')");
    await c.query('ALTER TABLE t ADD COLUMN extra numeric(10,2) DEFAULT 1.5');
    await c.query("INSERT INTO t VALUES (2, 'b', 2.25)");
    // The source installed the DDL event trigger (a superuser): the change comes with the ALTER's own transaction.
    const evs = await collect(s, p0, [t], (e) => e.some((x) => x.type === 'ddl') && changes(e).length >= 2);
    const at = evs.findIndex((e) => e.type === 'ddl');
    const ddl = evs[at];
    expect(ddl?.type === 'ddl' && ddl.statement).toMatch(/column "extra" .*added/);
    expect(ddl?.type === 'ddl' && ddl.tables).toEqual(['t']);
    // Typed: the column as describe() describes it, the default from the catalogue; between transactions.
    expect(ddl?.type === 'ddl' && ddl.operations).toEqual([
      { op: 'add-column', table: 't', column: expect.objectContaining({ name: 'extra', dataType: 'numeric', columnType: 'numeric(10,2)', nullable: true, precision: 10, scale: 2 }), default: { kind: 'literal', value: '1.5' }, sourceText: 'ADD COLUMN "extra" numeric(10,2) DEFAULT 1.5' },
    ]);
    expect(ddl?.type === 'ddl' && ddl.after?.get('t')?.columns.map((x) => x.name)).toEqual(['id', 'v', 'extra']);
    expect(evs[at - 1]?.type).toBe('commit');
    expect(evs[at + 1]?.type).toBe('begin');
    expect(changes(evs.slice(0, at))).toEqual([{ kind: 'upsert', table: 't', key: [1n], row: [1n, 'a'] }]);
    expect(changes(evs.slice(at))).toEqual([{ kind: 'upsert', table: 't', key: [2n], row: [2n, 'b', '2.25'] }]);
    // The 'ddl' event is positioned before the transaction of the first row with the new
    // definition: a sync restarted there with the table described again decodes it in full.
    const t2 = await s.describe('t');
    expect(t2.columns.map((x) => x.name)).toEqual(['id', 'v', 'extra']);
    const again = await collect(s, (ddl as { position: string }).position, [t2], (e) => changes(e).length >= 1);
    expect(again.some((e) => e.type === 'ddl')).toBe(false);
    expect(changes(again)).toEqual([{ kind: 'upsert', table: 't', key: [2n], row: [2n, 'b', '2.25'] }]);
    await c.end();
  });

  it('trusts a catalogue description only when nothing was written while it was read: a table dropped and created again meanwhile stops the stream as a replaced relation, not as dropped columns', async () => {
    const c = await database('recreated', 'CREATE TABLE t (id int PRIMARY KEY, v text)');
    const s = await source('recreated', { ddlTrigger: 'off', statusIntervalMs: 300 });
    const t = await s.describe('t');
    const p0 = await s.currentPosition();
    await s.releaseSnapshot();
    await c.query("INSERT INTO t VALUES (1, 'a')");
    // The race made certain: the first description (at the first caught-up point) reads the
    // relation's OID, then the table is dropped and created again before its columns are read,
    // so the old relation shows no columns. Later descriptions read the catalogue as it is: the
    // new relation (another OID, a column renamed) is not the followed table with its columns changed.
    const own = s as unknown as { describeNow(table: string): Promise<{ oid: number }> };
    const real = own.describeNow.bind(s);
    let described = 0;
    Object.assign(s, {
      describeNow: async (name: string) => {
        if (described++ > 0) return real(name);
        const d = await real(name);
        await c.query('DROP TABLE t; CREATE TABLE t (id int PRIMARY KEY, w text)');
        return { ...d, relation: [], columns: [] };
      },
    });
    const err = await rejection(collect(s, p0, [t], (e) => e.some((x) => x.type === 'ddl'), 30_000));
    expect(described).toBeGreaterThanOrEqual(1);
    expect(err.code).toBe(ErrorCode.DDL_UNSUPPORTED);
    expect(err.message).toMatch(/table t .*was dropped.*a different relation \(OID \d+\) now has its name/);
    await c.end();
  });

  it('gives identical canonical values through readChunk and the stream', async () => {
    const cols = `id int PRIMARY KEY, n40 numeric, nnan numeric, n2 numeric(10,2), i2 int2, i8min int8, i8max int8,
      f4 float4, f8 float8, f8nan float8, f8inf float8, tstz timestamptz, tsinf timestamp, tstzninf timestamptz,
      ts timestamp(3), d date, tm time, ttz timetz, iv interval, b bool, bf bool, ba bytea, ia int[], ta text[],
      j json, jb jsonb, u uuid, bits bit(5), vb varbit, c char(4), vc varchar(10), nul text, emp text, bom text`;
    const values = `(?, 1234567890123456789012345678901234567890.0123456789, 'NaN', -1.50, -32768, -9223372036854775808, 9223372036854775807,
      3.1415927, 0.1, 'NaN', '-Infinity', '2024-01-01 10:00:00.123456+05:30', 'infinity', '-infinity',
      '2024-02-29 23:59:59.5', '0001-01-01', '24:00:00', '12:00:00+05:30', '1 year 2 mons -3 days 04:05:06.789', true, false,
      '\\x00ff0001'::bytea, '{1,2,NULL}', '{"a b",NULL,"c\\"d"}', '{"b": 1.0, "a": [1,2]}', '{"b": 1.0, "a": [1, 2]}',
      'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', B'10101', B'1', 'ab', 'café😀', NULL, '', E'\\uFEFFbom')`;
    const c = await database('vals', `CREATE TABLE t (${cols}); INSERT INTO t VALUES ${values.replace('?', '1')}`);
    const s = await source('vals');
    const t = await s.describe('t');
    const byName = (n: string) => t.columns.find((x) => x.name === n);
    expect(byName('n2')).toMatchObject({ dataType: 'numeric', columnType: 'numeric(10,2)', precision: 10, scale: 2 });
    expect(byName('ia')).toMatchObject({ dataType: '_int4', columnType: 'integer[]' });
    expect(byName('ba')).toMatchObject({ dataType: 'bytea', charset: 'binary' });
    expect(byName('tstz')).toMatchObject({ dataType: 'timestamptz', scale: 6 });
    expect(byName('ts')).toMatchObject({ dataType: 'timestamp', scale: 3 });
    expect(byName('bits')).toMatchObject({ dataType: 'bit', precision: 5 });
    const p0 = await s.currentPosition();
    await c.query(`INSERT INTO t VALUES ${values.replace('?', '2')}`);
    const copied = await allRows(s, t);
    expect(copied).toHaveLength(1);
    await s.releaseSnapshot();
    const evs = await collect(s, p0, [t], (e) => commits(e) >= 1);
    const streamed = changes(evs)[0];
    expect(streamed?.kind).toBe('upsert');
    const a = (copied[0] as Value[]).slice(1);
    const b = rowOf(streamed as Change & { kind: 'upsert' }).slice(1);
    expect(b).toEqual(a);
    const v = Object.fromEntries(t.columns.map((col, i) => [col.name, copied[0]?.[i]]));
    expect(v).toMatchObject({
      n40: '1234567890123456789012345678901234567890.0123456789',
      nnan: 'NaN',
      n2: '-1.50',
      i2: -32768n,
      i8min: -9223372036854775808n,
      i8max: 9223372036854775807n,
      f4: 3.1415927410125732,
      f8: 0.1,
      f8inf: -Infinity,
      tstz: '2024-01-01 04:30:00.123456+00',
      tsinf: 'infinity',
      tstzninf: '-infinity',
      ts: '2024-02-29 23:59:59.5',
      d: '0001-01-01',
      tm: '24:00:00',
      ttz: '12:00:00+05:30',
      iv: '1 year 2 mons -3 days +04:05:06.789',
      b: true,
      bf: false,
      ia: '{1,2,NULL}',
      ta: '{"a b",NULL,"c\\"d"}',
      j: '{"b": 1.0, "a": [1,2]}',
      jb: '{"a": [1, 2], "b": 1.0}',
      u: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
      bits: '10101',
      vb: '1',
      c: 'ab  ',
      vc: 'café😀',
      nul: null,
      emp: '',
      // A leading U+FEFF is part of the value (a UTF-8 decoder's BOM handling must not drop it).
      bom: '\uFEFFbom',
    });
    expect(Number.isNaN(v.f8nan)).toBe(true);
    expect(Buffer.isBuffer(v.ba) && (v.ba as Buffer).equals(Buffer.from([0, 255, 0, 1]))).toBe(true);
    await c.end();
  });

  it('refuses a server without wal_level=logical, a role without REPLICATION, and a table without a key unless REPLICA IDENTITY FULL', async () => {
    const replica = await startPostgres({ args: ['-c', 'wal_level=replica'] });
    try {
      const s = await source('postgres', { syncId: 'walrep' }, replica.url('postgres'));
      const c = new pg.Client({ connectionString: replica.url('postgres') });
      await c.connect();
      await c.query('CREATE TABLE k (id int PRIMARY KEY)');
      await c.end();
      const err = await rejection(s.preflight());
      expect(err.code).toBe(ErrorCode.SOURCE_SETTING);
      expect(err.message).toMatch(/wal_level is replica; fix: ALTER SYSTEM SET wal_level = logical/);
      await s.close();
    } finally {
      await replica.stop();
    }

    const c = await database('pre', `
      CREATE TABLE ok (id int PRIMARY KEY);
      CREATE TABLE nokey (a int, b text);
      CREATE ROLE norepl LOGIN;
      GRANT SELECT ON ALL TABLES IN SCHEMA public TO norepl;`);
    const weak = await source('pre', { syncId: 'weak', tables: ['ok'] }, server.url('pre').replace('postgres@', 'norepl@'));
    const e1 = await rejection(weak.preflight());
    expect(e1.code).toBe(ErrorCode.PRIVILEGE_MISSING);
    expect(e1.message).toMatch(/role norepl REPLICATION attribute is NOREPLICATION; fix: ALTER ROLE "norepl" WITH REPLICATION/);

    const s = await source('pre', { syncId: 'pre' });
    const e2 = await rejection(s.preflight());
    expect(e2.code).toBe(ErrorCode.TABLE_UNSUPPORTED);
    expect(e2.message).toMatch(/table nokey replica identity is DEFAULT, and the table has no primary key nor unique NOT NULL key; fix: ALTER TABLE "nokey" REPLICA IDENTITY FULL/);
    expect(e2.message).not.toMatch(/table ok/);
    await c.end();
  });

  it('refuses a dropped slot with POSITION_LOST, at checkPosition and at stream start', async () => {
    const c = await database('dropped', 'CREATE TABLE t (id int PRIMARY KEY)');
    const s = await source('dropped');
    const t = await s.describe('t');
    const p0 = await s.currentPosition();
    await s.releaseSnapshot();
    await s.checkPosition(p0);
    await c.query('SELECT pg_drop_replication_slot($1)', [s.slot]);
    const e1 = await rejection(s.checkPosition(p0));
    expect(e1.code).toBe(ErrorCode.POSITION_LOST);
    expect(e1.fatal).toBe(true);
    expect(e1.message).toMatch(/replication slot tributary_dropped no longer exists/);
    expect(e1.message).toMatch(/max_slot_wal_keep_size/);
    const e2 = await rejection(collect(s, p0, [t], () => true, 5000));
    expect(e2.code).toBe(ErrorCode.POSITION_LOST);
    // Never re-created behind the checkpoint's back.
    const r = await c.query('SELECT count(*)::int AS n FROM pg_replication_slots WHERE slot_name = $1', [s.slot]);
    expect(r.rows[0].n).toBe(0);
    await c.end();
  });

  it('keeps an idle slot from holding WAL while unpublished tables are written, as acknowledgements follow', async () => {
    const c = await database('idle', `
      CREATE TABLE synced (id int PRIMARY KEY, v text);
      CREATE TABLE noise (id bigserial PRIMARY KEY, pad text);`);
    const s = await source('idle', { tables: ['synced'], statusIntervalMs: 300 });
    await s.preflight();
    const t = await s.describe('synced');
    const p0 = await s.currentPosition();
    await s.releaseSnapshot();
    const pub = await c.query("SELECT tablename FROM pg_publication_tables WHERE pubname = 'tributary_idle'");
    expect(pub.rows.map((r: { tablename: string }) => r.tablename)).toEqual(['synced']);

    const retained = async () => {
      const r = await c.query<{ retained: string; unflushed: string }>(
        `SELECT (pg_current_wal_lsn() - restart_lsn)::bigint AS retained, (pg_current_wal_lsn() - confirmed_flush_lsn)::bigint AS unflushed
           FROM pg_replication_slots WHERE slot_name = $1`,
        [s.slot],
      );
      return { retained: Number(r.rows[0]?.retained), unflushed: Number(r.rows[0]?.unflushed) };
    };
    // The consumer acknowledges every position it is given, as the applier does after each commit.
    let heartbeats = 0;
    const stop = new AbortController();
    const consuming = collect(s, p0, [t], () => false, 60_000, (ev) => {
      if (ev.type === 'heartbeat') heartbeats++;
      if (ev.type === 'heartbeat' || ev.type === 'commit') void s.acknowledge(ev.position);
    }, stop.signal);
    // ~45 MB of WAL for a table outside the publication.
    for (let i = 0; i < 40; i++) await c.query("INSERT INTO noise (pad) SELECT repeat('p', 1000) FROM generate_series(1, 1000)");
    const written = await retained();
    // restart_lsn moves at the next running-transactions record: the server logs one every 15 s
    // when WAL was written, and at a checkpoint (issued here so the test does not wait for it).
    await c.query('CHECKPOINT');
    const deadline = Date.now() + 20_000;
    let now = await retained();
    while (now.retained >= 1024 * 1024 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      now = await retained();
    }
    stop.abort();
    await consuming;
    console.log(
      `idle slot: ${heartbeats} heartbeats; after ${written.retained} bytes of unpublished WAL: confirmed_flush_lsn ${written.unflushed} bytes behind; after CHECKPOINT restart_lsn ${now.retained} bytes behind`,
    );
    expect(heartbeats).toBeGreaterThan(0);
    expect(written.retained).toBeGreaterThan(30 * 1024 * 1024);
    expect(now.retained).toBeLessThan(1024 * 1024);
    await c.end();
  });
});
