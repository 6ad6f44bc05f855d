import type { Command } from 'commander';
import { loadConfig } from '../config/load.js';
import { ErrorCode, TributaryError } from '../core/errors.js';
import { createLogger, resolveLogFormat } from '../core/logger.js';
import { Relay } from '../runner/relay.js';
import { collectFlags, type CliContext } from './context.js';

/** The relay takes no target; the shared config schema wants one, so it gets this placeholder (never opened). */
const NO_TARGET = 'mysql://relay-takes-no-target.invalid/none';

/**
 * `tributary relay`: streams the source's change log into a relay directory until SIGINT/SIGTERM
 * (a second signal exits at once), for syncs to read with `tributary sync --relay-dir`
 * (docs/relay.md).
 */
export function registerRelay(program: Command, ctx: CliContext): void {
  program
    .command('relay')
    .description("keep the source's change log in a local relay directory that syncs read (tributary sync --relay-dir) instead of the source")
    .option('--source <url>', 'source database URL, e.g. mysql://user:pass@host:3306/db')
    .option('--source-password-file <file>', 'file holding the source password (trailing newline stripped), instead of one in the URL; or TRIBUTARY_SOURCE_PASSWORD')
    .option('--relay-dir <dir>', 'the relay directory (created when missing; one source per directory)')
    .option('--tables <names>', 'comma-separated table names or globs the relay keeps (default: all tables); with --databases also db.table')
    .option('--databases <names>', 'keep several databases of a MySQL source (its URL then names none), names or globs; tables are then named db.table')
    .option('--relay-min-age <duration>', 'a segment every reader has read is deleted once its last record is older than this, e.g. 30m, 120m (default 60m)')
    .option('--relay-max-mb <n>', 'space limit of the segments in MiB: past it the oldest are deleted even if a sync still needs them, and that sync is marked lost (default 0: no limit)')
    .option('--id <id>', 'relay id, naming its binlog client (default: derived from --relay-dir)')
    .option('--server-id <n>', 'binlog client server_id (default: derived from the relay id)')
    .option('--position-mode <mode>', 'read the binlog by auto | gtid | file (default auto)')
    .option('--gtid-adopt-domains', 'moving to another server in GTID mode (failover): stream the GTID domains it logged that the relay does not know from their first transaction, instead of refusing them')
    .option('--binlog-timeout <duration>', 'MySQL source: reconnect when the binlog connection is silent this long (default 30s)')
    .option('--decode-thread <on|off>', 'MySQL source: decode the binlog in a thread of its own beside the one that applies (default on)')
    .option('--buffer-mb <n>', 'bound on buffered stream data in MiB (default 32)')
    .option('--osc-shadows <patterns>', "online schema change tools' shadow tables, one * for the real table's name (default _*_gho,_*_new)")
    .option('--http <host:port>', 'serve GET /status, /metrics, /healthz and POST /pause, /resume, /switch-source here, e.g. 127.0.0.1:8090 (default: off)')
    .option('--http-token <token>', 'bearer token the HTTP API requires (needed off loopback; prefer TRIBUTARY_HTTP_TOKEN)')
    .option('--http-allowed-hosts <names>', 'comma-separated names besides its address under which the HTTP API is reached')
    .option('--query-comment <text>', 'put /* text */ before every SQL statement sent to the source (default: off)')
    .option('--log-level <level>', 'trace | debug | info | warn | error | silent (default info)')
    .option('--log-format <format>', 'pretty | json (default: pretty when stderr is a terminal, else json)')
    .option('--config <file>', 'YAML config file with the same keys (flags > TRIBUTARY_* env > file)')
    .action(async (opts: Record<string, unknown>) => {
      const flags = collectFlags(opts);
      const config = loadConfig({ flags: { ...flags, target: NO_TARGET }, configFile: opts.config as string | undefined, env: ctx.env });
      const relayDir = config.relayDir;
      if (relayDir === undefined) throw new TributaryError(ErrorCode.CONFIG_INVALID, 'relay-dir is required; pass --relay-dir DIR (a local directory the relay writes, created when missing)');
      const logger = createLogger({ level: config.logLevel, format: resolveLogFormat(config.logFormat) });
      const relay = new Relay({ ...config, relayDir }, { logger: logger.child({ component: 'relay' }) });
      // Loaded only with --http (prom-client with it: see sync.ts loadHttpApi).
      const api = config.http ? new (await import('../server/relay.js')).RelayHttp({ relay, listen: config.http, token: config.httpToken, allowedHosts: config.httpAllowedHosts, logger: logger.child({ component: 'http' }) }) : undefined;
      await api?.start();
      let signals = 0;
      const onSignal = (sig: NodeJS.Signals) => {
        signals++;
        if (signals === 1) {
          logger.info({ signal: sig }, 'stopping: making what was read durable (signal again to exit at once)');
          relay.cancel();
        } else {
          logger.warn({ signal: sig }, 'exiting at once; the relay resumes from its last durable transaction');
          process.exit(130);
        }
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      try {
        await relay.run();
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        await api?.close();
      }
      logger.info({ relayDir }, 'relay stopped cleanly');
    });
}
