import type { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { ErrorCode, TributaryError } from '../core/errors.js';
import type { LockWatch } from '../core/target.js';

const PING_MS = 5_000;
/** A ping unanswered this long counts as a lost session (a half-open TCP connection, a partition). */
const PING_TIMEOUT_MS = 30_000;

/** What a probe from a fresh session says of the server after the lock's session was lost. */
export interface LockProbe {
  /** The server started again since the lock was taken: every session ended with it. */
  readonly restarted: boolean;
  /** Who holds the lock now, for the message ('free', 'held by connection 12'). */
  readonly holder: string;
}

export interface WatchedLockOptions {
  /** 'target mysql://…/db', for messages. */
  readonly where: string;
  readonly syncId: string;
  readonly logger: Logger;
  readonly pingMs?: number;
}

/**
 * The watching half of a sync's exclusive lock, the same for every engine: a lock held by a
 * session of its own, which can end without a word (KILL, pg_terminate_backend, an idle timeout, a
 * network failure). What must hold: once the lock is lost, nothing commits. The lock is watched
 * three ways: the session's 'error' and 'end' events, a periodic ping (`pingHolder`), and the
 * engine's `verify()`, which every commit runs inside its own transaction after writing its
 * checkpoint row. The last one is the guarantee; the other two only notice a loss sooner when
 * nothing is being written.
 *
 * A loss is judged once, from a fresh session (`probe`): when the server restarted or cannot be
 * reached, every session ended with it and a new attempt (which takes the lock again, waits for
 * writers and reloads the checkpoint) is as safe as a restart, so the error is retryable; when the
 * server kept running, the session alone was ended and another instance may hold the lock by now,
 * so the error is fatal (TRIB_LOCK_LOST either way).
 *
 * An engine's lock supplies the session-specific steps below and calls `watchSession()` once it
 * holds the lock.
 */
export abstract class WatchedLock {
  private timer: NodeJS.Timeout | undefined;
  private pinging = false;
  private closing = false;
  private verdict: Promise<TributaryError> | undefined;
  private watch: LockWatch = {};

  protected constructor(private readonly base: WatchedLockOptions) {}

  /** 'lock tributary:ab12… (held by connection 42)', for messages. */
  protected abstract describeLock(): string;
  /** Asked on the lock's own session: undefined while it holds the lock, else why it does not. */
  protected abstract pingHolder(): Promise<string | undefined>;
  /** Drops the session at once, without waiting for a reply that may never come. */
  protected abstract dropSession(): void;
  /** Releases the lock and ends the session. */
  protected abstract endSession(): Promise<void>;
  /** Opens a fresh session and reads whether the server restarted and who holds the lock now. */
  protected abstract probe(): Promise<LockProbe>;

  /** Starts watching the session that now holds the lock. */
  protected watchSession(session: EventEmitter, watch: LockWatch): void {
    this.watch = watch;
    session.on('error', (err: Error) => this.lose(`its session failed (${err.message})`));
    session.on('end', () => this.lose('its session was closed by the server or the network'));
    this.timer = setInterval(() => void this.ping(), this.base.pingMs ?? PING_MS);
    this.timer.unref();
  }

  /** Throws the loss once one was noticed (awaiting its judgement); resolves while the lock is held as far as known. */
  async check(): Promise<void> {
    if (this.verdict) throw await this.verdict;
  }

  /** For an engine's verify(): the commit found the lock not held; note the loss and throw it. */
  protected async lostAtCommit(reason: string): Promise<never> {
    this.lose(reason);
    throw (await this.verdict) ?? this.lostError('the lock was being released', true);
  }

  /** Releases the lock and ends its session; a loss noticed from now on is not reported. */
  async release(): Promise<void> {
    this.closing = true;
    clearInterval(this.timer);
    await this.endSession();
  }

  private async ping(): Promise<void> {
    if (this.pinging || this.verdict || this.closing) return;
    this.pinging = true;
    let timer: NodeJS.Timeout | undefined;
    try {
      const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), PING_TIMEOUT_MS)));
      const answer = await Promise.race([this.pingHolder(), late]);
      if (answer === 'late') this.lose(`its session did not answer a ping for ${PING_TIMEOUT_MS / 1000} s`);
      else if (answer !== undefined) this.lose(answer);
    } catch (err) {
      this.lose(`a ping failed (${(err as Error).message})`);
    } finally {
      clearTimeout(timer);
      this.pinging = false;
    }
  }

  /** Notes the loss once: stops watching, drops the session, judges, then tells the watcher. */
  private lose(reason: string): void {
    if (this.closing || this.verdict) return;
    clearInterval(this.timer);
    this.dropSession();
    this.base.logger.warn({ lock: this.describeLock(), reason }, 'the sync lock on the target is lost; nothing more is written');
    this.verdict = this.judge(reason);
    void this.verdict.then((err) => this.watch.onLost?.(err));
  }

  private lostError(detail: string, fatal: boolean): TributaryError {
    const what = `sync '${this.base.syncId}' lost its ${this.describeLock()}`;
    return new TributaryError(
      ErrorCode.LOCK_LOST,
      fatal
        ? `${this.base.where}: ${what}: ${detail}. Nothing was written after the loss; another instance may be writing to this target: make sure no other instance of this sync runs, then start it again (it resumes from the checkpoint)`
        : `${this.base.where}: ${what}: ${detail}. Nothing was written after the loss; resuming from the checkpoint once the lock is taken again`,
      { fatal },
    );
  }

  /** Retryable when the server restarted or cannot be reached; fatal when it kept running. */
  private async judge(reason: string): Promise<TributaryError> {
    let seen: LockProbe;
    try {
      seen = await this.probe();
    } catch (err) {
      return this.lostError(`${reason}, and the server cannot be reached or read (${(err as Error).message})`, false);
    }
    if (seen.restarted) return this.lostError(`${reason}: the server restarted`, false);
    return this.lostError(`${reason}; the server kept running (the session was killed, terminated or timed out) and the lock is now ${seen.holder}`, true);
  }
}
