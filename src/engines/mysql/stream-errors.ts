import { ErrorCode, TributaryError } from '../../core/errors.js';
import type { BinlogPosition } from './position.js';

/**
 * What a failed binlog dump means. The server reports every fatal fault of the dump as error 1236
 * (ER_MASTER_FATAL_ERROR_READING_BINLOG): a purged position, but also an event bigger than
 * max_allowed_packet, another reader with the same server_id, a position inside an event, a GTID
 * the server never had, a corrupt binlog. Only a purged position is TRIB_POSITION_LOST, whose fix
 * is to start over; the others name their own fix, and none of them suggests --force (which drops
 * the target's tables and would not cure them).
 */
interface Rule {
  readonly test: RegExp;
  readonly code: ErrorCode;
  /** Retried from the checkpoint (with backoff) instead of stopping the sync. */
  readonly retry: boolean;
  readonly fix: (p: { from: string; serverId: number }) => string;
}

const RULES: readonly Rule[] = [
  {
    // MariaDB: "Could not find GTID state requested by slave in any binlog files. Probably the slave
    // state is too old and required binlog files have been purged." MySQL: "… the master has purged
    // binary logs containing GTIDs that the slave requires." Both: "Could not find first log file
    // name in binary log index file".
    test: /purged|Could not find first log file|Could not find GTID state/i,
    code: ErrorCode.POSITION_LOST,
    retry: false,
    fix: ({ from }) =>
      `the binlog holding ${from} was purged from the source. Raise binlog retention (binlog_expire_logs_seconds / expire_logs_days) so it does not happen again, then start over with --force (drops and recopies the target)`,
  },
  {
    test: /max_allowed_packet|packet (?:is )?too (?:large|big)/i,
    code: ErrorCode.STREAM_FAILED,
    retry: false,
    fix: () => `a binlog event is bigger than the source allows one packet to be. Raise max_allowed_packet on the source (SET GLOBAL max_allowed_packet = 1073741824) and restart the sync; it resumes from its checkpoint`,
  },
  {
    test: /same server_uuid|same server_id|same server id|server_id .* already|slave with the same/i,
    code: ErrorCode.STREAM_FAILED,
    retry: false,
    fix: ({ serverId }) =>
      `another replica or binlog reader uses server_id ${serverId}. Give this sync a server id nobody else uses (--server-id N) and restart; it resumes from its checkpoint`,
  },
  {
    // MariaDB, gtid_strict_mode: "connecting slave requested to start from GTID X, which is not in
    // the master's binlog" — the checkpoint is ahead of, or diverged from, this server.
    test: /not in the master's binlog|diverged|which is not in the (?:source|master)|impossible position|position > file size|requested to start from/i,
    code: ErrorCode.STREAM_FAILED,
    retry: false,
    fix: ({ from }) =>
      `the source has no transaction at the checkpoint's position ${from}: it is not the server the checkpoint was taken on, or it was restored from a backup older than the checkpoint. Point --source at the server the sync read from (a restart alone does not cure this)`,
  },
  {
    test: /corrupt|bogus data|binlog truncated|checksum|wrong magic/i,
    code: ErrorCode.STREAM_FAILED,
    retry: true,
    fix: () => `the source could not read its own binlog there. Check the source's error log; tributary retries from its checkpoint`,
  },
];

/** A binlog client error as a TributaryError: 1236 classified by its message, others retryable. */
export function binlogStreamError(err: Error, from: BinlogPosition, serverId: number): TributaryError {
  const e = err as Error & { code?: string; errno?: number };
  const at = `${from.file}:${from.pos}${from.gtid ? ` (gtid ${from.gtid})` : ''}`;
  if (e.errno === 1236 || /Could not find first log file|Could not find GTID state|purged/i.test(e.message)) {
    const rule = RULES.find((r) => r.test.test(e.message));
    if (rule) {
      return new TributaryError(rule.code, `binlog stream from ${at} failed: ${e.message}; ${rule.fix({ from: at, serverId })}`, { cause: err, fatal: !rule.retry });
    }
    return new TributaryError(ErrorCode.STREAM_FAILED, `binlog stream from ${at} failed with error 1236: ${e.message}; the server stopped sending its binlog. Check the source's error log, fix what it names and restart; the sync resumes from its checkpoint`, { cause: err, fatal: true });
  }
  return new TributaryError(ErrorCode.STREAM_FAILED, `binlog stream failed: ${e.message}`, { cause: err, fatal: false });
}
