import type pg from 'pg';
import type { Logger } from 'pino';
import { ErrorCode } from '../../core/errors.js';
import type { Requirement } from './check.js';
import type { RelationColumn } from './schema.js';

type Queryable = Pick<pg.Client | pg.Pool, 'query'>;

/**
 * The event trigger that writes a PostgreSQL source's DDL into the WAL, so the stream sees a schema
 * change where it happened, with attribute numbers (pgoutput's Relation messages come only with the
 * next row, and name columns without them, so a rename looks like a drop and an add).
 *
 * On ddl_command_end of an ALTER TABLE it emits, with pg_logical_emit_message(true, 'tributary.ddl',
 * json), transactionally (the message is decoded inside its transaction, at the statement's place):
 * `{"v":1,"tag":"ALTER TABLE","oid":…,"schema":…,"name":…,"columns":[[attnum,name,typoid,typmod,notnull,default],…]}`,
 * the table's columns after the statement as the catalogue has them then (generated and dropped
 * columns left out, as pgoutput leaves them out). A failure inside it is a warning, never the user's
 * statement's failure. One trigger serves every sync of the database: it
 * is named without the sync's id, and installed once (CREATE EVENT TRIGGER needs a superuser).
 */
export const DDL_TRIGGER = 'tributary_ddl_v1';
/** How a user without superuser rights gets the trigger (docs/check.md holds the SQL; a unit test keeps it equal to ddlTriggerSql()). */
const HOW_TO_INSTALL =
  'have a superuser run tributary sync once against this database (it installs the trigger, which then serves every sync of the database), or run the SQL under "PostgreSQL DDL event trigger" in docs/check.md as a superuser';

/** The prefix of its logical messages. */
export const DDL_MESSAGE_PREFIX = 'tributary.ddl';

/** The column list the trigger emits for relation `oid` (SQL expression; `$oid` is replaced). OIDs as int8: JSON prints an oid as a string. */
const COLUMNS_SQL = `(SELECT coalesce(json_agg(json_build_array(a.attnum, a.attname, a.atttypid::int8, a.atttypmod, a.attnotnull, pg_get_expr(d.adbin, d.adrelid)) ORDER BY a.attnum), '[]'::json)
     FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE a.attrelid = $oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '')`;

/** The statements that install the trigger (idempotent: a second run replaces the function and keeps the trigger). */
export function ddlTriggerSql(): string[] {
  return [
    `CREATE OR REPLACE FUNCTION public.${DDL_TRIGGER}() RETURNS event_trigger LANGUAGE plpgsql AS $fn$
DECLARE r record;
BEGIN
  FOR r IN SELECT DISTINCT c.oid, n.nspname, c.relname, e.command_tag FROM pg_event_trigger_ddl_commands() e
             JOIN pg_class c ON c.oid = e.objid JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE e.classid = 'pg_class'::regclass AND e.object_type IN ('table', 'table column') AND e.command_tag = 'ALTER TABLE' AND c.relkind IN ('r', 'p')
  LOOP
    PERFORM pg_logical_emit_message(true, '${DDL_MESSAGE_PREFIX}', json_build_object('v', 1, 'tag', r.command_tag, 'oid', r.oid::int8, 'schema', r.nspname, 'name', r.relname,
      'columns', ${COLUMNS_SQL.replace('$oid', 'r.oid')})::text);
  END LOOP;
EXCEPTION WHEN OTHERS THEN
  -- Never fail the user's statement: without the message, the sync still sees the change in pgoutput's Relation message.
  RAISE WARNING '${DDL_TRIGGER}: %', SQLERRM;
END
$fn$`,
    `DO $do$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_event_trigger WHERE evtname = '${DDL_TRIGGER}') THEN
    CREATE EVENT TRIGGER ${DDL_TRIGGER} ON ddl_command_end WHEN TAG IN ('ALTER TABLE') EXECUTE FUNCTION public.${DDL_TRIGGER}();
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

/** A parsed 'tributary.ddl' message. */
export interface DdlMessage {
  readonly tag: string;
  readonly oid: number;
  readonly schema: string;
  readonly name: string;
  readonly columns: readonly TriggerColumn[];
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
  const b = body as { v?: unknown; tag?: unknown; oid?: unknown; schema?: unknown; name?: unknown; columns?: unknown };
  if (b.v !== 1 || typeof b.tag !== 'string' || typeof b.oid !== 'number' || typeof b.schema !== 'string' || typeof b.name !== 'string' || !Array.isArray(b.columns)) return undefined;
  const columns: TriggerColumn[] = [];
  for (const c of b.columns as unknown[]) {
    if (!Array.isArray(c) || c.length < 6) return undefined;
    const [attnum, name, typeOid, typmod, notNull, def] = c as unknown[];
    if (typeof attnum !== 'number' || typeof name !== 'string' || typeof typeOid !== 'number' || typeof typmod !== 'number' || typeof notNull !== 'boolean') return undefined;
    columns.push({ attnum, name, typeOid, typmod, notNull, defaultSql: typeof def === 'string' ? def : null });
  }
  return { tag: b.tag, oid: b.oid, schema: b.schema, name: b.name, columns };
}

/** A table's columns now, in the form the trigger's message gives them (for the first message's comparison). */
export async function triggerColumns(conn: Queryable, oid: number): Promise<TriggerColumn[]> {
  const r = await conn.query<{ c: string }>(`SELECT ${COLUMNS_SQL.replace('$oid', '$1::oid')}::text AS c`, [String(oid)]);
  return parseDdlMessage(JSON.stringify({ v: 1, tag: '', oid, schema: '', name: '', columns: JSON.parse(r.rows[0]?.c ?? '[]') as unknown }))?.columns as TriggerColumn[];
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

/** Whether the trigger is installed, and whether this role could install it. */
export async function ddlTriggerState(conn: Queryable): Promise<{ installed: boolean; enabled: boolean; superuser: boolean }> {
  const r = await conn.query<{ installed: string; enabled: string | null; superuser: string }>(
    `SELECT EXISTS (SELECT 1 FROM pg_event_trigger WHERE evtname = $1) AS installed,
            (SELECT evtenabled <> 'D' FROM pg_event_trigger WHERE evtname = $1) AS enabled,
            (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser`,
    [DDL_TRIGGER],
  );
  const row = r.rows[0];
  return { installed: row?.installed === 't', enabled: row?.enabled === 't', superuser: row?.superuser === 't' };
}

/**
 * Installs the trigger when it is missing and the role is a superuser; otherwise says why not in
 * the log (the Relation messages still follow added, dropped and retyped columns). Returns whether
 * the trigger is there now.
 */
export async function ensureDdlTrigger(conn: Queryable, logger: Logger): Promise<boolean> {
  const s = await ddlTriggerState(conn);
  if (s.installed) return s.enabled;
  if (!s.superuser) {
    logger.warn({ trigger: DDL_TRIGGER }, `event trigger ${DDL_TRIGGER} is not installed and this role may not install it (CREATE EVENT TRIGGER needs a superuser): column renames stop the sync, and a schema change shows only with the next row written. ${HOW_TO_INSTALL}`);
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
  if (s.installed && s.enabled) return { ...base, ok: true, value: 'installed: schema changes reach the stream where they happen (renames included)', fix: '' };
  if (s.installed) return { ...base, ok: false, value: 'installed but disabled', fix: `ALTER EVENT TRIGGER ${DDL_TRIGGER} ENABLE` };
  if (s.superuser) return { ...base, ok: true, value: 'not installed: sync will install it (the role is a superuser)', fix: '' };
  return { ...base, ok: false, value: 'not installed, and the role may not install it (not a superuser): column renames stop the sync, and a change shows only with the next row', fix };
}
