import { register } from 'node:module';

/**
 * Two of zongji's value helpers, replaced in the binlog decoding thread by equivalents that
 * allocate less. Profiled on a 1M-change replay (bench/README.md), the decoding thread spent 7.8 %
 * in `zeroPad` (a 32-zero string concatenated and sliced per temporal or decimal part) and 5.1 % in
 * `parseIEEE754Float` (an ArrayBuffer and a DataView allocated per FLOAT or DOUBLE value). zongji is
 * an ES module whose other functions call these through their own bindings, so they cannot be
 * replaced from outside: a module load hook rewrites the two definitions in its lib/common.js as it
 * is loaded, in the thread only. The rewrite applies only where the installed text is exactly the
 * one below (@vlasky/zongji 0.9.0, pinned); other text loads unchanged (tests/unit/zongji-speedups
 * .test.ts fails then, so an upgrade looks at them again). The replacements return what the
 * originals return for every input (the same test compares them).
 */

/** zongji's own definitions, as 0.9.0 ships them. */
export const ORIGINAL_ZERO_PAD = `export const zeroPad = function(num, size) {
  // Max 32 digits
  const s = '00000000000000000000000000000000' + num;
  return s.substr(s.length-size);
};`;

export const ORIGINAL_PARSE_FLOAT = `export const parseIEEE754Float = function(high, low) {
  if (low !== undefined) {
    let value = new DataView(new ArrayBuffer(8));
    value.setUint32(0, high);
    value.setUint32(4, low);
    return value.getFloat64(0);
  } else {
    let value = new DataView(new ArrayBuffer(4));
    value.setUint32(0, high);
    return value.getFloat32(0);
  }
};`;

/** The replacements: the same results, without the long string and the per-call allocations. */
export const FAST_ZERO_PAD = `const ZEROS__ = Array.from({ length: 33 }, (_, i) => '0'.repeat(i));
export const zeroPad = function(num, size) {
  const s = '' + num;
  const n = s.length;
  // As the original: the last \`size\` characters when longer; past 32 zeros, its own expression.
  if (n >= size) return n === size ? s : s.substr(n - size);
  if (size - n <= 32) return ZEROS__[size - n] + s;
  const t = ZEROS__[32] + s;
  return t.substr(t.length - size);
};`;

export const FAST_PARSE_FLOAT = `const VIEW__ = new DataView(new ArrayBuffer(8));
export const parseIEEE754Float = function(high, low) {
  VIEW__.setUint32(0, high);
  if (low !== undefined) {
    VIEW__.setUint32(4, low);
    return VIEW__.getFloat64(0);
  }
  return VIEW__.getFloat32(0);
};`;

/** Each original with its replacement. */
const REPLACEMENTS: readonly (readonly [string, string])[] = [
  [ORIGINAL_ZERO_PAD, FAST_ZERO_PAD],
  [ORIGINAL_PARSE_FLOAT, FAST_PARSE_FLOAT],
];

/**
 * `source` with every original replaced, or unchanged unless all are found. Self-contained (no
 * closure, no import): the load hook below runs its very text.
 */
function replaceAll(source: string, pairs: readonly (readonly [string, string])[]): string {
  if (!pairs.every(([from]) => source.includes(from))) return source;
  let text = source;
  for (const [from, to] of pairs) text = text.replace(from, to);
  return text;
}

/** zongji's common.js with the two helpers replaced; unchanged unless both originals are found. */
export function patchZongjiCommon(source: string): string {
  return replaceAll(source, REPLACEMENTS);
}

/** The load hook, as a module of its own (hooks run apart from the thread that registers them). */
const HOOKS = `
const PAIRS = ${JSON.stringify(REPLACEMENTS)};
const replaceAll = ${replaceAll.toString()};
export async function load(url, context, nextLoad) {
  const loaded = await nextLoad(url, context);
  if (!url.endsWith('/@vlasky/zongji/lib/common.js') || loaded.source == null) return loaded;
  return { ...loaded, source: replaceAll(String(loaded.source), PAIRS) };
}
`;

/** Installs the hook for the modules this thread loads from now on: call before zongji is imported. */
export function installZongjiSpeedups(): void {
  register(`data:text/javascript,${encodeURIComponent(HOOKS)}`);
}
