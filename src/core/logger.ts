import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';

export type { Logger };

/** How log lines read: compact text for a person, or one JSON object per line for a program. */
export type LogFormat = 'pretty' | 'json';

/** Keys whose values never reach a log line. */
const REDACT = ['password', '*.password', 'dsn.password', 'source', 'target', '*.source', '*.target', 'url', '*.url'];

/**
 * Resolves `--log-format`: `auto` (or nothing) means pretty when `stderr` is a terminal and JSON
 * otherwise (a file, a pipe, a service manager's journal), so a program reading the logs gets JSON
 * unless a person asked for text.
 */
export function resolveLogFormat(setting: 'auto' | LogFormat | undefined, stderr: { isTTY?: boolean } = process.stderr): LogFormat {
  return setting === 'pretty' || setting === 'json' ? setting : stderr.isTTY ? 'pretty' : 'json';
}

/**
 * The process logger: JSON lines on stderr, or a compact human form (`format: 'pretty'`; the
 * default when stderr is a terminal). Connection URLs and passwords are redacted by key; messages
 * never interpolate them.
 */
export function createLogger(opts: { level?: string; format?: LogFormat; /** @deprecated use format */ pretty?: boolean; destination?: NodeJS.WritableStream } = {}): Logger {
  const dest = opts.destination ?? process.stderr;
  const pretty = opts.format !== undefined ? opts.format === 'pretty' : (opts.pretty ?? Boolean((dest as { isTTY?: boolean }).isTTY));
  const stream = pretty ? prettyStream(dest) : dest;
  return pino({ level: opts.level ?? 'info', base: undefined, redact: { paths: REDACT, censor: '***' } }, stream);
}

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

function prettyStream(dest: NodeJS.WritableStream): Writable {
  // Straight to a terminal, a line starts by clearing the current one (a `^C` echoed there, say).
  // Anywhere else (a file, a pipe, the progress printer, which clears its own block) no escape
  // sequence is written: a log file holds text only.
  const clear = (dest as { isTTY?: boolean }).isTTY ? '\r\x1b[K' : '';
  return new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line) continue;
        try {
          const o = JSON.parse(line) as Record<string, unknown>;
          const { level, time, msg, ...rest } = o;
          const t = new Date(Number(time)).toISOString().slice(11, 19);
          const extra = Object.entries(rest)
            .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
            .join(' ');
          dest.write(`${clear}${t} ${LEVELS[Number(level)] ?? level} ${String(msg ?? '')}${extra ? ' ' + extra : ''}\n`);
        } catch {
          dest.write(line + '\n');
        }
      }
      cb();
    },
  });
}
