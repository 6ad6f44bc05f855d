/**
 * A standby's warm sides (src/runner/warm.ts): connected and checked while it stands by, read
 * every refresh, a broken one replaced, handed to the leader's first session when elected (the
 * target only once it has seen the sync's checkpoint), closed otherwise. Hand-made sides that
 * count what is done to them.
 */
import pino from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ChangeSource } from '../../src/core/source.js';
import type { Checkpoint, Target } from '../../src/core/target.js';
import { ErrorCode, TributaryError } from '../../src/core/errors.js';
import type { Sides } from '../../src/runner/session.js';
import { WarmSides } from '../../src/runner/warm.js';

interface Side {
  connects: number;
  /** prepareStream() calls (the source only). */
  prepares: number;
  closes: number;
  reads: number;
  fail?: Error;
}

const log = pino({ level: 'silent' });

/** A pair of sides; `checkpoint` is what the target's reading finds. */
function sides(checkpoint: () => Checkpoint, fail: { preflight?: Error } = {}): { sides: Sides; src: Side; dst: Side } {
  const src: Side = { connects: 0, prepares: 0, closes: 0, reads: 0 };
  const dst: Side = { connects: 0, prepares: 0, closes: 0, reads: 0 };
  const read = async (s: Side) => {
    s.reads++;
    if (s.fail) throw s.fail;
  };
  const source = {
    connect: async () => void src.connects++,
    prepareStream: () => void src.prepares++,
    close: async () => void src.closes++,
    preflight: async () => {
      if (fail.preflight) throw fail.preflight;
    },
    identity: async () => {
      await read(src);
      return { id: 'src', endpoint: 'h:1' };
    },
  } as unknown as ChangeSource;
  const target = {
    connect: async () => void dst.connects++,
    close: async () => void dst.closes++,
    loadCheckpoint: async () => {
      await read(dst);
      return checkpoint();
    },
  } as unknown as Target;
  return { sides: { source, target }, src, dst };
}

const none = (): Checkpoint => ({ stream: null, tables: new Map() });
const some = (): Checkpoint => ({ stream: { position: 'p', phase: 'stream' } as unknown as NonNullable<Checkpoint['stream']>, tables: new Map() });

afterEach(() => vi.useRealTimers());

describe("a standby's warm sides", () => {
  it('connect both, pass the preflight, and hand both over once the target has seen the checkpoint; nothing is closed', async () => {
    const s = sides(some);
    const warm = new WarmSides(async () => s.sides, log, 60_000);
    await warm.open();
    expect(warm.ready).toBe(true);
    expect([s.src.connects, s.dst.connects]).toEqual([1, 1]);
    // The stream an elected standby opens at once is prepared (its decoding thread started).
    expect(s.src.prepares).toBe(1);
    const taken = await warm.take();
    expect(taken?.source).toBe(s.sides.source);
    expect(taken?.target).toBe(s.sides.target);
    await warm.close();
    expect([s.src.closes, s.dst.closes]).toEqual([0, 0]);
  });

  it('a target that saw no checkpoint yet is closed at take(), not handed over (it may have found no database then)', async () => {
    const s = sides(none);
    const warm = new WarmSides(async () => s.sides, log, 60_000);
    await warm.open();
    const taken = await warm.take();
    expect(taken?.source).toBe(s.sides.source);
    expect(taken?.target).toBeUndefined();
    expect([s.src.closes, s.dst.closes]).toEqual([0, 1]);
  });

  it('a refresh that finds the checkpoint makes the target one to hand over', async () => {
    vi.useFakeTimers();
    let cp = none;
    const s = sides(() => cp());
    const warm = new WarmSides(async () => s.sides, log, 1_000);
    await warm.open();
    cp = some;
    await vi.advanceTimersByTimeAsync(1_000);
    expect(s.dst.reads).toBe(2);
    expect((await warm.take())?.target).toBe(s.sides.target);
  });

  it('a failed reading closes both and opens new ones at the next refresh', async () => {
    vi.useFakeTimers();
    const made: ReturnType<typeof sides>[] = [];
    const warm = new WarmSides(async () => {
      const s = sides(some);
      made.push(s);
      return s.sides;
    }, log, 1_000);
    await warm.open();
    (made[0] as ReturnType<typeof sides>).src.fail = new Error('connection lost');
    await vi.advanceTimersByTimeAsync(1_000);
    expect(warm.ready).toBe(false);
    expect([made[0]?.src.closes, made[0]?.dst.closes]).toEqual([1, 1]);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(made.length).toBe(2);
    expect(warm.ready).toBe(true);
    expect((await warm.take())?.source).toBe(made[1]?.sides.source);
  });

  it('a failed preflight throws from open() and leaves nothing open', async () => {
    const refused = new TributaryError(ErrorCode.AUTH_FAILED, 'refused');
    const s = sides(some, { preflight: refused });
    const warm = new WarmSides(async () => s.sides, log, 60_000);
    await expect(warm.open()).rejects.toBe(refused);
    expect([s.src.closes, s.dst.closes]).toEqual([1, 1]);
    expect(s.src.prepares).toBe(0);
    expect(await warm.take()).toBeUndefined();
  });

  it('sides that could not be opened at first are opened at a later refresh', async () => {
    vi.useFakeTimers();
    let down = true;
    const s = sides(some);
    const warm = new WarmSides(async () => {
      if (down) throw new TributaryError(ErrorCode.CONNECT_FAILED, 'target down', { fatal: false });
      return s.sides;
    }, log, 1_000);
    await expect(warm.open()).rejects.toThrow('target down');
    down = false;
    await vi.advanceTimersByTimeAsync(1_000);
    expect(warm.ready).toBe(true);
    await warm.close();
  });

  it('close() closes what was not taken, and no refresh runs after it', async () => {
    vi.useFakeTimers();
    const s = sides(some);
    const warm = new WarmSides(async () => s.sides, log, 1_000);
    await warm.open();
    await warm.close();
    expect([s.src.closes, s.dst.closes]).toEqual([1, 1]);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(s.dst.reads).toBe(1);
  });
});
