import type pg from 'pg';
import type { TableSchema } from '../../core/schema.js';
import type { ChunkDigest, KeyRange } from '../../core/source.js';
import { filtered, rangeWhere, type ChunkSql } from './chunks.js';
import { quoteIdent } from './sql.js';

/**
 * A chunk's digest computed by the server (ChangeSource.chunkDigest, Target.chunkDigest): shared
 * by the source and by the PostgreSQL target digesting its own copy, as read.ts is.
 *
 * Each row is rendered as `ROW(c1, c2, …)::text`: record_out calls each column's output function,
 * the one behind readChunk's raw text, and quotes what needs it (NULL is an empty field, '' is
 * `""`, quotes and backslashes are doubled), so the rendering is unambiguous. The row's md5 is
 * split into two 64-bit halves, each summed as numeric (sum of bigint: exact), so the digest does
 * not depend on row order (`OFFSET 0` keeps the planner from flattening the subquery, which would
 * compute the md5 once for each half: 1.7x the time, bench/README.md). Output functions depend on session settings (TimeZone, DateStyle,
 * IntervalStyle, extra_float_digits, bytea_output, lc_monetary): the statement reads them in the
 * same session, and they are part of the format, so digests from sessions that could render one
 * value two ways never compare (connection.ts sets the same ones for source and target).
 */
export const POSTGRES_DIGEST = 'postgres-md5-v1';

const SETTINGS = ['TimeZone', 'DateStyle', 'IntervalStyle', 'extra_float_digits', 'bytea_output', 'lc_monetary'] as const;

type Queryable = Pick<pg.Pool | pg.ClientBase, 'query'>;

/** The statement for one chunk's digest: count, the two sums, then the session settings. */
export function digestSql(s: ChunkSql, table: TableSchema, range: KeyRange): { text: string; values: unknown[] } {
  const row = table.columns.map((c) => quoteIdent(c.name)).join(', ');
  const where = rangeWhere(table, range);
  const half = (from: number) => `coalesce(sum(('x' || substr(h, ${from}, 16))::bit(64)::bigint), 0)::text`;
  const settings = SETTINGS.map((n) => `current_setting('${n}')`).join(', ');
  const text = `SELECT count(*)::text, ${half(1)}, ${half(17)}, ${settings} FROM (SELECT md5(ROW(${row})::text) AS h FROM ${s.from} ${filtered(where.sql, s)} OFFSET 0) AS d`;
  return { text, values: where.params };
}

/** Runs digestSql on `db` (a connection in readChunk's session settings and snapshot). */
export async function digestRange(db: Queryable, s: ChunkSql, table: TableSchema, range: KeyRange): Promise<ChunkDigest> {
  const q = digestSql(s, table, range);
  const r = (await db.query<(string | null)[]>({ text: q.text, values: q.values, rowMode: 'array' })).rows[0] ?? [];
  const settings = SETTINGS.map((n, i) => `${n}=${r[3 + i] ?? ''}`).join(' ');
  return { rows: Number(r[0] ?? 0), digest: `${r[1] ?? '0'}:${r[2] ?? '0'}`, format: `${POSTGRES_DIGEST} ${settings}` };
}
