import type { PredicatePair } from '../transform/transform.js';
import { spawn } from 'node:child_process';
import { describeDsn } from '../config/dsn.js';
import { connectionDsn } from '../config/connection.js';
import { parseConfig } from '../config/parse.js';
import type { SyncConfig, SyncConfigInput } from '../config/schema.js';
import { verify } from './verify.js';
import type { VerifyTotals } from '../checksum/report.js';
import { AbortedError, ErrorCode, TributaryError } from '../core/errors.js';
import { createLogger, type Logger } from '../core/logger.js';
import type { SyncObserver } from '../core/observer.js';
import type { ChangeSource } from '../core/source.js';
import { openSource } from '../engines/registry.js';
import { Runner } from './runner.js';

/**
 * `tributary move`: a sync, then the cutover, in order:
 *
 * 1. sync until the copy is done, a checksum pass has come out clean and the lag is below `maxLagSeconds`;
 * 2. stop writes on the source: `read-only` sets the source read-only (ChangeSource.stopWrites),
 *    `command` runs the user's own command (exit status 0: writes are stopped);
 * 3. read the source's final position, drain the stream to it, and stop the sync there;
 * 4. run a final checksum of every table (tributary verify, no repair, no re-reads): it must be
 *    clean, which also proves nothing wrote to the source after the final position;
 * 5. report.
 *
 * Any step that fails aborts the cutover: what step 2 set on the source is lifted (read-only
 * restored, or the user's `undoCommand` run), the sync is stopped, and the report says which step
 * failed and why. After a successful move the source stays read-only: the application is switched
 * to the target by the user.
 */
export interface MoveOptions {
  readonly cutover: 'read-only' | 'command';
  /** The shell command that stops writes on the source (cutover 'command'). */
  readonly command?: string;
  /** The shell command that allows writes again when a cutover aborts after `command` ran. */
  readonly undoCommand?: string;
  /** Lag under which the cutover may begin. */
  readonly maxLagSeconds?: number;
  /** Longest wait for the sync to be ready (copied, a clean pass, lag under the bound). 0: no bound. */
  readonly readyTimeoutMs?: number;
  /** Longest wait for the stream to drain to the source's final position. */
  readonly drainTimeoutMs?: number;
  readonly logger?: Logger;
  readonly signal?: AbortSignal;
  /** The sync's row filters given as predicate pairs, by source table (transform/rules.ts). */
  readonly predicates?: Readonly<Record<string, PredicatePair>>;
  /** Called as each step starts, for progress output. */
  readonly onStep?: (step: MoveStep, detail: string) => void;
  /** Called once with the sync's Runner, before it runs (e.g. to serve its HTTP API). */
  readonly onRunner?: (runner: Runner) => void;
  /** Passed to the sync's Runner (RunnerOptions.observer): e.g. the SyncMetrics its HTTP API serves. */
  readonly observer?: SyncObserver;
}

export type MoveStep = 'sync' | 'ready' | 'stop-writes' | 'drain' | 'final-checksum' | 'done' | 'abort';

export interface MoveReport {
  readonly result: 'moved' | 'aborted';
  /** The step that failed and why (aborted). */
  readonly failedStep?: MoveStep;
  readonly reason?: string;
  /** What the cutover set on the source, and whether it was lifted again. */
  readonly writesStopped?: string;
  readonly writesRestored?: boolean;
  readonly source: string;
  readonly target: string;
  /** The source's position when writes stopped, and the position the target had then applied. */
  readonly finalPosition?: string;
  readonly appliedPosition?: string;
  readonly rowsCopied: number;
  readonly changesApplied: number;
  readonly checksum?: VerifyTotals & { readonly equal: boolean };
  /** Milliseconds each step took, in order. */
  readonly steps: readonly { readonly step: MoveStep; readonly ms: number }[];
  readonly durationMs: number;
}

const POLL_MS = 200;

class StepFailed extends Error {
  constructor(
    readonly step: MoveStep,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Runs `command` in a shell; resolves on exit status 0, else rejects with its output's tail. */
function runCommand(command: string, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', command], { stdio: ['ignore', 'pipe', 'pipe'], signal });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    child.on('error', reject);
    child.on('exit', (code, sig) =>
      code === 0 ? resolve() : reject(new Error(`exited with ${code ?? sig}${out.trim() ? `: ${out.trim().slice(-500)}` : ''}`)),
    );
  });
}

/** Sync and cut over; see MoveOptions. Resolves with the report, whether moved or aborted. */
export async function move(config: SyncConfigInput | SyncConfig, opts: MoveOptions): Promise<MoveReport> {
  const cfg: SyncConfig = { ...parseConfig(config), copyOnly: false, checksum: true };
  if (cfg.coordinator !== undefined) {
    // A move is one operator's one-off cutover, watched to its end: a standby taking it over
    // half-way would cut over nothing.
    throw new TributaryError(ErrorCode.CONFIG_INVALID, '--coordinator runs standby instances of a sync and does not apply to move; run the move from one instance, without --coordinator');
  }
  if (opts.cutover === 'command' && !opts.command) {
    throw new TributaryError(ErrorCode.CONFIG_INVALID, '--cutover command needs --cutover-command "…", the shell command that stops writes on the source');
  }
  const started = Date.now();
  const logger = opts.logger ?? createLogger({ level: cfg.logLevel });
  const log = logger.child({ component: 'move' });
  const srcDsn = connectionDsn(cfg, 'source');
  const dstDsn = connectionDsn(cfg, 'target');
  const abort = new AbortController();
  const onAbort = () => abort.abort();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  if (opts.signal?.aborted) abort.abort();

  const runner = new Runner(cfg, { logger, observer: opts.observer, ...(opts.predicates ? { predicates: opts.predicates } : {}) });
  opts.onRunner?.(runner);
  let runError: unknown;
  const running = runner.run(abort.signal).catch((err: unknown) => {
    runError = err;
  });
  const steps: { step: MoveStep; ms: number }[] = [];
  let stepStarted = Date.now();
  let current: MoveStep = 'sync';
  const step = (s: MoveStep, detail: string) => {
    steps.push({ step: current, ms: Date.now() - stepStarted });
    current = s;
    stepStarted = Date.now();
    log.info({ step: s }, detail);
    opts.onStep?.(s, detail);
  };
  opts.onStep?.('sync', 'syncing: copy, then stream with continuous checksums');

  /** Waits for `ready` while the sync runs; fails the step when the sync stops or time runs out. */
  const waitFor = async (what: string, ready: () => boolean | Promise<boolean>, timeoutMs: number) => {
    const deadline = timeoutMs > 0 ? Date.now() + timeoutMs : Infinity;
    for (;;) {
      if (runError !== undefined) throw new StepFailed(current, `the sync failed: ${(runError as Error).message}`, { cause: runError });
      if (abort.signal.aborted) throw new StepFailed(current, 'interrupted', { cause: new AbortedError() });
      if (await ready()) return;
      if (Date.now() > deadline) throw new StepFailed(current, `${what} did not happen within ${Math.round(timeoutMs / 1000)} s`);
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  };

  let control: ChangeSource | undefined;
  let restore: (() => Promise<void>) | undefined;
  let writesStopped: string | undefined;
  let writesRestored: boolean | undefined;
  let finalPosition: string | undefined;
  let appliedAtFinal: string | undefined;
  let checksum: MoveReport['checksum'];
  let failure: StepFailed | undefined;
  let clean = false;
  void runner.firstCleanPass.then(() => (clean = true));
  try {
    const maxLag = opts.maxLagSeconds ?? 1;
    await waitFor('the copy, a clean checksum pass and a lag under the bound', () => clean && runner.phase === 'stream' && runner.progress().lagSeconds <= maxLag, opts.readyTimeoutMs ?? 0);
    step('ready', `copy done, a checksum pass clean, lag ${runner.progress().lagSeconds.toFixed(1)} s ≤ ${maxLag} s: cutting over`);

    control = await openSource(cfg, srcDsn, runner.syncId, logger.child({ component: 'source-control' }));
    await control.connect();
    step('stop-writes', opts.cutover === 'read-only' ? 'stopping writes on the source (read-only)' : `stopping writes on the source: ${opts.command}`);
    try {
      if (opts.cutover === 'read-only') {
        if (!control.capabilities.stopWrites) throw new Error(`a ${control.engine} source cannot be made read-only by tributary; use --cutover command`);
        const set = await control.stopWrites();
        restore = () => set.restore();
        writesStopped = set.description;
      } else {
        await runCommand(opts.command as string, abort.signal);
        writesStopped = `cutover command: ${opts.command}`;
        if (opts.undoCommand) restore = () => runCommand(opts.undoCommand as string, new AbortController().signal);
      }
    } catch (err) {
      throw new StepFailed('stop-writes', `stopping writes failed: ${(err as Error).message}`, { cause: err });
    }
    if (!control.capabilities.reportsHead) throw new StepFailed('stop-writes', `a ${control.engine} source cannot report its final position`);
    const final = await control.headPosition();
    finalPosition = control.describePosition(final);
    step('drain', `draining the stream to the source's final position ${finalPosition}`);
    const ctl = control;
    await waitFor(
      `the stream reaching ${finalPosition}`,
      () => {
        const applied = runner.appliedPosition();
        return applied !== undefined && ctl.comparePositions(applied, final) >= 0;
      },
      opts.drainTimeoutMs ?? 300_000,
    ).catch(async (err: unknown) => {
      // A source with nothing left to stream for the synced tables may never carry the applied
      // position to its head (the last events touched other tables): accept an idle, caught-up
      // stream whose checksum must then be clean.
      if (runError === undefined && runner.progress().lagSeconds === 0 && err instanceof StepFailed && !abort.signal.aborted) {
        log.warn({ finalPosition, applied: runner.appliedPosition() }, 'the applied position did not reach the final position, but the stream is idle and caught up; the final checksum decides');
        return;
      }
      throw err;
    });
    const applied = runner.appliedPosition();
    appliedAtFinal = applied ? control.describePosition(applied) : undefined;

    // The target now holds the source as of the final position: the sync stops there, and the
    // final checksum compares both sides as they stand, exactly (no re-reads): a write on the
    // source after the final position (a session the cutover did not stop) is a difference.
    runner.cancel();
    await running;
    if (runError !== undefined) throw new StepFailed('drain', `the sync failed: ${(runError as Error).message}`, { cause: runError });
    step('final-checksum', 'final checksum of every table');
    // verify's own chunk sizes (20,000 rows where both databases digest) unless the caller named one:
    // the parsed config holds the copy's default, which verify would read as the caller's.
    const { chunkSize: _copyDefault, ...unsized } = cfg;
    const result = await verify((config as { chunkSize?: number }).chunkSize === undefined ? unsized : cfg, { logger, signal: abort.signal, recheck: { attempts: 0 } });
    checksum = { ...result.totals, equal: result.equal };
    if (!result.equal) {
      const differing = result.tables.filter((t) => !t.equal).map((t) => `${t.table} (${t.missing} missing, ${t.extra} extra, ${t.changed} changed${t.error ? `, ${t.error.message}` : ''})`);
      throw new StepFailed('final-checksum', `the final checksum found differences: ${differing.join('; ')}`);
    }
    step('done', 'moved: the target equals the source at its final position; switch the application to the target');
  } catch (err) {
    failure = err instanceof StepFailed ? err : new StepFailed(current, (err as Error).message, { cause: err });
  }

  if (failure) {
    log.error({ step: failure.step, reason: failure.message }, 'cutover aborted');
    if (restore) {
      try {
        await restore();
        writesRestored = true;
        log.warn({ what: writesStopped }, 'writes on the source allowed again');
      } catch (err) {
        writesRestored = false;
        log.error({ err: (err as Error).message, what: writesStopped }, 'could not allow writes on the source again: do it by hand');
      }
    }
    steps.push({ step: current, ms: Date.now() - stepStarted });
    opts.onStep?.('abort', failure.message);
  }
  runner.cancel();
  await running;
  await control?.close().catch(() => undefined);
  opts.signal?.removeEventListener('abort', onAbort);
  const progress = runner.progress();
  return {
    result: failure ? 'aborted' : 'moved',
    ...(failure ? { failedStep: failure.step, reason: failure.message } : {}),
    ...(writesStopped !== undefined ? { writesStopped } : {}),
    ...(writesRestored !== undefined ? { writesRestored } : {}),
    source: describeDsn(srcDsn),
    target: describeDsn(dstDsn),
    ...(finalPosition !== undefined ? { finalPosition } : {}),
    ...(appliedAtFinal !== undefined ? { appliedPosition: appliedAtFinal } : {}),
    rowsCopied: progress.rowsCopied,
    changesApplied: progress.changesApplied,
    ...(checksum ? { checksum } : {}),
    steps,
    durationMs: Date.now() - started,
  };
}
