import type { Command } from 'commander';
import { loadConfig } from '../config/load.js';
import { ErrorCode, TributaryError } from '../core/errors.js';
import { createLogger, resolveLogFormat } from '../core/logger.js';
import { verify } from '../runner/verify.js';
import { formatReport } from '../checksum/report.js';
import { unlessChunkSizeNamed } from './chunk-size.js';
import { collectFlags, type CliContext } from './context.js';

/** Flags of `verify` that are not config keys (the rest load as `sync`'s do: flags > env > file). */
const OWN_FLAGS = ['repair', 'json', 'rechecks'];

/**
 * `tributary verify`: one-shot chunked checksum of source against target. Exit 0 when equal (or
 * when everything that differed was repaired and re-read equal), 1 when differences remain (error
 * TRIB_VERIFY_MISMATCH), 2 for bad usage or configuration.
 */
export function registerVerify(program: Command, ctx: CliContext): void {
  program
    .command('verify')
    .description('compare every synced table of the source with the target, chunk by chunk; --repair recopies what differs')
    .option('--source <url>', 'source database URL, e.g. mysql://user:pass@host:3306/db')
    .option('--target <url>', 'target database URL, e.g. postgres://user:pass@host:5432/db')
    .option('--source-password-file <file>', 'file holding the source password (trailing newline stripped), instead of one in the URL; or TRIBUTARY_SOURCE_PASSWORD')
    .option('--target-password-file <file>', 'file holding the target password (trailing newline stripped), instead of one in the URL; or TRIBUTARY_TARGET_PASSWORD')
    .option('--tables <names>', 'comma-separated table names or globs (default: all tables); with --databases also db.table')
    .option('--databases <names>', "the sync's databases (schemas), names or globs")
    .option('--database-rewrites <list>', "the sync's database rewrites, src=dst[,…]")
    .option('--threads <n>', 'chunks compared in parallel (default 4)')
    .option('--chunk-size <n>', 'rows per chunk at most (default 1000; 20000 where both databases digest chunks)')
    .option('--repair', 'recopy the rows that differ (takes the sync\'s lock: refused while a sync runs)')
    .option('--json', 'print one JSON document instead of the report')
    .option('--rechecks <n>', 're-reads of a differing chunk, with growing waits, before it counts as differing (default 4; 0 when nothing writes to the source)')
    .option('--id <id>', 'sync id whose lock --repair takes (default: derived from source and target, as sync does)')
    .option('--zero-dates <policy>', 'the sync\'s policy for MySQL zero dates: error | null (default error)')
    .option('--column-types <list>', 'the sync\'s target type overrides, table.column=TYPE[,…]')
    .option('--table-rewrites <list>', "the sync's table rewrites, src=dst[,…]")
    .option('--exclude-columns <list>', "the sync's excluded columns, table.column[,…]")
    .option('--where <filter>', "the sync's row filter of a table, 'TABLE: EXPR' (repeatable)", (v: string, prev: string[] | undefined) => [...(prev ?? []), v])
    .option('--etcd-layout <layout>', "etcd target: the sync's key layout, tributary | contrail (default tributary)")
    .option('--max-txn-ops <n>', "etcd target: the server's --max-txn-ops, for --repair's writes (default 128)")
    .option('--query-comment <text>', 'put /* text */ before every SQL statement sent to the source and the target (default: off)')
    .option('--log-level <level>', 'trace | debug | info | warn | error | silent (default info; logs go to stderr)')
    .option('--log-format <format>', 'pretty | json (default: pretty when stderr is a terminal, else json)')
    .option('--config <file>', 'YAML config file with the same keys as sync (flags > TRIBUTARY_* env > file)')
    .action(async (opts: Record<string, unknown>) => {
      const flags = collectFlags(opts);
      for (const k of OWN_FLAGS) delete flags[k];
      // verify's own chunk sizes unless a flag, the environment or the config file names one (chunk-size.ts).
      const configFile = opts.config as string | undefined;
      const config = unlessChunkSizeNamed(loadConfig({ flags, configFile, env: ctx.env }), flags, ctx.env, configFile);
      const logger = createLogger({ level: config.logLevel, format: resolveLogFormat(config.logFormat) });
      const json = opts.json === true;
      const rechecks = opts.rechecks === undefined ? undefined : Number(opts.rechecks);
      if (rechecks !== undefined && (!Number.isInteger(rechecks) || rechecks < 0 || rechecks > 20)) {
        throw new TributaryError(ErrorCode.CONFIG_INVALID, `--rechecks '${String(opts.rechecks)}' is not an integer from 0 to 20`);
      }
      const abort = new AbortController();
      const onSignal = () => abort.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        const result = await verify(config, {
          repair: opts.repair === true,
          logger,
          signal: abort.signal,
          ...(rechecks !== undefined ? { recheck: { attempts: rechecks } } : {}),
        });
        process.stdout.write(json ? JSON.stringify(result, null, 2) + '\n' : formatReport(result));
        if (!result.equal) {
          const t = result.totals;
          const broken = result.tables.filter((x) => x.error).map((x) => x.table);
          throw new TributaryError(
            ErrorCode.VERIFY_MISMATCH,
            `${t.tablesDiffering} of ${t.tables} tables differ: ${t.remaining} differences remain` +
              (broken.length ? `; not compared: ${broken.join(', ')}` : '') +
              (opts.repair === true ? '' : '; run again with --repair to recopy them'),
          );
        }
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
}
