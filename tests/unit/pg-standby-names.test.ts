/** Whether a PostgreSQL source's synchronous_standby_names takes tributary's own connection as a synchronous standby (check.ts). */
import { describe, expect, it } from 'vitest';
import { standbysNameTributary } from '../../src/engines/postgres/check.js';

describe('standbysNameTributary', () => {
  it.each([
    ['', undefined],
    ['standby1', undefined],
    ['standby1, tributary_x', undefined],
    ['tributary', 'named'],
    ['s1, TRIBUTARY', 'named'],
    ['FIRST 2 (s1, tributary)', 'named'],
    ['ANY 1 (s1, "tributary")', 'named'],
    ['2 (s1, Tributary)', 'named'],
    ['first 1 ( s1 , tributary )', 'named'],
    ['*', 'any'],
    ['ANY 1 (*)', 'any'],
    ['*, tributary', 'named'],
    ['"*"', 'any'],
  ] as const)('%j → %s', (value, want) => {
    expect(standbysNameTributary(value)).toBe(want);
  });
});
