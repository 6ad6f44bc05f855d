/**
 * A test-only audit of what syncs committed to a MariaDB target, read from the target's own binlog
 * (`mariadb-binlog -v`): each target transaction, in commit order, with the stream checkpoint
 * position and the copy checkpoints it saved for a sync. Every batch and chunk commits its
 * checkpoint in its own transaction, so the sequence shows what was committed, by whichever
 * instance: a batch committed twice (by an old leader after a new one resumed), or an old leader's
 * write after the new one's first, shows as a position or copy watermark that does not advance.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Server } from '../../src/testing/servers.js';

/** One target transaction that saved a checkpoint of the sync. */
export interface AuditedCommit {
  /** The stream position it saved (the source's binlog file and offset), when it saved one. */
  readonly position?: { readonly file: string; readonly pos: number; readonly gtid?: string };
  /** The phase saved with it ('copy' until the initial copy is done, then 'stream'). */
  readonly phase?: string;
  /** Coordinator mode: the epoch of the leadership that committed it (StreamCheckpoint.epoch). */
  readonly epoch?: string;
  /** The copy checkpoints it saved: table → rows copied so far. */
  readonly copied: ReadonlyMap<string, number>;
  /** Row events on tables other than the checkpoint table in the same transaction (the data it wrote). */
  readonly dataEvents: number;
}

/** A string value as mariadb-binlog -v prints it: between quotes, its bytes as they are. */
function unquote(v: string): string {
  return v.startsWith("'") && v.endsWith("'") ? v.slice(1, -1) : v;
}

/**
 * The transactions of `server`'s binlog that wrote a checkpoint row of sync `syncId` in database
 * `db`, in commit order. The server's binlog files are read directly (they stay on disk while it runs).
 */
export function auditCommits(server: Server, db: string, syncId: string): AuditedCommit[] {
  const data = join(server.dir, 'data');
  const files = readdirSync(data).filter((f) => /^binlog\.\d+$/.test(f)).sort().map((f) => join(data, f));
  const text = execFileSync('mariadb-binlog', ['-v', '--base64-output=DECODE-ROWS', ...files], { maxBuffer: 1 << 30 }).toString('utf8');
  const commits: AuditedCommit[] = [];
  let position: AuditedCommit['position'];
  let phase: string | undefined;
  let epoch: string | undefined;
  let copied = new Map<string, number>();
  let dataEvents = 0;
  let inCheckpoint = false;
  let row: string[] = [];
  let section = '';
  const endRow = () => {
    if (inCheckpoint && section === 'SET' && row.length >= 3 && unquote(row[0] ?? '') === syncId) {
      const name = unquote(row[1] ?? '');
      const body = JSON.parse(unquote(row[2] ?? '')) as { position?: string; phase?: string; rowsCopied?: number; epoch?: string };
      if (name === '' && body.position) {
        position = JSON.parse(body.position) as AuditedCommit['position'];
        phase = body.phase;
        epoch = body.epoch;
      }
      else if (name.startsWith('t:')) copied.set(name.slice(2), body.rowsCopied ?? 0);
    }
    row = [];
  };
  for (const line of text.split('\n')) {
    const stmt = /^### (INSERT INTO|UPDATE|DELETE FROM) `([^`]*)`\.`([^`]*)`/.exec(line);
    if (stmt) {
      endRow();
      inCheckpoint = stmt[2] === db && stmt[3] === '_tributary_checkpoint';
      if (!inCheckpoint) dataEvents++;
      section = stmt[1] === 'INSERT INTO' ? 'SET' : '';
      continue;
    }
    if (line === '### SET' || line === '### WHERE') {
      endRow();
      section = line.slice(4);
      continue;
    }
    const col = /^###\s+@(\d+)=(.*)$/.exec(line);
    if (col) {
      row.push(col[2] as string);
      continue;
    }
    if (/^COMMIT\/\*!\*\/;|\bXid = \d+/.test(line)) {
      endRow();
      if (position !== undefined || copied.size > 0) commits.push({ ...(position ? { position, ...(phase !== undefined ? { phase } : {}), ...(epoch !== undefined ? { epoch } : {}) } : {}), copied, dataEvents });
      dataEvents = 0;
      position = undefined;
      phase = undefined;
      epoch = undefined;
      copied = new Map();
      inCheckpoint = false;
    }
  }
  return commits;
}

/**
 * Throws unless the audited commits went forward only: each stream position after the previous
 * one (by binlog file and offset; the same position again only without data, with a copy
 * checkpoint, or as the phase moves from copy to stream), each table's rows copied never going
 * back, and (coordinator mode) each commit's leadership epoch never below an earlier commit's. A
 * write of an old leader after a new leader's first would break one or the other.
 */
export function assertForwardOnly(commits: readonly AuditedCommit[]): void {
  let lastEpoch: bigint | undefined;
  let last: AuditedCommit['position'];
  let lastPhase: string | undefined;
  const copied = new Map<string, number>();
  commits.forEach((c, i) => {
    if (c.epoch !== undefined) {
      const e = BigInt(c.epoch);
      if (lastEpoch !== undefined && e < lastEpoch) throw new Error(`target commit ${i + 1} of ${commits.length} was committed by leadership epoch ${e}, after a commit of the newer epoch ${lastEpoch}: an old leader wrote after a new one`);
      lastEpoch = e;
    }
    const p = c.position;
    if (p && last) {
      const back = p.file < last.file || (p.file === last.file && p.pos < last.pos);
      const same = p.file === last.file && p.pos === last.pos;
      // The start saves its first position more than once, with no data: only a batch (data with
      // its position) saved at a position already saved is one committed twice.
      if (back || (same && c.dataEvents > 0 && c.copied.size === 0 && c.phase === lastPhase)) {
        throw new Error(`target commit ${i + 1} of ${commits.length} saved stream position ${p.file}:${p.pos}, ${back ? 'before' : 'the same as'} the ${last.file}:${last.pos} a commit before it saved: a batch committed twice or out of order`);
      }
    }
    if (p) {
      last = p;
      lastPhase = c.phase;
    }
    for (const [table, n] of c.copied) {
      const before = copied.get(table) ?? 0;
      if (n < before) throw new Error(`target commit ${i + 1} of ${commits.length} saved ${n} rows copied for ${table}, fewer than the ${before} a commit before it saved: a chunk committed after a later one`);
      copied.set(table, n);
    }
  });
}

/** The leadership epochs of the audited commits, in the order they first committed (coordinator mode). */
export function epochsOf(commits: readonly AuditedCommit[]): string[] {
  const out: string[] = [];
  for (const c of commits) if (c.epoch !== undefined && out[out.length - 1] !== c.epoch) out.push(c.epoch);
  return out;
}
