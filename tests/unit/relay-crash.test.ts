import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RelayReader } from '../../src/relay/reader.js';
import { listSegments } from '../../src/relay/segment.js';
import { RelayWriter } from '../../src/relay/writer.js';
import { compare, p, txn } from './relay-fixtures.js';

const ROOT = join(import.meta.dirname, '..', '..');
const CHILD = join(import.meta.dirname, 'relay-crash-child.ts');

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'relay-crash-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Runs the child until it has reported `more` durable transactions past where it opened (then a little longer), kills it with SIGKILL, and returns the last durable ordinal it reported. */
function runAndKill(more: number): Promise<{ opened: number; lastDurable: number; lines: number }> {
  return new Promise((resolve, reject) => {
    // node itself with tsx's loader (not the tsx CLI, which runs the script in a grandchild that SIGKILL would miss).
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, dir], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let opened: number | undefined;
    let lastDurable = -1;
    let lines = 0;
    let buf = '';
    let stderr = '';
    let killing = false;
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      const parts = buf.split('\n');
      buf = parts.pop()!;
      for (const line of parts) {
        const [what, a, b] = line.split(' ');
        if (what === 'open') opened = Number(a);
        if (what === 'durable') {
          const ordinal = Number(a);
          if (ordinal < lastDurable) reject(new Error(`durable went backwards: ${line}`));
          if (b !== p(ordinal + 1)) reject(new Error(`durable line names the wrong position: ${line}`));
          lastDurable = ordinal;
          lines++;
        }
      }
      if (!killing && opened !== undefined && lastDurable >= opened + more) {
        killing = true;
        // Kill somewhere in the middle of the next group commits, not right after one.
        setTimeout(() => child.kill('SIGKILL'), 5 + Math.floor(Math.random() * 40));
      }
    });
    child.on('exit', (code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`child exited ${code} ${signal}: ${stderr}`));
      // Lines it wrote before the kill may still be in the pipe: the 'exit' event can come first.
      setTimeout(() => resolve({ opened: opened ?? -1, lastDurable, lines }), 50);
    });
  });
}

describe('relay writer under kill -9', () => {
  it('keeps every transaction the killed writer reported durable, intact and in order (4 kills)', async () => {
    let reported = -1;
    for (let round = 0; round < 4; round++) {
      const { opened, lastDurable, lines } = await runAndKill(3000);
      expect(lines).toBeGreaterThan(0);
      expect(opened).toBeGreaterThanOrEqual(reported);
      reported = Math.max(reported, lastDurable);
      // The relay restarts: recovery cuts any torn tail, and what was reported durable is there.
      const w = await RelayWriter.open(dir, { sourceId: 'crash', startPosition: p(0), compare });
      expect(w.durablePosition().ordinal).toBeGreaterThanOrEqual(reported);
      await w.close();
      const r = await RelayReader.open({ dir, compare, follow: false });
      let next = 0;
      for await (const t of r) {
        expect(t.ordinal).toBe(next);
        if (t.ordinal % 97 === 0 || t.ordinal >= reported - 5) expect(t).toStrictEqual({ ordinal: next, ...txn(next + 1, 1 + ((next + 1) % 20)) });
        else expect(t.position).toBe(p(next + 1));
        next++;
      }
      expect(next - 1).toBeGreaterThanOrEqual(reported);
    }
    expect((await listSegments(dir)).length).toBeGreaterThan(1);
  });
});
