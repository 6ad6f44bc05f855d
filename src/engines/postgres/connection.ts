import pg from 'pg';
import { describeDsn, type Dsn } from '../../config/dsn.js';
import { ErrorCode, TributaryError } from '../../core/errors.js';
import { networkError } from '../network.js';

/**
 * Session settings of every tributary connection to a PostgreSQL source, sent in the startup
 * packet so they hold on replication connections too (pgoutput prints values with the walsender
 * session's settings): timestamptz in UTC, ISO dates, the default interval style, shortest exact
 * floats (extra_float_digits=1 since PostgreSQL 12; 0 would round), hex bytea, UTF-8.
 */
export const SESSION_OPTIONS = [
  'TimeZone=UTC',
  'DateStyle=ISO,YMD',
  'IntervalStyle=postgres',
  'extra_float_digits=1',
  'bytea_output=hex',
  'client_encoding=UTF8',
]
  .map((s) => `-c ${s}`)
  .join(' ');

/**
 * Every value comes back as PostgreSQL's text: the codecs in values.ts turn it into canonical
 * values. Installed per client, never on pg's global `types` (other code in the process, and the
 * PostgreSQL target, must keep theirs).
 */
export const RAW_TYPES: pg.CustomTypesConfig = {
  getTypeParser: (() => (value: string) => value) as unknown as pg.CustomTypesConfig['getTypeParser'],
};

/** The application_name of every connection tributary opens (pg_stat_activity, a walsender's standby name). */
export const APPLICATION_NAME = 'tributary';

export function clientConfig(dsn: Dsn, extra: pg.ClientConfig = {}): pg.ClientConfig {
  return {
    host: dsn.host,
    port: dsn.port,
    user: dsn.user || undefined,
    password: dsn.password || undefined,
    database: dsn.database,
    options: SESSION_OPTIONS,
    types: RAW_TYPES,
    application_name: APPLICATION_NAME,
    connectionTimeoutMillis: 10_000,
    keepAlive: true,
    ...extra,
  };
}

/** What every statement on a connection to `dsn` begins with: `--query-comment` in a block comment and a space; or undefined. */
export function commentPrefix(dsn: Dsn): string | undefined {
  return dsn.queryComment === undefined ? undefined : `/* ${dsn.queryComment} */ `;
}

/**
 * The walsender's own commands on a replication connection: its replication grammar takes no
 * comment before them (PostgreSQL 15 answers `syntax error at or near "IDENTIFY_SYSTEM"`), so
 * they are sent as written. SQL on such a connection (SHOW, SELECT) takes the comment.
 */
const REPLICATION_COMMAND = /^\s*(?:IDENTIFY_SYSTEM|CREATE_REPLICATION_SLOT|DROP_REPLICATION_SLOT|ALTER_REPLICATION_SLOT|START_REPLICATION|TIMELINE_HISTORY|READ_REPLICATION_SLOT|BASE_BACKUP|UPLOAD_MANIFEST)\b/i;

/** What pg's `client.query` takes first: text, a config with `text`, or a Submittable (pg-copy-streams' COPY, a cursor) that sends its `text` when submitted. */
type QueryArgument = string | { text?: unknown; submit?: unknown };

/**
 * Replaces `client.query` (through which pg sends every statement of a client, a pool's included)
 * with one that puts `prefix` before the statement's text: a string, a query config (copied), or
 * a Submittable's `text` (set in place before pg submits it). Replication commands go as written.
 * Installed when the client is made (openClient, openPool's 'connect'), so no call site can miss it.
 */
export function commentQueries(client: pg.ClientBase, prefix: string): void {
  const query = client.query.bind(client) as (config: QueryArgument, ...rest: unknown[]) => unknown;
  const commented = (text: string) => (REPLICATION_COMMAND.test(text) ? text : prefix + text);
  const wrapped = (config: QueryArgument, ...rest: unknown[]): unknown => {
    if (typeof config === 'string') return query(commented(config), ...rest);
    if (config !== null && typeof config === 'object' && typeof config.text === 'string') {
      if (typeof config.submit === 'function') {
        config.text = commented(config.text);
        return query(config, ...rest);
      }
      return query({ ...config, text: commented(config.text) }, ...rest);
    }
    return query(config, ...rest);
  };
  (client as unknown as { query: typeof wrapped }).query = wrapped;
}

/** Maps a driver or server error to a TributaryError that names the server and the fix. */
export function connectError(err: unknown, dsn: Dsn, role: string): TributaryError {
  if (err instanceof TributaryError) return err;
  const network = networkError(err, dsn, role);
  if (network) return network;
  const e = err as { code?: string; message?: string };
  const where = `${role} ${describeDsn(dsn)}`;
  const msg = e.message ?? String(err);
  switch (e.code) {
    case '28P01':
      return new TributaryError(ErrorCode.AUTH_FAILED, `${where}: password authentication failed for user '${dsn.user}'; check the user and password in the URL`, { cause: err });
    case '28000':
      if (/superuser or replication role|replication/i.test(msg)) {
        return new TributaryError(ErrorCode.PRIVILEGE_MISSING, `${where}: role '${dsn.user}' may not open a replication connection (${msg}); ALTER ROLE "${dsn.user}" WITH REPLICATION (and allow it in pg_hba.conf)`, { cause: err });
      }
      return new TributaryError(ErrorCode.AUTH_FAILED, `${where}: ${msg}; check the user in the URL and pg_hba.conf`, { cause: err });
    case '3D000':
      return new TributaryError(ErrorCode.DATABASE_MISSING, `${where}: database '${dsn.database}' does not exist; create it (CREATE DATABASE ${dsn.database}) or fix the URL's path`, { cause: err });
    case '42501':
      return new TributaryError(ErrorCode.PRIVILEGE_MISSING, `${where}: role '${dsn.user}' lacks a privilege: ${msg}`, { cause: err });
    default:
      return new TributaryError(ErrorCode.CONNECT_FAILED, `${where}: ${msg}`, { cause: err, fatal: false });
  }
}

/** Opens one client with tributary's session settings (`replication: 'database'` for a walsender). */
export async function openClient(dsn: Dsn, role: string, extra: pg.ClientConfig = {}): Promise<pg.Client> {
  const client = new pg.Client(clientConfig(dsn, extra));
  const prefix = commentPrefix(dsn);
  if (prefix !== undefined) commentQueries(client, prefix);
  // An idle client whose server goes away emits 'error'; the next query reports it.
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => undefined);
    throw connectError(err, dsn, role);
  }
  return client;
}

/** A pool for parallel chunk reads, with the same settings. */
export async function openPool(dsn: Dsn, role: string, size: number): Promise<pg.Pool> {
  // Fail fast with a clear message before the pool hides connection errors.
  const probe = await openClient(dsn, role);
  await probe.end();
  const pool = new pg.Pool({ ...clientConfig(dsn), max: size, idleTimeoutMillis: 30_000 });
  pool.on('error', () => undefined);
  // A client the server ends while it is checked out (pg_terminate_backend by a new leader's
  // takeover, an admin shutdown) emits 'error' with no query to fail: its next query fails instead.
  pool.on('connect', (client) => client.on('error', () => undefined));
  // pg-pool emits 'connect' for a new client before it hands it to anyone.
  const prefix = commentPrefix(dsn);
  if (prefix !== undefined) pool.on('connect', (client) => commentQueries(client, prefix));
  return pool;
}
