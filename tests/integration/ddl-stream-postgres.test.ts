/**
 * The schema follows a PostgreSQL source while streaming (issue 12), to a PostgreSQL and to a
 * MariaDB target, on real servers. Through pgoutput's Relation messages (no event trigger): ADD
 * COLUMN with a default under writes (old rows get the default on the target), DROP COLUMN, ALTER
 * COLUMN TYPE (int → bigint, varchar(10) → text), a change in a transaction after rows of another
 * table, catch-up across DDL made while the sync was stopped (the last with no row after it, found
 * in the catalogue once the stream caught up), and a drop and an add of columns in
 * one change (a rename or not: the Relation message cannot tell) stopping the sync by name.
 * Through the event trigger (installed by the sync as a superuser): RENAME COLUMN with no row
 * written after it, SET DEFAULT, SET NOT NULL, and a drop and an add in one statement; table-level
 * DDL: RENAME TO (also after rows of another table in its transaction), CREATE/ALTER/DROP INDEX,
 * DROP TABLE, a rename out of the selection stopping the sync, a table created into the selection
 * adopted (a keyless one stopping the sync), an older trigger widened; foreign keys added (with a new
 * column too), dropped with their column and dropped by name; user types changed (enum ADD VALUE, ALTER
 * DOMAIN, composite ADD ATTRIBUTE) and an enum label renamed stopping the sync. With a role that is no superuser: check's trigger line,
 * and column changes from Relation messages.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli, startCli, waitUntil, type CliRun } from '../helpers/mysql.js';
import { converged, copyDone } from '../helpers/converge.js';
import { contractTableSql, enginePoolRig, fillContractTable, foreignKeyLines, startContractWriter, type Engine, type EngineName } from '../helpers/engines.js';

const { pool, track } = enginePoolRig();
let dbSeq = 0;

/**
 * One describe block's PostgreSQL source and `dstName` target (from the file's pool, in its
 * beforeAll: `ends()` gives them once started), and its helpers: a fresh database (names starting
 * with `prefix`) holding the contract tables, a sync of it (with `syncArgs`), a clean stop, and the
 * drop of the database's slots once its syncs ended (the server allows 10).
 */
function pgSourceCase(dstName: EngineName, prefix: string, syncArgs: readonly string[] = []) {
  let src: Engine | undefined;
  let dst: Engine | undefined;
  beforeAll(async () => {
    src = await pool.get('source', 'postgres');
    dst = await pool.get('target', dstName);
  });
  const ends = (): { src: Engine; dst: Engine } => {
    if (!src || !dst) throw new Error('the servers are not started yet (use them inside a test or hook)');
    return { src, dst };
  };
  return {
    ends,
    async fresh(rows: number, tables = ['items']): Promise<string> {
      const e = ends();
      const db = `${prefix}${++dbSeq}_${dstName.slice(0, 2)}`;
      await e.src.createDatabase(db);
      for (const t of tables) {
        await e.src.exec(db, contractTableSql('postgres', t));
        if (rows > 0) await fillContractTable(e.src, db, t, rows);
      }
      await e.dst.createDatabase(db);
      return db;
    },
    sync(db: string, extra: string[] = []): CliRun {
      const e = ends();
      return track(startCli(['sync', '--source', e.src.url(db), '--target', e.dst.url(db), '--flush-interval', '100ms', '--checksum-interval', '1s', ...syncArgs, ...extra]));
    },
    async stop(run: CliRun): Promise<void> {
      run.child.kill('SIGTERM');
      expect(await run.exited, run.stderr().slice(-3000)).toBe(0);
    },
    dropSlots: (db: string) => ends().src.exec('postgres', `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = '${db}' AND NOT active`),
  };
}

describe.each([['postgres'] as const, ['mysql'] as const])('DDL while streaming postgres → %s (Relation messages, --pg-ddl-trigger off)', (dstName: EngineName) => {
  const { fresh, sync, stop, dropSlots, ends } = pgSourceCase(dstName, 'p', ['--pg-ddl-trigger', 'off']);
  let src: Engine;
  let dst: Engine;
  beforeAll(() => ({ src, dst } = ends()));

  it('ADD COLUMN with a default under writes: old rows get the default on the target, new rows their values', async () => {
    const db = await fresh(2000);
    const run = sync(db);
    await copyDone(run);
    const writer = await startContractWriter(src, db, 'items', 3000, 2);
    await new Promise((r) => setTimeout(r, 400));
    await src.exec(db, "ALTER TABLE items ADD COLUMN note varchar(20) NOT NULL DEFAULT 'none'");
    const c = await src.client(db);
    for (let i = 0; i < 50; i++) await c.query(`INSERT INTO items (id, k, v, note) VALUES (${10_000 + i}, 'added', ${i}, 'n${i}')`);
    await c.query("UPDATE items SET note = 'touched' WHERE id BETWEEN 1 AND 10");
    await c.end();
    await new Promise((r) => setTimeout(r, 400));
    await writer.stop();
    await converged(src, dst, db, 'items', ['id', 'k', 'v', 'amount', 'pad', 'note'], run);
    expect(await dst.rows(db, 'items', ['note'], 'id').then((r) => r.filter((n) => n === 'none').length)).toBeGreaterThan(1000);
    expect(run.stderr()).toContain('schema change applied to the target');
    expect(run.stderr()).not.toContain('repaired what differed');
    await stop(run);
    await dropSlots(db);
  });

  it('DROP COLUMN and ALTER COLUMN TYPE (int → bigint, varchar(10) → text) under writes', async () => {
    const db = await fresh(0);
    await src.exec(db, "CREATE TABLE t (id int PRIMARY KEY, n int NOT NULL, s varchar(10), gone text); INSERT INTO t SELECT g, g, 's' || g, 'g' FROM generate_series(1, 300) g");
    const run = sync(db);
    await copyDone(run);
    const writer = await startContractWriter(src, db, 'items', 500, 1);
    await src.exec(db, 'ALTER TABLE t DROP COLUMN gone');
    await src.exec(db, "INSERT INTO t VALUES (301, 301, 'after drop')");
    await src.exec(db, 'ALTER TABLE t ALTER COLUMN n TYPE bigint, ALTER COLUMN s TYPE text');
    await src.exec(db, "INSERT INTO t VALUES (302, 9007199254740993, repeat('long text ', 5)); UPDATE t SET n = n + 4000000000 WHERE id <= 10");
    await writer.stop();
    await converged(src, dst, db, 't', ['id', 'n', 's'], run);
    await converged(src, dst, db, 'items', ['id', 'k', 'v', 'amount', 'pad'], run);
    expect(run.stderr()).toMatch(/column \\?"gone\\?" dropped/);
    expect(run.stderr()).toMatch(/column \\?"n\\?" changed type from integer to bigint/);
    await stop(run);
    await dropSlots(db);
  });

  it('a change in a transaction after rows of another table is applied between the two parts', async () => {
    const db = await fresh(100, ['items', 'other']);
    const run = sync(db);
    await copyDone(run);
    await src.exec(db, "BEGIN; INSERT INTO other (id, k, v) VALUES (500, 'first', 1); ALTER TABLE items ADD COLUMN extra int DEFAULT 7; INSERT INTO items (id, k, v, extra) VALUES (500, 'second', 2, 8); COMMIT");
    await converged(src, dst, db, 'items', ['id', 'k', 'v', 'extra'], run);
    await converged(src, dst, db, 'other', ['id', 'k', 'v'], run);
    await stop(run);
    await dropSlots(db);
  });

  it('catches up across DDL made while it was stopped: rows, DROP COLUMN, rows, ADD COLUMN, rows', async () => {
    const db = await fresh(500);
    const first = sync(db);
    await copyDone(first);
    await stop(first);
    const c = await src.client(db);
    await c.query("INSERT INTO items (id, k, v, amount, pad) VALUES (1001, 'a', 1, 1.50, 'p1')");
    await c.query("UPDATE items SET pad = 'before drop' WHERE id = 1");
    await c.query('ALTER TABLE items DROP COLUMN pad');
    await c.query("INSERT INTO items (id, k, v, amount) VALUES (1002, 'b', 2, 2.50)");
    await c.query('DELETE FROM items WHERE id = 2');
    await c.query('ALTER TABLE items ADD COLUMN extra int NOT NULL DEFAULT 7');
    await c.query("INSERT INTO items (id, k, v, amount, extra) VALUES (1003, 'c', 3, 3.50, 42)");
    await c.query('UPDATE items SET extra = 8 WHERE id = 3');
    // No row is written after this one: it is found in the catalogue once the stream caught up.
    await c.query("ALTER TABLE items ADD COLUMN late text DEFAULT 'late'");
    await c.end();
    const second = sync(db);
    await converged(src, dst, db, 'items', ['id', 'k', 'v', 'amount', 'extra', 'late'], second);
    // A restart with nothing new starts where it stopped, with the definitions it stored.
    await stop(second);
    const third = sync(db);
    await src.exec(db, "INSERT INTO items (id, k, v, amount, extra) VALUES (1004, 'd', 4, 4.50, 9)");
    await converged(src, dst, db, 'items', ['id', 'k', 'v', 'amount', 'extra'], third);
    await stop(third);
    await dropSlots(db);
  });

  it('a column dropped and another added in one change stops the sync naming both (a rename or not)', async () => {
    const db = await fresh(50);
    const run = sync(db);
    await copyDone(run);
    await src.exec(db, "ALTER TABLE items DROP COLUMN pad, ADD COLUMN pad2 text; INSERT INTO items (id, k, v, pad2) VALUES (900, 'x', 1, 'y')");
    const timer = setTimeout(() => run.child.kill('SIGKILL'), 60_000);
    const code = await run.exited;
    clearTimeout(timer);
    expect(code).not.toBe(0);
    expect(run.stderr()).toContain('TRIB_DDL_UNSUPPORTED');
    expect(run.stderr()).toMatch(/\\?"pad\\?" dropped and \\?"pad2\\?" added/);
    await dropSlots(db);
  });
});

describe.each([['postgres'] as const, ['mysql'] as const])('DDL while streaming postgres → %s (event trigger)', (dstName: EngineName) => {
  const { fresh, sync, stop, dropSlots, ends } = pgSourceCase(dstName, 't');
  let src: Engine;
  let dst: Engine;
  beforeAll(() => ({ src, dst } = ends()));

  it('installs the trigger; RENAME COLUMN with no later row, SET DEFAULT, SET NOT NULL, and a drop and an add in one statement follow', async () => {
    const db = await fresh(300);
    const run = sync(db);
    await copyDone(run);
    expect(run.stderr()).toContain('event trigger tributary_ddl_v1 installed');
    // Rows written until just before it; none after it: only the trigger's message shows it.
    const writer = await startContractWriter(src, db, 'items', 400, 1);
    await new Promise((r) => setTimeout(r, 300));
    await writer.stop();
    await src.exec(db, 'ALTER TABLE items RENAME COLUMN pad TO padding');
    await waitUntil('the rename on the target', async () => /column \\?"pad\\?" renamed to \\?"padding\\?"/.test(run.stderr()) || run.child.exitCode !== null, 30_000);
    expect(run.child.exitCode, run.stderr().slice(-3000)).toBeNull();
    await src.exec(db, "ALTER TABLE items ALTER COLUMN k SET DEFAULT 'dk'");
    await src.exec(db, 'ALTER TABLE items ALTER COLUMN padding SET NOT NULL');
    await src.exec(db, 'ALTER TABLE items DROP COLUMN amount, ADD COLUMN amount2 numeric(14,3) DEFAULT 2.5');
    await src.exec(db, "INSERT INTO items (id, v, padding) VALUES (9001, 1, 'p')");
    await converged(src, dst, db, 'items', ['id', 'k', 'v', 'padding', 'amount2'], run);
    expect(await dst.rows(db, 'items', ['k'], 'id').then((r) => r.at(-1))).toBe('dk');
    expect(run.stderr()).toMatch(/column \\?"k\\?" SET DEFAULT/);
    expect(run.stderr()).toMatch(/column \\?"padding\\?" SET NOT NULL/);
    expect(run.stderr()).toMatch(/column \\?"amount\\?" dropped; column \\?"amount2\\?" numeric\(14,3\) added/);
    // The target's NOT NULL: a row without padding is refused there too.
    const c = await dst.client(db);
    await expect(c.query('INSERT INTO items (id, v, amount2) VALUES (9999, 1, 1)')).rejects.toThrow();
    await c.end();
    await stop(run);
    await dropSlots(db);
  });

  /** The target's indexes of `table`: one line per index, 'unique'/'index' and its columns ('k,v'). */
  const targetIndexes = async (db: string, table: string): Promise<string[]> => {
    if (dstName === 'postgres') {
      // pg_indexes reads index definitions outside the target's DDL transactions: a lookup may fail while one commits (waitUntil asks again).
      const defs = await dst.rows(db, 'pg_indexes', ['schemaname', 'tablename', 'indexdef'], 'indexdef').catch(() => ['(read again)']);
      return defs
        .filter((r) => r.startsWith(`public|${table}|`) && !/_pkey\b/.test(r))
        .map((r) => `${/UNIQUE/.test(r) ? 'unique' : 'index'} ${(/\(([^)]*)\)\s*$/.exec(r)?.[1] ?? '').replace(/\s/g, '')}`)
        .sort();
    }
    const rows = await dst.rows('information_schema', 'STATISTICS', ['TABLE_SCHEMA', 'TABLE_NAME', 'INDEX_NAME', 'NON_UNIQUE', 'COLUMN_NAME'], 'INDEX_NAME, SEQ_IN_INDEX');
    const by = new Map<string, { unique: boolean; cols: string[] }>();
    for (const r of rows) {
      const [schema, t, name, nonUnique, col] = r.split('|') as [string, string, string, string, string];
      if (schema !== db || t !== table || name === 'PRIMARY') continue;
      const e = by.get(name) ?? { unique: nonUnique === '0', cols: [] };
      e.cols.push(col);
      by.set(name, e);
    }
    return [...by.values()].map((e) => `${e.unique ? 'unique' : 'index'} ${e.cols.join(',')}`).sort();
  };

  it('table-level DDL follows: RENAME TO (alone, and after rows of another table in its transaction), CREATE/ALTER/DROP INDEX, a partitioned table created, DROP TABLE; a restart goes on', async () => {
    const db = await fresh(300);
    await src.exec(db, contractTableSql('postgres', 'gone'));
    await fillContractTable(src, db, 'gone', 50);
    // An index there before the sync (the target may not have built it) and dropped while streaming.
    await src.exec(db, 'CREATE INDEX items_amount ON items (amount)');
    const run = sync(db);
    await copyDone(run);
    const c = await src.client(db);
    await c.query("INSERT INTO items (id, k, v) VALUES (1001, 'before', 1)");
    await c.query('ALTER TABLE items RENAME TO items_renamed');
    await c.query("INSERT INTO items_renamed (id, k, v) VALUES (1002, 'after', 2)");
    await c.query("UPDATE items_renamed SET pad = 'renamed' WHERE id <= 10");
    await c.query("BEGIN; INSERT INTO gone (id, k, v) VALUES (1003, 'first', 3); ALTER TABLE items_renamed RENAME TO items2; INSERT INTO items2 (id, k, v) VALUES (1003, 'second', 3); COMMIT");
    await c.query("INSERT INTO items2 (id, k, v) VALUES (1004, 'later', 4)");
    await converged(src, dst, db, 'items2', ['id', 'k', 'v', 'amount', 'pad'], run);
    await converged(src, dst, db, 'gone', ['id', 'k', 'v'], run);
    expect(run.stderr()).toMatch(/renamed to \\?"items_renamed\\?"/);
    expect(run.stderr()).toMatch(/renamed to \\?"items2\\?"/);

    await c.query('CREATE INDEX items_v ON items2 (v)');
    await c.query('CREATE UNIQUE INDEX items_kv ON items2 (k, v)');
    await c.query('ALTER INDEX items_v RENAME TO items_v2');
    await c.query('CREATE INDEX items_part ON items2 (amount) WHERE amount > 10');
    await waitUntil('the indexes on the target', async () => {
      const now = await targetIndexes(db, 'items2');
      // The rename comes after the indexes: wait for it too, or the check below races it.
      return (['index v', 'unique k,v'].every((i) => now.includes(i)) && /index \\?"items_v\\?" renamed to/.test(run.stderr())) || run.child.exitCode !== null;
    }, 30_000);
    expect(run.child.exitCode, run.stderr().slice(-3000)).toBeNull();
    expect(run.stderr()).toMatch(/index \\?"items_v\\?" renamed to \\?"items_v2\\?"/);
    await c.query('DROP INDEX items_kv');
    await waitUntil('the unique index dropped on the target', async () => !(await targetIndexes(db, 'items2')).includes('unique k,v') || run.child.exitCode !== null, 30_000);
    expect(run.child.exitCode, run.stderr().slice(-3000)).toBeNull();
    expect(await targetIndexes(db, 'items2')).toContain('index v');
    await c.query('DROP INDEX items_amount');
    await c.query('DROP INDEX items_part');
    await c.query("INSERT INTO items2 (id, k, v) VALUES (1010, 'after index drops', 10)");
    await converged(src, dst, db, 'items2', ['id', 'k', 'v', 'amount', 'pad'], run);
    expect(await targetIndexes(db, 'items2')).not.toContain('index amount');

    // A partitioned table created while streaming is adopted; its partition is not a table of its own.
    await c.query('CREATE TABLE parted (id bigint PRIMARY KEY, k varchar(32) NOT NULL, v int NOT NULL) PARTITION BY RANGE (id)');
    await c.query("CREATE TABLE parted_low PARTITION OF parted FOR VALUES FROM (0) TO (1000); INSERT INTO parted VALUES (1, 'p1', 1), (2, 'p2', 2)");
    // Rows written while the partition's adoption is still pending: pgoutput sends the partition's
    // own Relation message beside its root's, which is not a change of a table of the sync's.
    for (let i = 3; i < 40; i++) await c.query(`INSERT INTO parted VALUES (${i}, 'p${i}', ${i})`);
    await converged(src, dst, db, 'parted', ['id', 'k', 'v'], run);
    expect(await dst.count(db, 'parted_low').then(() => 'there', () => 'absent')).toBe('absent');

    await c.query('DROP TABLE gone');
    await c.query("INSERT INTO items2 (id, k, v) VALUES (1005, 'after drop', 5)");
    await converged(src, dst, db, 'items2', ['id', 'k', 'v', 'amount', 'pad'], run);
    await waitUntil('gone dropped on the target', async () => (await dst.count(db, 'gone').then(() => false, () => true)) || run.child.exitCode !== null, 30_000);
    expect(run.child.exitCode, run.stderr().slice(-3000)).toBeNull();
    await stop(run);

    // A restart takes the tables as the stream left them: items2 under its name, gone no more.
    const again = sync(db);
    await c.query("INSERT INTO items2 (id, k, v) VALUES (1006, 'restarted', 6)");
    await converged(src, dst, db, 'items2', ['id', 'k', 'v', 'amount', 'pad'], again);
    await c.end();
    await stop(again);
    await dropSlots(db);
  });

  it('foreign keys follow: ADD CONSTRAINT … FOREIGN KEY, a key with its new column, its column dropped, DROP CONSTRAINT; the source\'s cascades arrive as rows', async () => {
    const db = await fresh(0);
    await src.exec(
      db,
      `CREATE TABLE parent (id int PRIMARY KEY, name text);
       CREATE TABLE child (id int PRIMARY KEY, pid int, note text);
       INSERT INTO parent SELECT g, 'p' || g FROM generate_series(1, 20) g;
       INSERT INTO child SELECT g, 1 + g % 20, 'c' || g FROM generate_series(1, 200) g`,
    );
    const run = sync(db);
    await copyDone(run);
    const c = await src.client(db);
    const same = async (what: string) => {
      await waitUntil(what, async () => JSON.stringify(await foreignKeyLines(dst, db)) === JSON.stringify(await foreignKeyLines(src, db)) || run.child.exitCode !== null, 30_000);
      expect(run.child.exitCode, run.stderr().slice(-3000)).toBeNull();
      expect(await foreignKeyLines(dst, db)).toEqual(await foreignKeyLines(src, db));
    };
    await c.query('ALTER TABLE child ADD CONSTRAINT child_parent FOREIGN KEY (pid) REFERENCES parent (id) ON UPDATE CASCADE ON DELETE CASCADE');
    await same('the foreign key on the target');
    expect(await foreignKeyLines(dst, db)).toEqual(['child.child_parent (pid) -> parent (id) ON UPDATE CASCADE ON DELETE CASCADE']);
    // The source's cascades are logged as rows of child: the target's own key must not refuse them.
    await c.query('DELETE FROM parent WHERE id = 3');
    await c.query('UPDATE parent SET id = 100 WHERE id = 4');
    // A key with its new column in one statement, then that column dropped (the key goes first).
    await c.query('ALTER TABLE child ADD COLUMN other int REFERENCES parent (id) ON DELETE SET NULL');
    await c.query('UPDATE child SET other = 5 WHERE id <= 50');
    await same('the new column\'s key on the target');
    expect((await foreignKeyLines(dst, db)).length).toBe(2);
    await c.query('DELETE FROM parent WHERE id = 5');
    await converged(src, dst, db, 'child', ['id', 'pid', 'note', 'other'], run);
    await c.query('ALTER TABLE child DROP COLUMN other');
    await same('the dropped column\'s key gone on the target');
    await c.query('ALTER TABLE child DROP CONSTRAINT child_parent');
    await same('the key dropped on the target');
    expect(await foreignKeyLines(dst, db)).toEqual([]);
    // Without the key, the target takes a child whose parent is gone.
    await c.query("INSERT INTO child (id, pid, note) VALUES (1000, 999, 'orphan')");
    await converged(src, dst, db, 'child', ['id', 'pid', 'note'], run);
    await converged(src, dst, db, 'parent', ['id', 'name'], run);
    expect(run.stderr()).toMatch(/foreign key \\?"child_parent\\?" FOREIGN KEY \(\\?"pid\\?"\) REFERENCES \\?"parent\\?" \(\\?"id\\?"\) ON UPDATE CASCADE ON DELETE CASCADE added/);
    expect(run.stderr()).toMatch(/foreign key \\?"child_parent\\?" dropped/);
    await c.end();
    await stop(run);
    await dropSlots(db);
  });

  it('user types follow: ALTER TYPE … ADD VALUE, ALTER DOMAIN (CHECK, DEFAULT), ALTER TYPE … ADD ATTRIBUTE; a label renamed stops the sync naming the type', async () => {
    const db = await fresh(0);
    await src.exec(
      db,
      `CREATE TYPE mood AS ENUM ('sad', 'ok');
       CREATE DOMAIN score AS int CHECK (VALUE >= 0);
       CREATE TYPE pair AS (a int, b text);
       CREATE TABLE u (id int PRIMARY KEY, m mood NOT NULL DEFAULT 'ok', s score, p pair);
       INSERT INTO u SELECT g, (CASE WHEN g % 2 = 0 THEN 'sad' ELSE 'ok' END)::mood, g, ROW(g, 'b' || g)::pair FROM generate_series(1, 100) g`,
    );
    const run = sync(db);
    await copyDone(run);
    await src.exec(db, "ALTER TYPE mood ADD VALUE 'happy'");
    await src.exec(db, "ALTER TYPE mood ADD VALUE 'meh' BEFORE 'ok'");
    await src.exec(db, "INSERT INTO u (id, m, s) VALUES (101, 'happy', 1), (102, 'meh', 2); UPDATE u SET m = 'happy' WHERE id <= 10");
    await converged(src, dst, db, 'u', ['id', 'm', 's'], run);
    // The type is described when the stream reaches the first statement: the second's label may be in it already.
    expect(run.stderr()).toMatch(/ALTER TYPE \\?"mood\\?": enum labels 'sad', 'ok' → 'sad', (?:'meh', )?'ok', 'happy'; columns u\.m/);
    await src.exec(db, 'ALTER DOMAIN score ADD CONSTRAINT score_max CHECK (VALUE <= 1000)');
    await src.exec(db, 'ALTER DOMAIN score SET DEFAULT 7');
    await src.exec(db, "INSERT INTO u (id, m) VALUES (103, 'ok')");
    await converged(src, dst, db, 'u', ['id', 'm', 's'], run);
    expect(run.stderr()).toMatch(/ALTER DOMAIN \\?"score\\?": domain (?:SET DEFAULT 7, )?ADD CONSTRAINT \\?"score_max\\?" CHECK/);
    if (dstName === 'postgres') {
      // The target's domain is the source's: its new CHECK refuses, its default is there.
      const t = await dst.client(db);
      await expect(t.query("INSERT INTO u (id, m, s) VALUES (9999, 'ok', 5000)")).rejects.toThrow(/score_max/);
      await t.end();
      expect(await dst.rows(db, 'pg_type', ['typname', 'typdefault'], 'typname')).toContain('score|7');
      await src.exec(db, 'ALTER TYPE pair ADD ATTRIBUTE c numeric CASCADE');
      await src.exec(db, "INSERT INTO u (id, m, s, p) VALUES (104, 'ok', 3, ROW(1, 'x', 2.5)); UPDATE u SET p = ROW(2, 'y', 0.5) WHERE id = 1");
      await converged(src, dst, db, 'u', ['id', 'm', 's', 'p'], run);
    } else {
      // A MySQL target holds the enum as ENUM(…): widened in the source's order.
      const cols = await dst.rows('information_schema', 'COLUMNS', ['TABLE_SCHEMA', 'TABLE_NAME', 'COLUMN_NAME', 'COLUMN_TYPE'], 'COLUMN_NAME');
      expect(cols).toContain(`${db}|u|m|enum('sad','meh','ok','happy')`);
    }
    await src.exec(db, "ALTER TYPE mood RENAME VALUE 'meh' TO 'fine'");
    const timer = setTimeout(() => run.child.kill('SIGKILL'), 60_000);
    expect(await run.exited).not.toBe(0);
    clearTimeout(timer);
    expect(run.stderr()).toContain('TRIB_DDL_UNSUPPORTED');
    expect(run.stderr()).toMatch(/the source's enum type mood changed and the sync cannot follow it: its labels 'sad', 'meh', 'ok', 'happy' became 'sad', 'fine', 'ok', 'happy'/);
    await dropSlots(db);
  });

  it('a table created and a type change, each committed but not yet visible to other sessions when the stream receives it (a synchronous standby holds them), are described once they are', async () => {
    const db = await fresh(0);
    await src.exec(db, "CREATE TYPE mood AS ENUM ('sad', 'ok'); CREATE TABLE u (id int PRIMARY KEY, m mood NOT NULL); INSERT INTO u VALUES (1, 'ok')");
    const run = sync(db);
    await copyDone(run);
    // A synchronous standby that never confirms: a session committing with synchronous_commit = on
    // has its commit flushed (and sent to the slot) but stays in progress for every other session
    // until it is cancelled. Every other session commits locally.
    for (const sql of ["ALTER SYSTEM SET synchronous_standby_names = 'tributary_test_nosuch'", "ALTER SYSTEM SET synchronous_commit = 'local'", 'SELECT pg_reload_conf()']) await src.exec('postgres', sql);
    const held: { end(): Promise<void> }[] = [];
    const committing: Promise<unknown>[] = [];
    try {
      for (const sql of ['CREATE TABLE v (id int PRIMARY KEY, note text)', "ALTER TYPE mood ADD VALUE 'happy'"]) {
        const c = await src.client(db);
        held.push(c);
        await c.query("SET application_name = 'tributary_held_commit'");
        await c.query('SET synchronous_commit = on');
        committing.push(c.query(sql).catch(() => undefined));
        await waitUntil('the commit waiting for the standby', async () => (await src.rows('postgres', 'pg_stat_activity', ['wait_event'], 'wait_event')).filter((w) => w === 'SyncRep').length === held.length, 10_000, 20);
      }
      await waitUntil('the stream waiting for the transaction to be visible', () => run.stderr().includes('not yet visible to other sessions'), 20_000);
    } finally {
      await src.exec('postgres', "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'tributary_held_commit'");
      await Promise.all(committing);
      for (const sql of ['ALTER SYSTEM RESET synchronous_standby_names', 'ALTER SYSTEM RESET synchronous_commit', 'SELECT pg_reload_conf()']) await src.exec('postgres', sql);
      for (const c of held) await c.end();
    }
    await src.exec(db, "INSERT INTO u VALUES (2, 'happy'); INSERT INTO v VALUES (1, 'one'), (2, 'two')");
    await converged(src, dst, db, 'u', ['id', 'm'], run);
    await converged(src, dst, db, 'v', ['id', 'note'], run);
    expect(run.stderr()).toMatch(/ALTER TYPE \\?"mood\\?": enum labels 'sad', 'ok' → 'sad', 'ok', 'happy'/);
    expect(run.stderr()).not.toContain('TRIB_DDL_UNSUPPORTED');
    await stop(run);
    await dropSlots(db);
  });

  it("an older tributary's trigger (ALTER TABLE only) is reported by check and widened in place by sync", async () => {
    const db = await fresh(10);
    await src.exec(
      db,
      `CREATE FUNCTION public.tributary_ddl_v1() RETURNS event_trigger LANGUAGE plpgsql AS $fn$ BEGIN NULL; EXCEPTION WHEN OTHERS THEN NULL; END $fn$;
       CREATE EVENT TRIGGER tributary_ddl_v1 ON ddl_command_end WHEN TAG IN ('ALTER TABLE') EXECUTE FUNCTION public.tributary_ddl_v1()`,
    );
    const line = (out: string) => out.split('\n').find((l) => l.includes('event trigger tributary_ddl_v1:')) ?? '';
    const before = await runCli(['check', '--source', src.url(db), '--target', dst.url(db)]);
    expect(line(before.stdout), before.stdout).toMatch(/✔ event trigger tributary_ddl_v1: installed by an older tributary: sync will install it/);
    const run = sync(db);
    await copyDone(run);
    expect(run.stderr()).toContain('event trigger tributary_ddl_v1 installed');
    await src.exec(db, 'ALTER TABLE items RENAME TO items_after');
    await src.exec(db, "INSERT INTO items_after (id, k, v) VALUES (500, 'x', 1)");
    await converged(src, dst, db, 'items_after', ['id', 'k', 'v'], run);
    await stop(run);
    const after = await runCli(['check', '--source', src.url(db), '--target', dst.url(db)]);
    expect(line(after.stdout), after.stdout).toMatch(/✔ event trigger tributary_ddl_v1: installed: schema changes reach the stream/);
    expect((await src.rows(db, 'pg_event_trigger', ['evtname'], 'evtname')).sort()).toEqual(['tributary_ddl_v1', 'tributary_ddl_v1_drop']);
    await dropSlots(db);
  });

  it('a table renamed out of the selection stops the sync naming it; one created into it is adopted (copied while streaming), one without a key stops it', async () => {
    const db = await fresh(50);
    const run = sync(db, ['--tables', 'items*']);
    await copyDone(run);
    await src.exec(db, 'ALTER TABLE items RENAME TO other');
    const timer = setTimeout(() => run.child.kill('SIGKILL'), 60_000);
    expect(await run.exited).not.toBe(0);
    clearTimeout(timer);
    expect(run.stderr()).toContain('TRIB_DDL_UNSUPPORTED');
    expect(run.stderr()).toMatch(/the rename moves synced table items to other, which the table selection/);
    await src.exec(db, 'ALTER TABLE other RENAME TO items');

    // Restarted, it goes on; a table created under a selected name is adopted: rows written in its
    // own transaction and before it joined the publication come with its copy, later ones stream.
    const second = sync(db, ['--tables', 'items*']);
    await src.exec(db, "INSERT INTO items (id, k, v) VALUES (2001, 'back', 1)");
    await converged(src, dst, db, 'items', ['id', 'k', 'v'], second);
    await src.exec(db, `BEGIN; ${contractTableSql('postgres', 'items_new')}; INSERT INTO items_new SELECT g, 'new' || g, g FROM generate_series(1, 2000) g; COMMIT`);
    await src.exec(db, "INSERT INTO items_new (id, k, v) VALUES (5001, 'after', 1); UPDATE items_new SET v = v + 1 WHERE id <= 100; DELETE FROM items_new WHERE id BETWEEN 200 AND 210");
    await src.exec(db, "CREATE TABLE other_new (id int PRIMARY KEY); INSERT INTO other_new VALUES (1)");
    await converged(src, dst, db, 'items_new', ['id', 'k', 'v'], second);
    expect(second.stderr()).toContain('table entering the selection while streaming');
    await src.exec(db, "INSERT INTO items_new (id, k, v) VALUES (5002, 'later', 2)");
    await converged(src, dst, db, 'items_new', ['id', 'k', 'v'], second);
    expect(await dst.count(db, 'other_new').then(() => 'there', () => 'absent')).toBe('absent');
    await stop(second);
    // A restart goes on with it; a table without a key created into the selection stops the sync.
    const third = sync(db, ['--tables', 'items*']);
    await src.exec(db, "INSERT INTO items_new (id, k, v) VALUES (5003, 'restarted', 3)");
    await converged(src, dst, db, 'items_new', ['id', 'k', 'v'], third);
    await src.exec(db, 'CREATE TABLE items_nokey (a int)');
    const timer2 = setTimeout(() => third.child.kill('SIGKILL'), 60_000);
    expect(await third.exited).not.toBe(0);
    clearTimeout(timer2);
    expect(third.stderr()).toMatch(/table items_nokey cannot be brought into the running sync: it has no primary key/);
    // Refused before it joined the publication (which would refuse its UPDATEs and DELETEs on the source).
    expect(await src.rows(db, 'pg_publication_tables', ['tablename'], 'tablename')).not.toContain('items_nokey');
    await src.exec(db, 'UPDATE items_nokey SET a = 1');
    await dropSlots(db);
  });
});

describe.each([['postgres'] as const, ['mysql'] as const])('DDL while streaming postgres → %s, a role that is no superuser', (dstName: EngineName) => {
  const { dropSlots, ends } = pgSourceCase(dstName, 'r');
  let src: Engine;
  let dst: Engine;
  beforeAll(() => ({ src, dst } = ends()));

  it('REPLICATION, owns the tables, may not create the event trigger: check says so with the fix, the sync runs, column changes follow from Relation messages', async () => {
    const db = `r${++dbSeq}_${dstName.slice(0, 2)}`;
    const role = 'trib_norm';
    await src.createDatabase(db);
    await src.exec(db, `DO $$ BEGIN CREATE ROLE ${role} LOGIN REPLICATION NOSUPERUSER; EXCEPTION WHEN duplicate_object THEN NULL; END $$`);
    await src.exec(db, `${contractTableSql('postgres', 'items')}; ALTER TABLE items OWNER TO ${role}; GRANT CREATE ON DATABASE "${db}" TO ${role}`);
    await fillContractTable(src, db, 'items', 200);
    await dst.createDatabase(db);
    const url = src.url(db).replace('postgres@', `${role}@`);
    expect(url).toContain(`${role}@`);

    const chk = await runCli(['check', '--source', url, '--target', dst.url(db)]);
    const line = chk.stdout.split('\n').find((l) => l.includes('event trigger tributary_ddl_v1:')) ?? '';
    expect(line, chk.stdout).toMatch(/^ {2}⚠ event trigger tributary_ddl_v1: not installed, and the role may not install it \(not a superuser\): column renames stop the sync.*; fix: have a superuser run tributary sync once against this database/);

    const run = startCli(['sync', '--source', url, '--target', dst.url(db), '--flush-interval', '100ms', '--checksum-interval', '1s']);
    track(run);
    await copyDone(run);
    expect(run.stderr()).toContain('may not install it (CREATE EVENT TRIGGER needs a superuser)');
    // The owner changes the table (as an application would), no superuser involved.
    const owner = await import('pg').then((m) => new m.default.Client({ connectionString: url }));
    await owner.connect();
    await owner.query("ALTER TABLE items ADD COLUMN note varchar(20) NOT NULL DEFAULT 'none'");
    await owner.query("INSERT INTO items (id, k, v, note) VALUES (1001, 'a', 1, 'n1')");
    await owner.query('ALTER TABLE items DROP COLUMN pad');
    await owner.query("INSERT INTO items (id, k, v, note) VALUES (1002, 'b', 2, 'n2')");
    await owner.end();
    await converged(src, dst, db, 'items', ['id', 'k', 'v', 'amount', 'note'], run);
    expect(run.stderr()).toMatch(/column \\?"note\\?" character varying\(20\) added/);
    expect(await src.rows(db, 'pg_event_trigger', ['evtname'], 'evtname')).toEqual([]);
    run.child.kill('SIGTERM');
    expect(await run.exited, run.stderr().slice(-3000)).toBe(0);
    await dropSlots(db);
  });
});
