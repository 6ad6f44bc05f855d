/**
 * The web dashboard (GET /) of a running `tributary sync --http` on real MariaDB servers, in
 * headless Chromium (Debian's package, driven by playwright-core, which downloads no browser):
 * the phase, a progress bar per table, the lag and throughput charts drawn with data points, the
 * checksum section, Pause and Resume calling the API with the token taken from the URL fragment,
 * the page's security headers, and a screenshot in tests/artifacts/dashboard.png.
 *
 * Needs `chromium` (scripts/install.sh installs it): without it the test fails and says so.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StatusJson } from '../../src/server/status.js';
import { freePort, startMariaDb, type Server } from '../../src/testing/servers.js';
import { connect, ROOT, startCli, waitUntil, type CliRun } from '../helpers/mysql.js';
import type { Connection } from 'mysql2/promise';

const CHROMIUM = process.env.TRIBUTARY_CHROMIUM ?? '/usr/bin/chromium';
const TOKEN = 'dash-0123456789abcdef-tok';
const SCREENSHOT = join(ROOT, 'tests', 'artifacts', 'dashboard.png');

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
  await dst.query('CREATE DATABASE dash');
  await dst.end();
  await src.query(
    'CREATE DATABASE dash; CREATE TABLE dash.orders (id INT PRIMARY KEY, v INT NOT NULL); CREATE TABLE dash.customers (id INT PRIMARY KEY, name VARCHAR(40) NOT NULL);' +
      'INSERT INTO dash.orders SELECT seq, seq FROM dash.seq_1_to_3000; INSERT INTO dash.customers SELECT seq, CONCAT("c", seq) FROM dash.seq_1_to_400',
  );
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

describe('web dashboard', () => {
  it('shows phase, per-table progress, charts and checksum, and pauses and resumes the sync', async () => {
    const port = await freePort();
    const run = startCli(['sync', '--flush-interval', '100ms', '--source', source.url('dash'), '--target', target.url('dash'), '--http', `127.0.0.1:${port}`], { TRIBUTARY_HTTP_TOKEN: TOKEN });
    running.push(run);
    // Launch the browser while the sync copies: a missing browser fails here, before the waits.
    browser = await launch();
    const base = `http://127.0.0.1:${port}`;
    await waitUntil('the API', async () => (await fetch(`${base}/healthz`).catch(() => undefined))?.status === 200, 30_000, 100);
    await waitUntil('streaming', async () => ((await (await fetch(`${base}/readyz`)).json()) as { phase: string }).phase === 'stream', 30_000, 200);

    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    // Without the token the page loads and says what it needs.
    const bare = await context.newPage();
    expect((await bare.goto(`${base}/`))?.status()).toBe(200);
    await bare.locator('#notice').filter({ hasText: '#token=' }).waitFor({ timeout: 5000 });
    await bare.close();

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

    // the phase, and the token taken out of the address bar
    await page.locator('#phase', { hasText: 'stream' }).waitFor({ timeout: 10_000 });
    expect(page.url()).toBe(`${base}/`);
    await expect.poll(() => page.locator('#paused').textContent(), { timeout: 5000 }).toBe('running');

    // a progress bar per table, full
    const rows = page.locator('#tables .row.table');
    await expect.poll(() => rows.count(), { timeout: 5000 }).toBe(2);
    const tables = await rows.evaluateAll((els) => els.map((e) => ({ table: (e as HTMLElement).dataset.table, state: (e as HTMLElement).dataset.state, value: e.querySelector('[role=progressbar]')?.getAttribute('aria-valuenow') })));
    expect(tables.map((t) => t.table).sort()).toEqual(['customers', 'orders']);
    for (const t of tables) expect(t).toMatchObject({ state: 'done', value: '100.0' });
    expect(await page.locator('#copy-total').textContent()).toContain('3,400');

    // some changes for the throughput chart, then the charts hold data points
    for (let i = 0; i < 5; i++) {
      await src.query(`INSERT INTO dash.orders SELECT seq, seq FROM dash.seq_${10_000 + i * 100}_to_${10_099 + i * 100}`);
      await new Promise((r) => setTimeout(r, 400));
    }
    for (const id of ['#lag-chart', '#rate-chart']) {
      await expect.poll(async () => Number(await page.locator(id).getAttribute('data-points')), { timeout: 10_000, message: `${id} data points` }).toBeGreaterThanOrEqual(3);
      const box = await page.locator(id).boundingBox();
      expect(box?.width ?? 0).toBeGreaterThan(200);
      expect(box?.height ?? 0).toBeGreaterThan(100);
    }
    // the canvas is drawn on, not blank
    const inked = await page.locator('#rate-chart').evaluate((c) => {
      const canvas = c as HTMLCanvasElement;
      const data = canvas.getContext('2d')?.getImageData(0, 0, canvas.width, canvas.height).data ?? new Uint8ClampedArray();
      let n = 0;
      for (let i = 3; i < data.length; i += 4) if ((data[i] ?? 0) > 0) n++;
      return n;
    });
    expect(inked).toBeGreaterThan(100);

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

    await mkdir(join(ROOT, 'tests', 'artifacts'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(existsSync(SCREENSHOT)).toBe(true);

    // Only our own origin was asked, the token never in a URL, and nothing broke on the page.
    for (const url of requested) {
      expect(url.startsWith(`${base}/`), url).toBe(true);
      expect(url).not.toContain(TOKEN);
    }
    expect(requested.some((u) => u.endsWith('/history'))).toBe(true);
    expect(problems).toEqual([]);
    await context.close();

    const stop = await fetch(`${base}/stop`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(stop.status).toBe(202);
    expect(await run.exited).toBe(0);
    expect(run.stdout() + run.stderr()).not.toContain(TOKEN);
  }, 90_000);
});
