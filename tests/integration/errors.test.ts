/**
 * Bad input gets a clear error, a stable code, a non-zero exit and changes nothing. Each case runs
 * the real CLI against real throwaway MariaDB servers (one shared source/target pair, a fresh
 * database per case).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startMariaDb, type Server } from '../../src/testing/servers.js';
import { connect, diffTables, runCli, startCli, startPair, tableRows, waitEqual, waitUntil, type CliRun, type Pair } from '../helpers/mysql.js';

let pair: Pair;
let tmp: string;
let seq = 0;

beforeAll(async () => {
  pair = await startPair();
  tmp = mkdtempSync(join(tmpdir(), 'trib-errors-'));
});

afterAll(async () => {
  await pair?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** A fresh, empty database of the same name on source and target. */
async function freshDb(label: string): Promise<string> {
  const db = `err_${label}_${process.pid}_${++seq}`;
  await pair.src.query(`CREATE DATABASE \`${db}\``);
  await pair.dst.query(`CREATE DATABASE \`${db}\``);
  return db;
}

/** A database with one synced table `t` of three rows on the source, an empty database on the target. */
async function sourceWithTable(label: string): Promise<string> {
  const db = await freshDb(label);
  await pair.src.query(
    `CREATE TABLE \`${db}\`.t (id INT PRIMARY KEY, v VARCHAR(20) NOT NULL);
     INSERT INTO \`${db}\`.t VALUES (1, 'a'), (2, 'b'), (3, 'c');`,
  );
  return db;
}

async function targetTables(db: string): Promise<string[]> {
  const [rows] = await pair.dst.query<RowDataPacket[]>(
    'SELECT TABLE_NAME AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME',
    [db],
  );
  return rows.map((r) => String(r.n));
}

function sync(source: string, target: string, ...extra: string[]): string[] {
  return ['sync', '--source', source, '--target', target, '--progress', 'none', ...extra];
}

/** The one error line the CLI prints for a TributaryError. */
function errorLine(stderr: string): string {
  return stderr.split('\n').find((l) => l.startsWith('tributary: error ')) ?? '';
}

function expectError(res: { code: number; stderr: string }, code: string, exit?: number): string {
  const line = errorLine(res.stderr);
  expect(line, `stderr was:\n${res.stderr}`).toContain(`error ${code}:`);
  if (exit === undefined) expect(res.code).not.toBe(0);
  else expect(res.code).toBe(exit);
  expect(res.stderr).not.toContain('unexpected error');
  return line;
}

describe('bad connection URLs', () => {
  it('an unparseable URL exits 2, names the URL without its password and the expected form', async () => {
    const dst = pair.dstUrl('unused');
    const res = await runCli(sync('mysql://someone:Hunter2-secret@[not-an-ip/db', dst));
    const line = expectError(res, 'TRIB_DSN_INVALID', 2);
    expect(line).toContain('mysql://someone:***@[not-an-ip/db');
    // The form in words (a URL with a password in a message would itself be scrubbed to ***).
    expect(line).toMatch(/mysql:\/\/user@host:3306\/database.*user:password@/);
    expect(res.stdout + res.stderr).not.toContain('Hunter2-secret');
  });

  it('an unsupported scheme exits 2, names the URL and the supported schemes', async () => {
    const res = await runCli(sync('redis://admin:Hunter2-secret@127.0.0.1:6379/0', pair.dstUrl('unused')));
    const line = expectError(res, 'TRIB_DSN_INVALID', 2);
    expect(line).toContain('redis://admin:***@127.0.0.1:6379/0');
    expect(line).toContain("'redis:'");
    expect(line).toContain('mysql://');
    expect(res.stdout + res.stderr).not.toContain('Hunter2-secret');
  });

  it('a URL without a database exits 2 and says to add it as the path', async () => {
    const url = `mysql://root:Hunter2-secret@127.0.0.1:${pair.source.port}`;
    const res = await runCli(sync(url, pair.dstUrl('unused')));
    const line = expectError(res, 'TRIB_DSN_INVALID', 2);
    expect(line).toContain(`mysql://root:***@127.0.0.1:${pair.source.port}`);
    expect(line).toMatch(/names no database; add it as the path/);
    expect(res.stdout + res.stderr).not.toContain('Hunter2-secret');
  });
});

describe('connections', () => {
  it('an unreachable host fails fast with TRIB_CONNECT_FAILED', async () => {
    const db = await freshDb('unreach');
    const port = await freePort();
    const started = Date.now();
    const res = await runCli(sync(`mysql://root@127.0.0.1:${port}/${db}`, pair.dstUrl(db)), {}, 60_000);
    const elapsed = Date.now() - started;
    const line = expectError(res, 'TRIB_CONNECT_FAILED');
    expect(line).toContain(`127.0.0.1:${port}`);
    expect(line).toMatch(/refused; check that the server runs/);
    expect(elapsed).toBeLessThan(15_000);
    expect(await targetTables(db)).toEqual([]);
  });

  it('a wrong password gives TRIB_AUTH_FAILED and no password is printed', async () => {
    const db = await sourceWithTable('auth');
    const good = 'Corr3ct-Horse-Battery';
    const bad = 'Wr0ng-Staple-Guess';
    await pair.src.query(`CREATE USER 'trib_auth'@'127.0.0.1' IDENTIFIED BY '${good}'`);
    await pair.src.query(`GRANT ALL PRIVILEGES ON *.* TO 'trib_auth'@'127.0.0.1'`);
    const url = `mysql://trib_auth:${bad}@127.0.0.1:${pair.source.port}/${db}`;
    const res = await runCli(sync(url, pair.dstUrl(db)));
    const line = expectError(res, 'TRIB_AUTH_FAILED');
    expect(line).toContain("user 'trib_auth'");
    expect(line).toMatch(/check the user and password/);
    expect(res.stdout + res.stderr).not.toContain(bad);
    expect(res.stdout + res.stderr).not.toContain(good);
    expect(await targetTables(db)).toEqual([]);
  });

  it('a source user without replication privileges gives TRIB_PRIVILEGE_MISSING and the GRANT', async () => {
    const db = await sourceWithTable('priv');
    await pair.src.query(`CREATE USER 'trib_ro'@'127.0.0.1' IDENTIFIED BY 'ro-pass'`);
    await pair.src.query(`GRANT SELECT ON \`${db}\`.* TO 'trib_ro'@'127.0.0.1'`);
    const res = await runCli(sync(`mysql://trib_ro:ro-pass@127.0.0.1:${pair.source.port}/${db}`, pair.dstUrl(db)));
    const line = expectError(res, 'TRIB_PRIVILEGE_MISSING');
    expect(line).toContain('REPLICATION SLAVE is missing');
    expect(line).toContain('REPLICATION CLIENT is missing');
    expect(line).toContain('GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.*');
    expect(res.stdout + res.stderr).not.toContain('ro-pass');
    expect(await targetTables(db)).toEqual([]);
  });
});

describe('source binlog settings', () => {
  let bad: Server | undefined;
  afterAll(async () => {
    await bad?.stop();
  });

  it('refuses MIXED format, MINIMAL row image and MINIMAL row metadata, naming value and fix', async () => {
    bad = await startMariaDb({
      serverId: 7,
      args: ['--binlog-format=MIXED', '--binlog-row-image=MINIMAL', '--binlog-row-metadata=MINIMAL'],
    });
    const root = await connect(bad.url());
    try {
      const db = await freshDb('settings');
      await root.query(`CREATE DATABASE \`${db}\`; CREATE TABLE \`${db}\`.t (id INT PRIMARY KEY); INSERT INTO \`${db}\`.t VALUES (1);`);
      const args = () => sync(bad!.url(db), pair.dstUrl(db), '--copy-only');

      // As started: every unmet setting is named, with its value and the fix.
      let line = expectError(await runCli(args()), 'TRIB_SOURCE_SETTING');
      expect(line).toContain('binlog_format is MIXED');
      expect(line).toContain("SET GLOBAL binlog_format = 'ROW'");
      expect(line).toContain('binlog_row_image is MINIMAL');
      expect(line).toContain("SET GLOBAL binlog_row_image = 'FULL'");
      expect(line).toContain('binlog_row_metadata is MINIMAL');
      expect(line).toContain("SET GLOBAL binlog_row_metadata = 'FULL'");
      expect(await targetTables(db)).toEqual([]);

      await root.query("SET GLOBAL binlog_format = 'ROW'");
      line = expectError(await runCli(args()), 'TRIB_SOURCE_SETTING');
      expect(line).not.toContain('binlog_format');
      expect(line).toContain('binlog_row_image is MINIMAL');
      expect(line).toContain('binlog_row_metadata is MINIMAL');

      await root.query("SET GLOBAL binlog_row_image = 'FULL'");
      line = expectError(await runCli(args()), 'TRIB_SOURCE_SETTING');
      expect(line).not.toContain('binlog_format');
      expect(line).not.toContain('binlog_row_image');
      expect(line).toContain('binlog_row_metadata is MINIMAL');
      expect(line).toContain("SET GLOBAL binlog_row_metadata = 'FULL'");
      expect(await targetTables(db)).toEqual([]);

      // With every setting fixed the same source syncs: the refusals above were the settings alone.
      await root.query("SET GLOBAL binlog_row_metadata = 'FULL'");
      const ok = await runCli(args());
      expect(ok.code, ok.stderr).toBe(0);
      expect(await targetTables(db)).toContain('t');
    } finally {
      await root.end();
    }
  });
});

describe('tables', () => {
  it('a table without a primary key is no longer refused: it is copied whole, duplicates kept', async () => {
    const db = await sourceWithTable('nopk');
    await pair.src.query(`CREATE TABLE \`${db}\`.logs_nopk (msg TEXT); INSERT INTO \`${db}\`.logs_nopk VALUES ('x'), ('x'), (NULL);`);
    const res = await runCli(sync(pair.srcUrl(db), pair.dstUrl(db), '--copy-only'));
    expect(res.code, res.stderr).toBe(0);
    expect((await targetTables(db)).filter((n) => !n.startsWith('_tributary'))).toEqual(['logs_nopk', 't']);
    const [rows] = await pair.dst.query<RowDataPacket[]>(`SELECT msg FROM \`${db}\`.logs_nopk ORDER BY msg`);
    expect(rows.map((r) => r.msg as string | null)).toEqual([null, 'x', 'x']);
  });

  it('a --tables pattern matching nothing gives TRIB_NO_TABLES', async () => {
    const db = await sourceWithTable('notables');
    const res = await runCli(sync(pair.srcUrl(db), pair.dstUrl(db), '--tables', 'orderz*'));
    const line = expectError(res, 'TRIB_NO_TABLES');
    expect(line).toContain("'orderz*'");
    expect(line).toContain('it has: t');
    expect(await targetTables(db)).toEqual([]);
  });
});

describe('target state', () => {
  it('a non-empty target table without a checkpoint is refused and left untouched; --force recreates it', async () => {
    const db = await sourceWithTable('notempty');
    await pair.dst.query(
      `CREATE TABLE \`${db}\`.t (id INT PRIMARY KEY, v VARCHAR(20) NOT NULL);
       INSERT INTO \`${db}\`.t VALUES (1, 'mine'), (99, 'keep me');`,
    );
    const before = await tableRows(pair.dst, db, 't');
    const res = await runCli(sync(pair.srcUrl(db), pair.dstUrl(db), '--copy-only'));
    const line = expectError(res, 'TRIB_TARGET_NOT_EMPTY');
    expect(line).toContain('target table t ');
    expect(line).toContain('--force');
    expect(await tableRows(pair.dst, db, 't')).toEqual(before);
    expect(await targetTables(db)).toEqual(['t']);

    const forced = await runCli(sync(pair.srcUrl(db), pair.dstUrl(db), '--copy-only', '--force'));
    expect(forced.code, forced.stderr).toBe(0);
    expect(await diffTables(pair, db, db, 't')).toBe('');
  });

  it('a second instance on the same target is refused with TRIB_ALREADY_RUNNING', async () => {
    const db = await sourceWithTable('running');
    const args = sync(pair.srcUrl(db), pair.dstUrl(db), '--flush-interval', '100ms');
    let first: CliRun | undefined = startCli(args);
    try {
      await waitUntil('the first instance to copy', async () => (await targetTables(db)).includes('t') && (await diffTables(pair, db, db, 't')) === '', 30_000);
      const second = await runCli(args);
      const line = expectError(second, 'TRIB_ALREADY_RUNNING');
      expect(line).toMatch(/another tributary instance is running sync/);
      expect(line).toMatch(/stop it first/);
      // The first instance is unaffected and still streams.
      await pair.src.query(`INSERT INTO \`${db}\`.t VALUES (4, 'd')`);
      await waitUntil('the first instance to apply a change', async () => (await diffTables(pair, db, db, 't')) === '', 30_000);
      first.child.kill('SIGTERM');
      expect(await first.exited, first.stderr()).toBe(0);
      first = undefined;
    } finally {
      first?.child.kill('SIGKILL');
    }
  });
});

describe('configuration', () => {
  it('--threads 0 is refused with exit 2, naming the key and the allowed range', async () => {
    const res = await runCli(sync(pair.srcUrl('x'), pair.dstUrl('x'), '--threads', '0'));
    const line = expectError(res, 'TRIB_CONFIG_INVALID', 2);
    // The same sentence as for 'abc' or '-1' (tests/unit/config.test.ts): the flag, the value, the range.
    expect(line).toContain("--threads '0' is not an integer from 1 to 64");
  });

  it('--position-mode bogus is refused with exit 2, listing the allowed values', async () => {
    const res = await runCli(sync(pair.srcUrl('x'), pair.dstUrl('x'), '--position-mode', 'bogus'));
    const line = expectError(res, 'TRIB_CONFIG_INVALID', 2);
    expect(line).toContain('position-mode');
    expect(line).toContain('bogus');
    for (const v of ['auto', 'gtid', 'file']) expect(line).toContain(v);
  });

  it('an unknown key in a YAML config file is refused with exit 2, listing the allowed keys', async () => {
    const file = join(tmp, 'bad.yaml');
    writeFileSync(file, `source: ${pair.srcUrl('x')}\ntarget: ${pair.dstUrl('x')}\ntreads: 4\n`);
    const res = await runCli(['sync', '--config', file, '--progress', 'none']);
    const line = expectError(res, 'TRIB_CONFIG_INVALID', 2);
    expect(line).toContain(file);
    expect(line).toContain("unknown key 'treads'");
    expect(line).toMatch(/allowed keys: .*threads/);
  });
});

describe('DDL while streaming', () => {
  it('under --ddl halt, ALTER TABLE … ADD COLUMN on a synced table stops the sync with TRIB_DDL_UNSUPPORTED quoting it', async () => {
    const db = await sourceWithTable('ddl');
    const run = startCli(sync(pair.srcUrl(db), pair.dstUrl(db), '--flush-interval', '100ms', '--ddl', 'halt'));
    try {
      await waitUntil('the initial copy', async () => (await targetTables(db)).includes('t') && (await diffTables(pair, db, db, 't')) === '', 30_000);
      const before = await tableRows(pair.dst, db, 't');
      const stmt = `ALTER TABLE t ADD COLUMN extra_col INT NULL`;
      const src = await connect(pair.srcUrl(db));
      try {
        await src.query(stmt);
        await src.query(`INSERT INTO t VALUES (10, 'after', 1)`);
      } finally {
        await src.end();
      }
      const timeout = setTimeout(() => run.child.kill('SIGKILL'), 30_000);
      const code = await run.exited;
      clearTimeout(timeout);
      expect(code).not.toBe(0);
      // An exit of its own, not a signal's (128 + its number).
      expect(code).toBeLessThan(128);
      const line = expectError({ code, stderr: run.stderr() }, 'TRIB_DDL_UNSUPPORTED');
      expect(line).toContain(stmt);
      expect(line).toContain('table t ');
      // Nothing after the DDL reached the target, and its schema is unchanged.
      expect(await tableRows(pair.dst, db, 't')).toEqual(before);
      const [cols] = await pair.dst.query<RowDataPacket[]>(
        'SELECT COLUMN_NAME AS c FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?',
        [db, 't'],
      );
      expect(cols.map((c) => String(c.c))).not.toContain('extra_col');

      // Restarting without changing the target stops again at the same statement.
      const again = await runCli(sync(pair.srcUrl(db), pair.dstUrl(db), '--ddl', 'halt'), {}, 30_000);
      expectError(again, 'TRIB_DDL_UNSUPPORTED');
      // Once the target has the same definition, the restarted sync goes on past the statement.
      await pair.dst.query(`ALTER TABLE \`${db}\`.t ADD COLUMN extra_col INT NULL`);
      const resumed = startCli(sync(pair.srcUrl(db), pair.dstUrl(db), '--flush-interval', '100ms', '--ddl', 'halt'));
      try {
        await waitEqual(pair, db, db, 't', 30_000);
        resumed.child.kill('SIGTERM');
        expect(await resumed.exited).toBe(0);
        expect(resumed.stderr()).toContain('already has the resulting definition');
      } finally {
        if (resumed.child.exitCode === null) resumed.child.kill('SIGKILL');
      }
    } finally {
      if (run.child.exitCode === null) run.child.kill('SIGKILL');
    }
  });
});
