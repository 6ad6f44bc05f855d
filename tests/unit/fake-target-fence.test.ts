/**
 * The FakeTarget honours coordinator mode's fence as the real targets do (tests/integration/
 * fence.test.ts), so runner tests can use it: a takeover by a newer epoch refuses every later
 * commit of the older one, an older epoch's takeover is refused, and a self-fenced leadership
 * commits nothing.
 */
import { describe, expect, it } from 'vitest';
import { ErrorCode, TributaryError } from '../../src/core/errors.js';
import type { Fence, StreamCheckpoint } from '../../src/core/target.js';
import { FakeTarget, TABLE } from '../helpers/fakes.js';

const cp = (position: string): StreamCheckpoint => ({ version: 1, position, sourceId: 's', phase: 'stream' });

function fence(epoch: string): Fence & { lost: boolean } {
  return {
    epoch,
    lost: false,
    check() {
      if (this.lost) throw new TributaryError(ErrorCode.LOCK_LOST, 'lease may have expired', { fatal: false });
    },
  };
}

async function batch(t: FakeTarget, id: number, position: string): Promise<void> {
  const tx = await t.begin();
  await tx.write(new Map([['t', TABLE]]), [{ kind: 'upsert', table: 't', key: [BigInt(id)], row: [BigInt(id), 'x'] }]);
  await tx.commit(cp(position));
}

describe('FakeTarget in coordinator mode', () => {
  it('commits nothing of an epoch another took over from, and refuses an older takeover', async () => {
    const t = new FakeTarget();
    await t.lock(undefined, fence('5'));
    await batch(t, 1, 'p1');
    t.takeOver('9');
    await expect(batch(t, 2, 'p2')).rejects.toMatchObject({ code: ErrorCode.FENCED, fatal: false });
    await expect(t.saveStreamCheckpoint(cp('p3'))).rejects.toMatchObject({ code: ErrorCode.FENCED });
    expect(t.table('t').size).toBe(1);
    expect((await t.loadCheckpoint()).stream?.position).toBe('p1');
    expect(() => t.takeOver('7')).toThrow(/epoch 9/);
    expect(t.fenceRecord).toBe('9');
  });

  it('a self-fenced leadership commits nothing', async () => {
    const t = new FakeTarget();
    const f = fence('3');
    await t.lock(undefined, f);
    f.lost = true;
    await expect(batch(t, 1, 'p1')).rejects.toMatchObject({ code: ErrorCode.LOCK_LOST });
    expect(t.table('t').size).toBe(0);
    expect((await t.loadCheckpoint()).stream).toBeNull();
  });
});
