import type { Logger } from 'pino';
import { describeDsn, redactUrl, type Dsn } from '../config/dsn.js';
import type { LagProbe, LagReading } from '../core/lag.js';
import { PauseGate } from '../core/pause.js';

/** Where the copy's throttles stand, for Runner.progress() and the HTTP status. */
export interface ThrottleStatus {
  /** Rows per second the copy may read at most; 0 = no limit. */
  readonly copyRateLimit: number;
  /** The replica (without its password), or null when none is watched. */
  readonly replica: string | null;
  /** The replica's last lag reading in seconds; null when none is watched or it cannot be read. */
  readonly replicaLagSeconds: number | null;
  /** True while the copy starts no new chunk because of the replica. */
  readonly waiting: boolean;
  /** Why the copy waits (lag over the threshold, lag unreadable), or null. */
  readonly reason: string | null;
}

export interface ReplicaThrottleOptions {
  /** A MySQL/MariaDB replica or a PostgreSQL standby (connectionDsn: with its password), named in logs and status without it. */
  readonly dsn: Dsn;
  /**
   * Opens a probe of `dsn`'s engine (engines/registry.ts openLagProbe). Called at the first reading
   * and again after a reading fails; its errors are readings too (`unreadable`).
   */
  readonly openProbe: () => Promise<LagProbe>;
  /** The copy waits while the lag is above this many seconds (or cannot be read). */
  readonly maxLagSeconds: number;
  readonly intervalMs?: number;
  readonly logger: Logger;
}

/**
 * Watches a replica's lag (`--replica`, `--replica-max-lag`) and closes `gate` while it is above
 * the threshold or cannot be read: a replica that cannot say how far behind it is is treated as
 * too far behind, since copying harder is what would hurt it. The copier checks the gate before
 * each chunk; chunks in flight finish. The gate is this throttle's own, apart from the pause of
 * the API, so a /resume does not lift it. The stream is never throttled: holding it back would
 * only grow the source's log and the target's lag.
 *
 * Logs once when the copy starts waiting and once when it goes on, with the lag and the reason.
 * Nothing it logs or reports holds the replica's password.
 */
export class ReplicaThrottle {
  readonly gate = new PauseGate();
  private readonly dsn: Dsn;
  private readonly opts: ReplicaThrottleOptions;
  private probe: LagProbe | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private polling: Promise<void> | undefined;
  private lag: number | null = null;
  private why: string | null = null;

  constructor(opts: ReplicaThrottleOptions) {
    this.opts = opts;
    this.dsn = opts.dsn;
  }

  /** The replica without its password. */
  get where(): string {
    return describeDsn(this.dsn);
  }

  status(copyRateLimit: number): ThrottleStatus {
    return { copyRateLimit, replica: this.where, replicaLagSeconds: this.lag, waiting: this.gate.paused, reason: this.why };
  }

  /** Takes the first reading (so a copy about to start already knows whether to wait), then polls until stop(). */
  async start(): Promise<void> {
    this.stopped = false;
    await this.poll();
    this.schedule();
  }

  /** Stops polling, closes the connection and opens the gate. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.polling;
    await this.probe?.close().catch(() => undefined);
    this.probe = undefined;
    if (this.gate.resume()) this.opts.logger.info({ replica: this.where }, 'replica throttle stopped');
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.polling = this.poll().finally(() => this.schedule());
    }, this.opts.intervalMs ?? 1000);
    this.timer.unref();
  }

  private async poll(): Promise<void> {
    const reading = await this.read();
    if (this.stopped) return;
    const max = this.opts.maxLagSeconds;
    let reason: string | null;
    if ('unreadable' in reading) {
      this.lag = null;
      reason = `replica lag cannot be read: ${reading.unreadable}`;
    } else {
      this.lag = reading.lagSeconds;
      reason = reading.lagSeconds > max ? `replica lag ${reading.lagSeconds}s is above the maximum ${max}s` : null;
    }
    this.why = reason;
    const log = this.opts.logger;
    if (reason !== null && this.gate.pause()) {
      log.warn({ replica: this.where, lagSeconds: this.lag, maxLagSeconds: max, reason }, `copy waiting: ${reason}; no new chunk starts until it is back under ${max}s`);
    } else if (reason === null && this.gate.resume()) {
      log.info({ replica: this.where, lagSeconds: this.lag, maxLagSeconds: max }, `copy going on: replica lag ${this.lag}s is under ${max}s again`);
    }
  }

  private async read(): Promise<LagReading> {
    try {
      this.probe ??= await this.opts.openProbe();
      return await this.probe.read();
    } catch (err) {
      // A lost connection is opened again at the next poll.
      await this.probe?.close().catch(() => undefined);
      this.probe = undefined;
      return { unreadable: this.redact((err as Error).message ?? String(err)) };
    }
  }

  private redact(text: string): string {
    let out = redactUrl(text);
    if (this.dsn.password) out = out.split(this.dsn.password).join('***');
    return out;
  }
}
