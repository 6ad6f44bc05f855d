import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The packages a CLI start with `args` loads (tests/helpers/load-trace.mjs). */
function loaded(args: string[]): string[] {
  const r = spawnSync(process.execPath, ['--import', join(ROOT, 'tests', 'helpers', 'load-trace.mjs'), join(ROOT, 'bin', 'tributary.js'), ...args], { encoding: 'utf8', timeout: 60_000 });
  expect(r.status, r.stderr).toBe(0);
  return r.stderr.split('\n').flatMap((l) => (l.startsWith('LOADED ') ? [l.slice(7)] : []));
}

describe('CLI start', () => {
  it('loads the metrics library (prom-client, with what it brings) only for a command given --http', () => {
    const pkgs = loaded(['--version']);
    expect(pkgs).toContain('commander');
    expect(pkgs).not.toContain('prom-client');
    expect(pkgs).not.toContain('@opentelemetry/api');
  });
});
