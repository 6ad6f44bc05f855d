import { readFileSync } from 'node:fs';
import { circuitBreaker, ConsecutiveBreaker, ExponentialBackoff, handleWhen, retry } from 'cockatiel';
import { Etcd3, GRPCResourceExhastedError, isRecoverableError, type IOptions } from 'etcd3';
import { describeDsn, type Dsn } from '../../config/dsn.js';
import { DURATION_RE, toMs } from '../../config/schema.js';
import { ErrorCode, TributaryError } from '../../core/errors.js';
import { networkError } from '../network.js';
import type { UnaryTls } from './unary.js';

/**
 * The URL's options for TLS, as query parameters: `tls=1` (the system's roots), `ca=FILE` (a root
 * certificate of the cluster's own CA), `cert=FILE` and `key=FILE` (a client certificate). Any of
 * ca/cert/key implies TLS.
 */
const TLS_PARAMS = ['tls', 'ca', 'cert', 'key'] as const;
/** Every option an etcd URL takes: TLS_PARAMS, and `timeout` (callTimeoutOf). */
const URL_PARAMS = [...TLS_PARAMS, 'timeout'] as const;

/**
 * How long a unary call to etcd (a transaction, a range, a lease grant; not a watch or a lease's
 * keepalive stream) waits for its answer by default before it fails DEADLINE_EXCEEDED: longer than
 * etcd's own request timeout (5 s and two election timeouts), so that a slow cluster's own answer
 * comes first. A call past it is retried as a lost connection's are; it may have committed, which
 * every write allows for (apply.ts). Without one, a server that answered PINGs but not a call
 * (h2.ts KEEPALIVE finds a silent one) would hold the sync forever.
 */
export const CALL_TIMEOUT_MS = 30_000;

/** The longest `?timeout=`: a timer's limit (2^31 − 1 ms, about 24.8 days); a longer one would fire at once. */
const MAX_CALL_TIMEOUT_MS = 2 ** 31 - 1;

/** The URL's `?timeout=` (500ms, 30s, 2m; a bare number is milliseconds) in whole milliseconds, or CALL_TIMEOUT_MS. */
export function callTimeoutOf(dsn: Dsn, role: string): number {
  const raw = dsn.params.timeout;
  if (raw === undefined) return CALL_TIMEOUT_MS;
  const ms = DURATION_RE.test(raw) ? Math.round(toMs(raw)) : NaN;
  if (!(ms >= 1 && ms <= MAX_CALL_TIMEOUT_MS)) {
    throw new TributaryError(
      ErrorCode.DSN_INVALID,
      `${role} ${describeDsn(dsn)}: ?timeout=${raw} is not a duration from 1ms to ${MAX_CALL_TIMEOUT_MS}ms (about 24 days); give how long an etcd call may wait for its answer, e.g. ?timeout=30s (ms, s or m; the default is ${CALL_TIMEOUT_MS / 1000}s)`,
    );
  }
  return ms;
}

function readPem(dsn: Dsn, param: string, role: string): Buffer {
  const path = dsn.params[param] as string;
  try {
    return readFileSync(path);
  } catch (err) {
    const code = (err as { code?: string }).code ?? String(err);
    throw new TributaryError(ErrorCode.DSN_INVALID, `${role} ${describeDsn(dsn)}: ?${param}=${path} cannot be read (${code}); give the path of a PEM file this user may read`, { cause: err });
  }
}

/** Whether the URL asks for TLS: `?tls=` other than 0/false/off/no, or any of ca, cert, key. */
export function tlsOf(dsn: Dsn): boolean {
  return (dsn.params.tls !== undefined && !/^(0|false|off|no)$/i.test(dsn.params.tls)) || dsn.params.ca !== undefined || dsn.params.cert !== undefined || dsn.params.key !== undefined;
}

/**
 * Which errors the etcd3 client itself retries and counts against an endpoint: the recoverable ones
 * (unavailable, deadline, cancelled, aborted, internal), but not RESOURCE_EXHAUSTED. That one is
 * a full cluster (NOSPACE) or a request over the size limit: retrying it cannot help, and counting
 * it would open the endpoint's circuit breaker, so that the next calls fail with "circuit breaker
 * is open" instead of the reason (a failed `check` line hid the next one that way).
 */
export function isTransientEtcdError(err: Error): boolean {
  return isRecoverableError(err) && !(err instanceof GRPCResourceExhastedError);
}

/** How long an endpoint rests after three transient failures in a row (etcd3's default is 5 s). */
export const ENDPOINT_REST_MS = 1_000;

/**
 * The client's fault handling: per endpoint, a breaker that rests it for ENDPOINT_REST_MS after
 * three transient failures in a row (so that a call goes to another endpoint); around each call,
 * at most 3 attempts with backoff from 50 ms. Callers still see every other error at once, and
 * the session's own bounded retries handle what remains.
 */
function faultHandling(): NonNullable<IOptions['faultHandling']> {
  const transient = handleWhen(isTransientEtcdError);
  return {
    host: () => circuitBreaker(transient, { halfOpenAfter: ENDPOINT_REST_MS, breaker: new ConsecutiveBreaker(3) }),
    global: retry(transient, { maxAttempts: 3, backoff: new ExponentialBackoff({ initialDelay: 50, maxDelay: 1_000 }) }),
  };
}

/** The etcd3 client's options from a URL: every endpoint, TLS from the query, user and password as etcd auth. */
export function clientOptions(dsn: Dsn, role: string): IOptions {
  const unknown = Object.keys(dsn.params).filter((k) => !(URL_PARAMS as readonly string[]).includes(k));
  if (unknown.length) {
    throw new TributaryError(ErrorCode.DSN_INVALID, `${role} ${describeDsn(dsn)}: unknown URL option${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}; an etcd URL takes ${URL_PARAMS.join(', ')} (e.g. ?ca=/etc/etcd/ca.pem)`);
  }
  const timeout = callTimeoutOf(dsn, role);
  const tls = tlsFiles(dsn, role);
  const scheme = tls ? 'https' : 'http';
  const opts: { -readonly [K in keyof IOptions]: IOptions[K] } = {
    hosts: dsn.endpoints.map((e) => `${scheme}://${e.host.includes(':') ? `[${e.host}]` : e.host}:${e.port}`),
    dialTimeout: 10_000,
    faultHandling: faultHandling(),
    // Each attempt of a unary call gets its own deadline (the pool resolves it per attempt).
    defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + timeout }),
  };
  if (tls) {
    opts.credentials = {
      rootCertificate: tls.ca ?? (undefined as unknown as Buffer),
      ...(tls.cert && tls.key ? { certChain: tls.cert, privateKey: tls.key } : {}),
    };
  }
  if (dsn.user) opts.auth = { username: dsn.user, password: dsn.password };
  return opts;
}

/**
 * The URL's TLS as PEM contents (`ca`, a client `cert` and `key`), or undefined without TLS; `{}`
 * trusts the system's roots. Read once per client.
 */
export function tlsFiles(dsn: Dsn, role: string): UnaryTls | undefined {
  if (!tlsOf(dsn)) return undefined;
  if ((dsn.params.cert === undefined) !== (dsn.params.key === undefined)) {
    throw new TributaryError(ErrorCode.DSN_INVALID, `${role} ${describeDsn(dsn)}: a client certificate needs both ?cert= and ?key=; give both PEM files, or neither`);
  }
  return {
    ...(dsn.params.ca !== undefined ? { ca: readPem(dsn, 'ca', role) } : {}),
    ...(dsn.params.cert !== undefined ? { cert: readPem(dsn, 'cert', role), key: readPem(dsn, 'key', role) } : {}),
  };
}

/** A client of the URL's cluster (etcd3 connects lazily: the first call reports a failure). */
export function openClient(dsn: Dsn, role: string): Etcd3 {
  return new Etcd3(clientOptions(dsn, role));
}

/**
 * An etcd3 or gRPC error as a TributaryError naming the cluster and the fix. Unreachable endpoints,
 * timeouts and a leader election in progress are retryable; refused auth and permissions are not.
 */
export function connectError(err: unknown, dsn: Dsn, role: string): TributaryError {
  if (err instanceof TributaryError) return err;
  const network = networkError(err, dsn, role);
  if (network) return network;
  const where = `${role} ${describeDsn(dsn)}`;
  const name = (err as { name?: string } | null)?.name ?? '';
  const msg = (err as { message?: string } | null)?.message ?? String(err);
  if (name === 'EtcdAuthenticationFailedError' || /authentication failed|invalid auth token/i.test(msg)) {
    return new TributaryError(ErrorCode.AUTH_FAILED, `${where}: authentication failed for user '${dsn.user}'; check the user and password in the URL`, { cause: err });
  }
  if (name === 'EtcdPermissionDeniedError' || /permission denied/i.test(msg)) {
    return new TributaryError(ErrorCode.PRIVILEGE_MISSING, `${where}: user '${dsn.user}' lacks a permission (${msg}); grant its role readwrite on the prefix: etcdctl role grant-permission ROLE --prefix=true readwrite /${dsn.database}`, { cause: err });
  }
  if (/database space exceeded|NOSPACE/i.test(msg)) {
    return new TributaryError(ErrorCode.TARGET_WRITE_FAILED, `${where}: the cluster is out of space (${msg}); raise its --quota-backend-bytes, compact and defragment it, then disarm the alarm (etcdctl alarm disarm)`, { cause: err });
  }
  if (/too many operations in txn request/i.test(msg)) {
    return new TributaryError(ErrorCode.CONFIG_INVALID, `${where}: the server holds fewer writes per transaction than --max-txn-ops says (${msg}); set --max-txn-ops to the server's --max-txn-ops (default 128)`, { cause: err });
  }
  if (/request is too large|message larger than max|trying to send message larger/i.test(msg)) {
    return new TributaryError(ErrorCode.TARGET_WRITE_FAILED, `${where}: a transaction exceeds the server's request size (${msg}); raise the server's --max-request-bytes, or lower --max-txn-ops`, { cause: err });
  }
  if (name === 'BrokenCircuitError' || /circuit breaker is open/i.test(msg)) {
    return new TributaryError(ErrorCode.CONNECT_FAILED, `${where}: every endpoint failed 3 calls in a row and rests for ${ENDPOINT_REST_MS / 1000} s (${msg}); the error before it says why; retry`, { cause: err, fatal: false });
  }
  const unavailable = name === 'GRPCUnavailableError' || name === 'GRPCDeadlineExceededError' || /unavailable|deadline|no connection|ECONNREFUSED|leader changed|timed out|connection closed/i.test(msg);
  if (unavailable) {
    const hosts = dsn.endpoints.map((e) => `${e.host}:${e.port}`).join(', ');
    const tlsFix = !tlsOf(dsn)
      ? `, and whether it serves TLS (https): then add ?tls=1, or ?ca=FILE for the cluster's own CA`
      : /bad certificate|certificate required/i.test(msg) && dsn.params.cert === undefined
        ? `; the cluster asks for a client certificate (--client-cert-auth): give ?cert=FILE&key=FILE signed by its CA`
        : `, and that its certificate is signed by the CA in ?ca= (without ?ca=, by a root the system trusts) and names the host`;
    // gRPC's message spans lines (OpenSSL's) and ends in an empty "Resolution note:".
    const said = msg.replace(/\s+/g, ' ').replace(/\.? ?Resolution note: ?$/, '').trim();
    return new TributaryError(ErrorCode.CONNECT_FAILED, `${where}: no endpoint answered (${said}); check that the cluster runs and listens on ${hosts}${tlsFix}`, { cause: err, fatal: false });
  }
  return new TributaryError(ErrorCode.TARGET_WRITE_FAILED, `${where}: ${msg}`, { cause: err, fatal: false });
}
