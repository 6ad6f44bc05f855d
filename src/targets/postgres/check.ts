import type pg from 'pg';
import type { Requirement } from '../../core/check.js';
import { freeSpaceRequirement } from '../../core/disk.js';
import { ErrorCode, TributaryError } from '../../core/errors.js';
import type { Column, TableSchema } from '../../core/schema.js';
import { isMysqlSpatial } from '../../core/spatial.js';
import { postgresTypeFor, SPATIAL_POLICY, type PostgresColumnType, type PostgresTypeOptions } from '../../typemap/index.js';
import { planTypes } from './ddl.js';
import { cannotCreate, type MissingDatabase } from './database.js';
import type { Dsn } from '../../config/dsn.js';

type Queryable = Pick<pg.Client, 'query'>;

/**
 * Version, privileges and free space of a PostgreSQL target. Reads only. Free disk space cannot be
 * read over SQL (pg_database_size is what the database uses, not what is left), so it is reported
 * as unknown, with the current size for scale.
 */
export async function targetRequirements(conn: Queryable, schema: string, tables: readonly TableSchema[], host: string): Promise<Requirement[]> {
  const out: Requirement[] = [];
  // The target's clients read every value as text: booleans are 't' / 'f'.
  const r = await conn.query<Record<'version' | 'db' | 'usr' | 'connect' | 'temp' | 'dbcreate' | 'schema_exists' | 'schema_create' | 'schema_usage' | 'size', string | null>>(
    `SELECT current_setting('server_version') AS version, current_database() AS db, current_user AS usr,
            has_database_privilege(current_database(), 'CONNECT') AS connect,
            has_database_privilege(current_database(), 'TEMPORARY') AS temp,
            has_database_privilege(current_database(), 'CREATE') AS dbcreate,
            EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1) AS schema_exists,
            CASE WHEN EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1) THEN has_schema_privilege($1, 'CREATE') END AS schema_create,
            CASE WHEN EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1) THEN has_schema_privilege($1, 'USAGE') END AS schema_usage,
            pg_size_pretty(pg_database_size(current_database())) AS size`,
    [schema],
  );
  const row = r.rows[0];
  if (!row) throw new TributaryError(ErrorCode.INTERNAL, 'target privilege query returned no row');
  const yes = (k: keyof typeof row) => row[k] === 't';
  const x = {
    version: row.version ?? '?',
    db: row.db ?? '?',
    usr: row.usr ?? '?',
    connect: yes('connect'),
    temp: yes('temp'),
    dbcreate: yes('dbcreate'),
    schema_exists: yes('schema_exists'),
    schema_create: yes('schema_create'),
    schema_usage: yes('schema_usage'),
    size: row.size ?? '?',
  };
  out.push({ name: 'version', ok: true, value: `PostgreSQL ${x.version}`, fix: '', severity: 'info', code: ErrorCode.CONNECT_FAILED });
  const user = x.usr;
  const quoted = '"' + schema.replace(/"/g, '""') + '"';
  const dbq = '"' + x.db.replace(/"/g, '""') + '"';
  if (x.schema_exists) {
    const ok = x.schema_create && x.schema_usage;
    out.push({
      name: `privileges on schema ${schema}`,
      ok,
      value: ok ? 'CREATE, USAGE' : `missing ${[x.schema_create ? '' : 'CREATE', x.schema_usage ? '' : 'USAGE'].filter(Boolean).join(', ')}`,
      fix: `GRANT CREATE, USAGE ON SCHEMA ${quoted} TO "${user}"`,
      severity: 'error',
      code: ErrorCode.PRIVILEGE_MISSING,
    });
  } else {
    out.push({
      name: `schema ${schema}`,
      ok: x.dbcreate,
      value: x.dbcreate ? `does not exist: sync will create it (CREATE SCHEMA ${quoted})` : 'does not exist, and the user may not create schemas',
      fix: `CREATE SCHEMA ${quoted}, or GRANT CREATE ON DATABASE ${dbq} TO "${user}"`,
      severity: 'error',
      code: ErrorCode.PRIVILEGE_MISSING,
    });
  }
  const dbOk = x.connect && x.temp;
  out.push({
    name: 'privileges on the database',
    ok: dbOk,
    value: dbOk ? 'CONNECT, TEMPORARY' : `missing ${[x.connect ? '' : 'CONNECT', x.temp ? '' : 'TEMPORARY'].filter(Boolean).join(', ')}`,
    fix: `GRANT CONNECT, TEMPORARY ON DATABASE ${dbq} TO "${user}" (the copy loads through temporary tables)`,
    severity: 'error',
    code: ErrorCode.PRIVILEGE_MISSING,
  });
  // Tables that exist already (a resumed sync) must be writable by this user.
  if (x.schema_exists && tables.length) {
    const t = await conn.query<{ name: string; ok: string }>(
      `SELECT c.relname AS name, has_table_privilege(c.oid, 'SELECT,INSERT,UPDATE,DELETE') AND has_table_privilege(c.oid, 'TRUNCATE') AS ok
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND c.relname = ANY($2::text[]) AND c.relkind IN ('r', 'p')`,
      [schema, tables.map((s) => s.name)],
    );
    for (const bad of t.rows.filter((y) => y.ok !== 't')) {
      out.push({
        name: `privileges on existing target table ${bad.name}`,
        ok: false,
        value: 'missing SELECT, INSERT, UPDATE, DELETE or TRUNCATE',
        fix: `GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON ${quoted}."${bad.name.replace(/"/g, '""')}" TO "${user}"`,
        severity: 'error',
        code: ErrorCode.PRIVILEGE_MISSING,
        table: bad.name,
      });
    }
  }
  // data_directory is visible to superusers and pg_read_all_settings only: otherwise unknown.
  const dd = await conn.query<{ d: string | null }>("SELECT current_setting('data_directory', true) AS d").catch(() => ({ rows: [] as { d: string | null }[] }));
  const free = await freeSpaceRequirement(host, dd.rows[0]?.d ?? undefined, 'PostgreSQL');
  out.push(free.ok ? free : { ...free, value: `${free.value}; the database uses ${x.size} now` });
  return out;
}

/**
 * A target database that does not exist, read from a maintenance database: whether the sync will
 * create it (the role has CREATEDB or is a superuser) with the statement, and the schema it creates
 * in it. The new database's owner has every privilege in it, so no other line is needed. Reads only.
 */
export function missingDatabaseRequirements(dsn: Dsn, schema: string, missing: MissingDatabase): Requirement[] {
  const out: Requirement[] = [{ name: 'version', ok: true, value: `PostgreSQL ${missing.version}`, fix: '', severity: 'info', code: ErrorCode.CONNECT_FAILED }];
  out.push({
    name: `target database ${dsn.database}`,
    ok: missing.mayCreate,
    value: missing.mayCreate ? 'does not exist: sync will create it' : `does not exist, and role '${dsn.user}' may not create it (neither CREATEDB nor SUPERUSER)`,
    fix: missing.mayCreate ? missing.sql : cannotCreate(dsn, missing).message.replace(/^.*?; run /, 'run '),
    severity: missing.mayCreate ? 'info' : 'error',
    code: ErrorCode.DATABASE_MISSING,
  });
  if (schema !== 'public' && missing.mayCreate) {
    out.push({ name: `schema ${schema}`, ok: true, value: 'does not exist: sync will create it in the new database', fix: `CREATE SCHEMA "${schema.replace(/"/g, '""')}"`, severity: 'info', code: ErrorCode.PRIVILEGE_MISSING });
  }
  return out;
}

/**
 * The type mapping of each table: one error per column without a PostgreSQL type (the override as
 * the fix), one per name PostgreSQL cannot hold, and one line per column whose mapping follows a
 * policy (zero dates, TIMESTAMP as timestamptz, unsigned, JSON, ENUM, …).
 */
export function mappingRequirements(tables: readonly TableSchema[], opts: PostgresTypeOptions, schema: string): Requirement[] {
  const out: Requirement[] = [];
  for (const t of tables) {
    const before = out.length;
    for (const c of t.columns) {
      let type: PostgresColumnType;
      try {
        type = postgresTypeFor(t, c, opts, schema);
      } catch (err) {
        if (!(err instanceof TributaryError)) throw err;
        const [value = err.message, ...fix] = err.message.replace(/^column [^:]+: /, '').split('; ');
        out.push({ name: `column ${t.name}.${c.name}`, ok: false, value, fix: fix.join('; '), severity: 'error', code: err.code, table: t.name });
        continue;
      }
      const policy = policyOf(t, c, type, opts);
      if (policy !== undefined) {
        out.push({ name: `${t.name}.${c.name}`, ok: true, value: `${c.columnType} → ${type.sql}`, fix: policy, severity: 'info', code: ErrorCode.TABLE_UNSUPPORTED, table: t.name, mapping: true });
      }
    }
    if (out.slice(before).some((r) => !r.ok)) continue;
    try {
      planTypes(t, opts, schema); // names PostgreSQL would truncate
    } catch (err) {
      if (!(err instanceof TributaryError)) throw err;
      out.push({ name: `table ${t.name} names`, ok: false, value: err.message.replace(/\. Rename.*$/, ''), fix: 'rename it on the source or leave the table out with --tables', severity: 'error', code: err.code, table: t.name });
    }
  }
  return out;
}

/** Why a column's PostgreSQL type is not simply the source's own type: undefined when it is. */
function policyOf(table: TableSchema, c: Column, type: PostgresColumnType, opts: PostgresTypeOptions): string | undefined {
  if (type.overridden) return 'override (--column-types); values are checked against it as they are written';
  if (table.engine !== 'mysql') return undefined;
  const zero = opts.zeroDates === 'null' ? "zero dates ('0000-00-00') written as NULL (--zero-dates null; the column is created nullable)" : "zero dates ('0000-00-00') refused by name (--zero-dates error; --zero-dates null writes NULL)";
  switch (c.dataType) {
    case 'timestamp':
      return `the instant, in UTC; ${zero}`;
    case 'date':
    case 'datetime':
      return zero;
    case 'time':
      return 'interval: MySQL TIME spans ±838:59:59, PostgreSQL time cannot be negative or pass 24h';
    case 'enum':
      return 'text with a CHECK on the members';
    case 'set':
      return 'text (the members, comma-separated)';
    case 'year':
      return 'a number';
    case 'bigint':
      return c.unsigned ? 'numeric(20,0): values above 2^63-1 do not fit bigint' : undefined;
    case 'tinyint':
      return /^tinyint\(1\)/i.test(c.columnType) ? 'a number, not boolean (TINYINT(1) may hold any value)' : undefined;
  }
  if (type.sql === 'json') return 'json keeps the exact text (jsonb would rewrite it)';
  if (isMysqlSpatial(c.dataType)) return spatialPolicy(c, opts);
  return undefined;
}

/** The spatial policy line: PostGIS geometry when the target database has PostGIS, else bytea. */
function spatialPolicy(c: Column, opts: PostgresTypeOptions): string {
  if (opts.postgis === undefined) {
    return `${SPATIAL_POLICY.bytea}: PostGIS is not installed in the target database, so each value is written as its EWKB (the WKB itself when the SRID is 0; ST_GeomFromEWKB reads it). For geometry columns, CREATE EXTENSION postgis in the target database before the first sync`;
  }
  const srid = c.srid !== undefined ? `; the column declares SRID ${c.srid}, and a value with another SRID (MariaDB does not enforce it) is refused by name` : '';
  return `${SPATIAL_POLICY.postgis} (PostGIS in schema ${opts.postgis}): SRID and coordinates kept exactly${srid}`;
}

/**
 * Whether another instance holds this sync's advisory lock (`key`, lock.ts) in the target database:
 * the sync would refuse to start (ALREADY_RUNNING). Reads pg_locks; takes nothing.
 */
export async function lockRequirement(conn: Queryable, key: bigint, syncId: string): Promise<Requirement> {
  const u = BigInt.asUintN(64, key);
  const r = await conn.query<{ holder: string | null }>(
    `SELECT (SELECT pid::text FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid = $1::oid AND objid = $2::oid AND objsubid = 1
                AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) LIMIT 1) AS holder`,
    [(u >> 32n).toString(), (u & 0xffffffffn).toString()],
  );
  const holder = r.rows[0]?.holder ?? null;
  return {
    name: 'sync lock',
    ok: holder === null,
    value: holder === null ? 'free (no other instance runs this sync)' : `held by session ${holder}: another tributary instance runs sync '${syncId}'`,
    fix: 'stop the other instance first, or give this one a different --id',
    severity: 'error',
    code: ErrorCode.ALREADY_RUNNING,
  };
}
