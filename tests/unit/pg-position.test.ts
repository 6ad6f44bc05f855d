import { describe, expect, it } from 'vitest';
import { comparePositions, decodePosition, describePosition, encodePosition } from '../../src/engines/postgres/position.js';

describe('PostgreSQL positions with schema change steps', () => {
  it('round-trips a plain LSN and a schema change step', () => {
    expect(encodePosition({ slot: 's', lsn: 0x16b3748n })).toBe('postgres:s:0/16B3748');
    expect(encodePosition({ slot: 's', lsn: 0x16b3748n, step: 2 })).toBe('postgres:s:0/16B3748+2');
    expect(decodePosition('postgres:s:0/16B3748+2')).toEqual({ slot: 's', lsn: 0x16b3748n, step: 2 });
    expect(decodePosition('postgres:s:1/0')).toEqual({ slot: 's', lsn: 1n << 32n });
    expect(describePosition('postgres:s:0/16B3748+2')).toBe('LSN 0/16B3748+2 (slot s)');
  });

  it('orders a step after its LSN and before the next LSN', () => {
    const order = ['postgres:s:0/10', 'postgres:s:0/10+1', 'postgres:s:0/10+2', 'postgres:s:0/11', 'postgres:s:1/0'];
    for (let i = 0; i < order.length; i++) {
      for (let j = 0; j < order.length; j++) expect(comparePositions(order[i] as string, order[j] as string)).toBe(Math.sign(i - j));
    }
  });

  it('refuses what is not a position, naming it', () => {
    expect(() => decodePosition('postgres:s:0/10+x')).toThrow(/'postgres:s:0\/10\+x'.*not valid/);
    expect(() => decodePosition('mysql:bin.000001:4')).toThrow(/not valid/);
  });
});
