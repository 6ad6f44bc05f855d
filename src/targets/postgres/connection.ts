import pg from 'pg';
import { describeDsn, type Dsn } from '../../config/dsn.js';
import { ErrorCode, TributaryError } from '../../core/errors.js';

/**
 * Every value comes back as PostgreSQL's own text: the default parsers would turn int8 into
 * strings but timestamps into JS Dates (dropping microseconds, applying the process zone) and
 * json into objects. Installed per client, never globally, so other pg users are unaffected.
 */
const RAW_TEXT = { getTypeParser: () => (v: string) => v } as unknown as pg.CustomTypesConfig;

/**
 * Session settings: UTC and ISO styles so every temporal value reads and writes unshifted and in
 * one form whatever the server's defaults; UTF8 so every character survives.
 */
const SESSION_OPTIONS = '-c TimeZone=UTC -c DateStyle=ISO,YMD -c IntervalStyle=postgres -c client_encoding=UTF8 -c extra_float_digits=1';

export function clientConfig(dsn: Dsn): pg.ClientConfig {
  return {
    host: dsn.host,
    port: dsn.port,
    user: dsn.user || undefined,
    password: dsn.password || undefined,
    database: dsn.database,
    application_name: 'tributary',
    options: SESSION_OPTIONS,
    types: RAW_TEXT,
    connectionTimeoutMillis: 10_000,
    keepAlive: true,
  };
}

/** Maps a driver or server error at connect time to a TributaryError naming the server and the fix. */
export function connectError(err: unknown, dsn: Dsn, role: string): TributaryError {
  if (err instanceof TributaryError) return err;
  const e = err as { code?: string; message?: string };
  const where = `${role} ${describeDsn(dsn)}`;
  const msg = e.message ?? String(err);
  switch (e.code) {
    case 'ECONNREFUSED':
      return new TributaryError(ErrorCode.CONNECT_FAILED, `${where}: connection refused; check that PostgreSQL runs and listens on ${dsn.host}:${dsn.port} (listen_addresses, port)`, { cause: err, fatal: false });
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new TributaryError(ErrorCode.CONNECT_FAILED, `${where}: host '${dsn.host}' not found; check the host name in the URL`, { cause: err, fatal: false });
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return new TributaryError(ErrorCode.CONNECT_FAILED, `${where}: ${dsn.host}:${dsn.port} unreachable (${e.code}); check the host, port and firewall`, { cause: err, fatal: false });
    case '28P01':
    case '28000':
      return new TributaryError(ErrorCode.AUTH_FAILED, `${where}: authentication failed for user '${dsn.user}' (${msg}); check the user and password in the URL and pg_hba.conf`, { cause: err });
    case '3D000':
      return new TributaryError(ErrorCode.DATABASE_MISSING, `${where}: database '${dsn.database}' does not exist; create it (CREATE DATABASE ${dsn.database}) or fix the URL's path`, { cause: err });
    case '42501':
      return new TributaryError(ErrorCode.PRIVILEGE_MISSING, `${where}: user '${dsn.user}' may not connect to database '${dsn.database}'; GRANT CONNECT ON DATABASE ${dsn.database} TO ${dsn.user}`, { cause: err });
    case '57P03':
    case '53300':
      return new TributaryError(ErrorCode.CONNECT_FAILED, `${where}: the server does not accept connections now (${msg}); retry later or raise max_connections`, { cause: err, fatal: false });
    default:
      if (/password must be a string|SASL|password authentication/i.test(msg)) {
        return new TributaryError(ErrorCode.AUTH_FAILED, `${where}: the server asks for a password for user '${dsn.user}'; put it in the URL (postgres://user:password@host/db)`, { cause: err });
      }
      if (/timeout/i.test(msg)) {
        return new TributaryError(ErrorCode.CONNECT_FAILED, `${where}: connection timed out; check the host, port and firewall`, { cause: err, fatal: false });
      }
      return new TributaryError(ErrorCode.CONNECT_FAILED, `${where}: ${msg}`, { cause: err, fatal: false });
  }
}

/** One client with tributary's session settings. */
export async function openClient(dsn: Dsn, role: string): Promise<pg.Client> {
  const client = new pg.Client(clientConfig(dsn));
  // A broken connection surfaces on the next query; an unhandled 'error' event would end the process.
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => undefined);
    throw connectError(err, dsn, role);
  }
  return client;
}

/** A pool of clients with tributary's session settings; connects once first to fail fast and clearly. */
export async function openPool(dsn: Dsn, role: string, size: number): Promise<pg.Pool> {
  const probe = await openClient(dsn, role);
  await probe.end();
  const pool = new pg.Pool({ ...clientConfig(dsn), max: size, idleTimeoutMillis: 0 });
  pool.on('error', () => undefined);
  return pool;
}
