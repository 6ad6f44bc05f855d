/**
 * The web dashboard (GET /) of a running `tributary sync --http` on real MariaDB servers, in
 * headless Chromium (Debian's package, driven by playwright-core, which downloads no browser):
 * the phase; a progress bar per table while the copy runs (slowed by --copy-rate-limit, whose
 * throttle the page shows) and 100% with the final count once done, even for a table whose
 * catalogue estimate was too high; the lag chart and the throughput on two charts of their own
 * (copy rows/s, stream changes/s); changes per table and kind; the checksum section; Pause and
 * Resume with the token from the URL fragment; the security headers; a layout that fills 1280 px
 * and stacks at 800 px; and a fatal error kept on screen for --http-linger.
 *
 * Screenshots (look at them after a change to the page): tests/artifacts/dashboard-during-copy.png,
 * dashboard-copy.png (after the copy), dashboard-stream.png (during the stream),
 * dashboard-narrow.png (800 px), dashboard-failed.png (the linger after a fatal error).
 *
 * Needs `chromium` (scripts/install.sh installs it): without it the test fails and says so.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StatusJson } from '../../src/server/status.js';
import { freePort, startMariaDb, type Server } from '../../src/testing/servers.js';
import { connect, ROOT, runCli, startCli, waitUntil, type CliRun } from '../helpers/mysql.js';
import type { Connection } from 'mysql2/promise';

const CHROMIUM = process.env.TRIBUTARY_CHROMIUM ?? '/usr/bin/chromium';
const TOKEN = 'dash-0123456789abcdef-tok';
const ARTIFACTS = join(ROOT, 'tests', 'artifacts');

let source: Server;
let target: Server;
let src: Connection;
let browser: Browser | undefined;
const running: CliRun[] = [];

async function launch(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`the dashboard test needs Chromium at ${CHROMIUM} and it is not there: run scripts/install.sh (it installs Debian's chromium package), or set TRIBUTARY_CHROMIUM to the browser's path`);
  }
  try {
    return await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      // Root cannot use Chromium's sandbox; the page is our own, served on loopback.
      args: process.getuid?.() === 0 ? ['--no-sandbox'] : [],
      timeout: 30_000,
    });
  } catch (err) {
    throw new Error(`the dashboard test cannot launch Chromium at ${CHROMIUM}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

beforeAll(async () => {
  [source, target] = await Promise.all([startMariaDb({ serverId: 51 }), startMariaDb({ serverId: 52 })]);
  src = await connect(source.url());
  const dst = await connect(target.url());
  await dst.query('CREATE DATABASE dash; CREATE DATABASE dashfail; CREATE TABLE dashfail.t (id INT PRIMARY KEY); INSERT INTO dashfail.t VALUES (1)');
  await dst.end();
  await src.query(
    'CREATE DATABASE dash; CREATE TABLE dash.orders (id INT PRIMARY KEY, v INT NOT NULL); CREATE TABLE dash.customers (id INT PRIMARY KEY, name VARCHAR(40) NOT NULL);' +
      'INSERT INTO dash.orders SELECT seq, seq FROM dash.seq_1_to_20000; INSERT INTO dash.customers SELECT seq, CONCAT("c", seq) FROM dash.seq_1_to_400;' +
      // events: the catalogue's estimate (TABLE_ROWS) says 3000 rows, the table holds 2200. Its
      // persistent statistics are taken at 3000 and not recalculated; after a restart the server
      // reads them back, as a production server with stale statistics does.
      'CREATE TABLE dash.events (id INT PRIMARY KEY, v INT NOT NULL) STATS_PERSISTENT=1 STATS_AUTO_RECALC=0; INSERT INTO dash.events SELECT seq, seq FROM dash.seq_1_to_3000;' +
      'ANALYZE TABLE dash.events; DELETE FROM dash.events WHERE id > 2200;' +
      'CREATE DATABASE dashfail; CREATE TABLE dashfail.t (id INT PRIMARY KEY); INSERT INTO dashfail.t VALUES (1)',
  );
  await src.end();
  source.kill();
  await new Promise((r) => setTimeout(r, 500));
  source = await startMariaDb({ serverId: 51, dir: source.dir, port: source.port });
  src = await connect(source.url());
  const [rows] = await src.query('SELECT TABLE_ROWS AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = "dash" AND TABLE_NAME = "events"');
  // The premise of the 100%-when-done check: the estimate is too high.
  expect(Number((rows as { n: string }[])[0]?.n)).toBe(3000);
});

afterAll(async () => {
  await browser?.close().catch(() => undefined);
  for (const r of running) r.child.kill('SIGKILL');
  await src?.end().catch(() => undefined);
  await Promise.all([source?.stop(), target?.stop()]);
});

async function status(port: number): Promise<StatusJson> {
  const res = await fetch(`http://127.0.0.1:${port}/status`, { headers: { authorization: `Bearer ${TOKEN}` } });
  expect(res.status).toBe(200);
  return (await res.json()) as StatusJson;
}

interface TableRow {
  table: string | undefined;
  state: string | undefined;
  value: string | null | undefined;
  pct: string | null | undefined;
  count: string | null | undefined;
}

function tableRows(page: Page): Promise<TableRow[]> {
  return page.locator('#tables .row.table').evaluateAll((els) =>
    els.map((e) => ({
      table: (e as HTMLElement).dataset.table,
      state: (e as HTMLElement).dataset.state,
      value: e.querySelector('[role=progressbar]')?.getAttribute('aria-valuenow'),
      pct: e.querySelector('.pct')?.textContent,
      count: e.querySelector('.count')?.textContent,
    })),
  );
}

/** Pixels drawn on a canvas (not blank). */
function inked(page: Page, selector: string): Promise<number> {
  return page.locator(selector).evaluate((c) => {
    const canvas = c as HTMLCanvasElement;
    const data = canvas.getContext('2d')?.getImageData(0, 0, canvas.width, canvas.height).data ?? new Uint8ClampedArray();
    let n = 0;
    for (let i = 3; i < data.length; i += 4) if ((data[i] ?? 0) > 0) n++;
    return n;
  });
}

async function box(page: Page, selector: string): Promise<{ x: number; y: number; width: number; height: number }> {
  const b = await page.locator(selector).boundingBox();
  expect(b, selector).not.toBeNull();
  return b as { x: number; y: number; width: number; height: number };
}

async function shot(page: Page, name: string): Promise<void> {
  await mkdir(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, name);
  await page.screenshot({ path, fullPage: true });
  expect(existsSync(path)).toBe(true);
}

describe('web dashboard', () => {
  it('shows the copy per table (100% and the final count once done), separate throughput charts, changes per table, and pauses and resumes', async () => {
    // Launch the browser first: a missing browser fails here, and the page is open while the copy runs.
    browser = await launch();
    const port = await freePort();
    const run = startCli(
      ['sync', '--flush-interval', '100ms', '--chunk-size', '500', '--copy-rate-limit', '2500', '--threads', '2', '--source', source.url('dash'), '--target', target.url('dash'), '--http', `127.0.0.1:${port}`],
      { TRIBUTARY_HTTP_TOKEN: TOKEN },
    );
    running.push(run);
    const base = `http://127.0.0.1:${port}`;
    await waitUntil('the API', async () => (await fetch(`${base}/healthz`).catch(() => undefined))?.status === 200, 30_000, 100);

    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    const problems: string[] = [];
    const requested: string[] = [];
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    });
    page.on('request', (r) => requested.push(r.url()));
    const res = await page.goto(`${base}/#token=${TOKEN}`);
    expect(res?.status()).toBe(200);
    const headers = res?.headers() ?? {};
    expect(headers['content-type']).toBe('text/html; charset=utf-8');
    expect(headers['cache-control']).toBe('no-store');
    const csp = headers['content-security-policy'] ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toMatch(/script-src 'nonce-[A-Za-z0-9+/=]{16,}'/);
    expect(csp).not.toContain('unsafe-inline');

    // During the copy (2500 rows/s for 22,600 rows): a bar per table, one copying below 100%, and
    // the rate limit shown as the copy's throttle.
    await page.locator('#phase', { hasText: 'copy' }).waitFor({ timeout: 20_000 });
    expect(page.url()).toBe(`${base}/`);
    await expect.poll(async () => (await tableRows(page)).some((t) => t.state === 'copying'), { timeout: 10_000 }).toBe(true);
    const during = await tableRows(page);
    expect(during.map((t) => t.table).sort()).toEqual(['customers', 'events', 'orders']);
    for (const t of during.filter((r) => r.state !== 'done')) expect(Number(t.value)).toBeLessThan(100);
    await expect.poll(() => page.locator('#throttle').textContent(), { timeout: 5000 }).toContain('rate limit 2,500 rows/s');
    expect(await page.locator('#throttle').isVisible()).toBe(true);
    await shot(page, 'dashboard-during-copy.png');

    // After the copy: every table done at 100% with its final count; events (estimate 3000,
    // 2200 rows) shows 2,200, not "2,200 / 3,000 (73.3%)".
    await page.locator('#phase', { hasText: 'stream' }).waitFor({ timeout: 60_000 });
    await expect.poll(async () => (await tableRows(page)).every((t) => t.state === 'done'), { timeout: 5000 }).toBe(true);
    const after = await tableRows(page);
    for (const t of after) expect(t, t.table).toMatchObject({ state: 'done', value: '100.0', pct: '100%' });
    expect(after.find((t) => t.table === 'events')?.count).toBe('2,200 rows · done');
    expect(after.find((t) => t.table === 'orders')?.count).toBe('20,000 rows · done');
    expect(await page.locator('#copy-total').textContent()).toBe('22,600 rows copied (100%), 3 tables done');
    const st = await status(port);
    expect(st.copy.tables.find((t) => t.table === 'events')).toEqual({ table: 'events', rowsCopied: 2200, rowsTotal: 2200, percent: 100, state: 'done' });
    expect(st.copy).toMatchObject({ rowsCopied: 22_600, rowsTotal: 22_600, percent: 100 });
    // `tributary status` prints the same final counts, and the copy's throttle.
    const printed = await runCli(['status', '--http', `127.0.0.1:${port}`], { TRIBUTARY_HTTP_TOKEN: TOKEN });
    expect(printed.stdout).toMatch(/^ {2}copy +22,600\/22,600 rows \(100%\), done$/m);
    expect(printed.stdout).toMatch(/^ {4}events +done +100% +2,200\/2,200$/m);
    expect(printed.stdout).toMatch(/^ {2}copy throttle +rate limit 2,500 rows\/s$/m);
    // The rows/s chart holds the copy; the page drew it from the samples.
    await expect.poll(async () => Number(await page.locator('#rows-chart').getAttribute('data-points')), { timeout: 10_000 }).toBeGreaterThanOrEqual(3);
    await shot(page, 'dashboard-copy.png');

    // The stream: changes of every kind on every table, over a few seconds.
    for (let i = 0; i < 8; i++) {
      await src.query(
        `INSERT INTO dash.orders SELECT seq, seq FROM dash.seq_${30_000 + i * 100}_to_${30_099 + i * 100};` +
          `UPDATE dash.customers SET name = CONCAT(name, "x") WHERE id BETWEEN ${i * 10 + 1} AND ${i * 10 + 10};` +
          `DELETE FROM dash.events WHERE id BETWEEN ${i * 5 + 1} AND ${i * 5 + 5}`,
      );
      await new Promise((r) => setTimeout(r, 500));
    }
    const byTable = () =>
      page.locator('#changes-table tbody tr').evaluateAll((trs) =>
        Object.fromEntries(trs.map((tr) => [(tr as HTMLElement).dataset.table, Object.fromEntries([...tr.querySelectorAll('td[data-kind]:not([hidden])')].map((td) => [(td as HTMLElement).dataset.kind, td.textContent]))])),
      );
    await expect
      .poll(byTable, { timeout: 20_000 })
      .toEqual({
        orders: { insert: '800', update: '0', delete: '0' },
        customers: { insert: '0', update: '80', delete: '0' },
        events: { insert: '0', update: '0', delete: '40' },
      });
    // upsert and truncate columns only once a table has one (none here), so the table fits 800 px
    expect(await page.locator('#changes-table th:visible').allTextContents()).toEqual(['table', 'insert', 'update', 'delete', 'total']);
    expect(await page.locator('#changes-table tbody tr').first().getAttribute('data-table')).toBe('orders');

    // Two throughput charts, each on its own axis: the stream's is scaled to the stream, not to
    // the copy's spike (on one shared axis it was a flat line at 0).
    for (const id of ['#lag-chart', '#changes-chart', '#rows-chart']) {
      await expect.poll(async () => Number(await page.locator(id).getAttribute('data-points')), { timeout: 10_000, message: `${id} data points` }).toBeGreaterThanOrEqual(3);
      const b = await box(page, id);
      expect(b.width).toBeGreaterThan(250);
      expect(b.height).toBeGreaterThan(100);
      expect(await inked(page, id)).toBeGreaterThan(100);
    }
    await expect.poll(async () => Number(await page.locator('#changes-chart').getAttribute('data-max')), { timeout: 10_000 }).toBeGreaterThan(1);
    const streamMax = Number(await page.locator('#changes-chart').getAttribute('data-max'));
    const copyMax = Number(await page.locator('#rows-chart').getAttribute('data-max'));
    expect(copyMax).toBeGreaterThanOrEqual(1000);
    expect(streamMax).toBeLessThan(copyMax);
    await shot(page, 'dashboard-stream.png');

    // 1280 px: the width is used (copy beside stream, the three charts in one row, no column empty).
    const [copyBox, streamBox, lagBox, changesBox, rowsBox] = await Promise.all(['#copy', '#stream', '#lag-section', '#changes-section', '#rows-section'].map((id) => box(page, id)));
    expect(Math.abs((copyBox?.y ?? 0) - (streamBox?.y ?? 1))).toBeLessThan(2);
    expect((streamBox?.x ?? 0) + (streamBox?.width ?? 0)).toBeGreaterThan(1230);
    expect(new Set([lagBox, changesBox, rowsBox].map((b) => Math.round(b?.y ?? 0))).size).toBe(1);
    expect((rowsBox?.x ?? 0) + (rowsBox?.width ?? 0)).toBeGreaterThan(1230);

    // 800 px: nothing overflows sideways; the charts pair up across the width.
    await page.setViewportSize({ width: 800, height: 800 });
    await expect.poll(() => page.evaluate(() => document.documentElement.scrollWidth), { timeout: 5000 }).toBeLessThanOrEqual(800);
    const [narrowChanges, narrowRows, narrowCopy] = await Promise.all(['#changes-section', '#rows-section', '#copy'].map((id) => box(page, id)));
    expect(Math.abs((narrowChanges?.y ?? 0) - (narrowRows?.y ?? 1))).toBeLessThan(2);
    expect((narrowRows?.x ?? 0) + (narrowRows?.width ?? 0)).toBeGreaterThan(750);
    expect(narrowCopy?.width ?? 0).toBeGreaterThan(700);
    await shot(page, 'dashboard-narrow.png');
    await page.setViewportSize({ width: 1280, height: 800 });

    // the checksum section, once the first pass after the copy is done
    await expect.poll(() => page.locator('#ck-pass').textContent(), { timeout: 30_000 }).toMatch(/\(([1-9]\d*) completed\)/);
    expect(await page.locator('#ck-mismatches').textContent()).toBe('0');
    expect(await page.locator('#ck-repairs').textContent()).toBe('0');
    expect(await page.locator('#ck-clean').textContent()).not.toMatch(/not yet|–/);
    expect(await page.locator('#source-position').textContent()).not.toBe('–');
    expect(await page.locator('#applied-position').textContent()).not.toBe('–');
    expect(await page.locator('#error').isHidden()).toBe(true);

    // Pause, then Resume, from the page (the token goes as a bearer header)
    await page.locator('#pause').click();
    await page.locator('#paused', { hasText: 'paused' }).waitFor({ timeout: 5000 });
    expect((await status(port)).paused).toBe(true);
    expect(await page.locator('#pause').isDisabled()).toBe(true);
    await page.locator('#resume').click();
    await page.locator('#paused', { hasText: 'running' }).waitFor({ timeout: 5000 });
    expect((await status(port)).paused).toBe(false);

    // Only our own origin was asked, the token never in a URL, and nothing broke on the page.
    for (const url of requested) {
      expect(url.startsWith(`${base}/`), url).toBe(true);
      expect(url).not.toContain(TOKEN);
    }
    expect(requested.some((u) => u.endsWith('/history'))).toBe(true);
    expect(problems).toEqual([]);

    // Without the token the page loads and says what it needs.
    const bare = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const barePage = await bare.newPage();
    expect((await barePage.goto(`${base}/`))?.status()).toBe(200);
    await barePage.locator('#notice').filter({ hasText: '#token=' }).waitFor({ timeout: 5000 });
    await bare.close();
    await context.close();

    const stop = await fetch(`${base}/stop`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(stop.status).toBe(202);
    expect(await run.exited).toBe(0);
    expect(run.stdout() + run.stderr()).not.toContain(TOKEN);
  }, 150_000);

  it('keeps a fatal error on screen for --http-linger, then exits as without the API', async () => {
    browser ??= await launch();
    // Without --http the refusal (a target table holding rows, no checkpoint) exits at once.
    const plain = await runCli(['sync', '--source', source.url('dashfail'), '--target', target.url('dashfail'), '--progress', 'none']);
    expect(plain.stderr).toContain('TRIB_TARGET_NOT_EMPTY');
    expect(plain.code).not.toBe(0);

    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const started = Date.now();
    const run = startCli(['sync', '--source', source.url('dashfail'), '--target', target.url('dashfail'), '--progress', 'none', '--http', `127.0.0.1:${port}`, '--http-linger', '2m'], { TRIBUTARY_HTTP_TOKEN: TOKEN });
    running.push(run);
    let code: number | undefined;
    void run.exited.then((c) => (code = c));
    await waitUntil('the failure, kept on /status', async () => {
      const r = await fetch(`${base}/status`, { headers: { authorization: `Bearer ${TOKEN}` } }).catch(() => undefined);
      return r?.status === 200 && ((await r.json()) as StatusJson).exit !== null;
    }, 30_000, 100);
    const st = await status(port);
    expect(st.phase).toBe('failed');
    expect(st.exit?.code).toBe('TRIB_TARGET_NOT_EMPTY');
    expect(Date.parse(st.exit?.at ?? '')).toBeGreaterThan(started + 100_000);
    expect((await fetch(`${base}/readyz`)).status).toBe(503);

    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    await page.goto(`${base}/#token=${TOKEN}`);
    const banner = page.locator('#error.fatal');
    await banner.waitFor({ state: 'visible', timeout: 10_000 });
    expect(await page.locator('#error-title').textContent()).toBe('The sync failed: TRIB_TARGET_NOT_EMPTY');
    expect(await page.locator('#error-message').textContent()).toContain('already hold rows');
    expect(await page.locator('#error-exit').textContent()).toMatch(/^The process exits in \d/);
    expect(await page.locator('#phase').textContent()).toBe('failed');
    expect(await page.locator('#pause').isDisabled()).toBe(true);
    // Prominent: at the top, across the page.
    const b = await box(page, '#error');
    expect(b.y).toBeLessThan(120);
    expect(b.width).toBeGreaterThan(1200);
    await shot(page, 'dashboard-failed.png');

    // `tributary status` says it too.
    const printed = await runCli(['status', '--http', `127.0.0.1:${port}`], { TRIBUTARY_HTTP_TOKEN: TOKEN });
    expect(printed.stdout).toMatch(/FAILED +TRIB_TARGET_NOT_EMPTY/);
    expect(code).toBeUndefined();

    // POST /stop ends the linger; the exit code is the one without the API.
    expect((await fetch(`${base}/stop`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(202);
    expect(await run.exited).toBe(plain.code);
    expect(Date.now() - started).toBeLessThan(100_000);
    await context.close();

    // A short linger ends by itself.
    const port2 = await freePort();
    const t0 = Date.now();
    const short = startCli(['sync', '--source', source.url('dashfail'), '--target', target.url('dashfail'), '--progress', 'none', '--http', `127.0.0.1:${port2}`, '--http-linger', '3s']);
    running.push(short);
    expect(await short.exited).toBe(plain.code);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(3000);
    expect(short.stderr() + short.stdout()).toContain('--http-linger');

    // Ctrl-C (SIGINT) while lingering exits at once, with the error's code.
    const port3 = await freePort();
    const interrupted = startCli(['sync', '--source', source.url('dashfail'), '--target', target.url('dashfail'), '--progress', 'none', '--http', `127.0.0.1:${port3}`, '--http-linger', '2m']);
    running.push(interrupted);
    await waitUntil('the linger', async () => {
      const r = await fetch(`http://127.0.0.1:${port3}/status`).catch(() => undefined);
      return r?.status === 200 && ((await r.json()) as StatusJson).exit !== null;
    }, 30_000, 100);
    const t1 = Date.now();
    interrupted.child.kill('SIGINT');
    expect(await interrupted.exited).toBe(plain.code);
    expect(Date.now() - t1).toBeLessThan(10_000);

    // move lingers too: its sync failed, so the cutover aborted, and the page shows why.
    const port4 = await freePort();
    const mv = startCli(['move', '--source', source.url('dashfail'), '--target', target.url('dashfail'), '--http', `127.0.0.1:${port4}`, '--http-linger', '2m']);
    running.push(mv);
    let moveStatus: StatusJson | undefined;
    await waitUntil('the move lingering', async () => {
      const r = await fetch(`http://127.0.0.1:${port4}/status`).catch(() => undefined);
      moveStatus = r?.status === 200 ? ((await r.json()) as StatusJson) : undefined;
      return moveStatus?.exit !== null && moveStatus?.exit !== undefined;
    }, 60_000, 100);
    expect(moveStatus?.exit?.code).toBe('TRIB_CUTOVER_ABORTED');
    expect(moveStatus?.exit?.message).toContain('already hold rows');
    expect((await fetch(`http://127.0.0.1:${port4}/stop`, { method: 'POST' })).status).toBe(202);
    expect(await mv.exited).not.toBe(0);
  }, 120_000);
});
