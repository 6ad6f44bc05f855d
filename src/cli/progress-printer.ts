import { Writable } from 'node:stream';
import type { LogFormat } from '../core/logger.js';
import { renderProgress, type Progress } from '../runner/progress.js';
import { physicalRows, wrapToWidth } from '../runner/width.js';

/** How progress is shown: redrawn bars on a terminal, plain lines, JSON lines, or not at all. */
export type ProgressMode = 'tty' | 'plain' | 'json' | 'none';

/** The `--progress` setting. */
export type ProgressSetting = 'auto' | 'plain' | 'json' | 'none';

/** A progress mode and the stream it is written to. */
export interface ProgressOutput {
  readonly mode: ProgressMode;
  readonly stream: NodeJS.WritableStream;
}

/**
 * Where progress goes, by one rule: **stderr carries one format**. Logs always go to stderr; progress
 * joins them there only in the same format, and otherwise goes to stdout.
 *
 * | logs   | --progress auto                                   | plain  | json   |
 * |--------|---------------------------------------------------|--------|--------|
 * | pretty | bars on stderr (a terminal), else plain on stderr | stderr | stdout |
 * | json   | JSON records on stderr                            | stdout | stderr |
 *
 * So a piped or journald-captured stderr is all JSON lines (logs and progress records) or all text,
 * never a mix. `none` prints nothing.
 */
export function resolveProgress(
  setting: ProgressSetting,
  logFormat: LogFormat,
  streams: { readonly stderr: NodeJS.WritableStream & { isTTY?: boolean }; readonly stdout: NodeJS.WritableStream } = { stderr: process.stderr, stdout: process.stdout },
): ProgressOutput {
  const { stderr, stdout } = streams;
  if (setting === 'none') return { mode: 'none', stream: stderr };
  if (setting === 'auto') {
    if (logFormat === 'json') return { mode: 'json', stream: stderr };
    return { mode: stderr.isTTY ? 'tty' : 'plain', stream: stderr };
  }
  if (setting === 'plain') return { mode: 'plain', stream: logFormat === 'pretty' ? stderr : stdout };
  return { mode: 'json', stream: logFormat === 'json' ? stderr : stdout };
}

/** A stream that may be a terminal (process.stderr is a tty.WriteStream then). */
type MaybeTerminal = NodeJS.WritableStream & { isTTY?: boolean; columns?: number; rows?: number };

export interface ProgressPrinterOptions {
  readonly mode: ProgressMode;
  /** The snapshot to show; undefined while there is nothing to show yet. */
  readonly progress: () => Progress | undefined;
  /** Where progress goes (default stderr). */
  readonly stream?: NodeJS.WritableStream;
}

/**
 * Prints a sync's progress periodically: on a terminal a block of bars redrawn in place every
 * second, otherwise one line (or one JSON record) every 10 s. Text that must appear alongside
 * (log lines, a demo's messages) goes through `above()` / `logStream()`, which erase the block
 * first so the redraw never overwrites it.
 *
 * What the redraw in place must hold, or the screen fills with copies of the block:
 * - every line fits the terminal's width minus one column (display width, wide characters count
 *   two): a line that reaches the last column wraps at once on some terminals;
 * - the block is at most the terminal's height minus one row (the cursor's): rows scrolled off the
 *   top cannot be reached by the cursor any more;
 * - the erase moves up by *physical* rows, recounted with the current width after a resize
 *   (terminals that reflow, such as tmux, VTE and iTerm, rewrap the old block to the new width);
 * - the erase starts with a carriage return, so text the terminal echoed on the cursor's line
 *   (`^C`) is cleared with the block and what follows starts at column 0;
 * - rows are erased one by one (erase-line), never by erase-display: a terminal may keep a screen
 *   cleared from its top-left corner in its scrollback (tmux's `scroll-on-clear`, on by default),
 *   so a block drawn on the first row would be left behind in the scrollback once per erase.
 */
export class ProgressPrinter {
  private readonly opts: ProgressPrinterOptions;
  private readonly stream: MaybeTerminal;
  private timer: NodeJS.Timeout | undefined;
  /** The lines of the block drawn last (tty mode); empty when nothing is on screen to redraw. */
  private drawn: string[] = [];
  private readonly onResize = () => {
    if (this.timer) this.print();
  };

  constructor(opts: ProgressPrinterOptions) {
    this.opts = opts;
    this.stream = (opts.stream ?? process.stderr) as MaybeTerminal;
  }

  get mode(): ProgressMode {
    return this.opts.mode;
  }

  /** Starts the periodic printing (the timer does not keep the process alive). */
  start(): void {
    if (this.opts.mode === 'none' || this.timer) return;
    this.timer = setInterval(() => this.print(), this.opts.mode === 'tty' ? 1000 : 10_000);
    this.timer.unref();
    if (this.opts.mode === 'tty') this.stream.on('resize', this.onResize);
  }

  get running(): boolean {
    return this.timer !== undefined;
  }

  /** Stops the periodic printing; the last block stays on screen, above whatever is written next. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.drawn = [];
    this.stream.removeListener('resize', this.onResize);
  }

  /** The last word when the work ends: one more line in plain and json modes (the tty block is already current). */
  finish(): void {
    if (this.opts.mode === 'plain' || this.opts.mode === 'json') this.print();
  }

  /** Prints the progress now. */
  print(): void {
    const p = this.opts.progress();
    if (!p) return;
    const mode = this.opts.mode;
    if (mode === 'json') {
      // A JSON log record (pino's shape, level info), so a stream of JSON logs stays uniform; the
      // `progress` key first, as before records had level and time.
      this.stream.write(JSON.stringify({ progress: p, level: 30, time: Date.now(), msg: 'progress' }) + '\n');
    } else if (mode === 'tty') {
      const { columns, rows } = this.size();
      const text = renderProgress(p, true, { width: columns - 1, height: rows - 1 });
      this.erase();
      this.stream.write(text + '\n');
      this.drawn = text.split('\n');
    } else if (mode === 'plain') this.stream.write(renderProgress(p, false) + '\n');
  }

  /**
   * Writes `text` (whole lines) to `out` above the progress: on a terminal the block is erased
   * first and redrawn below the text while the printer runs.
   */
  above(text: string, out: NodeJS.WritableStream = process.stdout): void {
    this.erase();
    // On a terminal, human text wraps at word boundaries within the width the block uses.
    if (this.opts.mode === 'tty' && (out as MaybeTerminal).isTTY) text = wrapToWidth(text.replace(/\n$/, ''), this.size().columns - 1);
    out.write(text.endsWith('\n') ? text : text + '\n');
    if (this.timer && this.opts.mode === 'tty') this.print();
  }

  /** A stream for a logger that writes to `dest` (stderr) above the progress (see `above`). */
  logStream(dest: NodeJS.WritableStream = process.stderr): Writable {
    return new Writable({
      write: (chunk: Buffer | string, _enc, cb) => {
        this.above(chunk.toString(), dest);
        cb();
      },
    });
  }

  /** The terminal's size; 80×24 when it cannot tell. */
  private size(): { columns: number; rows: number } {
    const columns = this.stream.columns && this.stream.columns > 1 ? this.stream.columns : 80;
    const rows = this.stream.rows && this.stream.rows > 1 ? this.stream.rows : 24;
    return { columns, rows };
  }

  private erase(): void {
    if (this.opts.mode !== 'tty') return;
    const up = this.drawn.length ? physicalRows(this.drawn, this.size().columns) : 0;
    this.stream.write(eraseRows(up));
    this.drawn = [];
  }
}

/**
 * The escape sequence that erases the cursor's row and the `up` rows above it, leaving the cursor
 * at column 0 of the highest: erase-line per row, never erase-display (see ProgressPrinter).
 */
export function eraseRows(up: number): string {
  return '\r\x1b[2K' + '\x1b[1A\x1b[2K'.repeat(Math.max(0, up));
}
