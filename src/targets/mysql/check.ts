import type { Connection, RowDataPacket } from 'mysql2/promise';
import { currentAccount } from '../../engines/mysql/check.js';
import type { Requirement } from '../../core/check.js';
import { freeSpaceRequirement } from '../../core/disk.js';
import { ErrorCode } from '../../core/errors.js';
import type { TableSchema } from '../../core/schema.js';
import { mapPostgresTable, type MappedColumn, type PgToMysqlOptions } from '../../typemap/postgres-to-mysql.js';
import type { DatabasePlan } from '../../engines/mysql/ddl.js';

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
 * Version, privileges, LOAD DATA LOCAL and free space of a MySQL/MariaDB target, and, when the
 * database does not exist (`create`: how the sync would create it), whether the user may create it.
 * Reads only.
 */
export async function targetRequirements(conn: Connection, database: string, user: string, host: string, create?: DatabasePlan): Promise<Requirement[]> {
  const out: Requirement[] = [];
  const [v] = await conn.query<RowDataPacket[]>("SELECT VERSION() AS v, @@GLOBAL.local_infile AS li");
  const version = String(v[0]?.v ?? '');
  out.push({ name: 'version', ok: true, value: `${/mariadb/i.test(version) ? 'MariaDB' : 'MySQL'} ${version}`, fix: '', severity: 'info', code: ErrorCode.CONNECT_FAILED });
  const granted = await grantedOn(conn, database);
  const account = await currentAccount(conn);
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
  const localInfile = Number(v[0]?.li ?? 0) === 1;
  out.push({
    name: 'local_infile',
    ok: localInfile,
    value: localInfile ? 'ON' : 'OFF',
    fix: 'the copy loads chunks with LOAD DATA LOCAL INFILE; SET GLOBAL local_infile = ON (and local_infile=ON in my.cnf)',
    severity: 'error',
    code: ErrorCode.SOURCE_SETTING,
  });
  const [dd] = await conn.query<RowDataPacket[]>('SELECT @@datadir AS d');
  out.push(await freeSpaceRequirement(host, dd[0]?.d === undefined ? undefined : String(dd[0].d), 'MySQL'));
  return out;
}

/**
 * The type mapping of tables from another engine: one error per column without a MySQL type
 * (with the override that fixes it), and one line per column whose mapping follows a policy the
 * user should know of. MySQL → MySQL keeps the source's own CREATE TABLE: nothing to report.
 */
export function mappingRequirements(tables: readonly TableSchema[], opts: PgToMysqlOptions): Requirement[] {
  const out: Requirement[] = [];
  for (const t of tables) {
    if (t.engine !== 'postgres') continue;
    const m = mapPostgresTable(t, opts);
    for (const p of m.problems) {
      out.push({ name: `column ${p.table}.${p.column}`, ok: false, value: p.reason.startsWith(p.pgType) ? p.reason : `${p.pgType}: ${p.reason}`, fix: p.fix, severity: 'error', code: ErrorCode.TABLE_UNSUPPORTED, table: p.table });
    }
    const refused = new Set(m.problems.map((p) => p.column));
    for (const c of m.columns) {
      if (refused.has(c.column.name)) continue;
      const policy = policyOf(c);
      if (policy === undefined) continue;
      out.push({ name: `${t.name}.${c.column.name}`, ok: true, value: `${c.column.columnType} → ${c.sql}`, fix: policy, severity: 'info', code: ErrorCode.TABLE_UNSUPPORTED, table: t.name, mapping: true });
    }
  }
  return out;
}

/** Why a PostgreSQL column's MySQL type is not simply the same type: undefined when it is. */
function policyOf(m: MappedColumn): string | undefined {
  const c = m.column;
  const t = c.dataType;
  if (m.overridden) return 'override (--column-types); values are checked against it as they are written';
  if (t.startsWith('_') || /\[\]$/.test(c.columnType)) return 'array kept as its PostgreSQL text form';
  switch (t) {
    case 'timestamptz':
      return 'converted to UTC, zone dropped; infinity and BC dates refused';
    case 'timestamp':
    case 'date':
      return 'infinity, BC and post-9999 dates refused by name';
    case 'numeric':
      return 'exact; NaN and ±Infinity refused by name';
    case 'float4':
    case 'float8':
      return 'NaN and ±Infinity refused by name';
    case 'json':
    case 'jsonb':
      return `JSON text kept as PostgreSQL prints it${/^LONGTEXT/i.test(m.sql) ? ' (MySQL JSON would re-serialise it)' : ''}`;
    case 'bool':
      return 'true/false as 1/0';
    case 'uuid':
    case 'inet':
    case 'cidr':
    case 'macaddr':
    case 'macaddr8':
    case 'interval':
    case 'timetz':
      return 'kept as its PostgreSQL text form';
    case 'time':
      return 'fractions beyond the column refused, never rounded';
    case 'text':
    case 'varchar':
    case 'bytea':
    case 'bpchar':
      return /^(VAR)?(CHAR|BINARY)\(/i.test(m.sql) && !/^(VAR)?CHAR/i.test(c.columnType) ? 'key column sized to InnoDB\'s 3072-byte key limit; longer values are refused' : undefined;
  }
  if (c.enumLabels || c.enumType) return /^ENUM/i.test(m.sql) ? 'enum labels in the source order' : 'enum kept as text (labels MySQL ENUM cannot hold)';
  return undefined;
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
