import type { Command } from 'commander';
import { loadConfig, parseDuration } from '../config/load.js';
import { ErrorCode, TributaryError } from '../core/errors.js';
import { createLogger, resolveLogFormat } from '../core/logger.js';
import { move, type MoveReport } from '../runner/move.js';
import type { Runner } from '../runner/runner.js';
import { assertBindAllowed, parseListen } from '../server/address.js';
import { parseAllowedHosts } from '../server/host.js';
import type { HttpApi } from '../server/server.js';
import type { ProgressWebhook } from '../server/webhook.js';
import { unlessChunkSizeNamed } from './chunk-size.js';
import { collectFlags, type CliContext } from './context.js';
import { addSyncOptions, lingerAfter, loadHttpApi, progressWebhook } from './sync.js';

/** Flags of `move` that are not config keys. */
const OWN_FLAGS = ['cutover', 'cutoverCommand', 'cutoverUndoCommand', 'maxLag', 'readyTimeout', 'drainTimeout', 'json'];

function formatMoveReport(r: MoveReport): string {
  const lines = [
    `tributary move ${r.source} → ${r.target}: ${r.result === 'moved' ? 'MOVED' : `ABORTED at ${r.failedStep ?? '?'}`}`,
    ...(r.reason ? [`  reason:            ${r.reason}`] : []),
    ...(r.writesStopped ? [`  writes stopped:    ${r.writesStopped}${r.writesRestored === true ? ' (lifted again)' : r.writesRestored === false ? ' (NOT lifted: allow writes by hand)' : ''}`] : []),
    ...(r.finalPosition ? [`  final position:    ${r.finalPosition}`] : []),
    ...(r.appliedPosition ? [`  applied position:  ${r.appliedPosition}`] : []),
    `  rows copied:       ${r.rowsCopied}`,
    `  changes applied:   ${r.changesApplied}`,
    ...(r.checksum ? [`  final checksum:    ${r.checksum.equal ? 'clean' : 'DIFFERS'}: ${r.checksum.tables} tables, ${r.checksum.rowsChecked} rows, ${r.checksum.chunks} chunks`] : []),
    `  steps:             ${r.steps.map((s) => `${s.step} ${(s.ms / 1000).toFixed(1)}s`).join(', ')}`,
    `  duration:          ${(r.durationMs / 1000).toFixed(1)} s`,
  ];
  return lines.join('\n') + '\n';
}

/**
 * `tributary move`: sync, then cut over (runner/move.ts). Exit 0 when moved, 1 when the cutover
 * aborted (TRIB_CUTOVER_ABORTED; the source is writable again), 2 for bad usage or configuration.
 */
export function registerMove(program: Command, ctx: CliContext): void {
  addSyncOptions(program.command('move').description('sync, then cut over: wait until caught up and a checksum pass is clean, stop writes on the source, drain, verify'))
    .option('--cutover <method>', 'how writes stop on the source: read-only | command (default read-only)')
    .option('--cutover-command <cmd>', 'with --cutover command: shell command that stops writes on the source (exit 0 when stopped)')
    .option('--cutover-undo-command <cmd>', 'with --cutover command: shell command that allows writes again if the cutover aborts')
    .option('--max-lag <seconds>', 'lag under which the cutover may begin (default 1)')
    .option('--ready-timeout <duration>', 'longest wait for copy, clean checksum and lag, e.g. 30m (default: no bound)')
    .option('--drain-timeout <duration>', 'longest wait for the stream to reach the final position (default 5m)')
    .option('--json', 'print the report as JSON')
    .action(async (opts: Record<string, unknown>) => {
      const flags = collectFlags(opts);
      for (const k of OWN_FLAGS) delete flags[k];
      const configFile = opts.config as string | undefined;
      const config = loadConfig({ flags, configFile, env: ctx.env });
      // The final checksum digests in verify's own chunk sizes unless one is named (chunk-size.ts);
      // the copy then uses its default.
      const moveConfig = unlessChunkSizeNamed(config, flags, ctx.env, configFile);
      const cutover = (opts.cutover as string | undefined) ?? 'read-only';
      if (cutover !== 'read-only' && cutover !== 'command') {
        throw new TributaryError(ErrorCode.CONFIG_INVALID, `--cutover '${cutover}' is not a cutover method; use read-only or command`);
      }
      const maxLag = opts.maxLag === undefined ? 1 : Number(opts.maxLag);
      if (!Number.isFinite(maxLag) || maxLag < 0) throw new TributaryError(ErrorCode.CONFIG_INVALID, `--max-lag '${String(opts.maxLag)}' is not a number of seconds; give e.g. 1 or 0.5`);
      if (config.http) {
        assertBindAllowed(parseListen(config.http), config.httpToken);
        parseAllowedHosts(config.httpAllowedHosts);
      }
      const logFormat = resolveLogFormat(config.logFormat);
      const logger = createLogger({ level: config.logLevel, format: logFormat });
      const abort = new AbortController();
      // The sync's HTTP API, served while the move runs; a port that cannot be bound aborts the move.
      let api: HttpApi | undefined;
      let apiStarted: Promise<void> | undefined;
      let apiError: unknown;
      const http = config.http ? await loadHttpApi() : undefined;
      const metrics = http ? new http.SyncMetrics() : undefined;
      let webhook: ProgressWebhook | undefined;
      let failure: unknown;
      const serve = (runner: Runner) => {
        webhook = progressWebhook(runner, config, logger);
        webhook?.start();
        if (!config.http || !http) return;
        api = new http.HttpApi({ runner, metrics, listen: config.http, token: config.httpToken, allowedHosts: config.httpAllowedHosts, readyMaxLagSeconds: config.readyMaxLag, logger: logger.child({ component: 'http' }) });
        apiStarted = api.start().then(
          () => undefined,
          (err: unknown) => {
            apiError = err;
            abort.abort();
          },
        );
      };
      const onSignal = () => abort.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        const report = await move(moveConfig, {
          cutover,
          ...(opts.cutoverCommand !== undefined ? { command: String(opts.cutoverCommand) } : {}),
          ...(opts.cutoverUndoCommand !== undefined ? { undoCommand: String(opts.cutoverUndoCommand) } : {}),
          maxLagSeconds: maxLag,
          ...(opts.readyTimeout !== undefined ? { readyTimeoutMs: parseDuration('--ready-timeout', opts.readyTimeout) } : {}),
          ...(opts.drainTimeout !== undefined ? { drainTimeoutMs: parseDuration('--drain-timeout', opts.drainTimeout) } : {}),
          logger,
          signal: abort.signal,
          // stderr carries one format: with JSON logs a step is a log record, not a text line among them.
          onStep: (step, detail) => (logFormat === 'json' ? logger.info({ step }, `move ${step}: ${detail}`) : process.stderr.write(`${process.stderr.isTTY ? '\r\x1b[K' : ''}[move] ${step}: ${detail}\n`)),
          onRunner: serve,
          observer: metrics,
        });
        await apiStarted;
        if (apiError) throw apiError;
        process.stdout.write(opts.json === true ? JSON.stringify(report, null, 2) + '\n' : formatMoveReport(report));
        if (report.result !== 'moved') {
          throw new TributaryError(ErrorCode.CUTOVER_ABORTED, `cutover aborted at ${report.failedStep ?? '?'}: ${report.reason ?? 'unknown'}${report.writesRestored === false ? '; writes on the source were NOT allowed again: do it by hand' : ''}`);
        }
      } catch (err) {
        failure = err;
        // The receiver hears of the failure before the API lingers to show it.
        await webhook?.finish(err);
        // A move stopped by a signal exits at once; one that failed shows why for --http-linger.
        if (!abort.signal.aborted) await lingerAfter(api, config, err, logger);
        throw err;
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        await webhook?.finish(failure);
        await apiStarted;
        await api?.close();
      }
    });
}
