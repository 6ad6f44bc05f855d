import type { Connection, Pool, RowDataPacket } from 'mysql2/promise';
import { ErrorCode, TributaryError } from '../../core/errors.js';

/**
 * Containment of a checkpoint's GTID position in a server's binlog (issue 16, failover by GTID).
 * A GTID position names a place in a replication lineage, not in one server's files: a promoted
 * replica that logged what it applied (log_slave_updates) holds the same transactions under the
 * same GTIDs, so a sync may resume there. These checks decide, before streaming, whether the
 * server holds exactly the history the target has, and refuse by class when it does not. None of
 * them ever falls back to the server's current position.
 */

/** One MariaDB GTID, domain-server-seq. seq_no as bigint: it is 64-bit. */
export interface MariadbGtid {
  readonly domain: number;
  readonly server: number;
  readonly seq: bigint;
}

/** Parses 'd-s-n[,d-s-n…]' (a GTID position or @@gtid_binlog_state; whitespace and brackets allowed). */
export function parseMariadbGtids(text: string): MariadbGtid[] {
  const out: MariadbGtid[] = [];
  for (const part of text.replace(/[[\]\s]/g, '').split(',')) {
    if (!part) continue;
    const m = /^(\d+)-(\d+)-(\d+)$/.exec(part);
    if (!m) throw new TributaryError(ErrorCode.CHECKPOINT_INVALID, `'${part}' in GTID list '${text}' is not a MariaDB GTID (domain-server-seq); remove the checkpoint row or use --force`);
    out.push({ domain: Number(m[1]), server: Number(m[2]), seq: BigInt(m[3]!) });
  }
  return out;
}

const show = (g: MariadbGtid) => `${g.domain}-${g.server}-${g.seq}`;

/** The highest seq_no per domain of a binlog state (a state holds one entry per domain and server_id). */
function domainHeads(state: readonly MariadbGtid[]): Map<number, MariadbGtid> {
  const heads = new Map<number, MariadbGtid>();
  for (const g of state) {
    const h = heads.get(g.domain);
    if (!h || g.seq > h.seq) heads.set(g.domain, g);
  }
  return heads;
}

export interface MariadbContainmentInput {
  /** The checkpoint's GTID position (one GTID per domain). */
  readonly checkpoint: string;
  /** The server's @@gtid_binlog_state: the last GTID of each domain and server_id it logged. */
  readonly binlogState: string;
  /** The Gtid_list of the server's oldest binlog (the binlog state before it), '' if it has none. */
  readonly oldestList: string;
  /** That file's name, for messages. */
  readonly oldestFile?: string;
  /** The server as printed in messages (host:port, never a password). */
  readonly where: string;
  /** Domains the server writes that the checkpoint does not know are streamed from their start. */
  readonly adoptDomains: boolean;
  /**
   * Refuse domains the checkpoint does not know (off on the server the checkpoint was taken from,
   * where a new domain after the checkpoint is streamed from its start like any later change).
   */
  readonly refuseUnknownDomains: boolean;
}

/**
 * Decides whether a MariaDB server can resume a checkpoint's GTID position; throws the class:
 * - SOURCE_BEHIND: a domain of the checkpoint is missing or ends before the checkpoint's seq_no;
 * - SOURCE_DIVERGED: the server reached the checkpoint's seq_no in a domain, but not with the
 *   checkpoint's transaction (its seq_no there came from another server_id: a write on each side);
 * - POSITION_LOST: binlogs the stream needs after the checkpoint were purged;
 * - GTID_DOMAIN_UNKNOWN: the server logged a domain the checkpoint does not know (refused unless
 *   adopted, for its history may overlap what the target got another way).
 * Under gtid_strict_mode a seq_no is unique within its domain, which is what makes the server_id
 * of the state's entries enough to tell divergence.
 */
export function assertMariadbContains(input: MariadbContainmentInput): void {
  const cp = parseMariadbGtids(input.checkpoint);
  const state = parseMariadbGtids(input.binlogState);
  const oldest = domainHeads(parseMariadbGtids(input.oldestList));
  const heads = domainHeads(state);
  const stateText = input.binlogState || '(empty)';
  for (const g of cp) {
    const head = heads.get(g.domain);
    if (!head || head.seq < g.seq) {
      throw new TributaryError(
        ErrorCode.SOURCE_BEHIND,
        `source ${input.where} is behind the checkpoint: the target has transactions up to GTID ${show(g)}, but the server's binlog ${head ? `ends domain ${g.domain} at ${show(head)}` : `has no transaction of domain ${g.domain}`} (gtid_binlog_state=${stateText}). Nothing was written. Fix: let this server catch up with the server the checkpoint came from (replicate until it has ${show(g)}), or point --source at a server that has it; a server restored from a backup older than the checkpoint cannot resume it`,
      );
    }
    const own = state.find((s) => s.domain === g.domain && s.server === g.server);
    if (!own || own.seq < g.seq) {
      throw new TributaryError(
        ErrorCode.SOURCE_DIVERGED,
        `source ${input.where} has diverged from the checkpoint: the target holds GTID ${show(g)}, but this server reached seq_no ${g.seq} of domain ${g.domain} with transactions of another server (its binlog ends the domain at ${show(head)}, gtid_binlog_state=${stateText}), so each side has writes the other lacks. Nothing was written. Fix: point --source at the server that has ${show(g)}, or start over with --force (a new copy from this server)`,
      );
    }
    const first = oldest.get(g.domain);
    if (first && first.seq > g.seq) {
      throw new TributaryError(
        ErrorCode.POSITION_LOST,
        `source ${input.where} no longer has the binlogs after the checkpoint's GTID ${show(g)}: its oldest binlog${input.oldestFile ? ` ${input.oldestFile}` : ''} starts domain ${g.domain} after ${show(first)} (the binlogs before it were purged). Nothing was written. Keep binlogs longer (binlog_expire_logs_seconds) and start over with --force`,
      );
    }
  }
  const known = new Set(cp.map((g) => g.domain));
  for (const [domain, head] of heads) {
    if (known.has(domain)) continue;
    if (!input.adoptDomains) {
      if (!input.refuseUnknownDomains) continue;
      throw new TributaryError(
        ErrorCode.GTID_DOMAIN_UNKNOWN,
        `source ${input.where} logged transactions under GTID domain ${domain} (up to ${show(head)}), which the checkpoint's position ${input.checkpoint} does not know: they were written on another server than the one the checkpoint came from, and may hold changes the target lacks or already has. Nothing was written. Fix: if domain ${domain} began after the checkpoint, resume with --gtid-adopt-domains (its transactions are streamed from its first); otherwise start over with --force`,
      );
    }
    if (oldest.has(domain)) {
      throw new TributaryError(
        ErrorCode.POSITION_LOST,
        `GTID domain ${domain} of source ${input.where} is adopted (--gtid-adopt-domains), but its first transactions were purged (the oldest binlog${input.oldestFile ? ` ${input.oldestFile}` : ''} starts it after ${show(oldest.get(domain)!)}). Nothing was written. Start over with --force`,
      );
    }
  }
}

/** The server's binlog state and the Gtid_list of its oldest binlog file. */
export async function readMariadbGtidState(c: Pool | Connection): Promise<{ binlogState: string; oldestList: string; oldestFile?: string }> {
  const [st] = await c.query<RowDataPacket[]>('SELECT @@GLOBAL.gtid_binlog_state AS s');
  const [logs] = await c.query<RowDataPacket[]>('SHOW BINARY LOGS');
  const first = logs[0]?.Log_name as string | undefined;
  let oldestList = '';
  if (first) {
    // The Gtid_list event comes second in every MariaDB binlog, after the format description.
    const [events] = await c.query<RowDataPacket[]>(`SHOW BINLOG EVENTS IN ${c.escape(first)} LIMIT 4`);
    const list = events.find((e) => String(e.Event_type) === 'Gtid_list');
    oldestList = String(list?.Info ?? '');
  }
  return { binlogState: String(st[0]?.s ?? ''), oldestList, ...(first ? { oldestFile: first } : {}) };
}

/**
 * MySQL: the server must have executed every GTID of the checkpoint (SOURCE_BEHIND otherwise; with
 * one UUID per server, a write on each side shows as this) and purged none it has not (what it
 * purged must be inside the checkpoint: POSITION_LOST otherwise). Untested here (MariaDB only).
 */
export async function assertMysqlContains(c: Pool | Connection, checkpoint: string, where: string): Promise<void> {
  const [rows] = await c.query<RowDataPacket[]>(
    'SELECT GTID_SUBSET(?, @@GLOBAL.gtid_executed) AS has, GTID_SUBSET(@@GLOBAL.gtid_purged, ?) AS kept, GTID_SUBTRACT(?, @@GLOBAL.gtid_executed) AS missing, GTID_SUBTRACT(@@GLOBAL.gtid_purged, ?) AS lost',
    [checkpoint, checkpoint, checkpoint, checkpoint],
  );
  const r = rows[0];
  if (Number(r?.has) !== 1) {
    throw new TributaryError(
      ErrorCode.SOURCE_BEHIND,
      `source ${where} lacks transactions the target has: GTIDs ${String(r?.missing ?? '?').replace(/\s+/g, '')} of the checkpoint are not in its gtid_executed. Nothing was written. Fix: let this server catch up, or point --source at a server that has them`,
    );
  }
  if (Number(r?.kept) !== 1) {
    throw new TributaryError(
      ErrorCode.POSITION_LOST,
      `source ${where} purged GTIDs ${String(r?.lost ?? '?').replace(/\s+/g, '')} that the sync has not read (gtid_purged holds more than the checkpoint). Nothing was written. Keep binlogs longer (binlog_expire_logs_seconds) and start over with --force`,
    );
  }
}
