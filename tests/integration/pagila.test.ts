/**
 * The Pagila-shaped fixture (tests/fixtures/pagila: domains `year` and "bıgint", the enum
 * mpaa_rating, text[], a tsvector kept by a trigger, a partitioned payment table, and a table of
 * composites, ranges, citext, hstore, a domain over an enum and arrays of user types) synced by the
 * CLI from PostgreSQL into PostgreSQL (every user type created on the target, the extensions
 * included) and into MariaDB (domains as their base types, the rest as their documented text
 * forms), with writes during the copy and after it. Every row is equal, read as text on both sides
 * (on MariaDB for the columns whose text forms are the source's own: the others are compared by
 * `verify`), and `tributary verify` is clean on both.
 */
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import type { RowDataPacket } from 'mysql2/promise';
import { connect, runCli, startCli, waitUntil } from '../helpers/mysql.js';
import { postgresSourceRig, type Engine, type EngineName } from '../helpers/engines.js';
import { PAGILA_TABLES, pagilaRows, pagilaSchema } from '../fixtures/pagila/rows.js';

/** Each table's key (the ORDER BY of a comparison) and the columns compared as text on each target. */
const TABLES: Readonly<Record<(typeof PAGILA_TABLES)[number], { key: string; both: string[]; postgres: string[] }>> = {
  actor: { key: 'actor_id', both: ['actor_id', 'first_name', 'last_name'], postgres: ['last_update'] },
  category: { key: 'category_id', both: ['category_id', 'name'], postgres: ['last_update'] },
  country: { key: 'country_id', both: ['country_id', 'country'], postgres: ['last_update'] },
  city: { key: 'city_id', both: ['city_id', 'city', 'country_id'], postgres: ['last_update'] },
  address: { key: 'address_id', both: ['address_id', 'address', 'address2', 'district', 'city_id', 'postal_code', 'phone'], postgres: ['last_update'] },
  language: { key: 'language_id', both: ['language_id', 'name'], postgres: ['last_update'] },
  film: {
    key: 'film_id',
    both: ['film_id', 'title', 'description', 'release_year', 'language_id', 'original_language_id', 'rental_duration', 'rental_rate', 'length', 'replacement_cost', 'rating', 'special_features', 'fulltext'],
    postgres: ['last_update'],
  },
  film_actor: { key: 'actor_id, film_id', both: ['actor_id', 'film_id'], postgres: ['last_update'] },
  film_category: { key: 'film_id, category_id', both: ['film_id', 'category_id'], postgres: ['last_update'] },
  staff: { key: 'staff_id', both: ['staff_id', 'first_name', 'last_name', 'address_id', 'email', 'store_id', 'username', 'password'], postgres: ['active', 'last_update', 'picture'] },
  store: { key: 'store_id', both: ['store_id', 'manager_staff_id', 'address_id'], postgres: ['last_update'] },
  customer: { key: 'customer_id', both: ['customer_id', 'store_id', 'first_name', 'last_name', 'email', 'address_id', 'create_date', 'active'], postgres: ['activebool', 'last_update'] },
  inventory: { key: 'inventory_id', both: ['inventory_id', 'film_id', 'store_id'], postgres: ['last_update'] },
  rental: { key: 'rental_id', both: ['rental_id', 'inventory_id', 'customer_id', 'staff_id'], postgres: ['rental_date', 'return_date', 'last_update'] },
  payment: { key: 'payment_id', both: ['payment_id', 'customer_id', 'staff_id', 'rental_id', 'amount'], postgres: ['payment_date'] },
  film_extra: { key: 'film_id', both: ['film_id', 'big', 'credit', 'credits', 'price', 'score', 'showing', 'props', 'code', 'audience', 'tag', 'years'], postgres: [] },
};

const rig = postgresSourceRig();
const running = rig.running;
const target = (name: EngineName): Engine => rig.target(name);

/** How many film_extra rows match `where`, compared by the server itself (in the column's collation). */
async function countWhere(e: Engine, db: string, where: string): Promise<number> {
  const sql = `SELECT count(*) AS n FROM film_extra WHERE ${where}`;
  if (e.name === 'postgres') {
    const c = new pg.Client({ connectionString: e.url(db) });
    await c.connect();
    try {
      return Number((await c.query<{ n: string }>(sql)).rows[0]?.n);
    } finally {
      await c.end();
    }
  }
  const c = await connect(e.url(db));
  try {
    const [rows] = await c.query<RowDataPacket[]>(sql);
    return Number(rows[0]?.n);
  } finally {
    await c.end();
  }
}

/** A few film and film_extra columns' types as the target declares them ('name type [collation]'), by column name. */
async function declarations(name: EngineName, db: string): Promise<string[]> {
  const columns = ['release_year', 'big', 'score', 'props', 'code', 'tag', 'years'];
  if (name === 'postgres') {
    const c = new pg.Client({ connectionString: target(name).url(db) });
    await c.connect();
    try {
      const r = await c.query<{ d: string }>(
        `SELECT a.attname || ' ' || format_type(a.atttypid, a.atttypmod) AS d FROM pg_attribute a
          WHERE a.attrelid IN ('film'::regclass, 'film_extra'::regclass) AND a.attname = ANY($1) ORDER BY a.attname`,
        [columns],
      );
      return r.rows.map((x) => x.d);
    } finally {
      await c.end();
    }
  }
  const c = await connect(target(name).url(db));
  try {
    const [rows] = await c.query<RowDataPacket[]>(
      `SELECT CONCAT_WS(' ', COLUMN_NAME, COLUMN_TYPE, IF(COLUMN_NAME = 'code', COLLATION_NAME, NULL)) AS d FROM information_schema.COLUMNS
        WHERE TABLE_SCHEMA = ? AND TABLE_NAME IN ('film', 'film_extra') AND COLUMN_NAME IN (?) ORDER BY COLUMN_NAME`,
      [db, columns],
    );
    return rows.map((x) => String(x.d));
  } finally {
    await c.end();
  }
}

/** The first table whose rows differ between the source and the target, as text; '' when none does. */
async function diff(name: EngineName, db: string): Promise<string> {
  for (const table of PAGILA_TABLES) {
    const spec = TABLES[table];
    const columns = name === 'postgres' ? [...spec.both, ...spec.postgres] : spec.both;
    const a = await rig.source.rows(db, table, columns, spec.key);
    const b = await target(name).rows(db, table, columns, spec.key);
    if (a.length === b.length && a.every((r, i) => r === b[i])) continue;
    const i = a.findIndex((r, j) => r !== b[j]);
    return `${table}: source ${a.length} rows, target ${b.length}; first difference at ${i}: ${a[i]} vs ${b[i]}`;
  }
  return '';
}

/**
 * Writes in the shape of a rental store's day, one transaction per round: a film retitled and
 * redescribed (its tsvector recomputed by the trigger), a payment into a partition chosen by date,
 * a rental returned, film_extra's user-typed values rewritten, an actor added and one deleted.
 */
async function writeRound(db: string, round: number): Promise<void> {
  const film = (round * 37) % 300 + 1;
  await rig.source.exec(
    db,
    `BEGIN;
     UPDATE film SET title = 'Retitled ' || ${round} || ' ''q'' ' || film_id, description = CASE WHEN ${round} % 3 = 0 THEN NULL ELSE 'Now about a café, a rat and ' || ${round} || ' dentists' END,
                     special_features = ARRAY['Trailers', 'round "${round}"'] WHERE film_id = ${film};
     INSERT INTO payment (customer_id, staff_id, rental_id, amount, payment_date)
       VALUES (${(round % 50) + 1}, ${(round % 2) + 1}, ${(round % 100) + 1}, ${round % 12}.${round % 100}, TIMESTAMPTZ '2022-01-15 12:00:00+00' + ${round % 6} * interval '1 month' + ${round} * interval '1 second');
     UPDATE rental SET return_date = rental_date + interval '3 days 0.000123 seconds' WHERE rental_id = ${(round * 13) % 1000 + 1};
     UPDATE film_extra SET credit = ROW('New, ${round}', NULL, 'NiCk ${round}')::full_name, score = floatrange(${round}, NULL, '(]'),
                           props = props || hstore('round', '${round}'), tag = ROW('PG-13', ${round}.25, int4range(NULL, ${round}))::price_tag,
                           years = ARRAY[2000 + ${round % 100}]::year[], code = 'Code ${round}' WHERE film_id = ${film};
     INSERT INTO actor (first_name, last_name) VALUES ('New ${round}', 'Ëctor');
     DELETE FROM actor WHERE actor_id = (SELECT max(actor_id) FROM actor) - 3 AND actor_id NOT IN (SELECT actor_id FROM film_actor);
     COMMIT;`,
  );
}

/** Runs writeRound until stopped, returning how many rounds ran. */
function startWriter(db: string, from: number): { stop: () => Promise<number> } {
  let stopped = false;
  let round = from;
  const done = (async () => {
    while (!stopped) {
      await writeRound(db, round++);
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return {
    // Idempotent: the round count whenever it is asked.
    stop: async () => {
      stopped = true;
      await done;
      return round - from;
    },
  };
}

describe.each(['postgres', 'mysql'] as EngineName[])('Pagila → %s', (name) => {
  it('creates every user type (or maps it to its base type or text form), copies and streams every row exactly, and verify is clean', async () => {
    const db = `pagila_${name}`;
    await rig.source.createDatabase(db);
    await rig.source.exec(db, pagilaSchema());
    await rig.source.exec(db, pagilaRows({ films: 300 }));
    await target(name).createDatabase(db);

    const check = await runCli(['check', '--source', rig.source.url(db), '--target', target(name).url(db)]);
    expect(check.code, check.stdout + check.stderr).toBe(0);
    if (name === 'postgres') {
      expect(check.stdout).toMatch(/domain year: absent: the sync creates it \(used by film.release_year/);
      expect(check.stdout).toMatch(/extension hstore: absent: the sync creates it/);
    } else {
      expect(check.stdout).toMatch(/film\.fulltext: tsvector → LONGTEXT \(kept as text '/);
    }

    const writer = startWriter(db, 1);
    const run = startCli(['sync', '--source', rig.source.url(db), '--target', target(name).url(db), '--flush-interval', '200ms']);
    running.push(run);
    await waitUntil('the initial copy', () => run.stderr().includes('initial copy done') || run.child.exitCode !== null, 120_000).finally(() => writer.stop());
    expect(run.stderr().slice(-3000)).toContain('initial copy done');
    const during = await writer.stop();
    expect(during).toBeGreaterThan(0);
    // After the copy: the stream alone carries these.
    for (let round = 1000; round < 1010; round++) await writeRound(db, round);

    let last = '';
    await waitUntil('every table to converge', async () => (last = await diff(name, db)) === '' || run.child.exitCode !== null, 60_000, 500).catch((err: Error) => {
      throw new Error(`${err.message}: ${last}\n${run.stderr().slice(-3000)}`, { cause: err });
    });
    expect(last, run.stderr().slice(-3000)).toBe('');
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);

    const verify = await runCli(['verify', '--source', rig.source.url(db), '--target', target(name).url(db), '--rechecks', '0']);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);

    // The target's declarations: the source's types on PostgreSQL, base types and text forms on MariaDB.
    expect(await declarations(name, db)).toEqual(
      name === 'postgres'
        ? ['big "bıgint"', 'code citext', 'props hstore', 'release_year year', 'score floatrange', 'tag price_tag', 'years year[]']
        : ['big bigint(20)', 'code longtext utf8mb4_uca1400_nopad_as_ci', 'props longtext', 'release_year int(11)', 'score longtext', 'tag longtext', 'years longtext'],
    );

    // citext compares case-insensitively, and accent-sensitively, on both targets.
    const want = await countWhere(rig.source, db, "code = 'CODE 1000'");
    expect(want).toBeGreaterThan(0);
    expect(await countWhere(target(name), db, "code = 'CODE 1000'")).toBe(want);
    expect(await countWhere(target(name), db, "code = 'cOdE 1000'")).toBe(want);
    expect(await countWhere(rig.source, db, "code LIKE 'CiText Zoë%'")).toBe(await countWhere(target(name), db, "code = 'citext ZOË' OR code LIKE 'citext zoë%'"));
    expect(await countWhere(target(name), db, "code = 'CiText Zoe'")).toBe(0);
  }, 300_000);
});

describe('Pagila → postgres with types already on the target', () => {
  it('keeps a target type of the same definition, refuses one of another definition by name, and an extension the role may not create, writing nothing', async () => {
    const dst = target('postgres');
    /** How many tables the target database holds. */
    const tables = async (db: string) => {
      const c = new pg.Client({ connectionString: dst.url(db) });
      await c.connect();
      try {
        return Number((await c.query<{ n: string }>("SELECT count(*) AS n FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p')")).rows[0]?.n);
      } finally {
        await c.end();
      }
    };
    const fill = async (db: string) => {
      await rig.source.createDatabase(db);
      await rig.source.exec(db, pagilaSchema());
      await rig.source.exec(db, pagilaRows({ films: 20 }));
      await dst.createDatabase(db);
    };

    // The same domain and extension already there: kept, and the copy lands.
    await fill('pagila_same');
    await dst.exec('pagila_same', 'CREATE EXTENSION citext; CREATE DOMAIN year AS integer CONSTRAINT year_check CHECK (VALUE >= 1901 AND VALUE <= 2155)');
    const same = await runCli(['sync', '--source', rig.source.url('pagila_same'), '--target', dst.url('pagila_same'), '--copy-only']);
    expect(same.code, same.stderr.slice(-3000)).toBe(0);
    expect(await diff('postgres', 'pagila_same')).toBe('');

    // Another definition under the same name: refused by name before anything is written.
    await fill('pagila_other');
    await dst.exec('pagila_other', 'CREATE DOMAIN year AS integer CHECK (VALUE > 0)');
    const other = await runCli(['sync', '--source', rig.source.url('pagila_other'), '--target', dst.url('pagila_other'), '--copy-only']);
    expect(other.code).not.toBe(0);
    expect(other.stderr).toContain('TRIB_TABLE_UNSUPPORTED');
    expect(other.stderr).toContain('target type "public"."year" is defined as: CREATE DOMAIN "public"."year" AS integer CONSTRAINT "year_check" CHECK ((VALUE > 0))');
    expect(other.stderr).toContain("the source's domain year (used by film.release_year, film_extra.years)");
    expect(await tables('pagila_other')).toBe(0);
    const checked = await runCli(['check', '--source', rig.source.url('pagila_other'), '--target', dst.url('pagila_other')]);
    expect(checked.code).not.toBe(0);
    expect(checked.stdout).toMatch(/✘ domain year: target type "public"."year" is defined as/);

    // A role that may create tables but not extensions (no CREATE on the database): hstore is refused naming the extension.
    await fill('pagila_role');
    await dst.exec('pagila_role', "CREATE ROLE syncer LOGIN; GRANT CREATE, USAGE ON SCHEMA public TO syncer; REVOKE CREATE ON DATABASE pagila_role FROM PUBLIC");
    const url = dst.url('pagila_role').replace('postgres@', 'syncer@');
    const check = await runCli(['check', '--source', rig.source.url('pagila_role'), '--target', url]);
    expect(check.code).not.toBe(0);
    expect(check.stdout).toMatch(/✘ extension hstore: not installed \(type hstore, used by film_extra.props\): the role may not CREATE in the database/);
    const refused = await runCli(['sync', '--source', rig.source.url('pagila_role'), '--target', url, '--copy-only']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/needs extension (citext|hstore), which the target database has not installed and tributary could not create/);
    expect(await tables('pagila_role')).toBe(0);
  }, 300_000);
});
