import type pg from 'pg';
import { assertRequirements, type Requirement } from '../../core/check.js';
import { ErrorCode } from '../../core/errors.js';
import { quoteIdent } from './connection.js';
import type { DescribedTable } from './schema.js';
import { assertCovers, publicationState, setting, slotInfo, type PublicationState } from './slot.js';
import { qualified } from './schema.js';

export { assertRequirements, type Requirement };

type Queryable = Pick<pg.Client | pg.Pool, 'query'>;

export interface PreflightContext {
  readonly user: string;
  readonly slot: string;
  readonly publication: string;
  readonly namespace: string;
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
  const pub = await publicationState(conn, ctx.publication, ctx.namespace, ctx.syncId);
  const mayWrite = await publicationRights(conn, ctx, pub);
  if (mayWrite) out.push(mayWrite);
  if (pub.exists && !pub.owned) {
    let problem = '';
    try {
      const partitioned = ctx.tables.filter((t) => t.partitioned).map((t) => t.schema.name);
      assertCovers(ctx.publication, pub, ctx.tables.map((t) => t.schema.name), partitioned);
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
 * A table can be synced when it has a primary key and its replica identity delivers that key
 * for UPDATE and DELETE: DEFAULT (the primary key), FULL (the whole old row), or USING INDEX on
 * an index that contains the primary key. REPLICA IDENTITY FULL without a primary key gives rows
 * but nothing to key them on; such tables are refused for now, like tables without a primary key
 * on MySQL. A partitioned table's key is its own primary key (its partitions' key indexes are
 * attached to it), but UPDATE and DELETE on a partition carry the partition's replica identity,
 * so every leaf partition must deliver the key too.
 */
export function tableRequirement(t: DescribedTable): Requirement | undefined {
  const name = t.schema.name;
  if (t.schema.primaryKey.length === 0) {
    return {
      name: `table ${name} primary key`,
      ok: false,
      value: `none (replica identity ${t.replicaIdentity})`,
      fix: `ALTER TABLE ${quoteIdent(name)} ADD PRIMARY KEY (…), or leave it out with --tables`,
      severity: 'error',
      code: ErrorCode.TABLE_UNSUPPORTED,
      table: name,
    };
  }
  const pk = t.schema.primaryKey.map((i) => t.schema.columns[i]?.name ?? '?');
  const own = identityRequirement(name, `table ${name}`, pk, t);
  if (own) return { ...own, table: name };
  for (const p of t.partitions) {
    const bad = identityRequirement(p.name, `partition ${p.name} of table ${name}`, pk, p);
    if (bad) return { ...bad, table: name };
  }
  return undefined;
}

/** The requirement a relation's replica identity fails to meet, or undefined when it delivers the key `pk`. */
function identityRequirement(
  relation: string,
  what: string,
  pk: readonly string[],
  r: Pick<DescribedTable, 'replicaIdentity' | 'identityColumns'>,
): Requirement | undefined {
  const usable = r.replicaIdentity === 'default' || r.replicaIdentity === 'full' || (r.replicaIdentity === 'index' && pk.every((c) => r.identityColumns.includes(c)));
  if (usable) return undefined;
  return {
    name: `${what} replica identity`,
    ok: false,
    value: r.replicaIdentity === 'index' ? `USING INDEX on (${r.identityColumns.join(', ')}), which lacks primary key column(s)` : r.replicaIdentity.toUpperCase(),
    fix: `ALTER TABLE ${quoteIdent(relation)} REPLICA IDENTITY DEFAULT (UPDATE and DELETE must carry the primary key)`,
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
  const r = await conn.query<{ name: string; ok: string }>(
    `SELECT c.relname AS name, has_table_privilege(c.oid, 'SELECT') AS ok
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = ANY($2::text[]) ORDER BY c.relname COLLATE "C"`,
    [ctx.namespace, ctx.tables.map((t) => t.schema.name)],
  );
  return r.rows
    .filter((x) => x.ok !== 't')
    .map((x) => ({
      name: `table ${x.name} SELECT privilege`,
      ok: false,
      value: `role ${ctx.user} may not read it`,
      fix: `GRANT SELECT ON ${qualified(ctx.namespace, x.name)} TO ${quoteIdent(ctx.user)}`,
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
  const t = needTables.length
    ? await conn.query<{ name: string; owner: string }>(
        `SELECT c.relname AS name, pg_get_userbyid(c.relowner) AS owner
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = $1 AND c.relname = ANY($2::text[]) AND NOT pg_has_role(c.relowner, 'USAGE') ORDER BY c.relname COLLATE "C"`,
        [ctx.namespace, needTables],
      )
    : { rows: [] };
  const notOwned = t.rows;
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
    fixes.push(notOwned.map((x) => `ALTER TABLE ${qualified(ctx.namespace, x.name)} OWNER TO ${role}`).join('; '));
  }
  const what = pub.exists ? 'alter' : 'create';
  const list = names.map((n) => qualified(ctx.namespace, n)).join(', ');
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
