/**
 * Foreign keys, cascades and triggers (issue 12) on a Sakila-shaped schema (tests/fixtures/sakila),
 * on real servers: the whole schema synced from MariaDB and from PostgreSQL (its own dialect's
 * version of the schema) to MariaDB and to PostgreSQL, with writes
 * during the copy and after it, including UPDATEs of parent keys that cascade (country, city,
 * language, film and staff ids, ON UPDATE CASCADE; staff is on the store ↔ staff cycle), a DELETE
 * that sets payments' rental_id NULL (ON DELETE SET NULL), and the film triggers' film_text rows.
 * MariaDB's binlog does not carry cascaded rows, so the children match only when the stream derives
 * the cascades (PostgreSQL's WAL carries them as rows): the continuous checksum is off, so that it
 * cannot repair them instead. At the end
 * every table's rows, the foreign keys (names, columns, rules) and the absence of triggers on the
 * target are compared.
 */
import pg from 'pg';
import type { RowDataPacket } from 'mysql2/promise';
import { beforeAll, describe, expect, it } from 'vitest';
import { connect, startCli, waitUntil } from '../helpers/mysql.js';
import { enginePoolRig, foreignKeyLines, type Engine, type EngineName } from '../helpers/engines.js';
import { copyDone } from '../helpers/converge.js';
import { SAKILA_TABLES, sakilaRows, sakilaSchema, type SakilaDialect } from '../fixtures/sakila/index.js';

const { pool, track } = enginePoolRig();
let dbSeq = 0;

/** Primary key columns, to order rows by. */
const ORDER: Record<string, string> = { film_actor: 'actor_id, film_id', film_category: 'film_id, category_id' };

/** Columns compared per table: all but those whose text form differs across engines (timestamps with a zone, booleans, SET, BLOB). */
const COLUMNS: Record<string, { all: string[]; portable: string[] }> = {};
function columns(table: string, all: string[], notPortable: string[] = []): void {
  COLUMNS[table] = { all, portable: all.filter((c) => !notPortable.includes(c) && c !== 'last_update') };
}
columns('actor', ['actor_id', 'first_name', 'last_name', 'last_update']);
columns('country', ['country_id', 'country', 'last_update']);
columns('city', ['city_id', 'city', 'country_id', 'last_update']);
columns('address', ['address_id', 'address', 'address2', 'district', 'city_id', 'postal_code', 'phone', 'last_update']);
columns('category', ['category_id', 'name', 'last_update']);
columns('language', ['language_id', 'name', 'last_update']);
columns('film', ['film_id', 'title', 'description', 'release_year', 'language_id', 'original_language_id', 'rental_duration', 'rental_rate', 'length', 'replacement_cost', 'rating', 'special_features', 'last_update'], ['special_features']);
columns('film_actor', ['actor_id', 'film_id', 'last_update']);
columns('film_category', ['film_id', 'category_id', 'last_update']);
columns('film_text', ['film_id', 'title', 'description']);
columns('staff', ['staff_id', 'first_name', 'last_name', 'address_id', 'picture', 'email', 'store_id', 'active', 'username', 'password', 'last_update'], ['picture', 'active']);
columns('store', ['store_id', 'manager_staff_id', 'address_id', 'last_update']);
columns('customer', ['customer_id', 'store_id', 'first_name', 'last_name', 'email', 'address_id', 'active', 'create_date', 'last_update'], ['active']);
columns('inventory', ['inventory_id', 'film_id', 'store_id', 'last_update']);
columns('rental', ['rental_id', 'rental_date', 'inventory_id', 'customer_id', 'return_date', 'staff_id', 'last_update']);
columns('payment', ['payment_id', 'customer_id', 'staff_id', 'rental_id', 'amount', 'payment_date', 'last_update']);

/** '' when `table` holds the same rows on both sides, else the first differences. */
async function diff(src: Engine, dst: Engine, db: string, table: string, sameEngine: boolean): Promise<string> {
  const spec = COLUMNS[table] as { all: string[]; portable: string[] };
  const cols = sameEngine ? spec.all : spec.portable;
  const order = ORDER[table] ?? (cols[0] as string);
  // A PostgreSQL timestamp lands in a DATETIME(6): the same instant, printed with all six digits of
  // its fraction, where PostgreSQL drops trailing zeros ('.42388' is '.423880').
  const micros = (rows: string[]) =>
    sameEngine ? rows : rows.map((r) => r.replace(/(\d\d:\d\d:\d\d\.\d*?)0+(?=\||$)/g, '$1').replace(/(\d\d:\d\d:\d\d)\.(?=\||$)/g, '$1'));
  const a = micros(await src.rows(db, table, cols, order));
  const b = micros(await dst.rows(db, table, cols, order).catch((err: unknown) => [`(target: ${(err as Error).message})`]));
  if (a.length === b.length && a.every((r, i) => r === b[i])) return '';
  const sb = new Set(b);
  const sa = new Set(a);
  return `${table}: source ${a.length} rows, target ${b.length}; only in source: ${a.filter((r) => !sb.has(r)).slice(0, 3).join(' ; ')}; only in target: ${b.filter((r) => !sa.has(r)).slice(0, 3).join(' ; ')}`;
}

/** The number of user triggers in the database. */
async function triggers(engine: Engine, db: string): Promise<number> {
  if (engine.name === 'mysql') {
    const c = await connect(engine.url(db));
    try {
      const [rows] = await c.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ?', [db]);
      return Number(rows[0]?.n);
    } finally {
      await c.end();
    }
  }
  const c = new pg.Client({ connectionString: engine.url(db) });
  await c.connect();
  try {
    const r = await c.query<{ n: string }>('SELECT COUNT(*) AS n FROM pg_trigger WHERE NOT tgisinternal');
    return Number(r.rows[0]?.n);
  } finally {
    await c.end();
  }
}

/** Loads the schema and generated rows into `db` on the source. */
async function loadSakila(src: Engine, db: string, dialect: SakilaDialect): Promise<void> {
  const c = await src.client(db);
  try {
    if (dialect === 'mysql') await c.query('SET foreign_key_checks = 0');
    else await c.query('BEGIN');
    for (const sql of sakilaSchema(dialect)) await c.query(sql);
    for (const sql of sakilaRows(dialect, { countries: 30, films: 300, customers: 200, rentals: 1500 })) await c.query(sql);
    if (dialect === 'mysql') await c.query('SET foreign_key_checks = 1');
    else await c.query('COMMIT');
  } finally {
    await c.end();
  }
}

/**
 * A writer like a rental shop's until stopped: new rentals with their payments (one transaction;
 * staff 1 and language 1, whose keys the test does not change), returns, customers' e-mails, new films (ins_film writes film_text) and their descriptions (upd_film).
 */
function startShop(src: Engine, db: string): { stop: () => Promise<number> } {
  let stopped = false;
  let n = 0;
  const done = (async () => {
    const c = await src.client(db);
    try {
      while (!stopped) {
        n++;
        const id = 100_000 + n;
        const at = `'${new Date(Date.UTC(2006, 1, 14) + n * 1000).toISOString().slice(0, 19).replace('T', ' ')}'`;
        await c.query('BEGIN');
        await c.query(`INSERT INTO rental (rental_id, rental_date, inventory_id, customer_id, return_date, staff_id) VALUES (${id}, ${at}, ${1 + (n % 500)}, ${1 + (n % 200)}, NULL, 1)`);
        await c.query(`INSERT INTO payment (payment_id, customer_id, staff_id, rental_id, amount, payment_date) VALUES (${10_000 + n}, ${1 + (n % 200)}, 1, ${id}, 2.99, ${at})`);
        await c.query('COMMIT');
        await c.query(`UPDATE rental SET return_date = '2006-02-20 10:00:00' WHERE rental_id = ${1 + (n % 1500)}`);
        await c.query(`UPDATE customer SET email = 'n${n}@example.org' WHERE customer_id = ${1 + (n % 200)}`);
        if (n % 5 === 0 && n < 20_000) {
          await c.query(`INSERT INTO film (film_id, title, description, language_id) VALUES (${1000 + n / 5}, 'NEW FILM ${n}', 'made while syncing', 1)`);
          await c.query(`UPDATE film SET description = 'rewritten ${n}' WHERE film_id = ${1 + (n % 300)}`);
        }
        // A shop's pace, not a benchmark's: the copy must reach the end of rental and payment.
        await new Promise((r) => setTimeout(r, 10));
      }
    } finally {
      await c.end();
    }
    return n;
  })();
  return {
    stop: async () => {
      stopped = true;
      return done;
    },
  };
}

describe.each([['mysql', 'mysql'] as const, ['mysql', 'postgres'] as const, ['postgres', 'postgres'] as const, ['postgres', 'mysql'] as const])('Sakila %s → %s: foreign keys, cascades, triggers', (srcName: EngineName, dstName: EngineName) => {
  let src: Engine;
  let dst: Engine;

  beforeAll(async () => {
    src = await pool.get('source', srcName);
    dst = await pool.get('target', dstName);
  });

  it('syncs the whole schema under writes: same rows in every table, the same foreign keys, no trigger on the target', async () => {
    const db = `sakila${++dbSeq}_${dstName.slice(0, 2)}`;
    await src.createDatabase(db);
    await loadSakila(src, db, srcName === 'mysql' ? 'mysql' : 'postgres');
    await dst.createDatabase(db);
    const sourceKeys = await foreignKeyLines(src, db);
    expect(sourceKeys).toHaveLength(22);

    const run = startCli(['sync', '--source', src.url(db), '--target', dst.url(db), '--flush-interval', '100ms', '--checksum', 'off', '--threads', '2']);
    track(run);
    // Writes during the copy.
    const shop = startShop(src, db);
    await copyDone(run, 120_000);
    expect(run.stderr(), run.stderr().slice(-3000)).toContain('initial copy done');
    expect(run.stderr()).toContain('foreign keys created on the target');

    // Writes after it: parent keys that cascade (ON UPDATE CASCADE), on the store ↔ staff cycle too,
    // and a delete that sets children NULL (ON DELETE SET NULL); the film triggers' rows.
    const c = await src.client(db);
    await c.query('UPDATE country SET country_id = 900 WHERE country_id = 2');
    await c.query('UPDATE city SET city_id = 9000 WHERE city_id = 5');
    await c.query('UPDATE language SET language_id = 60 WHERE language_id = 2');
    await c.query('UPDATE film SET film_id = 30000 WHERE film_id = 3');
    await c.query("UPDATE film SET title = 'RETITLED' WHERE film_id = 4");
    await c.query('BEGIN');
    // A child changed before its parent's key in one transaction: the cascade must come after it.
    await c.query('UPDATE city SET country_id = 7 WHERE city_id = 10');
    await c.query('UPDATE country SET country_id = 907 WHERE country_id = 7');
    await c.query('COMMIT');
    await c.query('UPDATE staff SET staff_id = 20 WHERE staff_id = 2');
    await c.query('DELETE FROM payment WHERE payment_id = 10');
    await c.query('DELETE FROM rental WHERE rental_id = 11');
    await c.query("INSERT INTO film (film_id, title, description, language_id) VALUES (31000, 'SHORT LIVED', 'gone soon', 1)");
    await c.query('DELETE FROM film WHERE film_id = 31000');
    await c.end();
    await new Promise((r) => setTimeout(r, 500));
    const written = await shop.stop();
    expect(written).toBeGreaterThan(5);

    // The source did cascade (the rows the binlog does not carry).
    expect((await src.rows(db, 'city', ['country_id'], 'city_id')).filter((v) => v === '900').length).toBeGreaterThan(0);
    expect(await src.rows(db, 'payment', ['payment_id', 'rental_id'], 'payment_id').then((r) => r.find((x) => x.startsWith('11|')))).toBe('11|NULL');

    let last = '';
    try {
      await waitUntil(
        'every table to converge',
        async () => {
          for (const t of SAKILA_TABLES) {
            last = await diff(src, dst, db, t, srcName === dstName);
            if (last) return false;
          }
          return true;
        },
        90_000,
        500,
      );
    } catch (err) {
      throw new Error(`${(err as Error).message}: ${last}\n--- tributary stderr ---\n${run.stderr().slice(-4000)}`, { cause: err });
    }
    // The cascaded children on the target, named: the stream derived them.
    expect((await dst.rows(db, 'city', ['country_id'], 'city_id')).filter((v) => v === '900').length).toBe((await src.rows(db, 'city', ['country_id'], 'city_id')).filter((v) => v === '900').length);
    expect(run.stderr()).not.toContain('repaired what differed');

    const targetKeys = await foreignKeyLines(dst, db);
    expect(targetKeys).toEqual(sourceKeys);
    expect(await triggers(src, db)).toBe(4);
    expect(await triggers(dst, db)).toBe(0);

    // The target's keys are real: they refuse an orphan written by the target's own users.
    const d = await dst.client(db);
    await expect(d.query('INSERT INTO city (city_id, city, country_id, last_update) VALUES (60000, \'Nowhere\', 999, \'2006-02-15 04:45:25\')')).rejects.toThrow(/foreign key/i);
    await d.end();

    run.child.kill('SIGTERM');
    expect(await run.exited, run.stderr().slice(-3000)).toBe(0);

    // A restart adds no key twice and resumes.
    const again = startCli(['sync', '--source', src.url(db), '--target', dst.url(db), '--flush-interval', '100ms', '--checksum', 'off']);
    track(again);
    await waitUntil('the resumed stream', () => again.stderr().includes('resuming from checkpoint'), 60_000);
    const c2 = await src.client(db);
    await c2.query('UPDATE country SET country_id = 901 WHERE country_id = 900');
    await c2.end();
    await waitUntil('the cascade after the restart', async () => (await diff(src, dst, db, 'city', srcName === dstName)) === '', 60_000, 300);
    expect(await foreignKeyLines(dst, db)).toEqual(sourceKeys);
    again.child.kill('SIGTERM');
    expect(await again.exited, again.stderr().slice(-3000)).toBe(0);
  }, 300_000);
});
