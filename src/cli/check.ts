import type { Command } from 'commander';
import { loadConfig } from '../config/load.js';
import { ErrorCode, TributaryError, USAGE_CODES } from '../core/errors.js';
import { createLogger, resolveLogFormat } from '../core/logger.js';
import { check, type CheckGroup, type CheckLine, type CheckReport } from '../runner/check.js';
import { collectFlags, type CliContext } from './context.js';
import { addSyncOptions } from './sync.js';

/** Flags of `check` that are not config keys. */
const OWN_FLAGS = ['json'];

const TITLES: Record<CheckGroup, string> = { source: 'source', target: 'target', tables: 'tables', types: 'type mapping' };

/** ✔ met, ✘ refuses the sync, ⚠ a warning, ℹ information that is not met as recommended. */
function mark(l: CheckLine): string {
  if (l.ok) return '✔';
  return l.severity === 'error' ? '✘' : l.severity === 'warning' ? '⚠' : 'ℹ';
}

function formatLine(l: CheckLine): string {
  const note = !l.fix ? '' : l.ok ? (l.severity === 'error' ? '' : ` (${l.fix})`) : `; fix: ${l.fix}`;
  return `  ${mark(l)} ${l.name}: ${l.value}${note}`;
}

/** The report as text: one line per requirement, grouped, and a last line with the verdict. */
export function formatCheckReport(r: CheckReport): string {
  const out = [`tributary check ${r.source} → ${r.target}`];
  for (const g of ['source', 'target', 'tables', 'types'] as const) {
    const lines = r.lines.filter((l) => l.group === g);
    if (!lines.length) continue;
    out.push('', g === 'source' ? `source ${r.source}` : g === 'target' ? `target ${r.target}` : TITLES[g], ...lines.map(formatLine));
  }
  const warn = r.warnings ? `, ${r.warnings} warning${r.warnings > 1 ? 's' : ''}` : '';
  out.push('', r.ok ? `ready: every requirement is met${warn}` : `not ready: ${r.errors} requirement${r.errors > 1 ? 's' : ''} not met${warn}`);
  return out.join('\n') + '\n';
}

/**
 * `tributary check`: preflight of source and target, one ✔/✘ line per requirement with its value
 * and fix, creating nothing. Exit 0 when nothing fails (warnings allowed), 1 when a requirement is
 * not met (TRIB_CHECK_FAILED), 2 for bad usage or configuration (a --tables pattern matching
 * nothing included: TRIB_NO_TABLES, as sync says it). Takes sync's options (one
 * definition, addSyncOptions), so a check and the sync it precedes read the same configuration.
 */
export function registerCheck(program: Command, ctx: CliContext): void {
  addSyncOptions(program.command('check').description('check source and target against every requirement of a sync, creating nothing; one ✔/✘ line each'))
    .option('--json', 'print one JSON document instead of the lines')
    .action(async (opts: Record<string, unknown>) => {
      const flags = collectFlags(opts);
      for (const k of OWN_FLAGS) delete flags[k];
      const config = loadConfig({ flags, configFile: opts.config as string | undefined, env: ctx.env });
      // Logs would interleave with the report: only warnings and worse, on stderr.
      const logger = createLogger({ level: config.logLevel === 'info' ? 'warn' : config.logLevel, format: resolveLogFormat(config.logFormat) });
      const report = await check(config, { logger });
      process.stdout.write(opts.json === true ? JSON.stringify(report, null, 2) + '\n' : formatCheckReport(report));
      if (!report.ok) {
        // A --tables pattern that matches nothing is the command line's fault, as in sync: exit 2.
        const usage = report.lines.find((l) => !l.ok && l.severity === 'error' && USAGE_CODES.has(l.code));
        if (usage) throw new TributaryError(usage.code, usage.fix ? `${usage.value}; ${usage.fix}` : usage.value);
        const bad = report.lines.filter((l) => !l.ok && l.severity === 'error').map((l) => l.name);
        throw new TributaryError(ErrorCode.CHECK_FAILED, `${bad.length} requirement${bad.length > 1 ? 's' : ''} not met: ${bad.join(', ')}; fix each as its line says, then run tributary check again`);
      }
    });
}
