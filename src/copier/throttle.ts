import type { Logger } from 'pino';
import { describeDsn, redactUrl, type Dsn } from '../config/dsn.js';
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

/** One reading of the replica: its lag, or why it could not be read. */
export type LagReading = { readonly lagSeconds: number } | { readonly unreadable: string };

/** Reads a replica's lag; one implementation per engine, over one connection of its own. */
interface LagProbe {
  read(): Promise<LagReading>;
  close(): Promise<void>;
}

export interface ReplicaThrottleOptions {
  /** A MySQL/MariaDB replica or a PostgreSQL standby (connectionDsn: with its password). */
  readonly dsn: Dsn;
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
      this.probe ??= await openProbe(this.dsn);
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

async function openProbe(dsn: Dsn): Promise<LagProbe> {
  return dsn.engine === 'postgres' ? openPostgresProbe(dsn) : openMysqlProbe(dsn);
}

/**
 * SHOW REPLICA STATUS (MySQL 8.0.22+, MariaDB 10.5.1+), else SHOW SLAVE STATUS. No row: the server
 * is not a replica. Seconds_Behind_Source (MySQL) or Seconds_Behind_Master (MariaDB) NULL: its
 * SQL thread is not running. A multi-source replica's lag is its largest.
 */
async function openMysqlProbe(dsn: Dsn): Promise<LagProbe> {
  const { openConnection } = await import('../sources/mysql/connection.js');
  const conn = await openConnection(dsn, 'replica');
  const status = async (): Promise<Record<string, unknown>[]> => {
    try {
      const [rows] = await conn.query('SHOW REPLICA STATUS');
      return rows as Record<string, unknown>[];
    } catch (err) {
      if ((err as { code?: string }).code !== 'ER_PARSE_ERROR') throw err;
      const [rows] = await conn.query('SHOW SLAVE STATUS');
      return rows as Record<string, unknown>[];
    }
  };
  return {
    async read() {
      const rows = await status();
      if (rows.length === 0) return { unreadable: 'SHOW REPLICA STATUS returns no row (the server is not a replica)' };
      let lag = 0;
      for (const r of rows) {
        const v = r.Seconds_Behind_Source ?? r.Seconds_Behind_Master;
        if (v === null || v === undefined) return { unreadable: 'Seconds_Behind_Master is NULL (the replication SQL thread is not running)' };
        lag = Math.max(lag, Number(v));
      }
      return { lagSeconds: lag };
    },
    close: () => conn.end(),
  };
}

/**
 * The standby's replay delay: now() minus the commit time of the last transaction it replayed.
 * NULL on a server that is not a standby or has replayed nothing yet. On a standby whose primary
 * is idle this grows though nothing is behind; a heartbeat on the primary keeps it honest.
 */
async function openPostgresProbe(dsn: Dsn): Promise<LagProbe> {
  const { openClient } = await import('../sources/postgres/connection.js');
  const client = await openClient(dsn, 'replica');
  return {
    async read() {
      const r = await client.query<{ lag: string | null }>('SELECT EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())::text AS lag');
      const lag = r.rows[0]?.lag;
      if (lag === null || lag === undefined) return { unreadable: 'pg_last_xact_replay_timestamp() is NULL (not a standby, or nothing replayed yet)' };
      return { lagSeconds: Math.max(0, Math.round(Number(lag) * 10) / 10) };
    },
    close: () => client.end(),
  };
}
