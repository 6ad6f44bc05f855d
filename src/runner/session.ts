import type { Logger } from 'pino';
import { assertResumable } from '../checkpoint/checkpoint.js';
import { connectionDsn } from '../config/connection.js';
import { describeDsn, preferHost, type Dsn } from '../config/dsn.js';
import type { SyncConfig } from '../config/schema.js';
import { deriveSyncId } from '../config/sync-id.js';
import { selectTables, tableSelected } from '../config/tables.js';
import { relayChangeLog } from '../relay/index.js';
import { namespacesOf, splitName } from '../core/names.js';
import { keepSyncedForeignKeys, type LeftOutForeignKey } from '../schema/foreign-keys.js';
import type { Requirement } from '../core/check.js';
import { ErrorCode, TributaryError } from '../core/errors.js';
import { keyedTable, type TableSchema } from '../core/schema.js';
import type { ChangeSource, DatabaseDefaults, SourceIdentity } from '../core/source.js';
import type { Checkpoint, LockWatch, Target } from '../core/target.js';
import { targetLock, type SyncLock } from '../coordination/lock.js';
import { openSource, openTarget, withLogicalTypes } from '../engines/registry.js';
import { transformSource, TransformRules, type PredicatePair } from '../transform/transform.js';

/** Checkpoint refusals that --force answers by starting over (the sync clears the checkpoint). */
export const FORCE_RESTARTS: ReadonlySet<string> = new Set([ErrorCode.POSITION_LOST, ErrorCode.SOURCE_CHANGED, ErrorCode.SOURCE_DIVERGED, ErrorCode.GTID_DOMAIN_UNKNOWN, ErrorCode.DDL_UNSUPPORTED, ErrorCode.RELAY_READER_LOST]);

/** A step of opening a session, as `onStepError` names it. */
export type SessionStep = 'connect' | 'requirements' | 'tables' | 'describe' | 'database' | 'checkpoint';

/** Which side a `connect` or `requirements` step failed on. */
export type SessionSide = 'source' | 'target';

/** What a failed step is about: the side (connect, requirements) or the table (describe). */
export interface StepSubject {
  readonly side?: SessionSide;
  readonly table?: string;
}

export interface SessionOptions {
  readonly logger: Logger;
  /**
   * The source host to connect to first (POST /switch-source): it goes before the URL's hosts
   * (config/dsn.ts preferHost). The sync id stays the one the URLs derive.
   */
  readonly sourceHost?: { readonly host: string; readonly port: number };
  /** Injected sides (tests, embedding programs); opened from the URLs through the registry otherwise. */
  readonly source?: ChangeSource;
  readonly target?: Target;
  /**
   * Sides built from the URLs and connected already (a standby's warm sides, runner/warm.ts), in
   * place of building and connecting them: the session owns them from here on (closes them) and
   * skips their connect step. Built by `buildSides` with the same config and sourceHost. A side
   * not given is built and connected as usual.
   */
  readonly connected?: Partial<Sides>;
  /**
   * A stream follows the opening (a sync without --copy-only): the source prepares it
   * (ChangeLog.prepareStream: a MySQL source's decoding thread starts and loads its modules) as
   * soon as it is built, before the target's engine is even loaded, so that loading runs beside the
   * rest of the start. The session's close() releases what it prepared.
   */
  readonly prepareStream?: boolean;
  /**
   * The source's requirements: `enforce` runs `preflight()`, which throws at the first unmet one
   * (sync, --dry-run); `report` collects every one as a Requirement (check); `skip` (verify).
   */
  readonly requirements: 'enforce' | 'report' | 'skip';
  /**
   * The sync's exclusive lock, taken beside the preflight (sync only): `lock(target)` (the target's
   * own lock by default, coordination/lock.ts: targetLock; a leadership's fence in coordinator
   * mode: fencedLock), whose `watch` hears of a loss later. Commands that write nothing take none.
   */
  readonly lock?: { readonly watch: LockWatch; readonly lock?: (target: Target) => SyncLock };
  /** Describe the selected tables all at once (sync) or one after another (the read-only commands). */
  readonly parallel: boolean;
  /**
   * The checkpoint: `resume` reads the source's identity and the checkpoint and asks the source
   * whether it can resume from it (sync); `inspect` does the same without side effects, reading the
   * identity only when there is a checkpoint (check, --dry-run); `skip` reads neither (verify).
   */
  readonly checkpoint: 'resume' | 'inspect' | 'skip';
  /**
   * A step that failed. Without it every failure ends the opening (sync). With it, the failure is
   * the caller's to report, and only what depends on the step is skipped: a side that does not
   * connect skips that side's steps, a table that cannot be described is left out of `tables`. It
   * may rethrow to end the opening (--dry-run ends at any failure but a preflight's).
   */
  readonly onStepError?: (step: SessionStep, err: unknown, subject: StepSubject) => void;
  /** A library caller's row filters as predicate pairs (SQL + row function), by source table (transform/rules.ts). */
  readonly predicates?: Readonly<Record<string, PredicatePair>>;
}

/** Whether the source can resume from the target's checkpoint. */
export type ResumeState =
  /** No checkpoint (or the checkpoint was not read): the sync starts anew. */
  | { readonly kind: 'start' }
  /** The checkpoint's source is this one and its position is still there. */
  | { readonly kind: 'resume'; readonly from: string }
  /** A checkpoint the source cannot serve (another source, a purged position, a lost slot): why. */
  | { readonly kind: 'refused'; readonly error: unknown }
  /** A checkpoint, but the source did not connect: whether it can resume is not known. */
  | { readonly kind: 'unchecked' };

/**
 * The two sides of one sync and what every command reads before its own work, read once: the
 * source's requirements, the selected tables and their definitions, the database defaults a
 * created target database takes, the checkpoint and whether it can resume. sync, check,
 * --dry-run, verify and move (through Runner) all start here.
 *
 * Lifecycle: `createSession` (URLs parsed, sides built, nothing connected), `open()` once,
 * `close()` always (also after a failed `open()`); `openSession` does the first two and closes
 * on failure.
 */
export interface Session {
  readonly config: SyncConfig;
  readonly syncId: string;
  readonly srcDsn: Dsn;
  readonly dstDsn: Dsn;
  readonly source: ChangeSource;
  readonly target: Target;
  /** Whether each side connected (always both after an `open()` without `onStepError`). */
  readonly sourceUp: boolean;
  readonly targetUp: boolean;
  /** The source's requirements, met or not (`requirements: 'report'`). */
  readonly requirements: readonly Requirement[];
  /** The tables `--tables` selects on the source, in its order, under their target names (--table-rewrites). */
  readonly names: readonly string[];
  /** The transform stage's rules: rewrites, excluded columns, row filters (transform/rules.ts). */
  readonly rules: TransformRules;
  /**
   * Their definitions, in the same order (without those whose describe failed), each with only the
   * foreign keys whose referenced table is among them.
   */
  readonly tables: readonly TableSchema[];
  /** The foreign keys left out of `tables` because they reference a table the sync does not take (a warning each). */
  readonly foreignKeysLeftOut: readonly LeftOutForeignKey[];
  /** What a target database the sync creates takes from the source's (charset, collation). */
  readonly database: DatabaseDefaults | undefined;
  /**
   * A sync of several databases (--databases): each target database (after --database-rewrites)
   * with the defaults of the source database it comes from (SchemaOptions.namespaces). Undefined
   * for a sync of one.
   */
  readonly namespaces: ReadonlyMap<string, DatabaseDefaults | undefined> | undefined;
  /** The target's checkpoint, when read. */
  readonly checkpoint: Checkpoint | undefined;
  /** The source's identity, when read (always with `checkpoint: 'resume'`). */
  readonly identity: SourceIdentity | undefined;
  readonly resume: ResumeState;
  /** What --force drops on the target (TargetWriter.recreateScope), the databases of a sync of several included. */
  recreateScope(): string;
  open(): Promise<void>;
  /** Closes both sides (releasing the lock), never throwing. */
  close(): Promise<void>;
}

/** The URLs and the sync id of a configuration: what a command shows even when nothing connects. */
export function endpoints(config: SyncConfig): { readonly srcDsn: Dsn; readonly dstDsn: Dsn; readonly syncId: string } {
  const srcDsn = connectionDsn(config, 'source');
  const dstDsn = connectionDsn(config, 'target');
  return { srcDsn, dstDsn, syncId: config.id ?? deriveSyncId(srcDsn, dstDsn, config.databases) };
}

/** A source as the registry opens it from its URL (before the relay and the transform stage), and a target. */
export interface Sides {
  readonly source: ChangeSource;
  readonly target: Target;
}

/**
 * The sides of a configuration as the registry opens them from the URLs (nothing connected): the
 * source toward `sourceHost` first when given, the target reading --column-types by the names it
 * holds tables under (rewritten).
 */
export async function buildSides(config: SyncConfig, opts: Pick<SessionOptions, 'logger' | 'sourceHost' | 'predicates'>): Promise<Sides> {
  const { srcDsn: urlDsn, dstDsn, syncId } = endpoints(config);
  const srcDsn = opts.sourceHost ? preferHost(urlDsn, opts.sourceHost) : urlDsn;
  const rules = TransformRules.fromConfig(config, opts.predicates);
  const source = await openSource(config, srcDsn, syncId, opts.logger.child({ component: 'source' }));
  const target = await openTarget({ ...config, columnTypes: rules.columnTypesOnTarget() }, dstDsn, syncId, opts.logger.child({ component: 'target' }));
  return { source, target };
}

/** The sides of a configuration, built but not connected (see Session), or the connected ones given. */
export async function createSession(config: SyncConfig, opts: SessionOptions): Promise<Session> {
  const { srcDsn: urlDsn, dstDsn, syncId } = endpoints(config);
  const srcDsn = opts.sourceHost ? preferHost(urlDsn, opts.sourceHost) : urlDsn;
  // Malformed rules are refused before anything connects.
  const rules = TransformRules.fromConfig(config, opts.predicates);
  if (Object.keys(config.databaseRewrites).length > 0 && config.databases.length === 0) {
    throw new TributaryError(ErrorCode.CONFIG_INVALID, `--database-rewrites ${Object.entries(config.databaseRewrites).map(([a, b]) => `${a}=${b}`).join(',')} is given without --databases: it rewrites the databases of a sync of several; add --databases, or use --target to name the target database of a sync of one`);
  }
  // Every consumer (copier, applier, checksum) reads the source through the transform stage.
  const opened = opts.source ?? opts.connected?.source ?? (await openSource(config, srcDsn, syncId, opts.logger.child({ component: 'source' })));
  // --relay-dir: the stream (and its acknowledgements) come from the relay, the rest from the source;
  // the transform stage below applies to relay events as to the source's own.
  const raw = config.relayDir
    ? relayChangeLog(opened, { dir: config.relayDir, id: syncId, selects: (name) => tableSelected(name, config.tables), logger: opts.logger.child({ component: 'relay' }) })
    : opened;
  const source = transformSource(raw, rules);
  if (opts.prepareStream) source.prepareStream();
  // The target reads --column-types by the names it holds tables under (rewritten).
  let target: Target;
  try {
    target = opts.target ?? opts.connected?.target ?? (await openTarget({ ...config, columnTypes: rules.columnTypesOnTarget() }, dstDsn, syncId, opts.logger.child({ component: 'target' })));
  } catch (err) {
    // A source built here is this function's to close (what it prepared included); a given one is the caller's.
    if (!opts.source && !opts.connected?.source) await source.close().catch(() => undefined);
    throw err;
  }
  if (config.databases.length > 0 && !target.capabilities.namespaces) {
    throw new TributaryError(
      ErrorCode.CONFIG_INVALID,
      `--databases ${config.databases.join(',')}: target ${describeDsn(dstDsn)} cannot hold the tables of several databases yet; sync one database at a time (a source URL naming it, no --databases), or use a MySQL or etcd target`,
    );
  }
  return new OpenedSession(config, opts, srcDsn, dstDsn, syncId, source, target, rules, raw);
}

/** createSession, then open(); closes both sides when open() fails. */
export async function openSession(config: SyncConfig, opts: SessionOptions): Promise<Session> {
  const session = await createSession(config, opts);
  try {
    await session.open();
  } catch (err) {
    await session.close();
    throw err;
  }
  return session;
}

class OpenedSession implements Session {
  sourceUp = false;
  targetUp = false;
  requirements: Requirement[] = [];
  names: string[] = [];
  tables: TableSchema[] = [];
  database: DatabaseDefaults | undefined;
  namespaces: Map<string, DatabaseDefaults | undefined> | undefined;
  checkpoint: Checkpoint | undefined;
  identity: SourceIdentity | undefined;
  resume: ResumeState = { kind: 'start' };
  /** Foreign keys of the described tables that reference a table the sync does not take: left out of `tables`. */
  foreignKeysLeftOut: readonly LeftOutForeignKey[] = [];

  constructor(
    readonly config: SyncConfig,
    private readonly opts: SessionOptions,
    readonly srcDsn: Dsn,
    readonly dstDsn: Dsn,
    readonly syncId: string,
    readonly source: ChangeSource,
    readonly target: Target,
    readonly rules: TransformRules,
    /** The source without the transform stage: its table names are the source's own. */
    private readonly raw: ChangeSource,
  ) {}

  /** Runs `fn`; a failure goes to onStepError (the step is skipped) or, without it, ends the opening. */
  private async step<T>(step: SessionStep, subject: StepSubject, fn: () => Promise<T>): Promise<{ ok: true; value: T } | { ok: false }> {
    try {
      return { ok: true, value: await fn() };
    } catch (err) {
      if (!this.opts.onStepError) throw err;
      this.opts.onStepError(step, err, subject);
      return { ok: false };
    }
  }

  recreateScope(): string {
    return this.target.recreateScope(this.namespaces ? [...this.namespaces.keys()] : undefined);
  }

  async open(): Promise<void> {
    const { opts, source, target, config } = this;
    // Source and target are independent until the copy: their round trips overlap. Without
    // onStepError the first failure in argument order ends the opening, so a run with two
    // problems always reports the same one.
    // Sides handed over connected (a standby's warm sides) are not connected again.
    const warm = { source: opts.source === undefined && opts.connected?.source !== undefined, target: opts.target === undefined && opts.connected?.target !== undefined };
    const connect = (side: SessionSide, fn: () => Promise<void>) => this.step('connect', { side }, warm[side] ? () => Promise.resolve() : fn);
    const [src, dst] = await allInOrder([connect('source', () => source.connect()), connect('target', () => target.connect())]);
    this.sourceUp = src?.ok === true;
    this.targetUp = dst?.ok === true;

    if (this.sourceUp) {
      const requirements = async (): Promise<void> => {
        if (opts.requirements === 'enforce') await source.preflight();
        else if (opts.requirements === 'report') this.requirements = await source.check();
      };
      await allInOrder<unknown>([this.step('requirements', { side: 'source' }, requirements), this.takeLock()]);
      // --tables and the rules name source tables; the session's names are the target's (transform/rules.ts).
      const listed = await this.step('tables', {}, async () => {
        const all = await this.raw.listTables();
        // A sync of several databases: every one selected, tables or not.
        const namespaces = config.databases.length ? await this.raw.listNamespaces() : [];
        const chosen = selectTables(all, config.tables, config.databases.length ? config.databases.join(', ') : this.srcDsn.database);
        this.rules.checkSelection(chosen, all, namespaces);
        return { all, names: chosen.map((t) => this.rules.targetName(t)), namespaces };
      });
      if (listed.ok) this.names = listed.value.names;
      const describe = (name: string) => this.step('describe', { table: name }, async () => keyedTable(await withLogicalTypes(await source.describe(name))));
      const described = opts.parallel ? await allInOrder(this.names.map(describe)) : await sequentially(this.names, describe);
      const kept = keepSyncedForeignKeys(described.flatMap((d) => (d.ok ? [d.value] : [])));
      this.tables = kept.tables;
      this.foreignKeysLeftOut = kept.leftOut;
      if (config.foreignKeys === 'create') this.refuseFilteredForeignKeys();
      for (const { table, foreignKey: fk } of kept.leftOut) {
        opts.logger.warn({ table, foreignKey: fk.name, references: fk.referencedTable }, `foreign key ${table}.${fk.name} references ${fk.referencedTable}, which is not synced: it is not created on the target`);
      }
      const database = await this.step('database', {}, async () => source.databaseDefaults());
      if (database.ok) this.database = database.value;
      if (config.databases.length && listed.ok) {
        // Every selected source database becomes a target database, even one without a table or
        // none of whose tables --tables takes (a table created in it while streaming then finds
        // it), and so does every database a table rewrite names (--table-rewrites a.t=other.t). The
        // targets create (and, under --force, recreate) exactly these: never one they infer from a name.
        const namespaces = new Map<string, DatabaseDefaults | undefined>();
        const defaultsOf = async (ns: string) => {
          const d = await this.step('database', {}, async () => this.raw.databaseDefaults(ns));
          return d.ok ? d.value : undefined;
        };
        for (const ns of new Set([...listed.value.namespaces, ...namespacesOf(listed.value.all)])) namespaces.set(this.rules.targetNamespace(ns), await defaultsOf(ns));
        for (const name of listed.value.names) {
          const ns = splitName(name).namespace;
          if (ns !== undefined && !namespaces.has(ns)) namespaces.set(ns, await defaultsOf(splitName(this.rules.sourceName(name)).namespace ?? ns));
        }
        this.namespaces = namespaces;
      }
    }

    if (opts.checkpoint === 'skip' || !this.targetUp) return;
    if (opts.checkpoint === 'resume') this.identity = await source.identity();
    const loaded = await this.step('checkpoint', { side: 'target' }, () => target.loadCheckpoint());
    if (!loaded.ok) return;
    const cp = loaded.value;
    this.checkpoint = cp;
    if (!cp.stream) return;
    // A table synced under a name holding a '.' by a sync of one database (before such names meant
    // db.table, core/names.ts) would now be written to another database: refused by name.
    const dotted = config.databases.length ? [] : [...new Set([...cp.tables.keys(), ...(cp.schemas?.keys() ?? [])])].filter((n) => n.includes('.'));
    if (dotted.length) {
      this.resume = {
        kind: 'refused',
        error: new TributaryError(
          ErrorCode.TABLE_UNSUPPORTED,
          `the checkpoint holds table${dotted.length > 1 ? 's' : ''} ${dotted.join(', ')}, whose name holds a '.', which tributary now reads as database.table; rename ${dotted.length > 1 ? 'them' : 'it'} on the source and start over with --force, or leave ${dotted.length > 1 ? 'them' : 'it'} out with --tables and start over with --force`,
        ),
      };
      return;
    }
    if (!this.sourceUp) {
      this.resume = { kind: 'unchecked' };
      return;
    }
    try {
      this.identity ??= await source.identity();
      await assertResumable(cp, source, this.identity, { readOnly: opts.checkpoint === 'inspect' });
      this.resume = { kind: 'resume', from: cp.stream.position };
    } catch (err) {
      this.resume = { kind: 'refused', error: err };
    }
  }

  /**
   * A row filter on a table that a created foreign key joins to another (as child or parent) is
   * refused: the filter would leave children without their parent on the target, or delete a parent
   * its children still reference, and the key would refuse the rows. --foreign-keys skip lifts it.
   */
  private refuseFilteredForeignKeys(): void {
    for (const t of this.tables) {
      for (const fk of t.foreignKeys ?? []) {
        const filtered = [t.name, fk.referencedTable].find((n) => this.rules.filterOf(this.rules.sourceName(n)) !== undefined);
        if (filtered === undefined) continue;
        throw new TributaryError(
          ErrorCode.CONFIG_INVALID,
          `--where filters table ${this.rules.sourceName(filtered)}, which foreign key ${t.name}.${fk.name} joins to ${filtered === t.name ? fk.referencedTable : t.name}: filtered rows would break the key on the target. Filter both tables so that every child's parent is kept and pass --foreign-keys skip, or drop the filter`,
        );
      }
    }
  }

  private held: SyncLock | undefined;

  private async takeLock(): Promise<void> {
    if (!this.opts.lock) return;
    const lock = this.opts.lock.lock?.(this.target) ?? targetLock(this.target);
    await lock.acquire(this.opts.lock.watch);
    this.held = lock;
  }

  async close(): Promise<void> {
    await this.held?.release();
    await Promise.all([this.source.close().catch(() => undefined), this.target.close().catch(() => undefined)]);
  }
}

async function sequentially<T, R>(items: readonly T[], fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (const item of items) out.push(await fn(item));
  return out;
}

/**
 * Every promise's value once all have settled, or the first failure in argument order (not in
 * time), so a run with two problems always reports the same one.
 */
export async function allInOrder<T>(promises: readonly Promise<T>[]): Promise<T[]> {
  const settled = await Promise.allSettled(promises);
  const failed = settled.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((r) => (r as PromiseFulfilledResult<T>).value);
}
