import { rm, stat } from 'node:fs/promises';
import { fsyncDir, readReaderFiles, type RelayMeta } from './meta.js';
import { indexFile, segmentFile, segmentsDir } from './segment.js';
import type { RelayWriter } from './writer.js';

export interface RetentionOptions {
  /** A segment is deleted only once its last record is older than this (ms since the writer rolled past it). */
  readonly minAgeMs: number;
  /**
   * The relay's space limit in bytes (all segments). When the segments the rules above keep pass
   * it, the oldest are deleted anyway, and every registered reader that still needed one is marked
   * lost (first, in relay.json) — never skipped silently. Absent: no limit.
   */
  readonly maxBytes?: number;
  readonly now?: number;
  /** The source's position order (ChangeLog.comparePositions). */
  readonly compare: (a: string, b: string) => number;
}

export interface RetentionResult {
  /** Segment numbers deleted, oldest first. */
  readonly deleted: readonly number[];
  /** Readers marked lost by this pass. */
  readonly lost: readonly string[];
  /** Bytes of the segments left. */
  readonly bytes: number;
}

/**
 * One retention pass over the writer's relay (run by the relay process, which alone writes
 * relay.json). It deletes whole segments only, oldest first, never the one being written, and only
 * a segment that no registered reader still needs (a reader at position P needs a segment while
 * the next segment starts after P: it holds records after P) and whose last record is older than
 * `minAgeMs`. Over `maxBytes` it goes on deleting the oldest, marking each registered reader that
 * needed one lost in relay.json before the file goes; a lost reader then refuses to resume
 * (RELAY_READER_LOST). The readers' positions are folded into relay.json.
 */
export async function applyRetention(writer: RelayWriter, opts: RetentionOptions): Promise<RetentionResult> {
  const now = opts.now ?? Date.now();
  const meta = writer.meta();
  const files = await readReaderFiles(writer.dir);
  const readers = files.filter((r) => meta.lostReaders[r.id] === undefined);
  const active = writer.activeSegment();
  const segs = meta.segments.filter((s) => s.seq <= active);
  // Sizes from the files themselves (relay.json's may be missing after a crash).
  const sizes = await Promise.all(segs.map((s) => stat(segmentFile(writer.dir, s.seq)).then((st) => st.size, () => 0)));
  const bytesOf = (i: number) => sizes[i]!;
  let total = segs.reduce((n, _s, i) => n + bytesOf(i), 0);
  // Readers that need segment i: those whose position is before the next segment's start.
  const needing = (i: number) => readers.filter((r) => opts.compare(r.position, segs[i + 1]!.startPosition) < 0).map((r) => r.id);

  const deleted: number[] = [];
  const lost: string[] = [];
  for (let i = 0; i < segs.length - 1; i++) {
    const s = segs[i]!;
    const needed = needing(i).filter((id) => !lost.includes(id));
    // Its last record was written before the next segment began (endedAt may be missing after a crash).
    const endedAt = s.endedAt ?? segs[i + 1]!.createdAt;
    const old = now - endedAt >= opts.minAgeMs;
    const overLimit = opts.maxBytes !== undefined && total > opts.maxBytes;
    if (!overLimit && (!old || needed.length > 0)) break;
    if (needed.length > 0) {
      const reason = `the relay's space limit of ${opts.maxBytes} bytes deleted segment ${segmentFile(writer.dir, s.seq)}, which held changes it had not read`;
      const positions = new Map(readers.map((r) => [r.id, r.position]));
      await writer.updateMeta((m) => ({ ...m, lostReaders: { ...m.lostReaders, ...Object.fromEntries(needed.map((id) => [id, { position: positions.get(id)!, at: now, reason }])) } }));
      lost.push(...needed);
    }
    await rm(segmentFile(writer.dir, s.seq), { force: true });
    await rm(indexFile(writer.dir, s.seq), { force: true });
    deleted.push(s.seq);
    total -= bytesOf(i);
  }
  if (deleted.length) await fsyncDir(segmentsDir(writer.dir));
  const gone = new Set(deleted);
  await writer.updateMeta(
    (m): RelayMeta => ({
      ...m,
      segments: m.segments.filter((s) => !gone.has(s.seq)),
      readers: Object.fromEntries(files.filter((r) => m.lostReaders[r.id] === undefined).map((r) => [r.id, { position: r.position, updatedAt: r.updatedAt }])),
    }),
  );
  return { deleted, lost, bytes: total };
}
