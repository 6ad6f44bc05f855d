import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { declaredSyncFile } from '../../src/cluster/declare.js';
import { loadConfig } from '../../src/config/load.js';
import { ErrorCode } from '../../src/core/errors.js';
import { SyncMetrics } from '../../src/server/metrics.js';
import type { StatusJson } from '../../src/server/status.js';

/**
 * The documentation is part of the product: these tests keep the reference pages complete (every
 * option a command accepts, every error code) and their examples and links working.
 */

const ROOT = resolve(import.meta.dirname, '../..');
const read = (p: string) => readFileSync(join(ROOT, p), 'utf8');
const DOC_PAGES = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

/** The long options a command's --help lists, as the user types them. */
async function helpOptions(command: string): Promise<string[]> {
  let out = '';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += chunk.toString();
    return true;
  });
  try {
    expect(await main([...command.split(' '), '--help'], {})).toBe(0);
  } finally {
    spy.mockRestore();
  }
  const opts = [...out.matchAll(/^\s+(?:-\w, )?(--[a-z][a-z-]*)/gm)].map((m) => m[1] as string);
  return opts.filter((o) => o !== '--help');
}

describe('docs/options.md', () => {
  afterEach(() => vi.restoreAllMocks());
  const options = read('docs/options.md');

  for (const command of ['sync', 'check', 'verify', 'move', 'status', 'switch-source', 'demo', 'relay', 'worker', 'cluster apply', 'cluster delete', 'cluster status']) {
    it(`documents every option of ${command}`, async () => {
      const flags = await helpOptions(command);
      expect(flags.length).toBeGreaterThan(command.includes(' ') ? 1 : 2);
      const missing = flags.filter((f) => !new RegExp('`' + f + '(?![a-z-])').test(options));
      expect(missing, `options of ${command} missing from docs/options.md`).toEqual([]);
    });
  }
});

describe('docs/errors.md', () => {
  const errors = read('docs/errors.md');
  it('has a section with cause and remedy for every error code', () => {
    for (const code of Object.values(ErrorCode)) {
      const at = errors.indexOf('### `' + code + '`');
      expect(at, `${code} has no section`).toBeGreaterThan(0);
    }
    // Every section but the two that are not failures says what causes it and what to do.
    const sections = errors.split(/^### /m).slice(1);
    for (const s of sections) {
      if (/^`TRIB_(ABORTED|INTERNAL)`/.test(s)) continue;
      expect(s, s.slice(0, 40)).toMatch(/\*\*Cause:\*\*/);
      expect(s, s.slice(0, 40)).toMatch(/\*\*Do[:,]/);
    }
  });
});

describe('docs/metrics.md', () => {
  it('documents every tributary_* series /metrics can expose', async () => {
    // Every optional series present: a PostgreSQL source's retained WAL, a watched replica, the checksum.
    const status = {
      phase: 'stream', paused: false, readiness: { ready: true, reason: null }, uptimeSeconds: 1,
      copy: { rowsPerSecond: 0, tables: [{ table: 't', rowsCopied: 3, rowsTotal: 3, state: 'done' }] },
      stream: { lagSeconds: 0, changesPerSecond: 0, bufferBytes: 0, reconnects: 0, retrying: false, retainedBytes: 4096, changesByTable: { t: { insert: 1, update: 0, delete: 0, upsert: 0, truncate: 0 } } },
      checksum: { state: 'resting', pass: 1, passesCompleted: 1, chunksChecked: 2, mismatches: 0, repairs: 0, firstCleanPassAt: null },
      throttle: { copyRateLimit: 10, replica: 'mysql://r@h/db', replicaLagSeconds: 1, waiting: false, reason: null },
    } as unknown as StatusJson;
    const text = await new SyncMetrics({ defaultMetrics: false }).render(status);
    const families = [...text.matchAll(/^# TYPE (tributary_\w+) /gm)].map((m) => m[1] as string);
    expect(families.length).toBeGreaterThan(20);
    const doc = read('docs/metrics.md');
    expect(families.filter((f) => !doc.includes('`' + f)), 'series missing from docs/metrics.md').toEqual([]);
  });
});

describe('YAML examples', () => {
  const dir = mkdtempSync(join(tmpdir(), 'trib-docs-'));
  const secret = join(dir, 'secret');
  writeFileSync(secret, 'pw\n');
  for (const page of DOC_PAGES) {
    const blocks = [...read(page).matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1] as string);
    blocks.forEach((yaml, i) => {
      it(`${page} example ${i + 1} is a valid config file`, () => {
        const file = join(dir, `example-${i}.yml`);
        writeFileSync(file, yaml.replace(/\/run\/secrets\/[\w-]+/g, secret));
        // A declared sync (docs/cluster.md) is a config file with a name.
        if (yaml.startsWith('name:')) expect(() => declaredSyncFile(file)).not.toThrow();
        else expect(() => loadConfig({ flags: {}, configFile: file, env: {} })).not.toThrow();
      });
    });
  }
});

describe('links between the pages', () => {
  /** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to dashes. */
  const anchor = (heading: string) =>
    heading
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N} _-]/gu, '')
      .replace(/ /g, '-');
  const anchors = (page: string) => {
    const text = read(page).replace(/```[\s\S]*?```/g, '');
    return new Set([...text.matchAll(/^#{1,6} (.+)$/gm)].map((m) => anchor(m[1] as string)));
  };

  for (const page of DOC_PAGES) {
    it(`${page}: every relative link reaches a file and heading`, () => {
      const broken: string[] = [];
      for (const m of read(page).matchAll(/\]\(([^)\s]+)\)/g)) {
        const link = m[1] as string;
        if (/^[a-z]+:/.test(link)) continue;
        const [path, hash] = link.split('#') as [string, string | undefined];
        const target = path ? join(dirname(page), path) : page;
        if (!existsSync(join(ROOT, target))) {
          broken.push(link);
          continue;
        }
        if (hash && target.endsWith('.md') && !anchors(target).has(hash)) broken.push(link);
      }
      expect(broken).toEqual([]);
    });
  }
});
