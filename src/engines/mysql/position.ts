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
}

export function encodePosition(p: BinlogPosition): string {
  return JSON.stringify(p.gtid === undefined ? { file: p.file, pos: p.pos } : { file: p.file, pos: p.pos, gtid: p.gtid });
}

export function decodePosition(s: string): BinlogPosition {
  try {
    const o = JSON.parse(s) as Partial<BinlogPosition>;
    if (typeof o.file !== 'string' || typeof o.pos !== 'number') throw new Error('missing file or pos');
    return { file: o.file, pos: o.pos, ...(typeof o.gtid === 'string' ? { gtid: o.gtid } : {}) };
  } catch (err) {
    throw new TributaryError(ErrorCode.CHECKPOINT_INVALID, `binlog position '${s}' in the checkpoint is not valid (${(err as Error).message}); remove the checkpoint row or use --force`, { cause: err });
  }
}

/** Binlog files share a base name and a numeric suffix that grows. */
function fileIndex(file: string): [string, number] {
  const m = /^(.*)\.(\d+)$/.exec(file);
  return m ? [m[1] ?? '', Number(m[2])] : [file, 0];
}

export function comparePositions(a: string, b: string): number {
  const pa = decodePosition(a);
  const pb = decodePosition(b);
  const [, ia] = fileIndex(pa.file);
  const [, ib] = fileIndex(pb.file);
  if (ia !== ib) return ia - ib;
  return pa.pos - pb.pos;
}

export function describePosition(s: string): string {
  const p = decodePosition(s);
  return `${p.file}:${p.pos}${p.gtid ? ` gtid=${p.gtid}` : ''}`;
}
