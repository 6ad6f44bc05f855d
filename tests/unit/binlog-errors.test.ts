import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/core/errors.js';
import { binlogStreamError } from '../../src/engines/mysql/stream-errors.js';

const from = { file: 'binlog.000007', pos: 1234, gtid: '0-1-99' };

function err1236(message: string): Error {
  return Object.assign(new Error(message), { errno: 1236, code: 'ER_MASTER_FATAL_ERROR_READING_BINLOG' });
}

describe('binlog error 1236', () => {
  it.each([
    'Could not find first log file name in binary log index file',
    'Could not find GTID state requested by slave in any binlog files. Probably the slave state is too old and required binlog files have been purged.',
    'Cannot replicate because the master purged required binary logs. Replicate the missing transactions from elsewhere, or provision a new slave from backup.',
    'The slave is connecting using CHANGE MASTER TO MASTER_AUTO_POSITION = 1, but the master has purged binary logs containing GTIDs that the slave requires.',
  ])('is TRIB_POSITION_LOST only for a purged position: %s', (msg) => {
    const e = binlogStreamError(err1236(msg), from, 4242);
    expect(e.code).toBe(ErrorCode.POSITION_LOST);
    expect(e.fatal).toBe(true);
    expect(e.message).toContain('--force');
    expect(e.message).toContain('binlog.000007:1234');
  });

  it.each([
    ['log event entry exceeded max_allowed_packet; Increase max_allowed_packet on master; the first event ...', /max_allowed_packet = /],
    ['A slave with the same server_uuid/server_id as this slave has connected to the master; the first event ...', /--server-id/],
    ["Error: connecting slave requested to start from GTID 0-1-900, which is not in the master's binlog", /not the server the checkpoint was taken on/],
    ["Client requested master to start replication from impossible position; the first event 'binlog.000001' at 99999", /not the server the checkpoint was taken on/],
    ['bogus data in log event; the first event ...', /error log/],
    ['something the server never said before', /error log/],
  ])('is another fault, with its own fix and never --force: %s', (msg, fix) => {
    const e = binlogStreamError(err1236(msg), from, 4242);
    expect(e.code).toBe(ErrorCode.STREAM_FAILED);
    expect(e.message).toMatch(fix);
    expect(e.message).not.toContain('--force');
  });

  it('leaves connection errors retryable', () => {
    const e = binlogStreamError(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }), from, 1);
    expect(e.code).toBe(ErrorCode.STREAM_FAILED);
    expect(e.fatal).toBe(false);
  });
});
