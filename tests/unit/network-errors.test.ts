import { EtcdPermissionDeniedError, GRPCDeadlineExceededError, GRPCResourceExhastedError, GRPCUnavailableError } from 'etcd3';
import { describe, expect, it } from 'vitest';
import { parseDsn } from '../../src/config/dsn.js';
import { ErrorCode, TributaryError } from '../../src/core/errors.js';
import { connectError as mysqlConnectError } from '../../src/engines/mysql/connection.js';
import { clientOptions, isTransientEtcdError } from '../../src/engines/etcd/connection.js';
import { networkError } from '../../src/engines/network.js';
import { connectError as postgresConnectError } from '../../src/engines/postgres/connection.js';

/** A failure below the protocol reads the same from every engine (src/engines/network.ts). */
const CASES: [string, RegExp][] = [
  ['ECONNREFUSED', /^source mysql:\/\/u@db\.example:3306\/app: connection refused; check that the server runs and listens on db\.example:3306$/],
  ['ENOTFOUND', /host 'db\.example' not found; check the host name in the URL$/],
  ['EAI_AGAIN', /host 'db\.example' not found/],
  ['ETIMEDOUT', /db\.example:3306 unreachable \(ETIMEDOUT\); check the host, port and firewall$/],
  ['EHOSTUNREACH', /unreachable \(EHOSTUNREACH\)/],
  ['ENETUNREACH', /unreachable \(ENETUNREACH\)/],
];

describe('networkError', () => {
  const dsn = parseDsn('mysql://u:secret@db.example/app', 'source');

  it.each(CASES)('%s: CONNECT_FAILED, retryable, naming the server and the fix, never the password', (code, message) => {
    const err = networkError(Object.assign(new Error('x'), { code }), dsn, 'source') as TributaryError;
    expect(err.code).toBe(ErrorCode.CONNECT_FAILED);
    expect(err.fatal).toBe(false);
    expect(err.message).toMatch(message);
    expect(err.message).not.toContain('secret');
  });

  it('leaves protocol errors to the engine', () => {
    expect(networkError(Object.assign(new Error('denied'), { code: 'ER_ACCESS_DENIED_ERROR' }), dsn, 'source')).toBeUndefined();
    expect(networkError(new Error('no code'), dsn, 'source')).toBeUndefined();
    expect(networkError(null, dsn, 'source')).toBeUndefined();
  });

  it.each(CASES.map(([c]) => c))('every engine reports %s through it, word for word', (code) => {
    const err = Object.assign(new Error('x'), { code });
    const expected = (networkError(err, dsn, 'target') as TributaryError).message;
    expect(mysqlConnectError(err, dsn, 'target').message).toBe(expected);
    expect(postgresConnectError(err, dsn, 'target').message).toBe(expected);
  });
});

describe('the etcd client counts only transient errors against an endpoint', () => {
  it('retries and breaks on unavailable and deadline errors, never on RESOURCE_EXHAUSTED (a full cluster, a request too large)', () => {
    expect(isTransientEtcdError(new GRPCUnavailableError('14 UNAVAILABLE: No connection established'))).toBe(true);
    expect(isTransientEtcdError(new GRPCDeadlineExceededError('4 DEADLINE_EXCEEDED'))).toBe(true);
    expect(isTransientEtcdError(new GRPCResourceExhastedError('8 RESOURCE_EXHAUSTED: etcdserver: mvcc: database space exceeded'))).toBe(false);
    expect(isTransientEtcdError(new EtcdPermissionDeniedError('permission denied'))).toBe(false);
    expect(clientOptions(parseDsn('etcd://127.0.0.1:2379/p', 'target'), 'target').faultHandling?.host).toBeTypeOf('function');
  });
});
