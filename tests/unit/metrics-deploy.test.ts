/**
 * The operator's files in deploy/: the Prometheus alert rules load (`promtool check rules`) and
 * fire when they must and only then (`promtool test rules` on alerts.test.yml); the Grafana
 * dashboard is importable (a datasource variable, no fixed data source, panels on the grid) and
 * every query in it is PromQL that Prometheus accepts. That every series they use is exposed is
 * checked against a running sync in tests/integration/metrics.test.ts.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { ALERT_TESTS, ALERTS, EXAMPLE_CONFIG, alertRules, DASHBOARD, dashboardExprs, promtool, runPromtool, seriesNames } from '../helpers/promql.js';

const HAVE_PROMTOOL = promtool() !== undefined;
if (!HAVE_PROMTOOL) console.warn('promtool is not installed (scripts/install.sh installs it, Debian package prometheus): the promtool checks are skipped');

const tmp = mkdtempSync(join(tmpdir(), 'trib-deploy-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('PromQL names', () => {
  it('finds the series an expression selects, not its functions, labels, variables or keywords', () => {
    expect([...seriesNames('histogram_quantile(0.95, sum by (le, instance) (rate(a_bucket{job=~"$job", x="y{z}"}[$__rate_interval])))')]).toEqual(['a_bucket']);
    expect([...seriesNames('tributary_ready == 0 and on (job, instance) tributary_paused == 0')]).toEqual(['tributary_ready', 'tributary_paused']);
    expect([...seriesNames('clamp_max(b / on (table) (c > 0), 1) > 1e9 or absent(d{job="t"}) unless e offset 5m')]).toEqual(['b', 'c', 'd', 'e']);
    expect([...seriesNames('sum(rate(f[5m])) by (kind) / 1024^3')]).toEqual(['f']);
  });
});

describe('Prometheus alert rules (deploy/prometheus/alerts.yml)', () => {
  it.skipIf(!HAVE_PROMTOOL)('load: promtool check rules', () => {
    const r = runPromtool(['check', 'rules', ALERTS]);
    expect(r.output).toContain('SUCCESS');
    expect(r.status, r.output).toBe(0);
  });

  it.skipIf(!HAVE_PROMTOOL)('fire when they must and stay quiet otherwise: promtool test rules', () => {
    const r = runPromtool(['test', 'rules', ALERT_TESTS]);
    expect(r.status, r.output).toBe(0);
  });

  it.skipIf(!HAVE_PROMTOOL)('load from the example Prometheus configuration: promtool check config', () => {
    const r = runPromtool(['check', 'config', EXAMPLE_CONFIG]);
    expect(r.status, r.output).toBe(0);
    expect(r.output).toContain('SUCCESS: 1 rule files found');
  });

  it('cover the situations an operator must wake up for, each with a summary and a description', () => {
    const rules = alertRules();
    const uses = (name: string) => rules.filter((r) => seriesNames(r.expr).has(name)).map((r) => r.alert);
    for (const name of ['up', 'tributary_ready', 'tributary_lag_seconds', 'tributary_reconnects_total', 'tributary_retrying', 'tributary_source_retained_bytes', 'tributary_checksum_repairs_total', 'tributary_checksum_mismatches_total', 'tributary_phase']) {
      expect(uses(name), `an alert on ${name}`).not.toEqual([]);
    }
    expect(rules.some((r) => r.expr.startsWith('absent('))).toBe(true);
    for (const r of rules) {
      expect(r.annotations.summary, `${r.alert} summary`).toBeTruthy();
      expect((r.annotations.description ?? '').length, `${r.alert} description`).toBeGreaterThan(40);
    }
    // Every alert is exercised by alerts.test.yml.
    const tests = readFileSync(ALERT_TESTS, 'utf8');
    for (const r of rules) expect(tests, r.alert).toContain(`alertname: ${r.alert}\n`);
  });
});

describe('Grafana dashboard (deploy/grafana/tributary.json)', () => {
  const d = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as {
    uid: string;
    title: string;
    templating: { list: { name: string; type: string; query?: unknown }[] };
    panels: { id: number; type: string; title: string; gridPos: { x: number; y: number; w: number; h: number }; datasource?: { uid: string }; targets?: { expr: string; datasource?: { uid: string } }[] }[];
  };

  it('is importable anywhere: its data source is a variable, never a fixed uid', () => {
    expect(d.uid).toBe('tributary');
    const ds = d.templating.list.find((v) => v.type === 'datasource');
    expect(ds?.name).toBe('datasource');
    expect(ds?.query).toBe('prometheus');
    for (const p of d.panels.filter((x) => x.type !== 'row')) {
      expect(p.datasource?.uid, p.title).toBe('${datasource}');
      for (const t of p.targets ?? []) expect(t.datasource?.uid, p.title).toBe('${datasource}');
    }
  });

  it('lays its panels on the grid without overlaps, with unique ids', () => {
    const ids = new Set(d.panels.map((p) => p.id));
    expect(ids.size).toBe(d.panels.length);
    const cells = new Set<string>();
    for (const p of d.panels) {
      const g = p.gridPos;
      expect(g.x + g.w, p.title).toBeLessThanOrEqual(24);
      for (let x = g.x; x < g.x + g.w; x++) {
        for (let y = g.y; y < g.y + g.h; y++) {
          expect(cells.has(`${x},${y}`), `${p.title} overlaps at ${x},${y}`).toBe(false);
          cells.add(`${x},${y}`);
        }
      }
    }
  });

  it('has the panels an operator looks for', () => {
    const titles = d.panels.map((p) => p.title);
    for (const t of ['Phase', 'Ready', 'Replication lag', 'Copy progress per table', 'Copy rate', 'Stream rate by kind', 'End-to-end change latency', 'Stream batch apply latency',
      'Target commit latency', 'Copy chunk duration', 'Stream batch size', 'Buffer', 'Retries and reconnects', 'Continuous checksum', 'Source log retained (slot WAL)', 'CPU', 'Memory', 'Event loop lag', 'GC time']) {
      expect(titles, t).toContain(t);
    }
    const exprs = dashboardExprs(d).join('\n');
    for (const h of ['tributary_change_latency_seconds', 'tributary_stream_batch_apply_seconds', 'tributary_target_commit_seconds', 'tributary_copy_chunk_seconds', 'tributary_stream_batch_changes']) {
      expect(exprs, h).toContain(`histogram_quantile(0.95, sum by (le, instance) (rate(${h}_bucket`);
    }
  });

  it.skipIf(!HAVE_PROMTOOL)('queries Prometheus accepts: every expression through promtool, with the variables filled in', () => {
    // promtool has no query checker of its own: each expression becomes a recording rule, which
    // it parses as PromQL.
    const fill = (e: string) => e.replace(/\$__rate_interval/g, '1m').replace(/\$\{?(job|instance)\}?/g, '.*');
    const rules = dashboardExprs(d).map((expr, i) => ({ record: `dashboard:query${i}`, expr: fill(expr) }));
    const file = join(tmp, 'dashboard-queries.yml');
    writeFileSync(file, stringify({ groups: [{ name: 'dashboard', rules }] }));
    const r = runPromtool(['check', 'rules', file]);
    expect(r.status, r.output).toBe(0);
    expect(r.output).toContain(`SUCCESS: ${rules.length} rules found`);
  });
});
