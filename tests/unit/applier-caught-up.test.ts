/**
 * The stream applier commits as soon as the stream is caught up (src/stream/applier.ts
 * caughtUpFlush): a complete source transaction does not wait for --flush-interval when the
 * source has nothing more at hand, while a backlog, or transactions arriving during a commit, are
 * still coalesced into few commits. Bounds here are generous (seconds against a 10 s interval),
 * never speed targets.
 */
import { describe, expect, it } from 'vitest';
import type { Target, TargetTransaction } from '../../src/core/target.js';
import { applierOf } from '../helpers/copier.js';
import { FakeSource, FakeTarget, until, type SourceWrite } from '../helpers/fakes.js';

const up = (id: number, v: string): SourceWrite => ({ kind: 'upsert', table: 't', row: [BigInt(id), v] });

/** The fake target, with each commit held until the test lets it go (`release`). */
function heldCommits(fake: FakeTarget): { target: Target; started: () => number; release: () => void } {
  let started = 0;
  let gate: { promise: Promise<void>; open: () => void } = gateOf();
  const target = new Proxy(fake.asTarget(), {
    get(t, p, r) {
      if (p === 'begin') {
        return async (): Promise<TargetTransaction> => {
          const tx = await t.begin();
          return {
            ...tx,
            write: (...a) => tx.write(...a),
            truncate: (...a) => tx.truncate(...a),
            cascade: (...a) => tx.cascade(...a),
            rollback: () => tx.rollback(),
            commit: async (cp) => {
              started++;
              await gate.promise;
              await tx.commit(cp);
            },
          };
        };
      }
      const v: unknown = Reflect.get(t, p, r);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
    },
  }) as Target;
  return {
    target,
    started: () => started,
    release: () => {
      const g = gate;
      gate = gateOf();
      g.open();
    },
  };
}

function gateOf(): { promise: Promise<void>; open: () => void } {
  let open = () => undefined as void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

describe('StreamApplier commits when the stream is caught up', () => {
  it('commits one small transaction on an idle stream well before a 10 s flush interval', async () => {
    const source = new FakeSource();
    const target = new FakeTarget();
    const applier = applierOf(source, target, { flushIntervalMs: 10_000 });
    applier.setPhase('stream');
    const running = applier.run();
    await new Promise((r) => setTimeout(r, 50));
    const startedAt = Date.now();
    const p = source.transaction([up(1, 'a')]);
    await until('the transaction committed', () => target.lastCheckpoint?.position === p, 2000);
    expect(Date.now() - startedAt).toBeLessThan(2000);
    expect(target.table('t').all()).toEqual([[1n, 'a']]);
    expect(target.commits).toBe(1);
    expect(applier.snapshot()).toMatchObject({ appliedPosition: p, transactionsApplied: 1, commits: 1 });
    applier.stop();
    await running;
  });

  it('coalesces a backlog into one commit', async () => {
    const source = new FakeSource();
    let head = '';
    for (let i = 0; i < 200; i++) head = source.transaction([up(i % 50, `v${i}`), up(1000 + i, 'x')]);
    const target = new FakeTarget();
    const applier = applierOf(source, target, { flushIntervalMs: 10_000 });
    applier.setPhase('stream');
    const running = applier.run();
    await until('the backlog applied', () => target.lastCheckpoint?.position === head, 5000);
    expect(target.commits).toBe(1);
    expect(applier.snapshot()).toMatchObject({ transactionsApplied: 200, commits: 1 });
    expect(target.table('t').all()).toEqual(source.table('t').all());
    applier.stop();
    await running;
  });

  it('coalesces the transactions that arrive while a commit is under way into the next commit', async () => {
    const source = new FakeSource();
    const fake = new FakeTarget();
    const { target, started, release } = heldCommits(fake);
    const applier = applierOf(source, target, { flushIntervalMs: 10_000 });
    applier.setPhase('stream');
    const running = applier.run();
    const first = source.transaction([up(1, 'a')]);
    await until('the first commit under way', () => started() === 1, 2000);
    let head = '';
    for (let i = 0; i < 30; i++) {
      head = source.transaction([up(2 + i, `b${i}`)]);
      // Arriving one by one, each in a later turn of the event loop.
      await new Promise((r) => setImmediate(r));
    }
    expect(fake.commits).toBe(0);
    release();
    await until('the first commit landed', () => fake.lastCheckpoint?.position === first, 2000);
    await until('the second commit under way', () => started() === 2, 2000);
    release();
    await until('everything committed', () => fake.lastCheckpoint?.position === head, 2000);
    // Two commits: the 30 transactions that came during the first went into one.
    expect(fake.commits).toBe(2);
    expect(fake.commitLog[1]?.changes).toHaveLength(30);
    expect(fake.table('t').all()).toEqual(source.table('t').all());
    applier.stop();
    await running;
  });

  it('does not commit position-only progress (a heartbeat) before the flush interval', async () => {
    const source = new FakeSource();
    const target = new FakeTarget();
    const applier = applierOf(source, target, { flushIntervalMs: 10_000 });
    applier.setPhase('stream');
    const running = applier.run();
    const p = source.transaction([up(1, 'a')]);
    await until('the transaction committed', () => target.lastCheckpoint?.position === p, 2000);
    source.push({ type: 'heartbeat', position: String(Number(p) + 1), timestamp: Date.now() });
    await until('the heartbeat read', () => applier.receivedPosition() === String(Number(p) + 1), 2000);
    await new Promise((r) => setTimeout(r, 100));
    expect(target.commits).toBe(1);
    applier.stop();
    await running;
    // The stop commits the position it reached.
    expect(target.lastCheckpoint?.position).toBe(String(Number(p) + 1));
  });
});

describe('StreamApplier lag (snapshot().lagSeconds)', () => {
  it('counts from the oldest transaction not yet committed, not from the last one applied before an idle spell', async () => {
    const source = new FakeSource();
    const fake = new FakeTarget();
    const { target, started, release } = heldCommits(fake);
    const applier = applierOf(source, target, { flushIntervalMs: 10_000 });
    applier.setPhase('stream');
    const running = applier.run();
    // Applied a minute ago (its source commit time), then nothing.
    const old = source.transaction([up(1, 'a')], Date.now() - 60_000);
    await until('the first commit under way', () => started() === 1, 2000);
    expect(applier.snapshot().lagSeconds).toBeGreaterThanOrEqual(59);
    release();
    await until('the first commit landed', () => fake.lastCheckpoint?.position === old, 2000);
    await until('idle', () => applier.waitingIdle(), 2000);
    expect(applier.snapshot().lagSeconds).toBe(0);
    // A transaction committed on the source 3 s ago, its commit held on the target: 3 s behind, not 60.
    const p = source.transaction([up(2, 'b')], Date.now() - 3000);
    await until('the second commit under way', () => started() === 2, 2000);
    const lag = applier.snapshot().lagSeconds;
    expect(lag).toBeGreaterThanOrEqual(3);
    expect(lag).toBeLessThan(30);
    release();
    await until('the second commit landed', () => fake.lastCheckpoint?.position === p, 2000);
    await until('idle', () => applier.waitingIdle(), 2000);
    expect(applier.snapshot().lagSeconds).toBe(0);
    applier.stop();
    await running;
  });

  it('commits nothing between a TRUNCATE and the end of its source transaction (PostgreSQL puts it inside)', async () => {
    const source = new FakeSource();
    const target = new FakeTarget();
    const applier = applierOf(source, target, { flushIntervalMs: 10_000 });
    applier.setPhase('stream');
    const running = applier.run();
    const p1 = source.transaction([up(1, 'a'), up(2, 'b')]);
    await until('the first transaction committed', () => target.commits === 1);
    const ts = Date.now();
    source.push({ type: 'begin' }, { type: 'truncate', table: 't', position: p1, timestamp: ts });
    await new Promise((r) => setTimeout(r, 100));
    expect(target.commits).toBe(1);
    expect(target.table('t').all()).toHaveLength(2);
    source.push({ type: 'change', change: { kind: 'upsert', table: 't', key: [3n], row: [3n, 'c'] }, op: 'insert' }, { type: 'commit', position: '2', timestamp: ts });
    await until('the reload committed whole', () => target.commits === 2);
    expect(target.table('t').all()).toEqual([[3n, 'c']]);
    applier.stop();
    await running;
  });

  it('stops at once when the stop comes while it yields to see whether more is at hand', async () => {
    const source = new FakeSource();
    const target = new FakeTarget();
    const applier = applierOf(source, target, { flushIntervalMs: 10_000 });
    applier.setPhase('stream');
    const running = applier.run();
    let stopAt = 0;
    source.onTake = (ev) => {
      if (ev.type === 'commit') {
        setImmediate(() => {
          stopAt = Date.now();
          applier.stop();
        });
      }
    };
    source.transaction([up(1, 'a')]);
    await running;
    // Not the 10 s interval: a generous bound, not a speed target.
    expect(Date.now() - stopAt).toBeLessThan(5_000);
    expect(target.commits).toBe(1);
  });
});
