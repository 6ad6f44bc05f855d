import type { Leadership } from '../coordination/leadership.js';

/**
 * A sync declared to the cluster (`tributary cluster apply`): its name (the sync id its workers
 * campaign under) and its configuration as the YAML gave it (config keys, camelCase), never
 * holding a password: a worker adds those from its own environment or files.
 */
export interface DeclaredSync {
  readonly name: string;
  readonly config: Readonly<Record<string, unknown>>;
  /** When it was declared or last replaced (ISO 8601). */
  readonly appliedAt: string;
}

/** A worker as it registered itself (under its lease: the key goes when the worker dies). */
export interface WorkerInfo {
  readonly name: string;
  readonly host: string;
  readonly pid: number;
  /** Its HTTP API's address (--http), when it serves one. */
  readonly http?: string;
  /** How many syncs it runs at most. */
  readonly capacity: number;
  /** When it registered (ISO 8601). */
  readonly since: string;
}

/** What a worker publishes about one sync it runs (every 2 s, under its lease). */
export interface SyncReport {
  readonly sync: string;
  readonly worker: string;
  /** The runner's phase (standby, copy, stream, failed, …). */
  readonly phase: string;
  /** Seconds behind the source while streaming, else null. */
  readonly lagSeconds: number | null;
  /** The last error, password-free, or null. */
  readonly lastError: { readonly code: string; readonly message: string; readonly at: string | null } | null;
  /** When it was published (ISO 8601). */
  readonly at: string;
}

/** A change of one assignment: `worker` set runs the sync there, undefined unassigns it. */
export interface AssignmentOp {
  readonly sync: string;
  readonly worker: string | undefined;
}

/** Everything the scheduler and `cluster status` read, from one consistent read of the store. */
export interface ClusterState {
  readonly syncs: readonly DeclaredSync[];
  readonly workers: readonly WorkerInfo[];
  /** sync name → worker name. */
  readonly assignments: ReadonlyMap<string, string>;
  /** Every report published now (one per sync and worker running it). */
  readonly reports: readonly SyncReport[];
}

/** A worker's registration: its lease, which holds its worker key and its reports. */
export interface Registration {
  /** Resolves once the lease is lost (the worker is then dead to the scheduler). */
  readonly lost: Promise<Error>;
  /** Publishes (replaces) the worker's report of a sync, under its lease. */
  report(report: SyncReport): Promise<void>;
  /** Deletes the worker's report of a sync (it no longer runs it). */
  unreport(sync: string): Promise<void>;
  /** Deletes the worker key and revokes the lease; never throws. */
  close(): Promise<void>;
}

/**
 * The scheduler's leadership (Leadership: the epoch, `ended`, `resign()`), and the only way its
 * assignments are written.
 *
 * Contract: `assign()` writes every op in one transaction that also compares the scheduler's
 * election key (its create revision is the epoch): when another scheduler was elected since, it
 * writes nothing and resolves false. A deposed scheduler therefore never moves a sync.
 */
export interface SchedulerLeadership extends Leadership {
  assign(ops: readonly AssignmentOp[]): Promise<boolean>;
}

/**
 * The cluster's keys in a coordination service (etcd: engines/etcd/cluster.ts; the layout is in
 * docs/cluster.md): declared syncs, workers (leased), assignments, workers' reports (leased), and
 * the scheduler's election.
 *
 * Contract: reads are consistent (one revision); `watch` calls `onChange` after any write under
 * the cluster's keys, at least once per change (callers re-read the state); methods throw a
 * TributaryError naming the coordinator when it cannot be reached after bounded retries.
 */
export interface ClusterStore {
  /** 'coordinator etcd://h1:2379/prefix', for messages (never a password). */
  readonly where: string;
  /** The TTL of worker leases and of the scheduler's election, in seconds. */
  readonly ttlSeconds: number;
  /** Creates or replaces a declared sync. */
  declare(sync: DeclaredSync): Promise<void>;
  /** Deletes a declared sync and its assignment (its worker stops it); false when none was declared. */
  remove(name: string): Promise<boolean>;
  state(): Promise<ClusterState>;
  /**
   * Registers a worker under a lease of its own; ALREADY_RUNNING when a live worker has the name.
   */
  register(worker: WorkerInfo): Promise<Registration>;
  /** Calls `onChange` after every write under the cluster's keys until the returned stop() is called. */
  watch(onChange: () => void): Promise<() => Promise<void>>;
  /** Campaigns for the scheduler role (as Coordinator.campaign: resolves once elected, AbortedError on `signal`). */
  campaignScheduler(signal: AbortSignal, worker: string): Promise<SchedulerLeadership>;
  /** The scheduler's worker name as elected now, or undefined. */
  scheduler(): Promise<string | undefined>;
  /** Ends the campaign, watches and the connection; never throws. */
  close(): Promise<void>;
}
