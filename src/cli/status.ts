import type { Command } from 'commander';
import { ErrorCode, TributaryError } from '../core/errors.js';
import { formatDuration } from '../runner/progress.js';
import { baseUrl, parseListen } from '../server/address.js';
import type { StatusJson } from '../server/status.js';
import type { CliContext } from './context.js';

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = -1;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(1)} ${units[u]}`;
}

function n(v: number): string {
  return v.toLocaleString('en-US');
}

/** The copy's throttles, when one is set: the rate limit, the replica's lag, whether the copy waits. */
export function formatThrottle(t: StatusJson['throttle']): string | undefined {
  const parts: string[] = [];
  if (t.copyRateLimit > 0) parts.push(`rate limit ${n(t.copyRateLimit)} rows/s`);
  if (t.replica !== null) parts.push(`replica ${t.replica} lag ${t.replicaLagSeconds === null ? 'unknown' : `${t.replicaLagSeconds.toFixed(1)} s`}`);
  if (t.waiting) parts.push(`WAITING: ${t.reason ?? 'replica lag'}`);
  return parts.length ? parts.join(', ') : undefined;
}

/** The status of a running sync for a terminal. */
export function formatStatus(s: StatusJson): string {
  const copying = s.copy.tables.some((t) => t.state !== 'done');
  const lines = [
    `tributary ${s.syncId}: ${s.phase}${s.paused ? ' (PAUSED)' : ''}, ${s.readiness.ready ? 'ready' : `NOT READY: ${s.readiness.reason ?? '?'}`}`,
  ];
  if (s.exit) lines.push(`  FAILED            ${s.exit.code}: ${s.exit.message}`, `  exits at          ${s.exit.at} (--http-linger)`);
  lines.push(
    `  source            ${s.source}${s.stream.sourcePosition ? ` at ${s.stream.sourcePosition}` : ''}`,
    `  target            ${s.target}${s.stream.appliedPosition ? ` applied ${s.stream.appliedPosition}` : ''}`,
    `  lag               ${s.stream.lagSeconds.toFixed(1)} s`,
    `  changes applied   ${n(s.stream.changesApplied)} (${Math.round(s.stream.changesPerSecond)}/s), buffer ${bytes(s.stream.bufferBytes)}${s.stream.retainedBytes !== null ? `, source retains ${bytes(s.stream.retainedBytes)}` : ''}`,
    `  copy              ${n(s.copy.rowsCopied)}/${n(s.copy.rowsTotal)} rows (${s.copy.percent.toFixed(s.copy.percent === 100 ? 0 : 1)}%)${copying ? `, ${Math.round(s.copy.rowsPerSecond)} rows/s, ETA ${s.copy.etaSeconds === null ? '?' : formatDuration(s.copy.etaSeconds)}` : s.copy.tables.length ? ', done' : ''}`,
  );
  const w = Math.max(5, ...s.copy.tables.map((t) => t.table.length));
  for (const t of s.copy.tables.slice(0, 30)) {
    lines.push(`    ${t.table.padEnd(w)} ${t.state.padEnd(7)} ${`${t.percent.toFixed(t.percent === 100 ? 0 : 1)}%`.padStart(6)}  ${n(t.rowsCopied)}/${n(t.rowsTotal)}`);
  }
  if (s.copy.tables.length > 30) lines.push(`    … ${s.copy.tables.length - 30} more tables`);
  const throttle = formatThrottle(s.throttle);
  if (throttle) lines.push(`  copy throttle     ${throttle}`);
  const byTable = Object.entries(s.stream.changesByTable).sort(([a], [b]) => a.localeCompare(b));
  if (byTable.length) {
    lines.push('  changes by table');
    const tw = Math.max(5, ...byTable.map(([t]) => t.length));
    for (const [table, c] of byTable.slice(0, 30)) {
      const kinds = (['insert', 'update', 'delete', 'upsert', 'truncate'] as const).filter((k) => c[k] > 0).map((k) => `${k} ${n(c[k])}`);
      lines.push(`    ${table.padEnd(tw)} ${kinds.join(', ') || '0'}`);
    }
    if (byTable.length > 30) lines.push(`    … ${byTable.length - 30} more tables`);
  }
  const c = s.checksum;
  if (c) {
    lines.push(
      `  checksum          pass ${c.pass} ${c.state}, ${c.passesCompleted} complete, ${c.chunksChecked} chunks, ${c.mismatches} mismatches, ${c.repairs} repairs${c.firstCleanPassAt ? `, first clean pass ${c.firstCleanPassAt}` : ''}`,
    );
  }
  lines.push(`  reconnects        ${s.stream.reconnects}${s.stream.retrying ? ' (retrying now)' : ''}`);
  const ddl = s.stream.lastSchemaChange;
  if (s.stream.schemaChanges > 0 && ddl) lines.push(`  schema changes    ${s.stream.schemaChanges}, last ${ddl.tables.join(', ')} at ${ddl.position} (${ddl.at}): ${ddl.statement.slice(0, 120)}`);
  if (s.lastError && s.lastError.message !== s.exit?.message) lines.push(`  last error        ${s.lastError.code}: ${s.lastError.message}${s.lastError.at ? ` (${s.lastError.at})` : ''}`);
  lines.push(`  up                ${formatDuration(s.uptimeSeconds)} since ${s.startedAt}`);
  return lines.join('\n') + '\n';
}

/** `tributary status`: reads GET /status of a running sync's HTTP API and prints it. */
export function registerStatus(program: Command, ctx: CliContext): void {
  program
    .command('status')
    .description("print the status of a running sync, read from its HTTP API (sync --http)")
    .option('--http <host:port>', 'where the sync serves its HTTP API (default: TRIBUTARY_HTTP)')
    .option('--token <token>', 'bearer token of the API (default: TRIBUTARY_HTTP_TOKEN)')
    .option('--json', 'print the status as JSON')
    .action(async (opts: { http?: string; token?: string; json?: boolean }) => {
      const http = opts.http ?? ctx.env.TRIBUTARY_HTTP;
      if (!http) throw new TributaryError(ErrorCode.CONFIG_INVALID, 'status needs the address of the HTTP API: pass --http HOST:PORT (as given to sync --http) or set TRIBUTARY_HTTP');
      const token = opts.token ?? ctx.env.TRIBUTARY_HTTP_TOKEN;
      const url = `${baseUrl(parseListen(http))}/status`;
      let res: Response;
      try {
        res = await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {}, signal: AbortSignal.timeout(10_000) });
      } catch (err) {
        const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
        throw new TributaryError(ErrorCode.CONNECT_FAILED, `no tributary HTTP API answers at ${url} (${cause}); is a sync running with --http ${http}?`, { cause: err });
      }
      if (res.status === 401) {
        throw new TributaryError(ErrorCode.AUTH_FAILED, `${url} refused the ${token ? 'token given' : 'call without a token'}; pass --token (or TRIBUTARY_HTTP_TOKEN) with the sync's http-token`);
      }
      if (!res.ok) throw new TributaryError(ErrorCode.CONNECT_FAILED, `${url} answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
      const status = (await res.json()) as StatusJson;
      process.stdout.write(opts.json ? JSON.stringify(status, null, 2) + '\n' : formatStatus(status));
    });
}

/**
 * `tributary switch-source`: POST /switch-source of a running sync's (or relay's) HTTP API. The
 * sync or relay checks the host first and stays where it is when the host cannot resume its
 * position (exit 1, the reason printed); otherwise it stops its stream at a transaction boundary
 * and resumes there.
 */
export function registerSwitchSource(program: Command, ctx: CliContext): void {
  program
    .command('switch-source')
    .description('move a running sync (sync --http) or relay (relay --http) to another host of its MySQL/MariaDB source, after the GTID checks (docs/failover.md)')
    .requiredOption('--host <host:port>', 'the source host to move to, e.g. h2:3306')
    .option('--http <host:port>', 'where the sync or relay serves its HTTP API (default: TRIBUTARY_HTTP)')
    .option('--token <token>', 'bearer token of the API (default: TRIBUTARY_HTTP_TOKEN)')
    .action(async (opts: { host: string; http?: string; token?: string }) => {
      const http = opts.http ?? ctx.env.TRIBUTARY_HTTP;
      if (!http) throw new TributaryError(ErrorCode.CONFIG_INVALID, 'switch-source needs the address of the HTTP API: pass --http HOST:PORT (as given to sync --http) or set TRIBUTARY_HTTP');
      const token = opts.token ?? ctx.env.TRIBUTARY_HTTP_TOKEN;
      const url = `${baseUrl(parseListen(http))}/switch-source`;
      let res: Response;
      try {
        res = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
          body: JSON.stringify({ host: opts.host }),
          signal: AbortSignal.timeout(60_000),
        });
      } catch (err) {
        const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
        throw new TributaryError(ErrorCode.CONNECT_FAILED, `no tributary HTTP API answers at ${url} (${cause}); is a sync or relay running with --http ${http}?`, { cause: err });
      }
      if (res.status === 401) {
        throw new TributaryError(ErrorCode.AUTH_FAILED, `${url} refused the ${token ? 'token given' : 'call without a token'}; pass --token (or TRIBUTARY_HTTP_TOKEN) with the sync's http-token`);
      }
      const body = (await res.json().catch(() => ({}))) as { host?: string; error?: string; code?: string; relay?: boolean };
      const what = body.relay ? 'relay' : 'sync';
      if (res.status === 409 && body.code && (Object.values(ErrorCode) as string[]).includes(body.code)) {
        throw new TributaryError(body.code as ErrorCode, `the ${what} stays on its source: ${body.error ?? '?'}`);
      }
      if (!res.ok) throw new TributaryError(ErrorCode.CONFIG_INVALID, `${url} answered ${res.status}: ${body.error ?? ''}`);
      process.stdout.write(`moving the ${what}'s source to ${body.host ?? opts.host}: its stream stops at a transaction boundary and resumes there (GET /status sourceHost shows it)\n`);
    });
}
