import type { Connection, RowDataPacket } from 'mysql2/promise';
import { assertRequirements, type Requirement } from '../../core/check.js';
import { freeSpaceRequirement } from '../../core/disk.js';
import { ErrorCode, TributaryError } from '../../core/errors.js';
import type { TableSchema } from '../../core/schema.js';
import type { ColumnValueStats } from '../../core/source.js';
import { LIMITS, logicalTypeOf, mapLogicalTable, overrideFix, type MapTableOptions, type MappingProblem, type MysqlColumnType, type TableMapping } from './types.js';
import { quoteId } from './sql.js';
import type { DatabasePlan } from './ddl.js';

export { assertRequirements, type Requirement };

async function variable(conn: Connection, name: string): Promise<string | undefined> {
  const [rows] = await conn.query<RowDataPacket[]>('SHOW GLOBAL VARIABLES LIKE ?', [name]);
  const v = rows[0]?.Value;
  return v === undefined ? undefined : String(v);
}

/**
 * The account the server authenticated this connection as, quoted for a GRANT: CURRENT_USER()
 * ('repl@127.0.0.1' or 'repl@%'), which is the account privileges attach to, not the URL's user.
 */
export async function currentAccount(conn: Connection): Promise<string> {
  const [rows] = await conn.query<RowDataPacket[]>('SELECT CURRENT_USER() AS u');
  const u = String(rows[0]?.u ?? '');
  const at = u.lastIndexOf('@');
  const quote = (x: string) => `'${x.replace(/'/g, "''")}'`;
  return at < 0 ? quote(u) : `${quote(u.slice(0, at))}@${quote(u.slice(at + 1))}`;
}

/** What a source's requirements depend on besides the server. */
export interface SourceContext {
  /** The source databases (the URL's path, or those --databases selected), for the GRANT SELECT. */
  readonly databases: readonly string[];
  /** --position-mode: 'gtid' refuses a MySQL server whose gtid_mode is not ON. */
  readonly positionMode?: 'auto' | 'gtid' | 'file';
}

/** Binlogs kept for less than this make a sync stopped over a weekend unable to resume. */
const SHORT_RETENTION_SECONDS = 3 * 86400;

/**
 * The binlog settings and privileges a MySQL/MariaDB source must have, and what it is good to know
 * (version, binlog retention, GTID mode). FULL row metadata is a hard requirement: with MINIMAL, a
 * binlog replayed after an ALTER decodes into the wrong columns. Reads only.
 */
export async function sourceRequirements(conn: Connection, ctx: SourceContext): Promise<Requirement[]> {
  const out: Requirement[] = [];
  const account = await currentAccount(conn);
  const [ver] = await conn.query<RowDataPacket[]>('SELECT VERSION() AS v');
  const version = String(ver[0]?.v ?? '');
  const mariadb = /mariadb/i.test(version);
  const [major = 0, minor = 0] = version.split(/[.-]/).map(Number);
  const tested = mariadb ? major > 10 || (major === 10 && minor >= 5) : major >= 8;
  out.push({
    name: 'version',
    ok: tested,
    value: `${mariadb ? 'MariaDB' : 'MySQL'} ${version}`,
    fix: tested ? '' : 'tributary needs MySQL 8.0+ or MariaDB 10.5+ (binlog_row_metadata); upgrade the server',
    severity: 'warning',
    code: ErrorCode.SOURCE_SETTING,
  });
  const logBin = (await variable(conn, 'log_bin')) ?? 'OFF';
  out.push({
    name: 'log_bin',
    ok: logBin === 'ON' || logBin === '1',
    value: logBin,
    fix: 'start the server with --log-bin (binary logging on)',
    severity: 'error',
    code: ErrorCode.SOURCE_SETTING,
  });
  const settings: [string, string, string][] = [
    ['binlog_format', 'ROW', "SET GLOBAL binlog_format = 'ROW' (and binlog_format=ROW in my.cnf)"],
    ['binlog_row_image', 'FULL', "SET GLOBAL binlog_row_image = 'FULL' (and binlog_row_image=FULL in my.cnf)"],
    ['binlog_row_metadata', 'FULL', "SET GLOBAL binlog_row_metadata = 'FULL' (and binlog_row_metadata=FULL in my.cnf)"],
  ];
  for (const [name, want, fix] of settings) {
    const v = (await variable(conn, name)) ?? '(not set)';
    out.push({ name, ok: v.toUpperCase() === want, value: v, fix, severity: 'error', code: ErrorCode.SOURCE_SETTING });
  }
  out.push(await retention(conn));
  out.push(await preparedXa(conn));
  const replica = await replicaLogging(conn);
  if (replica) out.push(replica);
  if (mariadb) {
    const strict = (await variable(conn, 'gtid_strict_mode')) ?? 'OFF';
    const domain = (await variable(conn, 'gtid_domain_id')) ?? '?';
    out.push({
      name: 'GTID (gtid_strict_mode, gtid_domain_id)',
      ok: true,
      value: `gtid_strict_mode=${strict}, gtid_domain_id=${domain}`,
      fix: 'the stream resumes by GTID; gtid_strict_mode=ON is recommended',
      severity: 'info',
      code: ErrorCode.SOURCE_SETTING,
    });
  } else {
    const mode = (await variable(conn, 'gtid_mode')) ?? 'OFF';
    // --position-mode gtid on a server without GTIDs is refused when the sync takes its position.
    const required = ctx.positionMode === 'gtid';
    out.push({
      name: 'gtid_mode',
      ok: required ? mode === 'ON' : true,
      value: mode,
      fix: required
        ? 'SET GLOBAL gtid_mode=ON (with enforce_gtid_consistency=ON), or resume by file and position: --position-mode file'
        : mode === 'ON' ? 'the stream resumes by GTID' : 'the stream resumes by binlog file and position (SET GLOBAL gtid_mode=ON with enforce_gtid_consistency=ON to resume by GTID)',
      severity: required ? 'error' : 'info',
      code: ErrorCode.SOURCE_SETTING,
    });
  }
  const [grants] = await conn.query<RowDataPacket[]>('SHOW GRANTS FOR CURRENT_USER()');
  const text = grants.map((g) => String(Object.values(g)[0])).join('\n').toUpperCase();
  const all = /GRANT ALL PRIVILEGES ON \*\.\*/.test(text);
  const has = (p: RegExp) => all || p.test(text);
  out.push({
    name: 'privilege REPLICATION SLAVE',
    ok: has(/REPLICATION SLAVE|BINLOG REPLAY|REPLICATION REPLICA/),
    value: has(/REPLICATION SLAVE|REPLICATION REPLICA/) ? 'granted' : 'missing',
    fix: `GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO ${account}`,
    severity: 'error',
    code: ErrorCode.PRIVILEGE_MISSING,
  });
  out.push({
    name: 'privilege REPLICATION CLIENT',
    ok: has(/REPLICATION CLIENT|BINLOG MONITOR/),
    value: has(/REPLICATION CLIENT|BINLOG MONITOR/) ? 'granted' : 'missing',
    fix: `GRANT REPLICATION CLIENT ON *.* TO ${account} (MariaDB: BINLOG MONITOR)`,
    severity: 'error',
    code: ErrorCode.PRIVILEGE_MISSING,
  });
  // SELECT may be granted per database or per table; a table the user cannot read fails when it
  // is described, so this line only reports what SHOW GRANTS says.
  const select = has(/^GRANT [^\n]*?\b(SELECT|ALL PRIVILEGES)\b[^\n]* ON /m);
  out.push({
    name: 'privilege SELECT',
    ok: select,
    value: select ? 'granted' : 'missing',
    fix: ctx.databases.map((d) => `GRANT SELECT ON \`${d.replace(/`/g, '``')}\`.* TO ${account}`).join('; '),
    severity: 'error',
    code: ErrorCode.PRIVILEGE_MISSING,
  });
  return out;
}

/**
 * A source that is itself a replica binlogs what its primary sends it only with log_slave_updates
 * (MySQL 8: log_replica_updates); without it the stream never sees those changes, and the target
 * silently falls behind the source's tables. With the setting ON nothing else is read. Otherwise the
 * replication connections are read (MariaDB: all of them, named ones included; they need REPLICA
 * MONITOR, or REPLICATION CLIENT before 10.5.8), and without that privilege MariaDB's
 * Slaves_running status, which needs none. A replica whose threads run is an error; one whose
 * replication is stopped (a promoted replica never reset), or one that cannot be told, a warning.
 * Undefined when the server replicates from no primary.
 */
async function replicaLogging(conn: Connection): Promise<Requirement | undefined> {
  const mysql8 = (await variable(conn, 'log_replica_updates')) !== undefined;
  const setting = mysql8 ? 'log_replica_updates' : 'log_slave_updates';
  const v = ((await variable(conn, setting)) ?? 'OFF').toUpperCase();
  if (v === 'ON' || v === '1') return undefined;
  const base = { name: `${setting} (the source is a replica)`, code: ErrorCode.SOURCE_SETTING } as const;
  const fixOff = (primary: string) =>
    `the changes this replica applies from ${primary} are not in its binlog, so they would never reach the target: set ${setting}=ON in its my.cnf and restart it, or sync from the primary`;
  let rows: RowDataPacket[] | undefined;
  let denied = '';
  for (const sql of ['SHOW ALL SLAVES STATUS', 'SHOW REPLICA STATUS', 'SHOW SLAVE STATUS']) {
    try {
      [rows] = await conn.query<RowDataPacket[]>(sql);
      break;
    } catch (err) {
      if (/denied|privilege/i.test((err as Error).message)) denied ||= (err as Error).message.slice(0, 160);
    }
  }
  if (rows === undefined) {
    // MariaDB counts its running replication connections in a status variable anyone may read.
    const [st] = await conn.query<RowDataPacket[]>("SHOW GLOBAL STATUS LIKE 'Slaves_running'").catch(() => [[] as RowDataPacket[]] as const);
    const running = st[0]?.Value;
    if (running !== undefined && Number(running) > 0) {
      return { ...base, ok: false, severity: 'error', value: `replica (${String(running)} replication connection${Number(running) > 1 ? 's' : ''} running), ${setting}=${v}`, fix: fixOff('its primary') };
    }
    if (running !== undefined) return undefined;
    return {
      ...base,
      ok: false,
      severity: 'warning',
      value: `cannot tell, ${setting}=${v}`,
      fix: `whether the server replicates from a primary could not be read${denied ? ` (${denied})` : ''}: GRANT REPLICA MONITOR (MariaDB 10.5.8+; REPLICATION CLIENT on MySQL) to the sync's user; if it is a replica, it must run with ${setting}=ON`,
    };
  }
  if (rows.length === 0) return undefined;
  const field = (r: RowDataPacket, ...names: string[]) => names.map((n) => r[n]).find((x) => x !== undefined && x !== null && x !== '');
  const runningRows = rows.filter((r) => /^yes$/i.test(String(field(r, 'Slave_IO_Running', 'Replica_IO_Running') ?? '')) || /^yes$/i.test(String(field(r, 'Slave_SQL_Running', 'Replica_SQL_Running') ?? '')));
  const primaries = (runningRows.length > 0 ? runningRows : rows).map((r) => `${String(field(r, 'Master_Host', 'Source_Host') ?? '?')}:${String(field(r, 'Master_Port', 'Source_Port') ?? '?')}`).join(', ');
  if (runningRows.length === 0) {
    return { ...base, ok: false, severity: 'warning', value: `replication from ${primaries} configured but stopped, ${setting}=${v}`, fix: `if replication is started again, the changes it applies will not reach the target: set ${setting}=ON, or RESET SLAVE ALL on a promoted replica` };
  }
  return { ...base, ok: false, severity: 'error', value: `replica of ${primaries}, ${setting}=${v}`, fix: fixOff(primaries) };
}

/**
 * XA transactions prepared on the source now. Their rows were binlogged at XA PREPARE, before a
 * sync starting now begins to read: the stream never sees them, and the copy has them only if it
 * reads their rows after XA COMMIT. A sync already running holds such rows itself (the binlog
 * reader keeps a prepared transaction's rows until its outcome), so this is a warning for a start.
 */
async function preparedXa(conn: Connection): Promise<Requirement> {
  const base = { name: 'prepared XA transactions', severity: 'warning', code: ErrorCode.SOURCE_SETTING } as const;
  try {
    const [rows] = await conn.query<RowDataPacket[]>('XA RECOVER');
    const xids = rows.map((r) => String(r.data ?? '')).sort();
    if (xids.length === 0) return { ...base, ok: true, value: 'none', fix: '' };
    const shown = xids.slice(0, 5).map((x) => `'${x}'`).join(', ') + (xids.length > 5 ? ` and ${xids.length - 5} more` : '');
    return {
      ...base,
      ok: false,
      value: `${xids.length} prepared (${shown})`,
      fix: 'a sync starting now does not see their rows; decide them first (XA COMMIT / XA ROLLBACK), or run tributary verify --repair once they are committed. A sync resuming from a checkpoint is not affected',
    };
  } catch (err) {
    return { ...base, ok: true, value: `unknown (XA RECOVER: ${(err as Error).message})`, fix: 'grant XA_RECOVER_ADMIN (MySQL 8) to see prepared XA transactions' };
  }
}

/**
 * How long binlogs are kept (binlog_expire_logs_seconds, else expire_logs_days): a sync stopped
 * longer than that cannot resume. Never purged (0) is safe for tributary but fills the disk.
 */
async function retention(conn: Connection): Promise<Requirement> {
  const secs = Number((await variable(conn, 'binlog_expire_logs_seconds')) ?? 0);
  const days = Number((await variable(conn, 'expire_logs_days')) ?? 0);
  const seconds = secs > 0 ? secs : days * 86400;
  const base = { name: 'binlog retention', severity: 'warning', code: ErrorCode.SOURCE_SETTING } as const;
  if (seconds === 0) {
    return { ...base, ok: false, value: '0 (binlogs are never purged)', fix: 'the disk fills unless binlogs are purged; set binlog_expire_logs_seconds = 604800 (longer than any planned stop of the sync)' };
  }
  const shown = seconds % 86400 === 0 ? `${seconds / 86400} days` : `${seconds} s`;
  return {
    ...base,
    ok: seconds >= SHORT_RETENTION_SECONDS,
    value: shown,
    fix: 'a sync stopped longer than this cannot resume; raise binlog_expire_logs_seconds (e.g. 604800)',
  };
}

/**
 * Refuses a table the user can see but not read (a grant of another privilege makes it visible in
 * information_schema; SHOW GRANTS' SELECT may be another database's): the copy would fail on it
 * after the target was created. PRIVILEGE_MISSING with the exact GRANT for that table.
 */
export async function assertReadable(conn: Connection, database: string, table: string): Promise<void> {
  try {
    await conn.query(`SELECT 1 FROM ${quoteId(database)}.${quoteId(table)} LIMIT 0`);
  } catch (err) {
    const e = err as { errno?: number; message?: string };
    // ER_TABLEACCESS_DENIED_ERROR, ER_COLUMNACCESS_DENIED_ERROR
    if (e.errno !== 1142 && e.errno !== 1143) throw err;
    const account = await currentAccount(conn);
    throw new TributaryError(
      ErrorCode.PRIVILEGE_MISSING,
      `table ${table}: ${account} may not read it (${e.message ?? 'SELECT denied'}); GRANT SELECT ON ${quoteId(database)}.${quoteId(table)} TO ${account}`,
      { cause: err },
    );
  }
}

/** What a sync does on the target database: create and drop its tables, load and change rows. */
const NEEDED = ['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'CREATE', 'DROP', 'ALTER', 'INDEX'];

/**
 * The privileges of the current user on `database`, from SHOW GRANTS: global grants and grants on
 * the database (a grant on a LIKE pattern such as `shop\_%` is not matched: it is reported missing
 * and the sync finds out when it writes).
 */
async function grantedOn(conn: Connection, database: string): Promise<Set<string>> {
  const [rows] = await conn.query<RowDataPacket[]>('SHOW GRANTS FOR CURRENT_USER()');
  const out = new Set<string>();
  for (const r of rows) {
    const m = /^GRANT (.+?) ON (\S+) TO /i.exec(String(Object.values(r)[0]));
    if (!m) continue;
    const scope = (m[2] as string).replace(/`/g, '').replace(/\\_/g, '_');
    if (scope !== '*.*' && scope !== `${database}.*`) continue;
    for (const p of (m[1] as string).toUpperCase().split(/,\s*/)) {
      if (p.startsWith('ALL')) NEEDED.forEach((n) => out.add(n));
      else out.add(p.trim());
    }
  }
  return out;
}

/**
 * Whether the current user may create `database` when it does not exist (`create`: how the sync
 * would), and write there: one line each. Reads only. Run for the target URL's database and, in a
 * sync of several databases, for each target database.
 */
export async function databaseRequirements(conn: Connection, database: string, user: string, account: string, create?: DatabasePlan): Promise<Requirement[]> {
  const out: Requirement[] = [];
  const granted = await grantedOn(conn, database);
  if (create) {
    const may = granted.has('CREATE');
    out.push({
      name: `target database ${database}`,
      ok: may,
      value: may ? `does not exist: sync will create it${create.note ? ` (${create.note})` : ''}` : `does not exist, and user '${user}' may not create it`,
      fix: may ? create.sql : `${create.sql} as a user that may, or GRANT CREATE ON \`${database}\`.* TO ${account}`,
      severity: may ? 'info' : 'error',
      code: ErrorCode.DATABASE_MISSING,
    });
  }
  const missing = NEEDED.filter((p) => !granted.has(p));
  out.push({
    name: `privileges on ${database}`,
    ok: missing.length === 0,
    value: missing.length === 0 ? NEEDED.join(', ') : `missing ${missing.join(', ')}`,
    fix: `GRANT ${NEEDED.join(', ')} ON \`${database}\`.* TO ${account}`,
    severity: 'error',
    code: ErrorCode.PRIVILEGE_MISSING,
  });
  return out;
}

/**
 * Version, privileges, LOAD DATA LOCAL and free space of a MySQL/MariaDB target, and, when the
 * database does not exist (`create`: how the sync would create it), whether the user may create it.
 * Reads only.
 */
export async function targetRequirements(conn: Connection, database: string, user: string, host: string, create?: DatabasePlan): Promise<Requirement[]> {
  const out: Requirement[] = [];
  const [v] = await conn.query<RowDataPacket[]>("SELECT VERSION() AS v, @@GLOBAL.local_infile AS li");
  const version = String(v[0]?.v ?? '');
  out.push({ name: 'version', ok: true, value: `${/mariadb/i.test(version) ? 'MariaDB' : 'MySQL'} ${version}`, fix: '', severity: 'info', code: ErrorCode.CONNECT_FAILED });
  const account = await currentAccount(conn);
  out.push(...(await databaseRequirements(conn, database, user, account, create)));
  const localInfile = Number(v[0]?.li ?? 0) === 1;
  out.push({
    name: 'local_infile',
    ok: localInfile,
    value: localInfile ? 'ON' : 'OFF',
    fix: 'the copy loads chunks with LOAD DATA LOCAL INFILE; SET GLOBAL local_infile = ON (and local_infile=ON in my.cnf)',
    severity: 'error',
    code: ErrorCode.SOURCE_SETTING,
  });
  out.push(await processRequirement(conn, account));
  const [dd] = await conn.query<RowDataPacket[]>('SELECT @@datadir AS d');
  out.push(await freeSpaceRequirement(host, dd[0]?.d === undefined ? undefined : String(dd[0].d), 'MySQL'));
  return out;
}

/**
 * PROCESS, which reads InnoDB's table ids: a RENAME TABLE that a crash left between the target's
 * DDL and its checkpoint is judged by them on replay (replay.ts). Without it such a replay stops
 * and asks the user; everything else works, so this is a warning.
 */
async function processRequirement(conn: Connection, account: string): Promise<Requirement> {
  const [grants] = await conn.query<RowDataPacket[]>('SHOW GRANTS FOR CURRENT_USER()');
  const text = grants.map((g) => String(Object.values(g)[0])).join('\n').toUpperCase();
  const ok = /GRANT ALL PRIVILEGES ON \*\.\*/.test(text) || /GRANT [^\n]*\bPROCESS\b[^\n]* ON \*\.\*/.test(text);
  return {
    name: 'privilege PROCESS',
    ok,
    value: ok ? 'granted' : 'not granted',
    fix: `GRANT PROCESS ON *.* TO ${account}: a RENAME TABLE replayed after a crash between the target's DDL and its checkpoint is judged by InnoDB's table ids, which it reads`,
    severity: 'warning',
    code: ErrorCode.PRIVILEGE_MISSING,
  };
}

/**
 * The type mapping of tables from another engine: one error per column without a MySQL type
 * (with the override that fixes it), and one line per column whose mapping follows a policy the
 * user should know of. MySQL → MySQL keeps the source's own CREATE TABLE: nothing to report.
 */
export function mappingRequirements(tables: readonly TableSchema[], opts: MapTableOptions): Requirement[] {
  const out: Requirement[] = [];
  for (const t of tables) {
    if (t.engine === 'mysql') continue;
    const m = mapLogicalTable(t, opts);
    for (const p of m.problems) {
      out.push({ name: `column ${p.table}.${p.column}`, ok: false, value: p.reason.startsWith(p.pgType) ? p.reason : `${p.pgType}: ${p.reason}`, fix: p.fix, severity: 'error', code: ErrorCode.TABLE_UNSUPPORTED, table: p.table });
    }
    const refused = new Set(m.problems.map((p) => p.column));
    for (const c of m.columns) {
      if (refused.has(c.column.name)) continue;
      const policy = policyOf(t, c);
      if (policy === undefined) continue;
      out.push({ name: `${t.name}.${c.column.name}`, ok: true, value: `${c.column.columnType} → ${c.sql}`, fix: policy, severity: 'info', code: ErrorCode.TABLE_UNSUPPORTED, table: t.name, mapping: true });
    }
  }
  return out;
}

/**
 * Why a column's MySQL type is not simply the same type, by its logical type: undefined when it
 * is. An `other` type kept as its ASCII text form is a network or time type printed as text (inet,
 * cidr, macaddr, timetz); one with a described form (tsvector, ranges, composites, hstore) shows it;
 * citext names its case-insensitive collation; one kept as any other text
 * (xml, "char", name) needs no word. A domain's line says its base type and its CHECKs (policyOf).
 */
function policyOf(table: TableSchema, m: MysqlColumnType): string | undefined {
  if (m.overridden) return 'override (--column-types); values are checked against it as they are written';
  const own = typePolicy(table, m);
  const domain = m.column.userType?.user;
  if (domain?.kind !== 'domain' || m.column.userType?.array) return own;
  // The source enforced the domain's constraints on every value it holds; the target takes the values as they are.
  const checks = domain.checks.length ? `; its CHECK constraints are not created (the source enforced them): ${domain.checks.map((k) => k.definition).join(', ')}` : '';
  return `domain ${domain.name} as its base type ${domain.base.sql}${checks}${own ? `; ${own}` : ''}`;
}

/** policyOf for the column's type itself (a domain's: its base type's). */
function typePolicy(table: TableSchema, m: MysqlColumnType): string | undefined {
  const c = m.column;
  const logical = logicalTypeOf(table, c);
  switch (logical.kind) {
    case 'array':
      return 'array kept as its PostgreSQL text form';
    case 'timestamp':
      return logical.zone ? 'converted to UTC, zone dropped; infinity and BC dates refused' : 'infinity, BC and post-9999 dates refused by name';
    case 'date':
      return 'infinity, BC and post-9999 dates refused by name';
    case 'decimal':
      return 'exact; NaN and ±Infinity refused by name';
    case 'float':
      return 'NaN and ±Infinity refused by name';
    case 'json':
      return `JSON text kept as PostgreSQL prints it${/^LONGTEXT/i.test(m.sql) ? ' (MySQL JSON would re-serialise it)' : ''}`;
    case 'boolean':
      return 'true/false as 1/0';
    case 'uuid':
    case 'interval':
      return 'kept as its PostgreSQL text form';
    case 'time':
      return 'fractions beyond the column refused, never rounded';
    case 'text':
    case 'binary':
      // An unbounded string in a key gets a length; a declaration spelled as a character type (CHAR, VARCHAR, character varying) is left unsaid.
      return /^(VAR)?(CHAR|BINARY)\(/i.test(m.sql) && !/^(VAR)?CHAR/i.test(c.columnType) ? 'key column sized to InnoDB\'s 3072-byte key limit; longer values are refused' : undefined;
    case 'other':
      if (logical.text?.form !== undefined) return `kept as text '${logical.text.form}', PostgreSQL's own output, which reads back to the same value`;
      if (logical.text?.ascii) return 'kept as its PostgreSQL text form';
      if (logical.typeName === 'citext') return 'case-insensitive, accent-sensitive NO PAD collation, as citext compares';
      break;
  }
  if (logical.kind === 'enum' || c.enumLabels || c.enumType) return /^ENUM/i.test(m.sql) ? 'enum labels in the source order' : 'enum kept as text (labels MySQL ENUM cannot hold)';
  return undefined;
}

/**
 * The preflight check: throws TABLE_UNSUPPORTED listing every column that cannot be mapped, each
 * with the reason and the override that fixes it. Creates and reads nothing.
 */
export function assertMappable(tables: readonly TableSchema[], opts: MapTableOptions = {}): TableMapping[] {
  const maps = tables.map((t) => mapLogicalTable(t, opts));
  const problems = maps.flatMap((m) => m.problems);
  if (problems.length) {
    const lines = problems.map((p) => `${p.table}.${p.column} (${p.pgType}): ${p.reason}; ${p.fix}`);
    throw new TributaryError(
      ErrorCode.TABLE_UNSUPPORTED,
      `${problems.length} column${problems.length > 1 ? 's' : ''} cannot be mapped to MySQL:\n  ${lines.join('\n  ')}`,
    );
  }
  return maps;
}

/**
 * The smallest DECIMAL(p,s) that holds values of at most `maxIntegerDigits` integer and `maxScale`
 * fraction digits, or null when none within MySQL's DECIMAL(65,30) does (or nothing was counted).
 */
export function fitsDecimal(maxIntegerDigits: number | null, maxScale: number | null): string | null {
  const [d, s] = [maxIntegerDigits, maxScale];
  return d !== null && s !== null && d <= LIMITS.decimalPrecision - LIMITS.decimalScale && s <= LIMITS.decimalScale ? `DECIMAL(${Math.max(1, d + s)},${s})` : null;
}

/**
 * Problems a data scan of another engine's source (ChangeSource.valueStats) found for the mapped
 * columns: each names the column, the counts and the fix (an override that holds the data, or
 * correcting the rows).
 */
export function dataProblems(mapping: TableMapping, reports: readonly ColumnValueStats[]): MappingProblem[] {
  const out: MappingProblem[] = [];
  for (const r of reports) {
    const m = mapping.columns.find((c) => c.column.name === r.column);
    if (!m || m.kind === 'text') continue;
    const base = { table: r.table, column: r.column, pgType: r.sourceType };
    const bad = r.nan + r.posInfinity + r.negInfinity;
    if (bad > 0 && (m.kind === 'decimal' || m.kind === 'float' || m.kind === 'int')) {
      out.push({ ...base, reason: `${r.nan} NaN, ${r.posInfinity} Infinity and ${r.negInfinity} -Infinity values cannot be stored in MySQL ${m.sql}`, fix: `correct those rows, or ${overrideFix(r.table, r.column, 'VARCHAR(100)')} to keep the text` });
    }
    if (m.kind === 'decimal' && m.decimal && r.maxIntegerDigits !== null && r.maxScale !== null) {
      if (r.maxIntegerDigits > m.decimal.precision - m.decimal.scale || r.maxScale > m.decimal.scale) {
        out.push({ ...base, reason: `values with ${r.maxIntegerDigits} integer and ${r.maxScale} fraction digits do not fit ${m.sql}`, fix: overrideFix(r.table, r.column, fitsDecimal(r.maxIntegerDigits, r.maxScale) ?? 'VARCHAR(200)') });
      }
    }
    if (r.outOfRange > 0 && (m.kind === 'date' || m.kind === 'timestamp' || m.kind === 'timestamptz')) {
      out.push({ ...base, reason: `${r.outOfRange} infinite, BC or post-9999 values cannot be stored in MySQL ${m.sql}`, fix: `correct those rows, or ${overrideFix(r.table, r.column, 'VARCHAR(64)')} to keep the text` });
    }
  }
  return out;
}

/**
 * Whether another instance holds this sync's GET_LOCK (`name`, lock.ts): the sync would refuse to
 * start (ALREADY_RUNNING). IS_USED_LOCK reads; it takes nothing.
 */
export async function lockRequirement(conn: Connection, name: string, syncId: string): Promise<Requirement> {
  const [rows] = await conn.query<RowDataPacket[]>('SELECT IS_USED_LOCK(?) AS holder', [name]);
  const holder = rows[0]?.holder ?? null;
  return {
    name: 'sync lock',
    ok: holder === null,
    value: holder === null ? 'free (no other instance runs this sync)' : `held by connection ${String(holder)}: another tributary instance runs sync '${syncId}'`,
    fix: 'stop the other instance first, or give this one a different --id',
    severity: 'error',
    code: ErrorCode.ALREADY_RUNNING,
  };
}
