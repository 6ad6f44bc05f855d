/**
 * `tributary demo` end to end (starts its own MariaDB servers): it runs a workload and a sync for
 * 12 s (15 s into etcd, where the test reads the keys meanwhile), stops by itself, and its final
 * CHECKSUM TABLE comparison says every table is equal. Both run past the first periodic
 * source/target count line (every 10 s).
 * `--target etcd` does the same into a throwaway etcd: while it runs, the test reads the keys with
 * its own client and with the etcdctl commands the banner prints, and sees them change.
 */
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { Etcd3, type IKeyValue } from 'etcd3';
import { describe, expect, it } from 'vitest';
import { startCli, waitUntil } from '../helpers/mysql.js';
import { SHOP_TABLES } from '../../src/demo/shop.js';

const run$ = promisify(execFile);

describe('tributary demo', () => {
  it('runs for --duration, stops in order, and every table is equal on source and target', async () => {
    const run = startCli(['demo', '--duration', '12'], { TRIBUTARY_LOG_LEVEL: 'info' });
    const killer = setTimeout(() => run.child.kill('SIGKILL'), 150_000);
    const code = await run.exited;
    clearTimeout(killer);
    const out = run.stdout();
    const context = `\n--- stdout ---\n${out}\n--- stderr ---\n${run.stderr().slice(-4000)}`;
    expect(code, context).toBe(0);

    // The banner names both servers so a user can connect to them.
    expect(out).toMatch(/source\s+mysql:\/\/root@127\.0\.0\.1:\d+\/shop/);
    expect(out).toMatch(/target\s+mysql:\/\/root@127\.0\.0\.1:\d+\/shop/);
    expect(out).toContain('Ctrl-C to stop');
    // The dashboard's address heads the banner.
    expect(out).toMatch(/^dashboard: http:\/\/127\.0\.0\.1:\d+\/$/m);
    // Piped, stderr carries JSON logs only; the demo's words and its plain progress are text on stdout.
    const notJson = run
      .stderr()
      .split('\n')
      .filter((l) => l && !l.startsWith('{'));
    expect(notJson, context).toEqual([]);
    expect(out.split('\n').filter((l) => l.startsWith('{')), context).toEqual([]);
    expect(out).toMatch(/^\[tributary\] /m);
    // At least one periodic source/target row-count line while it ran.
    expect(out, context).toMatch(/customers \d+\/\d+/);

    const final = out.slice(out.indexOf('final comparison'));
    expect(out.indexOf('final comparison'), context).toBeGreaterThanOrEqual(0);
    for (const table of SHOP_TABLES) {
      const line = final.split('\n').find((l) => l.trim().startsWith(table + ' '));
      expect(line, `${table} in the final comparison${context}`).toBeDefined();
      const cells = (line as string).trim().split(/\s+/);
      // table, source rows, target rows, source checksum, target checksum, verdict
      expect(cells[1], line).toBe(cells[2]);
      expect(cells[3], line).toBe(cells[4]);
      expect(cells[5], line).toBe('equal');
      expect(Number(cells[1])).toBeGreaterThan(0);
    }
    expect(final).toContain(`all ${SHOP_TABLES.length} tables equal`);
    // The writes really ran during the sync.
    expect(out).toMatch(/the workload stopped after [1-9]\d* transactions/);
  });

  it('--target etcd: the rows appear as keys in etcd, change while the workload runs, and verify finds every table equal', async () => {
    const run = startCli(['demo', '--target', 'etcd', '--duration', '15'], { TRIBUTARY_LOG_LEVEL: 'info' });
    const killer = setTimeout(() => run.child.kill('SIGKILL'), 150_000);
    const context = () => `\n--- stdout ---\n${run.stdout()}\n--- stderr ---\n${run.stderr().slice(-4000)}`;
    let client: Etcd3 | undefined;
    let etcdctlWatch: ReturnType<typeof spawn> | undefined;
    try {
      // The banner names etcd and prints the two etcdctl commands to look at it with.
      const watchRe = /^ {2}(etcdctl --endpoints http:\/\/127\.0\.0\.1:(\d+) watch --prefix \/shop\/)$/m;
      const getRe = /^ {2}(etcdctl --endpoints http:\/\/127\.0\.0\.1:(\d+) get --prefix \/shop\/orders\/ --limit 3)$/m;
      await waitUntil('the banner', () => getRe.test(run.stdout()) || run.child.exitCode !== null, 90_000);
      const out0 = run.stdout();
      expect(out0, context()).toMatch(/^ {2}target\s+etcd:\/\/127\.0\.0\.1:\d+\/shop$/m);
      const [, watchCmd, port] = out0.match(watchRe) ?? [];
      const [, getCmd, getPort] = out0.match(getRe) ?? [];
      expect(watchCmd, context()).toBeDefined();
      expect(getPort).toBe(port);
      const endpoint = `http://127.0.0.1:${port}`;

      // The printed watch command, run as printed: it sees puts of rows under /shop/.
      const [bin, ...watchArgs] = (watchCmd as string).split(' ');
      etcdctlWatch = spawn(bin as string, watchArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
      let watched = '';
      etcdctlWatch.stdout?.on('data', (b: Buffer) => (watched += b.toString()));

      // Our own client: the keys appear (the initial copy), then change under the workload.
      client = new Etcd3({ hosts: endpoint });
      const c = client;
      const puts: IKeyValue[] = [];
      const watcher = await c.watch().prefix('/shop/orders/').create();
      watcher.on('put', (kv) => puts.push(kv));
      await waitUntil('the copy of orders into etcd', async () => (await c.getAll().prefix('/shop/orders/').count()) >= 1000, 60_000);
      // A key written again: an order the workload changed after it was copied (version > 1, its
      // mod_revision past its create_revision), and etcd holds that change.
      await waitUntil('an order changed in etcd', () => puts.some((kv) => Number(kv.version) > 1), 30_000);
      const changed = puts.find((kv) => Number(kv.version) > 1) as IKeyValue;
      expect(Number(changed.mod_revision)).toBeGreaterThan(Number(changed.create_revision));
      const key = changed.key.toString();
      expect(key).toMatch(/^\/shop\/orders\/\d+$/);
      const now = await c.get(key).exec();
      const kv = now.kvs[0];
      if (kv) expect(Number(kv.mod_revision)).toBeGreaterThanOrEqual(Number(changed.mod_revision)); // (unless deleted since)
      // More writes keep arriving: the revision of the orders' range grows.
      const rev1 = Number((await c.getAll().prefix('/shop/orders/').exec()).header.revision);
      await waitUntil('etcd revision to grow', async () => Number((await c.get('/shop/orders/1').exec()).header.revision) > rev1, 20_000);
      await watcher.cancel();

      // The printed get command returns three orders, each a JSON object of the row.
      const [getBin, ...getArgs] = (getCmd as string).split(' ');
      const got = (await run$(getBin as string, getArgs)).stdout.trim().split('\n');
      expect(got.length, got.join('\n')).toBe(6);
      for (let i = 0; i < 6; i += 2) {
        expect(got[i]).toMatch(/^\/shop\/orders\/\d+$/);
        const row = JSON.parse(got[i + 1] as string) as Record<string, unknown>;
        expect(Object.keys(row)).toEqual(['id', 'customer_id', 'status', 'total', 'currency', 'note', 'created_at', 'updated_at']);
        expect(String(row.id)).toBe((got[i] as string).split('/').pop());
      }
      await waitUntil('etcdctl watch to print puts', () => /^PUT\n\/shop\/(orders|order_items|customers|products)\/\S+\n\{/m.test(watched), 20_000);
    } finally {
      etcdctlWatch?.kill();
      client?.close();
    }

    const code = await run.exited;
    clearTimeout(killer);
    const out = run.stdout();
    expect(code, context()).toBe(0);
    expect(out).toMatch(/^dashboard: http:\/\/127\.0\.0\.1:\d+\/$/m);
    expect(out, context()).toMatch(/customers \d+\/\d+/);
    const final = out.slice(out.indexOf('final comparison'));
    expect(out.indexOf('final comparison'), context()).toBeGreaterThanOrEqual(0);
    for (const table of SHOP_TABLES) {
      const line = final.split('\n').find((l) => l.trim().startsWith(table + ' '));
      expect(line, `${table} in the final comparison${context()}`).toBeDefined();
      // table, source rows, etcd keys, rows verified, missing, extra, changed, verdict
      const cells = (line as string).trim().split(/\s+/);
      expect(cells[2], line).toBe(cells[1]);
      expect(cells[3], line).toBe(cells[1]);
      expect(cells.slice(4), line).toEqual(['0', '0', '0', 'equal']);
      expect(Number(cells[1])).toBeGreaterThan(0);
    }
    expect(final).toContain(`all ${SHOP_TABLES.length} tables equal`);
    expect(out).toMatch(/the workload stopped after [1-9]\d* transactions/);
  });
});
