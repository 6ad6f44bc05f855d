import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { toMs } from '../../src/config/schema.js';
import { dumpSessionSql, heartbeatPeriodMs } from '../../src/engines/mysql/heartbeat.js';

const urls = { source: 'mysql://a@h/d', target: 'mysql://a@h/e' };

describe('binlog heartbeat settings', () => {
  it('defaults --binlog-timeout to 30s, reads it from the environment, and refuses less than 1s by name', () => {
    expect(toMs(loadConfig({ flags: urls, env: {} }).binlogTimeout)).toBe(30_000);
    expect(loadConfig({ flags: urls, env: { TRIBUTARY_BINLOG_TIMEOUT: '5s' } }).binlogTimeout).toBe('5s');
    expect(() => loadConfig({ flags: { ...urls, binlogTimeout: '500ms' }, env: {} })).toThrow(/binlog-timeout '500ms': give at least 1s/);
  });

  it('asks for a heartbeat ten times per timeout, in nanoseconds, and raises the dump session net_write_timeout', () => {
    expect(heartbeatPeriodMs(30_000)).toBe(3000);
    expect(heartbeatPeriodMs(1000)).toBe(100);
    expect(dumpSessionSql(3000)).toEqual(['SET @master_heartbeat_period = 3000000000', 'SET SESSION net_write_timeout = 31536000']);
  });
});
