import { isIP } from 'node:net';
import { ErrorCode, TributaryError } from '../core/errors.js';

/** Where the HTTP API listens. */
export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

/**
 * Parses the `http` setting: `HOST:PORT`, `[IPv6]:PORT`, or a bare `PORT` (loopback). Port 0 asks
 * the system for a free port (the server reports the one it got).
 */
export function parseListen(value: string): ListenAddress {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]:|([^\s:[\]/]*):)?(\d{1,5})$/.exec(value.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) {
    throw new TributaryError(ErrorCode.CONFIG_INVALID, `http '${value}' is not HOST:PORT; give e.g. --http 127.0.0.1:8080`);
  }
  const host = m[1] ?? (m[2] || '127.0.0.1');
  return { host, port };
}

/** Whether `host` can only be reached from this machine: localhost, 127.0.0.0/8, ::1. */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase();
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  return h.startsWith('::ffff:127.');
}

/**
 * Refuses to serve the API beyond this machine without a token: the API can stop the sync and
 * shows where it stands, so anyone who can reach the port could otherwise do both.
 */
export function assertBindAllowed(addr: ListenAddress, token: string | undefined): void {
  if (isLoopback(addr.host) || token) return;
  throw new TributaryError(
    ErrorCode.CONFIG_INVALID,
    `http '${addr.host}:${addr.port}' listens beyond loopback without a token: set http-token (--http-token, TRIBUTARY_HTTP_TOKEN or http-token in the config file; at least 16 characters), or listen on 127.0.0.1`,
  );
}

/** The base URL a client uses to reach `addr` (an unspecified address is reached on loopback). */
export function baseUrl(addr: ListenAddress): string {
  const host = addr.host === '0.0.0.0' ? '127.0.0.1' : addr.host === '::' ? '::1' : addr.host;
  return `http://${isIP(host) === 6 ? `[${host}]` : host}:${addr.port}`;
}
