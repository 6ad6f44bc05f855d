import { ErrorCode, TributaryError } from '../../core/errors.js';

/**
 * A binlog position: the file and offset after a transaction, and the server's GTID state there
 * (MariaDB 'domain-server-seq[,…]' or MySQL 'uuid:1-n[,…]') when it has one. Serialised as JSON;
 * nothing outside this folder looks inside.
 */
export interface BinlogPosition {
  readonly file: string;
  readonly pos: number;
  readonly gtid?: string;
  /**
   * Set when the event group that begins at `pos` has its first statement applied already: a
   * schema change that comes first in its group (CREATE TABLE … SELECT under row-based logging is a
   * group of the CREATE TABLE and the rows it selected). A resume here reads the group again and
   * skips that statement. Orders after the same position without it.
   */
  readonly firstApplied?: true;
}

export function encodePosition(p: BinlogPosition): string {
  return JSON.stringify({ file: p.file, pos: p.pos, ...(p.gtid !== undefined ? { gtid: p.gtid } : {}), ...(p.firstApplied ? { firstApplied: true } : {}) });
}

export function decodePosition(s: string): BinlogPosition {
  try {
    const o = JSON.parse(s) as Partial<BinlogPosition>;
    if (typeof o.file !== 'string' || typeof o.pos !== 'number') throw new Error('missing file or pos');
    return { file: o.file, pos: o.pos, ...(typeof o.gtid === 'string' ? { gtid: o.gtid } : {}), ...(o.firstApplied === true ? { firstApplied: true as const } : {}) };
  } catch (err) {
    throw new TributaryError(ErrorCode.CHECKPOINT_INVALID, `binlog position '${s}' in the checkpoint is not valid (${(err as Error).message}); remove the checkpoint row or use --force`, { cause: err });
  }
}

/** Binlog files share a base name and a numeric suffix that grows. */
function fileIndex(file: string): [string, number] {
  const m = /^(.*)\.(\d+)$/.exec(file);
  return m ? [m[1] ?? '', Number(m[2])] : [file, 0];
}

/**
 * The order of two MariaDB GTID positions ('d-s-n,…', one GTID per domain) by their seq_nos:
 * negative when every domain of `a` is at or before `b`'s (a missing domain counting as before
 * all), positive for the reverse, 0 when equal or when neither contains the other (then the caller
 * decides). Under gtid_strict_mode seq_nos only grow along a lineage, whichever server logged them.
 */
function compareMariadbGtids(a: string, b: string): number {
  const seqs = (text: string): Map<string, bigint> | undefined => {
    const m = new Map<string, bigint>();
    for (const part of text.split(',')) {
      const x = /^(\d+)-\d+-(\d+)$/.exec(part.trim());
      if (!x) return undefined;
      m.set(x[1]!, BigInt(x[2]!));
    }
    return m;
  };
  const sa = seqs(a);
  const sb = seqs(b);
  if (!sa || !sb) return 0;
  let before = false;
  let after = false;
  for (const d of new Set([...sa.keys(), ...sb.keys()])) {
    const x = sa.get(d) ?? -1n;
    const y = sb.get(d) ?? -1n;
    if (x < y) before = true;
    else if (x > y) after = true;
  }
  return before && !after ? -1 : after && !before ? 1 : 0;
}

/**
 * Positions with MariaDB GTIDs order by their GTIDs first: after a failover (docs/failover.md) the
 * positions of the old and the new server name files of two binlogs that do not compare, while
 * their GTIDs do. On one server both orders agree (the binlog state only grows along the file);
 * equal or incomparable GTIDs (a heartbeat at the same transaction, a schema change applied first)
 * fall back to the file and offset.
 */
export function comparePositions(a: string, b: string): number {
  const pa = decodePosition(a);
  const pb = decodePosition(b);
  if (pa.gtid && pb.gtid && pa.gtid !== pb.gtid) {
    const byGtid = compareMariadbGtids(pa.gtid, pb.gtid);
    if (byGtid !== 0) return byGtid;
  }
  const [, ia] = fileIndex(pa.file);
  const [, ib] = fileIndex(pb.file);
  if (ia !== ib) return ia - ib;
  return pa.pos - pb.pos || Number(pa.firstApplied ?? false) - Number(pb.firstApplied ?? false);
}

export function describePosition(s: string): string {
  const p = decodePosition(s);
  return `${p.file}:${p.pos}${p.firstApplied ? '+1' : ''}${p.gtid ? ` gtid=${p.gtid}` : ''}`;
}
