/**
 * The sync's lock on the target, against real servers: a lock whose connection is killed
 * (MariaDB `KILL`, PostgreSQL `pg_terminate_backend`) stops the sync with TRIB_LOCK_LOST while a
 * source writer keeps going, and nothing more is committed to the target once another session has
 * taken the lock; a second sync then takes it and resumes. A target whose global `wait_timeout` is
 * 2 s keeps the lock of an idle sync.
 */
import { createHash } from 'node:crypto';
import { createServer, connect as tcpConnect, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import type { Connection, RowDataPacket } from 'mysql2/promise';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMariaDb, startPostgres, type Server } from '../../src/testing/servers.js';
import { connect, startCli, startPair, waitEqual, waitUntil, type CliRun, type Pair } from '../helpers/mysql.js';

let pair: Pair;
let pgServer: Server | undefined;
const running: CliRun[] = [];

beforeAll(async () => {
  pair = await startPair();
});

afterAll(async () => {
  for (const r of running) r.child.kill('SIGKILL');
  await pgServer?.stop();
  await pair?.stop();
});

function sync(source: string, target: string, id: string): CliRun {
  const run = startCli(['sync', '--source', source, '--target', target, '--id', id, '--flush-interval', '100ms', '--checksum', 'off']);
  running.push(run);
  return run;
}

/** Inserts one row every 20 ms into `db`.t on the source until stopped. */
async function startInserts(db: string, from: number): Promise<{ stop(): Promise<void>; inserted(): number }> {
  const c = await connect(pair.srcUrl(db));
  let stopped = false;
  let next = from;
  const loop = (async () => {
    while (!stopped) {
      await c.query('INSERT INTO t (id, v) VALUES (?, ?)', [next, next]);
      next++;
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return {
    inserted: () => next - from,
    async stop() {
      stopped = true;
      await loop;
      await c.end();
    },
  };
}

async function sourceTable(db: string, rows: number): Promise<void> {
  await pair.src.query(`CREATE DATABASE \`${db}\`; CREATE TABLE \`${db}\`.t (id INT PRIMARY KEY, v INT); INSERT INTO \`${db}\`.t SELECT seq, seq FROM \`${db}\`.seq_1_to_${rows}`);
}

/** The sync's GET_LOCK name, as the MySQL target derives it from the database and the sync id. */
function mysqlLockName(db: string, id: string): string {
  return 'tributary:' + createHash('sha256').update(`${db}/${id}`).digest('hex').slice(0, 40);
}

/** The sync's advisory lock key on a PostgreSQL target (schema public). */
function pgLockKey(db: string, id: string): string {
  return BigInt.asIntN(64, createHash('sha256').update(`${db}/public/${id}`).digest().readBigUInt64BE(0)).toString();
}

/**
 * A TCP proxy in front of a server whose `silence(port)` closes the server side of the connection
 * whose upstream socket has local port `port`, and nothing on the client side: the server ends
 * that session (and frees its locks) while the client sees no close, as after a network partition.
 */
async function startProxy(port: number): Promise<{ port: number; silence(upstreamPort: number): boolean; close(): Promise<void> }> {
  const links: { client: Socket; up: Socket }[] = [];
  const server: NetServer = createServer((client) => {
    const up = tcpConnect(port, '127.0.0.1');
    client.on('error', () => undefined);
    up.on('error', () => undefined);
    client.pipe(up);
    up.pipe(client, { end: false });
    client.on('close', () => up.destroy());
    links.push({ client, up });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    silence(upstreamPort) {
      const link = links.find((l) => l.up.localPort === upstreamPort);
      if (!link) return false;
      link.client.unpipe(link.up);
      link.up.destroy();
      return true;
    },
    async close() {
      for (const l of links) {
        l.client.destroy();
        l.up.destroy();
      }
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** What the target holds: the row count and the stream checkpoint's body. */
async function mysqlTargetState(c: Connection, db: string): Promise<string> {
  const [[n]] = await c.query<RowDataPacket[]>(`SELECT COUNT(*) AS n FROM \`${db}\`.t`);
  const [[cp]] = await c.query<RowDataPacket[]>(`SELECT body FROM \`${db}\`._tributary_checkpoint WHERE name = ''`);
  return `${String(n?.n)} rows; checkpoint ${String(cp?.body)}`;
}

/**
 * Takes `target`'s lock while another session has an uncommitted checkpoint write of the same sync
 * (a writer of a previous holder that verified the lock just before losing it): lock() must wait
 * for that commit, and the checkpoint read after it must show the write.
 */
async function expectLockWaitsForWriter(
  target: import('../../src/core/target.js').Target,
  write: { begin(): Promise<void>; commit(): Promise<void> },
): Promise<void> {
  await write.begin();
  let locked = false;
  const locking = target.lock().then(() => (locked = true));
  await new Promise((r) => setTimeout(r, 1500));
  expect(locked).toBe(false);
  await write.commit();
  await locking;
  expect((await target.loadCheckpoint()).stream?.position).toBe('written-by-the-previous-holder');
}

describe('the sync lock on a MariaDB target', () => {
  it('a new holder waits for a checkpoint write in flight before it reads the checkpoint', async () => {
    const { MysqlTarget } = await import('../../src/engines/mysql/target.js');
    const { parseDsn } = await import('../../src/config/dsn.js');
    const { createLogger } = await import('../../src/core/logger.js');
    const { streamBody } = await import('../../src/checkpoint/rows.js');
    await pair.dst.query('CREATE DATABASE lock_drain');
    const make = () => new MysqlTarget({ dsn: parseDsn(pair.dstUrl('lock_drain'), 'target'), syncId: 'drain', logger: createLogger({ level: 'silent', pretty: false }), poolSize: 1 });
    const setup = make();
    await setup.connect();
    await setup.ensureSchema([], { recreate: false });
    await setup.close();
    const w = await connect(pair.dstUrl('lock_drain'));
    const target = make();
    await target.connect();
    try {
      await expectLockWaitsForWriter(target, {
        begin: async () => {
          await w.query('START TRANSACTION');
          await w.query("REPLACE INTO _tributary_checkpoint (sync_id, name, body) VALUES ('drain', '', ?)", [
            streamBody({ version: 1, position: 'written-by-the-previous-holder', sourceId: 's', phase: 'stream' }),
          ]);
        },
        commit: async () => void (await w.query('COMMIT')),
      });
    } finally {
      await target.close();
      await w.end();
    }
  });

  it('KILL of the lock connection stops the sync with TRIB_LOCK_LOST, nothing is committed after, and a second sync takes the lock', async () => {
    const db = 'lock_kill';
    await sourceTable(db, 1000);
    await pair.dst.query(`CREATE DATABASE ${db}`);
    const first = sync(pair.srcUrl(db), pair.dstUrl(db), 'killme');
    await waitUntil('the copy', () => first.stderr().includes('initial copy done'), 60_000);
    const inserts = await startInserts(db, 100_000);
    await waitUntil('streamed rows', async () => {
      const [[r]] = await pair.dst.query<RowDataPacket[]>(`SELECT COUNT(*) AS n FROM ${db}.t`);
      return Number(r?.n) > 1020;
    }, 30_000);

    const name = mysqlLockName(db, 'killme');
    const [[holder]] = await pair.dst.query<RowDataPacket[]>('SELECT IS_USED_LOCK(?) AS id', [name]);
    expect(holder?.id).not.toBeNull();
    await pair.dst.query(`KILL ${Number(holder?.id)}`);
    // Another instance takes the lock at once: from now on the first sync must commit nothing.
    const rival = await connect(pair.dstUrl(db));
    const [[got]] = await rival.query<RowDataPacket[]>('SELECT GET_LOCK(?, 10) AS got', [name]);
    expect(Number(got?.got)).toBe(1);
    // A commit already past its check when the lock went may still land: let it.
    await new Promise((r) => setTimeout(r, 500));
    const before = await mysqlTargetState(pair.dst, db);
    const insertedBefore = inserts.inserted();

    const code = await Promise.race([first.exited, new Promise<string>((r) => setTimeout(() => r('still running 30 s after the KILL'), 30_000))]);
    expect(code, first.stderr().slice(-2000)).toBe(1);
    expect(first.stderr()).toContain('tributary: error TRIB_LOCK_LOST:');
    expect(first.stderr()).toContain(`sync 'killme' lost its lock ${name}`);
    expect(first.stderr()).toContain('the server kept running');
    expect(first.stderr()).not.toContain('sync interrupted; resuming from the checkpoint');
    await new Promise((r) => setTimeout(r, 500));
    expect(inserts.inserted()).toBeGreaterThan(insertedBefore);
    expect(await mysqlTargetState(pair.dst, db)).toBe(before);

    // While the rival holds the lock a second sync is refused; once it lets go, one resumes.
    const refused = sync(pair.srcUrl(db), pair.dstUrl(db), 'killme');
    expect(await refused.exited).toBe(1);
    expect(refused.stderr()).toContain('TRIB_ALREADY_RUNNING');
    await rival.end();
    const second = sync(pair.srcUrl(db), pair.dstUrl(db), 'killme');
    await waitUntil('the resume', () => second.stderr().includes('resuming from checkpoint'), 60_000);
    await inserts.stop();
    await waitEqual(pair, db, db, 't', 60_000);
    second.child.kill('SIGINT');
    expect(await second.exited).toBe(0);
  });

  it('a lock connection the server drops without the client noticing lets no commit through', async () => {
    const db = 'lock_silent';
    await sourceTable(db, 1000);
    await pair.dst.query(`CREATE DATABASE ${db}`);
    const proxy = await startProxy(pair.target.port);
    try {
      const first = sync(pair.srcUrl(db), `mysql://root@127.0.0.1:${proxy.port}/${db}`, 'silent');
      await waitUntil('the copy', () => first.stderr().includes('initial copy done'), 60_000);
      const inserts = await startInserts(db, 100_000);
      await waitUntil('streamed rows', async () => {
        const [[r]] = await pair.dst.query<RowDataPacket[]>(`SELECT COUNT(*) AS n FROM ${db}.t`);
        return Number(r?.n) > 1020;
      }, 30_000);
      const name = mysqlLockName(db, 'silent');
      const [[holder]] = await pair.dst.query<RowDataPacket[]>('SELECT p.HOST AS host FROM information_schema.PROCESSLIST p WHERE p.ID = IS_USED_LOCK(?)', [name]);
      expect(proxy.silence(Number(String(holder?.host).split(':')[1]))).toBe(true);
      const rival = await connect(pair.dstUrl(db));
      const [[got]] = await rival.query<RowDataPacket[]>('SELECT GET_LOCK(?, 10) AS got', [name]);
      expect(Number(got?.got)).toBe(1);
      await new Promise((r) => setTimeout(r, 500));
      const before = await mysqlTargetState(pair.dst, db);

      // The pings would take 30 s to give up on the silent connection: a commit finds the loss first.
      const code = await Promise.race([first.exited, new Promise<string>((r) => setTimeout(() => r('still running 20 s after the drop'), 20_000))]);
      expect(code, first.stderr().slice(-2000)).toBe(1);
      expect(first.stderr()).toContain('tributary: error TRIB_LOCK_LOST:');
      // The commit meets the rival's lock, or the moment between the server ending the silent
      // session (which frees the lock) and the rival taking it: both are the loss, named.
      expect(first.stderr()).toMatch(/a commit found (connection \d+ holding it|it free)/);
      expect(await mysqlTargetState(pair.dst, db)).toBe(before);
      await inserts.stop();
      await rival.end();
    } finally {
      await proxy.close();
    }
  });

  it('keeps the lock of an idle sync on a target whose wait_timeout is 2 s', async () => {
    const target = await startMariaDb({ serverId: 7 });
    try {
      const root = await connect(target.url());
      await root.query('SET GLOBAL wait_timeout = 2; CREATE DATABASE idle');
      await root.end();
      await sourceTable('idle', 100);
      const run = sync(pair.srcUrl('idle'), target.url('idle'), 'idle');
      await waitUntil('the copy', () => run.stderr().includes('initial copy done'), 60_000);
      await new Promise((r) => setTimeout(r, 6_000));
      const c = await connect(target.url());
      const name = mysqlLockName('idle', 'idle');
      const [[r]] = await c.query<RowDataPacket[]>('SELECT IS_USED_LOCK(?) AS holder, GET_LOCK(?, 0) AS got', [name, name]);
      expect(r?.holder, run.stderr().slice(-2000)).not.toBeNull();
      expect(Number(r?.got)).toBe(0);
      // Still streaming, and never restarted for a lost connection.
      await pair.src.query('UPDATE idle.t SET v = -1 WHERE id = 7');
      await waitUntil('the change after the idle time', async () => {
        const [[row]] = await c.query<RowDataPacket[]>('SELECT v FROM idle.t WHERE id = 7');
        return Number(row?.v) === -1;
      }, 30_000);
      await c.end();
      expect(run.child.exitCode).toBeNull();
      expect(run.stderr()).not.toContain('sync interrupted');
      expect(run.stderr()).not.toContain('TRIB_LOCK_LOST');
      run.child.kill('SIGINT');
      expect(await run.exited).toBe(0);
    } finally {
      await target.stop();
    }
  });
});

describe('the sync lock on a PostgreSQL target', () => {
  it('a new holder waits for a checkpoint write in flight before it reads the checkpoint', async () => {
    const { PostgresTarget } = await import('../../src/engines/postgres/target.js');
    const { parseDsn } = await import('../../src/config/dsn.js');
    const { createLogger } = await import('../../src/core/logger.js');
    const { streamBody } = await import('../../src/checkpoint/rows.js');
    pgServer ??= await startPostgres();
    const server = pgServer;
    const admin = new pg.Client({ connectionString: server.url('postgres') });
    await admin.connect();
    await admin.query('CREATE DATABASE lock_drain');
    await admin.end();
    const make = () => new PostgresTarget({ dsn: parseDsn(server.url('lock_drain'), 'target'), syncId: 'drain', logger: createLogger({ level: 'silent', pretty: false }), poolSize: 1 });
    const setup = make();
    await setup.connect();
    await setup.ensureSchema([], { recreate: false });
    await setup.close();
    const w = new pg.Client({ connectionString: server.url('lock_drain') });
    await w.connect();
    const target = make();
    await target.connect();
    try {
      await expectLockWaitsForWriter(target, {
        begin: async () => {
          await w.query('BEGIN');
          await w.query("INSERT INTO _tributary_checkpoint (sync_id, name, body) VALUES ('drain', '', $1)", [
            streamBody({ version: 1, position: 'written-by-the-previous-holder', sourceId: 's', phase: 'stream' }),
          ]);
        },
        commit: async () => void (await w.query('COMMIT')),
      });
    } finally {
      await target.close();
      await w.end();
    }
  });

  it('pg_terminate_backend of the lock session stops the sync with TRIB_LOCK_LOST, nothing is committed after, and a second sync takes the lock', async () => {
    pgServer ??= await startPostgres();
    const db = 'lock_term';
    const admin = new pg.Client({ connectionString: pgServer.url('postgres') });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${db}`);
    await admin.end();
    const c = new pg.Client({ connectionString: pgServer.url(db) });
    c.on('error', () => undefined);
    await c.connect();
    const state = async () => {
      const n = await c.query<{ n: string }>('SELECT count(*)::text AS n FROM t');
      const cp = await c.query<{ body: string }>("SELECT body FROM _tributary_checkpoint WHERE name = ''");
      return `${n.rows[0]?.n} rows; checkpoint ${cp.rows[0]?.body}`;
    };
    try {
      await sourceTable(db, 1000);
      const first = sync(pair.srcUrl(db), pgServer.url(db), 'term');
      await waitUntil('the copy', () => first.stderr().includes('initial copy done'), 60_000);
      const inserts = await startInserts(db, 100_000);
      await waitUntil('streamed rows', async () => Number((await c.query<{ n: string }>('SELECT count(*)::text AS n FROM t')).rows[0]?.n) > 1020, 30_000);

      const key = pgLockKey(db, 'term');
      const holder = await c.query<{ pid: string }>(
        `SELECT pid::text FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1
            AND ((classid::bigint << 32) | objid::bigint) = $1::bigint`,
        [key],
      );
      expect(holder.rows.length).toBe(1);
      await c.query('SELECT pg_terminate_backend($1::int)', [holder.rows[0]?.pid]);
      const rival = new pg.Client({ connectionString: pgServer.url(db) });
      rival.on('error', () => undefined);
      await rival.connect();
      await waitUntil('the rival to take the lock', async () => (await rival.query<{ got: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS got', [key])).rows[0]?.got === true, 10_000, 50);
      await new Promise((r) => setTimeout(r, 500));
      const before = await state();
      const insertedBefore = inserts.inserted();

      const code = await Promise.race([first.exited, new Promise<string>((r) => setTimeout(() => r('still running 30 s after pg_terminate_backend'), 30_000))]);
      expect(code, first.stderr().slice(-2000)).toBe(1);
      expect(first.stderr()).toContain('tributary: error TRIB_LOCK_LOST:');
      expect(first.stderr()).toContain(`sync 'term' lost its advisory lock ${key}`);
      expect(first.stderr()).toContain('the server kept running');
      await new Promise((r) => setTimeout(r, 500));
      expect(inserts.inserted()).toBeGreaterThan(insertedBefore);
      expect(await state()).toBe(before);

      await rival.end();
      const second = sync(pair.srcUrl(db), pgServer.url(db), 'term');
      await waitUntil('the resume', () => second.stderr().includes('resuming from checkpoint'), 60_000);
      await inserts.stop();
      const [[src]] = await pair.src.query<RowDataPacket[]>(`SELECT COUNT(*) AS n, SUM(v) AS s FROM ${db}.t`);
      await waitUntil('the target to converge', async () => {
        const r = await c.query<{ n: string; s: string }>('SELECT count(*)::text AS n, sum(v)::text AS s FROM t');
        return r.rows[0]?.n === String(src?.n) && r.rows[0]?.s === String(src?.s);
      }, 60_000);
      second.child.kill('SIGINT');
      expect(await second.exited).toBe(0);
    } finally {
      await c.end().catch(() => undefined);
    }
  });
});
