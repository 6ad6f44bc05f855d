/**
 * A PostgreSQL user enum type with awkward labels (a quote, a comma, a space, 'é', a backslash, a
 * double quote) synced through the CLI into PostgreSQL (the same enum, created in the target
 * schema) and into MariaDB (ENUM in the enum's order), on real servers: the copy and the stream
 * keep every label exactly. A target enum of the same name with other labels is refused, naming
 * both label lists and the fix, before anything is written.
 */
import pg from 'pg';
import type { RowDataPacket } from 'mysql2/promise';
import { describe, expect, it } from 'vitest';
import { connect, startCli, waitUntil, type CliRun } from '../helpers/mysql.js';
import { postgresSourceRig, type Engine, type EngineName } from '../helpers/engines.js';

const LABELS = ["it's", 'a,b', 'é', 'with space', 'back\\slash', 'say "hi"', 'plain'];
/** The labels as PostgreSQL string literals. */
const LITERALS = LABELS.map((l) => `'${l.replace(/'/g, "''")}'`);
const COLUMNS = ['id', 'm', 'm2', 'ms'] as const;

const rig = postgresSourceRig();
const running = rig.running;
const target = (name: EngineName): Engine => rig.target(name);

async function pgQuery<T extends pg.QueryResultRow>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<T>(sql, params)).rows;
  } finally {
    await c.end();
  }
}

/** An enum whose declared order is not alphabetical, a table using it (also nullable and as an array), one row per label. */
async function createSource(db: string): Promise<void> {
  await rig.source.createDatabase(db);
  const rows = LITERALS.map((l, i) => `(${i + 1}, ${l}, ${i % 2 ? 'NULL' : LITERALS[(i + 3) % LITERALS.length]}, ARRAY[${l}, ${LITERALS[(i + 1) % LITERALS.length]}]::mood[])`);
  await rig.source.exec(
    db,
    `CREATE TYPE mood AS ENUM (${LITERALS.join(', ')});
     CREATE TABLE e (id int PRIMARY KEY, m mood NOT NULL, m2 mood, ms mood[]);
     INSERT INTO e VALUES ${rows.join(', ')};`,
  );
}

async function diff(name: EngineName, db: string): Promise<string> {
  const a = await rig.source.rows(db, 'e', COLUMNS, 'id');
  const b = await target(name).rows(db, 'e', COLUMNS, 'id');
  if (a.length === b.length && a.every((r, i) => r === b[i])) return '';
  const i = a.findIndex((r, j) => r !== b[j]);
  return `source ${a.length} rows, target ${b.length}; first difference: ${a[i]} vs ${b[i]}`;
}

async function waitSame(name: EngineName, db: string, run: CliRun): Promise<void> {
  let last = '';
  await waitUntil('e to converge', async () => (last = await diff(name, db)) === '' || run.child.exitCode !== null, 30_000, 300).catch((err: Error) => {
    throw new Error(`${err.message}: ${last}\n${run.stderr().slice(-3000)}`, { cause: err });
  });
  if (last !== '') throw new Error(`tributary exited before e converged: ${last}\n${run.stderr().slice(-3000)}`);
}

/** The target's enum labels in order: pg_enum on PostgreSQL, the ENUM members of COLUMN_TYPE on MariaDB. */
async function targetLabels(name: EngineName, db: string): Promise<{ type: string; labels: string[] }> {
  const url = target(name).url(db);
  if (name === 'postgres') {
    const r = await pgQuery<{ labels: string[] }>(url, "SELECT array_agg(enumlabel::text ORDER BY enumsortorder) AS labels FROM pg_enum WHERE enumtypid = 'public.mood'::regtype");
    const t = await pgQuery<{ t: string }>(url, "SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = 'e'::regclass AND attname = 'm'");
    return { type: t[0]?.t ?? '?', labels: r[0]?.labels ?? [] };
  }
  const c = await connect(url);
  try {
    const [rows] = await c.query<RowDataPacket[]>("SELECT COLUMN_TYPE AS t FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 'e' AND COLUMN_NAME = 'm'", [db]);
    const type = String(rows[0]?.t ?? '?');
    // The members as MariaDB prints them: quotes doubled, backslashes escaped.
    const labels = [...type.matchAll(/'((?:[^'\\]|''|\\.)*)'/g)].map((m) => (m[1] ?? '').replace(/''/g, "'").replace(/\\(.)/g, '$1'));
    return { type, labels };
  } finally {
    await c.end();
  }
}

describe.each(['postgres', 'mysql'] as EngineName[])('PostgreSQL enum → %s', (name) => {
  it('creates the enum with every label in order and keeps each value exactly through the copy and the stream', async () => {
    const db = `enum_${name}`;
    await createSource(db);
    await target(name).createDatabase(db);
    const run = startCli(['sync', '--source', rig.source.url(db), '--target', target(name).url(db), '--flush-interval', '200ms']);
    running.push(run);
    await waitUntil('the initial copy', () => run.stderr().includes('initial copy done') || run.child.exitCode !== null, 60_000);
    expect(run.stderr()).toContain('initial copy done');
    const created = await targetLabels(name, db);
    expect(created.labels).toEqual(LABELS);
    expect(created.type).toMatch(name === 'postgres' ? /^mood$/ : /^enum\(/);
    expect(await diff(name, db)).toBe('');

    await rig.source.exec(
      db,
      `INSERT INTO e VALUES (100, ${LITERALS[1]}, ${LITERALS[2]}, ARRAY[${LITERALS.join(', ')}]::mood[]), (101, ${LITERALS[5]}, NULL, '{}');
       UPDATE e SET m = ${LITERALS[3]}, m2 = ${LITERALS[4]} WHERE id = 1;
       UPDATE e SET ms = NULL, m2 = ${LITERALS[0]} WHERE id = 2;
       DELETE FROM e WHERE id = 3;`,
    );
    await waitSame(name, db, run);
    // Values read back by name, as the target stores them.
    const back = await target(name).rows(db, 'e', ['m', 'm2'], 'id');
    expect(back[0]).toBe(`${LABELS[3]}|${LABELS[4]}`);
    expect(back).toContain(`${LABELS[1]}|${LABELS[2]}`);
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
  });
});

describe('PostgreSQL enum → PostgreSQL with the type already on the target', () => {
  it('uses a target enum with the same labels, and refuses one with other labels naming both lists and the fix, writing nothing', async () => {
    const dst = target('postgres');
    const same = 'enum_same';
    await createSource(same);
    await dst.createDatabase(same);
    await dst.exec(same, `CREATE TYPE mood AS ENUM (${LITERALS.join(', ')})`);
    const copied = startCli(['sync', '--source', rig.source.url(same), '--target', dst.url(same), '--copy-only']);
    running.push(copied);
    expect(await copied.exited, copied.stderr().slice(-2000)).toBe(0);
    expect(await diff('postgres', same)).toBe('');

    // The target lacks two labels (as after ALTER TYPE … ADD VALUE on the source).
    const other = 'enum_other';
    await createSource(other);
    await dst.createDatabase(other);
    await dst.exec(other, `CREATE TYPE mood AS ENUM (${LITERALS.filter((_, i) => i !== 0 && i !== 4).join(', ')})`);
    const refused = startCli(['sync', '--source', rig.source.url(other), '--target', dst.url(other)]);
    running.push(refused);
    expect(await refused.exited).not.toBe(0);
    const err = refused.stderr();
    expect(err).toContain('TRIB_TABLE_UNSUPPORTED');
    expect(err).toContain(`target type "public"."mood" has labels ('a,b', 'é', 'with space', 'say "hi"', 'plain')`);
    expect(err).toContain(`source enum mood (used by e.m, e.m2, e.ms) has labels ('it''s', 'a,b', 'é', 'with space', 'back\\slash', 'say "hi"', 'plain')`);
    expect(err).toContain(`ALTER TYPE "public"."mood" ADD VALUE 'it''s' BEFORE 'a,b'; ALTER TYPE "public"."mood" ADD VALUE 'back\\slash' AFTER 'with space'`);
    expect(err).toContain('--column-types e.m=text,e.m2=text,e.ms=text');
    const tables = await pgQuery<{ n: string }>(dst.url(other), "SELECT count(*) AS n FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'r'");
    expect(tables[0]?.n).toBe('0');
  });
});
