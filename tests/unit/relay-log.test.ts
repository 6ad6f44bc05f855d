import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode, TributaryError } from '../../src/core/errors.js';
import { readMeta, readMark } from '../../src/relay/meta.js';
import { frame, encodeTransaction, transactionFrame, type RelayTransaction, type StoredTransaction } from '../../src/relay/record.js';
import { RelayReader } from '../../src/relay/reader.js';
import { applyRetention } from '../../src/relay/retention.js';
import { listSegments, readIndex, segmentFile, seekOffset, readHeader } from '../../src/relay/segment.js';
import { RelayWriter, type RelayWriterOptions } from '../../src/relay/writer.js';
import { rowOf } from '../../src/core/change.js';

const p = (n: number) => `pos-${String(n).padStart(10, '0')}`;
const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
function txn(n: number): RelayTransaction {
  return {
    position: p(n),
    gtidSet: `0-1-${n}`,
    events: [
      { type: 'begin' },
      { type: 'change', op: 'insert', change: { kind: 'upsert', table: 't', key: [BigInt(n)], row: [BigInt(n), `row ${n} ${'x'.repeat(n % 50)}`, Buffer.from([n & 255])] } },
      { type: 'commit', position: p(n), timestamp: 1733000000000 + n },
    ],
  };
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'relay-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const OPTS: RelayWriterOptions = { sourceId: 'src-1', startPosition: p(0), compare, fsyncIntervalMs: 5 };

async function writeN(from: number, to: number, opts: Partial<RelayWriterOptions> = {}): Promise<RelayWriter> {
  const w = await RelayWriter.open(dir, { ...OPTS, ...opts });
  for (let n = from; n <= to; n++) w.append(txn(n));
  await w.flush();
  return w;
}

async function readAll(from?: string, more: { id?: string } = {}): Promise<StoredTransaction[]> {
  const r = await RelayReader.open({ dir, compare, follow: false, ...(from === undefined ? {} : { from }), ...more });
  const out: StoredTransaction[] = [];
  for await (const t of r) out.push(t);
  return out;
}

async function codeOf(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (err) {
    if (err instanceof TributaryError) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error('expected a TributaryError');
}

describe('relay writer and reader', () => {
  it('rolls over at the size limit and reads every transaction back, in order, across segments', async () => {
    const w = await writeN(1, 500, { segmentBytes: 8 * 1024 });
    const d = w.durablePosition();
    expect(d).toStrictEqual({ position: p(500), gtidSet: '0-1-500', ordinal: 499 });
    await w.close();
    const seqs = await listSegments(dir);
    expect(seqs.length).toBeGreaterThan(5);
    expect(seqs).toStrictEqual(seqs.map((_, i) => i));
    for (const s of seqs) expect(statSync(segmentFile(dir, s)).size).toBeLessThanOrEqual(8 * 1024);
    // Every header starts at the position of the record before its first one (ordinal i is at p(i + 1)).
    for (const s of seqs) {
      const { header } = await readHeader(dir, s);
      expect(header.startPosition).toBe(p(header.firstOrdinal));
      expect(header.startGtidSet).toBe(s === 0 ? undefined : `0-1-${header.firstOrdinal}`);
    }
    const all = await readAll();
    expect(all.map((t) => t.position)).toStrictEqual(Array.from({ length: 500 }, (_, i) => p(i + 1)));
    expect(all.map((t) => t.ordinal)).toStrictEqual(Array.from({ length: 500 }, (_, i) => i));
    expect(all[41]).toStrictEqual({ ordinal: 41, ...txn(42) });
    const meta = await readMeta(dir);
    expect(meta?.segments.map((s) => s.seq)).toStrictEqual(seqs);
    expect(meta?.durable).toMatchObject({ position: p(500), gtidSet: '0-1-500', ordinal: 499 });
  });

  it('reads records that cross the reader\'s 1 MiB read chunks, and records larger than a chunk', async () => {
    const w = await RelayWriter.open(dir, OPTS);
    const big = (n: number): RelayTransaction => ({
      position: p(n),
      events: [
        { type: 'begin' },
        { type: 'change', change: { kind: 'upsert', table: 't', key: [BigInt(n)], row: [BigInt(n), Buffer.alloc(n % 3 === 0 ? 2_500_000 : 70_000 + n * 1000, n)] } },
        { type: 'commit', position: p(n), timestamp: n },
      ],
    });
    for (let n = 1; n <= 60; n++) w.append(big(n));
    await w.close();
    expect(statSync(segmentFile(dir, 0)).size).toBeGreaterThan(20 * 1024 * 1024);
    const all = await readAll();
    expect(all.length).toBe(60);
    // Compared by hand: vitest's deep equality walks a Buffer byte by byte (minutes for these).
    for (const t of all) {
      const want = big(t.ordinal + 1);
      expect(t.position).toBe(want.position);
      const got = t.events[1]!;
      const exp = want.events[1]!;
      if (got.type !== 'change' || got.change.kind !== 'upsert' || exp.type !== 'change' || exp.change.kind !== 'upsert') throw new Error('not an upsert');
      expect(rowOf(got.change)[0]).toBe(rowOf(exp.change)[0]);
      expect((rowOf(got.change)[1] as Buffer).equals(rowOf(exp.change)[1] as Buffer), `ordinal ${t.ordinal}`).toBe(true);
      expect([t.events[0], t.events[2]]).toStrictEqual([want.events[0], want.events[2]]);
    }
    expect((await readAll(p(31))).map((t) => t.position)).toStrictEqual(Array.from({ length: 29 }, (_, i) => p(32 + i)));
  });

  it('seeks to a position through the segment headers and the sparse index, and resumes exclusively after it', async () => {
    const w = await writeN(1, 3000, { segmentBytes: 256 * 1024, indexIntervalBytes: 4096 });
    await w.close();
    const seqs = await listSegments(dir);
    expect(seqs.length).toBeGreaterThan(1);
    const idx = await readIndex(dir, seqs[1]!);
    expect(idx.length).toBeGreaterThan(10);
    // The index entry chosen for a position in the middle of segment 1 is not its first record.
    const mid = idx[Math.floor(idx.length / 2)]!;
    const { dataStart } = await readHeader(dir, seqs[1]!);
    const seek = seekOffset(idx, mid.before, compare, dataStart, Infinity);
    expect(seek.offset).toBe(mid.offset);
    expect(seek.offset).toBeGreaterThan(dataStart);
    for (const from of [0, 1, 77, mid.ordinal, mid.ordinal + 1, 2999, 3000]) {
      const got = await readAll(p(from));
      expect(got.length, `from ${from}`).toBe(3000 - from);
      expect(got[0]?.position).toBe(from === 3000 ? undefined : p(from + 1));
    }
  });

  it('a reader seeks through the index without reading the records before it (damage there does not stop it)', async () => {
    const w = await writeN(1, 3000, { segmentBytes: 256 * 1024, indexIntervalBytes: 4096 });
    await w.close();
    const seqs = await listSegments(dir);
    // Segment 1 is not the last: the writer does not rescan it on open.
    const idx = await readIndex(dir, seqs[1]!);
    const mid = idx[Math.floor(idx.length / 2)]!;
    const { dataStart } = await readHeader(dir, seqs[1]!);
    const file = segmentFile(dir, seqs[1]!);
    const buf = readFileSync(file);
    buf[dataStart + 12]! ^= 0xff;
    writeFileSync(file, buf);
    const after = await readAll(mid.before);
    expect(after[0]?.ordinal).toBe(mid.ordinal);
    expect(after.length).toBe(3000 - mid.ordinal);
    const err = await codeOf(readAll(p(0)));
    expect(err.code).toBe(ErrorCode.RELAY_CORRUPT);
    expect(err.message).toContain(`${file} is damaged at byte offset ${dataStart}`);
  });

  it('a reader asking for a position the relay has not reached yet waits for it', async () => {
    const w = await writeN(1, 10);
    const ac = new AbortController();
    const r = await RelayReader.open({ dir, compare, from: p(50), signal: ac.signal, writer: w });
    const seen: string[] = [];
    const reading = (async () => {
      for await (const t of r) {
        seen.push(t.position);
        if (seen.length === 10) ac.abort();
      }
    })();
    await new Promise((res) => setTimeout(res, 100));
    expect(seen).toStrictEqual([]);
    for (let n = 11; n <= 60; n++) w.append(txn(n));
    expect((await codeOf(reading)).code).toBe(ErrorCode.ABORTED);
    expect(seen).toStrictEqual(Array.from({ length: 10 }, (_, i) => p(51 + i)));
    await w.close();
  });

  it('a reader follows a live writer, seeing only durable records, until its signal aborts', async () => {
    const w = await RelayWriter.open(dir, { ...OPTS, fsyncIntervalMs: 20, segmentBytes: 16 * 1024 });
    const ac = new AbortController();
    const seen: string[] = [];
    const r = await RelayReader.open({ dir, compare, from: p(0), signal: ac.signal, pollIntervalMs: 50 });
    const reading = (async () => {
      for await (const t of r) {
        // Whatever the reader yields is already durable.
        expect(w.durablePosition().ordinal).toBeGreaterThanOrEqual(t.ordinal);
        seen.push(t.position);
        if (seen.length === 400) ac.abort();
      }
    })();
    for (let n = 1; n <= 400; n++) {
      w.append(txn(n));
      if (n % 37 === 0) await new Promise((res) => setTimeout(res, 5));
    }
    const err = await codeOf(reading);
    expect(err.code).toBe(ErrorCode.ABORTED);
    expect(seen).toStrictEqual(Array.from({ length: 400 }, (_, i) => p(i + 1)));
    await w.close();
  });

  it('a reader never reads past the durable mark: records written but not yet fsynced stay invisible', async () => {
    const w = await writeN(1, 10);
    // Two whole records past the mark, as a group commit leaves them between its write and its fsync.
    const file = segmentFile(dir, 0);
    writeFileSync(file, Buffer.concat([readFileSync(file), transactionFrame(10, txn(11)), transactionFrame(11, txn(12))]));
    expect((await readAll()).map((t) => t.ordinal)).toStrictEqual(Array.from({ length: 10 }, (_, i) => i));
    const r = await RelayReader.open({ dir, compare, follow: false, writer: w });
    const got: number[] = [];
    for await (const t of r) got.push(t.ordinal);
    expect(got.length).toBe(10);
    await w.close();
  });

  it('a group commit asked for with nothing pending does not stall the writer', async () => {
    // Found by a reader that hung under load: a commit takes the records a timer was set for; the
    // timer then fires with nothing pending; that commit loop ended before run() returned, and the
    // writer took it for running ever after, so nothing appended later became durable. The timer's
    // request is made directly here (the interval is long, so no timer fires on its own).
    const w = await RelayWriter.open(dir, { ...OPTS, fsyncIntervalMs: 60_000 });
    (w as unknown as { requestFlush(): void }).requestFlush();
    w.append(txn(1));
    const flushed = w.flush().then(() => 'durable');
    await expect(Promise.race([flushed, new Promise((r) => setTimeout(() => r('stalled'), 2000))])).resolves.toBe('durable');
    await w.close();
  });

  it('a reader in another "process" (no writer handle) follows through the durable mark file', async () => {
    const w = await RelayWriter.open(dir, OPTS);
    const ac = new AbortController();
    const r = await RelayReader.open({ dir, compare, signal: ac.signal, pollIntervalMs: 30 });
    const seen: number[] = [];
    const reading = (async () => {
      for await (const t of r) {
        seen.push(t.ordinal);
        if (seen.length === 50) ac.abort();
      }
    })();
    // Its end (the abort after the 50th) may come before the last append's wait: handled from now.
    const ended = codeOf(reading);
    for (let n = 1; n <= 50; n++) {
      w.append(txn(n));
      await new Promise((res) => setTimeout(res, 2));
    }
    expect((await ended).code).toBe(ErrorCode.ABORTED);
    expect(seen).toStrictEqual(Array.from({ length: 50 }, (_, i) => i));
    await w.close();
  });

  it('cuts a torn tail at every offset of the last record: the last whole record survives, nothing after it', async () => {
    const w = await writeN(1, 20);
    await w.close();
    const file = segmentFile(dir, 0);
    const whole = readFileSync(file);
    const last = frame(encodeTransaction(19, txn(20)));
    const lastStart = whole.length - last.length;
    expect(whole.subarray(lastStart)).toStrictEqual(last);
    // The writer closed cleanly: its mark says everything is durable. A crash mid-group-commit
    // leaves the mark before the torn record, as it is written only after the fsync.
    const mark = readFileSync(join(dir, 'durable'));
    for (let cut = lastStart; cut < whole.length; cut++) {
      writeFileSync(file, whole.subarray(0, cut));
      writeMarkAt(lastStart, mark);
      const w2 = await RelayWriter.open(dir, OPTS);
      expect(w2.recovered, `cut at ${cut}`).toStrictEqual(cut === lastStart ? undefined : { file, offset: lastStart, bytes: cut - lastStart });
      expect(w2.durablePosition()).toStrictEqual({ position: p(19), gtidSet: '0-1-19', ordinal: 18 });
      // Appending goes on right after the last whole record.
      w2.append(txn(20));
      await w2.close();
      const all = await readAll();
      expect(all.map((t) => t.position)).toStrictEqual(Array.from({ length: 20 }, (_, i) => p(i + 1)));
    }
  });

  it('a flipped byte before the durable end is RELAY_CORRUPT naming the segment file and the offset', async () => {
    const w = await writeN(1, 20);
    await w.close();
    const file = segmentFile(dir, 0);
    const buf = readFileSync(file);
    const { dataStart } = await readHeader(dir, 0);
    const third = dataStart + frame(encodeTransaction(0, txn(1))).length + frame(encodeTransaction(1, txn(2))).length;
    // A byte in the middle of the 3rd record.
    const at = third + 20;
    buf[at]! ^= 0x01;
    writeFileSync(file, buf);
    const err = await codeOf(RelayWriter.open(dir, OPTS));
    expect(err.code).toBe(ErrorCode.RELAY_CORRUPT);
    expect(err.message).toContain(file);
    expect(err.message).toContain(`byte offset ${third}`);
    // A reader stops at the same place, after yielding the two good records.
    const r = await RelayReader.open({ dir, compare, follow: false });
    const got: number[] = [];
    const rerr = await codeOf(
      (async () => {
        for await (const t of r) got.push(t.ordinal);
      })(),
    );
    expect(got).toStrictEqual([0, 1]);
    expect(rerr.code).toBe(ErrorCode.RELAY_CORRUPT);
    expect(rerr.message).toContain(`${file} is damaged at byte offset ${third}`);
  });

  it('refuses a second writer on the same directory and a directory of another source', async () => {
    const w = await writeN(1, 3);
    expect((await codeOf(RelayWriter.open(dir, OPTS))).code).toBe(ErrorCode.ALREADY_RUNNING);
    await w.close();
    expect((await codeOf(RelayWriter.open(dir, { ...OPTS, sourceId: 'other' }))).code).toBe(ErrorCode.SOURCE_CHANGED);
  });

  it('moves to another server of the lineage only when admit accepts it, recording each switch; a refusal leaves relay.json as it was', async () => {
    await (await writeN(1, 3, { host: 'h1:3306' })).close();
    const before = readFileSync(join(dir, 'relay.json'), 'utf8');
    const asked: { from: string; position: string; ordinal: number }[] = [];
    const refuse = async (from: string, d: { position: string; ordinal: number }) => {
      asked.push({ from, position: d.position, ordinal: d.ordinal });
      throw new TributaryError(ErrorCode.SOURCE_BEHIND, 'behind');
    };
    expect((await codeOf(RelayWriter.open(dir, { ...OPTS, sourceId: 'src-2', admit: refuse }))).code).toBe(ErrorCode.SOURCE_BEHIND);
    expect(asked).toStrictEqual([{ from: 'src-1', position: p(3), ordinal: 2 }]);
    expect(readFileSync(join(dir, 'relay.json'), 'utf8')).toBe(before);
    // Admitted: the switch is recorded, and the records go on from where src-1's ended.
    let w = await RelayWriter.open(dir, { ...OPTS, sourceId: 'src-2', host: 'h2:3306', admit: async () => undefined, segmentBytes: 600 });
    for (let n = 4; n <= 12; n++) w.append(txn(n));
    await w.close();
    const meta = (await readMeta(dir))!;
    expect(meta.sourceId).toBe('src-1');
    expect(meta.server).toMatchObject({ id: 'src-2', host: 'h2:3306' });
    expect(meta.switches).toMatchObject([{ from: 'src-1', fromHost: 'h1:3306', to: 'src-2', toHost: 'h2:3306', ordinal: 2, position: p(3), gtidSet: '0-1-3' }]);
    // New segments name the server they began under; a restart on src-2 needs no admission.
    const seqs = await listSegments(dir);
    expect(seqs.length).toBeGreaterThan(1);
    expect((await readHeader(dir, seqs.at(-1)!)).header.sourceId).toBe('src-2');
    w = await RelayWriter.open(dir, { ...OPTS, sourceId: 'src-2', host: 'h2:3306' });
    expect(w.durablePosition()).toMatchObject({ position: p(12), ordinal: 11 });
    await w.close();
    expect((await readAll()).map((t) => t.position)).toStrictEqual(Array.from({ length: 12 }, (_, i) => p(i + 1)));
    // The first server again is another move (its records are no longer the last ones).
    expect((await codeOf(RelayWriter.open(dir, OPTS))).code).toBe(ErrorCode.SOURCE_CHANGED);
    // A live move in one writer: useServer records it after making what was appended durable.
    w = await RelayWriter.open(dir, { ...OPTS, sourceId: 'src-2', host: 'h2:3306' });
    w.append(txn(13));
    await w.useServer({ id: 'src-3', host: 'h3:3306' });
    expect(w.durablePosition().ordinal).toBe(12);
    expect(w.server()).toMatchObject({ id: 'src-3', host: 'h3:3306' });
    await w.close();
    expect((await readMeta(dir))!.switches!.map((s) => [s.from, s.to, s.ordinal])).toStrictEqual([['src-1', 'src-2', 2], ['src-2', 'src-3', 12]]);
  });

  it('refuses an append whose position goes backwards', async () => {
    const w = await writeN(1, 3);
    expect(() => w.append(txn(2))).toThrow(/before the previous transaction's/);
    await w.close();
  });

  it('retention deletes old segments below the slowest reader only, and a space limit marks the overtaken reader lost', async () => {
    let clock = 1_000_000;
    const w = await RelayWriter.open(dir, { ...OPTS, segmentBytes: 2048, now: () => clock });
    for (let n = 1; n <= 200; n++) {
      w.append(txn(n));
      if (n % 20 === 0) {
        await w.flush();
        clock += 1000;
      }
    }
    await w.flush();
    const before = await listSegments(dir);
    expect(before.length).toBeGreaterThan(6);
    const slowAt = 60;
    const slow = await RelayReader.open({ dir, compare, id: 'slow', from: p(slowAt) });
    await RelayReader.open({ dir, compare, id: 'fast', from: p(190) });

    // Nothing is old enough yet.
    expect((await applyRetention(w, { compare, minAgeMs: 1_000_000, now: clock })).deleted).toStrictEqual([]);
    // Old enough: only the segments wholly at or before the slowest reader go.
    const res = await applyRetention(w, { compare, minAgeMs: 0, now: clock });
    expect(res.deleted.length).toBeGreaterThan(0);
    expect(res.lost).toStrictEqual([]);
    const left = await listSegments(dir);
    const { header } = await readHeader(dir, left[0]!);
    expect(compare(header.startPosition, p(slowAt))).toBeLessThanOrEqual(0);
    const { header: next } = await readHeader(dir, left[1]!);
    expect(compare(next.startPosition, p(slowAt))).toBeGreaterThan(0);
    expect((await readAll(p(slowAt))).length).toBe(200 - slowAt);
    expect((await readMeta(dir))?.readers).toMatchObject({ slow: { position: p(slowAt) }, fast: { position: p(190) } });

    // The slow reader acknowledges: retention follows it.
    await slow.acknowledge(p(100));
    const res2 = await applyRetention(w, { compare, minAgeMs: 0, now: clock });
    expect(res2.deleted.length).toBeGreaterThan(0);
    expect((await readAll(p(100))).length).toBe(100);

    // A space limit smaller than what the slow reader needs: it is marked lost, never skipped silently.
    const res3 = await applyRetention(w, { compare, minAgeMs: 1_000_000, maxBytes: 6000, now: clock });
    expect(res3.lost).toStrictEqual(['slow']);
    expect(res3.bytes).toBeLessThanOrEqual(6000);
    expect((await readMeta(dir))?.lostReaders.slow).toMatchObject({ position: p(100) });
    const lost = await codeOf(RelayReader.open({ dir, compare, id: 'slow', from: p(100) }));
    expect(lost.code).toBe(ErrorCode.RELAY_READER_LOST);
    expect(lost.message).toMatch(/relay reader slow .* was marked lost .* space limit of 6000 bytes/);
    expect((await codeOf(slow.acknowledge(p(120)))).code).toBe(ErrorCode.RELAY_READER_LOST);
    // A reader without an id asking for a deleted position is refused too.
    expect((await codeOf(readAll(p(100)))).code).toBe(ErrorCode.RELAY_READER_LOST);
    // The fast reader is untouched.
    expect((await readAll(p(190), { id: 'fast' })).length).toBe(10);
    // Once its target is copied again, the lost reader may register anew (from where the relay is).
    await w.clearLostReader('slow');
    expect((await readMeta(dir))?.lostReaders).toStrictEqual({});
    expect((await readAll(p(195), { id: 'slow' })).length).toBe(5);
    await w.close();
  });

  it('a reader whose next segment is deleted under it reports RELAY_READER_LOST', async () => {
    const w = await writeN(1, 100, { segmentBytes: 2048 });
    await w.close();
    const seqs = await listSegments(dir);
    const r = await RelayReader.open({ dir, compare, follow: false });
    const got: number[] = [];
    const err = await codeOf(
      (async () => {
        for await (const t of r) {
          got.push(t.ordinal);
          if (got.length === 1) rmSync(segmentFile(dir, seqs[1]!));
        }
      })(),
    );
    expect(err.code).toBe(ErrorCode.RELAY_READER_LOST);
    expect(err.message).toContain(segmentFile(dir, seqs[1]!));
  });

  it('relay.json survives a crash between the temporary file and the rename; the next open removes the temporary file', async () => {
    const w = await writeN(1, 10);
    await w.close();
    const good = await readMeta(dir);
    expect(good?.durable.position).toBe(p(10));
    // A process killed between writing the temporary file and renaming it.
    const child = spawnSync(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'relay-meta-child.ts'), dir], { cwd: join(import.meta.dirname, '..', '..') });
    expect(child.signal, child.stderr.toString()).toBe('SIGKILL');
    const tmp = readdirSync(dir).find((n) => n.startsWith('relay.json.tmp-'))!;
    expect(JSON.parse(readFileSync(join(dir, tmp), 'utf8'))).toMatchObject({ sourceId: 'half-written' });
    expect(readdirSync(dir).some((n) => n.startsWith('relay.json.tmp-'))).toBe(true);
    expect(await readMeta(dir)).toStrictEqual(good);
    const w2 = await RelayWriter.open(dir, OPTS);
    expect(readdirSync(dir).some((n) => n.startsWith('relay.json.tmp-'))).toBe(false);
    expect(w2.durablePosition().position).toBe(p(10));
    await w2.close();
  });

  it('a roll cut short by a crash (half-written header of a new segment) is removed on open', async () => {
    const w = await writeN(1, 50, { segmentBytes: 2048 });
    await w.close();
    const seqs = await listSegments(dir);
    const next = seqs[seqs.length - 1]! + 1;
    writeFileSync(segmentFile(dir, next), Buffer.from([40, 0, 0, 0, 1]));
    writeFileSync(`${segmentFile(dir, next + 1)}.tmp`, Buffer.from([1, 2]));
    const w2 = await RelayWriter.open(dir, OPTS);
    expect(w2.recovered).toStrictEqual({ file: segmentFile(dir, next), offset: 0, bytes: 5, segmentRemoved: true });
    expect(existsSync(segmentFile(dir, next))).toBe(false);
    expect(existsSync(`${segmentFile(dir, next + 1)}.tmp`)).toBe(false);
    w2.append(txn(51));
    await w2.close();
    expect((await readAll()).length).toBe(51);
    expect((await readMark(dir))?.nextOrdinal).toBe(51);
  });
});

/** Rewrites the durable mark so it says segment 0 is durable up to `offset` (as a crash mid-group-commit leaves it). */
function writeMarkAt(offset: number, mark: Buffer): void {
  const b = Buffer.from(mark);
  b.writeDoubleLE(0, 0);
  b.writeDoubleLE(offset, 8);
  // nextOrdinal is not used by recovery; the CRC must match.
  import_crc(b);
  writeFileSync(join(dir, 'durable'), b);
  truncateSync(join(dir, 'durable'), 28);
}

import { crc32 } from 'node:zlib';
function import_crc(b: Buffer): void {
  b.writeUInt32LE(crc32(b.subarray(0, 24)), 24);
}
