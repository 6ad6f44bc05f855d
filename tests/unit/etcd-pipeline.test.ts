import { describe, expect, it } from 'vitest';
import type { Etcd3 } from 'etcd3';
import { OpBuffer, Pipeline, putOp, type Sender } from '../../src/engines/etcd/apply.js';

/** A sender whose transactions commit when the test says so, in any order. */
function fakeSender(maxOps = 4) {
  const sent: { keys: string[]; commit: () => void; fail: (e: Error) => void }[] = [];
  const client = {
    kv: {
      txn: (req: { success: { request_put?: { key: Buffer } }[] }) =>
        new Promise((resolve, reject) => {
          sent.push({ keys: req.success.map((o) => o.request_put?.key.toString() ?? '?'), commit: () => resolve({ succeeded: true }), fail: reject });
        }),
    },
  } as unknown as Etcd3;
  const sender: Sender = { client, maxOps, fence: () => [], error: (err) => err as never };
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
