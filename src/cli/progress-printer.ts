import { Writable } from 'node:stream';
import { renderProgress, type Progress } from '../runner/progress.js';

/** How progress is shown: redrawn bars on a terminal, plain lines, JSON lines, or not at all. */
export type ProgressMode = 'tty' | 'plain' | 'json' | 'none';

/** Resolves the `--progress` setting: `auto` means bars when `stream` is a terminal, else plain lines. */
export function resolveProgressMode(setting: 'auto' | 'plain' | 'json' | 'none', stream: { isTTY?: boolean } = process.stderr): ProgressMode {
  return setting === 'auto' ? (stream.isTTY ? 'tty' : 'plain') : setting;
}

export interface ProgressPrinterOptions {
  readonly mode: ProgressMode;
  /** The snapshot to show; undefined while there is nothing to show yet. */
  readonly progress: () => Progress | undefined;
  /** Where progress goes (default stderr). */
  readonly stream?: NodeJS.WritableStream;
}

/**
 * Prints a sync's progress periodically: on a terminal a block of bars redrawn in place every
 * second, otherwise one line (or one JSON object) every 10 s. Text that must appear alongside
 * (log lines, a demo's messages) goes through `above()` / `logStream()`, which erase the block
 * first so the redraw never overwrites it.
 */
export class ProgressPrinter {
  private readonly opts: ProgressPrinterOptions;
  private readonly stream: NodeJS.WritableStream;
  private timer: NodeJS.Timeout | undefined;
  /** Lines of the block drawn last (tty mode); 0 when nothing is on screen to redraw. */
  private lastLines = 0;

  constructor(opts: ProgressPrinterOptions) {
    this.opts = opts;
    this.stream = opts.stream ?? process.stderr;
  }

  get mode(): ProgressMode {
    return this.opts.mode;
  }

  /** Starts the periodic printing (the timer does not keep the process alive). */
  start(): void {
    if (this.opts.mode === 'none' || this.timer) return;
    this.timer = setInterval(() => this.print(), this.opts.mode === 'tty' ? 1000 : 10_000);
    this.timer.unref();
  }

  get running(): boolean {
    return this.timer !== undefined;
  }

  /** Stops the periodic printing; the last block stays on screen, above whatever is written next. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.lastLines = 0;
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
    if (mode === 'json') this.stream.write(JSON.stringify({ progress: p }) + '\n');
    else if (mode === 'tty') {
      const text = renderProgress(p, true);
      this.erase();
      this.stream.write(text + '\n');
      this.lastLines = text.split('\n').length;
    } else if (mode === 'plain') this.stream.write(renderProgress(p, false) + '\n');
  }

  /**
   * Writes `text` (whole lines) to `out` above the progress: on a terminal the block is erased
   * first and redrawn below the text while the printer runs.
   */
  above(text: string, out: NodeJS.WritableStream = process.stdout): void {
    this.erase();
    out.write(text.endsWith('\n') ? text : text + '\n');
    if (this.timer && this.opts.mode === 'tty') this.print();
  }

  /** A stream for a logger that writes above the progress (see `above`). */
  logStream(): Writable {
    return new Writable({
      write: (chunk: Buffer | string, _enc, cb) => {
        this.above(chunk.toString(), this.stream);
        cb();
      },
    });
  }

  private erase(): void {
    if (this.lastLines) this.stream.write(`\x1b[${this.lastLines}A\x1b[J`);
    this.lastLines = 0;
  }
}
