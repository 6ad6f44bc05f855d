import { describe, expect, it } from 'vitest';
import type { Target, TargetTransaction } from '../../src/core/target.js';
import { applierOf } from '../helpers/copier.js';
import { FakeSource, FakeTarget, until, type SourceWrite } from '../helpers/fakes.js';

const up = (id: number, v: string): SourceWrite => ({ kind: 'upsert', table: 't', row: [BigInt(id), v] });

/**
 * A target under a commit limit whose commits land when the test says so; everything else is the
 * fake's. Logs begin, write, commit and committed per target transaction.
 */
function slowCommits(limit: number) {
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
