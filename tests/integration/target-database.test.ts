/**
 * The target database, as Spirit's sync treats it, on real servers: `sync` creates a MariaDB target
 * database that does not exist with the source database's character set and collation, a missing
 * PostgreSQL database when the role may create one (else a clear refusal naming the statement to
 * run, creating nothing) and a missing `?schema=`; `check` and `--dry-run` say what it would create
 * and create nothing; `--force` drops and recreates the whole target database (MySQL) or schema
 * (PostgreSQL `?schema=`), and is refused for the server's own databases.
 */
import type { RowDataPacket } from 'mysql2/promise';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type Server } from '../../src/testing/servers.js';
import { diffTables, runCli, startPair, type Pair } from '../helpers/mysql.js';

let pair: Pair;
let pgServer: Server;
let pgAdmin: pg.Client;

beforeAll(async () => {
  [pair, pgServer] = await Promise.all([startPair(), startPostgres()]);
  pgAdmin = new pg.Client({ connectionString: pgServer.url('postgres') });
  pgAdmin.on('error', () => undefined);
  await pgAdmin.connect();
});

afterAll(async () => {
  await pgAdmin?.end().catch(() => undefined);
  await pgServer?.stop();
  await pair?.stop();
});

/** A source database in latin1 / latin1_german2_ci (neither is the server's default) with a table `t`. */
async function latin1Source(db: string): Promise<void> {
  await pair.src.query(
    `CREATE DATABASE \`${db}\` CHARACTER SET latin1 COLLATE latin1_german2_ci;
     CREATE TABLE \`${db}\`.t (id INT PRIMARY KEY, name VARCHAR(20) NOT NULL);
     INSERT INTO \`${db}\`.t VALUES (1, 'Müller'), (2, 'Straße'), (3, 'plain');`,
  );
}

async function mysqlSchema(db: string): Promise<{ charset: string; collation: string } | undefined> {
  const [rows] = await pair.dst.query<RowDataPacket[]>('SELECT DEFAULT_CHARACTER_SET_NAME AS cs, DEFAULT_COLLATION_NAME AS co FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [db]);
  return rows[0] ? { charset: String(rows[0].cs), collation: String(rows[0].co) } : undefined;
}

async function mysqlTables(db: string): Promise<string[]> {
  const [rows] = await pair.dst.query<RowDataPacket[]>('SELECT TABLE_NAME AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?', [db]);
  return rows.map((r) => String(r.n)).sort();
}

async function pgDatabase(db: string): Promise<string | undefined> {
  const r = await pgAdmin.query<{ enc: string }>('SELECT pg_encoding_to_char(encoding) AS enc FROM pg_database WHERE datname = $1', [db]);
  return r.rows[0]?.enc;
}

function cli(command: 'sync' | 'check', source: string, target: string, ...extra: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return runCli([command, '--source', source, '--target', target, ...(command === 'sync' ? ['--progress', 'none'] : []), ...extra]);
}

/** The ✔/✘/⚠ line of `check` for a requirement. */
function checkLine(stdout: string, name: string): string {
  return stdout.split('\n').find((l) => l.slice(4).startsWith(`${name}: `)) ?? '';
}

describe('a MariaDB target database', () => {
  it('check and --dry-run say sync would create it, creating nothing; sync creates it with the source charset and collation', async () => {
    await latin1Source('tdb_src');
    const create = 'CREATE DATABASE `tdb_new` CHARACTER SET latin1 COLLATE latin1_german2_ci';

    const checked = await cli('check', pair.srcUrl('tdb_src'), pair.dstUrl('tdb_new'));
    expect(checked.code, checked.stdout + checked.stderr).toBe(0);
    expect(checkLine(checked.stdout, 'target database tdb_new')).toBe(`  ✔ target database tdb_new: does not exist: sync will create it (${create})`);

    const planned = await cli('sync', pair.srcUrl('tdb_src'), pair.dstUrl('tdb_new'), '--dry-run');
    expect(planned.code, planned.stdout + planned.stderr).toBe(0);
    expect(planned.stdout).toContain(`  ${create};`);
    expect(await mysqlSchema('tdb_new')).toBeUndefined();

    const synced = await cli('sync', pair.srcUrl('tdb_src'), pair.dstUrl('tdb_new'), '--copy-only');
    expect(synced.code, synced.stderr).toBe(0);
    expect(await mysqlSchema('tdb_new')).toEqual({ charset: 'latin1', collation: 'latin1_german2_ci' });
    expect(await diffTables(pair, 'tdb_src', 'tdb_new', 't')).toBe('');
  });

  it('--force drops and recreates the whole target database: a table the sync does not own is gone', async () => {
    await latin1Source('tdb_force_src');
    await pair.dst.query(
      `CREATE DATABASE tdb_force CHARACTER SET utf8mb4;
       CREATE TABLE tdb_force.t (id INT PRIMARY KEY, name VARCHAR(20) NOT NULL);
       INSERT INTO tdb_force.t VALUES (9, 'stale');
       CREATE TABLE tdb_force.extra (id INT PRIMARY KEY); INSERT INTO tdb_force.extra VALUES (1);`,
    );
    const refused = await cli('sync', pair.srcUrl('tdb_force_src'), pair.dstUrl('tdb_force'), '--copy-only');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('TRIB_TARGET_NOT_EMPTY');
    expect(refused.stderr).toContain('pass --force to drop and recreate database tdb_force (every table in it');

    const planned = await cli('sync', pair.srcUrl('tdb_force_src'), pair.dstUrl('tdb_force'), '--force', '--dry-run');
    expect(planned.stdout).toContain('  DROP DATABASE IF EXISTS `tdb_force`;');
    expect(await mysqlTables('tdb_force')).toEqual(['extra', 't']);

    const forced = await cli('sync', pair.srcUrl('tdb_force_src'), pair.dstUrl('tdb_force'), '--force', '--copy-only');
    expect(forced.code, forced.stderr).toBe(0);
    expect(await mysqlTables('tdb_force')).toEqual(['_tributary_checkpoint', 't']);
    expect(await mysqlSchema('tdb_force')).toEqual({ charset: 'latin1', collation: 'latin1_german2_ci' });
    expect(await diffTables(pair, 'tdb_force_src', 'tdb_force', 't')).toBe('');
  });

  it('--force is refused with exit 2 for the server\'s own databases, which are left alone', async () => {
    await latin1Source('tdb_sys_src');
    for (const db of ['mysql', 'sys', 'information_schema', 'performance_schema']) {
      const res = await cli('sync', pair.srcUrl('tdb_sys_src'), pair.dstUrl(db), '--force', '--copy-only');
      expect(res.code, res.stderr).toBe(2);
      expect(res.stderr).toContain('TRIB_CONFIG_INVALID');
      expect(res.stderr).toContain(`names the server's own database '${db}'`);
    }
    expect(await mysqlTables('mysql')).toContain('user');
    expect(await mysqlTables('mysql')).not.toContain('t');
  });
});

describe('a PostgreSQL target database', () => {
  it('is created when the role may create databases, after check and --dry-run said so', async () => {
    await latin1Source('pdb_src');
    const checked = await cli('check', pair.srcUrl('pdb_src'), pgServer.url('pdb_new'));
    expect(checked.code, checked.stdout + checked.stderr).toBe(0);
    expect(checkLine(checked.stdout, 'target database pdb_new')).toBe(`  ✔ target database pdb_new: does not exist: sync will create it (CREATE DATABASE "pdb_new" ENCODING 'UTF8')`);
    const planned = await cli('sync', pair.srcUrl('pdb_src'), pgServer.url('pdb_new'), '--dry-run');
    expect(planned.code, planned.stdout + planned.stderr).toBe(0);
    expect(planned.stdout).toContain(`  CREATE DATABASE "pdb_new" ENCODING 'UTF8';`);
    expect(await pgDatabase('pdb_new')).toBeUndefined();

    const synced = await cli('sync', pair.srcUrl('pdb_src'), pgServer.url('pdb_new'), '--copy-only');
    expect(synced.code, synced.stderr).toBe(0);
    expect(await pgDatabase('pdb_new')).toBe('UTF8');
    const c = new pg.Client({ connectionString: pgServer.url('pdb_new') });
    await c.connect();
    try {
      const r = await c.query<{ id: number; name: string }>('SELECT id, name FROM t ORDER BY id');
      expect(r.rows.map((x) => `${x.id}:${x.name}`)).toEqual(['1:Müller', '2:Straße', '3:plain']);
    } finally {
      await c.end();
    }
  });

  it('a role without CREATEDB gets a clear error naming the CREATE DATABASE to run, and nothing is created', async () => {
    await latin1Source('pdb_nocreate_src');
    await pgAdmin.query('CREATE ROLE plain LOGIN');
    const url = pgServer.url('pdb_denied').replace('postgres@', 'plain@');
    const statement = `CREATE DATABASE "pdb_denied" ENCODING 'UTF8' OWNER "plain"`;

    const checked = await cli('check', pair.srcUrl('pdb_nocreate_src'), url);
    expect(checked.code).toBe(1);
    expect(checkLine(checked.stdout, 'target database pdb_denied')).toContain(`✘ target database pdb_denied: does not exist, and role 'plain' may not create it`);
    expect(checkLine(checked.stdout, 'target database pdb_denied')).toContain(statement);

    const res = await cli('sync', pair.srcUrl('pdb_nocreate_src'), url, '--copy-only');
    expect(res.code).toBe(1);
    const line = res.stderr.split('\n').find((l) => l.startsWith('tributary: error ')) ?? '';
    expect(line).toContain('TRIB_DATABASE_MISSING');
    expect(line).toContain(`run ${statement} as a role that may`);
    expect(line).toContain('ALTER ROLE "plain" CREATEDB');
    expect(await pgDatabase('pdb_denied')).toBeUndefined();
  });

  it('a missing ?schema= is created; --force drops and recreates that schema, a table the sync does not own included', async () => {
    await latin1Source('pdb_schema_src');
    await pgAdmin.query('CREATE DATABASE pdb_schema');
    const url = `${pgServer.url('pdb_schema')}?schema=copy`;
    const checked = await cli('check', pair.srcUrl('pdb_schema_src'), url);
    expect(checked.code, checked.stdout).toBe(0);
    expect(checkLine(checked.stdout, 'schema copy')).toBe('  ✔ schema copy: does not exist: sync will create it (CREATE SCHEMA "copy")');

    const synced = await cli('sync', pair.srcUrl('pdb_schema_src'), url, '--copy-only');
    expect(synced.code, synced.stderr).toBe(0);
    const c = new pg.Client({ connectionString: pgServer.url('pdb_schema') });
    await c.connect();
    try {
      expect((await c.query('SELECT id FROM copy.t ORDER BY id')).rows.map((r: { id: number }) => r.id)).toEqual([1, 2, 3]);
      await c.query('CREATE TABLE copy.extra (id int PRIMARY KEY); CREATE TABLE public.keep (id int)');
      await pair.src.query("INSERT INTO pdb_schema_src.t VALUES (4, 'new')");
      const forced = await cli('sync', pair.srcUrl('pdb_schema_src'), url, '--copy-only', '--force', '--id', 'another');
      expect(forced.code, forced.stderr).toBe(0);
      const tables = await c.query<{ s: string; t: string }>("SELECT schemaname AS s, tablename AS t FROM pg_tables WHERE schemaname IN ('copy', 'public') ORDER BY 1, 2");
      expect(tables.rows.map((r) => `${r.s}.${r.t}`)).toEqual(['copy._tributary_checkpoint', 'copy.t', 'public.keep']);
      expect((await c.query('SELECT id FROM copy.t ORDER BY id')).rows.map((r: { id: number }) => r.id)).toEqual([1, 2, 3, 4]);
    } finally {
      await c.end();
    }
  });
});
