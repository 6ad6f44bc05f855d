import type { Command } from 'commander';
import { loadConfig } from '../config/load.js';
import { toMs, type SyncConfig } from '../config/schema.js';
import { formatDuration } from '../runner/progress.js';
import { ErrorCode, TributaryError } from '../core/errors.js';
import { createLogger, resolveLogFormat, type Logger } from '../core/logger.js';
import { formatPlan, planSync } from '../runner/plan.js';
import { Runner } from '../runner/runner.js';
import type { HttpApi } from '../server/server.js';
import { ProgressWebhook } from '../server/webhook.js';
import { collectFlags, type CliContext } from './context.js';
import { ProgressPrinter, resolveProgress } from './progress-printer.js';

/** The options of a sync (config keys), shared by the commands that run one (sync, move). */
export function addSyncOptions(cmd: Command): Command {
  return cmd
    .option('--source <url>', 'source database URL, e.g. mysql://user:pass@host:3306/db')
    .option('--target <url>', 'target database URL, e.g. mysql://user:pass@host:3306/db')
    .option('--source-password-file <file>', 'file holding the source password (trailing newline stripped), instead of one in the URL; or TRIBUTARY_SOURCE_PASSWORD')
    .option('--target-password-file <file>', 'file holding the target password (trailing newline stripped), instead of one in the URL; or TRIBUTARY_TARGET_PASSWORD')
    .option('--tables <names>', 'comma-separated table names or globs (default: all tables); with --databases also db.table')
    .option('--databases <names>', 'sync several databases of a MySQL source (its URL then names none), names or globs, each into the target database (PostgreSQL: schema) of its name; tables are then named db.table')
    .option('--database-rewrites <list>', 'write source databases (schemas) under other names on the target, src=dst[,…] (with --databases)')
    .option('--threads <n>', 'parallel copy workers (default 4)')
    .option('--flush-interval <duration>', 'longest wait before buffered changes are committed while more keep arriving (a caught-up stream commits at once), e.g. 1s, 500ms (default 1s)')
    .option('--copy-only', 'copy, checkpoint and exit without streaming')
    .option('--force', 'drop and recreate target tables when no checkpoint can resume')
    .option('--id <id>', 'sync id naming the checkpoint and lock (default: derived from source and target)')
    .option('--server-id <n>', 'binlog client server_id (default: derived from the sync id)')
    .option('--position-mode <mode>', 'resume the binlog by auto | gtid | file (default auto)')
    .option('--gtid-adopt-domains', 'resuming on another server in GTID mode (failover): stream the GTID domains it logged that the checkpoint does not know from their first transaction, instead of refusing them')
    .option('--chunk-time <duration>', 'target duration of one copy chunk (default 200ms)')
    .option('--chunk-size <n>', 'initial rows per copy chunk (default 5000)')
    .option('--copy-order <order>', 'the direction the copy walks each table\'s primary key: asc | desc (the highest keys first; a table resumed mid-copy goes on as its checkpoint began) (default asc)')
    .option('--batch-size <n>', 'most changes per target transaction (default 20000)')
    .option('--buffer-mb <n>', 'bound on buffered stream data in MiB (default 32)')
    .option('--binlog-timeout <duration>', 'MySQL source: reconnect when the binlog connection is silent this long, heartbeats included (default 30s)')
    .option('--decode-thread <on|off>', 'MySQL source: decode the binlog in a thread of its own beside the one that applies (default on)')
    .option('--zero-dates <policy>', "MySQL zero dates for a target without them: error | null (default error)")
    .option('--foreign-keys <policy>', "the source's foreign keys among the synced tables: create (on the target, after the initial copy) | skip (default create)")
    .option('--ddl <policy>', 'a schema change of a synced table while streaming: follow (apply it to the target) | halt (stop on it) (default follow)')
    .option('--osc-shadows <patterns>', "online schema change tools' shadow tables, one * for the real table's name (default _*_gho,_*_new: gh-ost, pt-online-schema-change)")
    .option('--skip-ddl <position>', 'go on past the one schema change at this position (as the message that stopped the sync prints it) without applying it to the target')
    .option('--coordinator <url>', 'run as one of several instances of this sync: campaign in this etcd cluster, etcd://host:port[,…]/prefix; the leader syncs, the others stand by and take over, fenced by its epoch (docs/standby.md)')
    .option('--coordinator-password-file <file>', 'file holding the coordinator (etcd) password, instead of one in its URL; or TRIBUTARY_COORDINATOR_PASSWORD')
    .option('--leader-ttl <duration>', 'with --coordinator: the leadership lease TTL, whole seconds from 2s to 60s; a standby takes over within about this after the leader dies (default 5s)')
    .option('--relay-dir <dir>', "read the stream from this relay directory (tributary relay) instead of the source's change log; the copy still reads the source")
    .option('--slot <name>', 'PostgreSQL source: replication slot (default: created for this sync)')
    .option('--publication <name>', 'PostgreSQL source: publication (default: created for this sync)')
    .option('--pg-ddl-trigger <mode>', 'PostgreSQL source: install (the event trigger that writes DDL into the WAL, when the role is a superuser) | off (Relation messages only) (default install)')
    .option('--etcd-layout <layout>', "etcd target: key layout, tributary (<prefix>/<table>/<key>) | contrail (<prefix>/<resource-type>/<key>, contrail's sync) (default tributary)")
    .option('--max-txn-ops <n>', "etcd target: the server's --max-txn-ops, the most writes one etcd transaction holds (default 128)")
    .option('--lock-ttl <duration>', "etcd target: the sync lock's lease, whole seconds from 2s to 60s: a killed instance's lock goes after it (default 10s)")
    .option('--column-types <list>', 'target type overrides, table.column=TYPE[,…]')
    .option('--table-rewrites <list>', 'write source tables under other names on the target, src=dst[,…]')
    .option('--exclude-columns <list>', 'leave columns out of the target, table.column[,…] (not a key column)')
    .option('--where <filter>', "sync only the rows of a table for which an expression is true, 'TABLE: EXPR' (repeatable, one per table; see docs/filters.md)", (v: string, prev: string[] | undefined) => [...(prev ?? []), v])
    .option('--checksum <on|off>', 'checksum every table again and again while streaming, repairing what differs (default on)')
    .option('--checksum-interval <duration>', 'rest between two checksum passes, e.g. 30s, 5m (default 30s)')
    .option('--http <host:port>', 'serve the HTTP API (status, health, metrics, control) here, e.g. 127.0.0.1:8080 (default: off)')
    .option('--http-token <token>', 'bearer token the HTTP API requires (needed off loopback; prefer TRIBUTARY_HTTP_TOKEN)')
    .option('--http-allowed-hosts <names>', 'comma-separated names besides its address under which the HTTP API is reached (a proxy\'s or DNS name; .example.com admits subdomains); other Host headers get 421')
    .option('--http-linger <duration>', 'after a fatal error, keep serving the dashboard and /status this long before exiting, e.g. 30s, 5m; 0 = exit at once (default 30s; a signal or POST /stop ends it)')
    .option('--ready-max-lag <seconds>', 'GET /readyz answers 503 beyond this lag (default 60)')
    .option('--copy-rate-limit <rows/s>', 'most rows per second the copy reads, all threads together; 0 = no limit (default 0)')
    .option('--replica <url>', 'a replica (MySQL/MariaDB) or standby (PostgreSQL) of the source: the copy waits while its lag is too high')
    .option('--replica-password-file <file>', 'file holding the replica password, instead of one in its URL; or TRIBUTARY_REPLICA_PASSWORD')
    .option('--replica-max-lag <duration>', 'the copy waits while the replica lags more than this, e.g. 10s (default 10s)')
    .option('--progress-webhook <url>', 'POST the status JSON (as GET /status) to this http(s) URL every --progress-interval, at each phase change and at the end (default: off; prefer TRIBUTARY_PROGRESS_WEBHOOK when the URL holds a secret)')
    .option('--progress-interval <duration>', 'how often the progress webhook is posted to, e.g. 10s, 1m (default 10s)')
    .option('--progress-webhook-token <token>', 'sent to the progress webhook as Authorization: Bearer (prefer TRIBUTARY_PROGRESS_WEBHOOK_TOKEN)')
    .option('--query-comment <text>', "put /* text */ before every SQL statement sent to the source, the target and the replica, so DBAs can tell tributary's load apart (default: off)")
    .option('--progress <mode>', 'auto | plain | json | none (default auto: bars on a terminal; piped, a plain line every 10 s, or a JSON record with JSON logs)')
    .option('--log-level <level>', 'trace | debug | info | warn | error | silent (default info)')
    .option('--log-format <format>', 'pretty | json (default: pretty when stderr is a terminal, else json); stderr carries one format: with json logs, plain progress goes to stdout')
    .option('--config <file>', 'YAML config file with the same keys (flags > TRIBUTARY_* env > file)');
}

/**
 * The HTTP API and its metrics, loaded only by a command given --http: prom-client and what it
 * brings take ~0.1 s of CPU to load, which every other start of the CLI (check, verify, status, a
 * sync without --http) no longer pays.
 */
export async function loadHttpApi(): Promise<{ SyncMetrics: typeof import('../server/metrics.js').SyncMetrics; HttpApi: typeof import('../server/server.js').HttpApi }> {
  const [{ SyncMetrics }, { HttpApi }] = await Promise.all([import('../server/metrics.js'), import('../server/server.js')]);
  return { SyncMetrics, HttpApi };
}

/** The progress webhook of `runner` when the config names one (server/webhook.ts), not started. */
export function progressWebhook(runner: Runner, config: SyncConfig, logger: Logger): ProgressWebhook | undefined {
  if (!config.progressWebhook) return undefined;
  return new ProgressWebhook({
    runner,
    url: config.progressWebhook,
    intervalMs: toMs(config.progressInterval),
    ...(config.progressWebhookToken ? { token: config.progressWebhookToken } : {}),
    readyMaxLagSeconds: config.readyMaxLag,
    logger: logger.child({ component: 'webhook' }),
  });
}

/**
 * After a run that ended with `err`, keeps the HTTP API up for --http-linger so that the page and
 * GET /status go on showing the error (a process that exits at once takes them with it). A
 * signal ends the wait; the caller then closes the API and exits as it would have.
 */
export async function lingerAfter(api: HttpApi | undefined, config: SyncConfig, err: unknown, logger: Logger): Promise<void> {
  const ms = toMs(config.httpLinger);
  if (!api?.address || ms <= 0) return;
  logger.error(
    { err: err instanceof Error ? err.message : String(err), lingerMs: ms },
    `the sync failed; the dashboard and /status stay up ${formatDuration(ms / 1000)} to show it (--http-linger), then the process exits; Ctrl-C to exit now`,
  );
  const end = () => api.endLinger();
  process.once('SIGINT', end);
  process.once('SIGTERM', end);
  try {
    await api.linger(ms, err);
  } finally {
    process.off('SIGINT', end);
    process.off('SIGTERM', end);
  }
}

/** Flags of `sync` that are not config keys. */
const OWN_FLAGS = ['dryRun', 'json'];

/** `tributary sync`: copy, then stream until SIGINT/SIGTERM (a second signal exits at once). */
export function registerSync(program: Command, ctx: CliContext): void {
  addSyncOptions(program.command('sync').description('copy the source tables into the target, then stream every change until stopped'))
    .option('--dry-run', 'print the plan (tables, row estimates, target DDL, start position) and exit, changing nothing')
    .option('--json', 'with --dry-run: print the plan as one JSON document')
    .action(async (opts: Record<string, unknown>) => {
      const flags = collectFlags(opts);
      for (const k of OWN_FLAGS) delete flags[k];
      const config = loadConfig({ flags, configFile: opts.config as string | undefined, env: ctx.env });
      if (opts.dryRun === true) {
        // Logs would interleave with the plan: only warnings and worse, on stderr.
        const logger = createLogger({ level: config.logLevel === 'info' ? 'warn' : config.logLevel, format: resolveLogFormat(config.logFormat) });
        const plan = await planSync(config, { logger });
        process.stdout.write(opts.json === true ? JSON.stringify(plan, null, 2) + '\n' : formatPlan(plan));
        if (plan.problems.length) {
          throw new TributaryError(ErrorCode.CHECK_FAILED, `the sync would refuse to start: ${plan.problems.length} problem${plan.problems.length > 1 ? 's' : ''}; fix each as the plan says, or run tributary check for details`);
        }
        return;
      }
      const logFormat = resolveLogFormat(config.logFormat);
      const printer = new ProgressPrinter({ ...resolveProgress(config.progress, logFormat), progress: () => runner.progress() });
      // Log lines go through the printer so a progress redraw on a terminal never wipes them.
      const logger = createLogger({ level: config.logLevel, format: logFormat, destination: printer.logStream() });
      // One registry for the runner's histograms and the API's /metrics.
      const http = config.http ? await loadHttpApi() : undefined;
      const metrics = http ? new http.SyncMetrics() : undefined;
      const runner = new Runner(config, { logger, observer: metrics });
      const api = http && config.http
        ? new http.HttpApi({ runner, metrics, listen: config.http, token: config.httpToken, allowedHosts: config.httpAllowedHosts, readyMaxLagSeconds: config.readyMaxLag, logger: logger.child({ component: 'http' }) })
        : undefined;
      await api?.start();
      const webhook = progressWebhook(runner, config, logger);
      webhook?.start();
      let signals = 0;
      const onSignal = (sig: NodeJS.Signals) => {
        signals++;
        if (signals === 1) {
          logger.info({ signal: sig }, 'stopping: finishing work in flight and writing a checkpoint (signal again to exit at once)');
          runner.cancel();
        } else {
          logger.warn({ signal: sig }, 'exiting at once; the next run resumes from the last checkpoint');
          process.exit(130);
        }
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      printer.start();
      try {
        await runner.run();
        printer.finish();
        await webhook?.finish();
      } catch (err) {
        printer.stop();
        await webhook?.finish(err);
        // While lingering a signal only ends the wait (lingerAfter's own handler): the run is over.
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        await lingerAfter(api, config, err, logger);
        throw err;
      } finally {
        printer.stop();
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        await api?.close();
      }
      logger.info({ phase: runner.phase }, 'stopped cleanly');
    });
}
