import { createServer } from 'node:http';
import { hostname } from 'node:os';
import type { Command } from 'commander';
import { parseDuration } from '../config/load.js';
import { ErrorCode, TributaryError } from '../core/errors.js';
import { createLogger, resolveLogFormat } from '../core/logger.js';
import { ClusterWorker } from '../cluster/worker.js';
import { openClusterStore } from '../engines/registry.js';
import { assertBindAllowed, parseListen } from '../server/address.js';
import { clusterCoordinator } from './cluster.js';
import type { CliContext } from './context.js';

/** A worker's capacity when --capacity is not given. */
export const DEFAULT_CAPACITY = 4;

function positiveInt(flag: string, raw: unknown, fallback: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 1000) throw new TributaryError(ErrorCode.CONFIG_INVALID, `${flag} '${String(raw)}' is not an integer from 1 to 1000`);
  return n;
}

/** `tributary worker`: joins a cluster and runs the syncs its scheduler assigns here until SIGINT/SIGTERM (docs/cluster.md). */
export function registerWorker(program: Command, ctx: CliContext): void {
  program
    .command('worker')
    .description('join a cluster of workers coordinated through etcd, and run the declared syncs its scheduler assigns here (docs/cluster.md)')
    .option('--coordinator <url>', "the cluster's etcd, etcd://host:port[,…]/prefix (or TRIBUTARY_COORDINATOR)")
    .option('--coordinator-password-file <file>', 'file holding the coordinator (etcd) password, instead of one in its URL; or TRIBUTARY_COORDINATOR_PASSWORD')
    .option('--name <name>', 'this worker\'s name in the cluster, unique among live workers (default: HOSTNAME-PID)')
    .option('--capacity <n>', `the most syncs this worker runs (default ${DEFAULT_CAPACITY})`)
    .option('--leader-ttl <duration>', 'the lease TTL of this worker, of each sync\'s leadership and of the scheduler\'s, whole seconds from 2s to 60s: a dead worker\'s syncs move within about this (default 5s)')
    .option('--http <host:port>', 'serve GET /status (this worker\'s syncs) and /healthz here, e.g. 127.0.0.1:8080 (default: off)')
    .option('--http-token <token>', 'bearer token the HTTP API requires (needed off loopback; prefer TRIBUTARY_HTTP_TOKEN)')
    .option('--log-level <level>', 'trace | debug | info | warn | error | silent (default info)')
    .option('--log-format <format>', 'pretty | json (default: pretty when stderr is a terminal, else json)')
    .action(async (opts: Record<string, unknown>) => {
      const env = ctx.env;
      const coordinator = clusterCoordinator(opts, env);
      const name = (opts.name as string | undefined) ?? `${hostname()}-${process.pid}`.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 64);
      if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) throw new TributaryError(ErrorCode.CONFIG_INVALID, `--name '${name}' is not 1 to 64 letters, digits, '_', '.' or '-'`);
      const capacity = positiveInt('--capacity', opts.capacity, DEFAULT_CAPACITY);
      const ttlMs = parseDuration('--leader-ttl', opts.leaderTtl ?? '5s');
      if (ttlMs < 2000 || ttlMs > 60_000 || ttlMs % 1000 !== 0) throw new TributaryError(ErrorCode.CONFIG_INVALID, `--leader-ttl '${String(opts.leaderTtl)}' is not a whole number of seconds from 2s to 60s; give e.g. 5s`);
      const token = (opts.httpToken as string | undefined) ?? (env.TRIBUTARY_HTTP_TOKEN || undefined);
      const listen = opts.http !== undefined ? parseListen(opts.http as string) : undefined;
      if (listen) assertBindAllowed(listen, token);
      const format = opts.logFormat as 'pretty' | 'json' | undefined;
      const logger = createLogger({ level: (opts.logLevel as string | undefined) ?? 'info', format: resolveLogFormat(format) });
      const store = await openClusterStore({ dsn: coordinator.dsn, ttlSeconds: ttlMs / 1000, logger: logger.child({ component: 'cluster' }) });
      const worker = new ClusterWorker({
        store,
        name,
        capacity,
        ...(opts.http !== undefined ? { http: opts.http as string } : {}),
        coordinator: coordinator.url,
        ...(coordinator.password !== undefined ? { coordinatorPassword: coordinator.password } : {}),
        leaderTtl: `${ttlMs / 1000}s`,
        env,
        logger,
      });
      const server = listen
        ? createServer((req, res) => {
            if (token !== undefined && req.headers.authorization !== `Bearer ${token}`) {
              res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'a bearer token is required: Authorization: Bearer <--http-token>' }));
              return;
            }
            if (req.method === 'GET' && req.url === '/status') {
              res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ worker: name, capacity, syncs: worker.syncs() }));
            } else if (req.method === 'GET' && req.url === '/healthz') {
              res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
            } else res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'GET /status or /healthz' }));
          })
        : undefined;
      if (server && listen) await new Promise<void>((resolve, reject) => server.once('error', reject).listen(listen.port, listen.host, resolve));
      const stop = new AbortController();
      let signals = 0;
      const onSignal = (sig: NodeJS.Signals) => {
        if (++signals === 1) {
          logger.info({ signal: sig }, 'stopping: every sync resigns and stops at a transaction boundary (signal again to exit at once)');
          stop.abort();
        } else process.exit(130);
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      try {
        await worker.run(stop.signal);
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        server?.close();
        await store.close();
      }
      logger.info({ worker: name }, 'worker stopped cleanly');
    });
}
