import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { redactUrl } from '../config/dsn.js';
import { ErrorCode, TributaryError } from '../core/errors.js';
import type { Runner } from '../runner/runner.js';
import { assertBindAllowed, isLoopback, parseListen, type ListenAddress } from './address.js';
import { renderDashboard } from './dashboard.js';
import { History, type HistoryJson } from './history.js';
import { hostPolicy, type HostPolicy } from './host.js';
import { bearerMatches, sameOrigin, sendJson, switchSourceRoute, tokenDigest } from './http.js';
import { METRICS_CONTENT_TYPE, SyncMetrics } from './metrics.js';
import { buildStatus, readiness, type ExitStatus } from './status.js';

export interface HttpApiOptions {
  /** The sync to serve; the API only reads it and calls pause/resume/cancel/checksumNow. */
  readonly runner: Pick<Runner, 'syncId' | 'config' | 'phase' | 'progress' | 'health' | 'sourceHead' | 'sourceRetainedBytes' | 'members' | 'pause' | 'resume' | 'cancel' | 'checksumNow' | 'switchSource'>;
  /** HOST:PORT (see parseListen); port 0 picks a free port. */
  readonly listen: string;
  /**
   * Bearer token required on /status, /history, /metrics and every control call; /healthz, /readyz
   * and the dashboard page (GET /, which holds no data) stay open. Required when `listen` is not a loopback address.
   */
  readonly token?: string | undefined;
  /**
   * Names besides the bound address under which the API may be reached (a reverse proxy's or a DNS
   * name), as they appear in the Host header; `.example.com` admits its subdomains. See host.ts.
   */
  readonly allowedHosts?: readonly string[];
  /** /readyz answers 503 beyond this lag (default 60 s). */
  readonly readyMaxLagSeconds?: number;
  /** Samples GET /history keeps, one a second (default 300: five minutes). */
  readonly historySize?: number;
  /**
   * The sync's metrics, served on GET /metrics: the same object given to the Runner as its
   * `observer`, so the histograms fill as it works. Default: a SyncMetrics of this API's own
   * (status families and process metrics; histograms stay at zero).
   */
  readonly metrics?: SyncMetrics;
  readonly logger?: Logger;
}

const DEFAULT_READY_MAX_LAG = 60;
const DEFAULT_HISTORY_SIZE = 300;
const HISTORY_INTERVAL_MS = 1000;

/**
 * The HTTP API of a running sync, on node:http: a web dashboard (GET /, see dashboard.ts),
 * read-only endpoints for people and monitoring (GET /status, /history, /healthz, /readyz,
 * /metrics) and control calls (POST /pause, /resume, /stop, /checksum). Nothing it answers holds a password: URLs are described without theirs and error
 * messages are redacted.
 *
 * Every request whose Host header names anything but an address of the API is refused with 421
 * before it is routed, whatever its path or method: the defence against DNS rebinding (host.ts).
 *
 * Lifecycle: construct (validates the address: a non-loopback host without a token is refused
 * with CONFIG_INVALID, as is a malformed allowed host), start(), close(). The Runner does not depend on it: start it around a
 * Runner when wanted.
 */
export class HttpApi {
  private readonly opts: HttpApiOptions;
  private readonly requested: ListenAddress;
  private readonly tokenDigest: Buffer | undefined;
  private readonly history: History;
  private readonly hosts: HostPolicy;
  private readonly metrics: SyncMetrics;
  /** Refused Host values already logged (bounded), so a page retrying in a loop cannot flood the log. */
  private readonly refusedLogged = new Set<string>();
  private server: Server | undefined;
  private bound: ListenAddress | undefined;
  private sampler: NodeJS.Timeout | undefined;
  /** Set by linger(): the run is over and the API stays up only to show how it ended. */
  private exit: ExitStatus | undefined;
  /** Ends linger() early (POST /stop, or endLinger()). */
  private lingerDone: (() => void) | undefined;

  constructor(opts: HttpApiOptions) {
    this.opts = opts;
    this.requested = parseListen(opts.listen);
    assertBindAllowed(this.requested, opts.token);
    this.hosts = hostPolicy(this.requested, opts.allowedHosts);
    this.tokenDigest = tokenDigest(opts.token);
    this.history = new History(opts.historySize ?? DEFAULT_HISTORY_SIZE);
    this.metrics = opts.metrics ?? new SyncMetrics();
  }

  /** The address listened on (with the actual port when 0 was asked); undefined before start(). */
  get address(): ListenAddress | undefined {
    return this.bound;
  }

  /** Starts listening; CONFIG_INVALID when the address cannot be bound (in use, not local). */
  async start(): Promise<ListenAddress> {
    if (this.bound) return this.bound;
    const server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => this.fail(res, err));
    });
    // A status call must not keep a stopping process waiting.
    server.keepAliveTimeout = 2000;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => {
        reject(
          new TributaryError(
            ErrorCode.CONFIG_INVALID,
            `http '${this.opts.listen}' cannot be listened on (${err.code ?? err.message}); ${err.code === 'EADDRINUSE' ? 'pick a free port' : 'give an address of this machine'} in --http`,
            { cause: err },
          ),
        );
      };
      server.once('error', onError);
      server.listen(this.requested.port, this.requested.host, () => {
        server.off('error', onError);
        resolve();
      });
    });
    server.on('error', (err) => this.opts.logger?.warn({ err: err.message }, 'HTTP API error'));
    this.server = server;
    // The dashboard's charts over the last minutes, for a page opened late; unref'd so the
    // sampler never keeps a stopping process alive.
    this.sample();
    this.sampler = setInterval(() => this.sample(), HISTORY_INTERVAL_MS);
    this.sampler.unref();
    const a = server.address() as AddressInfo;
    this.bound = { host: this.requested.host, port: a.port };
    this.opts.logger?.info({ address: `${this.bound.host}:${this.bound.port}`, auth: this.tokenDigest ? 'bearer token' : 'none (loopback)' }, 'HTTP API listening');
    return this.bound;
  }

  /** Stops listening and closes open connections. */
  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    clearInterval(this.sampler);
    this.sampler = undefined;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  /**
   * Keeps serving for `ms` after the run ended with `error`, so the dashboard and GET /status go
   * on showing it (`--http-linger`): /status gains `exit` (when the process exits, the error's code
   * and message), /readyz answers 503. Resolves after `ms`, at POST /stop, or at endLinger() (a
   * signal), whichever comes first; the caller then closes the API and exits. Resolves at once for
   * `ms` <= 0 or an API not started.
   */
  async linger(ms: number, error: unknown): Promise<void> {
    if (!this.server || !(ms > 0)) return;
    this.exit = {
      at: new Date(Date.now() + ms).toISOString(),
      code: error instanceof TributaryError ? error.code : ErrorCode.INTERNAL,
      message: redactUrl(error instanceof Error ? error.message : String(error)),
    };
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.lingerDone = done;
    });
    this.lingerDone = undefined;
  }

  /** Ends a linger() now (a signal while lingering). */
  endLinger(): void {
    this.lingerDone?.();
  }

  private sample(): void {
    try {
      this.history.add(this.opts.runner.progress());
    } catch (err) {
      this.opts.logger?.debug({ err: err instanceof Error ? err.message : String(err) }, 'history sample failed');
    }
  }

  private get maxLag(): number {
    return this.opts.readyMaxLagSeconds ?? DEFAULT_READY_MAX_LAG;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname.replace(/\/+$/, '') || '/';
    const method = req.method ?? 'GET';
    const route = ROUTES[path];
    this.opts.logger?.debug({ method, path }, 'HTTP request');
    // Bodies are not used (but /switch-source's, read below); drain them so the connection can be reused.
    if (path !== '/switch-source') req.resume();
    // First, before any route, auth or 404: a request for another name is none of this API's.
    if (!this.hosts.allows(req.headers.host)) return this.refuseHost(res, req.headers.host ?? '');
    if (!route) {
      req.resume();
      return sendJson(res, 404, { error: `no endpoint ${path}; try GET / (the dashboard), /status, /history, /healthz, /readyz, /metrics or POST /pause, /resume, /stop, /checksum, /switch-source` });
    }
    if (method !== route.method && !(route.method === 'GET' && method === 'HEAD')) {
      res.setHeader('Allow', route.method === 'GET' ? 'GET, HEAD' : 'POST');
      return sendJson(res, 405, { error: `${path} takes ${route.method}` });
    }
    if (route.auth && !this.authorised(req)) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="tributary"');
      return sendJson(res, 401, { error: 'missing or wrong bearer token: send Authorization: Bearer <http-token>' });
    }
    // A web page the operator has open may POST to a loopback port: refuse control calls that a
    // browser sends from another origin.
    if (route.method === 'POST' && !sameOrigin(req)) return sendJson(res, 403, { error: 'control calls from another origin are refused' });
    const runner = this.opts.runner;
    switch (path) {
      case '/': {
        const page = renderDashboard();
        res.writeHead(200, page.headers);
        res.end(method === 'HEAD' ? undefined : page.html);
        return;
      }
      case '/history': {
        const body: HistoryJson = { now: Date.now(), intervalSeconds: HISTORY_INTERVAL_MS / 1000, samples: this.history.list() };
        return sendJson(res, 200, body);
      }
      case '/healthz':
        return sendJson(res, 200, { status: 'ok', phase: runner.phase });
      case '/readyz': {
        const r = readiness(runner.phase, runner.progress(), runner.health(), this.maxLag);
        return sendJson(res, r.ready ? 200 : 503, { ready: r.ready, phase: runner.phase, ...(r.reason ? { reason: r.reason } : {}) });
      }
      case '/status':
        return sendJson(res, 200, await buildStatus(runner, this.maxLag, this.exit ?? null));
      case '/metrics': {
        const text = await this.metrics.render(await buildStatus(runner, this.maxLag, this.exit ?? null));
        res.writeHead(200, { 'Content-Type': METRICS_CONTENT_TYPE, 'Cache-Control': 'no-store' });
        res.end(text);
        return;
      }
      case '/pause':
        runner.pause();
        return sendJson(res, 202, { paused: true, phase: runner.phase });
      case '/resume':
        runner.resume();
        return sendJson(res, 202, { paused: false, phase: runner.phase });
      case '/stop':
        if (this.lingerDone) {
          this.opts.logger?.info('stop asked over HTTP while lingering after the error: exiting now');
          this.lingerDone();
          return sendJson(res, 202, { stopping: true });
        }
        this.opts.logger?.info('stop asked over HTTP: finishing work in flight and writing a checkpoint');
        runner.cancel();
        return sendJson(res, 202, { stopping: true });
      case '/switch-source':
        return switchSourceRoute(req, res, (host) => runner.switchSource(host), { who: 'the sync', ...(this.opts.logger ? { logger: this.opts.logger } : {}) });
      case '/checksum': {
        const before = runner.progress().checksum;
        if (!before) {
          return sendJson(res, 409, { error: 'no continuous checksum runs now: it starts once the copy is done, unless checksum is off (--checksum off)', phase: runner.phase });
        }
        runner.checksumNow();
        return sendJson(res, 202, { checksum: 'starting', pass: before.pass, state: before.state });
      }
    }
  }

  /**
   * 421 Misdirected Request: the request was meant for another name (DNS rebinding, or a proxy
   * whose name is not in --http-allowed-hosts). Says which names are accepted and how to add one.
   */
  private refuseHost(res: ServerResponse, host: string): void {
    const shown = host.length > 100 ? host.slice(0, 100) + '…' : host;
    if (this.refusedLogged.size < 20 && !this.refusedLogged.has(shown)) {
      this.refusedLogged.add(shown);
      this.opts.logger?.warn({ host: shown, accepted: this.hosts.accepted }, 'HTTP request for another host name refused (421); add the name to --http-allowed-hosts if a proxy or DNS name fronts the API');
    }
    // The accepted names go to the log, not to a caller that may not hold the token.
    const listening = this.opts.listen;
    sendJson(res, 421, {
      error: `Host '${shown}' is not a name of this API (--http ${listening}); reach it by the address it listens on${isLoopback(this.requested.host) ? ' or localhost' : ''}, or add the name a proxy or DNS record gives it to --http-allowed-hosts (TRIBUTARY_HTTP_ALLOWED_HOSTS)`,
    });
  }

  /** Constant-time comparison of the bearer token (digests first, so lengths leak nothing). */
  private authorised(req: IncomingMessage): boolean {
    return bearerMatches(req, this.tokenDigest);
  }

  private fail(res: ServerResponse, err: unknown): void {
    const message = redactUrl(err instanceof Error ? err.message : String(err));
    this.opts.logger?.warn({ err: message }, 'HTTP API request failed');
    if (res.headersSent) {
      res.destroy();
      return;
    }
    sendJson(res, 500, { error: message, ...(err instanceof TributaryError ? { code: err.code } : {}) });
  }
}

const ROUTES: Readonly<Record<string, { readonly method: 'GET' | 'POST'; readonly auth: boolean }>> = {
  // The page holds no data (it asks /status with the token it is given), so it needs none.
  '/': { method: 'GET', auth: false },
  '/history': { method: 'GET', auth: true },
  '/healthz': { method: 'GET', auth: false },
  '/readyz': { method: 'GET', auth: false },
  '/status': { method: 'GET', auth: true },
  '/metrics': { method: 'GET', auth: true },
  '/pause': { method: 'POST', auth: true },
  '/resume': { method: 'POST', auth: true },
  '/stop': { method: 'POST', auth: true },
  '/checksum': { method: 'POST', auth: true },
  '/switch-source': { method: 'POST', auth: true },
};
