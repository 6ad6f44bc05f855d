/**
 * PostgreSQL source, PostgreSQL and MariaDB targets: an UPDATE that leaves a TOASTed column
 * unchanged arrives as a partial image (Change.unchanged), and the same batch moves a unique value
 * between rows. The target's REPLACE-like conflict handling (holder deletion on PostgreSQL, REPLACE
 * on MySQL) removes the row that still holds the value on the target; when that row's own image in
 * the batch is partial it cannot re-insert the row, which was lost before the partial images were
 * resolved to full images on the target (src/engines/{postgres,mysql}/apply.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCli, waitUntil, type CliRun } from '../helpers/mysql.js';
import { EnginePool, type Engine, type EngineName } from '../helpers/engines.js';

const pool = new EnginePool();
const running: CliRun[] = [];
let seq = 0;

afterAll(async () => {
  for (const r of running) r.child.kill('SIGKILL');
  await pool.stopAll();
});

/** 6400 characters of md5 chains: incompressible, so stored out of line (TOAST). */
const BIG = (seed: string) => `(SELECT string_agg(md5(${seed} || '/' || g::text), '') FROM generate_series(1, 200) g)`;

/** '' when the two sides' items_v views hold the same rows, else the rows that differ. */
async function diff(src: Engine, dst: Engine, db: string): Promise<string> {
  const cols = ['id', 'code', 'v', 'big_md5', 'big_len'];
  const a = await src.rows(db, 'items_v', cols, 'id');
  const b = await dst.rows(db, 'items_v', cols, 'id').catch((err: Error) => [`(unreadable: ${err.message})`]);
  if (a.length === b.length && a.every((r, i) => r === b[i])) return '';
  const sb = new Set(b);
  const sa = new Set(a);
  return `source ${a.length} rows, target ${b.length}; only in source: ${a.filter((r) => !sb.has(r)).join(' ; ')}; only in target: ${b.filter((r) => !sa.has(r)).join(' ; ')}`;
}

describe.each(['postgres', 'mysql'] as EngineName[])('PostgreSQL → %s: unchanged TOAST columns meeting a unique value that moves', (dstName) => {
  let src: Engine;
  let dst: Engine;

  beforeAll(async () => {
    src = await pool.get('source', 'postgres');
    dst = await pool.get('target', dstName);
  });

  /**
   * A view on each side giving md5 and length of `big`, so rows compare in a few bytes each (the
   * views are created after the sync created the target table).
   */
  async function views(db: string): Promise<void> {
    await src.exec(db, 'CREATE VIEW items_v AS SELECT id, code, v, md5(big) AS big_md5, length(big) AS big_len FROM items');
    if (dst.name === 'postgres') await dst.exec(db, 'CREATE VIEW items_v AS SELECT id, code, v, md5(big) AS big_md5, length(big) AS big_len FROM items');
    else await dst.exec(db, 'CREATE VIEW items_v AS SELECT id, code, v, MD5(big) AS big_md5, CHAR_LENGTH(big) AS big_len FROM items');
  }

  it('keeps every row when one source transaction moves unique values between rows whose TOASTed column is unchanged', async () => {
    const db = `tu${++seq}_${dstName.slice(0, 2)}`;
    await src.createDatabase(db);
    // REPLICA IDENTITY DEFAULT: an UPDATE that leaves `big` alone sends no value for it.
    await src.exec(
      db,
      `CREATE TABLE items (id bigint PRIMARY KEY, code varchar(16) UNIQUE, v int NOT NULL, big text);
       INSERT INTO items SELECT s, 'a' || s, s, ${BIG('s::text')} FROM generate_series(1, 14) s;
       INSERT INTO items SELECT s, 'a' || s, s, ${BIG('s::text')} FROM generate_series(1001, 1080) s;
       DO $$ BEGIN IF (SELECT count(*) FROM items WHERE pg_column_size(big) > 2000) <> 94 THEN RAISE EXCEPTION 'big is not stored out of line'; END IF; END $$;`,
    );
    await dst.createDatabase(db);
    // No continuous checksum: it would repair lost rows after a while and hide the loss. A 1 MiB
    // buffer writes a source transaction of more than 256 kB in several pieces (spills).
    const run = startCli(['sync', '--source', src.url(db), '--target', dst.url(db), '--flush-interval', '200ms', '--checksum', 'off', '--buffer-mb', '1']);
    running.push(run);
    await waitUntil('the copy', () => run.stderr().includes('initial copy done') || run.child.exitCode !== null, 90_000);
    expect(run.stderr()).toContain('initial copy done');
    await views(db);
    const compare = () => diff(src, dst, db);
    expect(await compare()).toBe('');

    const applied = async (what: string) => {
      let last = '';
      // A lost row never comes back: a short deadline only makes the failure quicker.
      await waitUntil(what, async () => (last = await compare()) === '' || run.child.exitCode !== null, 20_000, 300).catch((err: Error) => {
        throw new Error(`${err.message}: ${last}\n${run.stderr().slice(-3000)}`, { cause: err });
      });
      expect(last, run.stderr().slice(-3000)).toBe('');
      expect(run.child.exitCode).toBeNull();
    };

    // One source transaction, so one batch; every order a unique value can move in around a row
    // whose image is partial (`big` unchanged).
    await src.exec(
      db,
      `BEGIN;
       -- A partial image frees 'a1', a new row takes it (full image).
       UPDATE items SET code = 'x1' WHERE id = 1;
       INSERT INTO items VALUES (101, 'a1', 0, 'new');
       -- A partial image frees 'a2', an existing row takes it with a full image (its big changes too).
       UPDATE items SET code = 'x2' WHERE id = 2;
       UPDATE items SET code = 'a2', big = 'changed' WHERE id = 3;
       -- The full image that takes 'a4' comes first in the batch: the old holder's partial image is
       -- its last change, after it.
       UPDATE items SET code = 'x4' WHERE id = 4;
       INSERT INTO items VALUES (104, 'a4', 0, 'new');
       UPDATE items SET v = -4 WHERE id = 4;
       -- A full image frees 'a7', a partial image takes it.
       UPDATE items SET code = 'x7', big = 'freed' WHERE id = 7;
       UPDATE items SET code = 'a7' WHERE id = 8;
       -- A key change (the moved row's big read from the source) frees 'a9', a partial image takes it.
       UPDATE items SET id = 209, code = 'x9' WHERE id = 9;
       UPDATE items SET code = 'a9' WHERE id = 10;
       -- A partial image frees 'a12', a row that changed its key (a full image) takes it.
       UPDATE items SET id = 211 WHERE id = 11;
       UPDATE items SET code = 'x12' WHERE id = 12;
       UPDATE items SET code = 'a12', v = 12000 WHERE id = 211;
       -- A partial image takes a value a deleted row held.
       DELETE FROM items WHERE id = 13;
       UPDATE items SET code = 'a13' WHERE id = 14;
       COMMIT;`,
    );
    await applied('the first transaction on the target');
    // Two partial images swap their values through a third, in one transaction.
    await src.exec(
      db,
      `BEGIN;
       UPDATE items SET code = 'tmp' WHERE id = 5;
       UPDATE items SET code = 'a5' WHERE id = 6;
       UPDATE items SET code = 'a6' WHERE id = 5;
       COMMIT;`,
    );
    await applied('the swap on the target');
    // A transaction written in pieces: 80 rows each give up their value (partial images), and a new
    // row with a 6.4 kB value takes it; the pieces end anywhere in between.
    await src.exec(
      db,
      `DO $$ BEGIN
         FOR i IN 1001..1080 LOOP
           UPDATE items SET code = 'y' || i WHERE id = i;
           INSERT INTO items VALUES (i + 1000, 'a' || i, i, ${BIG("'new' || i::text")});
         END LOOP;
       END $$;`,
    );
    await applied('the transaction written in pieces on the target');
    // The TOASTed values of the rows with partial images are there, whole.
    const big = await dst.rows(db, 'items_v', ['id', 'big_len'], 'id');
    expect(big.filter((r) => r.endsWith('|6400')).map((r) => r.split('|')[0]).filter((id) => Number(id) < 1000)).toEqual(['1', '2', '4', '5', '6', '8', '10', '12', '14', '209', '211']);
    expect(big.filter((r) => r.endsWith('|6400')).length).toBe(11 + 160);
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
  });

  it("reads a moved row's unchanged TOAST value only once its transaction is visible (a synchronous standby holds the commit)", async () => {
    const db = `tv${++seq}_${dstName.slice(0, 2)}`;
    await src.createDatabase(db);
    await src.exec(db, `CREATE TABLE items (id bigint PRIMARY KEY, code varchar(16) UNIQUE, v int NOT NULL, big text); INSERT INTO items SELECT s, 'a' || s, s, ${BIG('s::text')} FROM generate_series(1, 3) s`);
    await dst.createDatabase(db);
    const run = startCli(['sync', '--source', src.url(db), '--target', dst.url(db), '--flush-interval', '200ms', '--checksum', 'off']);
    running.push(run);
    await waitUntil('the copy', () => run.stderr().includes('initial copy done') || run.child.exitCode !== null, 90_000);
    expect(run.stderr()).toContain('initial copy done');
    await views(db);
    // A synchronous standby that never confirms: the session committing with synchronous_commit =
    // on has its commit flushed (and sent to the slot) but stays in progress for every other
    // session, the stream's reads included, until it is cancelled. Every other session commits locally.
    for (const sql of ["ALTER SYSTEM SET synchronous_standby_names = 'tributary_test_nosuch'", "ALTER SYSTEM SET synchronous_commit = 'local'", 'SELECT pg_reload_conf()']) await src.exec('postgres', sql);
    const c = await src.client(db);
    let committing: Promise<unknown> = Promise.resolve();
    try {
      await c.query("SET application_name = 'tributary_held_commit'");
      await c.query('SET synchronous_commit = on');
      // The key changes and `big` does not: the stream gets no value for it, and reads it from the source.
      committing = c.query('UPDATE items SET id = 102 WHERE id = 2').catch(() => undefined);
      await waitUntil('the commit waiting for the standby', async () => (await src.rows('postgres', 'pg_stat_activity', ['wait_event'], 'wait_event')).includes('SyncRep'), 10_000, 20);
      await waitUntil('the stream waiting for the transaction to be visible', () => run.stderr().includes('not yet visible to other sessions'), 20_000);
    } finally {
      await src.exec('postgres', "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'tributary_held_commit'");
      await committing;
      for (const sql of ['ALTER SYSTEM RESET synchronous_standby_names', 'ALTER SYSTEM RESET synchronous_commit', 'SELECT pg_reload_conf()']) await src.exec('postgres', sql);
      await c.end();
    }
    expect(run.stderr()).toContain('the unchanged TOAST values of a row it moved to another key are read once it is');
    let last = '';
    await waitUntil('the moved row on the target', async () => (last = await diff(src, dst, db)) === '' || run.child.exitCode !== null, 20_000, 300).catch((err: Error) => {
      throw new Error(`${err.message}: ${last}\n${run.stderr().slice(-3000)}`, { cause: err });
    });
    expect(last).toBe('');
    expect((await dst.rows(db, 'items_v', ['id', 'big_len'], 'id'))).toEqual(['1|6400', '3|6400', '102|6400']);
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
  });
});
