/**
 * What a user sees on a real terminal (tmux panes of a fixed size, read back with capture-pane) and
 * in a pipe, with real servers: the demo at 80 columns and a sync at 120 then 90 columns keep one
 * status block on screen whose lines fit the width (no status line printed again on a new line
 * every second), the demo's dashboard address comes first, Ctrl-C leaves no `trSIGINT` behind and
 * exits 0; piped, stderr holds one format (JSON logs and JSON progress, or text), never a mix.
 * Starts MariaDB servers: run under the lock (see the common brief).
 */
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { displayWidth } from '../../src/runner/width.js';
import { CLI_FROM_SOURCE, ROOT, runCli, startPair, waitUntil, type Pair } from '../helpers/mysql.js';

/** A tmux server of our own, so nothing else running tmux on this machine is touched. */
const SOCKET = join(tmpdir(), `tributary-terminal-test-${process.pid}.sock`);
function tmux(...args: string[]): string {
  return execFileSync('tmux', ['-S', SOCKET, ...args], { encoding: 'utf8' });
}

/** Runs `command` in a detached pane of `columns`×`rows` (the CLI from dist/ or the sources, as every test's: CLI_FROM_SOURCE); the pane stays after it ends, showing `EXIT=<code>`. */
function startPane(name: string, columns: number, rows: number, command: string): void {
  tmux('new-session', '-d', '-x', String(columns), '-y', String(rows), '-s', name, `cd ${ROOT} && env TRIBUTARY_FROM_SOURCE=${CLI_FROM_SOURCE} ${command}; echo EXIT=$?; sleep 600`);
}

/** The pane's lines, wrapped lines joined back (so a line wider than the pane shows as one long line). */
function capture(name: string, all = false): string[] {
  return tmux('capture-pane', '-p', '-J', ...(all ? ['-S', '-'] : []), '-t', name)
    .split('\n')
    .map((l) => l.trimEnd());
}

const STATUS = /^tributary (copy|stream|starting)/;
const BAR = /^ {2}\S.*[█░]/;

/** Checks one screen: at most one status line, and every line of the block within `width - 1` columns. */
function checkScreen(lines: string[], width: number, what: string): { status: number; bars: number } {
  const status = lines.filter((l) => STATUS.test(l));
  expect(status.length, `${what}: status lines on one screen\n${lines.join('\n')}`).toBeLessThanOrEqual(1);
  const block = lines.filter((l) => STATUS.test(l) || BAR.test(l));
  for (const l of block) expect(displayWidth(l), `${what}: a progress line wider than the terminal:\n${l}`).toBeLessThan(width);
  return { status: status.length, bars: lines.filter((l) => BAR.test(l)).length };
}

/** Samples the pane every second for `seconds`, checking each screen; returns how many showed bars. */
async function watch(name: string, width: number, seconds: number): Promise<{ withStatus: number; withBars: number }> {
  let withStatus = 0;
  let withBars = 0;
  for (let i = 0; i < seconds; i++) {
    await new Promise((r) => setTimeout(r, 1000));
    const s = checkScreen(capture(name), width, `${width} columns, sample ${i}`);
    if (s.status) withStatus++;
    if (s.bars) withBars++;
  }
  return { withStatus, withBars };
}

/** Presses Ctrl-C in the pane and checks that what follows starts on a clean line. */
async function interrupt(name: string, done: RegExp): Promise<string[]> {
  tmux('send-keys', '-t', name, 'C-c');
  await waitUntil('the stop after Ctrl-C', () => capture(name, true).some((l) => l.startsWith('EXIT=')), 120_000, 500);
  const all = capture(name, true);
  const text = all.join('\n');
  expect(text, text).toMatch(done);
  // The message starts at column 0: no part of the erased block (`tr…`) or of the `^C` echo before it.
  // Rows that start with two spaces continue a line wrapped at a word boundary (wrapToWidth).
  const sigint = all.filter((l) => /SIGINT|stopping: finishing/.test(l) && !/^ {2}\S/.test(l));
  expect(sigint.length, text).toBeGreaterThan(0);
  for (const l of sigint) expect(l, text).toMatch(/^(\d\d:\d\d:\d\d \w+ )?(SIGINT|stopping)/);
  expect(all.filter((l) => /^\^C\S/.test(l)), text).toEqual([]);
  return all;
}

beforeAll(() => {
  execFileSync('tmux', ['-V']);
});

afterAll(() => {
  try {
    tmux('kill-server');
  } catch {
    // no server was started
  }
  rmSync(SOCKET, { force: true });
});

describe('the terminal', () => {
  it('a block drawn on the first row leaves nothing in the scrollback (tmux keeps a screen cleared from its top)', async () => {
    startPane('firstrow', 100, 20, 'node --import tsx tests/fixtures/progress-first-row.ts');
    await waitUntil('the script to end', () => capture('firstrow', true).some((l) => l.startsWith('EXIT=')), 60_000, 250);
    const all = capture('firstrow', true);
    expect(all, all.join('\n')).toContain('EXIT=0');
    const status = all.filter((l) => STATUS.test(l));
    expect(status, all.join('\n')).toHaveLength(1);
    expect(status[0]).toMatch(/^tributary stream /);
    expect(all.findIndex((l) => /WARN a warning/.test(l)), all.join('\n')).toBe(0);
  }, 90_000);

  it('demo at 80×24: dashboard first, one compact status block, Ctrl-C stops cleanly with exit 0', async () => {
    startPane('demo80', 80, 24, 'node bin/tributary.js demo --rate 100');
    let port = 0;
    await waitUntil('the dashboard address', () => {
      const m = /^dashboard: http:\/\/127\.0\.0\.1:(\d+)\/$/m.exec(capture('demo80', true).join('\n'));
      port = m ? Number(m[1]) : 0;
      return port > 0;
    }, 90_000, 500);
    const page = await fetch(`http://127.0.0.1:${port}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<html');

    await waitUntil('the progress block', () => capture('demo80').some((l) => STATUS.test(l)), 60_000, 250);
    const seen = await watch('demo80', 80, 12);
    expect(seen.withStatus).toBeGreaterThanOrEqual(10);

    const all = capture('demo80', true);
    const dash = all.findIndex((l) => l.startsWith('dashboard: '));
    const firstStatus = all.findIndex((l) => STATUS.test(l));
    expect(dash).toBeGreaterThanOrEqual(0);
    // The address heads the demo's output, before any progress…
    expect(firstStatus === -1 || dash < firstStatus, all.join('\n')).toBe(true);
    // …and in the whole scrollback the live block's status line appears once: none was left behind by a redraw.
    expect(all.filter((l) => STATUS.test(l)), all.join('\n')).toHaveLength(1);

    const after = await interrupt('demo80', /all 4 tables equal/);
    expect(after).toContain('EXIT=0');
  }, 175_000);

  describe('a sync', () => {
    let pair: Pair;
    beforeAll(async () => {
      pair = await startPair();
      await pair.src.query('CREATE DATABASE term');
      // A table name as wide as a long line, with wide characters: it is cut by columns, not bytes.
      await pair.src.query('CREATE TABLE term.`商品_products_with_a_name_long_enough_to_need_cutting` (id INT PRIMARY KEY, v VARCHAR(40))');
      await pair.src.query('CREATE TABLE term.orders (id INT PRIMARY KEY, v VARCHAR(40))');
      await pair.src.query(
        "USE term; INSERT INTO term.orders SELECT seq, CONCAT('order ', seq) FROM seq_1_to_30000; INSERT INTO term.`商品_products_with_a_name_long_enough_to_need_cutting` SELECT seq, 'p' FROM seq_1_to_20000",
      );
    }, 120_000);
    afterAll(async () => {
      await pair?.stop();
    });

    it('at 120 columns, then resized to 90: one status block that fits, bars during the copy, Ctrl-C exits 0', async () => {
      // The copy is slowed down so that it is seen for several seconds.
      startPane('sync120', 120, 30, `node bin/tributary.js sync --source ${pair.srcUrl('term')} --target ${pair.dstUrl('term')} --flush-interval 200ms --copy-rate-limit 5000 --checksum-interval 1s`);
      await waitUntil('the progress block', () => capture('sync120').some((l) => STATUS.test(l)), 60_000, 250);
      const copying = await watch('sync120', 120, 5);
      expect(copying.withBars, capture('sync120').join('\n')).toBeGreaterThanOrEqual(3);
      expect(capture('sync120').some((l) => l.includes('商品_products'))).toBe(true);

      tmux('resize-window', '-t', 'sync120', '-x', '90', '-y', '20');
      await watch('sync120', 90, 4);
      await waitUntil('the stream', () => capture('sync120').some((l) => l.startsWith('tributary stream')), 90_000, 500);
      await pair.src.query("INSERT INTO term.orders VALUES (40001, 'during the stream')");
      const streaming = await watch('sync120', 90, 5);
      expect(streaming.withStatus).toBeGreaterThanOrEqual(4);
      const all = capture('sync120', true);
      expect(all.filter((l) => STATUS.test(l)), all.join('\n')).toHaveLength(1);

      const after = await interrupt('sync120', /stopped cleanly/);
      expect(after).toContain('EXIT=0');
    }, 175_000);

    it('piped: stderr carries JSON logs and JSON progress, or text only; plain progress beside JSON logs goes to stdout', async () => {
      const base = ['sync', '--source', pair.srcUrl('term'), '--copy-only'];
      const isJson = (l: string) => {
        try {
          return typeof JSON.parse(l) === 'object';
        } catch {
          return false;
        }
      };
      const lines = (s: string) => s.split('\n').filter(Boolean);

      // Default when stderr is not a terminal: JSON logs, and progress as JSON records among them.
      const auto = await runCli([...base, '--target', pair.dstUrl('piped_auto')], { TRIBUTARY_PROGRESS: 'auto' });
      expect(auto.code, auto.stderr).toBe(0);
      expect(lines(auto.stderr).filter((l) => !isJson(l)), auto.stderr).toEqual([]);
      expect(lines(auto.stderr).some((l) => (JSON.parse(l) as { msg?: string }).msg === 'progress')).toBe(true);
      expect(auto.stdout).toBe('');

      // Plain progress asked for beside JSON logs: on stdout, so stderr stays all JSON.
      const plain = await runCli([...base, '--target', pair.dstUrl('piped_plain'), '--progress', 'plain']);
      expect(plain.code, plain.stderr).toBe(0);
      expect(lines(plain.stderr).filter((l) => !isJson(l)), plain.stderr).toEqual([]);
      expect(lines(plain.stdout).length).toBeGreaterThan(0);
      for (const l of lines(plain.stdout)) expect(l).toMatch(/^\[tributary\] /);

      // Pretty logs: text only, plain progress among them, and no terminal escape sequence in a file.
      const pretty = await runCli([...base, '--target', pair.dstUrl('piped_pretty'), '--progress', 'plain', '--log-format', 'pretty']);
      expect(pretty.code, pretty.stderr).toBe(0);
      expect(lines(pretty.stderr).filter(isJson), pretty.stderr).toEqual([]);
      expect(pretty.stderr).toMatch(/^\d\d:\d\d:\d\d INFO copy done/m);
      expect(pretty.stderr).toMatch(/^\[tributary\] /m);
      expect(pretty.stderr).not.toContain('\x1b');
    }, 175_000);
  });
});
