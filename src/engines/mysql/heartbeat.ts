import type ZongJi from '@vlasky/zongji';
import { ErrorCode, TributaryError } from '../../core/errors.js';

/**
 * Liveness of the binlog dump connection.
 *
 * A dump connection the network drops without a FIN or RST (a half-open connection: a NAT or
 * firewall forgetting it, a partition) looks exactly like an idle source: TCP keepalive notices it
 * after hours, while the lag reads 0. So, as a replica does, ask the server for a heartbeat event
 * every `heartbeatMs` while it has nothing to send (`@master_heartbeat_period`, MySQL and MariaDB),
 * and take silence beyond `timeoutMs` (no byte at all: events and heartbeats alike) as a lost
 * connection.
 *
 * Silence that is ours is not the server's: while we stopped reading (a full buffer, which is also
 * what POST /pause leads to) the server cannot send, so the clock stops until reading resumes. And
 * while we read nothing the server's writes block; beyond its `net_write_timeout` (60 s by default)
 * it would drop the dump connection, and every long pause would end in a reconnect. The dump
 * session therefore raises its own `net_write_timeout` (measured on MariaDB 10.11: with the global
 * value at 3 s, a dump paused for 8 s under writes is dropped; with the session value raised, it
 * delivers every row after the pause).
 */

/** Heartbeats asked per `timeoutMs`: several may be late or lost before the connection counts as lost. */
const HEARTBEATS_PER_TIMEOUT = 10;

/**
 * net_write_timeout of the dump session, in seconds: one year, the largest value MySQL and MariaDB
 * accept. A dump thread whose reader is really gone still ends: TCP gives up retransmitting to a
 * vanished peer within minutes, and a new dump with the same server_id replaces the old one.
 */
const DUMP_NET_WRITE_TIMEOUT_S = 31_536_000;

/** The heartbeat period asked of the server for a silence bound. */
export function heartbeatPeriodMs(timeoutMs: number): number {
  return Math.max(100, Math.floor(timeoutMs / HEARTBEATS_PER_TIMEOUT));
}

/** Statements for the dump connection, run before COM_BINLOG_DUMP (the server reads them then). */
export function dumpSessionSql(heartbeatMs: number): string[] {
  return [
    // Nanoseconds, read by the dump thread when the dump starts.
    `SET @master_heartbeat_period = ${BigInt(heartbeatMs) * 1_000_000n}`,
    `SET SESSION net_write_timeout = ${DUMP_NET_WRITE_TIMEOUT_S}`,
  ];
}

export interface DumpWatchOptions {
  /** Silence after which the connection counts as lost. */
  readonly timeoutMs: number;
  /** The server the dump reads, for messages (no password). */
  readonly where: string;
  /** Called at most once: the connection is lost (retryable) or its session could not be set (fatal). */
  readonly onLost: (err: TributaryError) => void;
}

/** A running watch over one zongji client's dump connection (see watchDump). */
export interface DumpWatch {
  /** The heartbeat period asked of the server. */
  readonly heartbeatMs: number;
  /** We stopped reading the connection: silence from now on is ours. */
  hold(): void;
  /** We read again: the silence clock starts now. */
  release(): void;
  stop(): void;
}

/**
 * Asks `client`'s server for heartbeats and watches the dump connection for silence. Call before
 * `client.start(start)`: it adds the heartbeat event to `start.includeEvents` (the caller turns
 * heartbeats into StreamEvents) and prepares the dump session.
 *
 * zongji has no option for session statements on its dump connection. It emits 'ready' right
 * before it enqueues COM_BINLOG_DUMP on that connection (after its own `SET @master_binlog_checksum`
 * and `SET @mariadb_slave_capability`), and mysql2 runs a connection's commands in order: statements
 * queued from a 'ready' listener run before the dump starts. Signs of life are read from the
 * socket's byte count (`connection.stream.bytesRead`, mysql2's socket), not from zongji's events:
 * events it filters out (rows of other tables) are traffic too, and a large transaction of another
 * database may take longer than the bound to stream.
 */
export function watchDump(client: ZongJi, start: { includeEvents?: string[] }, opts: DumpWatchOptions): DumpWatch {
  const heartbeatMs = heartbeatPeriodMs(opts.timeoutMs);
  // Without a list zongji emits every event, heartbeats included.
  if (start.includeEvents) start.includeEvents = [...start.includeEvents, 'heartbeat'];
  let done = false;
  const lose = (err: TributaryError) => {
    if (done) return;
    stop();
    opts.onLost(err);
  };

  const onReady = () => {
    const conn = client.connection;
    if (!conn) return;
    for (const sql of dumpSessionSql(heartbeatMs)) {
      conn.query(sql, (err: (Error & { fatal?: boolean }) | null) => {
        // A lost connection reaches zongji's 'error' event (retried from the checkpoint).
        if (!err || err.fatal) return;
        lose(new TributaryError(ErrorCode.STREAM_FAILED, `source ${opts.where} refused the binlog dump session setting "${sql}" (${err.message}); tributary needs it to notice a lost binlog connection. Check the server version (MySQL 8, MariaDB 10.4 or later)`, { cause: err }));
      });
    }
  };
  client.on('ready', onReady);

  let held = false;
  let aliveAt = Date.now();
  let bytes = -1;
  // Ticks fine enough to notice silence soon after the bound, coarse enough to cost nothing.
  const tickMs = Math.max(100, Math.min(1000, Math.floor(opts.timeoutMs / 5)));
  let lastTick = Date.now();
  const timer = setInterval(() => {
    const now = Date.now();
    // A late tick means the event loop was blocked: bytes that arrived meanwhile are still unread
    // in the socket (timers run before I/O), so this tick must not judge.
    const late = now - lastTick > 2 * tickMs;
    lastTick = now;
    const read = (client.connection as unknown as { stream?: { bytesRead?: number } } | null)?.stream?.bytesRead;
    if (held || (read !== undefined && read !== bytes)) {
      if (read !== undefined) bytes = read;
      aliveAt = now;
      return;
    }
    const silent = now - aliveAt;
    if (late || silent <= opts.timeoutMs) return;
    lose(
      new TributaryError(
        ErrorCode.STREAM_FAILED,
        `the binlog connection to ${opts.where} sent nothing for ${seconds(silent)} s though a heartbeat was asked every ${seconds(heartbeatMs)} s: taking it as lost (a network cut or a stalled server) and reading again from the checkpoint. If the network or the server is this slow at times, raise --binlog-timeout (now ${seconds(opts.timeoutMs)} s)`,
        { fatal: false },
      ),
    );
  }, tickMs);
  timer.unref();

  function stop(): void {
    done = true;
    clearInterval(timer);
    client.off('ready', onReady);
  }

  return {
    heartbeatMs,
    hold: () => {
      held = true;
    },
    release: () => {
      held = false;
      aliveAt = Date.now();
    },
    stop,
  };
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(1).replace(/\.0$/, '');
}
