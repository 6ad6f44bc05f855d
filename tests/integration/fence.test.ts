/**
 * Coordinator mode's fence (core/target-writer.ts Fence) in every target, against real MariaDB,
 * PostgreSQL and etcd servers: a leadership's takeover (lock() with a fence) refuses an older
 * epoch and leaves an older leadership unable to commit anything (chunks, stream batches,
 * checkpoints, schema changes), a transaction past its compare is waited for by the takeover, a
 * self-fenced leadership commits nothing, a fresh target is not written by lock(), and the same
 * epoch may take the sync again. Every claim is read back from the server.
 */
import { Etcd3 } from 'etcd3';
import type { Connection, RowDataPacket } from 'mysql2/promise';
import pg from 'pg';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHECKPOINT_VERSION } from '../../src/checkpoint/checkpoint.js';
import { parseDsn } from '../../src/config/dsn.js';
import { ErrorCode, TributaryError } from '../../src/core/errors.js';
import type { Column, TableSchema } from '../../src/core/schema.js';
import type { SchemaChange } from '../../src/core/schema-change.js';
import type { ChunkCommit, Fence, StreamCheckpoint, Target, TableCheckpoint } from '../../src/core/target.js';
import type { Row } from '../../src/core/values.js';
import { EtcdTarget } from '../../src/engines/etcd/index.js';
import { MysqlTarget } from '../../src/engines/mysql/index.js';
import { PostgresTarget } from '../../src/engines/postgres/index.js';
import { valueConventions } from '../../src/engines/registry.js';
import { startEtcd, startMariaDb, startPostgres, type Server } from '../../src/testing/servers.js';
import { connect } from '../helpers/mysql.js';

const logger = pino({ level: 'silent' });
const SYNC = 'fenced';

const ID: Column = { name: 'id', dataType: 'int', columnType: 'int(11)', nullable: false, unsigned: false, logical: { kind: 'integer', bytes: 4, signed: true } };
const V: Column = { name: 'v', dataType: 'varchar', columnType: 'varchar(20)', nullable: true, unsigned: false, logical: { kind: 'text', length: 20, fixed: false } };
const W: Column = { name: 'w', dataType: 'int', columnType: 'int(11)', nullable: true, unsigned: false, logical: { kind: 'integer', bytes: 4, signed: true } };
const T: TableSchema = {
  name: 't',
  engine: 'mysql',
  generated: [],
  primaryKey: [0],
  columns: [ID, V],
  createStatement: 'CREATE TABLE `t` (`id` int(11) NOT NULL, `v` varchar(20) DEFAULT NULL, PRIMARY KEY (`id`)) ENGINE=InnoDB',
};
const T2: TableSchema = { ...T, columns: [ID, V, W], createStatement: undefined };
const ADD_W: SchemaChange = {
  statement: 'ALTER TABLE t ADD COLUMN w INT',
  sourceEngine: 'mysql',
  operations: [{ op: 'add-column', table: 't', column: W, sourceText: 'ADD COLUMN w INT' }],
  before: new Map([['t', T]]),
  after: new Map([['t', T2]]),
};

/** A parent and a child with a foreign key (created by createForeignKeys, after the copy). */
const P: TableSchema = { ...T, name: 'p', createStatement: 'CREATE TABLE `p` (`id` int(11) NOT NULL, `v` varchar(20) DEFAULT NULL, PRIMARY KEY (`id`)) ENGINE=InnoDB' };
const C: TableSchema = {
  ...T,
  name: 'c',
  createStatement: 'CREATE TABLE `c` (`id` int(11) NOT NULL, `v` varchar(20) DEFAULT NULL, PRIMARY KEY (`id`)) ENGINE=InnoDB',
  foreignKeys: [{ name: 'c_p', columns: ['id'], referencedTable: 'p', referencedColumns: ['id'], onUpdate: 'NO ACTION', onDelete: 'NO ACTION' }],
};

const cp = (position: string): StreamCheckpoint => ({ version: CHECKPOINT_VERSION, position, sourceId: 'src', phase: 'stream' });

/** A leadership's fence; `lose()` makes its check() throw as a lease expired unseen would. */
function fence(epoch: string): Fence & { lose(): void } {
  let lost = false;
  return {
    epoch,
    check() {
      if (lost) throw new TributaryError(ErrorCode.LOCK_LOST, `leadership of epoch ${epoch} may have ended (test)`, { fatal: false });
    },
    lose() {
      lost = true;
    },
  };
}

function chunkCommit(done: number): ChunkCommit {
  const table: TableCheckpoint = { watermark: null, done: false, rowsCopied: done };
  return { checkpoint: () => Promise.resolve(table), committed: () => undefined, failed: () => undefined };
}

const row = (id: number): Row => [BigInt(id), `v${id}`];

async function writeChunk(t: Target, ids: number[]): Promise<void> {
  await t.writeChunk(T, ids.map(row), chunkCommit(ids.length));
}

async function writeBatch(t: Target, ids: number[], position: string | null): Promise<void> {
  const tx = await t.begin();
  await tx.write(new Map([['t', T]]), ids.map((id) => ({ kind: 'upsert' as const, table: 't', key: [BigInt(id)], row: row(id) })));
  await tx.commit(position === null ? null : cp(position));
}

/** What `p` rejects with, or undefined when it resolves. */
function rejection(p: Promise<unknown>): Promise<TributaryError | undefined> {
  return p.then(
    () => undefined,
    (e: unknown) => e as TributaryError,
  );
}

async function fenced(p: Promise<unknown>): Promise<TributaryError> {
  const err = await rejection(p);
  expect(err, 'expected TRIB_FENCED').toBeInstanceOf(TributaryError);
  expect((err as TributaryError).code, (err as Error).message).toBe(ErrorCode.FENCED);
  expect((err as TributaryError).fatal).toBe(false);
  return err as TributaryError;
}

/** One target engine: how to make a target on a fresh place, and how to read that place back. */
interface Side {
  readonly name: string;
  /** A fresh database (or prefix) for one test. */
  place(name: string): Promise<void>;
  /** A target of the sync on `place`; SQL targets end a session holding up a takeover after `breakAfterMs` (long by default: the breaker has a test of its own). */
  target(place: string, breakAfterMs?: number): Target;
  ids(place: string): Promise<number[]>;
  /** The fence record's epoch, or undefined when there is none. */
  epoch(place: string): Promise<string | undefined>;
  /** Whether anything of the sync's checkpoint store exists (the table; any key). */
  hasStore(place: string): Promise<boolean>;
  /** Pauses the next stream batch of `t` right before its COMMIT (after its compare); SQL only. */
  pauseCommit?(t: Target): { reached: Promise<void>; release(): void };
  /** Transactions waiting for a row lock now; SQL only. */
  lockWaits?(place: string): Promise<number>;
  columns?(place: string): Promise<string[]>;
  /** Whether the database exists; SQL only (an etcd prefix needs no creating). */
  databaseExists?(place: string): Promise<boolean>;
  /** Names of the foreign keys of the place's tables; SQL only. */
  foreignKeys?(place: string): Promise<string[]>;
}

let maria: Server;
let postgres: Server;
let etcd: Server;
let my: Connection;
let etcdClient: Etcd3;
const pgClients = new Map<string, pg.Client>();

beforeAll(async () => {
  [maria, postgres, etcd] = await Promise.all([startMariaDb(), startPostgres(), startEtcd()]);
  my = await connect(maria.url());
  etcdClient = new Etcd3({ hosts: `http://127.0.0.1:${etcd.port}` });
}, 120_000);

afterAll(async () => {
  for (const c of pgClients.values()) await c.end().catch(() => undefined);
  await my?.end().catch(() => undefined);
  etcdClient?.close();
  await Promise.all([maria?.stop(), postgres?.stop(), etcd?.stop()]);
});

/**
 * Waits for a state of the server (not a duration): polls `pred` until true, failing after 20 s.
 * Every 150 ms: InnoDB refreshes information_schema.INNODB_TRX only when it was not read for 100 ms.
 */
async function until(what: string, pred: () => Promise<boolean>): Promise<void> {
  const end = Date.now() + 20_000;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

function gate(): { reached: Promise<void>; arrive(): void; wait: Promise<void>; release(): void } {
  let arrive!: () => void;
  let release!: () => void;
  const reached = new Promise<void>((r) => (arrive = r));
  const wait = new Promise<void>((r) => (release = r));
  return { reached, arrive, wait, release };
}

const mysqlSide: Side = {
  name: 'MariaDB',
  async place(db) {
    await my.query(`CREATE DATABASE \`${db}\``);
  },
  target: (db, breakAfterMs = 600_000) => new MysqlTarget({ dsn: parseDsn(maria.url(db), 'target'), syncId: SYNC, logger, poolSize: 2, fenceBreakAfterMs: breakAfterMs }),
  async ids(db) {
    const [rows] = await my.query<RowDataPacket[]>(`SELECT id FROM \`${db}\`.t ORDER BY id`);
    return rows.map((r) => Number(r.id));
  },
  async epoch(db) {
    const [rows] = await my.query<RowDataPacket[]>(`SELECT body FROM \`${db}\`._tributary_checkpoint WHERE sync_id = ? AND name = '~epoch'`, [SYNC]);
    return rows[0] ? String(rows[0].body) : undefined;
  },
  async hasStore(db) {
    const [rows] = await my.query<RowDataPacket[]>("SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = '_tributary_checkpoint'", [db]);
    return Number(rows[0]?.n) > 0;
  },
  pauseCommit(t) {
    const g = gate();
    const pool = (t as unknown as { pool: { getConnection(): Promise<{ commit(): Promise<void> }> } }).pool;
    const get = pool.getConnection.bind(pool);
    let armed = true;
    pool.getConnection = async () => {
      const conn = await get();
      const commit = conn.commit.bind(conn);
      conn.commit = async () => {
        if (armed) {
          armed = false;
          g.arrive();
          await g.wait;
        }
        await commit();
      };
      return conn;
    };
    return { reached: g.reached, release: g.release };
  },
  async lockWaits() {
    const [rows] = await my.query<RowDataPacket[]>("SELECT COUNT(*) AS n FROM information_schema.INNODB_TRX WHERE trx_state = 'LOCK WAIT'");
    return Number(rows[0]?.n);
  },
  async columns(db) {
    const [rows] = await my.query<RowDataPacket[]>("SELECT COLUMN_NAME AS c FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 't' ORDER BY ORDINAL_POSITION", [db]);
    return rows.map((r) => String(r.c));
  },
  async databaseExists(db) {
    const [rows] = await my.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [db]);
    return Number(rows[0]?.n) > 0;
  },
  async foreignKeys(db) {
    const [rows] = await my.query<RowDataPacket[]>('SELECT CONSTRAINT_NAME AS n FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = ?', [db]);
    return rows.map((r) => String(r.n));
  },
};

async function pgIn(db: string): Promise<pg.Client> {
  let c = pgClients.get(db);
  if (!c) {
    c = new pg.Client({ connectionString: postgres.url(db) });
    await c.connect();
    pgClients.set(db, c);
  }
  return c;
}

const postgresSide: Side = {
  name: 'PostgreSQL',
  async place(db) {
    await (await pgIn('postgres')).query(`CREATE DATABASE "${db}"`);
  },
  target: (db, breakAfterMs = 600_000) => new PostgresTarget({ dsn: parseDsn(postgres.url(db), 'target'), syncId: SYNC, logger, poolSize: 2, fenceBreakAfterMs: breakAfterMs }),
  async ids(db) {
    const r = await (await pgIn(db)).query<{ id: number }>('SELECT id FROM t ORDER BY id');
    return r.rows.map((x) => Number(x.id));
  },
  async epoch(db) {
    const r = await (await pgIn(db)).query<{ body: string }>("SELECT body FROM _tributary_checkpoint WHERE sync_id = $1 AND name = '~epoch'", [SYNC]);
    return r.rows[0]?.body;
  },
  async hasStore(db) {
    const r = await (await pgIn(db)).query<{ t: string | null }>("SELECT to_regclass('public._tributary_checkpoint')::text AS t");
    return r.rows[0]?.t != null;
  },
  pauseCommit(t) {
    const g = gate();
    const pool = (t as unknown as { pool: { connect(): Promise<{ query: (...a: unknown[]) => Promise<unknown> }> } }).pool;
    const get = pool.connect.bind(pool);
    let armed = true;
    pool.connect = async () => {
      const client = await get();
      const query = client.query.bind(client);
      client.query = async (...args: unknown[]) => {
        if (armed && args[0] === 'COMMIT') {
          armed = false;
          g.arrive();
          await g.wait;
        }
        return query(...args);
      };
      return client;
    };
    return { reached: g.reached, release: g.release };
  },
  async lockWaits(db) {
    const r = await (await pgIn(db)).query<{ n: string }>("SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()");
    return Number(r.rows[0]?.n);
  },
  async columns(db) {
    const r = await (await pgIn(db)).query<{ c: string }>("SELECT column_name AS c FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 't' ORDER BY ordinal_position");
    return r.rows.map((x) => x.c);
  },
  async databaseExists(db) {
    const r = await (await pgIn('postgres')).query<{ n: string }>('SELECT count(*) AS n FROM pg_database WHERE datname = $1', [db]);
    return Number(r.rows[0]?.n) > 0;
  },
  async foreignKeys(db) {
    const r = await (await pgIn(db)).query<{ n: string }>("SELECT conname AS n FROM pg_constraint WHERE contype = 'f'");
    return r.rows.map((x) => x.n);
  },
};

const etcdSide: Side = {
  name: 'etcd',
  async place(prefix) {
    await etcdClient.delete().prefix(`/${prefix}/`);
  },
  target: (prefix) => new EtcdTarget({ dsn: parseDsn(etcd.url(prefix), 'target'), syncId: SYNC, logger, layout: 'tributary', maxTxnOps: 16, conventions: valueConventions }),
  async ids(prefix) {
    const keys = await etcdClient.getAll().prefix(`/${prefix}/t/`).keys();
    return keys.map((k) => Number(k.slice(`/${prefix}/t/`.length))).sort((a, b) => a - b);
  },
  async epoch(prefix) {
    const v = await etcdClient.get(`/${prefix}/%tributary/${SYNC}/epoch`).string();
    return v === null ? undefined : BigInt(v).toString();
  },
  async hasStore(prefix) {
    return (await etcdClient.getAll().prefix(`/${prefix}/`).count()) > 0;
  },
};

const opened: Target[] = [];
async function open(side: Side, place: string, epoch: string | Fence & { lose(): void }): Promise<Target> {
  const t = side.target(place);
  opened.push(t);
  await t.connect();
  await t.lock(undefined, typeof epoch === 'string' ? fence(epoch) : epoch);
  return t;
}

afterAll(async () => {
  for (const t of opened) await t.close().catch(() => undefined);
});

describe.each([mysqlSide, postgresSide, etcdSide])('the fence on a $name target', (side) => {
  const key = side.name.toLowerCase().replace(/[^a-z]/g, '');

  it('a newer epoch takes over: the older one commits nothing more, the newer writes, an older one is refused, the same one may take it again', async () => {
    const place = `fence_takeover_${key}`;
    await side.place(place);
    const a = await open(side, place, '5');
    await a.ensureSchema([T], { recreate: false });
    expect(await side.epoch(place)).toBe('5');
    await writeChunk(a, [1, 2]);
    await writeBatch(a, [3], 'a1');
    expect(await side.ids(place)).toEqual([1, 2, 3]);

    const b = await open(side, place, '9');
    expect(await side.epoch(place)).toBe('9');
    await fenced(writeChunk(a, [10]));
    const err = await fenced(writeBatch(a, [11], 'a2'));
    expect(err.message).toContain(SYNC);
    expect(err.message).toContain('epoch 9');
    expect(err.message).toContain('epoch 5');
    await fenced(writeBatch(a, [12], null));
    await fenced(a.saveStreamCheckpoint(cp('a3')));
    await fenced(a.saveSchemas([T]));
    await fenced(a.clearCheckpoint());
    expect(await side.ids(place)).toEqual([1, 2, 3]);
    expect((await b.loadCheckpoint()).stream?.position).toBe('a1');

    // The newer leadership writes.
    await b.ensureSchema([T], { recreate: false, resumed: true });
    await writeChunk(b, [20]);
    await writeBatch(b, [21], 'b1');
    expect(await side.ids(place)).toEqual([1, 2, 3, 20, 21]);
    expect((await b.loadCheckpoint()).stream?.position).toBe('b1');

    // An older epoch is refused at its takeover, naming both epochs; nothing changes.
    const c = side.target(place);
    opened.push(c);
    await c.connect();
    const refused = await fenced(c.lock(undefined, fence('7')));
    expect(refused.message).toContain('epoch 9');
    expect(refused.message).toContain('epoch 7');
    expect(refused.message).toContain('stands by');
    expect(await side.epoch(place)).toBe('9');

    // A cleared checkpoint keeps the record: still no way in for an older epoch.
    await b.clearCheckpoint();
    expect((await b.loadCheckpoint()).stream).toBeNull();
    expect(await side.epoch(place)).toBe('9');
    await fenced(open(side, place, '8'));

    // The same epoch again (a reconnect of the same leadership) is allowed, and writes.
    const b2 = await open(side, place, '9');
    await b2.ensureSchema([T], { recreate: false, resumed: true });
    await writeBatch(b2, [22], 'b2');
    expect(await side.ids(place)).toEqual([1, 2, 3, 20, 21, 22]);
    expect((await b2.loadCheckpoint()).stream?.position).toBe('b2');
    expect(await side.epoch(place)).toBe('9');
  });

  it('a batch in flight that has not compared yet cannot commit after a takeover', async () => {
    const place = `fence_flight_${key}`;
    await side.place(place);
    const a = await open(side, place, '10');
    await a.ensureSchema([T], { recreate: false });
    await writeBatch(a, [1], 'a1');
    const tx = await a.begin();
    await tx.write(new Map([['t', T]]), [30, 31].map((id) => ({ kind: 'upsert' as const, table: 't', key: [BigInt(id)], row: row(id) })));
    await open(side, place, '11');
    expect(await side.epoch(place)).toBe('11');
    await fenced(tx.commit(cp('a2')));
    expect(await side.ids(place)).toEqual([1]);
    const reader = side.target(place);
    opened.push(reader);
    await reader.connect();
    expect((await reader.loadCheckpoint()).stream?.position).toBe('a1');
  });

  if (side.pauseCommit && side.lockWaits) {
    it('a takeover waits for a batch past its compare: the batch commits first, the next one is refused', async () => {
      const place = `fence_wait_${key}`;
      await side.place(place);
      const a = await open(side, place, '20');
      await a.ensureSchema([T], { recreate: false });
      const paused = side.pauseCommit!(a);
      const batch = writeBatch(a, [40], 'a1');
      await paused.reached;
      // A's transaction compared the record (and holds it in share mode): B's takeover must wait.
      let tookOver = false;
      const b = open(side, place, '21').then((t) => {
        tookOver = true;
        return t;
      });
      await until('the takeover to wait for the batch', async () => (await side.lockWaits!(place)) > 0);
      expect(tookOver).toBe(false);
      expect(await side.epoch(place)).toBe('20');
      paused.release();
      await batch;
      const bt = await b;
      // A committed before B read the record: its row and checkpoint are there, and B's epoch is.
      expect(await side.ids(place)).toEqual([40]);
      expect((await bt.loadCheckpoint()).stream?.position).toBe('a1');
      expect(await side.epoch(place)).toBe('21');
      await fenced(writeBatch(a, [41], 'a2'));
      expect(await side.ids(place)).toEqual([40]);
    });
  }

  if (side.pauseCommit) {
    it('a takeover ends the session of a batch paused past its compare once breakAfterMs passed: the batch rolls back, the takeover completes', async () => {
      const place = `fence_break_${key}`;
      await side.place(place);
      const a = await open(side, place, '30');
      await a.ensureSchema([T], { recreate: false });
      await writeBatch(a, [60], 'a0');
      const paused = side.pauseCommit!(a);
      const batch = writeBatch(a, [61], 'a1').then(
        () => 'committed',
        (err: unknown) => (err as Error).message,
      );
      await paused.reached;
      // A is stopped past its compare, holding the record in share mode, and never goes on by itself.
      const b = side.target(place, 300);
      opened.push(b);
      await b.connect();
      await b.lock(undefined, fence('31'));
      expect(await side.epoch(place)).toBe('31');
      paused.release();
      expect(await batch).not.toBe('committed');
      // A's paused batch rolled back: its row and its checkpoint are not there.
      expect(await side.ids(place)).toEqual([60]);
      expect((await b.loadCheckpoint()).stream?.position).toBe('a0');
      await b.ensureSchema([T], { recreate: false, resumed: true });
      await writeBatch(b, [62], 'b1');
      expect(await side.ids(place)).toEqual([60, 62]);
    });
  }

  it('an instance without --coordinator is refused on a sync standby instances run, naming the record and how to delete it', async () => {
    const place = `fence_plain_${key}`;
    await side.place(place);
    const a = await open(side, place, '40');
    await a.ensureSchema([T], { recreate: false });
    await writeBatch(a, [70], 'a1');
    const plain = side.target(place);
    opened.push(plain);
    await plain.connect();
    const err = await rejection(plain.lock());
    expect(err?.code).toBe(ErrorCode.ALREADY_RUNNING);
    expect(err?.message).toContain('is run by standby instances (--coordinator; its fence record holds epoch 40)');
    expect(err?.message).toMatch(/DELETE FROM .*~epoch|etcdctl del '.*epoch'/);
    // The refused instance wrote nothing, and the leader goes on.
    await writeBatch(a, [71], 'a2');
    expect(await side.ids(place)).toEqual([70, 71]);
  });

  it('a takeover is refused, retryably, while an instance without --coordinator holds the sync; it succeeds once that one stopped', async () => {
    const place = `fence_held_${key}`;
    await side.place(place);
    const plain = side.target(place);
    opened.push(plain);
    await plain.connect();
    await plain.lock();
    await plain.ensureSchema([T], { recreate: false });
    await writeBatch(plain, [80], 'p1');
    const err = await rejection(open(side, place, '50'));
    expect(err?.code).toBe(ErrorCode.ALREADY_RUNNING);
    expect(err?.fatal).toBe(false);
    expect(err?.message).toContain('is held by an instance without --coordinator');
    expect(await side.epoch(place)).toBeUndefined();
    await plain.close();
    const leader = await open(side, place, '50');
    expect(await side.epoch(place)).toBe('50');
    await leader.ensureSchema([T], { recreate: false, resumed: true });
    await writeBatch(leader, [81], 'l1');
    expect(await side.ids(place)).toEqual([80, 81]);
  });

  it('a leadership that fenced itself (Fence.check throws) commits nothing', async () => {
    const place = `fence_self_${key}`;
    await side.place(place);
    const f = fence('30');
    const a = await open(side, place, f);
    await a.ensureSchema([T], { recreate: false });
    await writeBatch(a, [1], 'a1');
    const tx = await a.begin();
    await tx.write(new Map([['t', T]]), [{ kind: 'upsert', table: 't', key: [50n], row: row(50) }]);
    f.lose();
    const err = await rejection(tx.commit(cp('a2')));
    expect(err?.code).toBe(ErrorCode.LOCK_LOST);
    await expect(writeChunk(a, [51])).rejects.toMatchObject({ code: ErrorCode.LOCK_LOST });
    await expect(a.saveStreamCheckpoint(cp('a3'))).rejects.toMatchObject({ code: ErrorCode.LOCK_LOST });
    expect(await side.ids(place)).toEqual([1]);
    expect((await a.loadCheckpoint()).stream?.position).toBe('a1');
  });

  it('lock() with a fence writes nothing on a fresh target; ensureSchema writes the record first', async () => {
    const place = `fence_fresh_${key}`;
    await side.place(place);
    const a = await open(side, place, '3');
    // An older leadership that found the target fresh as well: its takeover waits for ensureSchema too.
    const old = await open(side, place, '2');
    expect(await side.hasStore(place)).toBe(false);
    await a.ensureSchema([T], { recreate: false });
    expect(await side.hasStore(place)).toBe(true);
    expect(await side.epoch(place)).toBe('3');
    await writeBatch(a, [1], 'a1');
    expect(await side.ids(place)).toEqual([1]);
    await fenced(old.ensureSchema([T], { recreate: false }));
    await fenced(old.saveStreamCheckpoint(cp('old1')));
    expect(await side.epoch(place)).toBe('3');
    expect(await side.ids(place)).toEqual([1]);
    expect((await a.loadCheckpoint()).stream?.position).toBe('a1');
  });

  it('--force by an older leadership is refused before it drops anything; by the leader it keeps the record', async () => {
    const place = `fence_force_${key}`;
    await side.place(place);
    const a = await open(side, place, '60');
    await a.ensureSchema([T], { recreate: false });
    await writeBatch(a, [1, 2], 'a1');
    // The leader's own --force: the tables (a MySQL target: the database) go, the record is written again first.
    await a.ensureSchema([T], { recreate: true });
    expect(await side.epoch(place)).toBe('60');
    expect(await side.ids(place)).toEqual([]);
    await writeBatch(a, [3], 'a2');
    expect(await side.ids(place)).toEqual([3]);
    // A newer leadership takes over: the old one's --force drops nothing.
    await open(side, place, '61');
    await fenced(a.ensureSchema([T], { recreate: true }));
    expect(await side.ids(place)).toEqual([3]);
    expect(await side.epoch(place)).toBe('61');
  });

  if (side.databaseExists) {
    it('a target database that does not exist: lock() creates nothing, ensureSchema creates it with the record', async () => {
      const place = `fence_nodb_${key}`;
      const a = await open(side, place, '80');
      expect(await side.databaseExists!(place)).toBe(false);
      await a.ensureSchema([T], { recreate: false });
      expect(await side.epoch(place)).toBe('80');
      await writeBatch(a, [1], 'a1');
      expect(await side.ids(place)).toEqual([1]);
      await open(side, place, '81');
      await fenced(writeBatch(a, [2], 'a2'));
      expect(await side.ids(place)).toEqual([1]);
    });
  }

  if (side.foreignKeys) {
    it('foreign keys after a takeover are refused before they are added; the new leader adds them', async () => {
      const place = `fence_fk_${key}`;
      await side.place(place);
      const a = await open(side, place, '70');
      await a.ensureSchema([P, C], { recreate: false });
      const b = await open(side, place, '71');
      await fenced(a.createForeignKeys([P, C]));
      expect(await side.foreignKeys!(place)).toEqual([]);
      await b.ensureSchema([P, C], { recreate: false, resumed: true });
      expect(await b.createForeignKeys([P, C])).toEqual(['c.c_p']);
      expect(await side.foreignKeys!(place)).toEqual(['c_p']);
    });
  }

  if (side.columns) {
    it('a schema change after a takeover is refused before its DDL runs', async () => {
      const place = `fence_ddl_${key}`;
      await side.place(place);
      const a = await open(side, place, '40');
      await a.ensureSchema([T], { recreate: false });
      await a.saveStreamCheckpoint(cp('a1'));
      await open(side, place, '41');
      await fenced(a.applySchemaChange(ADD_W, cp('a2')));
      expect(await side.columns!(place)).toEqual(['id', 'v']);
      const b = side.target(place);
      opened.push(b);
      await b.connect();
      expect((await b.loadCheckpoint()).stream?.position).toBe('a1');
    });
  }
});
