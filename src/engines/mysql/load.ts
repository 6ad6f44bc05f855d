import { columnTypesHint } from '../../config/hints.js';
import { Readable } from 'node:stream';
import type { Connection, PoolConnection, ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { ErrorCode, TributaryError } from '../../core/errors.js';
import type { TableSchema } from '../../core/schema.js';
import type { Row, Value } from '../../core/values.js';
import { tsvKind, type TsvKind } from '../../sources/mysql/tsv.js';
import { mysqlValue, type MappedColumn, type TableMapping } from '../../typemap/postgres-to-mysql.js';
import { quoteId } from './sql.js';

/**
 * Bulk loading with LOAD DATA LOCAL INFILE … REPLACE, in the MYSQL_TSV format (core/formats.ts): the fastest way into MySQL/MariaDB measured
 * here (about 2× multi-row INSERT), and REPLACE makes a re-copied chunk overwrite what the stream
 * or an earlier attempt wrote. Binary columns travel as hex and BIT as numbers, so the file is
 * plain utf8mb4 text whatever the bytes.
 */
export interface LoadPlan {
  readonly sql: string;
  readonly kinds: TsvKind[];
  /**
   * For a table from another engine: the mapped columns, whose values are converted and checked
   * through the type map (typemap/postgres-to-mysql.ts) before they are written.
   */
  readonly mapping?: TableMapping;
}

/** The LOAD DATA kind of a column mapped from another engine: bytes as hex, BIT as a number, the rest text. */
function mappedKind(m: MappedColumn): TsvKind {
  return m.kind === 'bytes' ? 'hex' : m.kind === 'bits' ? 'num' : 'text';
}

export function loadPlan(table: TableSchema, mapping?: TableMapping): LoadPlan {
  const kinds = mapping ? mapping.columns.map(mappedKind) : table.columns.map(tsvKind);
  const targets: string[] = [];
  const sets: string[] = [];
  table.columns.forEach((c, i) => {
    const k = kinds[i];
    if (k === 'text' || k === 'year') targets.push(quoteId(c.name));
    else {
      targets.push(`@v${i}`);
      sets.push(k === 'hex' ? `${quoteId(c.name)} = UNHEX(@v${i})` : `${quoteId(c.name)} = CAST(@v${i} AS UNSIGNED)`);
    }
  });
  const sql =
    `LOAD DATA LOCAL INFILE 'tributary.tsv' REPLACE INTO TABLE ${quoteId(table.name)} CHARACTER SET utf8mb4 ` +
    `FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' (${targets.join(', ')})` +
    (sets.length ? ` SET ${sets.join(', ')}` : '');
  return mapping ? { sql, kinds, mapping } : { sql, kinds };
}

const ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r', '\0': '\\0' };

function field(v: Value, kind: TsvKind): string {
  if (v === null) return '\\N';
  if (kind === 'year') return v === 0n || v === 0 ? '0000' : String(v);
  if (kind === 'hex') return Buffer.isBuffer(v) ? v.toString('hex') : Buffer.from(String(v)).toString('hex');
  if (typeof v === 'number') return Object.is(v, -0) ? '-0' : String(v);
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'boolean') return v ? '1' : '0';
  if (Buffer.isBuffer(v)) return v.toString('hex');
  return /[\\\t\n\r\0]/.test(v) ? v.replace(/[\\\t\n\r\0]/g, (c) => ESCAPES[c] as string) : v;
}

/** A field of a column mapped from another engine; throws naming the column for a value it cannot hold. */
function mappedField(table: string, m: MappedColumn, v: Value): string {
  const r = mysqlValue(table, m, v);
  if (r === null) return '\\N';
  if (Buffer.isBuffer(r)) return r.toString('hex');
  return /[\\\t\n\r\0]/.test(r) ? r.replace(/[\\\t\n\r\0]/g, (c) => ESCAPES[c] as string) : r;
}

export function serialise(rows: readonly Row[], plan: LoadPlan): Buffer {
  if (plan.mapping) return serialiseMapped(rows, plan.mapping);
  const lines: string[] = new Array(rows.length);
  const kinds = plan.kinds;
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r] as Row;
    let line = '';
    for (let i = 0; i < kinds.length; i++) {
      if (i) line += '\t';
      line += field(row[i] ?? null, kinds[i] as TsvKind);
    }
    lines[r] = line;
  }
  return Buffer.from(lines.join('\n') + '\n', 'utf8');
}

function serialiseMapped(rows: readonly Row[], mapping: TableMapping): Buffer {
  const cols = mapping.columns;
  const name = mapping.table.name;
  const lines: string[] = new Array(rows.length);
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r] as Row;
    let line = '';
    for (let i = 0; i < cols.length; i++) {
      if (i) line += '\t';
      line += mappedField(name, cols[i] as MappedColumn, row[i] ?? null);
    }
    lines[r] = line;
  }
  return Buffer.from(lines.join('\n') + '\n', 'utf8');
}

export async function loadRows(conn: Connection | PoolConnection, plan: LoadPlan, rows: readonly Row[]): Promise<void> {
  if (rows.length === 0) return;
  await loadText(conn, plan, serialise(rows, plan));
}

/** Loads lines already in the MYSQL_TSV format. */
export async function loadText(conn: Connection | PoolConnection, plan: LoadPlan, data: Buffer): Promise<void> {
  if (data.length === 0) return;
  const [res] = await conn.query<ResultSetHeader>({ sql: plan.sql, infileStreamFactory: () => Readable.from([data]) });
  if (plan.mapping && res.warningStatus > 0) await refuseWarnings(conn, plan.mapping.table.name);
}

/**
 * LOAD DATA LOCAL reports data errors as warnings and goes on (the server cannot stop the client's
 * file half way), so a value the type map let through and the server still changed (a string
 * longer than a key column's VARCHAR, say) would land altered. For tables from another engine,
 * any warning fails the chunk, naming what the server said.
 */
async function refuseWarnings(conn: Connection | PoolConnection, table: string): Promise<never> {
  const [warnings] = await conn.query<RowDataPacket[]>('SHOW WARNINGS LIMIT 5');
  const what = warnings.map((w) => `${String(w.Level)} ${String(w.Code)}: ${String(w.Message)}`).join('; ');
  throw new TributaryError(
    ErrorCode.TARGET_WRITE_FAILED,
    `table ${table}: the server changed values while loading them (${what}); nothing was written. Widen the column with ${columnTypesHint(table, 'COLUMN', 'TYPE')}, or fix the rows on the source`,
  );
}
