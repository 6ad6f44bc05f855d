import { describe, expect, it } from 'vitest';
import { deleteOp, deletePrefixOp, keyHash, OpBuffer, Pipeline, putOp, STREAM_WINDOW, WINDOW, type Sender } from '../../src/engines/etcd/apply.js';
import { encodeTxn } from '../../src/engines/etcd/wire.js';

/** A sender whose transactions commit when the test says so, in any order. */
function fakeSender(maxOps = 4) {
  const sent: { keys: string[]; commit: () => void; fail: (e: Error) => void }[] = [];
  const sender: Sender = {
    write: (_compare, ops) =>
      new Promise<boolean>((resolve, reject) => {
        sent.push({ keys: ops.map((o) => (o.value !== undefined ? o.key : '?')), commit: () => resolve(true), fail: reject });
      }),
    maxOps,
    fence: () => [],
    error: (err) => err as never,
  };
  return { sender, sent };
}

const tick = () => new Promise((r) => setTimeout(r, 0));
const put = (k: string) => putOp(k, '{}');

describe('etcd Pipeline shared by commits (stream commits overlapped)', () => {
  it('sends the next commit\u2019s transactions while the previous commit\u2019s last is in flight, keys apart, and its checkpoint only after that one committed', async () => {
    const { sender, sent } = fakeSender(4);
    const pipeline = new Pipeline();
    const first = new OpBuffer(sender, 1, pipeline);
    for (const k of ['a', 'b']) await first.add(put(k), 'x');
    let firstDone = false;
    const firstCommit = first.commit([put('cp')], 'x').then(() => (firstDone = true));
    await tick();
    expect(sent.map((s) => s.keys)).toEqual([['a', 'b', 'cp']]);

    // The next commit: three keys apart from the first's go out at once (a transaction of maxOps - 1).
    const second = new OpBuffer(sender, 1, pipeline);
    for (const k of ['c', 'd', 'e', 'f']) await second.add(put(k), 'x');
    await tick();
    expect(sent.map((s) => s.keys)).toEqual([['a', 'b', 'cp'], ['c', 'd', 'e']]);
    // Its last transaction (with the checkpoint) waits for every one handed over before it.
    const secondCommit = second.commit([put('cp')], 'x');
    await tick();
    expect(sent).toHaveLength(2);
    sent[1]?.commit();
    await tick();
    expect(sent).toHaveLength(2);
    sent[0]?.commit();
    await firstCommit;
    expect(firstDone).toBe(true);
    await tick();
    expect(sent.map((s) => s.keys)[2]).toEqual(['f', 'cp']);
    sent[2]?.commit();
    await secondCommit;
  });

  it.each([
    ['the default window (a copy chunk\u2019s)', undefined, WINDOW],
    ['the stream\u2019s window', STREAM_WINDOW, STREAM_WINDOW],
  ])('keeps at most its window in flight, keys apart: the next goes once the oldest committed (%s)', async (_what, given, window) => {
    const { sender, sent } = fakeSender(2);
    const buf = new OpBuffer(sender, 1, new Pipeline(given));
    // One op a transaction (maxOps 2, one reserved): each put hands over the one gathered before it.
    for (let i = 0; i < window + 3; i++) void buf.put(put(`k${i}`), 'x');
    void buf.flush('x');
    await tick();
    expect([WINDOW, STREAM_WINDOW]).toEqual([16, 128]);
    expect(sent).toHaveLength(window);
    sent[0]?.commit();
    await tick();
    await tick();
    expect(sent).toHaveLength(window + 1);
    expect(sent[window]?.keys).toEqual([`k${window}`]);
    for (const s of sent) s.commit();
    await tick();
    await tick();
    for (const s of sent) s.commit();
    await buf.drain();
    expect(sent).toHaveLength(window + 3);
  });

  it('keeps at most windowBytes of its transactions in flight (at least one, however large): the next waits for the oldest ones beyond it', async () => {
    const { sender, sent } = fakeSender(2);
    // Each transaction is one put of 20 bytes as Op counts them ('kN' and '{}', 16 besides): 60 hold three.
    const buf = new OpBuffer(sender, 1, new Pipeline(100, 60));
    expect(put('k0').bytes).toBe(20);
    for (let i = 0; i < 6; i++) void buf.put(put(`k${i}`), 'x');
    void buf.flush('x');
    await tick();
    expect(sent.map((s) => s.keys)).toEqual([['k0'], ['k1'], ['k2']]);
    // The second commits first: the oldest still holds its bytes, so none goes.
    sent[1]?.commit();
    await tick();
    expect(sent).toHaveLength(3);
    // Both gone: the next two go (k4 waited for those two), the last waits for the third.
    sent[0]?.commit();
    await tick();
    await tick();
    expect(sent.map((s) => s.keys).slice(3)).toEqual([['k3'], ['k4']]);
    sent[2]?.commit();
    await tick();
    await tick();
    expect(sent.map((s) => s.keys).slice(5)).toEqual([['k5']]);
    for (const s of sent) s.commit();
    await buf.drain();
    expect(sent).toHaveLength(6);

    // A transaction larger than the window alone still goes.
    const big = fakeSender(4);
    const alone = new OpBuffer(big.sender, 1, new Pipeline(100, 10));
    const commit = alone.commit([put('a'), put('b')], 'x');
    await tick();
    expect(big.sent.map((s) => s.keys)).toEqual([['a', 'b']]);
    big.sent[0]?.commit();
    await commit;
  });

  it('tracks keys by their hash: two keys of one hash are held as one key would be (a wait, never a lost order)', async () => {
    // Found by search: distinct keys, one 31-bit hash.
    const [a, b] = ['/t/93185', '/t/124611'];
    expect(keyHash(a)).toBe(keyHash(b));
    expect(keyHash('/t/1')).not.toBe(keyHash('/t/2'));
    const { sender, sent } = fakeSender(3);
    const pipeline = new Pipeline();
    const first = new OpBuffer(sender, 1, pipeline);
    await first.add(put(a), 'x');
    // In one buffer, the second goes in the next transaction, as a second write of one key would.
    await first.add(put(b), 'x');
    await first.add(put('/t/c'), 'x');
    void first.flush('x');
    await tick();
    expect(sent.map((s) => s.keys)).toEqual([[a]]);
    expect(pipeline.touches(b)).toBe(true);
    sent[0]?.commit();
    await tick();
    await tick();
    expect(sent.map((s) => s.keys)).toEqual([[a], [b, '/t/c']]);
    sent[1]?.commit();
    await first.drain();
    expect(pipeline.touches(a)).toBe(false);
    expect(pipeline.keysInFlight).toBe(0);
  });

  it('holds a transaction writing a key of one handed over before it (even one not sent yet) until that one committed', async () => {
    const { sender, sent } = fakeSender(3);
    const pipeline = new Pipeline();
    const first = new OpBuffer(sender, 1, pipeline);
    await first.add(put('k'), 'x');
    const firstCommit = first.commit([put('cp')], 'x');
    const second = new OpBuffer(sender, 1, pipeline);
    await second.add(put('k'), 'x');
    await second.add(put('z'), 'x');
    const flushed = second.flush('x');
    await tick();
    // Only the first is on the wire: the second writes k too, and etcd may apply two in flight in either order.
    expect(sent.map((s) => s.keys)).toEqual([['k', 'cp']]);
    expect(second.touches('k')).toBe(true);
    sent[0]?.commit();
    await firstCommit;
    await flushed;
    expect(sent.map((s) => s.keys)[1]).toEqual(['k', 'z']);
    sent[1]?.commit();
    await second.drain();
  });

  it('holds each of three transactions writing one key until the one before it committed, and forgets a key once its last writer committed', async () => {
    const { sender, sent } = fakeSender(3);
    const pipeline = new Pipeline();
    const flushes: Promise<void>[] = [];
    for (const other of ['a', 'b', 'c']) {
      const buf = new OpBuffer(sender, 1, pipeline);
      await buf.add(put('k'), 'x');
      await buf.add(put(other), 'x');
      flushes.push(buf.flush('x'));
    }
    await tick();
    expect(sent.map((s) => s.keys)).toEqual([['k', 'a']]);
    sent[0]?.commit();
    await tick();
    expect(sent.map((s) => s.keys)).toEqual([['k', 'a'], ['k', 'b']]);
    sent[1]?.commit();
    await tick();
    expect(sent.map((s) => s.keys)).toEqual([['k', 'a'], ['k', 'b'], ['k', 'c']]);
    expect(pipeline.touches('k')).toBe(true);
    expect(pipeline.keysInFlight).toBe(2);
    sent[2]?.commit();
    await Promise.all(flushes);
    await pipeline.drain();
    expect(pipeline.touches('k')).toBe(false);
    expect(pipeline.touches('a')).toBe(false);
    expect(pipeline.keysInFlight).toBe(0);
  });

  it('fails a commit whose earlier transaction failed without sending its checkpoint, and forgets the failure once abandoned', async () => {
    const { sender, sent } = fakeSender(3);
    const pipeline = new Pipeline();
    const first = new OpBuffer(sender, 1, pipeline);
    const firstCommit = first.commit([put('a'), put('cp')], 'x').catch((e: unknown) => e);
    const second = new OpBuffer(sender, 1, pipeline);
    const secondCommit = second.commit([put('b'), put('cp')], 'x').catch((e: unknown) => e);
    await tick();
    sent[0]?.fail(new Error('lost'));
    expect(await firstCommit).toEqual(new Error('lost'));
    expect(await secondCommit).toEqual(new Error('lost'));
    expect(sent).toHaveLength(1);
    await second.abandon();
    const third = new OpBuffer(sender, 1, pipeline);
    const thirdCommit = third.commit([put('b'), put('cp')], 'x');
    await tick();
    sent[1]?.commit();
    await thirdCommit;
  });
});

/**
 * A fake etcd holding a key space: each transaction waits until the test applies it (in any
 * order), then checks its Value compares against the keys as they are and, if they hold, puts.
 */
function fakeEtcd(maxOps = 4) {
  const store = new Map<string, string>();
  const applied: string[][] = [];
  const sent: { keys: string[]; compares: string[]; apply: () => void; applyLosingAnswer: () => void; lose: () => void; resend: () => void; fail: (e: Error) => void }[] = [];
  const sender: Sender = {
    write: (compare, ops) =>
      new Promise<boolean>((resolve, reject) => {
        const holds = () => compare.every((c) => c.target !== 'Value' || store.get(String(c.key)) === c.value?.toString());
        const applyNow = () => {
          const ok = holds();
          if (ok) {
            for (const o of ops) if (o.value !== undefined) store.set(o.key, o.value.toString());
            applied.push(ops.map((o) => (o.value !== undefined ? o.key : '?')));
          }
          return ok;
        };
        sent.push({
          keys: ops.map((o) => (o.value !== undefined ? o.key : '?')),
          compares: compare.map((c) => `${String(c.key)}=${c.value?.toString() ?? ''}`),
          apply: () => resolve(applyNow()),
          // Applied, but the answer is lost and the client sends it again: that attempt's compare
          // no longer holds (the key has the value this one put), and its answer is the one returned.
          applyLosingAnswer: () => {
            applyNow();
            resolve(holds());
          },
          // Applied, its answer lost; the client sends it again later (resend), applied if its compares hold then.
          lose: () => applyNow(),
          resend: () => resolve(applyNow()),
          fail: reject,
        });
      }),
    maxOps,
    fence: () => [],
    error: (err) => err as never,
  };
  return { sender, sent, store, applied };
}

const putKV = (k: string, v: string) => putOp(k, v);

/**
 * A pipeline whose first checkpoint `p0` committed: a checkpoint is chained only to one that
 * compares the value before it, and the pipeline's first knows none. `sent` and `applied` are
 * emptied after it.
 */
async function primed(etcd: ReturnType<typeof fakeEtcd>): Promise<Pipeline> {
  const pipeline = new Pipeline();
  const commit = new OpBuffer(etcd.sender, 1, pipeline).commit([putKV('cp', 'p0')], 'x', true);
  await tick();
  etcd.sent[0]?.apply();
  await commit;
  etcd.sent.length = 0;
  etcd.applied.length = 0;
  return pipeline;
}

describe('etcd Pipeline: a checkpoint chained to the one in flight', () => {
  it('sends the next commit\u2019s checkpoint before the previous one committed, comparing the key holds the previous value', async () => {
    const etcd = fakeEtcd();
    const { sender, sent, store } = etcd;
    const pipeline = await primed(etcd);
    const first = new OpBuffer(sender, 1, pipeline);
    await first.add(putKV('a', '1'), 'x');
    const firstCommit = first.commit([putKV('cp', 'p1')], 'x', true);
    const second = new OpBuffer(sender, 1, pipeline);
    await second.add(putKV('b', '2'), 'x');
    const secondCommit = second.commit([putKV('cp', 'p2')], 'x', true);
    await tick();
    // Both on the wire at once; the second compares cp with the first's value.
    expect(sent.map((s) => s.keys)).toEqual([
      ['a', 'cp'],
      ['b', 'cp'],
    ]);
    expect(sent.map((s) => s.compares)).toEqual([['cp=p0'], ['cp=p1']]);
    expect(pipeline.chained).toBe(1);
    sent[0]?.apply();
    sent[1]?.apply();
    await Promise.all([firstCommit, secondCommit]);
    expect(store.get('cp')).toBe('p2');
    expect(store.get('b')).toBe('2');
  });

  it('sends a chained checkpoint again once the one before committed when etcd applied it first, writing nothing the first time', async () => {
    const etcd = fakeEtcd();
    const { sender, sent, store, applied } = etcd;
    const pipeline = await primed(etcd);
    const first = new OpBuffer(sender, 1, pipeline);
    const firstCommit = first.commit([putKV('k', 'old'), putKV('c', '3'), putKV('cp', 'p1')], 'x', true);
    // The same key k in both: the compare orders them, so it goes at once too.
    const second = new OpBuffer(sender, 1, pipeline);
    const secondCommit = second.commit([putKV('k', 'new'), putKV('d', '4'), putKV('cp', 'p2')], 'x', true);
    await tick();
    expect(sent.map((s) => s.compares)).toEqual([['cp=p0'], ['cp=p1']]);
    sent[1]?.apply(); // etcd applies the later one first: its compare fails, nothing is written
    expect(Object.fromEntries(store)).toEqual({ cp: 'p0' });
    await tick();
    expect(sent).toHaveLength(2);
    sent[0]?.apply();
    await firstCommit;
    await tick();
    expect(sent).toHaveLength(3);
    expect(sent[2]?.compares).toEqual(['cp=p1']);
    sent[2]?.apply();
    await secondCommit;
    expect(Object.fromEntries(store)).toEqual({ k: 'new', c: '3', d: '4', cp: 'p2' });
    expect(applied).toEqual([
      ['k', 'c', 'cp'],
      ['k', 'd', 'cp'],
    ]);
  });

  it('takes a chained checkpoint whose transaction committed but whose answer was lost (the client sent it again) for committed, not for a lost lock', async () => {
    const etcd = fakeEtcd();
    const { sender, sent, store, applied } = etcd;
    const pipeline = await primed(etcd);
    const first = new OpBuffer(sender, 1, pipeline);
    const firstCommit = first.commit([putKV('a', '1'), putKV('cp', 'p1')], 'x', true);
    const second = new OpBuffer(sender, 1, pipeline);
    const secondCommit = second.commit([putKV('b', '2'), putKV('cp', 'p2')], 'x', true);
    await tick();
    sent[0]?.apply();
    await firstCommit;
    sent[1]?.applyLosingAnswer();
    await tick();
    // Sent again once the first committed: the key holds p2, not p1, so it fails again…
    expect(sent[2]?.compares).toEqual(['cp=p1']);
    sent[2]?.apply();
    await tick();
    // …and a transaction of no writes asks whether the key holds its own value: it does.
    expect(sent[3]).toMatchObject({ keys: [], compares: ['cp=p2'] });
    sent[3]?.apply();
    await secondCommit;
    expect(Object.fromEntries(store)).toEqual({ a: '1', b: '2', cp: 'p2' });
    expect(applied).toEqual([['a', 'cp'], ['b', 'cp'], []]);
  });

  it('takes it for committed too when the checkpoint chained after it committed first (the key holds that one’s value)', async () => {
    const etcd = fakeEtcd();
    const { sender, sent, store } = etcd;
    const pipeline = await primed(etcd);
    const commits = ['p1', 'p2', 'p3'].map((v, i) => {
      const buffer = new OpBuffer(sender, 1, pipeline);
      return buffer.commit([putKV(`k${i}`, v), putKV('cp', v)], 'x', true);
    });
    await tick();
    // The second is chained to the first; the third, chained to the second, waits for the first.
    expect(sent.map((s) => s.compares)).toEqual([['cp=p0'], ['cp=p1']]);
    sent[0]?.apply();
    await commits[0];
    await tick();
    expect(sent.map((s) => s.compares)).toEqual([['cp=p0'], ['cp=p1'], ['cp=p2']]);
    sent[1]?.applyLosingAnswer();
    sent[2]?.apply();
    await commits[2];
    await tick();
    expect(sent[3]?.compares).toEqual(['cp=p1']);
    sent[3]?.apply();
    await tick();
    // Whether the key holds the third's value: it does, so the second committed before it.
    expect(sent[4]).toMatchObject({ keys: [], compares: ['cp=p3'] });
    sent[4]?.apply();
    await commits[1];
    expect(Object.fromEntries(store)).toEqual({ k0: 'p1', k1: 'p2', k2: 'p3', cp: 'p3' });
  });

  it('gives the first checkpoint of a chain a compare too, so the client sending it again after the chained one committed puts nothing back', async () => {
    const etcd = fakeEtcd();
    const { sender, sent, store, applied } = etcd;
    const pipeline = await primed(etcd);
    const first = new OpBuffer(sender, 1, pipeline);
    const firstCommit = first.commit([putKV('k', 'old'), putKV('cp', 'p1')], 'x', true);
    const second = new OpBuffer(sender, 1, pipeline);
    const secondCommit = second.commit([putKV('k', 'new'), putKV('cp', 'p2')], 'x', true);
    await tick();
    expect(sent.map((s) => s.compares)).toEqual([['cp=p0'], ['cp=p1']]);
    sent[0]?.lose(); // committed, its answer lost
    sent[1]?.apply();
    await secondCommit;
    sent[0]?.resend(); // the client's second attempt: cp holds p2, not p0, so it writes nothing
    await tick();
    expect(sent[2]).toMatchObject({ keys: [], compares: ['cp=p2'] });
    sent[2]?.apply();
    await firstCommit;
    expect(Object.fromEntries(store)).toEqual({ k: 'new', cp: 'p2' });
    expect(applied).toEqual([['k', 'cp'], ['k', 'cp'], []]);
  });

  it('compares no value after a write of the checkpoint key beside the pipeline, and chains nothing to that one', async () => {
    const etcd = fakeEtcd();
    const { sender, sent } = etcd;
    const pipeline = await primed(etcd);
    // A write of other keys beside it changes nothing.
    pipeline.wroteBeside([putKV('other', 'x'), deletePrefixOp('d')]);
    const a = new OpBuffer(sender, 1, pipeline).commit([putKV('a', '1'), putKV('cp', 'p1')], 'x', true);
    await tick();
    expect(sent[0]?.compares).toEqual(['cp=p0']);
    sent[0]?.apply();
    await a;
    // A range delete over the key (the checkpoint cleared) makes its value unknown.
    pipeline.wroteBeside([deletePrefixOp('c')]);
    const b = new OpBuffer(sender, 1, pipeline).commit([putKV('b', '2'), putKV('cp', 'p2')], 'x', true);
    const c = new OpBuffer(sender, 1, pipeline).commit([putKV('c', '3'), putKV('cp', 'p3')], 'x', true);
    await tick();
    expect(sent.slice(1).map((s) => s.compares)).toEqual([[]]);
    sent[1]?.apply();
    await b;
    await tick();
    expect(sent[2]?.compares).toEqual(['cp=p2']);
    sent[2]?.apply();
    await c;
    // So does a put of the key itself.
    pipeline.wroteBeside([putKV('cp', 'saved')]);
    const d = new OpBuffer(sender, 1, pipeline).commit([putKV('cp', 'p4')], 'x', true);
    await tick();
    expect(sent[3]?.compares).toEqual([]);
    sent[3]?.apply();
    await d;
    expect(pipeline.chained).toBe(0);
  });

  it('fails a chained checkpoint as the lock lost when the key holds neither the value before it nor its own', async () => {
    const etcd = fakeEtcd();
    const { sender, sent, store } = etcd;
    const pipeline = await primed(etcd);
    const first = new OpBuffer(sender, 1, pipeline);
    const firstCommit = first.commit([putKV('a', '1'), putKV('cp', 'p1')], 'x', true);
    const second = new OpBuffer(sender, 1, pipeline);
    const secondCommit = second.commit([putKV('b', '2'), putKV('cp', 'p2')], 'x', true).catch((e: unknown) => e);
    await tick();
    sent[0]?.apply();
    await firstCommit;
    // Another writer took the key over.
    store.set('cp', 'theirs');
    sent[1]?.apply();
    await tick();
    sent[2]?.apply();
    await tick();
    sent[3]?.apply();
    expect(String(await secondCommit)).toMatch(/TRIB_LOCK_LOST|lock in etcd is gone/);
    expect(store.get('b')).toBeUndefined();
  });

  it('fails a chained checkpoint with the error of the one before, writing nothing', async () => {
    const etcd = fakeEtcd();
    const { sender, sent, store } = etcd;
    const pipeline = await primed(etcd);
    const first = new OpBuffer(sender, 1, pipeline);
    const firstCommit = first.commit([putKV('a', '1'), putKV('cp', 'p1')], 'x', true).catch((e: unknown) => e);
    const second = new OpBuffer(sender, 1, pipeline);
    const secondCommit = second.commit([putKV('b', '2'), putKV('cp', 'p2')], 'x', true).catch((e: unknown) => e);
    await tick();
    expect(sent).toHaveLength(2);
    sent[1]?.apply(); // overtook the first: its compare fails
    await tick();
    sent[0]?.fail(new Error('lost'));
    expect(await firstCommit).toEqual(new Error('lost'));
    expect(await secondCommit).toEqual(new Error('lost'));
    expect(sent).toHaveLength(2);
    expect(Object.fromEntries(store)).toEqual({ cp: 'p0' });
  });

  it('does not chain to a checkpoint whose value the key may hold already (the last committed one put it too)', async () => {
    const etcd = fakeEtcd();
    const { sender, sent } = etcd;
    const pipeline = await primed(etcd);
    const a = new OpBuffer(sender, 1, pipeline);
    const aCommit = a.commit([putKV('a', '1'), putKV('cp', 'p1')], 'x', true);
    await tick();
    sent[0]?.apply();
    await aCommit;
    const b = new OpBuffer(sender, 1, pipeline);
    const bCommit = b.commit([putKV('b', '2'), putKV('cp', 'p1')], 'x', true);
    const c = new OpBuffer(sender, 1, pipeline);
    const cCommit = c.commit([putKV('c', '3'), putKV('cp', 'p2')], 'x', true);
    await tick();
    // cp holds p1 already: a compare with p1 would not show b applied, so c waits for it.
    expect(sent.map((s) => s.keys)).toEqual([
      ['a', 'cp'],
      ['b', 'cp'],
    ]);
    sent[1]?.apply();
    await bCommit;
    await tick();
    // Not chained, it still compares the value before it.
    expect(sent[2]?.compares).toEqual(['cp=p1']);
    sent[2]?.apply();
    await cCommit;
    expect(pipeline.chained).toBe(0);
  });

  it('waits for the previous checkpoint when both put the same value, and for every other transaction before it', async () => {
    const etcd = fakeEtcd(3);
    const { sender, sent } = etcd;
    const pipeline = await primed(etcd);
    const first = new OpBuffer(sender, 1, pipeline);
    const firstCommit = first.commit([putKV('a', '1'), putKV('cp', 'same')], 'x', true);
    const second = new OpBuffer(sender, 1, pipeline);
    const secondCommit = second.commit([putKV('b', '2'), putKV('cp', 'same')], 'x', true);
    await tick();
    expect(sent).toHaveLength(1);
    sent[0]?.apply();
    await firstCommit;
    await tick();
    sent[1]?.apply();
    await secondCommit;

    // A commit larger than one transaction: its earlier transaction goes out at once, its
    // checkpoint (chained to the third's) only once that earlier one committed.
    const third = new OpBuffer(sender, 1, pipeline);
    const thirdCommit = third.commit([putKV('c', '3'), putKV('cp', 'p3')], 'x', true);
    const fourth = new OpBuffer(sender, 1, pipeline);
    for (const k of ['d', 'e', 'f']) await fourth.add(putKV(k, k), 'x');
    const fourthCommit = fourth.commit([putKV('cp', 'p4')], 'x', true);
    await tick();
    expect(sent.slice(2).map((s) => s.keys)).toEqual([
      ['c', 'cp'],
      ['d', 'e'],
    ]);
    sent[3]?.apply();
    await tick();
    expect(sent.slice(4).map((s) => [s.keys, s.compares])).toEqual([[['f', 'cp'], ['cp=p3']]]);
    sent[2]?.apply();
    sent[4]?.apply();
    await Promise.all([thirdCommit, fourthCommit]);
  });
});

describe('etcd OpBuffer encoding its transactions as it hands them over (the stream\u2019s)', () => {
  /** Two commits of puts, deletes and a range delete, sharing keys, through a buffer that encodes or not: what each transaction sent encodes to. */
  async function run(encode: boolean) {
    const bodies: Buffer[] = [];
    const opsPerTxn: number[] = [];
    const sender: Sender = {
      write: (compare, ops) => {
        bodies.push(encodeTxn(compare, ops));
        opsPerTxn.push(ops.length);
        return Promise.resolve(true);
      },
      maxOps: 4,
      fence: () => [{ key: Buffer.from('/lock'), target: 'Create', result: 'Greater', create_revision: 7 }],
      error: (err) => err as never,
    };
    const pipeline = new Pipeline(STREAM_WINDOW);
    const first = new OpBuffer(sender, 1, pipeline, false, encode);
    for (const k of ['a', 'b', 'c', 'd', 'e']) await first.add(putOp(`/t/${k}`, `{"k":"${k}"}`), 'x');
    await first.add(deleteOp('/t/z'), 'x');
    const one = first.commit([putOp('/cp', '{"p":1}')], 'x', true);
    const second = new OpBuffer(sender, 1, pipeline, false, encode);
    await second.add(putOp('/t/a', '{"k":"a2"}'), 'x');
    await second.add(deletePrefixOp('/u/'), 'x');
    await second.add(putOp('/t/f', '{}'), 'x');
    await Promise.all([one, second.commit([putOp('/cp', '{"p":2}')], 'x', true)]);
    return { bodies, opsPerTxn };
  }

  it('sends the very bytes a buffer that does not encode sends, transaction by transaction, each as one op', async () => {
    const plain = await run(false);
    const encoded = await run(true);
    expect(encoded.bodies).toEqual(plain.bodies);
    expect(plain.opsPerTxn.some((n) => n > 1)).toBe(true);
    expect(encoded.opsPerTxn.every((n) => n === 1)).toBe(true);
  });
});
