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
 * `""`, quotes and backslashes are doubled), so the rendering is unambiguous. The digest is the md5
 * of the rows' md5s in key order (readChunk's ORDER BY): two chunks that differ digest alike with a
 * chance of about 2^-128. The server keeps 32 bytes a row, whatever the rows' size (an md5 of the
 * rows' texts themselves, the `md5(string_agg(t::text, …))` idiom, was ~20 % faster but held the
 * whole chunk's text, and a chunk's bytes are not known before it is read: the statistics a chunk
 * is sized by count TOASTed values compressed).
 * Output functions depend on session settings (TimeZone, DateStyle, IntervalStyle,
 * extra_float_digits, bytea_output, lc_monetary): the statement reads them in the same session,
 * and they are part of the format, so digests from sessions that could render one value two ways
 * never compare (connection.ts sets the same ones for source and target).
 *
 * v1 summed two 64-bit halves of each row's md5 in a subquery the planner flattened, so each md5
 * ran twice: ~1.9x the server's time of v2 (bench/README.md "Cheaper chunk digests").
 */
export const POSTGRES_DIGEST = 'postgres-md5-v2';

const SETTINGS = ['TimeZone', 'DateStyle', 'IntervalStyle', 'extra_float_digits', 'bytea_output', 'lc_monetary'] as const;

type Queryable = Pick<pg.Pool | pg.ClientBase, 'query'>;

/** The statement for one chunk's digest: count, the md5, then the session settings. */
export function digestSql(s: ChunkSql, table: TableSchema, range: KeyRange): { text: string; values: unknown[] } {
  const row = table.columns.map((c) => quoteIdent(c.name)).join(', ');
  const where = rangeWhere(table, range);
  const settings = SETTINGS.map((n) => `current_setting('${n}')`).join(', ');
  const text = `SELECT count(*)::text, coalesce(md5(string_agg(md5(ROW(${row})::text), '' ORDER BY ${s.keyList})), ''), ${settings} FROM ${s.from} ${filtered(where.sql, s)}`;
  return { text, values: where.params };
}

/** Runs digestSql on `db` (a connection in readChunk's session settings and snapshot). */
export async function digestRange(db: Queryable, s: ChunkSql, table: TableSchema, range: KeyRange): Promise<ChunkDigest> {
  const q = digestSql(s, table, range);
  const r = (await db.query<(string | null)[]>({ text: q.text, values: q.values, rowMode: 'array' })).rows[0] ?? [];
  const settings = SETTINGS.map((n, i) => `${n}=${r[2 + i] ?? ''}`).join(' ');
  return { rows: Number(r[0] ?? 0), digest: r[1] ?? '', format: `${POSTGRES_DIGEST} ${settings}` };
}
