import { describe, expect, it } from 'vitest';
import { declaredSync } from '../../src/cluster/declare.js';
import { ErrorCode, TributaryError } from '../../src/core/errors.js';

const base = { name: 'orders', source: 'mysql://repl@db1:3306/orders', target: 'mysql://w@db2:3306/orders' };

function refusal(doc: Record<string, unknown>): TributaryError {
  try {
    declaredSync(doc, 'sync file x.yaml');
  } catch (err) {
    if (err instanceof TributaryError) return err;
    throw err;
  }
  throw new Error('not refused');
}

describe('declared syncs (cluster apply)', () => {
  it('keeps the keys as config keys, with the name apart', () => {
    const s = declaredSync({ ...base, 'flush-interval': '100ms', tables: 'a,b', 'source-password-file': '/etc/pw' }, 'x', new Date('2026-01-01T00:00:00Z'));
    expect(s).toEqual({ name: 'orders', config: { source: base.source, target: base.target, flushInterval: '100ms', tables: ['a', 'b'], sourcePasswordFile: '/etc/pw' }, appliedAt: '2026-01-01T00:00:00.000Z' });
  });

  it('refuses a password in a URL or a *-password key by name, never showing it', () => {
    const url = refusal({ ...base, target: 'mysql://w:s3cret@db2:3306/orders' });
    expect(url.code).toBe(ErrorCode.CONFIG_INVALID);
    expect(url.message).toContain('declared sync orders: the target URL carries a password');
    expect(url.message).not.toContain('s3cret');
    const key = refusal({ ...base, 'source-password': 's3cret' });
    expect(key.message).toContain('declared sync orders: source-password would be stored in the coordinator in clear');
    expect(key.message).not.toContain('s3cret');
  });

  it("refuses the worker's keys, a bad name, and what sync's config refuses", () => {
    expect(refusal({ ...base, coordinator: 'etcd://h:2379/x' }).message).toContain('coordinator is the worker');
    expect(refusal({ ...base, name: 'a/b' }).message).toContain("name 'a/b' is not");
    expect(refusal({ source: base.source, target: base.target }).message).toContain('name is missing');
    expect(refusal({ ...base, threads: 'many' }).message).toContain("threads 'many' is not");
  });
});
