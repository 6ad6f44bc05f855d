import { describeDsn, type Dsn } from '../config/dsn.js';
import { ErrorCode, TributaryError } from '../core/errors.js';

/**
 * A connection that failed below the database's own protocol (refused, no such host, unreachable),
 * as every engine reports it: CONNECT_FAILED naming the server and the fix, retryable (the server
 * may be starting). Undefined for any other error, which the engine maps by its own codes
 * (connection.ts `connectError` in each engine folder).
 */
export function networkError(err: unknown, dsn: Dsn, role: string): TributaryError | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  const where = `${role} ${describeDsn(dsn)}`;
  switch (code) {
    case 'ECONNREFUSED':
      return new TributaryError(ErrorCode.CONNECT_FAILED, `${where}: connection refused; check that the server runs and listens on ${dsn.host}:${dsn.port}`, { cause: err, fatal: false });
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new TributaryError(ErrorCode.CONNECT_FAILED, `${where}: host '${dsn.host}' not found; check the host name in the URL`, { cause: err, fatal: false });
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return new TributaryError(ErrorCode.CONNECT_FAILED, `${where}: ${dsn.host}:${dsn.port} unreachable (${code}); check the host, port and firewall`, { cause: err, fatal: false });
    default:
      return undefined;
  }
}
