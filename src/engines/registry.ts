import type { Logger } from 'pino';
import type { SyncConfig } from '../config/schema.js';
import type { Dsn } from '../config/dsn.js';
import { ErrorCode, TributaryError } from '../core/errors.js';
import type { LagProbe } from '../core/lag.js';
import type { ChangeSource } from '../core/source.js';
import type { Target } from '../core/target.js';
import type { Engine, EngineEntry, EngineRoles } from './engine.js';

const EVERY_ROLE: EngineRoles = { source: true, target: true, replica: true };

/**
 * Every engine tributary knows, by URL scheme: the one place that names them all. Adding an engine
 * is a folder `src/engines/<name>/` whose index.ts exports an `Engine`, and one line here. The
 * folders load lazily (a PostgreSQL → PostgreSQL sync never loads mysql2 or zongji).
 */
export const ENGINES: readonly EngineEntry[] = [
  { name: 'mysql', dialect: 'mysql', schemes: ['mysql', 'mariadb'], defaultPort: 3306, needsDatabase: true, roles: EVERY_ROLE, load: async () => (await import('./mysql/index.js')).engine },
  { name: 'postgres', dialect: 'postgres', schemes: ['postgres', 'postgresql'], defaultPort: 5432, needsDatabase: true, roles: EVERY_ROLE, load: async () => (await import('./postgres/index.js')).engine },
  // etcd URLs parse (the etcd target is the next engine); no role yet, so none is ever loaded.
  { name: 'etcd', dialect: 'etcd', schemes: ['etcd'], defaultPort: 2379, needsDatabase: false, roles: { source: false, target: false, replica: false }, load: () => Promise.reject(new Error('no etcd engine yet')) },
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

/** A lag probe of a replica (`--replica`) of the URL's engine, for the copy's ReplicaThrottle. */
export async function openLagProbe(dsn: Dsn): Promise<LagProbe> {
  const engine = await engineFor(dsn, 'replica', `replica engine '${dsn.engine}' cannot be watched for lag; use a ${schemesFor('replica')} replica`);
  return engine.openLagProbe(dsn);
}
