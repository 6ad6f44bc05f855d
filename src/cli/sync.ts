import type { Command } from 'commander';
import { loadConfig } from '../config/load.js';
import { createLogger } from '../core/logger.js';
import { Runner } from '../runner/runner.js';
import { collectFlags, type CliContext } from './context.js';
import { ProgressPrinter, resolveProgressMode } from './progress-printer.js';

/** The options of a sync (config keys), shared by the commands that run one (sync, move). */
export function addSyncOptions(cmd: Command): Command {
  return cmd
    .option('--source <url>', 'source database URL, e.g. mysql://user:pass@host:3306/db')
    .option('--target <url>', 'target database URL, e.g. mysql://user:pass@host:3306/db')
    .option('--tables <names>', 'comma-separated table names or globs (default: all tables)')
    .option('--threads <n>', 'parallel copy workers (default 4)')
    .option('--flush-interval <duration>', 'longest wait before buffered changes are committed, e.g. 1s, 500ms (default 1s)')
    .option('--copy-only', 'copy, checkpoint and exit without streaming')
    .option('--force', 'drop and recreate target tables when no checkpoint can resume')
    .option('--id <id>', 'sync id naming the checkpoint and lock (default: derived from source and target)')
    .option('--server-id <n>', 'binlog client server_id (default: derived from the sync id)')
    .option('--position-mode <mode>', 'resume the binlog by auto | gtid | file (default auto)')
    .option('--chunk-time <duration>', 'target duration of one copy chunk (default 200ms)')
    .option('--chunk-size <n>', 'initial rows per copy chunk (default 5000)')
    .option('--batch-size <n>', 'most changes per target transaction (default 20000)')
    .option('--buffer-mb <n>', 'bound on buffered stream data in MiB (default 32)')
    .option('--zero-dates <policy>', "MySQL zero dates for a target without them: error | null (default error)")
    .option('--slot <name>', 'PostgreSQL source: replication slot (default: created for this sync)')
    .option('--publication <name>', 'PostgreSQL source: publication (default: created for this sync)')
    .option('--column-types <list>', 'target type overrides, table.column=TYPE[,…]')
    .option('--checksum <on|off>', 'checksum every table again and again while streaming, repairing what differs (default on)')
    .option('--checksum-interval <duration>', 'rest between two checksum passes, e.g. 30s, 5m (default 30s)')
    .option('--progress <mode>', 'auto | plain | json | none (default auto)')
    .option('--log-level <level>', 'trace | debug | info | warn | error | silent (default info)')
    .option('--config <file>', 'YAML config file with the same keys (flags > TRIBUTARY_* env > file)');
}

/** `tributary sync`: copy, then stream until SIGINT/SIGTERM (a second signal exits at once). */
export function registerSync(program: Command, ctx: CliContext): void {
  addSyncOptions(program.command('sync').description('copy the source tables into the target, then stream every change until stopped'))
    .action(async (opts: Record<string, unknown>) => {
      const config = loadConfig({ flags: collectFlags(opts), configFile: opts.config as string | undefined, env: ctx.env });
      const printer = new ProgressPrinter({ mode: resolveProgressMode(config.progress), progress: () => runner.progress() });
      // Log lines go through the printer so a progress redraw on a terminal never wipes them.
      const logger = createLogger({ level: config.logLevel, pretty: Boolean(process.stderr.isTTY), destination: printer.logStream() });
      const runner = new Runner(config, { logger });
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
      } finally {
        printer.stop();
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
      logger.info({ phase: runner.phase }, 'stopped cleanly');
    });
}
