/**
 * Source-vs-target comparisons the demo prints: row counts while it runs, CHECKSUM TABLE at the end
 * (a MariaDB target), or for an etcd target the keys under each table's prefix while it runs and
 * `tributary verify`'s row-by-row comparison at the end.
 */
import type { Etcd3 } from 'etcd3';
import mysql, { type Connection, type RowDataPacket } from 'mysql2/promise';
import type { Logger } from '../core/logger.js';
import { verify } from '../runner/verify.js';

export async function openDemoConnection(url: string): Promise<Connection> {
  return mysql.createConnection({ uri: url, charset: 'UTF8MB4_GENERAL_CI', timezone: 'Z', dateStrings: true, supportBigNumbers: true, bigNumberStrings: true });
}

const q = (name: string) => '`' + name.replace(/`/g, '``') + '`';

export async function countRows(conn: Connection, tables: readonly string[]): Promise<number[]> {
  const out: number[] = [];
  for (const t of tables) {
    const [rows] = await conn.query<RowDataPacket[]>(`SELECT COUNT(*) AS n FROM ${q(t)}`);
    out.push(Number(rows[0]?.n ?? 0));
  }
  return out;
}

/**
 * CHECKSUM TABLE of each table: a hash of every row's stored values. The target's tables are
 * created from the source's own CREATE statements, so equal data gives equal checksums.
 */
export async function checksumTables(conn: Connection, tables: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const t of tables) {
    const [rows] = await conn.query<RowDataPacket[]>(`CHECKSUM TABLE ${q(t)}`);
    out.push(String(rows[0]?.Checksum ?? 'NULL'));
  }
  return out;
}

export interface TableComparison {
  readonly table: string;
  readonly sourceRows: number;
  readonly targetRows: number;
  readonly sourceChecksum: string;
  readonly targetChecksum: string;
  readonly equal: boolean;
}

/** Row counts and checksums of each table on both sides; run while nothing writes. */
export async function compareTables(src: Connection, dst: Connection, tables: readonly string[]): Promise<TableComparison[]> {
  const [sc, dc, ss, ds] = await Promise.all([countRows(src, tables), countRows(dst, tables), checksumTables(src, tables), checksumTables(dst, tables)]);
  return tables.map((table, i) => {
    const c = {
      table,
      sourceRows: sc[i] ?? 0,
      targetRows: dc[i] ?? 0,
      sourceChecksum: ss[i] ?? '',
      targetChecksum: ds[i] ?? '',
    };
    return { ...c, equal: c.sourceRows === c.targetRows && c.sourceChecksum === c.targetChecksum };
  });
}

/** One line: `customers 5021/5019  products 2001/2001 ✓ …` (source/target rows). */
export function formatCounts(tables: readonly string[], source: readonly number[], target: readonly number[]): string {
  return tables.map((t, i) => `${t} ${source[i]}/${target[i]}${source[i] === target[i] ? ' ✓' : ''}`).join('  ');
}

/** The final table: rows and checksum on each side, and the verdict per table. */
export function formatComparison(rows: readonly TableComparison[]): string {
  const header = ['table', 'source rows', 'target rows', 'source checksum', 'target checksum', ''];
  const body = rows.map((r) => [r.table, String(r.sourceRows), String(r.targetRows), r.sourceChecksum, r.targetChecksum, r.equal ? 'equal' : 'DIFFERENT']);
  return formatTable(header, body);
}

/** Keys under `<prefix>/<table>/` of each table, counted by etcd (the rows of an etcd target). */
export async function countEtcdKeys(client: Etcd3, prefix: string, tables: readonly string[]): Promise<number[]> {
  const out: number[] = [];
  for (const t of tables) out.push(await client.getAll().prefix(`${prefix}/${t}/`).count());
  return out;
}

/** One table of the final comparison with an etcd target. */
export interface KeyComparison {
  readonly table: string;
  /** COUNT(*) on the source. */
  readonly sourceRows: number;
  /** Keys under the table's prefix in etcd. */
  readonly targetKeys: number;
  /** Rows verify read on the source and looked up in etcd. */
  readonly rowsChecked: number;
  /** Rows verify found missing from etcd, only in etcd, or with another value. */
  readonly missing: number;
  readonly extra: number;
  readonly changed: number;
  /** Why verify could not compare the table. */
  readonly error?: string;
  readonly equal: boolean;
}

/**
 * The source against an etcd target, run while nothing writes: each table's COUNT(*) and its key
 * count in etcd, and `tributary verify` (the library function), which reads every source row and
 * the object at its key back into the source's values and compares them exactly. Equal when
 * verify finds no difference and the counts match.
 */
export async function compareWithEtcd(
  src: Connection,
  client: Etcd3,
  config: { readonly source: string; readonly target: string; readonly prefix: string },
  tables: readonly string[],
  logger: Logger,
): Promise<KeyComparison[]> {
  const [sc, keys] = await Promise.all([countRows(src, tables), countEtcdKeys(client, config.prefix, tables)]);
  const result = await verify({ source: config.source, target: config.target }, { logger });
  return tables.map((table, i) => {
    const r = result.tables.find((t) => t.table === table);
    const c = {
      table,
      sourceRows: sc[i] ?? 0,
      targetKeys: keys[i] ?? 0,
      rowsChecked: r?.rowsChecked ?? 0,
      missing: r?.missing ?? 0,
      extra: r?.extra ?? 0,
      changed: r?.changed ?? 0,
      ...(r === undefined ? { error: 'not compared by verify' } : r.error ? { error: `${r.error.code}: ${r.error.message}` } : {}),
    };
    return { ...c, equal: r !== undefined && r.equal && c.sourceRows === c.targetKeys && c.rowsChecked === c.sourceRows };
  });
}

/** The final table with an etcd target: counts on each side, verify's findings, the verdict per table. */
export function formatKeyComparison(rows: readonly KeyComparison[]): string {
  const header = ['table', 'source rows', 'etcd keys', 'verified', 'missing', 'extra', 'changed', ''];
  const body = rows.map((r) => [
    r.table,
    String(r.sourceRows),
    String(r.targetKeys),
    String(r.rowsChecked),
    String(r.missing),
    String(r.extra),
    String(r.changed),
    r.equal ? 'equal' : 'DIFFERENT',
  ]);
  const errors = rows.filter((r) => r.error).map((r) => `  ${r.table}: ${r.error}`);
  return [formatTable(header, body), ...errors].join('\n');
}

function formatTable(header: readonly string[], body: readonly string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    '  ' + cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : i === cells.length - 1 ? c : c.padStart(widths[i] ?? 0))).join('  ').trimEnd();
  return [line(header), ...body.map((b) => line(b))].join('\n');
}
