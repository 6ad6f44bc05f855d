import type { Column, TableSchema } from '../../core/schema.js';
import { quoteId } from './sql.js';
import { codecFor } from './values.js';

/**
 * The ETCD_JSON_LINES rendering of a MySQL table's rows in SQL (core/formats.ts): the very bytes
 * core/json-row.ts renderRow (the etcd target's form) renders from the canonical values the copy path would read
 * (same session: time zone '+00:00', utf8mb4), for the logical types whose text MariaDB's own
 * conversions give exactly; undefined for a table with any other column, or a key that is not all
 * integers, and the copy reads canonical values as before.
 *
 * | logical type | SQL | renderRow's JSON |
 * |---|---|---|
 * | integer, year | the number, quoted beyond ±(2^53 − 1) | number, a string beyond |
 * | decimal, date, time | the text, quoted | string, as the source prints it |
 * | timestamp | the text with 'T' for the space, 'Z' after an instant (TIMESTAMP), quoted | ISO 8601 |
 * | float | the DOUBLE's text, for 1e-6 ≤ \|x\| < 1e15 and ±0 | JSON.stringify(number) |
 * | text, enum | JSON_QUOTE of its utf8mb4 text | JSON.stringify(string) |
 * | binary | base64 without line breaks, quoted | string, base64 |
 *
 * The server evaluates every call of the expression for every row (~4–5 µs of its CPU a row of
 * bench/etcd.ts's ten columns), so the expression holds as few as it can: no NULL test of a NOT
 * NULL column, whose pieces join the row's one CONCAT; no CONVERT of utf8mb4 text; adjacent
 * literals as one (measured: ~0.7 µs of the server's CPU a row less, bench/README.md).
 *
 * Where MariaDB's text and JavaScript's part, the reader (etcdJsonCarried) hands the chunk to the
 * canonical path: a DOUBLE outside that window gets a NUL byte (MariaDB writes '1e15', '0.0000001',
 * JavaScript '1000000000000000', '1e-7'; measured equal inside it for 9,771 values of every
 * exponent from -30 to 30), and JSON_QUOTE's escapes of 0x0B and 0x0E–0x1F are uppercase
 * ('\u001B', JavaScript's '\u001b'; every other character of 0x00–0x7F and beyond measured equal),
 * which the reader finds in the chunk's bytes (a text holding the six characters '\u00' and an
 * uppercase hex digit sends its chunk the canonical way too, needlessly but rightly).
 */

/** The marker of a value this path cannot render as renderRow does (etcdJsonCarried finds it). */
const NUL = 'CHAR(0 USING utf8mb4)';
/** Number.MAX_SAFE_INTEGER: renderValue quotes an integer beyond ±this. */
const SAFE = '9007199254740991';

/**
 * One column's JSON value text (without the NULL case) as CONCAT's arguments, or undefined when
 * this path has none.
 */
function valueSql(c: Column, select: string): string[] | undefined {
  const t = c.logical;
  switch (t?.kind) {
    case 'integer':
      return [t.bytes === 8 ? `IF(${select} > ${SAFE} OR ${select} < -${SAFE}, CONCAT('"', ${select}, '"'), ${select})` : `${select}`];
    case 'year':
      return [`${select} + 0`];
    case 'decimal':
    case 'date':
    case 'time':
      return ["'\"'", select, "'\"'"];
    case 'timestamp':
      return ["'\"'", `REPLACE(${select}, ' ', 'T')`, `'${t.zone ? 'Z' : ''}"'`];
    case 'float':
      // ±0: '0', and '"-0"' for a negative zero (renderValue's form); MariaDB prints it '-0'.
      return [`IF(${select} = 0, IF(CAST(${select} AS CHAR) LIKE '-%', '"-0"', '0'), IF(ABS(${select}) >= 1e-6 AND ABS(${select}) < 1e15, CAST(${select} AS CHAR), ${NUL}))`];
    case 'text':
    case 'enum':
      // A utf8mb4 column's text is utf8mb4 already (the CONVERT costs the server a call a value).
      return [c.charset === 'utf8mb4' ? `JSON_QUOTE(${select})` : `JSON_QUOTE(CONVERT(${select} USING utf8mb4))`];
    case 'binary':
      return ["'\"'", `REPLACE(TO_BASE64(${select}), '\\n', '')`, "'\"'"];
    default:
      return undefined;
  }
}

/** The select expression of one line per row (see ETCD_JSON_LINES), or undefined for a table this path cannot render. */
export function etcdJsonSelect(table: TableSchema): string | undefined {
  if (table.primaryKey.length === 0) return undefined;
  const keys: string[] = [];
  for (const i of table.primaryKey) {
    const c = table.columns[i] as Column;
    if (c.logical?.kind !== 'integer') return undefined;
    keys.push(codecFor(c, quoteId(c.name)).select, "'\\t'");
  }
  const parts: string[] = [];
  for (const [i, c] of table.columns.entries()) {
    // A member name as renderRow writes it (JSON.stringify): plain printable ASCII only, so that
    // it is the same text as a SQL literal.
    const name = JSON.stringify(c.name);
    if (!/^"[\x20-\x7e]*"$/.test(name) || /['\\]/.test(name)) return undefined;
    const select = codecFor(c, quoteId(c.name)).select;
    const v = valueSql(c, select);
    if (v === undefined) return undefined;
    // NULL decided first: a condition on NULL takes IF's other branch (a float's NUL marker). A
    // NOT NULL column needs no test, and its value's arguments join the row's CONCAT: the server
    // evaluates every call of the expression each row.
    parts.push(`'${i > 0 ? ',' : '{'}${name}:'`);
    if (c.nullable) parts.push(`IF(${select} IS NULL, 'null', ${v.length === 1 ? v[0] : `CONCAT(${v.join(', ')})`})`);
    else parts.push(...v);
  }
  return `CONCAT(${joinLiterals([...keys, ...parts, "'}'"])})`;
}

/** CONCAT's arguments with each run of adjacent string literals made one (fewer arguments a row). */
function joinLiterals(args: readonly string[]): string {
  const literal = (a: string) => /^'[^'\\]*'$/.test(a) || a === "'\\t'";
  const out: string[] = [];
  for (const a of args) {
    const last = out[out.length - 1];
    if (last !== undefined && literal(last) && literal(a)) out[out.length - 1] = last.slice(0, -1) + a.slice(1);
    else out.push(a);
  }
  return out.join(', ');
}

const ESCAPE = Buffer.from('\\u00');

/**
 * Whether a chunk of etcdJsonSelect lines is the very bytes renderRow gives: no NUL marker and no
 * '\u00XX' escape with an uppercase hex digit (see above). False sends the chunk to readChunk.
 */
export function etcdJsonCarried(data: Buffer): boolean {
  if (data.indexOf(0) !== -1) return false;
  for (let at = data.indexOf(ESCAPE); at !== -1; at = data.indexOf(ESCAPE, at + 1)) {
    const a = data[at + 4] ?? 0;
    const b = data[at + 5] ?? 0;
    if ((a >= 0x41 && a <= 0x46) || (b >= 0x41 && b <= 0x46)) return false;
  }
  return true;
}
