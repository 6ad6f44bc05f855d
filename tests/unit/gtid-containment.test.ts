/**
 * Failover by GTID (issue 16): the MariaDB containment decision (src/engines/mysql/gtid.ts) on
 * binlog states as the servers report them. The real servers' side is tests/integration/failover.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { ErrorCode, TributaryError } from '../../src/core/errors.js';
import { assertMariadbContains, parseMariadbGtids } from '../../src/engines/mysql/gtid.js';

const base = { where: '127.0.0.1:3307', adoptDomains: false, refuseUnknownDomains: true, oldestList: '' };

function codeOf(f: () => void): string | undefined {
  try {
    f();
    return undefined;
  } catch (err) {
    if (err instanceof TributaryError) return err.code;
    throw err;
  }
}

describe('MariaDB GTID containment', () => {
  it('parses positions, states and Gtid_list texts, 64-bit seq_no included', () => {
    expect(parseMariadbGtids('[0-1-5, 3-2-18446744073709551615]')).toEqual([
      { domain: 0, server: 1, seq: 5n },
      { domain: 3, server: 2, seq: 18446744073709551615n },
    ]);
    expect(parseMariadbGtids('')).toEqual([]);
    expect(codeOf(() => parseMariadbGtids('0-1'))).toBe(ErrorCode.CHECKPOINT_INVALID);
  });

  it('resumes on a promoted replica that has the checkpoint and wrote after it', () => {
    expect(codeOf(() => assertMariadbContains({ ...base, checkpoint: '0-1-100', binlogState: '0-1-100,0-2-140' }))).toBeUndefined();
    expect(codeOf(() => assertMariadbContains({ ...base, checkpoint: '0-1-100', binlogState: '0-1-120' }))).toBeUndefined();
  });

  it('behind: a domain ends before the checkpoint, or is missing', () => {
    const missing = () => assertMariadbContains({ ...base, checkpoint: '0-1-100,1-1-7', binlogState: '0-1-100' });
    expect(codeOf(missing)).toBe(ErrorCode.SOURCE_BEHIND);
    expect(() => missing()).toThrow(/has no transaction of domain 1/);
    const behind = () => assertMariadbContains({ ...base, checkpoint: '0-1-100', binlogState: '0-1-90' });
    expect(codeOf(behind)).toBe(ErrorCode.SOURCE_BEHIND);
    expect(behind).toThrow(/up to GTID 0-1-100, but the server's binlog ends domain 0 at 0-1-90/);
  });

  it('diverged: the seq_no was reached with another server\'s transaction', () => {
    const f = () => assertMariadbContains({ ...base, checkpoint: '0-1-101', binlogState: '0-1-100,0-2-101' });
    expect(codeOf(f)).toBe(ErrorCode.SOURCE_DIVERGED);
    expect(f).toThrow(/holds GTID 0-1-101, but this server reached seq_no 101 of domain 0 with transactions of another server \(its binlog ends the domain at 0-2-101/);
    expect(codeOf(() => assertMariadbContains({ ...base, checkpoint: '0-1-101', binlogState: '0-2-150' }))).toBe(ErrorCode.SOURCE_DIVERGED);
  });

  it('purged: the oldest binlog starts the domain after the checkpoint; a purge up to it is fine', () => {
    const f = () => assertMariadbContains({ ...base, checkpoint: '0-1-100', binlogState: '0-1-100,0-2-200', oldestList: '[0-1-100,0-2-150]' });
    expect(codeOf(f)).toBe(ErrorCode.POSITION_LOST);
    expect(f).toThrow(/starts domain 0 after 0-2-150/);
    expect(codeOf(() => assertMariadbContains({ ...base, checkpoint: '0-1-100', binlogState: '0-1-100,0-2-200', oldestList: '[0-1-100]' }))).toBeUndefined();
  });

  it('unknown domain: refused on another server unless adopted; an adopted domain must be whole', () => {
    const input = { ...base, checkpoint: '0-1-100', binlogState: '0-1-100,5-2-3' };
    expect(codeOf(() => assertMariadbContains(input))).toBe(ErrorCode.GTID_DOMAIN_UNKNOWN);
    expect(() => assertMariadbContains(input)).toThrow(/GTID domain 5 \(up to 5-2-3\).*--gtid-adopt-domains/);
    expect(codeOf(() => assertMariadbContains({ ...input, refuseUnknownDomains: false }))).toBeUndefined();
    expect(codeOf(() => assertMariadbContains({ ...input, adoptDomains: true }))).toBeUndefined();
    expect(codeOf(() => assertMariadbContains({ ...input, adoptDomains: true, oldestList: '[0-1-90,5-2-1]' }))).toBe(ErrorCode.POSITION_LOST);
  });
});
