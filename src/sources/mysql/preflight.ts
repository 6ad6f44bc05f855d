import type { Connection, RowDataPacket } from 'mysql2/promise';
import { ErrorCode, TributaryError } from '../../core/errors.js';

/** One requirement on the source, its current value and the fix. */
export interface Requirement {
  readonly name: string;
  readonly ok: boolean;
  readonly value: string;
  readonly fix: string;
  readonly code: (typeof ErrorCode)[keyof typeof ErrorCode];
}

async function variable(conn: Connection, name: string): Promise<string | undefined> {
  const [rows] = await conn.query<RowDataPacket[]>('SHOW GLOBAL VARIABLES LIKE ?', [name]);
  const v = rows[0]?.Value;
  return v === undefined ? undefined : String(v);
}

/**
 * The binlog settings and privileges a MySQL/MariaDB source must have. FULL row metadata is a hard
 * requirement: with MINIMAL, a binlog replayed after an ALTER decodes into the wrong columns.
 */
export async function sourceRequirements(conn: Connection): Promise<Requirement[]> {
  const out: Requirement[] = [];
  const logBin = (await variable(conn, 'log_bin')) ?? 'OFF';
  out.push({
    name: 'log_bin',
    ok: logBin === 'ON' || logBin === '1',
    value: logBin,
    fix: 'start the server with --log-bin (binary logging on)',
    code: ErrorCode.SOURCE_SETTING,
  });
  const settings: [string, string, string][] = [
    ['binlog_format', 'ROW', "SET GLOBAL binlog_format = 'ROW' (and binlog_format=ROW in my.cnf)"],
    ['binlog_row_image', 'FULL', "SET GLOBAL binlog_row_image = 'FULL' (and binlog_row_image=FULL in my.cnf)"],
    ['binlog_row_metadata', 'FULL', "SET GLOBAL binlog_row_metadata = 'FULL' (and binlog_row_metadata=FULL in my.cnf)"],
  ];
  for (const [name, want, fix] of settings) {
    const v = (await variable(conn, name)) ?? '(not set)';
    out.push({ name, ok: v.toUpperCase() === want, value: v, fix, code: ErrorCode.SOURCE_SETTING });
  }
  const [grants] = await conn.query<RowDataPacket[]>('SHOW GRANTS FOR CURRENT_USER()');
  const text = grants.map((g) => String(Object.values(g)[0])).join('\n').toUpperCase();
  const all = /GRANT ALL PRIVILEGES ON \*\.\*/.test(text);
  const has = (p: RegExp) => all || p.test(text);
  out.push({
    name: 'privilege REPLICATION SLAVE',
    ok: has(/REPLICATION SLAVE|BINLOG REPLAY|REPLICATION REPLICA/),
    value: has(/REPLICATION SLAVE|REPLICATION REPLICA/) ? 'granted' : 'missing',
    fix: "GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO '<user>'@'<host>'",
    code: ErrorCode.PRIVILEGE_MISSING,
  });
  out.push({
    name: 'privilege REPLICATION CLIENT',
    ok: has(/REPLICATION CLIENT|BINLOG MONITOR/),
    value: has(/REPLICATION CLIENT|BINLOG MONITOR/) ? 'granted' : 'missing',
    fix: "GRANT REPLICATION CLIENT ON *.* TO '<user>'@'<host>' (MariaDB: BINLOG MONITOR)",
    code: ErrorCode.PRIVILEGE_MISSING,
  });
  return out;
}

/** Throws one error naming every unmet requirement. */
export function assertRequirements(reqs: readonly Requirement[], where: string): void {
  const bad = reqs.filter((r) => !r.ok);
  if (bad.length === 0) return;
  const first = bad[0] as Requirement;
  throw new TributaryError(
    first.code,
    `${where} does not meet ${bad.length === 1 ? 'a requirement' : `${bad.length} requirements`}: ` +
      bad.map((r) => `${r.name} is ${r.value}; fix: ${r.fix}`).join('; '),
  );
}
