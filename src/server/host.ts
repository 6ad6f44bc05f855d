import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { ErrorCode, TributaryError } from '../core/errors.js';
import { isLoopback, type ListenAddress } from './address.js';

/**
 * Which `Host` header values the HTTP API answers: its defence against DNS rebinding.
 *
 * A page on evil.example can make its own name resolve to 127.0.0.1 after it loaded; the browser
 * then sends that page's requests to the API on loopback, where no token is needed, with
 * `Host: evil.example:8080` and a matching Origin. The name in Host is the one thing such a request
 * cannot fake, so every request (every path, every method) whose Host names anything but an address
 * of this API is refused before it is routed.
 *
 * Accepted names (compared without the port, lower-cased; IP literals in canonical form):
 * - the address bound (`--http` host, name or IP);
 * - bound to loopback: also `localhost`, `127.0.0.1` and `[::1]`;
 * - bound to a wildcard (`0.0.0.0`, `::`): `localhost`, `127.0.0.1`, `[::1]`, any IP literal (an IP
 *   cannot be rebound, and behind NAT or a container port mapping the IP a client uses is not one
 *   of this machine's) and this machine's host name (`os.hostname()`, and its first label);
 * - every entry of `--http-allowed-hosts` (a name or IP; `.example.com` also admits its subdomains).
 *
 * The port is not compared: an SSH tunnel or a port mapping changes it, and a rebinding attack is
 * stopped by the name alone. A request without Host (HTTP/1.0 health checkers) is answered: a
 * browser always sends one.
 */
export interface HostPolicy {
  /** Whether a request with this Host header (undefined when absent) may be answered. */
  allows(header: string | undefined): boolean;
  /** The accepted names, for the refusal's message. */
  readonly accepted: readonly string[];
}

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]'];

/** The host part of a Host header, canonical (lower case, IPv6 in brackets); undefined when malformed. */
export function hostOfHeader(header: string): string | undefined {
  const m = /^(\[[0-9A-Fa-f:.]+\]|[^\s:[\]/@\\?#]+)(?::\d{0,5})?$/.exec(header.trim());
  return m ? canonical(m[1] as string) : undefined;
}

/**
 * A name or IP literal in the form browsers send it: lower case, IPv4 in dotted decimal (`127.1`
 * becomes `127.0.0.1`), IPv6 compressed and in brackets. Undefined when it is not a valid host.
 */
function canonical(host: string): string | undefined {
  const bare = host.replace(/^\[|\]$/g, '');
  try {
    const h = new URL(`http://${isIP(bare) === 6 ? `[${bare}]` : bare}/`).hostname;
    return h === '' ? undefined : h;
  } catch {
    return undefined;
  }
}

function isIpLiteral(h: string): boolean {
  return isIP(h.replace(/^\[|\]$/g, '')) !== 0;
}

function isWildcard(host: string): boolean {
  return host === '' || host === '0.0.0.0' || host === '::' || host === '0:0:0:0:0:0:0:0';
}

/**
 * Validates `--http-allowed-hosts` entries: a host name, an IP (IPv6 with or without brackets), or
 * `.domain` for the domain and its subdomains. No ports, schemes or wildcards.
 */
export function parseAllowedHosts(entries: readonly string[]): string[] {
  return entries.map((raw) => {
    const entry = raw.trim();
    const dot = entry.startsWith('.');
    const bare = dot ? entry.slice(1) : entry;
    // A name (labels of letters, digits, '-', '_') or an IP; anything with a scheme, port or '*' is not.
    const shaped = /^[\p{L}\p{N}_-]+(\.[\p{L}\p{N}_-]+)*$/u.test(bare) || isIpLiteral(bare);
    const name = shaped ? canonical(bare) : undefined;
    if (!name || !/^(\[[0-9a-f:.]+\]|[a-z0-9_.-]+)$/.test(name) || (dot && isIpLiteral(name))) {
      throw new TributaryError(
        ErrorCode.CONFIG_INVALID,
        `http-allowed-hosts entry '${raw}' is not a host name or IP; give names as a proxy or browser sends them in Host, without port or scheme, e.g. --http-allowed-hosts tributary.example.com,.internal.example`,
      );
    }
    return dot ? '.' + name : name;
  });
}

/** The policy for an API listening on `bound`, with the operator's extra names (see HostPolicy). */
export function hostPolicy(bound: ListenAddress, allowedHosts: readonly string[] = []): HostPolicy {
  const names = new Set<string>();
  const suffixes: string[] = [];
  const wildcard = isWildcard(bound.host);
  const own = canonical(bound.host);
  if (own && !wildcard) names.add(own);
  if (wildcard || isLoopback(bound.host)) for (const n of LOOPBACK_NAMES) names.add(n);
  if (wildcard) {
    const me = canonical(hostname());
    if (me) {
      names.add(me);
      names.add(me.split('.')[0] as string);
    }
  }
  for (const entry of parseAllowedHosts(allowedHosts)) {
    if (entry.startsWith('.')) suffixes.push(entry);
    else names.add(entry);
  }
  const accepted = [...names, ...suffixes.map((s) => `*${s}`), ...(wildcard ? ['any IP address'] : [])];
  return {
    accepted,
    allows(header) {
      if (header === undefined) return true;
      const h = hostOfHeader(header);
      if (!h) return false;
      if (names.has(h)) return true;
      if (wildcard && isIpLiteral(h)) return true;
      return suffixes.some((s) => h.endsWith(s) || h === s.slice(1));
    },
  };
}
