/**
 * deploy/systemd: the unit and its credentials drop-in pass `systemd-analyze verify` in a temp root
 * that holds what they name (the ExecStart binary, the system's own units), keep a low exposure in
 * `systemd-analyze security`, state the stop and restart policy the docs promise, and set only
 * TRIBUTARY_* variables the config loader knows, with values it accepts.
 */
import { execFile } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { SyncConfigSchema } from '../../src/config/schema.js';

const exec = promisify(execFile);
const DEPLOY = join(import.meta.dirname, '..', '..', 'deploy', 'systemd');
const unitText = readFileSync(join(DEPLOY, 'tributary.service'), 'utf8');
const dropInText = readFileSync(join(DEPLOY, 'tributary-credentials.conf'), 'utf8');
const envText = readFileSync(join(DEPLOY, 'tributary.env.example'), 'utf8');

/** Every value of `key=` in a unit file's text, comments skipped. */
function settings(text: string, key: string): string[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${key}=`))
    .map((l) => l.slice(key.length + 1).trim());
}

/** `systemd-analyze ARGS`; never throws: the exit code and both outputs. */
async function analyze(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec('systemd-analyze', args, { cwd: tmpdir(), env: { ...process.env, SYSTEMD_COLORS: '0', SYSTEMD_PAGER: '' } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number | string; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? String(err) };
  }
}

let root: string;

/** A root with the system's units, an executable at the unit's ExecStart path, and the unit; the drop-in when asked. */
function installUnit(withDropIn: boolean): void {
  const system = join(root, 'etc', 'systemd', 'system');
  rmSync(system, { recursive: true, force: true });
  mkdirSync(join(system, 'tributary.service.d'), { recursive: true });
  writeFileSync(join(system, 'tributary.service'), unitText);
  if (withDropIn) writeFileSync(join(system, 'tributary.service.d', 'credentials.conf'), dropInText);
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'tributary-systemd-'));
  // verify resolves the unit's dependencies (sysinit.target, network-online.target …) under --root.
  cpSync('/usr/lib/systemd/system', join(root, 'usr', 'lib', 'systemd', 'system'), { recursive: true, verbatimSymlinks: true });
  const binary = settings(unitText, 'ExecStart')[0]!.split(/\s+/)[0]!;
  mkdirSync(join(root, dirname(binary)), { recursive: true });
  writeFileSync(join(root, binary), '#!/bin/sh\nexit 0\n');
  chmodSync(join(root, binary), 0o755);
});

afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('deploy/systemd/tributary.service', () => {
  it('passes systemd-analyze verify, alone and with the credentials drop-in, without one warning', async () => {
    for (const withDropIn of [false, true]) {
      installUnit(withDropIn);
      const r = await analyze(['verify', `--root=${root}`, 'tributary.service']);
      expect({ withDropIn, code: r.code, out: r.stdout + r.stderr }).toEqual({ withDropIn, code: 0, out: '' });
    }
  });

  it('verify fails when the binary is missing (the check above is not vacuous)', async () => {
    installUnit(false);
    const binary = settings(unitText, 'ExecStart')[0]!.split(/\s+/)[0]!;
    const unit = join(root, 'etc', 'systemd', 'system', 'tributary.service');
    writeFileSync(unit, unitText.replace(binary, '/usr/local/bin/no-such-tributary'));
    const r = await analyze(['verify', `--root=${root}`, 'tributary.service']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/no-such-tributary is not executable/);
  });

  it('keeps its exposure low in systemd-analyze security', async () => {
    installUnit(true);
    const r = await analyze(['security', '--offline=true', `--root=${root}`, 'tributary.service']);
    const m = /Overall exposure level for tributary\.service: ([\d.]+)/.exec(r.stdout);
    expect(m, r.stdout + r.stderr).not.toBeNull();
    expect(Number(m![1])).toBeLessThanOrEqual(2);
  });

  it('runs the binary directly, restarts on failures but not on usage errors, and gives the drain time', () => {
    const exec = settings(unitText, 'ExecStart');
    expect(exec).toHaveLength(1);
    expect(exec[0]).toMatch(/^\/\S+\/tributary sync\b/);
    expect(exec[0]).not.toMatch(/\b(npm|npx|sh|bash)\b/);
    expect(settings(unitText, 'Type')).toEqual(['exec']);
    expect(settings(unitText, 'Restart')).toEqual(['on-failure']);
    expect(settings(unitText, 'RestartPreventExitStatus')).toEqual(['2']);
    expect(settings(unitText, 'KillSignal')).toEqual(['SIGTERM']);
    const stop = settings(unitText, 'TimeoutStopSec')[0] ?? '';
    const seconds = /^(\d+)min$/.test(stop) ? Number(stop.slice(0, -3)) * 60 : /^(\d+)s?$/.test(stop) ? Number(stop.replace('s', '')) : NaN;
    expect(seconds).toBeGreaterThanOrEqual(120);
    // V8's JIT needs W+X memory: node does not start under MemoryDenyWriteExecute=yes.
    expect(settings(unitText, 'MemoryDenyWriteExecute')).toEqual([]);
    expect(settings(unitText, 'EnvironmentFile')).toEqual(['/etc/tributary/tributary.env']);
  });

  it('sets only TRIBUTARY_* variables the config knows', () => {
    const known = new Set(Object.keys(SyncConfigSchema.shape).map((k) => 'TRIBUTARY_' + k.replace(/[A-Z]/g, (c) => '_' + c).toUpperCase()));
    const names = [unitText, dropInText, envText].flatMap((t) => [...t.matchAll(/\b(TRIBUTARY_[A-Z_]+)=/g)].map((m) => m[1]!));
    expect(names.length).toBeGreaterThan(5);
    expect(names.filter((n) => !known.has(n))).toEqual([]);
  });
});

describe('tributary.env.example and the credentials drop-in', () => {
  /** The example's settings with its commented ones enabled, as systemd's EnvironmentFile= reads them. */
  function exampleEnv(): Record<string, string> {
    const env: Record<string, string> = {};
    for (const line of envText.split('\n')) {
      const m = /^#?(TRIBUTARY_[A-Z_]+)=(.*)$/.exec(line);
      if (m && m[2] !== '') env[m[1]!] = m[2]!;
    }
    return env;
  }

  it('the example env file loads as a valid config, passwords included', () => {
    const config = loadConfig({ flags: {}, env: { ...exampleEnv(), TRIBUTARY_HTTP_TOKEN: 'x'.repeat(16) } });
    expect(config.source).toMatch(/^mysql:\/\//);
    expect(config.target).toMatch(/^postgres:\/\//);
    expect(config.http).toBe('127.0.0.1:8080');
    expect(config.progress).toBe('auto');
  });

  it('with the drop-in, the passwords come from the credential files, and a password left in the env file is refused', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tributary-cred-'));
    try {
      writeFileSync(join(dir, 'source-password'), 'src-secret\n');
      writeFileSync(join(dir, 'target-password'), 'dst-secret\n');
      // What systemd sets from the drop-in's Environment= lines, with %d expanded.
      const fromDropIn = Object.fromEntries(
        settings(dropInText, 'Environment').map((s) => {
          const [k, v] = s.split('=') as [string, string];
          return [k, v.replace('%d', dir)];
        }),
      );
      expect(Object.keys(fromDropIn).sort()).toEqual(['TRIBUTARY_SOURCE_PASSWORD_FILE', 'TRIBUTARY_TARGET_PASSWORD_FILE']);
      const { TRIBUTARY_SOURCE_PASSWORD: _s, TRIBUTARY_TARGET_PASSWORD: _t, ...withoutPasswords } = exampleEnv();
      const config = loadConfig({ flags: {}, env: { ...withoutPasswords, ...fromDropIn } });
      expect(config.sourcePassword).toBe('src-secret');
      expect(config.targetPassword).toBe('dst-secret');
      expect(() => loadConfig({ flags: {}, env: { ...exampleEnv(), ...fromDropIn } })).toThrow(/source password is given in 2 places/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
