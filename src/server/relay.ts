import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { redactUrl } from '../config/dsn.js';
import { ErrorCode, TributaryError } from '../core/errors.js';
import type { Relay, RelayStatus } from '../runner/relay.js';
import { assertBindAllowed, parseListen, type ListenAddress } from './address.js';
import { hostPolicy, type HostPolicy } from './host.js';
import { bearerMatches, sameOrigin, sendJson, switchSourceRoute, tokenDigest } from './http.js';
import { METRICS_CONTENT_TYPE } from './metrics.js';

const STATES: readonly RelayStatus['state'][] = ['starting', 'streaming', 'paused', 'retrying', 'stopped', 'failed'];

/**
 * The metrics of one relay in a registry of its own (prom-client, as the sync's SyncMetrics),
 * set from its status at each scrape. docs/relay.md lists the series.
 */
export class RelayMetrics {
  readonly registry = new Registry();
  private readonly g: Readonly<Record<'state' | 'paused' | 'lag' | 'bytes' | 'segments' | 'ordinal' | 'transactions' | 'reconnects' | 'readers' | 'readerLost', Gauge>>;

  constructor(opts: { readonly defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    const gauge = (name: string, help: string, labelNames: string[] = []) => new Gauge({ name, help, labelNames, registers });
    this.g = {
      state: gauge('tributary_relay_state', 'State of the relay: 1 for the current state, 0 for the others.', ['state']),
      paused: gauge('tributary_relay_paused', 'Whether the relay is paused (POST /pause).'),
      lag: gauge('tributary_relay_lag_seconds', 'Seconds between now and the source time of the last event the relay stored.'),
      bytes: gauge('tributary_relay_bytes', 'Bytes of the relay segments on disk.'),
      segments: gauge('tributary_relay_segments', 'Segment files the relay holds.'),
      ordinal: gauge('tributary_relay_durable_ordinal', 'Ordinal of the last durable transaction (-1 before any).'),
      transactions: gauge('tributary_relay_transactions', 'Source transactions (and schema changes, truncates) stored since the relay process started.'),
      reconnects: gauge('tributary_relay_reconnects', 'Reconnects to the source since the relay process started.'),
      readers: gauge('tributary_relay_readers', 'Registered readers (syncs reading the relay), lost ones included.'),
      readerLost: gauge('tributary_relay_reader_lost', 'Per reader: 1 when the relay marked it lost, else 0.', ['reader']),
    };
    if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  /** The exposition (Prometheus text format) with every family set from `s`. */
  async render(s: RelayStatus): Promise<string> {
    const g = this.g;
    g.state.reset();
    for (const st of STATES) g.state.set({ state: st }, st === s.state ? 1 : 0);
    g.paused.set(s.paused ? 1 : 0);
    g.lag.set(s.lagSeconds);
    g.bytes.set(s.bytes);
    g.segments.set(s.segments.length);
    g.ordinal.set(s.durableOrdinal);
    g.transactions.set(s.transactions);
    g.reconnects.set(s.reconnects);
    g.readers.set(s.readers.length);
    g.readerLost.reset();
    for (const r of s.readers) g.readerLost.set({ reader: r.id }, r.lost ? 1 : 0);
    return this.registry.metrics();
  }
}

export interface RelayHttpOptions {
  readonly relay: Pick<Relay, 'status' | 'pause' | 'resume' | 'switchSource'>;
  /** HOST:PORT (the `http` setting). Beyond loopback it needs `token`. */
  readonly listen: string;
  readonly token?: string;
  readonly allowedHosts?: readonly string[];
  readonly metrics?: RelayMetrics;
  readonly logger?: Logger;
}

/**
 * The HTTP API of a relay: GET /status (JSON: RelayStatus), GET /metrics (Prometheus), GET
 * /healthz, POST /pause, /resume and /switch-source (409 with the code when the host is refused).
 * The same rules as the sync's API (server.ts): a bearer token
 * when set (required off loopback), Host header checked against the bound address and
 * --http-allowed-hosts, control calls from another browser origin refused. Nothing it answers
 * holds a password.
 */
export class RelayHttp {
  private readonly requested: ListenAddress;
  private readonly hosts: HostPolicy;
  private readonly tokenDigest: Buffer | undefined;
  private readonly metrics: RelayMetrics;
  private server: Server | undefined;
  private bound: ListenAddress | undefined;

  constructor(private readonly opts: RelayHttpOptions) {
    this.requested = parseListen(opts.listen);
    assertBindAllowed(this.requested, opts.token);
    this.hosts = hostPolicy(this.requested, opts.allowedHosts);
    this.tokenDigest = tokenDigest(opts.token);
    this.metrics = opts.metrics ?? new RelayMetrics();
  }

  get address(): ListenAddress | undefined {
    return this.bound;
  }

  /** Starts listening; CONFIG_INVALID when the address cannot be bound. */
  async start(): Promise<ListenAddress> {
    if (this.bound) return this.bound;
    const server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        const message = redactUrl(err instanceof Error ? err.message : String(err));
        this.opts.logger?.warn({ err: message }, 'relay HTTP request failed');
        if (res.headersSent) res.destroy();
        else sendJson(res, 500, { error: message, ...(err instanceof TributaryError ? { code: err.code } : {}) });
      });
    });
    server.keepAliveTimeout = 2000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) =>
        reject(new TributaryError(ErrorCode.CONFIG_INVALID, `http '${this.opts.listen}' cannot be listened on (${err.code ?? err.message}); ${err.code === 'EADDRINUSE' ? 'pick a free port' : 'give an address of this machine'} in --http`, { cause: err })),
      );
      server.listen(this.requested.port, this.requested.host, () => resolve());
    });
    server.removeAllListeners('error');
    server.on('error', (err) => this.opts.logger?.warn({ err: err.message }, 'relay HTTP API error'));
    this.server = server;
    const a = server.address() as AddressInfo;
    this.bound = { host: this.requested.host, port: a.port };
    this.opts.logger?.info({ address: `${this.bound.host}:${this.bound.port}`, auth: this.tokenDigest ? 'bearer token' : 'none (loopback)' }, 'relay HTTP API listening');
    return this.bound;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname.replace(/\/+$/, '') || '/';
    const method = req.method ?? 'GET';
    // Bodies are not used (but /switch-source's, read below); drain them so the connection can be reused.
    if (path !== '/switch-source') req.resume();
    if (!this.hosts.allows(req.headers.host)) return sendJson(res, 421, { error: `Host '${(req.headers.host ?? '').slice(0, 100)}' is not a name of this API (--http ${this.opts.listen}); reach it by the address it listens on, or add the name to --http-allowed-hosts` });
    const route = ROUTES[path];
    if (!route) {
      req.resume();
      return sendJson(res, 404, { error: `no endpoint ${path}; try GET /status, /healthz, /metrics or POST /pause, /resume, /switch-source` });
    }
    if (method !== route && !(route === 'GET' && method === 'HEAD')) {
      res.setHeader('Allow', route === 'GET' ? 'GET, HEAD' : 'POST');
      return sendJson(res, 405, { error: `${path} takes ${route}` });
    }
    if (path !== '/healthz' && !this.authorised(req)) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="tributary"');
      return sendJson(res, 401, { error: 'missing or wrong bearer token: send Authorization: Bearer <http-token>' });
    }
    if (route === 'POST' && !sameOrigin(req)) return sendJson(res, 403, { error: 'control calls from another origin are refused' });
    const relay = this.opts.relay;
    switch (path) {
      case '/healthz':
        return sendJson(res, 200, { status: 'ok' });
      case '/status':
        return sendJson(res, 200, await relay.status());
      case '/metrics': {
        const text = await this.metrics.render(await relay.status());
        res.writeHead(200, { 'Content-Type': METRICS_CONTENT_TYPE, 'Cache-Control': 'no-store' });
        res.end(method === 'HEAD' ? undefined : text);
        return;
      }
      case '/pause':
        relay.pause();
        return sendJson(res, 202, { paused: true });
      case '/resume':
        relay.resume();
        return sendJson(res, 202, { paused: false });
      case '/switch-source':
        return switchSourceRoute(req, res, (host) => relay.switchSource(host), { who: 'the relay', ...(this.opts.logger ? { logger: this.opts.logger } : {}), extra: { relay: true } });
    }
  }

  private authorised(req: IncomingMessage): boolean {
    return bearerMatches(req, this.tokenDigest);
  }
}

const ROUTES: Readonly<Record<string, 'GET' | 'POST'>> = { '/healthz': 'GET', '/status': 'GET', '/metrics': 'GET', '/pause': 'POST', '/resume': 'POST', '/switch-source': 'POST' };
