import { describe, expect, it } from 'vitest';
import type { StreamEvent } from '../../src/core/change.js';
import { EventQueue } from '../../src/stream/queue.js';
import { EventSpool, SpoolBudget } from '../../src/stream/spool.js';

type ChangeEvent = Extract<StreamEvent, { type: 'change' }>;

function upsert(id: number, extra: Partial<{ unchanged: number[] }> = {}): ChangeEvent {
  return { type: 'change', op: 'insert', change: { kind: 'upsert', table: 't', key: [BigInt(id)], row: [BigInt(id), `v${id}`, Buffer.from([id & 255, 0]), null, 1.5, true], ...extra } };
}

/** An upsert whose row is its JSON document (StreamRequest.documents). */
function documented(id: number): ChangeEvent {
  return { type: 'change', op: 'update', change: { kind: 'upsert', table: 't', key: [BigInt(id)], doc: Buffer.from(`{"id":${id},"s":"\u00e9\u0000"}`) } };
}

function ids(events: Iterable<ChangeEvent>): number[] {
  return [...events].map((e) => Number(e.change.key[0]));
}

describe('EventSpool', () => {
  it('keeps changes in memory within the budget and in a file beyond it, replaying them in order with exact values', () => {
    const budget = new SpoolBudget(500);
    const spool = new EventSpool(budget);
    for (let i = 0; i < 1000; i++) spool.append(i % 5 === 1 ? documented(i) : upsert(i, i % 7 === 0 ? { unchanged: [3] } : {}), 100);
    expect(spool.count).toBe(1000);
    expect(budget.used).toBe(500);
    const out = [...spool.replay()];
    expect(ids(out)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(out[700]).toEqual(upsert(700, { unchanged: [3] }));
    expect(out[999]).toEqual(upsert(999));
    expect(out[701]).toEqual(documented(701));
    expect(out[1]).toEqual(documented(1));
    expect(budget.used).toBe(0);
    expect(spool.count).toBe(0);
  });

  it('truncates to a savepoint in memory and in the file, keeping the savepoint and dropping later ones', () => {
    const budget = new SpoolBudget(300);
    const spool = new EventSpool(budget);
    spool.append(upsert(1), 100);
    spool.mark('a');
    spool.append(upsert(2), 100);
    spool.mark('b');
    for (let i = 3; i < 10; i++) spool.append(upsert(i), 100); // 4.. in the file
    spool.mark('c');
    spool.append(upsert(10), 100);
    expect(spool.truncate('b')).toBe(true);
    expect(spool.hasMark('c')).toBe(false);
    expect(spool.hasMark('b')).toBe(true);
    spool.append(upsert(20), 100);
    expect(spool.truncate('a')).toBe(true);
    spool.append(upsert(30), 100);
    expect(spool.truncate('nope')).toBe(false);
    expect(ids(spool.replay())).toEqual([1, 30]);
    expect(budget.used).toBe(0);
  });

  it('truncates inside the file only', () => {
    const spool = new EventSpool(new SpoolBudget(0));
    for (let i = 0; i < 5; i++) spool.append(upsert(i), 10);
    spool.mark('m');
    for (let i = 5; i < 10; i++) spool.append(upsert(i), 10);
    spool.truncate('m');
    spool.append(upsert(42), 10);
    expect(ids(spool.replay())).toEqual([0, 1, 2, 3, 4, 42]);
  });

  it('shares one budget between spools, and frees it when discarded', () => {
    const budget = new SpoolBudget(250);
    const a = new EventSpool(budget);
    const b = new EventSpool(budget);
    a.append(upsert(1), 200);
    b.append(upsert(2), 100); // over the shared budget: to b's file
    expect(budget.used).toBe(200);
    a.discard();
    expect(budget.used).toBe(0);
    expect(ids(b.replay())).toEqual([2]);
  });
});

describe('EventQueue after a failure', () => {
  it('hands out what came before the failure, then the failure, and never what was pushed after it', async () => {
    const q = new EventQueue<number>({ maxBytes: 1000, pause: () => true, resume: () => undefined });
    q.push(1, 1);
    q.push(2, 1);
    q.fail(new Error('decode failed at 3'));
    q.push(4, 1);
    q.push(5, 1);
    expect((await q.takeRun(() => false, 1))?.[0]).toBe(1);
    expect((await q.takeRun(() => false, 1))?.[0]).toBe(2);
    await expect(q.takeRun(() => false)).rejects.toThrow('decode failed at 3');
    await expect(q.takeRun(() => false)).rejects.toThrow('decode failed at 3');
  });
});
