/**
 * The terminal progress block's width and height arithmetic (runner/width.ts, runner/progress.ts,
 * cli/progress-printer.ts), with a fake terminal that records what is written. The same block is
 * rendered through a real terminal (tmux) in tests/integration/terminal.test.ts.
 */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { eraseRows, ProgressPrinter, resolveProgress } from '../../src/cli/progress-printer.js';
import { renderProgress, type Progress } from '../../src/runner/progress.js';
import { charWidth, displayWidth, physicalRows, truncateToWidth, wrapToWidth } from '../../src/runner/width.js';

function progress(over: Partial<Progress> = {}): Progress {
  return {
    phase: 'copy',
    summary: 'copy 42.0% 120000/300000 rows 12345 rows/s ETA 1m10s | stream 12 changes/s lag 0.4s',
    tables: [
      { table: 'customers', rowsCopied: 5069, rowsTotal: 5069, done: true },
      { table: 'order_items_with_a_rather_long_name_for_a_table', rowsCopied: 1_234_567, rowsTotal: 9_876_543, done: false },
      { table: '商品_products', rowsCopied: 999, rowsTotal: 2034, done: false },
    ],
    rowsCopied: 1_240_635,
    rowsTotal: 9_883_646,
    copyRowsPerSecond: 123_456.7,
    changesApplied: 6984,
    changesPerSecond: 812.3,
    lagSeconds: 0.42,
    appliedPosition: 'binlog.000001:5560574 gtid=0-1-190',
    etaSeconds: 70,
    checksum: null,
    ...over,
  };
}

describe('display width', () => {
  it('counts wide characters two columns, combining marks none, and the bar characters one', () => {
    expect(displayWidth('abc')).toBe(3);
    expect(displayWidth('商品')).toBe(4);
    expect(displayWidth('e\u0301')).toBe(1); // e + combining acute
    expect(displayWidth('█░')).toBe(2);
    expect(displayWidth('🚀')).toBe(2);
    expect(charWidth('\x1b')).toBe(0);
    // Bytes and UTF-16 units are not columns.
    expect(Buffer.byteLength('█'.repeat(10))).toBe(30);
    expect(displayWidth('█'.repeat(10))).toBe(10);
  });

  it('truncates by columns, never splitting a wide character, and marks the cut', () => {
    expect(truncateToWidth('abcdef', 6)).toBe('abcdef');
    expect(truncateToWidth('abcdef', 4)).toBe('abc…');
    // 商 and 品 are two columns each: 5 columns hold 商品 (4) and the ellipsis (1)…
    expect(truncateToWidth('商品_products', 5)).toBe('商品…');
    // …and 4 columns hold 商 and the ellipsis only: 品 would straddle the limit.
    expect(truncateToWidth('商品_products', 4)).toBe('商…');
    expect(displayWidth(truncateToWidth('商品_products', 4))).toBeLessThanOrEqual(4);
    expect(truncateToWidth('x', 0)).toBe('');
  });

  it('counts the rows a line wraps onto', () => {
    expect(physicalRows(['a'.repeat(80)], 80)).toBe(1);
    expect(physicalRows(['a'.repeat(81)], 80)).toBe(2);
    expect(physicalRows(['', 'a'.repeat(160), '商'.repeat(41)], 80)).toBe(1 + 2 + 2);
  });
});

describe('renderProgress on a terminal', () => {
  for (const width of [40, 79, 119, 159]) {
    it(`fits ${width} columns on every line, during the copy and the stream`, () => {
      for (const p of [progress(), progress({ phase: 'stream', checksum: { state: 'checking', pass: 3, passesCompleted: 2, chunksChecked: 1, rowsChecked: 1, chunksDiffering: 0, chunksByDigest: 0, mismatches: 0, repairs: 2, firstCleanPassAt: null, lastPassAt: null, lastError: null } })]) {
        const lines = renderProgress(p, true, { width, height: 24 }).split('\n');
        for (const l of lines) expect(displayWidth(l), l).toBeLessThanOrEqual(width);
      }
    });
  }

  it('is compact at 80 columns: abbreviated numbers, bars still there', () => {
    const text = renderProgress(progress(), true, { width: 79, height: 23 });
    expect(text.split('\n')[0]).toBe('tributary copy 12.6% 1.24M/9.88M 123k rows/s ETA 1m10s | 812 chg/s lag 0.4s');
    expect(text).toContain('█');
    expect(text).toMatch(/商品_products/);
    const wide = renderProgress(progress(), true, { width: 159, height: 23 });
    expect(wide.split('\n')[0]).toContain('1240635/9883646 rows');
  });

  it('caps the block at the height it is given, keeping the tables still copying', () => {
    const tables = Array.from({ length: 50 }, (_, i) => ({ table: `t${i}`, rowsCopied: 10, rowsTotal: 100, done: i !== 42 && i < 45 }));
    const lines = renderProgress(progress({ tables }), true, { width: 79, height: 6 }).split('\n');
    expect(lines).toHaveLength(6);
    // t42 and t45..t49 are not done: shown first, the rest summed up.
    expect(lines.slice(1, 5).map((l) => l.trim().split(' ')[0])).toEqual(['t42', 't45', 't46', 't47']);
    expect(lines[5]).toBe('  … 46 more tables (44 done)');
  });

  it('reports a clean stop without the last retried error', () => {
    const text = renderProgress(progress({ phase: 'stopped', summary: 'stopped: Deadlock found when trying to get lock' }), true, { width: 79, height: 23 });
    expect(text.split('\n')[0]).toBe('tributary stopped: 1.24M rows copied, 6.98k changes applied');
  });
});

/** A writable that looks like a terminal of the given size and records what is written. */
class FakeTerminal extends Writable {
  isTTY = true;
  out = '';
  constructor(
    public columns: number,
    public rows: number,
  ) {
    super();
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.out += chunk.toString();
    cb();
  }
}

describe('ProgressPrinter on a terminal', () => {
  it('erases by physical rows from column 0, and recounts them with the new width after a resize', () => {
    const term = new FakeTerminal(80, 24);
    const printer = new ProgressPrinter({ mode: 'tty', stream: term, progress: () => progress() });
    printer.start();
    try {
      printer.print();
      const drawn = term.out.split('\n').filter(Boolean);
      expect(drawn).toHaveLength(4); // status + 3 tables
      for (const l of drawn) expect(displayWidth(l.replace(eraseRows(0), ''))).toBeLessThan(80);
      term.out = '';
      printer.print();
      // Up 4 rows, from column 0 (\r first: a ^C echoed on the cursor's line goes with the block).
      expect(term.out.startsWith(eraseRows(4))).toBe(true);
      // Row by row: erase-display from the top-left corner would push the screen into tmux's scrollback.
      expect(term.out).not.toContain('\x1b[J');

      // The terminal narrows to 30 columns and rewraps the old block: its rows are recounted.
      const widths = term.out.slice(eraseRows(4).length).split('\n').filter(Boolean).map(displayWidth);
      term.columns = 30;
      term.out = '';
      term.emit('resize');
      const rows = widths.reduce((n, w) => n + Math.max(1, Math.ceil(w / 30)), 0);
      expect(rows).toBeGreaterThan(4);
      expect(term.out.startsWith(eraseRows(rows))).toBe(true);
      for (const l of term.out.split('\n').slice(1, -1)) expect(displayWidth(l)).toBeLessThan(30);
    } finally {
      printer.stop();
    }
  });

  it('writes a line above the block starting at column 0 even when no block is drawn', () => {
    const term = new FakeTerminal(80, 24);
    const printer = new ProgressPrinter({ mode: 'tty', stream: term, progress: () => undefined });
    printer.above('SIGINT: stopping', term);
    expect(term.out).toBe(eraseRows(0) + 'SIGINT: stopping\n');
  });

  it('keeps the block within the terminal height', () => {
    const term = new FakeTerminal(80, 8);
    const tables = Array.from({ length: 30 }, (_, i) => ({ table: `t${i}`, rowsCopied: 1, rowsTotal: 2, done: false }));
    const printer = new ProgressPrinter({ mode: 'tty', stream: term, progress: () => progress({ tables }) });
    printer.print();
    expect(term.out.split('\n').filter(Boolean)).toHaveLength(7);
  });
});

describe('where progress goes (stderr carries one format)', () => {
  const stderr = Object.assign(new FakeTerminal(80, 24), { isTTY: false });
  const stdout = new FakeTerminal(80, 24);
  it('follows the table in the printer', () => {
    expect(resolveProgress('auto', 'json', { stderr, stdout })).toEqual({ mode: 'json', stream: stderr });
    expect(resolveProgress('auto', 'pretty', { stderr, stdout })).toEqual({ mode: 'plain', stream: stderr });
    expect(resolveProgress('plain', 'json', { stderr, stdout })).toEqual({ mode: 'plain', stream: stdout });
    expect(resolveProgress('json', 'pretty', { stderr, stdout })).toEqual({ mode: 'json', stream: stdout });
    expect(resolveProgress('json', 'json', { stderr, stdout })).toEqual({ mode: 'json', stream: stderr });
    const tty = new FakeTerminal(80, 24);
    expect(resolveProgress('auto', 'pretty', { stderr: tty, stdout })).toEqual({ mode: 'tty', stream: tty });
  });

  it('writes a JSON progress record in the shape of a log record', () => {
    const out = new FakeTerminal(80, 24);
    new ProgressPrinter({ mode: 'json', stream: out, progress: () => progress() }).print();
    const rec = JSON.parse(out.out) as Record<string, unknown>;
    expect(rec).toMatchObject({ level: 30, msg: 'progress', progress: { phase: 'copy' } });
    expect(typeof rec.time).toBe('number');
  });
});

describe('text printed above the progress on a terminal', () => {
  it('wraps at word boundaries within the width, continuation rows indented, no word or number split', () => {
    const line = '   10s  customers 5124/5125  products 2056/2055  orders 10443/10430  order_items 26129/26102';
    const out = wrapToWidth(line, 79).split('\n');
    expect(out).toEqual(['   10s  customers 5124/5125  products 2056/2055  orders 10443/10430', '     order_items 26129/26102']);
    const prose = "stopping: the workload stopped after 4870 transactions (512 rows repriced, 129 not started because the source was at its limit); waiting for the sync to apply the source's last change…";
    const rows = wrapToWidth(prose, 79).split('\n');
    expect(rows.length).toBe(3);
    for (const r of rows) expect(displayWidth(r)).toBeLessThanOrEqual(79);
    expect(rows.map((r) => r.trim()).join(' ')).toBe(prose);
  });

  it('leaves lines that fit alone, and cuts a word wider than a row where the row ends', () => {
    expect(wrapToWidth('short\n  also short', 20)).toBe('short\n  also short');
    const rows = wrapToWidth('x'.repeat(50), 20).split('\n');
    expect(rows.every((r) => displayWidth(r) <= 20)).toBe(true);
    expect(rows.join('').replace(/ /g, '')).toBe('x'.repeat(50));
    // Wide characters count two columns.
    for (const r of wrapToWidth('表 '.repeat(30), 21).split('\n')) expect(displayWidth(r)).toBeLessThanOrEqual(21);
  });

  it('the printer wraps what it writes above the bars on a terminal, and not in a pipe', () => {
    const chunks: string[] = [];
    const tty = Object.assign(new Writable({ write: (c: Buffer, _e, cb) => (chunks.push(c.toString()), cb()) }), { isTTY: true, columns: 40, rows: 24 });
    const printer = new ProgressPrinter({ mode: 'tty', progress: () => undefined, stream: tty });
    printer.above('alpha beta gamma delta epsilon zeta eta theta iota kappa', tty);
    // eslint-disable-next-line no-control-regex
    expect(chunks.join('').replace(/\r|\x1b\[[0-9;]*[A-Za-z]/g, '')).toBe('alpha beta gamma delta epsilon zeta eta\n  theta iota kappa\n');
    const piped: string[] = [];
    const pipe = new Writable({ write: (c: Buffer, _e, cb) => (piped.push(c.toString()), cb()) });
    new ProgressPrinter({ mode: 'plain', progress: () => undefined, stream: pipe }).above('alpha beta gamma delta epsilon zeta eta theta iota kappa', pipe);
    expect(piped.join('')).toBe('alpha beta gamma delta epsilon zeta eta theta iota kappa\n');
  });
});
