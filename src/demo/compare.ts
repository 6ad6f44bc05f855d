/** Source-vs-target comparisons the demo prints: row counts while it runs, CHECKSUM TABLE at the end. */
import mysql, { type Connection, type RowDataPacket } from 'mysql2/promise';

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
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] ?? '').length)));
  const line = (cells: string[]) =>
    '  ' + cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : i === cells.length - 1 ? c : c.padStart(widths[i] ?? 0))).join('  ').trimEnd();
  return [line(header), ...body.map(line)].join('\n');
}
