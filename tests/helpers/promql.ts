/**
 * The operator's files (deploy/grafana/tributary.json, deploy/prometheus/alerts.yml) read as
 * their users' tools read them: every PromQL expression in them, the series names those use, and
 * the sample names of a /metrics exposition. For tests that check the files against what
 * tributary exposes.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ROOT } from './mysql.js';

export const DASHBOARD = join(ROOT, 'deploy', 'grafana', 'tributary.json');
export const ALERTS = join(ROOT, 'deploy', 'prometheus', 'alerts.yml');
export const ALERT_TESTS = join(ROOT, 'deploy', 'prometheus', 'alerts.test.yml');
export const EXAMPLE_CONFIG = join(ROOT, 'deploy', 'prometheus', 'prometheus.yml');

/** Series Prometheus makes itself, never in an exposition: `up` (the scrape's own). */
export const SYNTHETIC_SERIES = new Set(['up']);

/** PromQL words that look like names: operators, modifiers. */
const KEYWORDS = new Set(['and', 'or', 'unless', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'offset', 'inf', 'nan']);

/**
 * The metric names an expression selects. Removes what cannot be a metric name (strings, label
 * matchers, range selectors, grouping clauses, Grafana variables, numbers); of the identifiers
 * left, those followed by "(" are functions or aggregations and the keywords are operators.
 */
export function seriesNames(expr: string): Set<string> {
  let e = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\$\{?\w+\}?/g, ' ');
  e = e.replace(/(?<![\w.])\d[\w.]*/g, ' ');
  const names = new Set<string>();
  for (const m of e.matchAll(/(?<![\w:])([a-zA-Z_:][\w:]*)(\s*\()?/g)) {
    const name = m[1] as string;
    if (m[2] || KEYWORDS.has(name.toLowerCase())) continue;
    names.add(name);
  }
  return names;
}

/** Every PromQL expression of the Grafana dashboard: panel targets (rows' panels included) and query variables. */
export function dashboardExprs(dashboard: unknown = JSON.parse(readFileSync(DASHBOARD, 'utf8'))): string[] {
  const d = dashboard as { panels: Panel[]; templating: { list: { type: string; query?: string | { query: string } }[] } };
  const out: string[] = [];
  const walk = (panels: readonly Panel[]) => {
    for (const p of panels) {
      for (const t of p.targets ?? []) out.push(t.expr);
      walk(p.panels ?? []);
    }
  };
  walk(d.panels);
  for (const v of d.templating.list) {
    if (v.type !== 'query') continue;
    const q = typeof v.query === 'string' ? v.query : (v.query?.query ?? '');
    // label_values(SELECTOR, label): the selector is PromQL, the label is not.
    const m = /^label_values\((.*),\s*\w+\)$/.exec(q);
    out.push(m ? (m[1] as string) : q);
  }
  return out;
}

interface Panel {
  readonly targets?: readonly { readonly expr: string }[];
  readonly panels?: readonly Panel[];
}

/** Every alert rule of alerts.yml: its name and expression. */
export function alertRules(text = readFileSync(ALERTS, 'utf8')): { alert: string; expr: string; annotations: Record<string, string> }[] {
  const doc = parse(text) as { groups: { rules: { alert: string; expr: string; annotations?: Record<string, string> }[] }[] };
  return doc.groups.flatMap((g) => g.rules.map((r) => ({ alert: r.alert, expr: r.expr, annotations: r.annotations ?? {} })));
}

/** The sample names of an exposition (a histogram's as name_bucket, name_sum, name_count). */
export function exposedNames(exposition: string): Set<string> {
  const names = new Set<string>();
  for (const line of exposition.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)[{ ]/.exec(line);
    if (m) names.add(m[1] as string);
  }
  return names;
}

/** promtool's path, or undefined when it is not installed (scripts/install.sh installs it). */
export function promtool(): string | undefined {
  const r = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? 'promtool' : undefined;
}

/** Runs promtool with `input` on stdin; its exit status and output. */
export function runPromtool(args: readonly string[], input?: string): { status: number; output: string } {
  const r = spawnSync('promtool', args, { encoding: 'utf8', input, cwd: ROOT });
  return { status: r.status ?? -1, output: `${r.stdout}${r.stderr}` };
}
