import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';

export type { Logger };

/** Keys whose values never reach a log line. */
const REDACT = ['password', '*.password', 'dsn.password', 'source', 'target', '*.source', '*.target', 'url', '*.url'];

/**
 * The process logger: JSON lines on stderr, or a compact human form when stderr is a terminal.
 * Connection URLs and passwords are redacted by key; messages never interpolate them.
 */
export function createLogger(opts: { level?: string; pretty?: boolean; destination?: NodeJS.WritableStream } = {}): Logger {
  const dest = opts.destination ?? process.stderr;
  const pretty = opts.pretty ?? Boolean((dest as { isTTY?: boolean }).isTTY);
  const stream = pretty ? prettyStream(dest) : dest;
  return pino({ level: opts.level ?? 'info', base: undefined, redact: { paths: REDACT, censor: '***' } }, stream);
}

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

function prettyStream(dest: NodeJS.WritableStream): Writable {
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
          dest.write(`\r\x1b[K${t} ${LEVELS[Number(level)] ?? level} ${String(msg ?? '')}${extra ? ' ' + extra : ''}\n`);
        } catch {
          dest.write(line + '\n');
        }
      }
      cb();
    },
  });
}
