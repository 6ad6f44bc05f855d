import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { StreamEvent } from '../../src/core/change.js';
import { ErrorCode } from '../../src/core/errors.js';
import { readReaderFiles, relayChangeLog, RelayWriter, writeTablesFile, type RelayTransaction } from '../../src/relay/index.js';
import { FakeSource, TABLE } from '../helpers/fakes.js';

let dir: string;
const fake = new FakeSource();
const compare = (a: string, b: string) => fake.comparePositions(a, b);

/** Transaction n: a row of `t` when n is odd, a row of `other` always. */
function txn(n: number): RelayTransaction {
  const events: StreamEvent[] = [{ type: 'begin' }];
  if (n % 2 === 1) events.push({ type: 'change', op: 'insert', change: { kind: 'upsert', table: 't', key: [n], row: [n, `v${n}`] } });
  events.push({ type: 'change', op: 'insert', change: { kind: 'upsert', table: 'other', key: [n], row: [n] } });
  events.push({ type: 'commit', position: String(n), timestamp: 1_000 + n });
  return { position: String(n), events };
}

/** Events of `source.stream(from)` until the commit at `until`. */
async function take(source: ReturnType<typeof relayChangeLog>, from: string, until: number): Promise<StreamEvent[]> {
  const ctl = new AbortController();
  const out: StreamEvent[] = [];
  for await (const run of source.stream(from, [TABLE], ctl.signal)) {
    out.push(...run);
    const last = run.at(-1);
    if (last?.type === 'commit' && Number(last.position) >= until) break;
  }
  return out;
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'relay-cl-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('relayChangeLog', () => {
  it('streams the relay after `from`, only the synced tables, every commit; registers and acknowledges', async () => {
    const w = await RelayWriter.open(dir, { sourceId: 'fake-source', startPosition: '0', compare });
    for (let n = 1; n <= 5; n++) w.append(txn(n));
    await w.flush();
    const source = relayChangeLog(fake, { dir, id: 'sync-a', acknowledgeIntervalMs: 0 });
    const events = await take(source, '2', 5);
    expect(events).toEqual([
      { type: 'begin' },
      { type: 'change', op: 'insert', change: { kind: 'upsert', table: 't', key: [3], row: [3, 'v3'] } },
      { type: 'commit', position: '3', timestamp: 1003 },
      { type: 'commit', position: '4', timestamp: 1004 },
      { type: 'begin' },
      { type: 'change', op: 'insert', change: { kind: 'upsert', table: 't', key: [5], row: [5, 'v5'] } },
      { type: 'commit', position: '5', timestamp: 1005 },
    ]);
    expect((await readReaderFiles(dir)).map((r) => [r.id, r.position])).toEqual([['sync-a', '2']]);
    await source.acknowledge('4');
    expect((await readReaderFiles(dir)).map((r) => [r.id, r.position])).toEqual([['sync-a', '4']]);
    // The rest of the source is the source's own; its own stream is never prepared (the relay's files are read).
    expect(source.describePosition('4')).toBe('fake@4');
    const prepared = fake.prepared;
    source.prepareStream();
    expect(fake.prepared).toBe(prepared);
    await w.close();
  });

  it('waits for a start position the relay has not reached', async () => {
    const w = await RelayWriter.open(dir, { sourceId: 'fake-source', startPosition: '0', compare });
    w.append(txn(1));
    await w.flush();
    const source = relayChangeLog(fake, { dir, id: 'sync-a', pollIntervalMs: 20 });
    const got = take(source, '6', 7);
    await new Promise((r) => setTimeout(r, 100));
    for (let n = 2; n <= 7; n++) w.append(txn(n));
    await w.flush();
    expect((await got).map((e) => (e.type === 'commit' ? e.position : e.type))).toEqual(['begin', 'change', '7']);
    await w.close();
  });

  it('refuses a position before the relay began (POSITION_LOST), and a lost reader unless it starts anew past the loss', async () => {
    const w = await RelayWriter.open(dir, { sourceId: 'fake-source', startPosition: '10', compare });
    w.append(txn(11));
    await w.flush();
    const source = relayChangeLog(fake, { dir, id: 'sync-a' });
    await expect(source.checkPosition('5')).rejects.toMatchObject({ code: ErrorCode.POSITION_LOST, message: expect.stringContaining(dir) });
    await expect(take(source, '5', 11)).rejects.toMatchObject({ code: ErrorCode.POSITION_LOST });
    await w.updateMeta((m) => ({ ...m, lostReaders: { 'sync-a': { position: '11', at: Date.now() - 1000, reason: 'test' } } }));
    await expect(source.checkPosition('11')).rejects.toMatchObject({ code: ErrorCode.RELAY_READER_LOST });
    // A new start (after --force) at a later position reads on.
    w.append(txn(12));
    w.append(txn(13));
    await w.flush();
    await source.checkPosition('12');
    expect((await take(source, '12', 13)).map((e) => e.type)).toEqual(['begin', 'change', 'commit']);
    await w.close();
  });

  it("refuses a relay of another source, and a table the relay does not keep, by name", async () => {
    const w = await RelayWriter.open(dir, { sourceId: 'fake-source', startPosition: '0', compare });
    w.append(txn(1));
    await w.flush();
    const source = relayChangeLog(fake, { dir, id: 'sync-a' });
    await writeTablesFile(dir, ['other']);
    await expect(take(source, '0', 1)).rejects.toMatchObject({ code: ErrorCode.CONFIG_INVALID, message: expect.stringContaining('does not keep table t,') });
    await writeTablesFile(dir, ['other', 't']);
    expect((await take(source, '0', 1)).map((e) => e.type)).toEqual(['begin', 'change', 'commit']);
    await w.close();
    const elsewhere = join(dir, 'b');
    const w2 = await RelayWriter.open(elsewhere, { sourceId: 'another-source', startPosition: '0', compare });
    w2.append(txn(1));
    await w2.close();
    await expect(take(relayChangeLog(fake, { dir: elsewhere, id: 'sync-a' }), '0', 1)).rejects.toMatchObject({ code: ErrorCode.SOURCE_CHANGED, message: expect.stringContaining('another-source') });
  });
});
