import type { RelayTransaction } from '../../src/relay/record.js';

/** Shared by the relay tests and the child process the kill -9 test runs: position n and transaction n. */
export const p = (n: number): string => `pos-${String(n).padStart(10, '0')}`;
export const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Transaction n: a few rows whose values all derive from n, so a reader can check every byte. */
export function txn(n: number, rows = 1): RelayTransaction {
  const events: RelayTransaction['events'][number][] = [{ type: 'begin' }];
  for (let i = 0; i < rows; i++) {
    events.push({ type: 'change', op: 'insert', change: { kind: 'upsert', table: 't', key: [BigInt(n), BigInt(i)], row: [BigInt(n), BigInt(i), `row ${n}/${i} ${'x'.repeat((n + i) % 50)}`, Buffer.from([n & 255, i & 255]), (n * 7 + i) / 4] } });
  }
  events.push({ type: 'commit', position: p(n), timestamp: 1733000000000 + n });
  return { position: p(n), gtidSet: `0-1-${n}`, events };
}
