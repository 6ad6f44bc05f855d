/**
 * The schema follows a MySQL/MariaDB source while streaming (issue 12), to a MariaDB and to a
 * PostgreSQL target, on real servers: ADD COLUMN with a default under writes (old rows get the
 * default on the target), catch-up across DDL made while the sync was stopped (rows, DROP COLUMN,
 * rows, ADD COLUMN, rows), statements during a table's initial copy (copied again), indexes renamed and dropped by name, CHANGE COLUMN, a three-way RENAME TABLE swap under writes,
 * pt-online-schema-change under writes, a scripted gh-ost run under writes (and one across a restart), CREATE and DROP TABLE, a table renamed into the selection from outside it (copied while streaming) and CREATE TABLE … AS SELECT, and the replay of a statement after a crash
 * between the target's DDL and its checkpoint.
 */
import { spawn } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { startCli, waitUntil, type CliRun } from '../helpers/mysql.js';
import { converged, copyDone } from '../helpers/converge.js';
import { contractTableSql, enginePoolRig, fillContractTable, foreignKeyLines, markerStreamed, startContractWriter, type Engine, type EngineName } from '../helpers/engines.js';

const { pool, track } = enginePoolRig();
let dbSeq = 0;

describe.each([['mysql', 'mysql'] as const, ['mysql', 'postgres'] as const])('DDL while streaming %s → %s', (srcName: EngineName, dstName: EngineName) => {
  let src: Engine;
  let dst: Engine;

  beforeAll(async () => {
    src = await pool.get('source', srcName);
    dst = await pool.get('target', dstName);
  });

  const fresh = async (rows: number, tables = ['items']): Promise<string> => {
    const db = `d${++dbSeq}_${dstName.slice(0, 2)}`;
    await src.createDatabase(db);
    for (const t of tables) {
      await src.exec(db, contractTableSql(srcName, t));
      if (rows > 0) await fillContractTable(src, db, t, rows);
    }
    await dst.createDatabase(db);
    return db;
  };

  const sync = (db: string, extra: string[] = []): CliRun => {
    const run = startCli(['sync', '--source', src.url(db), '--target', dst.url(db), '--flush-interval', '100ms', '--checksum-interval', '1s', ...extra]);
    track(run);
    return run;
  };

  const stop = async (run: CliRun): Promise<void> => {
    run.child.kill('SIGTERM');
    expect(await run.exited, run.stderr().slice(-3000)).toBe(0);
  };

  it('ADD COLUMN with a default under writes: old rows get the default on the target, new rows their values', async () => {
    const db = await fresh(2000);
    const run = sync(db);
    await copyDone(run);
    const writer = await startContractWriter(src, db, 'items', 3000, 2);
    await new Promise((r) => setTimeout(r, 400));
    await src.exec(db, "ALTER TABLE items ADD COLUMN note VARCHAR(20) NOT NULL DEFAULT 'none'");
    const c = await src.client(db);
    for (let i = 0; i < 50; i++) await c.query(`INSERT INTO items (id, k, v, note) VALUES (${10_000 + i}, 'added', ${i}, 'n${i}')`);
    await c.query("UPDATE items SET note = 'touched' WHERE id BETWEEN 1 AND 10");
    await c.end();
    await new Promise((r) => setTimeout(r, 400));
    await writer.stop();
    await converged(src, dst, db, 'items', ['id', 'k', 'v', 'amount', 'pad', 'note'], run);
    expect(await dst.rows(db, 'items', ['note'], 'id').then((r) => r.filter((n) => n === 'none').length)).toBeGreaterThan(1000);
    expect(run.stderr()).toContain('schema change applied to the target');
    // The continuous checksum saw no difference to repair across the change.
    expect(run.stderr()).not.toContain('repaired what differed');
    await stop(run);
  });

  it('a schema change during a table\'s initial copy, under writes, copies the table again from the start with its new definition', async () => {
    const db = await fresh(6000);
    // Slow enough that both statements land while the table is being copied.
    const run = sync(db, ['--copy-rate-limit', '1500', '--chunk-size', '300']);
    const writer = await startContractWriter(src, db, 'items', 7000, 2);
    await waitUntil('part of the copy', async () => (await dst.rows(db, 'items', ['id'], 'id').catch(() => [])).length >= 1500, 60_000);
    await src.exec(db, "ALTER TABLE items ADD COLUMN note VARCHAR(20) NOT NULL DEFAULT 'none'");
    const c = await src.client(db);
    for (let i = 0; i < 20; i++) await c.query(`INSERT INTO items (id, k, v, note) VALUES (${20_000 + i}, 'added', ${i}, 'n${i}')`);
    await c.query("UPDATE items SET note = 'touched' WHERE id BETWEEN 1 AND 10");
    await waitUntil('the copy to start again', () => run.stderr().includes('copying the table again from the start'), 30_000);
    await waitUntil('part of the second copy', async () => (await dst.rows(db, 'items', ['note'], 'id').catch(() => [])).filter((n) => n === 'none').length >= 1500, 60_000);
    await c.query('ALTER TABLE items MODIFY v BIGINT NOT NULL');
    await c.query('UPDATE items SET v = 9007199254740993 WHERE id = 11');
    await c.end();
    await writer.stop();
    await copyDone(run, 90_000);
    await converged(src, dst, db, 'items', ['id', 'k', 'v', 'amount', 'pad', 'note'], run);
    expect(run.stderr().split('copying the table again from the start').length - 1).toBeGreaterThanOrEqual(2);
    await stop(run);
  });

  it('follows indexes by name: RENAME INDEX, then DROP INDEX of a unique key after other changes, so later duplicates are written', async () => {
    const db = await fresh(200);
    await src.exec(db, 'ALTER TABLE items ADD COLUMN code INT NULL, ADD UNIQUE KEY uk_code (code)');
    await src.exec(db, 'UPDATE items SET code = id WHERE id <= 5');
    const run = sync(db);
    await copyDone(run);
    const c = await src.client(db);
    await c.query('ALTER TABLE items RENAME INDEX uk_code TO uk_code2');
    await c.query('ALTER TABLE items ADD COLUMN extra INT NOT NULL DEFAULT 3');
    await c.query('ALTER TABLE items DROP INDEX uk_code2');
    // Duplicates of a key that no longer is one: the target must hold both rows.
    await c.query("INSERT INTO items (id, k, v, code, extra) VALUES (9001, 'dup', 1, 1, 4), (9002, 'dup', 2, 1, 5)");
    await c.end();
    await converged(src, dst, db, 'items', ['id', 'k', 'v', 'code', 'extra'], run);
    expect(run.stderr()).not.toContain('TRIB_DDL_UNSUPPORTED');
    await stop(run);
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
    await c.query('ALTER TABLE items ADD COLUMN extra INT NOT NULL DEFAULT 7');
    await c.query("INSERT INTO items (id, k, v, amount, extra) VALUES (1003, 'c', 3, 3.50, 42)");
    await c.query('UPDATE items SET extra = 8 WHERE id = 3');
    await c.end();
    const second = sync(db);
    await converged(src, dst, db, 'items', ['id', 'k', 'v', 'amount', 'extra'], second);
    await stop(second);
  });

  it('follows CHANGE COLUMN (rename and retype) and a three-way RENAME TABLE swap under writes', async () => {
    const db = await fresh(300, ['a', 'b']);
    const run = sync(db);
    await copyDone(run);
    const c = await src.client(db);
    await c.query("UPDATE a SET k = 'was a'");
    await c.query("UPDATE b SET k = 'was b'");
    await c.query('RENAME TABLE a TO tmp, b TO a, tmp TO b');
    await c.query("INSERT INTO a (id, k, v) VALUES (5000, 'new in a', 1)");
    await c.query("INSERT INTO b (id, k, v) VALUES (5000, 'new in b', 2)");
    await c.query('ALTER TABLE a CHANGE v value BIGINT NOT NULL');
    await c.query("INSERT INTO a (id, k, value) VALUES (5001, 'after change', 9007199254740993)");
    await c.end();
    await converged(src, dst, db, 'a', ['id', 'k', 'value', 'amount', 'pad'], run);
    await converged(src, dst, db, 'b', ['id', 'k', 'v', 'amount', 'pad'], run);
    expect(await dst.rows(db, 'b', ['k'], 'id').then((r) => r[0])).toBe('was a');
    await stop(run);
  });

  it('follows primary key changes under writes: the key moved to (k, id), to a unique key added with the drop, to a column added, back to the unique key; later changes apply by the new key', async () => {
    const db = await fresh(1500);
    const run = sync(db);
    await copyDone(run);
    const writer = await startContractWriter(src, db, 'items', 3000, 2);
    await new Promise((r) => setTimeout(r, 300));
    const c = await src.client(db);
    await c.query('ALTER TABLE items DROP PRIMARY KEY, ADD PRIMARY KEY (k, id)');
    await c.query("UPDATE items SET v = -1 WHERE id BETWEEN 1 AND 20");
    await c.query("INSERT INTO items (id, k, v) VALUES (9001, 'k1', 1)");
    await new Promise((r) => setTimeout(r, 300));
    // The writer inserts rows without `code`: it stops before the column becomes the key.
    await writer.stop();
    await c.query('ALTER TABLE items DROP PRIMARY KEY, ADD COLUMN code VARCHAR(40) NOT NULL DEFAULT \'\', ADD UNIQUE KEY by_id (id)');
    await c.query("UPDATE items SET code = CONCAT('c', id), v = v + 1 WHERE id % 3 = 0");
    await c.query("UPDATE items SET code = CONCAT('c', id) WHERE code = ''");
    await c.query('ALTER TABLE items ADD PRIMARY KEY (code)');
    await c.query("DELETE FROM items WHERE code = 'c9001'");
    await c.query("UPDATE items SET code = 'renamed' WHERE id = 5");
    // The primary key dropped: the unique key on id the table had becomes its key again.
    await c.query('ALTER TABLE items DROP PRIMARY KEY');
    await c.query('UPDATE items SET v = v + 7 WHERE id < 600');
    await c.query("INSERT INTO items (id, k, v, code) VALUES (9002, 'k9002', 2, 'c9002')");
    await c.end();
    await converged(src, dst, db, 'items', ['id', 'k', 'v', 'amount', 'pad', 'code'], run);
    expect(run.stderr()).not.toContain('TRIB_DDL_UNSUPPORTED');
    expect(run.stderr()).not.toContain('repaired what differed');
    await stop(run);
  });

  it('follows pt-online-schema-change under writes: the shadow\'s rows are not copied, its ALTER reaches the real table at the swap', async () => {
    const db = await fresh(3000);
    const run = sync(db);
    await copyDone(run);
    const writer = await startContractWriter(src, db, 'items', 4000, 2);
    const url = new URL(src.url(db));
    const osc = await runTool('pt-online-schema-change', [
      '--alter',
      "ADD COLUMN note VARCHAR(20) NOT NULL DEFAULT 'none'",
      '--execute',
      '--recursion-method=none',
      '--no-check-replication-filters',
      '--chunk-size=500',
      `h=${url.hostname},P=${url.port},u=${decodeURIComponent(url.username)},D=${db},t=items`,
    ]);
    expect(osc.code, osc.output).toBe(0);
    await writer.stop();
    const c = await src.client(db);
    await c.query("INSERT INTO items (id, k, v, note) VALUES (90000, 'after osc', 1, 'set')");
    await c.end();
    await converged(src, dst, db, 'items', ['id', 'k', 'v', 'amount', 'pad', 'note'], run);
    // The tool's shadow and old tables never reached the target.
    expect(await dst.count(db, '_items_new').catch(() => -1)).toBe(-1);
    expect(await dst.count(db, '_items_old').catch(() => -1)).toBe(-1);
    await stop(run);
  });

  it('follows a scripted gh-ost run under writes: changelog, shadow created like the table and altered, row copy, cut-over with its sentry', async () => {
    const db = await fresh(2000);
    const run = sync(db);
    await copyDone(run);
    const writer = await startContractWriter(src, db, 'items', 3000, 1);
    const c = await src.client(db);
    // The statements gh-ost logs, in its order (gh-ost's own binlog reader is played by the
    // final REPLACE/DELETE: the shadow catches up with the table before the cut-over).
    const q = (sql: string) => c.query(sql);
    await q(`create /* gh-ost */ table \`${db}\`.\`_items_ghc\` (id bigint auto_increment, last_update timestamp not null default current_timestamp on update current_timestamp, hint varchar(64) charset ascii not null, value varchar(4096) charset ascii not null, primary key(id), unique key hint_uidx(hint)) auto_increment=256`);
    await q(`create /* gh-ost */ table \`${db}\`.\`_items_gho\` like \`${db}\`.\`items\``);
    await q(`alter /* gh-ost */ table \`${db}\`.\`_items_gho\` ADD COLUMN note VARCHAR(20) NOT NULL DEFAULT 'none'`);
    await q(`insert /* gh-ost */ into \`${db}\`.\`_items_ghc\` (id, hint, value) values (NULL, 'state', 'GhostTableMigrated') on duplicate key update last_update=NOW(), value=VALUES(value)`);
    for (let lo = 0; lo < 3000; lo += 500) {
      await q(`insert /* gh-ost */ ignore into \`${db}\`.\`_items_gho\` (id, k, v, amount, pad) (select id, k, v, amount, pad from \`${db}\`.\`items\` force index (PRIMARY) where id > ${lo} and id <= ${lo + 500} lock in share mode)`);
    }
    await writer.stop();
    await q(`replace /* gh-ost */ into \`${db}\`.\`_items_gho\` (id, k, v, amount, pad) select id, k, v, amount, pad from \`${db}\`.\`items\``);
    await q(`delete /* gh-ost */ from \`${db}\`.\`_items_gho\` where id not in (select id from \`${db}\`.\`items\`)`);
    await q(`create /* gh-ost */ table \`${db}\`.\`_items_del\` (id int auto_increment primary key) engine=InnoDB comment='ghost-cut-over-sentry'`);
    await q(`drop /* gh-ost */ table if exists \`${db}\`.\`_items_del\``);
    await q(`rename /* gh-ost */ table \`${db}\`.\`items\` to \`${db}\`.\`_items_del\`, \`${db}\`.\`_items_gho\` to \`${db}\`.\`items\``);
    await q(`drop /* gh-ost */ table if exists \`${db}\`.\`_items_ghc\``);
    await q("INSERT INTO items (id, k, v, note) VALUES (90000, 'after gh-ost', 1, 'set')");
    await c.end();
    await converged(src, dst, db, 'items', ['id', 'k', 'v', 'amount', 'pad', 'note'], run);
    for (const tool of ['_items_gho', '_items_ghc', '_items_del']) expect(await dst.count(db, tool).catch(() => -1)).toBe(-1);
    await stop(run);
  });

  it('follows an online schema change run across a restart (SIGKILL after the shadow was altered): the swap still carries its ALTER', async () => {
    const db = await fresh(1000);
    const first = sync(db);
    await copyDone(first);
    const c = await src.client(db);
    const q = (sql: string) => c.query(sql);
    await q(`create /* gh-ost */ table \`${db}\`.\`_items_gho\` like \`${db}\`.\`items\``);
    await q(`alter /* gh-ost */ table \`${db}\`.\`_items_gho\` ADD COLUMN note VARCHAR(20) NOT NULL DEFAULT 'none'`);
    // A row after the ALTER reaches the target: the checkpoint (committed with it) is past the shadow's statements.
    await q("INSERT INTO items (id, k, v) VALUES (80000, 'marker', 1)");
    await waitUntil('the marker row', async () => (await dst.rows(db, 'items', ['id'], 'id')).includes('80000'), 30_000);
    first.child.kill('SIGKILL');
    await first.exited;
    await q(`insert /* gh-ost */ ignore into \`${db}\`.\`_items_gho\` (id, k, v, amount, pad) (select id, k, v, amount, pad from \`${db}\`.\`items\`)`);
    await q("UPDATE items SET v = v + 1 WHERE id <= 20");
    await q(`replace /* gh-ost */ into \`${db}\`.\`_items_gho\` (id, k, v, amount, pad) select id, k, v, amount, pad from \`${db}\`.\`items\``);
    await q(`rename /* gh-ost */ table \`${db}\`.\`items\` to \`${db}\`.\`_items_del\`, \`${db}\`.\`_items_gho\` to \`${db}\`.\`items\``);
    await q("INSERT INTO items (id, k, v, note) VALUES (90000, 'after gh-ost', 1, 'set')");
    await c.end();
    const second = sync(db);
    await converged(src, dst, db, 'items', ['id', 'k', 'v', 'amount', 'pad', 'note'], second);
    expect(second.stderr()).not.toContain('TRIB_DDL_UNSUPPORTED');
    for (const tool of ['_items_gho', '_items_del']) expect(await dst.count(db, tool).catch(() => -1)).toBe(-1);
    await stop(second);
  });

  it('starts syncing a table created while streaming that the selection takes, from its CREATE TABLE on, under writes', async () => {
    const db = await fresh(100);
    const run = sync(db);
    await copyDone(run);
    const writer = await startContractWriter(src, db, 'items', 500, 1);
    await src.exec(db, contractTableSql(srcName, 'fresh'));
    const c = await src.client(db);
    for (let i = 1; i <= 200; i++) await c.query(`INSERT INTO fresh (id, k, v, amount) VALUES (${i}, 'k${i}', ${i}, ${i}.25)`);
    await c.query('UPDATE fresh SET v = v + 1000 WHERE id <= 50');
    await c.query('DELETE FROM fresh WHERE id > 190');
    await c.end();
    await writer.stop();
    await converged(src, dst, db, 'fresh', ['id', 'k', 'v', 'amount', 'pad'], run);
    await converged(src, dst, db, 'items', ['id', 'k', 'v', 'amount', 'pad'], run);
    await stop(run);
  });

  it('copies a table renamed into the selection from outside it while the stream runs, with its later changes', async () => {
    // items_0: the glob items_* must match a table at the start (a glob that matches none is refused).
    const db = await fresh(300, ['items', 'items_0']);
    // Made and filled outside the selection: its rows are in no binlog the sync reads.
    await src.exec(db, contractTableSql(srcName, 'staging'));
    await fillContractTable(src, db, 'staging', 2000);
    const run = sync(db, ['--tables', 'items,items_*']);
    await copyDone(run);
    expect(await dst.count(db, 'staging').catch(() => -1)).toBe(-1);
    const writer = await startContractWriter(src, db, 'items', 300, 1);
    await src.exec(db, 'RENAME TABLE staging TO items_new');
    const later = await startContractWriter(src, db, 'items_new', 2000, 1);
    // Its later changes: some written, then on until the sync streamed one made after them.
    await waitUntil('writes into items_new', () => later.ops() >= 30, 30_000, 20);
    await markerStreamed(src, dst, db, 'items_new', 1e9 + 1, run);
    await later.stop();
    await writer.stop();
    expect(later.ops()).toBeGreaterThan(0);
    await converged(src, dst, db, 'items_new', ['id', 'k', 'v', 'amount', 'pad'], run);
    await converged(src, dst, db, 'items', ['id', 'k', 'v', 'amount', 'pad'], run);
    expect(run.stderr()).not.toContain('TRIB_DDL_UNSUPPORTED');
    expect(run.stderr()).toContain('table entered the selection while streaming');
    await stop(run);
  });

  // Row-based logging writes CREATE TABLE … AS SELECT as one group: a plain CREATE TABLE (no key
  // here), then the rows it selected. The statement comes first in its group: it is followed
  // between transactions, the rows after it (tables without a key: applied by row image).
  it('follows CREATE TABLE … AS SELECT of a table the selection takes', async () => {
    const db = await fresh(500, ['items', 'items_0']);
    const run = sync(db, ['--tables', 'items,items_*']);
    await copyDone(run);
    await src.exec(db, 'CREATE TABLE items_copy AS SELECT * FROM items');
    await src.exec(db, "UPDATE items_copy SET k = 'changed' WHERE id <= 20");
    await converged(src, dst, db, 'items_copy', ['id', 'k', 'v', 'amount', 'pad'], run);
    expect(run.stderr()).not.toContain('TRIB_DDL_UNSUPPORTED');
    await stop(run);
  });

  it('reads CREATE TABLE … AS SELECT again after a crash between its checkpoint and its rows: the statement is a no-op, the rows are applied', async () => {
    const db = await fresh(200, ['items', 'items_0']);
    const selection = ['--tables', 'items,items_*'];
    const run = sync(db, selection);
    await copyDone(run);
    await stop(run);
    // The checkpoint before the statement's group.
    const before = await checkpointRows(dst, db);
    const restart = sync(db, selection);
    await waitUntil('the stream', () => restart.stderr().includes('resuming from checkpoint'), 30_000);
    await src.exec(db, 'CREATE TABLE items_copy AS SELECT * FROM items');
    await converged(src, dst, db, 'items_copy', ['id', 'k', 'v', 'amount', 'pad'], restart);
    await stop(restart);
    // A crash after the statement's checkpoint and before its rows committed: the definitions with
    // the new table (its copy row done: it is never copied), the position of the group's start with
    // its first statement applied (engines/mysql/position.ts firstApplied).
    const after = await checkpointRows(dst, db);
    expect(after.map((r) => r.name)).toEqual(expect.arrayContaining(['s:items_copy', 't:items_copy']));
    const stream = before.find((r) => r.name === '') as { name: string; body: string };
    const body = JSON.parse(stream.body) as { position: string };
    body.position = JSON.stringify({ ...(JSON.parse(body.position) as object), firstApplied: true });
    await restoreCheckpointRows(dst, db, [{ name: '', body: JSON.stringify(body) }]);
    await dst.exec(db, 'DELETE FROM items_copy');
    await src.exec(db, "UPDATE items_copy SET k = 'after the restart' WHERE id <= 5");
    const replay = sync(db, selection);
    await converged(src, dst, db, 'items_copy', ['id', 'k', 'v', 'amount', 'pad'], replay);
    await stop(replay);
    expect(replay.stderr()).not.toMatch(/TRIB_DDL_UNSUPPORTED|already exists/);
  });

  it('follows foreign keys added and dropped while streaming: the target has them, and the cascade of one added later is applied', async () => {
    const db = await fresh(0, ['items']);
    const pk = 'id INT NOT NULL PRIMARY KEY';
    await src.exec(db, `CREATE TABLE parent (${pk}, name VARCHAR(20)); CREATE TABLE child (${pk}, parent_id INT, KEY by_parent (parent_id))`);
    await src.exec(db, "INSERT INTO parent SELECT seq, CONCAT('p', seq) FROM seq_1_to_5; INSERT INTO child SELECT seq, seq % 5 + 1 FROM seq_1_to_50");
    const run = sync(db);
    await copyDone(run);
    await src.exec(db, 'ALTER TABLE child ADD CONSTRAINT fk_child_parent FOREIGN KEY (parent_id) REFERENCES parent (id) ON DELETE CASCADE');
    // The binlog does not carry the child rows the cascade deletes: the stream derives them from the key it followed.
    await src.exec(db, 'DELETE FROM parent WHERE id = 1');
    await converged(src, dst, db, 'child', ['id', 'parent_id'], run);
    expect(await dst.count(db, 'child')).toBe(40);
    expect((await foreignKeyLines(dst, db)).map(names)).toEqual(['child.fk_child_parent (parent_id) -> parent (id) ON DELETE CASCADE']);
    // An unnamed key is named as the source's server names it; a dropped one goes.
    await src.exec(db, 'ALTER TABLE child DROP FOREIGN KEY fk_child_parent, ADD FOREIGN KEY (parent_id) REFERENCES parent (id)');
    await src.exec(db, "INSERT INTO parent VALUES (9, 'after'); INSERT INTO child VALUES (900, 9)");
    await converged(src, dst, db, 'child', ['id', 'parent_id'], run);
    expect((await foreignKeyLines(src, db)).map(names)).toEqual(['child.child_ibfk_1 (parent_id) -> parent (id) ON DELETE RESTRICT']);
    await waitUntil('the foreign keys on the target', async () => JSON.stringify((await foreignKeyLines(dst, db)).map(names)) === JSON.stringify(['child.child_ibfk_1 (parent_id) -> parent (id) ON DELETE RESTRICT']), 30_000);
    await stop(run);
  });

  it('follows DROP TABLE of one synced table and goes on with the others', async () => {
    const db = await fresh(100, ['a', 'b']);
    const run = sync(db);
    await copyDone(run);
    await src.exec(db, 'DROP TABLE a');
    await src.exec(db, "INSERT INTO b (id, k, v) VALUES (7000, 'after drop', 1)");
    await converged(src, dst, db, 'b', ['id', 'k', 'v', 'amount', 'pad'], run);
    // Seen once in CI to time out here, after `b` had converged: the sync's log goes with the failure.
    await waitUntil('a dropped on the target', async () => (await dst.count(db, 'a').catch(() => -1)) === -1, 30_000).catch((err: Error) => {
      throw new Error(`${err.message}\n${run.stderr().slice(-6000)}`, { cause: err });
    });
    await stop(run);
  });

  // Only a target whose DDL commits on its own can crash between the two (PostgreSQL commits them together).
  it.runIf(dstName === 'mysql')('replays a statement applied on the target whose checkpoint was not written (a crash between them) as a no-op', async () => {
    const db = await fresh(200);
    const run = sync(db);
    await copyDone(run);
    await stop(run);
    // The checkpoint as it stood before the statement.
    const saved = await checkpointRows(dst, db);
    const restart = sync(db);
    await waitUntil('the stream', () => restart.stderr().includes('resuming from checkpoint'), 30_000);
    await src.exec(db, "ALTER TABLE items ADD COLUMN note VARCHAR(20) NOT NULL DEFAULT 'none'");
    await waitUntil('the statement applied', () => restart.stderr().includes('schema change applied to the target'), 30_000);
    await stop(restart);
    // A crash right after the target's DDL: its checkpoint (position and definitions) is the one of before.
    await restoreCheckpointRows(dst, db, saved);
    await src.exec(db, "INSERT INTO items (id, k, v, note) VALUES (9000, 'after', 1, 'set')");
    const replay = sync(db);
    await converged(src, dst, db, 'items', ['id', 'k', 'v', 'amount', 'pad', 'note'], replay);
    await stop(replay);
    expect(replay.stderr()).not.toMatch(/Duplicate column|already exists/);
  });
});

/** A foreign key line (helpers/engines.ts foreignKeyLines) without its ON UPDATE rule, which MySQL and PostgreSQL spell apart for RESTRICT. */
function names(line: string): string {
  return line.replace(/ ON UPDATE [A-Z ]+? ON DELETE/, ' ON DELETE');
}

/** Runs a command to its end, with its output (stdout and stderr together). */
function runTool(cmd: string, args: readonly string[], timeoutMs = 120_000): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, output });
    });
  });
}

type CheckpointRows = { name: string; body: string }[];

async function checkpointRows(e: Engine, db: string): Promise<CheckpointRows> {
  const rows: CheckpointRows = [];
  const text = await e.rows(db, '_tributary_checkpoint', ['name', 'body'], 'name');
  for (const line of text) {
    const cut = line.indexOf('|');
    rows.push({ name: line.slice(0, cut), body: line.slice(cut + 1) });
  }
  return rows;
}

async function restoreCheckpointRows(e: Engine, db: string, rows: CheckpointRows): Promise<void> {
  const quote = (s: string) => `'${s.replace(/'/g, "''").replace(/\\/g, e.name === 'mysql' ? '\\\\' : '\\')}'`;
  for (const r of rows) await e.exec(db, `UPDATE _tributary_checkpoint SET body = ${quote(r.body)} WHERE name = ${quote(r.name)}`);
}
