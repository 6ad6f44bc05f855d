import { describe, expect, it } from 'vitest';
import type { Target, TargetTransaction } from '../../src/core/target.js';
import { applierOf } from '../helpers/copier.js';
import { FakeSource, FakeTarget, until, type SourceWrite } from '../helpers/fakes.js';

const up = (id: number, v: string): SourceWrite => ({ kind: 'upsert', table: 't', row: [BigInt(id), v] });

/**
 * A target under a commit limit whose commits land when the test says so; everything else is the
 * fake's. Logs begin, write, commit and committed per target transaction.
 */
function slowCommits(limit: number | null) {
  const fake = new FakeTarget();
  fake.capabilities = { ...fake.capabilities, commitLimit: limit };
  const log: string[] = [];
  const landing: (() => void)[] = [];
  const failing: ((err: Error) => void)[] = [];
  let n = 0;
  const begin = async (): Promise<TargetTransaction> => {
    const no = ++n;
    log.push(`begin ${no}`);
    return {
      write: async (_tables, changes) => void log.push(`write ${no}: ${changes.map((c) => String(c.key[0])).join(',')}`),
      truncate: async () => undefined,
      cascade: async () => undefined,
      commit: (cp) => {
        log.push(`commit ${no} at ${cp?.position}`);
        return new Promise<void>((resolve, reject) => {
          landing.push(() => (log.push(`committed ${no}`), resolve()));
          failing.push(reject);
        });
      },
      rollback: async () => undefined,
    };
  };
  const target = new Proxy(fake.asTarget(), {
    get(t, p, r) {
      if (p === 'begin') return begin;
      const v: unknown = Reflect.get(t, p, r);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
    },
  }) as Target;
  return { target, log, landing, failing };
}

describe('StreamApplier overlapping commits under a commit limit (the etcd target)', () => {
  it('writes and commits the next source transactions while the commits before them land, acknowledging in order, at most four under way', async () => {
    const source = new FakeSource();
    const { target, log, landing } = slowCommits(2);
    const applier = applierOf(source, target);
    applier.setPhase('stream');
    const running = applier.run();
    const p1 = source.transaction([up(1, 'a'), up(2, 'b'), up(3, 'c')]);
    const p2 = source.transaction([up(4, 'd'), up(5, 'e'), up(6, 'f')]);
    await until('the second commit handed over while the first is in flight', () => log.includes(`commit 2 at ${p2}`));
    expect(log.indexOf(`commit 1 at ${p1}`)).toBeGreaterThan(-1);
    expect(log).not.toContain('committed 1');
    expect(source.acks).not.toContain(p1);
    // The second lands first: nothing is acknowledged before the first has landed, then both in order.
    landing[1]?.();
    await new Promise((r) => setTimeout(r, 20));
    expect(source.acks).not.toContain(p2);
    const barrier = applier.barrier();
    let passed = false;
    void barrier.then(() => (passed = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(passed).toBe(false);
    landing[0]?.();
    await barrier;
    expect(source.acks.slice(-2)).toEqual([p1, p2]);
    // Six more, one commit each: the fifth under way waits for the oldest to land.
    const more = [7, 10, 13, 16, 19, 22].map((id) => source.transaction([up(id, 'g'), up(id + 1, 'h'), up(id + 2, 'i')]));
    await until('four commits under way', () => log.includes(`commit 6 at ${more[3]}`));
    await new Promise((r) => setTimeout(r, 20));
    expect(log.some((l) => l.startsWith('commit 7'))).toBe(false);
    landing[2]?.();
    await until('the fifth commit', () => log.includes(`commit 7 at ${more[4]}`));
    for (let i = 3; i < 7; i++) landing[i]?.();
    await until('the last commit', () => log.includes(`commit 8 at ${more[5]}`));
    landing[7]?.();
    await until('every acknowledgement', () => source.acks.at(-1) === more[5]);
    expect(source.acks.slice(-6)).toEqual(more);
    applier.stop();
    await running;
  });

  it('ends the run with the error of a commit that failed after it returned, acknowledging nothing after it', async () => {
    const source = new FakeSource();
    const { target, log, failing } = slowCommits(2);
    const applier = applierOf(source, target);
    applier.setPhase('stream');
    const running = applier.run();
    const p1 = source.transaction([up(1, 'a'), up(2, 'b'), up(3, 'c')]);
    await until('the first commit', () => log.includes(`commit 1 at ${p1}`));
    failing[0]?.(new Error('etcd went away'));
    await expect(running).rejects.toThrow('etcd went away');
    expect(source.acks).not.toContain(p1);
  });
});

describe('StreamApplier writing a SQL target\'s batch behind (no commit limit)', () => {
  it('reads the next source transactions while a batch lands, and begins the next target transaction only after it committed', async () => {
    const source = new FakeSource();
    const { target, log, landing } = slowCommits(null);
    const applier = applierOf(source, target, { batchSize: 3 });
    applier.setPhase('stream');
    const running = applier.run();
    const p1 = source.transaction([up(1, 'a'), up(2, 'b'), up(3, 'c')]);
    await until('the first batch handed over', () => log.includes(`commit 1 at ${p1}`));
    // While it lands: two more transactions are taken and coalesced (key 4 twice), nothing of them reaches the target.
    const p2 = source.transaction([up(4, 'd'), up(5, 'e')]);
    const p3 = source.transaction([up(4, 'D'), up(6, 'f')]);
    await until('both taken', () => applier.receivedPosition() === p3);
    await new Promise((r) => setTimeout(r, 30));
    expect(log).toEqual(['begin 1', 'write 1: 1,2,3', `commit 1 at ${p1}`]);
    expect(source.acks).not.toContain(p1);
    landing[0]?.();
    // Then one transaction for both, after the first committed and was acknowledged.
    await until('the second batch handed over', () => log.includes(`commit 2 at ${p3}`));
    expect(log.slice(3).map((l) => (l.startsWith('write 2: ') ? `write 2: ${l.slice(9).split(',').sort().join(',')}` : l))).toEqual(['committed 1', 'begin 2', 'write 2: 4,5,6', `commit 2 at ${p3}`]);
    expect(source.acks).toContain(p1);
    expect(source.acks).not.toContain(p2);
    const barrier = applier.barrier();
    landing[1]?.();
    await barrier;
    expect(source.acks.at(-1)).toBe(p3);
    applier.stop();
    await running;
  });

  it('ends the run with the error of a batch that failed while landing: nothing after it begins, the checkpoint stays before it', async () => {
    const source = new FakeSource();
    const { target, log, failing } = slowCommits(null);
    const applier = applierOf(source, target, { batchSize: 2 });
    applier.setPhase('stream');
    const running = applier.run();
    const p1 = source.transaction([up(1, 'a'), up(2, 'b')]);
    await until('the first batch handed over', () => log.includes(`commit 1 at ${p1}`));
    source.transaction([up(3, 'c'), up(4, 'd')]);
    await new Promise((r) => setTimeout(r, 20));
    failing[0]?.(new Error('the connection to PostgreSQL was lost'));
    await expect(running).rejects.toThrow('the connection to PostgreSQL was lost');
    expect(source.acks).not.toContain(p1);
    expect(log.filter((l) => l.startsWith('begin'))).toEqual(['begin 1']);
  });

  it('holds the batch being written and the next one within the buffer: a batch commits by half of it', async () => {
    const source = new FakeSource();
    const { target, log, landing } = slowCommits(null);
    const big = 'x'.repeat(4000);
    // Room for about four of these changes: each batch commits by two.
    const applier = applierOf(source, target, { batchSize: 1000, bufferBytes: 16_500 });
    applier.setPhase('stream');
    const running = applier.run();
    const positions = [1, 2, 3, 4, 5, 6].map((id) => source.transaction([up(id, big)]));
    await until('the first batch handed over', () => log.some((l) => l.startsWith('commit 1')));
    expect(log.find((l) => l.startsWith('write 1'))).toBe('write 1: 1,2');
    for (let i = 0; i < 2; i++) {
      // The next two are taken meanwhile; the third waits for room.
      await new Promise((r) => setTimeout(r, 20));
      expect(log.filter((l) => l.startsWith('begin'))).toHaveLength(i + 1);
      landing[i]?.();
      await until(`batch ${i + 2}`, () => log.some((l) => l.startsWith(`commit ${i + 2}`)));
    }
    expect(log.filter((l) => l.startsWith('write'))).toEqual(['write 1: 1,2', 'write 2: 3,4', 'write 3: 5,6']);
    landing[2]?.();
    await until('every acknowledgement', () => source.acks.at(-1) === positions[5]);
    applier.stop();
    await running;
  });
});
