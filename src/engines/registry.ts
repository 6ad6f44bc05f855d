import type { Logger } from 'pino';
import type { SyncConfig } from '../config/schema.js';
import type { Dsn } from '../config/dsn.js';
import { ErrorCode, TributaryError } from '../core/errors.js';
import type { LagProbe } from '../core/lag.js';
import type { ChangeSource } from '../core/source.js';
import type { Target } from '../core/target.js';
import type { TableSchema } from '../core/schema.js';
import type { Coordinator } from '../coordination/leadership.js';
import type { ClusterStore } from '../cluster/store.js';
import type { ClusterContext, CoordinatorContext, Engine, EngineEntry, EngineRoles, ValueConventions } from './engine.js';

const SQL_ROLES: EngineRoles = { source: true, target: true, replica: true, coordinator: false };

const MYSQL_VALUES: ValueConventions = { zeroDates: true, bits: 'integer', spatialBytes: 'srid-wkb', bytesAsText: 'hex', booleanAsText: ['true', 'false'], instantSuffix: '' };
const POSTGRES_VALUES: ValueConventions = { zeroDates: false, bits: 'text', spatialBytes: 'ewkb', bytesAsText: 'utf8', booleanAsText: ['t', 'f'], instantSuffix: '+00' };
/**
 * An engine the registry does not know (a library user's own source or target, a test's fake): no
 * zero dates, bit strings as integers, spatial bytes as EWKB, and a text writer's forms as MySQL's.
 */
const OTHER_VALUES: ValueConventions = { zeroDates: false, bits: 'integer', spatialBytes: 'ewkb', bytesAsText: 'hex', booleanAsText: ['true', 'false'], instantSuffix: '' };

/**
 * Every engine tributary knows, by URL scheme: the one place that names them all. Adding an engine
 * is a folder `src/engines/<name>/` whose index.ts exports an `Engine`, and one line here. The
 * folders load lazily (a PostgreSQL → PostgreSQL sync never loads mysql2 or zongji).
 */
export const ENGINES: readonly EngineEntry[] = [
  { name: 'mysql', dialect: 'mysql', schemes: ['mysql', 'mariadb'], defaultPort: 3306, needsDatabase: true, cluster: false, sourceHosts: true, roles: SQL_ROLES, values: MYSQL_VALUES, load: async () => (await import('./mysql/index.js')).engine },
  { name: 'postgres', dialect: 'postgres', schemes: ['postgres', 'postgresql'], defaultPort: 5432, needsDatabase: true, cluster: false, sourceHosts: false, roles: SQL_ROLES, values: POSTGRES_VALUES, load: async () => (await import('./postgres/index.js')).engine },
  // A target only. Its values read back are the source's own (it stores the source's definitions), so its conventions are never asked.
  { name: 'etcd', dialect: 'etcd', schemes: ['etcd'], defaultPort: 2379, needsDatabase: false, cluster: true, sourceHosts: false, roles: { source: false, target: true, replica: false, coordinator: true }, values: OTHER_VALUES, load: async () => (await import('./etcd/index.js')).engine },
];

/** The engine of a URL scheme (`mariadb` → mysql), or undefined for a scheme no engine has. */
export function engineOfScheme(scheme: string): EngineEntry | undefined {
  return ENGINES.find((e) => e.schemes.includes(scheme));
}

/** The registry line of an engine by name (a Dsn's `engine`). */
export function engineEntry(name: string): EngineEntry {
  const entry = ENGINES.find((e) => e.name === name);
  if (!entry) throw new TributaryError(ErrorCode.DSN_INVALID, `engine '${name}' is unknown; use ${schemesFor('source')}`);
  return entry;
}

/**
 * Whether two engines (TableSchema.engine, by name) speak one dialect: their native definitions,
 * type names and collations compare as they are. An engine the registry does not know (a library
 * user's, a test's fake) is its own dialect.
 */
export function sameDialect(a: string, b: string): boolean {
  const dialect = (name: string) => ENGINES.find((e) => e.name === name)?.dialect ?? name;
  return dialect(a) === dialect(b);
}

/** The value conventions of an engine by name (TableSchema.engine); an unknown engine's are OTHER_VALUES. */
export function valueConventions(name: string): ValueConventions {
  // Asked per change by some targets: a lookup, not a search.
  return VALUES_BY_ENGINE.get(name) ?? OTHER_VALUES;
}

const VALUES_BY_ENGINE: ReadonlyMap<string, ValueConventions> = new Map(ENGINES.map((e) => [e.name, e.values]));

/**
 * The table with a logical type on every column: a table its engine's describe produced has them;
 * one built by hand (a library caller's injected source, a test) gets them from its engine's
 * native types, loading that engine. A table of an engine the registry cannot load is returned as
 * it is: its columns' logical types are its maker's to give (a cross-dialect target or checksum
 * refuses a column without one by name).
 */
export async function withLogicalTypes(table: TableSchema): Promise<TableSchema> {
  if (table.columns.every((c) => c.logical !== undefined)) return table;
  const entry = ENGINES.find((e) => e.name === table.engine);
  if (!entry || !(entry.roles.source || entry.roles.target)) return table;
  const filled = (await entry.load()).withLogical(table);
  return { ...table, columns: table.columns.map((c, i) => (c.logical !== undefined ? c : (filled.columns[i] ?? c))) };
}

/** `mysql:// or postgres://`: the schemes of the engines that can play `role`, for messages. */
export function schemesFor(role: keyof EngineRoles): string {
  const names = ENGINES.filter((e) => e.roles[role]).map((e) => `${e.name}://`);
  return names.length <= 1 ? names.join('') : `${names.slice(0, -1).join(', ')} or ${names[names.length - 1]}`;
}

async function engineFor(dsn: Dsn, role: keyof EngineRoles, refusal: string): Promise<Engine> {
  const entry = engineEntry(dsn.engine);
  if (!entry.roles[role]) throw new TributaryError(ErrorCode.DSN_INVALID, refusal);
  return entry.load();
}

/**
 * A quarter of the buffer for events waiting to be applied, a quarter for the batch being built
 * and the changes the copy holds (the applier's bufferBytes), the rest for the copy's chunks and
 * what the estimates miss (object overhead, garbage not yet collected).
 */
function maxBufferBytes(config: SyncConfig): number {
  return Math.floor((config.bufferMb * 1024 * 1024) / 4);
}

/** The source of a configuration, by its URL's engine (shared by sync, check, plan, verify and move). */
export async function openSource(config: SyncConfig, dsn: Dsn, syncId: string, logger: Logger): Promise<ChangeSource> {
  const engine = await engineFor(dsn, 'source', `source engine '${dsn.engine}' is not supported as a source; use a ${schemesFor('source')} source`);
  return engine.openSource({ config, dsn, syncId, logger, maxBufferBytes: maxBufferBytes(config) });
}

/** The target of a configuration (see openSource). */
export async function openTarget(config: SyncConfig, dsn: Dsn, syncId: string, logger: Logger): Promise<Target> {
  const engine = await engineFor(dsn, 'target', `target engine '${dsn.engine}' is not supported yet; use a ${schemesFor('target')} target`);
  return engine.openTarget({ config, dsn, syncId, logger, maxBufferBytes: maxBufferBytes(config) });
}

/** The coordinator (`--coordinator`) of the URL's engine, not connected yet, for a sync's standby instances. */
export async function openCoordinator(ctx: CoordinatorContext): Promise<Coordinator> {
  const engine = await engineFor(ctx.dsn, 'coordinator', `coordinator engine '${ctx.dsn.engine}' cannot coordinate instances; use a ${schemesFor('coordinator')} coordinator`);
  return engine.openCoordinator(ctx);
}

/** The keys of a cluster of workers (`tributary worker`, `tributary cluster`) in the URL's engine, not connected yet. */
export async function openClusterStore(ctx: ClusterContext): Promise<ClusterStore> {
  const engine = await engineFor(ctx.dsn, 'coordinator', `coordinator engine '${ctx.dsn.engine}' cannot hold a cluster; use a ${schemesFor('coordinator')} coordinator`);
  return engine.openClusterStore(ctx);
}

/** A lag probe of a replica (`--replica`) of the URL's engine, for the copy's ReplicaThrottle. */
export async function openLagProbe(dsn: Dsn): Promise<LagProbe> {
  const engine = await engineFor(dsn, 'replica', `replica engine '${dsn.engine}' cannot be watched for lag; use a ${schemesFor('replica')} replica`);
  return engine.openLagProbe(dsn);
}
