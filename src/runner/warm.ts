import type { Logger } from 'pino';
import { TributaryError } from '../core/errors.js';
import type { Checkpoint } from '../core/target.js';
import type { Sides } from './session.js';

/** How often a standby's warm sides are read, to keep their connections open and find a broken one. */
export const WARM_REFRESH_MS = 10_000;

/**
 * A standby's connections to the source and the target (docs/standby.md): opened and checked
 * (connect, the source's requirements) while it stands by, read every `refreshMs` so they stay
 * open and a broken one is replaced, never writing and never opening the replication stream (the
 * source prepares it: ChangeLog.prepareStream, e.g. its decoding thread started).
 * When the instance is elected, `take()` hands them to the leader's first session, which skips
 * connecting. What is not taken is closed by `close()`.
 *
 * `open()` throws what the leader's own opening would: a fatal error (a refused password, an unmet
 * requirement) is the instance's to report at once; a retryable one (a side down for now) leaves
 * nothing warm, and the next refresh tries again.
 */
export class WarmSides {
  private sides: Sides | undefined;
  /**
   * Whether the warm target's last reading found a checkpoint of the sync. A target connected
   * before its database or checkpoint existed keeps what it found then (it would take the target
   * for a fresh one), so only a target that has seen the sync's checkpoint is handed over warm.
   */
  private targetSawCheckpoint = false;
  private timer: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> | undefined;
  private closed = false;

  /** `build` makes the sides, not connected (session.ts buildSides with the sync's config). */
  constructor(
    private readonly build: () => Promise<Sides>,
    private readonly log: Logger,
    private readonly refreshMs = WARM_REFRESH_MS,
  ) {}

  /** Opens and checks both sides, then keeps them warm until `take()` or `close()`. */
  async open(): Promise<void> {
    // Refreshed from here on, so sides that could not be opened now are opened at a later refresh.
    this.timer ??= setInterval(() => void this.refresh(), this.refreshMs);
    this.timer.unref();
    await this.connect();
  }

  /** Whether both sides are open and passed their last reading. */
  get ready(): boolean {
    return this.sides !== undefined;
  }

  /**
   * The warm sides, now the caller's to close (the target only when it saw the sync's checkpoint;
   * else it is closed here and the caller connects one afresh); undefined when none are open.
   * Stops the refreshes.
   */
  async take(): Promise<Partial<Sides> | undefined> {
    this.stop();
    await this.refreshing?.catch(() => undefined);
    const sides = this.sides;
    this.sides = undefined;
    if (!sides) return undefined;
    if (this.targetSawCheckpoint) return sides;
    await sides.target.close().catch(() => undefined);
    return { source: sides.source };
  }

  /** Closes what was not taken; never throws. */
  async close(): Promise<void> {
    this.closed = true;
    this.stop();
    await this.refreshing?.catch(() => undefined);
    const sides = this.sides;
    this.sides = undefined;
    if (sides) await closeSides(sides);
  }

  private stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private async connect(): Promise<void> {
    const sides = await this.build();
    let seen: boolean;
    try {
      await Promise.all([sides.source.connect(), sides.target.connect()]);
      await sides.source.preflight();
      seen = hasCheckpoint(await sides.target.loadCheckpoint());
    } catch (err) {
      await closeSides(sides);
      throw err;
    }
    if (this.closed) {
      await closeSides(sides);
      return;
    }
    this.sides = sides;
    this.targetSawCheckpoint = seen;
    // An elected standby streams at once: what the stream's start would load, it loads now.
    sides.source.prepareStream();
  }

  /** Reads both sides (the source's identity, the target's checkpoint); a failure closes them and opens them again. */
  private refresh(): Promise<void> {
    if (this.refreshing || this.closed) return this.refreshing ?? Promise.resolve();
    this.refreshing = (async () => {
      const sides = this.sides;
      try {
        if (sides) {
          const [, cp] = await Promise.all([sides.source.identity(), sides.target.loadCheckpoint()]);
          this.targetSawCheckpoint = hasCheckpoint(cp);
          return;
        }
        await this.connect();
        this.log.info('standby: connections to the source and the target open again');
      } catch (err) {
        if (sides && this.sides === sides) {
          this.sides = undefined;
          await closeSides(sides);
        }
        this.log.warn({ err: err instanceof Error ? err.message : String(err), ...(err instanceof TributaryError ? { code: err.code } : {}) }, 'standby: a warm connection failed; opening it again at the next refresh (the leader is not affected)');
      }
    })().finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }
}

function hasCheckpoint(cp: Checkpoint): boolean {
  return cp.stream !== null || cp.tables.size > 0;
}

async function closeSides(sides: Sides): Promise<void> {
  await Promise.all([sides.source.close().catch(() => undefined), sides.target.close().catch(() => undefined)]);
}
