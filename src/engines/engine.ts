import type { Logger } from 'pino';
import type { SyncConfig } from '../config/schema.js';
import type { Dsn } from '../config/dsn.js';
import type { ClusterStore } from '../cluster/store.js';
import type { Coordinator } from '../coordination/leadership.js';
import type { LagProbe } from '../core/lag.js';
import type { ChangeSource } from '../core/source.js';
import type { TableSchema } from '../core/schema.js';
import type { Target } from '../core/target.js';
import type { ValueConventions } from '../core/values.js';

/** What a sync hands an engine to open one side: the validated config, the side's URL, the sync's id. */
export interface OpenContext {
  readonly config: SyncConfig;
  readonly dsn: Dsn;
  readonly syncId: string;
  readonly logger: Logger;
  /** The share of `--buffer-mb` a source may hold in events waiting to be applied. */
  readonly maxBufferBytes: number;
}

/** What a sync hands an engine to open its coordinator: the URL, the sync's id, the lease TTL, this instance's HTTP address. */
export interface CoordinatorContext {
  readonly dsn: Dsn;
  readonly syncId: string;
  readonly ttlSeconds: number;
  readonly logger: Logger;
  readonly http?: string;
}

/** What a worker or `tributary cluster` hands an engine to open a cluster's keys: the URL, the lease TTL. */
export interface ClusterContext {
  readonly dsn: Dsn;
  readonly ttlSeconds: number;
  readonly logger: Logger;
}

/**
 * One engine's code, as its folder's `index.ts` exports it (`src/engines/<name>/index.ts`). The
 * registry loads it only when a URL of one of its schemes is used, so a run loads only the drivers
 * of its own engines.
 *
 * Contract: each `open*` returns an object that has not connected yet (the caller calls `connect()`);
 * it is called only for a role the registry entry declares (`roles`).
 */
export interface Engine {
  readonly name: string;
  /** A change source over `ctx.dsn` (a `source` role). */
  openSource(ctx: OpenContext): Promise<ChangeSource>;
  /** A target over `ctx.dsn` (a `target` role). */
  openTarget(ctx: OpenContext): Promise<Target>;
  /** A probe of a replica's lag behind its primary, for the copy's throttle (a `replica` role). */
  openLagProbe(dsn: Dsn): Promise<LagProbe>;
  /** The election of a sync's instances over `ctx.dsn` (a `coordinator` role: --coordinator, docs/standby.md). */
  openCoordinator(ctx: CoordinatorContext): Promise<Coordinator>;
  /** The keys of a cluster of workers over `ctx.dsn` (a `coordinator` role: tributary worker / cluster, docs/cluster.md). */
  openClusterStore(ctx: ClusterContext): Promise<ClusterStore>;
  /**
   * The table with each column's logical type (core/logical.ts) filled in from its native type, as
   * this engine's describe fills it: for tables a caller built by hand (TableSchema.engine names
   * this engine). Pure; columns that have one are given a fresh one all the same.
   */
  withLogical(table: TableSchema): TableSchema;
}

export type { ValueConventions } from '../core/values.js';

/** The roles an engine can play in a sync: the capability callers branch on before opening a side. */
export interface EngineRoles {
  readonly source: boolean;
  readonly target: boolean;
  /** `--replica`: its lag can be read to throttle the copy. */
  readonly replica: boolean;
  /** `--coordinator`: it runs the election of a sync's instances (leases, epochs). */
  readonly coordinator: boolean;
}

/**
 * A registry line: what is known about an engine without loading it (URL schemes, default port,
 * roles) and how to load it.
 */
export interface EngineEntry {
  readonly name: string;
  /**
   * The dialect of its native type names, definitions and collations: two sides of one dialect
   * compare them as they are (a same-dialect sync keeps the native definition, digests and
   * collation-ordered ranges compare directly); across dialects only logical types compare.
   * MySQL and MariaDB share `mysql`; an engine speaking another's dialect (TiDB) would name it.
   */
  readonly dialect: string;
  /** URL schemes, the first is the engine's name as URLs and messages show it (`mariadb:` reads as mysql). */
  readonly schemes: readonly string[];
  readonly defaultPort: number;
  /** Whether a URL must name a database (its path); etcd's path is an optional key prefix. */
  readonly needsDatabase: boolean;
  /** Whether a URL may name several endpoints of one cluster, comma-separated (`etcd://a:2379,b:2379/prefix`). */
  readonly cluster: boolean;
  /**
   * Whether a source URL may name several hosts of one replication lineage, comma-separated
   * (`mysql://u@h1:3306,h2:3306/db`): the source connects to the first that answers, in order, on
   * each (re)connect; resuming there is decided by the source's checkPosition (docs/failover.md).
   */
  readonly sourceHosts: boolean;
  readonly roles: EngineRoles;
  readonly values: ValueConventions;
  /** Imports the engine's folder; called only for a declared role. */
  load(): Promise<Engine>;
}
