import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/core/logger.js';
import { readReaderFiles, readTablesFile, registerReader, RelayReader, RelayWriter } from '../../src/relay/index.js';
import { Relay } from '../../src/runner/relay.js';
import { FakeSource } from '../helpers/fakes.js';

let dir: string;
const logger = createLogger({ level: 'silent' });

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'relay-run-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function relayOf(fake: FakeSource): Relay {
  const config = validateConfig({ source: 'mysql://u@db.invalid:3306/shop', target: 'mysql://u@none.invalid/none', relayDir: dir, relayMinAge: 0 });
  return new Relay({ ...config, relayDir: dir }, { logger, source: fake, retentionIntervalMs: 20 });
}

const row = (n: number) => ({ kind: 'upsert' as const, table: 't', row: [n, `v${n}`] });

describe('Relay', () => {
  it('stores each source transaction once, in order; pause stops it, resume goes on; cancel makes it durable and releases the directory', async () => {
    const fake = new FakeSource();
    const relay = relayOf(fake);
    const run = relay.run();
    await untilAsync('streaming', async () => (await relay.status()).state === 'streaming');
    for (let n = 1; n <= 3; n++) fake.transaction([row(n)]);
    await untilAsync('3 transactions durable', async () => (await relay.status()).durableOrdinal === 2);
    const s = await relay.status();
    expect(s).toMatchObject({ state: 'streaming', paused: false, sourceId: 'fake-source', durablePosition: 'fake@3', transactions: 3, source: expect.not.stringContaining('pw') });
    expect(s.bytes).toBeGreaterThan(0);
    expect(s.segments).toHaveLength(1);
    // The stream's start was prepared as the source was connected (ChangeLog.prepareStream).
    expect(fake.prepared).toBe(1);
    expect(await readTablesFile(dir)).toEqual(['t']);

    relay.pause();
    await untilAsync('paused', async () => (await relay.status()).state === 'paused');
    fake.transaction([row(4)]);
    await new Promise((r) => setTimeout(r, 150));
    expect((await relay.status()).durableOrdinal).toBe(2);
    relay.resume();
    await untilAsync('the 4th transaction durable', async () => (await relay.status()).durableOrdinal === 3);

    relay.cancel();
    await run;
    expect((await relay.status()).state).toBe('stopped');
    // The lock is released: a writer opens the directory again; the records are 1..4, each once.
    const w = await RelayWriter.open(dir, { sourceId: 'fake-source', startPosition: '0', compare: (a, b) => Number(a) - Number(b) });
    await w.close();
    const reader = await RelayReader.open({ dir, compare: (a, b) => Number(a) - Number(b), follow: false });
    const got: string[] = [];
    for await (const t of reader) got.push(`${t.ordinal}@${t.position}`);
    expect(got).toEqual(['0@1', '1@2', '2@3', '3@4']);

    // A restart resumes after the last durable transaction: nothing stored twice.
    fake.transaction([row(5)]);
    const again = relayOf(fake);
    const run2 = again.run();
    await untilAsync('the 5th transaction durable', async () => (await again.status()).durableOrdinal === 4);
    again.cancel();
    await run2;
  });

  it('skips a heartbeat before the last stored position (a server moved to reports the same GTID in an earlier binlog file) and goes on', async () => {
    const fake = new FakeSource();
    const relay = relayOf(fake);
    const run = relay.run();
    await untilAsync('streaming', async () => (await relay.status()).state === 'streaming');
    for (let n = 1; n <= 3; n++) fake.transaction([row(n)]);
    await untilAsync('3 transactions durable', async () => (await relay.status()).durableOrdinal === 2);
    fake.push({ type: 'heartbeat', position: '1', timestamp: Date.now() });
    fake.transaction([row(4)]);
    await untilAsync('the 4th transaction durable', async () => (await relay.status()).durableOrdinal === 3);
    expect(await relay.status()).toMatchObject({ state: 'streaming', durablePosition: 'fake@4', lastError: undefined });
    relay.cancel();
    await run;
  });

  it("refuses another source's directory by name", async () => {
    const w = await RelayWriter.open(dir, { sourceId: 'another-source', startPosition: '0', compare: (a, b) => Number(a) - Number(b) });
    await w.close();
    await expect(relayOf(new FakeSource()).run()).rejects.toMatchObject({ code: 'TRIB_SOURCE_CHANGED', message: expect.stringContaining('another-source') });
  });

  it("forgets a lost reader's mark once it registered anew past the loss", async () => {
    const fake = new FakeSource();
    const relay = relayOf(fake);
    const run = relay.run();
    await untilAsync('streaming', async () => (await relay.status()).state === 'streaming');
    for (let n = 1; n <= 3; n++) fake.transaction([row(n)]);
    await untilAsync('3 transactions durable', async () => (await relay.status()).durableOrdinal === 2);
    const writer = (relay as unknown as { writer: RelayWriter }).writer;
    await writer.updateMeta((m) => ({ ...m, lostReaders: { s1: { position: '1', at: Date.now() - 1000, reason: 'test' } } }));
    await untilAsync('reported lost', async () => (await relay.status()).readers.some((r) => r.id === 's1' && r.lost !== undefined));
    // A reader file older than the mark, or at the lost position, does not clear it.
    await registerReader(dir, 's1', '1', Date.now());
    await new Promise((r) => setTimeout(r, 100));
    expect(writer.meta().lostReaders.s1).toBeDefined();
    await registerReader(dir, 's1', '3', Date.now());
    await untilAsync('the mark forgotten', async () => writer.meta().lostReaders.s1 === undefined);
    expect((await readReaderFiles(dir)).map((r) => r.position)).toEqual(['3']);
    relay.cancel();
    await run;
  });
});

async function untilAsync(what: string, pred: () => Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
