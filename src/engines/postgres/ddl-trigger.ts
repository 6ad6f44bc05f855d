import type pg from 'pg';
import type { Logger } from 'pino';
import { ErrorCode } from '../../core/errors.js';
import type { Requirement } from './check.js';
import type { RelationColumn } from './schema.js';

type Queryable = Pick<pg.Client | pg.Pool, 'query'>;

/**
 * The event triggers that write a PostgreSQL source's DDL into the WAL, so the stream sees a schema
 * change where it happened, with attribute numbers (pgoutput's Relation messages come only with the
 * next row, and name columns without them, so a rename looks like a drop and an add; and pgoutput
 * says nothing of a table renamed, dropped or created, or of an index).
 *
 * Each message is written with pg_logical_emit_message(true, 'tributary.ddl', json), transactionally
 * (it is decoded inside its transaction, at the statement's place):
 * - on ddl_command_end of ALTER TABLE, CREATE TABLE, CREATE INDEX and ALTER INDEX, for each ordinary or
 *   partitioned table the statement touched (an index's table for an index):
 *   `{"v":1,"tag":…,"oid":…,"schema":…,"name":…,"columns":[[attnum,name,typoid,typmod,notnull,default],…],"indexes":[[name,unique,partial,columns],…],
 *   "fks":[[name,columns,refschema,reftable,refcolumns,upd,del,match,deferrable,deferred],…]}`,
 *   the table's name, columns (generated and dropped columns left out, as pgoutput leaves them out),
 *   secondary indexes (the primary key's left out) and foreign keys after the statement as the
 *   catalogue has them then. A rename shows as the table's OID under its new name. (Version 1
 *   readers, which know `columns` only, read these as before; `indexes` and `fks` are absent from
 *   an older trigger's messages.)
 * - on ddl_command_end of ALTER TYPE and ALTER DOMAIN, for each type changed (an enum's ADD VALUE, a
 *   domain's constraints, default or NOT NULL, a composite's attributes: the composite's relation
 *   reported by its row type): `{"v":3,"tag":…,"type":oid}`; the stream describes the type anew.
 * - on sql_drop, for each table dropped (by any statement) and each index DROP INDEX dropped:
 *   `{"v":2,"tag":…,"dropped":"table"|"index","oid":…,"schema":…,"name":…}` (the catalogue has no row
 *   of it any more: a dropped index is named only, its table found by the stream by the name).
 * The functions have no EXCEPTION block: one runs in a subtransaction, and PostgreSQL (15, measured)
 * then decodes the message after the rows that follow the statement in its transaction, where the
 * rows of a renamed table come under a name the stream does not know yet. They only read the
 * catalogue, so they have nothing to fail on. (An older tributary's had one.) One pair of
 * triggers serves every sync of the database: they are named without the sync's id, and installed
 * once (CREATE EVENT TRIGGER needs a superuser). An older tributary installed the first alone, for
 * ALTER TABLE only: installing again (ddlTriggerSql) widens it in place.
 */
export const DDL_TRIGGER = 'tributary_ddl_v1';
/** The sql_drop trigger of the pair (see DDL_TRIGGER). */
export const DDL_DROP_TRIGGER = 'tributary_ddl_v1_drop';
/** The command tags DDL_TRIGGER fires on. */
const TAGS = ['ALTER TABLE', 'CREATE TABLE', 'CREATE INDEX', 'ALTER INDEX', 'ALTER TYPE', 'ALTER DOMAIN'];
/** The tags of TAGS that change a user type (reported by the type's OID). */
const TYPE_TAGS = ['ALTER TYPE', 'ALTER DOMAIN'];
/** The command tags DDL_DROP_TRIGGER fires on (a table dropped by any of them is reported). */
const DROP_TAGS = ['DROP TABLE', 'DROP INDEX', 'DROP SCHEMA', 'DROP OWNED'];
/** How a user without superuser rights gets the trigger (docs/check.md holds the SQL; a unit test keeps it equal to ddlTriggerSql()). */
const HOW_TO_INSTALL =
  'have a superuser run tributary sync once against this database (it installs the trigger, which then serves every sync of the database), or run the SQL under "PostgreSQL DDL event trigger" in docs/check.md as a superuser';

/** The prefix of its logical messages. */
export const DDL_MESSAGE_PREFIX = 'tributary.ddl';

/** The column list the trigger emits for relation `oid` (SQL expression; `$oid` is replaced). OIDs as int8: JSON prints an oid as a string. */
const COLUMNS_SQL = `(SELECT coalesce(json_agg(json_build_array(a.attnum, a.attname, a.atttypid::int8, a.atttypmod, a.attnotnull, pg_get_expr(d.adbin, d.adrelid)) ORDER BY a.attnum), '[]'::json)
     FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE a.attrelid = $oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '')`;

/**
 * The secondary index list the trigger emits for relation `oid`, as schema.ts describeTable lists
 * them (the columns an index's key names; an expression part names none), with whether it is partial
 * or over an expression (`partial`: a target cannot have it from the columns alone).
 */
const INDEXES_SQL = `(SELECT coalesce(json_agg(json_build_array(ic.relname, i.indisunique, i.indpred IS NOT NULL OR i.indexprs IS NOT NULL,
       (SELECT coalesce(json_agg(a.attname ORDER BY k.o), '[]'::json) FROM unnest(i.indkey) WITH ORDINALITY AS k(n, o) JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n)) ORDER BY ic.relname), '[]'::json)
     FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid WHERE i.indrelid = $oid AND NOT i.indisprimary)`;

/**
 * The foreign key list the trigger emits for relation `oid`, as schema.ts describeForeignKeys reads
 * them (a partition's inherited keys left out): name, columns, the referenced table's schema and
 * name and columns, pg_constraint's rule and match letters, DEFERRABLE, INITIALLY DEFERRED.
 */
const FOREIGN_KEYS_SQL = `(SELECT coalesce(json_agg(json_build_array(c.conname,
       (SELECT coalesce(json_agg(a.attname ORDER BY k.o), '[]'::json) FROM unnest(c.conkey) WITH ORDINALITY k(n, o) JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n),
       rn.nspname, rc.relname,
       (SELECT coalesce(json_agg(a.attname ORDER BY k.o), '[]'::json) FROM unnest(c.confkey) WITH ORDINALITY k(n, o) JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n),
       c.confupdtype, c.confdeltype, c.confmatchtype, c.condeferrable, c.condeferred) ORDER BY c.conname), '[]'::json)
     FROM pg_constraint c JOIN pg_class rc ON rc.oid = c.confrelid JOIN pg_namespace rn ON rn.oid = rc.relnamespace
    WHERE c.conrelid = $oid AND c.contype = 'f' AND c.conparentid = 0)`;

const list = (tags: readonly string[]) => tags.map((t) => `'${t}'`).join(', ');

/** The statements that install the triggers (idempotent: a second run replaces the functions, keeps the triggers, and widens an older tributary's). */
export function ddlTriggerSql(): string[] {
  return [
    `CREATE OR REPLACE FUNCTION public.${DDL_TRIGGER}() RETURNS event_trigger LANGUAGE plpgsql AS $fn$
DECLARE r record;
BEGIN
  FOR r IN SELECT DISTINCT c.oid, n.nspname, c.relname, e.command_tag FROM pg_event_trigger_ddl_commands() e
             JOIN pg_class c ON c.oid = CASE WHEN e.object_type = 'index' THEN (SELECT i.indrelid FROM pg_index i WHERE i.indexrelid = e.objid) ELSE e.objid END
             JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE e.classid = 'pg_class'::regclass AND e.object_type IN ('table', 'table column', 'index') AND e.command_tag IN (${list(TAGS)}) AND c.relkind IN ('r', 'p')
  LOOP
    PERFORM pg_logical_emit_message(true, '${DDL_MESSAGE_PREFIX}', json_build_object('v', 1, 'tag', r.command_tag, 'oid', r.oid::int8, 'schema', r.nspname, 'name', r.relname,
      'columns', ${COLUMNS_SQL.replace('$oid', 'r.oid')},
      'indexes', ${INDEXES_SQL.replace('$oid', 'r.oid')},
      'fks', ${FOREIGN_KEYS_SQL.replace('$oid', 'r.oid')})::text);
  END LOOP;
  FOR r IN SELECT DISTINCT CASE WHEN e.classid = 'pg_class'::regclass THEN c.reltype ELSE e.objid END AS typ, e.command_tag FROM pg_event_trigger_ddl_commands() e
             LEFT JOIN pg_class c ON e.classid = 'pg_class'::regclass AND c.oid = e.objid
            WHERE e.command_tag IN (${list(TYPE_TAGS)}) AND (e.classid = 'pg_type'::regclass OR c.relkind = 'c')
  LOOP
    PERFORM pg_logical_emit_message(true, '${DDL_MESSAGE_PREFIX}', json_build_object('v', 3, 'tag', r.command_tag, 'type', r.typ::int8)::text);
  END LOOP;
END
$fn$`,
    `CREATE OR REPLACE FUNCTION public.${DDL_DROP_TRIGGER}() RETURNS event_trigger LANGUAGE plpgsql AS $fn$
DECLARE r record;
BEGIN
  FOR r IN SELECT o.objid, o.object_type, o.schema_name, o.object_name FROM pg_event_trigger_dropped_objects() o
            WHERE o.classid = 'pg_class'::regclass AND (o.object_type = 'table' OR (o.object_type = 'index' AND TG_TAG = 'DROP INDEX'))
  LOOP
    PERFORM pg_logical_emit_message(true, '${DDL_MESSAGE_PREFIX}', json_build_object('v', 2, 'tag', TG_TAG, 'dropped', r.object_type, 'oid', r.objid::int8, 'schema', r.schema_name, 'name', r.object_name)::text);
  END LOOP;
END
$fn$`,
    `DO $do$ BEGIN
  IF EXISTS (SELECT 1 FROM pg_event_trigger WHERE evtname = '${DDL_TRIGGER}' AND NOT (evttags @> ARRAY[${list(TAGS)}] AND evttags <@ ARRAY[${list(TAGS)}])) THEN
    DROP EVENT TRIGGER ${DDL_TRIGGER};
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_event_trigger WHERE evtname = '${DDL_TRIGGER}') THEN
    CREATE EVENT TRIGGER ${DDL_TRIGGER} ON ddl_command_end WHEN TAG IN (${list(TAGS)}) EXECUTE FUNCTION public.${DDL_TRIGGER}();
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_event_trigger WHERE evtname = '${DDL_DROP_TRIGGER}') THEN
    CREATE EVENT TRIGGER ${DDL_DROP_TRIGGER} ON sql_drop WHEN TAG IN (${list(DROP_TAGS)}) EXECUTE FUNCTION public.${DDL_DROP_TRIGGER}();
  END IF;
END $do$`,
  ];
}

/** One column as the trigger's message lists it. */
export interface TriggerColumn extends RelationColumn {
  readonly attnum: number;
  readonly notNull: boolean;
  /** pg_get_expr of its default (null: none). */
  readonly defaultSql: string | null;
}

/** A secondary index as the trigger's message lists it. */
export interface TriggerIndex {
  readonly name: string;
  readonly unique: boolean;
  /** Partial (WHERE) or over an expression: its columns alone do not define it. */
  readonly partial: boolean;
  readonly columns: readonly string[];
}

/**
 * A foreign key as the trigger's message lists it: pg_constraint's letters for the rules
 * (confupdtype, confdeltype) and match (confmatchtype); schema.ts foreignKeyOf makes a ForeignKey of it.
 */
export interface TriggerForeignKey {
  readonly name: string;
  readonly columns: readonly string[];
  readonly referencedSchema: string;
  readonly referencedTable: string;
  readonly referencedColumns: readonly string[];
  readonly onUpdate: string;
  readonly onDelete: string;
  readonly match: string;
  readonly deferrable: boolean;
  readonly initiallyDeferred: boolean;
}

/** A parsed 'tributary.ddl' message: a table after a statement, a table or index dropped, or a user type changed. */
export type DdlMessage = TableMessage | DropMessage | TypeMessage;

/** A user type changed by ALTER TYPE or ALTER DOMAIN: its OID (the catalogue has its definition after the statement). */
export interface TypeMessage {
  readonly tag: string;
  readonly typeOid: number;
  readonly dropped?: undefined;
  readonly columns?: undefined;
}

/** A table after a statement, under its name then. */
export interface TableMessage {
  readonly tag: string;
  readonly oid: number;
  readonly schema: string;
  readonly name: string;
  readonly columns: readonly TriggerColumn[];
  /** Absent: written by an older trigger, which lists no indexes. */
  readonly indexes?: readonly TriggerIndex[];
  /** Absent: written by an older trigger, which lists no foreign keys. */
  readonly foreignKeys?: readonly TriggerForeignKey[];
  readonly dropped?: undefined;
}

/** A table or an index dropped (its OID no longer in the catalogue). */
export interface DropMessage {
  readonly tag: string;
  readonly oid: number;
  readonly schema: string;
  readonly name: string;
  readonly dropped: 'table' | 'index';
  readonly columns?: undefined;
}

/**
 * Reads a 'tributary.ddl' message's JSON (see DDL_TRIGGER), or undefined when it is not one this
 * version knows (another version's trigger): the Relation messages then still show the change.
 */
export function parseDdlMessage(text: string): DdlMessage | undefined {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return undefined;
  }
  const b = body as { v?: unknown; tag?: unknown; oid?: unknown; schema?: unknown; name?: unknown; columns?: unknown; indexes?: unknown; fks?: unknown; dropped?: unknown; type?: unknown };
  if (b.v === 3) return typeof b.tag === 'string' && typeof b.type === 'number' ? { tag: b.tag, typeOid: b.type } : undefined;
  if (b.v === 2) {
    if (typeof b.tag !== 'string' || typeof b.oid !== 'number' || typeof b.schema !== 'string' || typeof b.name !== 'string' || (b.dropped !== 'table' && b.dropped !== 'index')) return undefined;
    return { tag: b.tag, oid: b.oid, schema: b.schema, name: b.name, dropped: b.dropped };
  }
  if (b.v !== 1 || typeof b.tag !== 'string' || typeof b.oid !== 'number' || typeof b.schema !== 'string' || typeof b.name !== 'string' || !Array.isArray(b.columns)) return undefined;
  const columns: TriggerColumn[] = [];
  for (const c of b.columns as unknown[]) {
    if (!Array.isArray(c) || c.length < 6) return undefined;
    const [attnum, name, typeOid, typmod, notNull, def] = c as unknown[];
    if (typeof attnum !== 'number' || typeof name !== 'string' || typeof typeOid !== 'number' || typeof typmod !== 'number' || typeof notNull !== 'boolean') return undefined;
    columns.push({ attnum, name, typeOid, typmod, notNull, defaultSql: typeof def === 'string' ? def : null });
  }
  if (b.indexes === undefined) return { tag: b.tag, oid: b.oid, schema: b.schema, name: b.name, columns };
  if (!Array.isArray(b.indexes)) return undefined;
  const indexes: TriggerIndex[] = [];
  for (const i of b.indexes as unknown[]) {
    if (!Array.isArray(i) || i.length < 4) return undefined;
    const [name, unique, partial, cols] = i as unknown[];
    if (typeof name !== 'string' || typeof unique !== 'boolean' || typeof partial !== 'boolean' || !Array.isArray(cols) || !cols.every((c) => typeof c === 'string')) return undefined;
    indexes.push({ name, unique, partial, columns: cols as string[] });
  }
  if (b.fks === undefined) return { tag: b.tag, oid: b.oid, schema: b.schema, name: b.name, columns, indexes };
  if (!Array.isArray(b.fks)) return undefined;
  const foreignKeys: TriggerForeignKey[] = [];
  const names = (v: unknown): v is string[] => Array.isArray(v) && v.every((c) => typeof c === 'string');
  for (const f of b.fks as unknown[]) {
    if (!Array.isArray(f) || f.length < 10) return undefined;
    const [name, cols, refSchema, refTable, refCols, upd, del, match, deferrable, deferred] = f as unknown[];
    if (typeof name !== 'string' || !names(cols) || typeof refSchema !== 'string' || typeof refTable !== 'string' || !names(refCols)) return undefined;
    if (typeof upd !== 'string' || typeof del !== 'string' || typeof match !== 'string' || typeof deferrable !== 'boolean' || typeof deferred !== 'boolean') return undefined;
    foreignKeys.push({ name, columns: cols, referencedSchema: refSchema, referencedTable: refTable, referencedColumns: refCols, onUpdate: upd, onDelete: del, match, deferrable, initiallyDeferred: deferred });
  }
  return { tag: b.tag, oid: b.oid, schema: b.schema, name: b.name, columns, indexes, foreignKeys };
}

/** A table's columns now, in the form the trigger's message gives them (for the first message's comparison). */
export async function triggerColumns(conn: Queryable, oid: number): Promise<TriggerColumn[]> {
  const r = await conn.query<{ c: string }>(`SELECT ${COLUMNS_SQL.replace('$oid', '$1::oid')}::text AS c`, [String(oid)]);
  const m = parseDdlMessage(JSON.stringify({ v: 1, tag: '', oid, schema: '', name: '', columns: JSON.parse(r.rows[0]?.c ?? '[]') as unknown }));
  return m?.columns ? [...m.columns] : [];
}

/**
 * Column renames between two column lists of one table, by attribute number: old name → new name.
 * (A column's attribute number never changes; a dropped one is never reused.)
 */
export function renamedColumns(before: readonly TriggerColumn[], after: readonly TriggerColumn[]): Map<string, string> {
  const was = new Map(before.map((c) => [c.attnum, c.name]));
  const out = new Map<string, string>();
  for (const c of after) {
    const old = was.get(c.attnum);
    if (old !== undefined && old !== c.name) out.set(old, c.name);
  }
  return out;
}

/** The bodies (between the $fn$ quotes) of the two functions ddlTriggerSql() installs, as pg_proc.prosrc holds them. */
function functionBodies(): string[] {
  return ddlTriggerSql().flatMap((sql) => {
    const m = /\$fn\$([\s\S]*)\$fn\$/.exec(sql);
    return m ? [m[1] as string] : [];
  });
}

/**
 * Whether the trigger is installed, whether it is the current pair (`current`: the drop trigger
 * there too, the tags this version fires on, and both functions' bodies this version's; an older
 * tributary's reports ALTER TABLE only, or decodes out of place: see DDL_TRIGGER), enabled, and
 * whether this role could install it.
 */
export async function ddlTriggerState(conn: Queryable): Promise<{ installed: boolean; current: boolean; enabled: boolean; superuser: boolean }> {
  const r = await conn.query<{ installed: string; current: string; enabled: string | null; superuser: string }>(
    `SELECT EXISTS (SELECT 1 FROM pg_event_trigger WHERE evtname = $1) AS installed,
            (EXISTS (SELECT 1 FROM pg_event_trigger WHERE evtname = $1 AND evttags @> $3::text[] AND evttags <@ $3::text[])
              AND EXISTS (SELECT 1 FROM pg_event_trigger WHERE evtname = $2)
              AND (SELECT count(*) FROM pg_proc WHERE pronamespace = 'public'::regnamespace AND proname IN ($1, $2) AND prosrc = ANY($4::text[])) = 2) AS current,
            (SELECT bool_and(evtenabled <> 'D') FROM pg_event_trigger WHERE evtname IN ($1, $2)) AS enabled,
            (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser`,
    [DDL_TRIGGER, DDL_DROP_TRIGGER, TAGS, functionBodies()],
  );
  const row = r.rows[0];
  // The client may parse no type: booleans come as 't'/'f' (or as booleans from a parsing client).
  const yes = (v: unknown) => v === 't' || v === true;
  return { installed: yes(row?.installed), current: yes(row?.current), enabled: yes(row?.enabled), superuser: yes(row?.superuser) };
}

/** What an older trigger leaves out. */
const OUTDATED = 'it reports ALTER TABLE only: table renames, drops and creations and index changes are not followed';

/**
 * Installs the triggers when they are missing or an older tributary's, and the role is a
 * superuser; otherwise says why not in the log (the Relation messages still follow added, dropped
 * and retyped columns). Returns whether the trigger is there now (an older one still reports
 * ALTER TABLE's columns).
 */
export async function ensureDdlTrigger(conn: Queryable, logger: Logger): Promise<boolean> {
  const s = await ddlTriggerState(conn);
  if (s.installed && s.current) return s.enabled;
  if (!s.superuser) {
    if (s.installed) {
      logger.warn({ trigger: DDL_TRIGGER }, `event trigger ${DDL_TRIGGER} was installed by an older tributary and this role may not replace it (CREATE EVENT TRIGGER needs a superuser): ${OUTDATED}. ${HOW_TO_INSTALL}`);
      return s.enabled;
    }
    logger.warn({ trigger: DDL_TRIGGER }, `event trigger ${DDL_TRIGGER} is not installed and this role may not install it (CREATE EVENT TRIGGER needs a superuser): column renames stop the sync, a schema change shows only with the next row written, and table renames, drops and creations and index changes are not followed. ${HOW_TO_INSTALL}`);
    return false;
  }
  for (const sql of ddlTriggerSql()) await conn.query(sql);
  logger.info({ trigger: DDL_TRIGGER }, `event trigger ${DDL_TRIGGER} installed: schema changes reach the stream where they happen`);
  return true;
}

/** The `tributary check` line of the trigger. */
export async function ddlTriggerRequirement(conn: Queryable, mode: 'install' | 'off'): Promise<Requirement> {
  const s = await ddlTriggerState(conn);
  const name = `event trigger ${DDL_TRIGGER}`;
  const fix = HOW_TO_INSTALL;
  const base = { name, severity: 'warning' as const, code: ErrorCode.PRIVILEGE_MISSING };
  if (mode === 'off') return { ...base, ok: true, value: 'not used (--pg-ddl-trigger off): column changes follow from Relation messages only', fix: '' };
  if (s.installed && !s.enabled) return { ...base, ok: false, value: 'installed but disabled', fix: `ALTER EVENT TRIGGER ${DDL_TRIGGER} ENABLE; ALTER EVENT TRIGGER ${DDL_DROP_TRIGGER} ENABLE` };
  if (s.installed && s.current) return { ...base, ok: true, value: 'installed: schema changes reach the stream where they happen (renames, drops, new tables and indexes included)', fix: '' };
  if (s.superuser) return { ...base, ok: true, value: `${s.installed ? 'installed by an older tributary' : 'not installed'}: sync will install it (the role is a superuser)`, fix: '' };
  if (s.installed) return { ...base, ok: false, value: `installed by an older tributary, and the role may not replace it (not a superuser): ${OUTDATED}`, fix };
  return { ...base, ok: false, value: 'not installed, and the role may not install it (not a superuser): column renames stop the sync, a change shows only with the next row, and table renames, drops and creations and index changes are not followed', fix };
}
