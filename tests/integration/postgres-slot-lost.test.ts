/**
 * A replication slot PostgreSQL invalidated because it retained more WAL than
 * max_slot_wal_keep_size, on real servers, through the CLI (PostgreSQL → PostgreSQL): a sync
 * resumed after the slot was lost while it was stopped refuses with TRIB_POSITION_LOST and writes
 * nothing (the checkpoint unchanged); a sync streaming when the server invalidates its slot (and
 * terminates its walsender) ends with TRIB_POSITION_LOST at once, neither retrying nor creating
 * another slot.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type Server } from '../../src/testing/servers.js';
import { startCli, waitUntil, type CliRun } from '../helpers/mysql.js';

let target: Server;
const servers: Server[] = [];
const clients: pg.Client[] = [];
const running: CliRun[] = [];

beforeAll(async () => {
  target = await startPostgres();
  servers.push(target);
});

afterAll(async () => {
  for (const r of running) r.child.kill('SIGKILL');
  for (const c of clients) await c.end().catch(() => undefined);
  await Promise.all(servers.map((s) => s.stop()));
});

async function client(server: Server, db: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: server.url(db) });
  c.on('error', () => undefined);
  await c.connect();
  clients.push(c);
  return c;
}

async function createDb(server: Server, db: string): Promise<pg.Client> {
  await (await client(server, 'postgres')).query(`CREATE DATABASE "${db}"`);
  return client(server, db);
}

/** A source server of its own (max_slot_wal_keep_size is server-wide) with a synced table and an unsynced one. */
async function sourceDb(db: string): Promise<{ server: Server; src: pg.Client }> {
  const server = await startPostgres();
  servers.push(server);
  const src = await createDb(server, db);
  await src.query(`CREATE TABLE t (id int PRIMARY KEY, v text);
    INSERT INTO t SELECT s, 'v' || s FROM generate_series(1, 50) s;
    CREATE TABLE noise (id bigserial PRIMARY KEY, pad text);`);
  return { server, src };
}

function sync(server: Server, db: string): CliRun {
  const run = startCli(['sync', '--source', server.url(db), '--target', target.url(db), '--tables', 't', '--flush-interval', '200ms']);
  running.push(run);
  return run;
}

async function rows(c: pg.Client, sql: string): Promise<string> {
  return JSON.stringify((await c.query(sql)).rows);
}

async function slotState(src: pg.Client): Promise<{ name: string; wal_status: string; restart_lsn: string | null }[]> {
  const r = await src.query<{ name: string; wal_status: string; restart_lsn: string | null }>(
    'SELECT slot_name AS name, wal_status, restart_lsn::text FROM pg_replication_slots ORDER BY 1',
  );
  return r.rows;
}

/**
 * Makes the server invalidate every slot that holds WAL: max_slot_wal_keep_size 1MB, then unsynced
 * writes, a WAL switch and a checkpoint until the slot's wal_status is 'lost' (at most 20 rounds).
 */
async function loseSlot(src: pg.Client, slot: string): Promise<void> {
  await src.query("ALTER SYSTEM SET max_slot_wal_keep_size = '1MB'");
  await src.query('SELECT pg_reload_conf()');
  for (let round = 0; round < 20; round++) {
    await src.query("INSERT INTO noise (pad) SELECT repeat('p', 1000) FROM generate_series(1, 4000)");
    await src.query('SELECT pg_switch_wal()');
    await src.query('CHECKPOINT');
    const s = (await slotState(src)).find((x) => x.name === slot);
    if (s?.wal_status === 'lost') return;
  }
  throw new Error(`slot ${slot} still not lost: ${JSON.stringify(await slotState(src))}`);
}

async function waitCopied(run: CliRun): Promise<void> {
  await waitUntil('the initial copy', () => run.stderr().includes('initial copy done') || run.child.exitCode !== null, 60_000);
  expect(run.stderr()).toContain('initial copy done');
}

describe('replication slot invalidated by max_slot_wal_keep_size', () => {
  it('refuses to resume a stopped sync whose slot was lost, naming the slot, wal_status and the setting, and writes nothing', async () => {
    const db = 'lost_stopped';
    const { server, src } = await sourceDb(db);
    const dst = await createDb(target, db);
    const first = sync(server, db);
    await waitCopied(first);
    await src.query("INSERT INTO t VALUES (51, 'streamed')");
    await waitUntil('the streamed row', async () => (await dst.query('SELECT 1 FROM t WHERE id = 51')).rows.length === 1, 20_000);
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);

    const [slot] = await slotState(src);
    if (!slot) throw new Error('no slot');
    await loseSlot(src, slot.name);
    // A change the resumed sync would have to write.
    await src.query("INSERT INTO t VALUES (52, 'after the loss')");
    const checkpoint = await rows(dst, 'SELECT * FROM _tributary_checkpoint ORDER BY 1, 2');
    const data = await rows(dst, 'SELECT * FROM t ORDER BY id');

    const again = sync(server, db);
    const code = await again.exited;
    const err = again.stderr();
    expect(code, err.slice(-2000)).not.toBe(0);
    expect(err).toContain('TRIB_POSITION_LOST');
    expect(err).toContain(`replication slot ${slot.name} was invalidated (wal_status=lost)`);
    expect(err).toContain('max_slot_wal_keep_size (now 1MB)');
    expect(err).toMatch(/Raise max_slot_wal_keep_size.*Nothing was written\. Start over with --force/);
    expect(await rows(dst, 'SELECT * FROM _tributary_checkpoint ORDER BY 1, 2')).toBe(checkpoint);
    expect(await rows(dst, 'SELECT * FROM t ORDER BY id')).toBe(data);
    // The lost slot is left as it is: never dropped or re-created behind the checkpoint.
    expect(await slotState(src)).toEqual([{ name: slot.name, wal_status: 'lost', restart_lsn: null }]);
  });

  it('ends a streaming sync with POSITION_LOST when the server invalidates its slot, without retrying or creating another slot', async () => {
    const db = 'lost_streaming';
    const { server, src } = await sourceDb(db);
    const dst = await createDb(target, db);
    const run = sync(server, db);
    await waitCopied(run);
    await src.query("UPDATE t SET v = 'streamed' WHERE id = 1");
    await waitUntil('the streamed update', async () => (await dst.query("SELECT 1 FROM t WHERE id = 1 AND v = 'streamed'")).rows.length === 1, 20_000);
    const [slot] = await slotState(src);
    if (!slot) throw new Error('no slot');

    // An open transaction that wrote keeps the slot's restart_lsn where it began, however far the
    // sync acknowledges: the WAL after it is retained until the limit invalidates the slot.
    const holder = await client(server, db);
    await holder.query('BEGIN');
    await holder.query("INSERT INTO noise (pad) VALUES ('held')");
    await loseSlot(src, slot.name);
    await src.query("INSERT INTO t VALUES (99, 'never streamed')");

    const ended = await Promise.race([run.exited, new Promise<'running'>((resolve) => setTimeout(() => resolve('running'), 20_000))]);
    await holder.query('ROLLBACK');
    const err = run.stderr();
    expect(ended, err.slice(-3000)).not.toBe('running');
    expect(ended).not.toBe(0);
    expect(err).toContain('TRIB_POSITION_LOST');
    expect(err).toContain(`replication slot ${slot.name} was invalidated (wal_status=lost)`);
    expect(err).toContain('max_slot_wal_keep_size (now 1MB)');
    expect(err).toMatch(/Raise max_slot_wal_keep_size.*The target keeps what was applied up to the checkpoint.*Start over with --force/);
    expect(err).not.toContain('resuming from the checkpoint');
    expect((err.match(/replication slot created/g) ?? []).length).toBe(1);
    expect(await slotState(src)).toEqual([{ name: slot.name, wal_status: 'lost', restart_lsn: null }]);
    expect((await dst.query('SELECT 1 FROM t WHERE id = 99')).rows).toHaveLength(0);
  });
});
