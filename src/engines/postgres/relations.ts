import type pg from 'pg';
import { ErrorCode, TributaryError } from '../../core/errors.js';
import { splitName } from '../../core/names.js';
import { quoteIdent } from './sql.js';
import type { DescribedTable } from './schema.js';
import type { SchemaScope } from './scope.js';

type Queryable = Pick<pg.Client | pg.Pool, 'query'>;

/**
 * Which relation a synced table is, and with which columns, as the sync has followed it so far.
 *
 * pgoutput names a relation by OID: a Relation message carries the relation's OID, schema and
 * name as of the change it precedes. A synced table is the relation whose OID the sync described,
 * so a rename, a move to another schema, and a table dropped and created again (or another table
 * renamed into its name) all show as a difference between OID and name. The sync cannot follow
 * them yet (the target table would have to follow the rename, or be copied again), so each stops
 * it with DDL_UNSUPPORTED (RelationChangedError).
 *
 * The sync's own publication records these identities in its comment (slot.ts), so a restarted
 * sync still knows the relation its checkpoint was taken from when the change happened while it
 * was stopped, or after the position it stopped at.
 */
export interface RelationRecord {
  readonly oid: number;
  /** Each column as [name, type OID, typmod], in the table's order (what a Relation message tells). */
  readonly columns: readonly (readonly [string, number, number])[];
}

export function recordOf(d: DescribedTable): RelationRecord {
  return { oid: d.oid, columns: d.schema.columns.map((c, i) => [c.name, d.types[i]?.oid ?? 0, d.types[i]?.typmod ?? -1] as const) };
}

export function sameColumns(a: RelationRecord, b: RelationRecord): boolean {
  return a.columns.length === b.columns.length && a.columns.every((c, i) => c[0] === b.columns[i]?.[0] && c[1] === b.columns[i]?.[1] && c[2] === b.columns[i]?.[2]);
}

/** Where a relation is now, by OID (undefined: no relation has that OID: it was dropped). */
export interface RelationPlace {
  readonly oid: number;
  readonly schema: string;
  readonly name: string;
}

function place(p: RelationPlace): string {
  return `${quoteIdent(p.schema)}.${quoteIdent(p.name)}`;
}

/**
 * A synced table's relation changed in a way the sync cannot follow. `table` is the synced name,
 * `oid` the relation the sync follows, `now` where that relation is now (undefined: dropped),
 * `replacedBy` the OID that holds the synced name now (undefined: none, or not known).
 */
export class RelationChangedError extends TributaryError {
  constructor(
    readonly details: {
      /** The schema the synced table is in (where the sync follows it). */
      readonly namespace: string;
      /** Its synced name (`schema.table` in a sync of several schemas, scope.ts). */
      readonly table: string;
      readonly oid: number;
      readonly now?: RelationPlace | undefined;
      readonly replacedBy?: number | undefined;
      /** How it was seen: 'in the replication stream', 'in the catalogue while streaming', … */
      readonly seen: string;
      /** Where the stream stands: what was applied, where the checkpoint is. */
      readonly position: string;
    },
  ) {
    super(ErrorCode.DDL_UNSUPPORTED, relationMessage(details));
    this.name = 'RelationChangedError';
  }
}

function relationMessage(d: RelationChangedError['details']): string {
  // A synced name holds a '.' only when qualified (a sync of one schema syncs no dotted name).
  const own = splitName(d.table).table;
  const synced = `${quoteIdent(d.namespace)}.${quoteIdent(own)}`;
  const what: string[] = [];
  if (d.now === undefined) what.push(d.replacedBy === undefined ? 'was dropped' : 'was dropped (no relation has its OID any more)');
  else if (d.now.schema !== d.namespace) what.push(`was moved to another schema: it is now ${place(d.now)}`);
  else if (d.now.name !== own) what.push(`was renamed to ${place(d.now)}`);
  if (d.replacedBy !== undefined) what.push(`a different relation (OID ${d.replacedBy}) now has its name, as a table dropped and created again or renamed into it has`);
  return (
    `table ${d.table} (${synced}, relation OID ${d.oid}) ${what.join(', and ')} (seen ${d.seen}). ` +
    `tributary cannot follow a renamed, moved or replaced table yet: the sync stopped before applying anything of it; ${d.position}. ` +
    `A restart stops here again. To go on: leave ${d.table} out with --tables (its target table stays as it is), or start over with --force (drops the target tables and copies them again)`
  );
}

/**
 * Where each relation is now: by OID (the synced tables' relations) and by synced name (what now
 * holds each synced name `names` in its schema of `scope`). One catalogue read.
 */
export async function relationPlaces(
  conn: Queryable,
  scope: SchemaScope,
  oids: readonly number[],
  names: readonly string[],
): Promise<{ byOid: Map<number, RelationPlace>; byName: Map<string, RelationPlace> }> {
  const places = names.map((n) => scope.placeOf(n));
  const r = await conn.query<{ oid: string; schema: string; name: string }>(
    `SELECT c.oid::int8::text AS oid, n.nspname AS schema, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.oid = ANY($1::oid[])
         OR ((n.nspname, c.relname) IN (SELECT * FROM unnest($2::text[], $3::text[])) AND c.relkind IN ('r', 'p'))`,
    [oids.map(String), places.map((p) => p.schema), places.map((p) => p.relname)],
  );
  const byOid = new Map<number, RelationPlace>();
  const byName = new Map<string, RelationPlace>();
  for (const row of r.rows) {
    const p = { oid: Number(row.oid), schema: row.schema, name: row.name };
    if (oids.includes(p.oid)) byOid.set(p.oid, p);
    const name = scope.nameOf(p.schema, p.name);
    if (name !== undefined && names.includes(name)) byName.set(name, p);
  }
  return { byOid, byName };
}

/** Whether relation place `p` is where synced table `table` of `scope` is followed. */
export function inPlace(scope: SchemaScope, p: RelationPlace | undefined, table: string): boolean {
  return p !== undefined && scope.nameOf(p.schema, p.name) === table;
}

/**
 * The first synced table whose relation is no longer where the sync follows it: `followed` maps
 * each synced name to the OID the sync follows. Undefined when every one is in place.
 */
export async function movedRelation(
  conn: Queryable,
  scope: SchemaScope,
  followed: ReadonlyMap<string, number>,
): Promise<{ table: string; oid: number; now?: RelationPlace | undefined; replacedBy?: number | undefined } | undefined> {
  if (followed.size === 0) return undefined;
  const { byOid, byName } = await relationPlaces(conn, scope, [...followed.values()], [...followed.keys()]);
  for (const [table, oid] of followed) {
    const now = byOid.get(oid);
    const holder = byName.get(table);
    if (inPlace(scope, now, table)) continue;
    return { table, oid, now, replacedBy: holder && holder.oid !== oid ? holder.oid : undefined };
  }
  return undefined;
}
