import type pg from 'pg';
import type { Dsn } from '../../config/dsn.js';
import { assertRequirements, type Requirement } from '../../core/check.js';
import { freeSpaceRequirement } from '../../core/disk.js';
import { ErrorCode, TributaryError } from '../../core/errors.js';
import { isKeyless, type Column, type TableSchema } from '../../core/schema.js';
import { cannotCreate, planTypes, type MissingDatabase } from './ddl.js';
import { APPLICATION_NAME } from './connection.js';
import type { DescribedTable } from './schema.js';
import { assertCovers, publicationState, setting, slotInfo, type PublicationState } from './slot.js';
import type { SchemaScope } from './scope.js';
import { quoteIdent } from './sql.js';
import { postgresColumnType, SPATIAL_POLICY, type PostgresColumnType, type PostgresTypeOptions } from './types.js';
import { createUserTypeSql, installFix, userTypeState, userTypeWords, type UserTypePlan } from './user-type-ddl.js';

export { assertRequirements, type Requirement };

type Queryable = Pick<pg.Client | pg.Pool, 'query'>;

export interface PreflightContext {
  readonly user: string;
  readonly slot: string;
  readonly publication: string;
  /** The synced schemas and how their tables are named (scope.ts). */
  readonly scope: SchemaScope;
  readonly syncId: string;
  readonly tables: readonly DescribedTable[];
}

/**
 * What a PostgreSQL source must offer: logical WAL, a role that may replicate, a free slot and
 * WAL sender (unless the sync's slot exists already), tables that can be keyed, and a
 * publication that covers them (or one tributary will create). Reads only; creates nothing.
 */
export async function sourceRequirements(conn: Queryable, ctx: PreflightContext): Promise<Requirement[]> {
  const out: Requirement[] = [];
  const version = await setting(conn, 'server_version');
  const supported = Number(/^(\d+)/.exec(version)?.[1] ?? 0) >= 10;
  out.push({
    name: 'version',
    ok: supported,
    value: `PostgreSQL ${version}`,
    fix: supported ? '' : 'logical replication with pgoutput needs PostgreSQL 10+ (tested on 15 and later); upgrade the server',
    severity: 'warning',
    code: ErrorCode.SOURCE_SETTING,
  });
  const wal = await setting(conn, 'wal_level');
  out.push({
    name: 'wal_level',
    ok: wal === 'logical',
    value: wal,
    fix: 'ALTER SYSTEM SET wal_level = logical, then restart the server',
    severity: 'error',
    code: ErrorCode.SOURCE_SETTING,
  });
  const role = await conn.query<{ super: string; repl: string }>('SELECT rolsuper AS super, rolreplication AS repl FROM pg_roles WHERE rolname = current_user');
  const r = role.rows[0];
  const canReplicate = r?.super === 't' || r?.repl === 't';
  out.push({
    name: `role ${ctx.user} REPLICATION attribute`,
    ok: canReplicate,
    value: canReplicate ? (r?.super === 't' ? 'superuser' : 'REPLICATION') : 'NOREPLICATION',
    fix: `ALTER ROLE ${quoteIdent(ctx.user)} WITH REPLICATION`,
    severity: 'error',
    code: ErrorCode.PRIVILEGE_MISSING,
  });
  const ownSlot = await slotInfo(conn, ctx.slot);
  const slots = await conn.query<{ used: string; max: string; senders: string; maxsenders: string }>(
    `SELECT (SELECT count(*) FROM pg_replication_slots) AS used, current_setting('max_replication_slots') AS max,
            (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'walsender') AS senders, current_setting('max_wal_senders') AS maxsenders`,
  );
  const s = slots.rows[0];
  const freeSlots = Number(s?.max ?? 0) - Number(s?.used ?? 0);
  out.push({
    name: 'max_replication_slots',
    ok: ownSlot !== undefined || freeSlots >= 1,
    value: `${s?.max ?? '?'} (${s?.used ?? '?'} in use${ownSlot ? `, including this sync's ${ctx.slot}` : ''})`,
    fix: 'raise max_replication_slots (ALTER SYSTEM SET max_replication_slots = …, then restart) or drop unused slots (pg_drop_replication_slot)',
    severity: 'error',
    code: ErrorCode.SOURCE_SETTING,
  });
  const freeSenders = Number(s?.maxsenders ?? 0) - Number(s?.senders ?? 0);
  out.push({
    name: 'max_wal_senders',
    ok: freeSenders >= 1,
    value: `${s?.maxsenders ?? '?'} (${s?.senders ?? '?'} in use)`,
    fix: 'raise max_wal_senders (ALTER SYSTEM SET max_wal_senders = …, then restart)',
    severity: 'error',
    code: ErrorCode.SOURCE_SETTING,
  });
  const keep = await setting(conn, 'max_slot_wal_keep_size');
  out.push({
    name: 'max_slot_wal_keep_size',
    ok: keep !== '-1',
    value: keep === '-1' ? '-1 (unlimited)' : keep,
    fix:
      keep === '-1'
        ? 'a stopped or stalled sync makes the server keep WAL without limit (disk space); ALTER SYSTEM SET max_slot_wal_keep_size = \'10GB\', then SELECT pg_reload_conf()'
        : 'a sync that falls further behind loses its slot and must start over',
    severity: 'warning',
    code: ErrorCode.SOURCE_SETTING,
  });
  const standbys = await setting(conn, 'synchronous_standby_names');
  const waitsForUs = standbysNameTributary(standbys);
  out.push({
    name: 'synchronous_standby_names',
    ok: waitsForUs === undefined,
    value: standbys === '' ? "'' (no synchronous standby)" : standbys,
    fix:
      waitsForUs === undefined
        ? ''
        : `it ${waitsForUs === 'any' ? "names '*', which takes" : 'names'} tributary's own connection (application_name '${APPLICATION_NAME}') as a synchronous standby: a commit then waits for tributary, while tributary waits for a schema change's commit to be visible before it describes it, so the stream stalls at the first schema change; name the standbys themselves (ALTER SYSTEM SET synchronous_standby_names = '…', then SELECT pg_reload_conf())`,
    severity: 'warning',
    code: ErrorCode.SOURCE_SETTING,
  });
  if (ownSlot?.walStatus === 'unreserved') {
    out.push({
      name: `slot ${ctx.slot} wal_status`,
      ok: false,
      value: 'unreserved',
      fix: 'the slot holds more WAL than max_slot_wal_keep_size: the next checkpoint may invalidate it; raise max_slot_wal_keep_size now',
      severity: 'warning',
      code: ErrorCode.SOURCE_SETTING,
    });
  }
  for (const t of ctx.tables) {
    const req = tableRequirement(t);
    if (req) out.push(req);
    if (t.partitioned) {
      // PostgreSQL does not publish a TRUNCATE of one partition when publishing via the root.
      out.push({
        name: `table ${t.schema.name} partitions`,
        ok: false,
        value: `partitioned (${t.partitions.map((x) => x.name).join(', ')}), synced through its root`,
        fix: 'TRUNCATE of a single partition is not replicated by PostgreSQL (publish_via_partition_root); truncate the partitioned table, or DELETE from the partition',
        severity: 'warning',
        code: ErrorCode.TABLE_UNSUPPORTED,
        table: t.schema.name,
      });
    }
  }
  out.push(...(await selectRequirements(conn, ctx)));
  const pub = await publicationState(conn, ctx.publication, ctx.scope, ctx.syncId);
  const mayWrite = await publicationRights(conn, ctx, pub);
  if (mayWrite) out.push(mayWrite);
  if (pub.exists && !pub.owned) {
    let problem = '';
    try {
      const partitioned = ctx.tables.filter((t) => t.partitioned).map((t) => t.schema.name);
      assertCovers(ctx.publication, pub, ctx.tables.map((t) => t.schema.name), partitioned, (t) => ctx.scope.quoted(t));
    } catch (err) {
      problem = (err as Error).message;
    }
    out.push({
      name: `publication ${ctx.publication}`,
      ok: problem === '',
      value: problem === '' ? 'covers the synced tables' : problem.replace(/;.*$/, ''),
      fix: problem.replace(/^[^;]*;\s*/, ''),
      severity: 'error',
      code: ErrorCode.SOURCE_SETTING,
    });
  }
  return out;
}

/**
 * A table can be synced when its replica identity delivers its key for UPDATE and DELETE: DEFAULT
 * (the primary key), FULL (the whole old row), or USING INDEX on an index that contains the key. A
 * table without a key (core/schema.ts isKeyless) is applied by full row image, so it needs FULL:
 * anything else sends no old row (or only some columns) to find the row by. A partitioned table's
 * key is its own primary key (its partitions' key indexes are attached to it), but UPDATE and
 * DELETE on a partition carry the partition's replica identity, so every leaf partition must
 * deliver the key (or the full row) too.
 */
export function tableRequirement(t: DescribedTable): Requirement | undefined {
  const name = t.schema.name;
  if (isKeyless(t.schema)) {
    for (const r of [{ relation: name, what: `table ${name}`, identity: t.replicaIdentity }, ...t.partitions.map((p) => ({ relation: p.name, what: `partition ${p.name} of table ${name}`, identity: p.replicaIdentity }))]) {
      if (r.identity === 'full') continue;
      return {
        name: `${r.what} replica identity`,
        ok: false,
        value: `${r.identity.toUpperCase()}, and the table has no primary key nor unique NOT NULL key`,
        fix: `ALTER TABLE ${quoteIdent(r.relation)} REPLICA IDENTITY FULL (UPDATE and DELETE of a table without a key must carry the whole old row), or add a key`,
        severity: 'error',
        code: ErrorCode.TABLE_UNSUPPORTED,
        table: name,
      };
    }
    return undefined;
  }
  const pk = t.schema.primaryKey.map((i) => t.schema.columns[i]?.name ?? '?');
  const own = identityRequirement(name, `table ${name}`, pk, t, t.schema.keyFromUnique === true);
  if (own) return { ...own, table: name };
  for (const p of t.partitions) {
    const bad = identityRequirement(p.name, `partition ${p.name} of table ${name}`, pk, p, t.schema.keyFromUnique === true);
    if (bad) return { ...bad, table: name };
  }
  return undefined;
}

/**
 * The requirement a relation's replica identity fails to meet, or undefined when it delivers the key
 * `pk`. A table keyed by a unique NOT NULL key (`byUnique`) has no primary key for DEFAULT to send:
 * it needs USING INDEX on that key's index, or FULL.
 */
function identityRequirement(
  relation: string,
  what: string,
  pk: readonly string[],
  r: Pick<DescribedTable, 'replicaIdentity' | 'identityColumns'>,
  byUnique: boolean,
): Requirement | undefined {
  const usable =
    (r.replicaIdentity === 'default' && !byUnique) || r.replicaIdentity === 'full' || (r.replicaIdentity === 'index' && pk.every((c) => r.identityColumns.includes(c)));
  if (usable) return undefined;
  const keyName = byUnique ? `unique key (${pk.join(', ')})` : 'primary key';
  return {
    name: `${what} replica identity`,
    ok: false,
    value: r.replicaIdentity === 'index' ? `USING INDEX on (${r.identityColumns.join(', ')}), which lacks ${keyName} column(s)` : r.replicaIdentity.toUpperCase(),
    fix: byUnique
      ? `ALTER TABLE ${quoteIdent(relation)} REPLICA IDENTITY USING INDEX <the index of (${pk.join(', ')})>, or REPLICA IDENTITY FULL (UPDATE and DELETE must carry the ${keyName}; the table has no primary key)`
      : `ALTER TABLE ${quoteIdent(relation)} REPLICA IDENTITY DEFAULT (UPDATE and DELETE must carry the primary key)`,
    severity: 'error',
    code: ErrorCode.TABLE_UNSUPPORTED,
  };
}

/**
 * SELECT on each synced table: the copy reads every row, and a table the role may not read fails
 * only then, after the target was created. Reading the catalogue (describe) needs no privilege,
 * so this is the only place that finds it first.
 */
async function selectRequirements(conn: Queryable, ctx: PreflightContext): Promise<Requirement[]> {
  if (ctx.tables.length === 0) return [];
  // By the OIDs the tables were described with: a synced name may be qualified (scope.ts).
  const byOid = new Map(ctx.tables.map((t) => [t.oid, t.schema.name]));
  const r = await conn.query<{ oid: string; ok: string }>(
    `SELECT c.oid::int8::text AS oid, has_table_privilege(c.oid, 'SELECT') AS ok FROM pg_class c WHERE c.oid = ANY($1::oid[])`,
    [[...byOid.keys()].map(String)],
  );
  return r.rows
    .filter((x) => x.ok !== 't')
    .map((x) => ({ name: byOid.get(Number(x.oid)) ?? '?', ok: x.ok }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((x) => ({
      name: `table ${x.name} SELECT privilege`,
      ok: false,
      value: `role ${ctx.user} may not read it`,
      fix: `GRANT SELECT ON ${ctx.scope.quoted(x.name)} TO ${quoteIdent(ctx.user)}`,
      severity: 'error',
      code: ErrorCode.PRIVILEGE_MISSING,
      table: x.name,
    }));
}

/**
 * Whether the sync may do to its publication what ensurePublication will: create it (CREATE on the
 * database, and ownership of every synced table: PostgreSQL adds only tables one owns), or, for
 * one tributary owns, alter and comment on it (ownership of the publication, and of the tables
 * when the table list changes). A publication tributary does not own is only read (assertCovers);
 * undefined then. Superusers pass every test (pg_has_role and has_database_privilege say so).
 */
async function publicationRights(conn: Queryable, ctx: PreflightContext, pub: PublicationState): Promise<Requirement | undefined> {
  if (pub.exists && !pub.owned) return undefined;
  const names = ctx.tables.map((t) => t.schema.name);
  const same = names.length === pub.tables.length && names.every((n) => pub.tables.includes(n));
  const needTables = !pub.exists || !same || !pub.viaRoot ? names : [];
  const r = await conn.query<{ dbcreate: string; db: string; pubowner: string | null; ownspub: string | null }>(
    `SELECT has_database_privilege(current_database(), 'CREATE') AS dbcreate, current_database() AS db,
            (SELECT pg_get_userbyid(pubowner) FROM pg_publication WHERE pubname = $1) AS pubowner,
            (SELECT pg_has_role(pubowner, 'USAGE') FROM pg_publication WHERE pubname = $1) AS ownspub`,
    [ctx.publication],
  );
  const row = r.rows[0];
  const places = needTables.map((n) => ctx.scope.placeOf(n));
  const t = needTables.length
    ? await conn.query<{ schema: string; name: string; owner: string }>(
        `SELECT n.nspname AS schema, c.relname AS name, pg_get_userbyid(c.relowner) AS owner
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE (n.nspname, c.relname) IN (SELECT * FROM unnest($1::text[], $2::text[])) AND NOT pg_has_role(c.relowner, 'USAGE') ORDER BY n.nspname COLLATE "C", c.relname COLLATE "C"`,
        [places.map((p) => p.schema), places.map((p) => p.relname)],
      )
    : { rows: [] };
  const notOwned = t.rows.map((x) => ({ name: ctx.scope.nameOf(x.schema, x.name) ?? `${x.schema}.${x.name}`, owner: x.owner }));
  const problems: string[] = [];
  const fixes: string[] = [];
  const role = quoteIdent(ctx.user);
  if (!pub.exists && row?.dbcreate !== 't') {
    problems.push(`no CREATE privilege on database ${row?.db ?? '?'}`);
    fixes.push(`GRANT CREATE ON DATABASE ${quoteIdent(row?.db ?? '?')} TO ${role}`);
  }
  if (pub.exists && row?.ownspub !== 't') {
    problems.push(`not the owner of the publication (${row?.pubowner ?? '?'} is)`);
    fixes.push(`ALTER PUBLICATION ${quoteIdent(ctx.publication)} OWNER TO ${role}`);
  }
  if (notOwned.length) {
    problems.push(`not the owner of table${notOwned.length > 1 ? 's' : ''} ${notOwned.map((x) => `${x.name} (owner ${x.owner})`).join(', ')}`);
    fixes.push(notOwned.map((x) => `ALTER TABLE ${ctx.scope.quoted(x.name)} OWNER TO ${role}`).join('; '));
  }
  const what = pub.exists ? 'alter' : 'create';
  const list = names.map((n) => ctx.scope.quoted(n)).join(', ');
  if (problems.length === 0) {
    return {
      name: `publication ${ctx.publication}`,
      ok: true,
      value: pub.exists ? `owned by this sync; role ${ctx.user} may alter it` : `does not exist: the sync creates it for the ${names.length} synced table${names.length === 1 ? '' : 's'}`,
      fix: '',
      severity: 'error',
      code: ErrorCode.PRIVILEGE_MISSING,
    };
  }
  return {
    name: `publication ${ctx.publication}`,
    ok: false,
    value: `${pub.exists ? 'exists' : 'does not exist'}, and role ${ctx.user} may not ${what} it: ${problems.join('; ')}`,
    fix: `${fixes.join('; ')}; or have a role that may create it (a table owner) run CREATE PUBLICATION ${quoteIdent(ctx.publication)} FOR TABLE ${list} WITH (publish_via_partition_root = true), which the sync then uses as it is`,
    severity: 'error',
    code: ErrorCode.PRIVILEGE_MISSING,
  };
}

// A PostgreSQL target's requirements, below, are read over a client (the source's, above, also over a pool).
type ClientQueryable = Pick<pg.Client, 'query'>;

/**
 * One schema's line: its privileges (`privileges`, when it exists), or whether the user may create
 * it (`dbcreate`: CREATE on the database).
 */
function schemaLine(schema: string, privileges: { create: boolean; usage: boolean } | undefined, dbcreate: boolean, user: string, dbq: string): Requirement {
  const quoted = '"' + schema.replace(/"/g, '""') + '"';
  if (privileges) {
    const ok = privileges.create && privileges.usage;
    return {
      name: `privileges on schema ${schema}`,
      ok,
      value: ok ? 'CREATE, USAGE' : `missing ${[privileges.create ? '' : 'CREATE', privileges.usage ? '' : 'USAGE'].filter(Boolean).join(', ')}`,
      fix: `GRANT CREATE, USAGE ON SCHEMA ${quoted} TO "${user}"`,
      severity: 'error',
      code: ErrorCode.PRIVILEGE_MISSING,
    };
  }
  return {
    name: `schema ${schema}`,
    ok: dbcreate,
    value: dbcreate ? `does not exist: sync will create it (CREATE SCHEMA ${quoted})` : 'does not exist, and the user may not create schemas',
    fix: `CREATE SCHEMA ${quoted}, or GRANT CREATE ON DATABASE ${dbq} TO "${user}"`,
    severity: 'error',
    code: ErrorCode.PRIVILEGE_MISSING,
  };
}

/**
 * The lines of the schemas a sync of several databases writes besides the target's own (each
 * exists with CREATE and USAGE, or may be created). Reads only.
 */
export async function schemaRequirements(conn: ClientQueryable, schemas: readonly string[]): Promise<Requirement[]> {
  if (schemas.length === 0) return [];
  const r = await conn.query<{ name: string; exists: string; cr: string | null; us: string | null; dbcreate: string; usr: string; db: string }>(
    `SELECT s AS name, n.oid IS NOT NULL AS exists,
            CASE WHEN n.oid IS NOT NULL THEN has_schema_privilege(n.oid, 'CREATE') END AS cr,
            CASE WHEN n.oid IS NOT NULL THEN has_schema_privilege(n.oid, 'USAGE') END AS us,
            has_database_privilege(current_database(), 'CREATE') AS dbcreate, current_user AS usr, current_database() AS db
       FROM unnest($1::text[]) WITH ORDINALITY AS u(s, i) LEFT JOIN pg_namespace n ON n.nspname = u.s ORDER BY i`,
    [schemas],
  );
  return r.rows.map((row) => schemaLine(row.name, row.exists === 't' ? { create: row.cr === 't', usage: row.us === 't' } : undefined, row.dbcreate === 't', row.usr, '"' + row.db.replace(/"/g, '""') + '"'));
}

/**
 * Version, privileges and free space of a PostgreSQL target. Reads only. Free disk space cannot be
 * read over SQL (pg_database_size is what the database uses, not what is left), so it is reported
 * as unknown, with the current size for scale.
 */
export async function targetRequirements(conn: ClientQueryable, schema: string, tables: readonly TableSchema[], host: string): Promise<Requirement[]> {
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
  out.push(schemaLine(schema, x.schema_exists ? { create: x.schema_create, usage: x.schema_usage } : undefined, x.dbcreate, user, dbq));
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
        type = postgresColumnType(t, c, opts, schema);
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
  if (table.engine === 'postgres') return undefined;
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
  if (c.logical?.kind === 'spatial') return spatialPolicy(c, opts);
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
export async function lockRequirement(conn: ClientQueryable, key: bigint, syncId: string): Promise<Requirement> {
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

/**
 * Why the role cannot create an extension the target lacks, or undefined when it can: the server
 * must offer it (pg_available_extensions: its package installed) and the role be a superuser, or
 * the extension trusted and the role allowed to CREATE in the database. Reads only.
 */
export async function extensionRefusal(conn: Queryable, extension: string): Promise<string | undefined> {
  const r = await conn.query<{ available: string; trusted: string | null; superuser: string; dbcreate: string }>(
    `SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = $1)::text AS available,
            (SELECT bool_or(trusted) FROM pg_available_extension_versions WHERE name = $1)::text AS trusted,
            (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)::text AS superuser,
            has_database_privilege(current_database(), 'CREATE')::text AS dbcreate`,
    [extension],
  );
  const row = r.rows[0];
  const yes = (v: string | null | undefined) => v === 't' || v === 'true';
  if (!row || !yes(row.available)) return `the server does not offer extension ${extension} (its package is not installed)`;
  if (yes(row.superuser)) return undefined;
  if (!yes(row.trusted)) return `extension ${extension} is not trusted, and only a superuser may create it`;
  if (!yes(row.dbcreate)) return `the role may not CREATE in the database, which a trusted extension needs`;
  return undefined;
}

/**
 * One `tributary check` line per user type and extension the synced columns need: present, to be
 * created (with the statement), or refused (a type of the same name and another definition; an
 * extension the role cannot create). `conn` undefined: the target database does not exist yet, so
 * everything is created. Reads only.
 */
export async function userTypeRequirements(conn: Queryable | undefined, schema: string, plans: readonly UserTypePlan[]): Promise<Requirement[]> {
  const out: Requirement[] = [];
  const extensions = new Set<string>();
  for (const u of plans) {
    const t = u.type;
    if (t.kind === 'extension' && extensions.has(t.extension)) continue;
    if (t.kind === 'extension') extensions.add(t.extension);
    const name = t.kind === 'extension' ? `extension ${t.extension}` : userTypeWords(t);
    const users = `used by ${u.columns.join(', ')}`;
    const base = { name, severity: 'error' as const, code: ErrorCode.TABLE_UNSUPPORTED };
    let state: 'present' | 'absent' = 'absent';
    if (conn) {
      try {
        state = await userTypeState(conn, schema, u);
      } catch (err) {
        if (!(err instanceof TributaryError)) throw err;
        const [value = err.message, ...fix] = err.message.split('; ');
        out.push({ ...base, ok: false, value, fix: fix.join('; ') });
        continue;
      }
    }
    if (state === 'present') {
      out.push({ ...base, ok: true, value: t.kind === 'extension' ? `installed (type ${t.name}, ${users})` : `exists with the source's definition (${users})`, fix: '', severity: 'info' });
      continue;
    }
    const refusal = t.kind === 'extension' && conn ? await extensionRefusal(conn, t.extension) : undefined;
    if (refusal !== undefined && t.kind === 'extension') {
      out.push({ ...base, ok: false, value: `not installed (type ${t.name}, ${users}): ${refusal}`, fix: installFix(t.extension, u) });
      continue;
    }
    out.push({ ...base, ok: true, value: `absent: the sync creates it (${users})`, fix: createUserTypeSql(schema, t), severity: 'info' });
  }
  return out;
}

/**
 * Whether synchronous_standby_names takes tributary's own connection as a synchronous standby:
 * 'named' when it lists its application_name (compared as PostgreSQL does, case-insensitively;
 * quoted or not), 'any' for '*', undefined otherwise. Its forms: 'a, b', 'FIRST n (a, b)', 'ANY n
 * (a, b)', 'n (a, b)'.
 */
export function standbysNameTributary(value: string): 'named' | 'any' | undefined {
  const list = /^\s*(?:(?:FIRST|ANY)\s+)?(?:\d+\s*)?\((.*)\)\s*$/is.exec(value)?.[1] ?? value;
  let found: 'named' | 'any' | undefined;
  for (const raw of list.split(',')) {
    const name = raw.trim();
    const bare = name.startsWith('"') && name.endsWith('"') && name.length >= 2 ? name.slice(1, -1).replace(/""/g, '"') : name;
    if (bare === '*') found ??= 'any';
    else if (bare.toLowerCase() === APPLICATION_NAME.toLowerCase()) found = 'named';
  }
  return found;
}
