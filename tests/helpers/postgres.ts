/**
 * Helpers for MySQL → PostgreSQL integration tests: a MariaDB source with a PostgreSQL target, and
 * a row-for-row comparison that renders every value exactly. The expected PostgreSQL text of a
 * MySQL value is computed by PostgreSQL itself (the MySQL text cast to the target column's type,
 * then ::text), so the comparison does not reuse the code under test.
 */
import type { Connection, RowDataPacket } from 'mysql2/promise';
import pg from 'pg';
import { startMariaDb, startPostgres, type Server } from '../../src/testing/servers.js';
import { connect, waitUntil } from './mysql.js';

export interface PgPair {
  readonly source: Server;
  readonly target: Server;
  /** Root connection to the MariaDB source (multi-statement, UTC). */
  readonly src: Connection;
  /** Connection to the target's `postgres` database, session in UTC. */
  readonly admin: pg.Client;
  srcUrl(db: string): string;
  dstUrl(db: string): string;
  /** A client on a target database (cached; closed by stop()). */
  pg(db: string): Promise<pg.Client>;
  /** Creates a target database. */
  createDb(db: string): Promise<void>;
  stop(): Promise<void>;
}

export async function pgClient(url: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url, options: '-c TimeZone=UTC -c IntervalStyle=postgres -c DateStyle=ISO,YMD' });
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

export async function startPgPair(): Promise<PgPair> {
  const [source, target] = await Promise.all([startMariaDb({ serverId: 1 }), startPostgres()]);
  const src = await connect(source.url());
  const admin = await pgClient(target.url('postgres'));
  const clients = new Map<string, pg.Client>();
  return {
    source,
    target,
    src,
    admin,
    srcUrl: (db) => source.url(db),
    dstUrl: (db) => target.url(db),
    async pg(db) {
      let c = clients.get(db);
      if (!c) clients.set(db, (c = await pgClient(target.url(db))));
      return c;
    },
    async createDb(db) {
      await admin.query(`CREATE DATABASE "${db}"`);
    },
    async stop() {
      for (const c of clients.values()) await c.end().catch(() => undefined);
      await admin.end().catch(() => undefined);
      await src.end().catch(() => undefined);
      await Promise.all([source.stop(), target.stop()]);
    },
  };
}

interface PgColumn {
  readonly name: string;
  readonly type: string;
}

export async function pgColumns(c: pg.Client, table: string): Promise<PgColumn[]> {
  const r = await c.query<{ name: string; type: string }>(
    `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type FROM pg_attribute a
      WHERE a.attrelid = ('public.' || quote_ident($1))::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
    [table],
  );
  return r.rows;
}

/** Every target row as a JSON array of column ::text values, sorted. */
export async function pgRows(c: pg.Client, table: string): Promise<string[]> {
  const cols = await pgColumns(c, table);
  const list = cols.map((x) => `"${x.name.replace(/"/g, '""')}"::text`).join(', ');
  const r = await c.query<{ r: string }>({ text: `SELECT json_build_array(${list})::text AS r FROM "${table.replace(/"/g, '""')}"` });
  return r.rows.map((x) => JSON.stringify(JSON.parse(x.r))).sort();
}

const ZERO_DATE = /^\d{4}-00-|^\d{4}-\d\d-00|^0000-/;

/**
 * The source rows as PostgreSQL would print them in the target's column types: each MySQL value
 * read as text (binary as \x hex, BIT as its digits, FLOAT widened exactly, TIMESTAMP with its UTC
 * zone), cast by PostgreSQL to the target type and printed with ::text. Zero dates become NULL.
 */
export async function expectedRows(src: Connection, db: string, table: string, dst: pg.Client): Promise<string[]> {
  const cols = await pgColumns(dst, table);
  const [meta] = await src.query<RowDataPacket[]>(
    'SELECT COLUMN_NAME AS name, DATA_TYPE AS dt, COLUMN_TYPE AS ct FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?',
    [db, table],
  );
  const byName = new Map(meta.map((m) => [String(m.name), { dt: String(m.dt), ct: String(m.ct) }]));
  const exprs = cols.map((c) => {
    const m = byName.get(c.name);
    if (!m) throw new Error(`target column ${table}.${c.name} is not on the source`);
    const q = '`' + c.name.replace(/`/g, '``') + '`';
    if (m.dt === 'float') return `CAST(${q} AS DOUBLE)`;
    if (m.dt === 'bit') return `LPAD(BIN(${q}), ${/\d+/.exec(m.ct)?.[0] ?? 1}, '0')`;
    if (/binary|blob/.test(m.dt)) return `CONCAT('\\\\x', LOWER(HEX(${q})))`;
    if (m.dt === 'timestamp') return `CONCAT(${q}, '+00')`;
    if (m.dt === 'year') return `${q} + 0`;
    // mysql2 would parse a MariaDB JSON column (LONGTEXT with JSON metadata) into an object.
    if (m.dt === 'longtext') return `CONCAT(${q})`;
    return q;
  });
  const [rows] = await src.query<RowDataPacket[]>({ sql: `SELECT ${exprs.join(', ')} FROM \`${db}\`.\`${table}\``, rowsAsArray: true });
  const texts = cols.map((_, i) =>
    (rows as unknown as unknown[][]).map((r) => {
      const v = r[i];
      if (v === null || v === undefined) return null;
      const s = Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
      return ZERO_DATE.test(s) ? null : s;
    }),
  );
  const castCols: (string | null)[][] = [];
  for (let i = 0; i < cols.length; i++) {
    const r = await dst.query<{ v: (string | null)[] | null }>(
      `SELECT array_agg(v::${(cols[i] as PgColumn).type}::text ORDER BY o) AS v FROM unnest($1::text[]) WITH ORDINALITY AS u(v, o)`,
      [texts[i]],
    );
    castCols.push(r.rows[0]?.v ?? []);
  }
  const out: string[] = [];
  for (let r = 0; r < rows.length; r++) out.push(JSON.stringify(castCols.map((c) => c[r] ?? null)));
  return out.sort();
}

/** A description of the first differences, or '' when the target table equals the source table. */
export async function diffMysqlPg(pair: PgPair, srcDb: string, dstDb: string, table: string): Promise<string> {
  const dst = await pair.pg(dstDb);
  const b = await pgRows(dst, table);
  const a = await expectedRows(pair.src, srcDb, table, dst);
  if (a.length === b.length && a.every((r, i) => r === b[i])) return '';
  const setA = new Set(a);
  const setB = new Set(b);
  const cut = (r: string) => (r.length > 400 ? r.slice(0, 400) + '…' : r);
  return `${table}: source ${a.length} rows, target ${b.length} rows; only in source: ${a.filter((r) => !setB.has(r)).slice(0, 5).map(cut).join(' ; ')}; only in target: ${b.filter((r) => !setA.has(r)).slice(0, 5).map(cut).join(' ; ')}`;
}

export async function waitEqualPg(pair: PgPair, srcDb: string, dstDb: string, table: string, timeoutMs = 60_000): Promise<void> {
  let last = '';
  try {
    await waitUntil(`${table} to converge`, async () => (last = await diffMysqlPg(pair, srcDb, dstDb, table)) === '', timeoutMs, 500);
  } catch (err) {
    throw new Error(`${(err as Error).message}: ${last}`, { cause: err });
  }
}
