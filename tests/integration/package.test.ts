/**
 * The package as a user installs it: `npm pack` of this checkout, installed into an empty temp
 * directory with npm (only the runtime dependencies: no tsx, no typescript), then `npx tributary`
 * from there — --help, a usage error's exit code, and a `sync --copy-only` between two throwaway
 * MariaDB servers whose rows must arrive.
 *
 * The pack runs in a copy of the checkout: prepack rebuilds dist/, and a dist/ left in the checkout
 * would shadow the sources for every later `node bin/tributary.js` run there.
 */
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { promisify } from 'node:util';
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, diffTables, startPair, type Pair } from '../helpers/mysql.js';

const exec = promisify(execFile);

/** What a checkout holds that is no part of the sources: never copied into the pack's workspace. */
const NOT_SOURCES = new Set(['node_modules', 'dist', 'tmp', '.git', 'tests/artifacts', 'bench/results']);

let work: string;
let installDir: string;
let packedFiles: string[];
let pair: Pair | undefined;

/**
 * The environment of a user's shell: no TRIBUTARY_* variable from the test runner, no tsx loader,
 * PATH with node's own directory (npm, npx) and the system's.
 */
function userEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('TRIBUTARY_') && k !== 'NODE_OPTIONS' && !k.startsWith('VITEST') && !k.startsWith('npm_')) env[k] = v;
  }
  env.PATH = `${dirname(process.execPath)}:/usr/local/bin:/usr/bin:/bin`;
  return { ...env, ...extra };
}

/** `npx tributary ARGS` in the install directory; never throws, returns the exit code and output. */
async function npxTributary(args: string[], extra: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec('npx', ['--no-install', 'tributary', ...args], { cwd: installDir, env: userEnv(extra), timeout: 90_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number | string; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? String(err) };
  }
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'tributary-pack-'));
  const checkout = join(work, 'checkout');
  cpSync(ROOT, checkout, { recursive: true, filter: (src) => !NOT_SOURCES.has(relative(ROOT, src)) });
  // Building needs typescript; the checkout's devDependencies stand in for `npm ci`.
  symlinkSync(join(ROOT, 'node_modules'), join(checkout, 'node_modules'));
  const out = join(work, 'out');
  mkdirSync(out);
  const { stdout } = await exec('npm', ['pack', '--json', '--pack-destination', out], { cwd: checkout, env: userEnv(), maxBuffer: 64 << 20 });
  // npm prints prepack's own output (tsc) before the JSON document.
  const report = JSON.parse(stdout.slice(stdout.indexOf('[\n'))) as { filename: string; files: { path: string }[] }[];
  const tarball = join(out, basename(report[0]!.filename));
  packedFiles = report[0]!.files.map((f) => f.path);

  installDir = join(work, 'app');
  mkdirSync(installDir);
  writeFileSync(join(installDir, 'package.json'), JSON.stringify({ name: 'app', private: true }));
  await exec('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball], { cwd: installDir, env: userEnv(), timeout: 150_000 });
  pair = await startPair();
}, 170_000);

afterAll(async () => {
  await pair?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('npm pack, installed with npm, run with npx', () => {
  it('packs the built dist/ and the bin, and nothing of the sources or tests', () => {
    expect(packedFiles).toContain('bin/tributary.js');
    expect(packedFiles).toContain('dist/cli/main.js');
    expect(packedFiles).toContain('dist/index.js');
    expect(packedFiles).toContain('dist/index.d.ts');
    expect(packedFiles).toContain('deploy/systemd/tributary.service');
    expect(packedFiles.filter((f) => /^(src|tests|bench|scripts)\/|\.map$|^tsconfig/.test(f))).toEqual([]);
  });

  it('installs only the runtime dependencies: no tsx, no typescript', () => {
    expect(existsSync(join(installDir, 'node_modules', 'tributary', 'dist', 'cli', 'main.js'))).toBe(true);
    expect(existsSync(join(installDir, 'node_modules', 'tributary', 'src'))).toBe(false);
    expect(existsSync(join(installDir, 'node_modules', 'tsx'))).toBe(false);
    expect(existsSync(join(installDir, 'node_modules', 'typescript'))).toBe(false);
  });

  it('npx tributary --help prints the commands, from dist/ even with TRIBUTARY_FROM_SOURCE=1', async () => {
    // TRIBUTARY_FROM_SOURCE=1 (set by scripts/demo.sh and the test helpers) must not send an
    // installed package to its absent sources and tsx.
    for (const extra of [{}, { TRIBUTARY_FROM_SOURCE: '1' }]) {
      const r = await npxTributary(['--help'], extra);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/Usage: tributary/);
      expect(r.stdout).toMatch(/^\s+sync \[options\]/m);
    }
    const completion = await npxTributary(['completion', 'bash']);
    expect(completion.code).toBe(0);
    expect(completion.stdout).toMatch(/^complete -F _tributary tributary$/m);
  });

  it('exits 2 on a usage error through npx', async () => {
    const r = await npxTributary(['sync', '--no-such-flag']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown option '--no-such-flag'/);
  });

  it('sync --copy-only copies every row between two MariaDB servers', async () => {
    const p = pair!;
    await p.src.query(`CREATE DATABASE pk;
      CREATE TABLE pk.items (id INT PRIMARY KEY, name VARCHAR(40) NOT NULL, price DECIMAL(12,2), made DATETIME(6));
      INSERT INTO pk.items SELECT seq, CONCAT('item ', seq), seq / 7, '2024-01-02 03:04:05.123456' + INTERVAL seq SECOND FROM pk.seq_1_to_5000;`);
    await p.dst.query('CREATE DATABASE pk');
    const r = await npxTributary(['sync', '--source', p.srcUrl('pk'), '--target', p.dstUrl('pk'), '--copy-only', '--progress', 'plain']);
    expect(r.stderr + r.stdout).not.toMatch(/tsx|Cannot find (module|package)/);
    expect(r.code, r.stderr).toBe(0);
    const [rows] = await p.dst.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM pk.items');
    expect(Number(rows[0]!.n)).toBe(5000);
    expect(await diffTables(p, 'pk', 'pk', 'items')).toBe('');
  });
});
