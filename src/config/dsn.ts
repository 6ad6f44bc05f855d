import { ErrorCode, TributaryError } from '../core/errors.js';

/** A parsed connection URL. The password is kept out of every printable form. */
export interface Dsn {
  readonly engine: 'mysql' | 'postgres' | 'etcd';
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  /** Database (MySQL/PostgreSQL) or key prefix (etcd). */
  readonly database: string;
  readonly params: Readonly<Record<string, string>>;
}

const DEFAULT_PORTS = { mysql: 3306, postgres: 5432, etcd: 2379 } as const;

/** Parses `mysql://user:pass@host:port/db`, `postgres://…/db` or `etcd://host:port/prefix`. */
export function parseDsn(url: string, what: string): Dsn {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new TributaryError(
      ErrorCode.DSN_INVALID,
      `${what} URL ${redactUrl(url)} cannot be parsed; use the form mysql://user:password@host:3306/database`,
    );
  }
  const scheme = u.protocol.replace(/:$/, '');
  const engine = scheme === 'mariadb' ? 'mysql' : scheme === 'postgresql' ? 'postgres' : scheme;
  if (engine !== 'mysql' && engine !== 'postgres' && engine !== 'etcd') {
    throw new TributaryError(
      ErrorCode.DSN_INVALID,
      `${what} URL ${redactUrl(url)}: scheme '${scheme}:' is not supported; use mysql://, postgres:// or etcd://`,
    );
  }
  if (!u.hostname) {
    throw new TributaryError(ErrorCode.DSN_INVALID, `${what} URL ${redactUrl(url)} has no host; add one, e.g. @127.0.0.1:3306`);
  }
  const port = u.port ? Number(u.port) : DEFAULT_PORTS[engine];
  const database = decodeURIComponent(u.pathname.replace(/^\//, ''));
  if (engine !== 'etcd' && !database) {
    throw new TributaryError(
      ErrorCode.DSN_INVALID,
      `${what} URL ${redactUrl(url)} names no database; add it as the path, e.g. ${engine}://user@host/mydb`,
    );
  }
  const params: Record<string, string> = {};
  u.searchParams.forEach((v, k) => (params[k] = v));
  return {
    engine,
    host: u.hostname.replace(/^\[|\]$/g, ''),
    port,
    user: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
    database,
    params,
  };
}

/** The URL with its password replaced, safe to print. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z]+:\/\/[^:/@]*:)([^@]*)@/i, '$1***@');
}

/** A printable description of a DSN without its password. */
export function describeDsn(d: Dsn): string {
  return `${d.engine}://${d.user ? d.user + '@' : ''}${d.host}:${d.port}/${d.database}`;
}
