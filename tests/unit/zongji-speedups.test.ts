import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { FAST_PARSE_FLOAT, FAST_ZERO_PAD, ORIGINAL_PARSE_FLOAT, ORIGINAL_ZERO_PAD, patchZongjiCommon } from '../../src/engines/mysql/zongji-speedups.js';

const commonJs = join(dirname(fileURLToPath(import.meta.resolve('@vlasky/zongji'))), 'lib', 'common.js');

/** A definition's function, built from its text (`export const name = function …;`, helpers before it). */
function fn(text: string, name: string): (...args: unknown[]) => unknown {
  return new Function(`${text.replaceAll('export const', 'const')}\nreturn ${name};`)() as (...args: unknown[]) => unknown;
}

describe('zongji speedups in the binlog decoding thread', () => {
  it('the installed zongji has the two definitions the rewrite replaces (an upgrade fails here)', () => {
    const source = readFileSync(commonJs, 'utf8');
    expect(source).toContain(ORIGINAL_ZERO_PAD);
    expect(source).toContain(ORIGINAL_PARSE_FLOAT);
    const patched = patchZongjiCommon(source);
    expect(patched).not.toContain(ORIGINAL_ZERO_PAD);
    expect(patched).toContain(FAST_PARSE_FLOAT);
    // Other text is left as it was.
    expect(patchZongjiCommon('export const x = 1;')).toBe('export const x = 1;');
  });

  it('zeroPad returns what the original returns, padding, exact and truncating alike', () => {
    const original = fn(ORIGINAL_ZERO_PAD, 'zeroPad');
    const fast = fn(FAST_ZERO_PAD, 'zeroPad');
    const nums: unknown[] = [0, 5, 12, 123, 99_999, 123_456_789, -5, -123, 12.5, 1e21, '007', '1234567890', '', 'abc', 2 ** 53];
    for (const num of nums) for (let size = 0; size <= 40; size++) expect(fast(num, size), `zeroPad(${String(num)}, ${size})`).toBe(original(num, size));
  });

  it('parseIEEE754Float returns what the original returns for doubles and floats, NaN, infinities and -0 included', () => {
    const original = fn(ORIGINAL_PARSE_FLOAT, 'parseIEEE754Float');
    const fast = fn(FAST_PARSE_FLOAT, 'parseIEEE754Float');
    const words = [0, 1, 0x80000000, 0x7ff00000, 0xfff00000, 0x7ff80000, 0x7f800000, 0xff800000, 0x7fc00000, 0x3ff00000, 0x00000001, 0xffffffff, 0x12345678];
    let seed = 7;
    for (let i = 0; i < 2000; i++) words.push((seed = (seed * 1103515245 + 12345) >>> 0));
    for (let i = 0; i < words.length; i++) {
      const high = words[i] as number;
      const low = words[(i * 7 + 3) % words.length] as number;
      expect(Object.is(fast(high, low), original(high, low)), `double ${high}/${low}`).toBe(true);
      expect(Object.is(fast(high), original(high)), `float ${high}`).toBe(true);
      // A float after a double reads only its own word.
      expect(Object.is(fast(high), original(high))).toBe(true);
    }
  });

  it('installed in a thread, zongji loads there with the replacements', async () => {
    const hooks = new URL('../../src/engines/mysql/zongji-speedups.ts', import.meta.url).href;
    const code = `(async () => {
      const { workerData, parentPort } = await import('node:worker_threads');
      const { register } = await import(workerData.tsx);
      register();
      const { installZongjiSpeedups } = await import(workerData.hooks);
      installZongjiSpeedups();
      const common = await import(workerData.common);
      parentPort.postMessage([String(common.zeroPad).includes('ZEROS__'), common.zeroPad(7, 3), common.parseIEEE754Float(0x3ff00000, 0)]);
    })()`;
    const worker = new Worker(code, { eval: true, workerData: { tsx: import.meta.resolve('tsx/esm/api'), hooks, common: new URL(`file://${commonJs}`).href } });
    const result = await new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    await worker.terminate();
    expect(result).toEqual([true, '007', 1]);
  });
});
