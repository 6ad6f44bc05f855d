import type { Command } from 'commander';
import { z } from 'zod';
import { createLogger, resolveLogFormat } from '../core/logger.js';
import { ErrorCode, TributaryError } from '../core/errors.js';
import type { Runner } from '../runner/runner.js';
import type { CliContext } from './context.js';
import { isLoopback, parseListen } from '../server/address.js';
import { ProgressPrinter, resolveProgress } from './progress-printer.js';

const DemoFlags = z.object({
  duration: z.coerce.number().positive().optional(),
  rate: z.coerce.number().positive().max(5000).default(200),
  progress: z.enum(['auto', 'plain', 'json', 'none']).default('auto'),
  logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'silent']).default('info'),
  logFormat: z.enum(['auto', 'pretty', 'json']).default('auto'),
  http: z.string().default('127.0.0.1:0'),
  // The values are the demo's DEMO_TARGETS (demo.ts is imported only when the demo runs).
  target: z.enum(['mysql', 'etcd']).default('mysql'),
});

/**
 * `tributary demo`: throwaway source and target servers, a live workload, and a sync between
 * them, until Ctrl-C (the first stops in order and compares, a second exits at once).
 */
export function registerDemo(program: Command, ctx: CliContext): void {
  program
    .command('demo')
    .description('start a throwaway MariaDB source with a live shop workload, a throwaway target (MariaDB, or etcd) and a sync between them; Ctrl-C stops and compares')
    .option('--duration <seconds>', 'stop by itself after this many seconds (default: run until Ctrl-C)')
    .option('--rate <tx/s>', 'workload transactions per second (default 200)')
    .option('--progress <mode>', 'auto | plain | json | none (default auto; env TRIBUTARY_PROGRESS)')
    .option('--log-level <level>', 'trace | debug | info | warn | error | silent (default info; env TRIBUTARY_LOG_LEVEL)')
    .option('--log-format <format>', 'pretty | json (default: pretty when stderr is a terminal, else json; env TRIBUTARY_LOG_FORMAT); with json logs, plain progress goes to stdout')
    .option('--target <kind>', 'mysql | etcd: what the demo syncs into, a MariaDB server or etcd (one JSON object per row under /shop/<table>/<key>) (default mysql)')
    .option('--http <host:port>', 'where the dashboard and HTTP API listen, a loopback address (default 127.0.0.1:0, a free port)')
    .action(async (opts: Record<string, unknown>) => {
      const parsed = DemoFlags.safeParse({
        duration: opts.duration,
        rate: opts.rate,
        progress: opts.progress ?? (ctx.env.TRIBUTARY_PROGRESS || undefined),
        logLevel: opts.logLevel ?? (ctx.env.TRIBUTARY_LOG_LEVEL || undefined),
        logFormat: opts.logFormat ?? (ctx.env.TRIBUTARY_LOG_FORMAT || undefined),
        http: opts.http,
        target: opts.target,
      });
      if (!parsed.success) {
        throw new TributaryError(ErrorCode.CONFIG_INVALID, parsed.error.issues.map((i) => `--${kebab(String(i.path[0]))}: ${i.message}`).join('; '));
      }
      const flags = parsed.data;
      // The demo sets no token, so its API may only listen where nobody else can reach it.
      const listen = parseListen(flags.http);
      if (!isLoopback(listen.host)) {
        throw new TributaryError(ErrorCode.CONFIG_INVALID, `--http '${flags.http}': the demo serves its dashboard without a token, so on a loopback address only; give e.g. --http 127.0.0.1:8080`);
      }
      let runner: Runner | undefined;
      const logFormat = resolveLogFormat(flags.logFormat);
      const printer = new ProgressPrinter({ ...resolveProgress(flags.progress, logFormat), progress: () => runner?.progress() });
      const logger = createLogger({ level: flags.logLevel, format: logFormat, destination: printer.logStream() });
      // Imported here: the demo's workload and servers are not loaded by every other command.
      const { Demo } = await import('../demo/demo.js');
      const demo = new Demo({
        rate: flags.rate,
        logger,
        http: flags.http,
        target: flags.target,
        ...(flags.duration !== undefined ? { durationSeconds: flags.duration } : {}),
        output: {
          say: (text) => printer.above(text),
          follow: (r) => {
            runner = r;
            printer.start();
          },
          unfollow: () => {
            if (!printer.running) return;
            printer.print(); // the last state of the sync, kept on screen
            printer.stop();
          },
        },
      });

      const stop = new AbortController();
      let signals = 0;
      const onSignal = (sig: NodeJS.Signals) => {
        signals++;
        if (signals === 1) {
          printer.above(`${sig}: stopping (the workload stops, the sync catches up and checkpoints, then the tables are compared); ${sig === 'SIGINT' ? 'Ctrl-C' : 'signal'} again to exit at once`);
          stop.abort();
        } else {
          demo.kill();
          printer.above(`${sig}: exiting at once; the servers were killed`, process.stderr);
          printer.stop();
          process.exit(130);
        }
      };
      // Whatever ends the process, the throwaway servers (our children) must not outlive it: on
      // exit, and on SIGHUP (the terminal went away, so nobody is watching a graceful stop).
      const onExit = () => demo.kill();
      const onHangup = () => {
        demo.kill();
        process.exit(129);
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      process.on('SIGHUP', onHangup);
      process.on('exit', onExit);
      try {
        const result = await demo.run(stop.signal);
        if (result && !result.equal) {
          throw new TributaryError(
            ErrorCode.INTERNAL,
            `source and target differ after the sync ${result.caughtUp ? 'caught up' : 'was stopped'}: ${result.tables.filter((t) => !t.equal).map((t) => t.table).join(', ')}. This is a bug in tributary; please report it with the output above`,
          );
        }
      } finally {
        printer.stop();
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        process.off('SIGHUP', onHangup);
        process.off('exit', onExit);
      }
    });
}

function kebab(key: string): string {
  return key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
}
