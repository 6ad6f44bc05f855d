/**
 * deploy/docker/Dockerfile. This machine has no Docker engine, so the image is not built here: the
 * file is checked by the dockerfile-utils linter (any error or warning fails), by what it must say
 * (multi-stage, node:20-slim runtime with production dependencies only, non-root, the binary as
 * ENTRYPOINT, the API's port exposed), by every COPY source existing in the build context and
 * admitted by its .dockerignore, and by running its HEALTHCHECK command against a real HTTP API.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import type { Runner } from '../../src/runner/runner.js';
import { HttpApi } from '../../src/server/server.js';

const exec = promisify(execFile);
const ROOT = join(import.meta.dirname, '..', '..');
const FILE = join(ROOT, 'deploy', 'docker', 'Dockerfile');
const text = readFileSync(FILE, 'utf8');

/** The Dockerfile's instructions, continuation lines joined, comments dropped. */
const instructions = text
  .replace(/\\\n\s*/g, ' ')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l !== '' && !l.startsWith('#'))
  .map((l) => {
    const m = /^(\S+)\s+(.*)$/.exec(l)!;
    return { op: m[1]!.toUpperCase(), args: m[2]! };
  });
const ops = (op: string) => instructions.filter((i) => i.op === op).map((i) => i.args);

/** The instructions of the last (runtime) stage. */
const runtime = instructions.slice(instructions.map((i) => i.op).lastIndexOf('FROM'));

describe('deploy/docker/Dockerfile', () => {
  it('passes the dockerfile-utils linter without one problem', async () => {
    const { stdout } = await exec('npx', ['--no-install', 'dockerfile-utils', 'lint', '--json', FILE], { cwd: ROOT });
    expect(JSON.parse(stdout)).toEqual([]);
  });

  it('the linter does fail on a broken Dockerfile (the check above is not vacuous)', async () => {
    const broken = join(ROOT, 'tmp', 'Dockerfile.broken');
    mkdirSync(join(ROOT, 'tmp'), { recursive: true });
    writeFileSync(broken, text.replace('EXPOSE 8080', 'EXPOSE http'));
    try {
      const err = await exec('npx', ['--no-install', 'dockerfile-utils', 'lint', '--json', broken], { cwd: ROOT }).then(
        () => undefined,
        (e: { stdout: string }) => e,
      );
      expect(err).toBeDefined();
      expect(JSON.parse(err!.stdout)).toEqual([expect.objectContaining({ message: 'Invalid containerPort: http', severity: 'error' })]);
    } finally {
      rmSync(broken, { force: true });
    }
  });

  it('installs without install scripts because no production dependency needs one', () => {
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean; hasInstallScript?: boolean }> };
    // protobufjs (under etcd3's gRPC) has a postinstall that only warns when a dependent pins it
    // with another version scheme (scripts/postinstall.js): skipping it changes nothing installed.
    const harmless = new Set(['node_modules/protobufjs']);
    const withScripts = Object.entries(lock.packages).filter(([name, p]) => name !== '' && p.hasInstallScript && !p.dev && !harmless.has(name)).map(([name]) => name);
    expect(withScripts).toEqual([]);
    expect(ops('RUN').filter((r) => /npm ci\b/.test(r)).every((r) => r.includes('--ignore-scripts'))).toBe(true);
  });

  it('builds in a first stage and runs on node:20-slim with production dependencies only, as a non-root user', () => {
    const froms = ops('FROM');
    expect(froms.length).toBeGreaterThanOrEqual(2);
    expect(froms.at(-1)).toMatch(/^node:20-slim\b/);
    const runs = runtime.filter((i) => i.op === 'RUN').map((i) => i.args);
    expect(runs.some((r) => /npm ci\b.*--omit=dev/.test(r))).toBe(true);
    expect(runs.join(' ')).not.toMatch(/npm (i|install)\b(?!.*--omit=dev)/);
    expect(runtime.some((i) => i.op === 'COPY' && /--from=build\s+\S*dist\b/.test(i.args))).toBe(true);
    const users = runtime.filter((i) => i.op === 'USER').map((i) => i.args);
    expect(users.length).toBe(1);
    expect(users[0]).not.toMatch(/^(root|0)(:|$)/);
  });

  it('runs the binary as ENTRYPOINT (exec form, no npm, no shell) and exposes the port TRIBUTARY_HTTP listens on', () => {
    const entry = JSON.parse(ops('ENTRYPOINT').at(-1)!) as string[];
    expect(entry.join(' ')).toMatch(/^node \/opt\/tributary\/bin\/tributary\.js$/);
    const http = /TRIBUTARY_HTTP=(\S+)/.exec(ops('ENV').join(' '))?.[1];
    expect(http).toBe('0.0.0.0:8080');
    expect(ops('EXPOSE')).toEqual([http!.split(':').pop()]);
    // The runtime's bin is the checkout's bin; the path in ENTRYPOINT is where it is copied.
    expect(runtime.some((i) => i.op === 'COPY' && /^bin\s+\.\/bin$/.test(i.args))).toBe(true);
    expect(runtime.some((i) => i.op === 'WORKDIR' && i.args === '/opt/tributary')).toBe(true);
  });

  it('copies only what exists in the build context and what its .dockerignore admits', () => {
    const ignore = readFileSync(`${FILE}.dockerignore`, 'utf8').split('\n').filter((l) => l.startsWith('!')).map((l) => l.slice(1));
    const sources = instructions
      .filter((i) => (i.op === 'COPY' || i.op === 'ADD') && !i.args.startsWith('--from'))
      .flatMap((i) => i.args.split(/\s+/).slice(0, -1));
    expect(sources.length).toBeGreaterThan(3);
    for (const s of sources) {
      expect(existsSync(join(ROOT, s)), s).toBe(true);
      expect(ignore.some((p) => p === s || p === `${s}/**`), `${s} admitted by Dockerfile.dockerignore`).toBe(true);
    }
  });

  describe('HEALTHCHECK', () => {
    let api: HttpApi | undefined;
    afterEach(async () => {
      await api?.close();
      api = undefined;
    });

    const cmd = JSON.parse(/\bCMD (\[.*\])$/.exec(instructions.find((i) => i.op === 'HEALTHCHECK')!.args)![1]!) as string[];

    /** Runs the HEALTHCHECK's command as Docker would (exec form), with the container's environment. */
    async function healthcheck(env: Record<string, string>): Promise<number> {
      const [bin, ...args] = cmd;
      expect(bin).toBe('node');
      return exec(process.execPath, args, { env: { PATH: process.env.PATH, ...env }, timeout: 10_000 }).then(
        () => 0,
        (e: { code?: number }) => e.code ?? -1,
      );
    }

    it('uses node, not curl or wget (the image has neither)', () => {
      expect(cmd.join(' ')).not.toMatch(/curl|wget/);
    });

    it('passes against the real HTTP API bound as in the image (all interfaces, with a token), fails when nothing answers', async () => {
      const runner = {
        syncId: 's',
        config: {},
        phase: 'stream',
      } as unknown as Pick<Runner, 'syncId' | 'config' | 'phase' | 'progress' | 'health' | 'sourceHead' | 'sourceRetainedBytes' | 'members' | 'pause' | 'resume' | 'cancel' | 'checksumNow' | 'switchSource'>;
      api = new HttpApi({ runner, listen: '0.0.0.0:0', token: 't'.repeat(16), historySize: 1 });
      const addr = await api.start();
      expect(await healthcheck({ TRIBUTARY_HTTP: `0.0.0.0:${addr.port}` })).toBe(0);
      await api.close();
      api = undefined;
      expect(await healthcheck({ TRIBUTARY_HTTP: `0.0.0.0:${addr.port}` })).toBe(1);
      // No API configured: nothing to ask, healthy.
      expect(await healthcheck({ TRIBUTARY_HTTP: '' })).toBe(0);
    });
  });
});
