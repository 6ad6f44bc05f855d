import { ErrorCode, TributaryError } from '../core/errors.js';
import { ENGINES, engineOfScheme } from '../engines/registry.js';

/** A parsed connection URL. The password is kept out of every printable form. */
export interface Dsn {
  /** The engine's name in the registry (src/engines/registry.ts): `mariadb://` reads as `mysql`. */
  readonly engine: string;
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  /** Database (MySQL/PostgreSQL) or key prefix (etcd). */
  readonly database: string;
  readonly params: Readonly<Record<string, string>>;
  /**
   * Every endpoint the URL names, the first being `host`/`port`: one for most engines; several,
   * comma-separated in the URL's authority, for an engine whose registry line takes a cluster
   * (`etcd://a:2379,b:2379/prefix`).
   */
  readonly endpoints: readonly { readonly host: string; readonly port: number }[];
  /**
   * `--query-comment`: the text each engine puts in a block comment before every statement it
   * sends on a connection to this address (connectionDsn sets it from the config; parseDsn never
   * does). Absent: statements go as written. Validated by the config schema; never a secret.
   */
  readonly queryComment?: string;
}

/** The percent-encodings a user must write for the characters a URL's password cannot hold. */
export const PERCENT_ENCODINGS = '%25 for %, %23 for #, %40 for @, %2F for /, %3A for :, %3F for ?, %20 for a space';

/**
 * How to write a password the URL cannot hold as typed: percent-encode it, or give it outside the
 * URL (the role's environment variable or password file, see connection.ts).
 */
function encodeHint(what: string): string {
  const role = /^(source|target|replica)$/.test(what) ? what : undefined;
  const outside = role ? ` or give the password outside the URL (TRIBUTARY_${role.toUpperCase()}_PASSWORD or --${role}-password-file)` : '';
  return `percent-encode special characters in the user and password (${PERCENT_ENCODINGS})${outside}`;
}

function invalid(what: string, shown: string, problem: string, fix: string): TributaryError {
  return new TributaryError(ErrorCode.DSN_INVALID, `${what} URL ${shown} ${problem}; ${fix}`);
}

/** decodeURIComponent that refuses a stray '%' (a URIError otherwise) with the fix. */
function decode(part: string, field: string, what: string, shown: string): string {
  if (!/%(?![0-9A-Fa-f]{2})/.test(part)) {
    try {
      return decodeURIComponent(part);
    } catch {
      // %xx sequences that are not UTF-8 (e.g. %C3%28): the same fix as a stray '%'.
    }
  }
  throw invalid(what, shown, `has a '%' in its ${field} that is not a valid percent-encoding`, `write a literal % as %25; ${encodeHint(what)}`);
}

/**
 * The form to write, in words: never itself a URL with a password, so that redactUrl, which
 * scrubs every message on its way out, leaves it readable.
 */
const FORM = 'write it as mysql://user@host:3306/database (or postgres://, etcd://), with user:password@ in place of user@ for a password';

/**
 * Parses `mysql://user:pass@host:port/db`, `postgres://…/db` or `etcd://host:port/prefix`.
 *
 * Every message it throws (DSN_INVALID) shows the URL through redactConnectionUrl, which is computed before
 * anything is parsed, so a URL too broken to parse never echoes its password. URLs that parse but
 * not as meant are refused rather than half-used: a '#', '/' or '?' typed in a password ends the
 * authority early (`mysql://u:ab#cd@h/db` would reach host `u`), so a fragment, or an '@' after the
 * host, is refused with the percent-encoding to use.
 */
export function parseDsn(url: string, what: string, opts: { readonly databaseOptional?: boolean } = {}): Dsn {
  const shown = redactConnectionUrl(url);
  const { first, more } = splitEndpoints(url);
  let u: URL;
  try {
    u = new URL(first);
  } catch {
    throw invalid(what, shown, `cannot be parsed${whyUnparseable(url)}`, `${FORM}; ${encodeHint(what)}`);
  }
  // 'root:pw@host/db' or 'mysql:root:pw@host/db' parse as a scheme and a path: not a connection URL.
  if (!STARTS_WITH_SCHEME.test(url)) {
    throw invalid(what, shown, `cannot be parsed${NO_SCHEME}`, `${FORM}; ${encodeHint(what)}`);
  }
  const scheme = u.protocol.replace(/:$/, '');
  const entry = engineOfScheme(scheme);
  if (!entry) {
    throw invalid(what, shown, `has scheme '${scheme}:', which is not supported`, `use ${ENGINES.map((e) => `${e.name}://`).join(', ').replace(/, ([^,]*)$/, ' or $1')}; ${FORM}`);
  }
  const engine = entry.name;
  if (u.hash !== '' || url.includes('#')) {
    throw invalid(what, shown, "holds a '#', which ends a URL's address (a '#' in a password cuts it there)", `write # as %23; ${encodeHint(what)}`);
  }
  if ((u.pathname + u.search).includes('@')) {
    throw invalid(what, shown, "has an '@' after its host: a '/' or '?' in the user or password ended the address early", `write / as %2F and ? as %3F; ${encodeHint(what)}`);
  }
  if (!u.hostname) {
    throw invalid(what, shown, 'has no host', 'add one, e.g. @127.0.0.1:3306');
  }
  const port = u.port ? Number(u.port) : entry.defaultPort;
  if (more.length && !entry.cluster && !(entry.sourceHosts && what === 'source')) {
    const several = [...ENGINES.filter((e) => e.cluster).map((e) => `${e.name}://`), ...ENGINES.filter((e) => e.sourceHosts).map((e) => `a ${e.name}:// source`)];
    throw invalid(what, shown, `names ${more.length + 1} hosts`, `give one host:port; only ${several.join(', ').replace(/, ([^,]*)$/, ' or $1')} URL${several.length > 1 ? 's' : ''} name several, comma-separated`);
  }
  const endpoints = [{ host: u.hostname.replace(/^\[|\]$/g, ''), port }];
  for (const m of more) {
    const x = /^(\[[0-9A-Fa-f:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(m);
    if (!x) throw invalid(what, shown, `has an endpoint '${m}' that is not host[:port]`, 'write several endpoints as host1:2379,host2:2379');
    endpoints.push({ host: (x[1] as string).replace(/^\[|\]$/g, ''), port: x[2] ? Number(x[2]) : entry.defaultPort });
  }
  const database = decode(u.pathname.replace(/^\//, ''), 'database', what, shown);
  if (entry.needsDatabase && !database && !opts.databaseOptional) {
    throw invalid(what, shown, 'names no database', `add it as the path, e.g. ${engine}://user@host/mydb`);
  }
  const params: Record<string, string> = {};
  u.searchParams.forEach((v, k) => (params[k] = v));
  return {
    engine,
    host: u.hostname.replace(/^\[|\]$/g, ''),
    port,
    user: decode(u.username, 'user', what, shown),
    password: decode(u.password, 'password', what, shown),
    database,
    params,
    endpoints,
  };
}

/**
 * A URL whose authority names several endpoints (`etcd://u:p@a:2379,b:2379/x`) as the URL with
 * the first alone, which `new URL` parses, and the others ('b:2379').
 */
function splitEndpoints(url: string): { first: string; more: string[] } {
  const m = /^(\s*[A-Za-z][A-Za-z0-9+.-]*:\/\/)([^/?#]*)(.*)$/s.exec(url);
  if (!m) return { first: url, more: [] };
  const authority = m[2] as string;
  const at = authority.lastIndexOf('@');
  const hosts = authority.slice(at + 1).split(',');
  if (hosts.length < 2) return { first: url, more: [] };
  return { first: `${m[1] as string}${authority.slice(0, at + 1)}${hosts[0] as string}${m[3] as string}`, more: hosts.slice(1) };
}

const STARTS_WITH_SCHEME = /^\s*[A-Za-z][A-Za-z0-9+.-]*:\/\//;
const NO_SCHEME = ": it does not begin with a scheme and '://' (mysql://, postgres://, etcd://)";

/** The likely reason a connection URL does not parse, as a clause (or nothing when unclear). */
function whyUnparseable(url: string): string {
  if (!STARTS_WITH_SCHEME.test(url)) return NO_SCHEME;
  if (url.includes('#')) return ": it holds a '#', which ends a URL's address (write # as %23)";
  if (/@(?:[/?]|\s*$)/.test(url)) return ': it has no host after the @';
  return '';
}

/**
 * One connection URL with its password replaced by `***`, safe to print, whether or not it parses.
 *
 * Written for broken input: the scheme may lack its ':' or use one '/', the password may hold
 * unencoded '@', '/', '#', '%' or spaces. The user information ends at the LAST '@' (as in URL
 * parsing, and a password may hold '@'); everything from the first ':' of it to that '@' is hidden.
 * Without any '@', a `name:rest` whose rest is not a port is taken for `user:password` with the
 * host forgotten, and hidden to the end. It may hide more than the password, never less of it.
 */
export function redactConnectionUrl(url: string): string {
  const prefix = /^\s*(?:[A-Za-z][A-Za-z0-9+.-]*:?\/\/+)?/.exec(url)?.[0] ?? '';
  const rest = url.slice(prefix.length);
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    const colon = rest.indexOf(':');
    return colon >= 0 && colon < at ? `${prefix}${rest.slice(0, colon)}:***${rest.slice(at)}` : url;
  }
  const m = /^(\[[^\]]*\]|[^:/?#]*):(.*)$/s.exec(rest);
  if (m && !/^\d{1,5}(?:[/?#].*)?$/s.test(m[2] as string)) return `${prefix}${m[1] as string}:***`;
  return url;
}

/**
 * Text (an error message, a log line, or one URL) with the password of every URL in it replaced by
 * `***`: `scheme://user:…@` up to the last '@' before whitespace. A password holding a space is
 * not found in free text: messages show URLs through redactConnectionUrl or describeDsn in the
 * first place; this is the second net, applied to everything printed.
 */
export function redactUrl(text: string): string {
  return text.replace(/([A-Za-z][A-Za-z0-9+.-]*:?\/\/+[^\s/?#@:]*):\S*@/g, '$1:***@');
}

/**
 * `d` with `host` first (POST /switch-source, docs/failover.md): that host as `host`/`port`, then the
 * URL's other hosts in their order. A host the URL does not name is added in front.
 */
export function preferHost(d: Dsn, host: { readonly host: string; readonly port: number }): Dsn {
  const rest = (d.endpoints ?? [d]).filter((e) => !(e.host === host.host && e.port === host.port));
  return { ...d, host: host.host, port: host.port, endpoints: [{ host: host.host, port: host.port }, ...rest.map((e) => ({ host: e.host, port: e.port }))] };
}

/** 'host:port' ('[v6]:port'; the port defaulting to `defaultPort`) as an endpoint, or undefined when it is not one. */
export function parseHostPort(text: string, defaultPort: number): { host: string; port: number } | undefined {
  const m = /^(\[[0-9A-Fa-f:.]+\]|[^:[\]/\s@]+)(?::(\d{1,5}))?$/.exec(text.trim());
  if (!m) return undefined;
  const port = m[2] ? Number(m[2]) : defaultPort;
  if (port < 1 || port > 65535) return undefined;
  return { host: (m[1] as string).replace(/^\[|\]$/g, ''), port };
}

/** A printable description of a DSN without its password. */
export function describeDsn(d: Dsn): string {
  const hosts = (d.endpoints ?? [d]).map((e) => `${e.host}:${e.port}`).join(',');
  return `${d.engine}://${d.user ? d.user + '@' : ''}${hosts}/${d.database}`;
}
