import mysql from 'mysql2/promise';
import type { ConnectionOptions, Pool, Connection } from 'mysql2/promise';
import { describeDsn, type Dsn } from '../../config/dsn.js';
import { ErrorCode, TributaryError } from '../../core/errors.js';
import { networkError } from '../network.js';

/**
 * Session settings every tributary connection to MySQL/MariaDB uses: UTC so TIMESTAMP values are
 * read and written unshifted, utf8mb4 so every character survives, and a permissive-but-strict
 * sql_mode that accepts zero dates (they exist in sources) yet refuses truncation.
 */
export const SESSION_SQL = [
  "SET time_zone = '+00:00'",
  "SET sql_mode = 'STRICT_ALL_TABLES,NO_AUTO_VALUE_ON_ZERO'",
  'SET foreign_key_checks = 0',
  'SET unique_checks = 1',
];

/** What every statement on a connection to `dsn` begins with: `--query-comment` in a block comment and a space; or undefined. */
export function commentPrefix(dsn: Dsn): string | undefined {
  // The space after the opening marker keeps it a plain comment: '/*!' and '/*M!' would run it as SQL.
  return dsn.queryComment === undefined ? undefined : `/* ${dsn.queryComment} */ `;
}

/** What queryFormat is called on (mysql2 calls it with the connection as `this`). */
interface FormattingConnection {
  readonly config: { readonly stringifyObjects?: boolean };
}

/**
 * mysql2's `queryFormat` connection option, set on every connection these options make (ours, a
 * pool's, and the binlog client's: ZongJi creates its own from them): placeholders filled in as
 * mysql2's own format does, then the query comment put first when there is one (`prefix`). A
 * statement without values is sent as it is: mysql2 formats every `query()`, and its format scans
 * the whole statement for placeholders even when there are no values — a multi-megabyte batch of
 * the stream's upserts each time (1.6 % of the stream's CPU, bench/stream.ts profile).
 */
function queryFormat(prefix = ''): (this: FormattingConnection, sql: string, values: unknown, timezone?: string) => string {
  return function (this: FormattingConnection, sql, values, timezone) {
    const none = values === undefined || values === null || (Array.isArray(values) && values.length === 0);
    return prefix + (none ? sql : mysql.format(sql, values as never, this.config.stringifyObjects, timezone as never));
  };
}

/** A mysql2 connection's callback-style core, as far as the prepared-statement calls go. */
interface PreparingConnection {
  execute(sql: string | { sql: string }, ...rest: unknown[]): unknown;
  prepare(sql: string | { sql: string }, ...rest: unknown[]): unknown;
}

/**
 * The prepared-statement protocol (`execute`, `prepare`) does not go through queryFormat: on our
 * own connections its SQL is prefixed here, so a statement sent that way later carries the comment too.
 */
function commentPrepared(core: PreparingConnection, prefix: string): void {
  const withPrefix = (sql: string | { sql: string }) => (typeof sql === 'string' ? prefix + sql : { ...sql, sql: prefix + sql.sql });
  const execute = core.execute.bind(core);
  const prepare = core.prepare.bind(core);
  core.execute = (sql, ...rest) => execute(withPrefix(sql), ...rest);
  core.prepare = (sql, ...rest) => prepare(withPrefix(sql), ...rest);
}

/**
 * The mysql2 options of a connection to `dsn`, with `extra` over them. Their `queryFormat`
 * (queryFormat) sends a statement without values unscanned and, with a query comment on the DSN,
 * prefixes every statement of every connection made from them.
 */
export function connectionOptions(dsn: Dsn, extra: ConnectionOptions = {}): ConnectionOptions {
  const prefix = commentPrefix(dsn);
  return {
    host: dsn.host,
    port: dsn.port,
    user: dsn.user,
    password: dsn.password,
    database: dsn.database,
    charset: 'UTF8MB4_GENERAL_CI',
    timezone: 'Z',
    dateStrings: true,
    supportBigNumbers: true,
    bigNumberStrings: true,
    decimalNumbers: false,
    jsonStrings: true,
    connectTimeout: 10_000,
    multipleStatements: false,
    queryFormat: queryFormat(prefix),
    ...extra,
  };
}

/** Maps a driver error to a TributaryError that names the server and the fix. */
export function connectError(err: unknown, dsn: Dsn, role: string): TributaryError {
  const e = err as { code?: string; errno?: number; message?: string };
  const network = networkError(err, dsn, role);
  if (network) return network;
  const where = `${role} ${describeDsn(dsn)}`;
  switch (e.code) {
    case 'ER_ACCESS_DENIED_ERROR':
    case 'ER_NOT_SUPPORTED_AUTH_MODE':
      return new TributaryError(ErrorCode.AUTH_FAILED, `${where}: access denied for user '${dsn.user}'; check the user and password in the URL`, { cause: err });
    case 'ER_BAD_DB_ERROR':
      return new TributaryError(ErrorCode.DATABASE_MISSING, `${where}: database '${dsn.database}' does not exist; create it or fix the URL's path`, { cause: err });
    case 'ER_DBACCESS_DENIED_ERROR':
      return new TributaryError(ErrorCode.PRIVILEGE_MISSING, `${where}: user '${dsn.user}' may not use database '${dsn.database}'; GRANT it the privileges in the README`, { cause: err });
    default:
      if (err instanceof TributaryError) return err;
      return new TributaryError(ErrorCode.CONNECT_FAILED, `${where}: ${e.message ?? String(err)}`, { cause: err, fatal: false });
  }
}

async function initSession(conn: { query: (sql: string) => Promise<unknown> }): Promise<void> {
  for (const sql of SESSION_SQL) await conn.query(sql);
}

/** Opens one connection with tributary's session settings. */
export async function openConnection(dsn: Dsn, role: string, extra: ConnectionOptions = {}): Promise<Connection> {
  let conn: Connection;
  try {
    conn = await mysql.createConnection(connectionOptions(dsn, extra));
  } catch (err) {
    throw connectError(err, dsn, role);
  }
  conn.on('error', () => undefined);
  const prefix = commentPrefix(dsn);
  if (prefix !== undefined) commentPrepared((conn as unknown as { readonly connection: PreparingConnection }).connection, prefix);
  await initSession(conn);
  return conn;
}

/** A pool whose every connection carries tributary's session settings. */
export async function openPool(dsn: Dsn, role: string, size: number, extra: ConnectionOptions = {}): Promise<Pool> {
  // Fail fast with a clear message before the pool hides connection errors.
  const probe = await openConnection(dsn, role, extra);
  await probe.end();
  const pool = mysql.createPool({ ...connectionOptions(dsn, extra), connectionLimit: size, maxIdle: size, enableKeepAlive: true });
  // The event hands over the callback-style connection (whatever the promise types say); queries
  // queued here run before any query the pool's user sends on it.
  const prefix = commentPrefix(dsn);
  pool.on('connection', (c) => {
    const core = c as unknown as { query(sql: string, cb: (err: Error | null) => void): void; destroy(): void };
    if (prefix !== undefined) commentPrepared(c as unknown as PreparingConnection, prefix);
    for (const sql of SESSION_SQL) core.query(sql, (err) => err && core.destroy());
  });
  return pool;
}
