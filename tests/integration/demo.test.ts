/**
 * `tributary demo` end to end (starts its own MariaDB servers): it runs a workload and a sync for
 * 20 s, stops by itself, and its final CHECKSUM TABLE comparison says every table is equal.
 */
import { describe, expect, it } from 'vitest';
import { startCli } from '../helpers/mysql.js';
import { SHOP_TABLES } from '../../src/demo/shop.js';

describe('tributary demo', () => {
  it('runs for --duration, stops in order, and every table is equal on source and target', async () => {
    const run = startCli(['demo', '--duration', '20'], { TRIBUTARY_LOG_LEVEL: 'info' });
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
});
