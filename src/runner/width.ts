/**
 * Display width of text on a terminal: how many columns a string occupies, not how many bytes or
 * UTF-16 units it has. A progress block redrawn in place must know this exactly: a line one column
 * too wide wraps, and then the redraw's cursor arithmetic is off by a row every second.
 *
 * The rule (the one terminals and wcwidth(3) use): combining marks, format characters (ZWJ,
 * variation selectors) and C0/C1 controls take no column; East Asian Wide and Fullwidth
 * characters (CJK, Hangul, most emoji) take two; everything else one. Ambiguous-width characters
 * (the bar's `█` and `░`) count one, as in every non-CJK locale.
 */

/** Code point ranges of East Asian Wide (W) and Fullwidth (F) characters, Unicode 15, merged. */
const WIDE: readonly (readonly [number, number])[] = [
  [0x1100, 0x115f], [0x231a, 0x231b], [0x2329, 0x232a], [0x23e9, 0x23ec], [0x23f0, 0x23f0], [0x23f3, 0x23f3],
  [0x25fd, 0x25fe], [0x2614, 0x2615], [0x2648, 0x2653], [0x267f, 0x267f], [0x2693, 0x2693], [0x26a1, 0x26a1],
  [0x26aa, 0x26ab], [0x26bd, 0x26be], [0x26c4, 0x26c5], [0x26ce, 0x26ce], [0x26d4, 0x26d4], [0x26ea, 0x26ea],
  [0x26f2, 0x26f3], [0x26f5, 0x26f5], [0x26fa, 0x26fa], [0x26fd, 0x26fd], [0x2705, 0x2705], [0x270a, 0x270b],
  [0x2728, 0x2728], [0x274c, 0x274c], [0x274e, 0x274e], [0x2753, 0x2755], [0x2757, 0x2757], [0x2795, 0x2797],
  [0x27b0, 0x27b0], [0x27bf, 0x27bf], [0x2b1b, 0x2b1c], [0x2b50, 0x2b50], [0x2b55, 0x2b55], [0x2e80, 0x303e],
  [0x3041, 0x33ff], [0x3400, 0x4dbf], [0x4e00, 0x9fff], [0xa000, 0xa4cf], [0xa960, 0xa97f], [0xac00, 0xd7a3],
  [0xf900, 0xfaff], [0xfe10, 0xfe19], [0xfe30, 0xfe6f], [0xff00, 0xff60], [0xffe0, 0xffe6], [0x16fe0, 0x16fe4],
  [0x17000, 0x18cff], [0x1b000, 0x1b2ff], [0x1f004, 0x1f004], [0x1f0cf, 0x1f0cf], [0x1f18e, 0x1f18e],
  [0x1f191, 0x1f19a], [0x1f200, 0x1f251], [0x1f300, 0x1f320], [0x1f32d, 0x1f335], [0x1f337, 0x1f37c],
  [0x1f37e, 0x1f393], [0x1f3a0, 0x1f3ca], [0x1f3cf, 0x1f3d3], [0x1f3e0, 0x1f3f0], [0x1f3f4, 0x1f3f4],
  [0x1f3f8, 0x1f43e], [0x1f440, 0x1f440], [0x1f442, 0x1f4fc], [0x1f4ff, 0x1f53d], [0x1f54b, 0x1f54e],
  [0x1f550, 0x1f567], [0x1f57a, 0x1f57a], [0x1f595, 0x1f596], [0x1f5a4, 0x1f5a4], [0x1f5fb, 0x1f64f],
  [0x1f680, 0x1f6c5], [0x1f6cc, 0x1f6cc], [0x1f6d0, 0x1f6d2], [0x1f6d5, 0x1f6d7], [0x1f6dc, 0x1f6df],
  [0x1f6eb, 0x1f6ec], [0x1f6f4, 0x1f6fc], [0x1f7e0, 0x1f7eb], [0x1f7f0, 0x1f7f0], [0x1f90c, 0x1f93a],
  [0x1f93c, 0x1f945], [0x1f947, 0x1f9ff], [0x1fa70, 0x1faff], [0x20000, 0x2fffd], [0x30000, 0x3fffd],
];

const ZERO = /^[\p{Mn}\p{Me}\p{Cf}\p{Cc}]$/u;

/** Columns one code point occupies: 0, 1 or 2. */
export function charWidth(ch: string): number {
  const cp = ch.codePointAt(0) ?? 0;
  if (cp < 0x7f) return cp >= 0x20 ? 1 : 0; // the common case, without a regex
  if (ZERO.test(ch)) return 0;
  let lo = 0;
  let hi = WIDE.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const [a, b] = WIDE[mid] as readonly [number, number];
    if (cp < a) hi = mid - 1;
    else if (cp > b) lo = mid + 1;
    else return 2;
  }
  return 1;
}

/** Columns `text` (one line, no escape sequences) occupies on a terminal. */
export function displayWidth(text: string): number {
  let w = 0;
  for (const ch of text) w += charWidth(ch);
  return w;
}

/**
 * `text` cut to at most `width` columns, ending in `…` when something was cut. A wide character
 * that would straddle the limit is left out whole (never half of it drawn).
 */
export function truncateToWidth(text: string, width: number): string {
  if (width <= 0) return '';
  if (displayWidth(text) <= width) return text;
  let out = '';
  let w = 0;
  for (const ch of text) {
    const cw = charWidth(ch);
    if (w + cw > width - 1) break; // one column kept for the ellipsis
    out += ch;
    w += cw;
  }
  return out + '…';
}

/** `text` padded with spaces on the right to `width` columns (by display width). */
export function padToWidth(text: string, width: number): string {
  const w = displayWidth(text);
  return w >= width ? text : text + ' '.repeat(width - w);
}

/**
 * Terminal rows `lines` occupy once printed on a terminal `columns` wide: a line wider than the
 * terminal wraps onto ceil(width / columns) rows, an empty line still takes one.
 */
export function physicalRows(lines: readonly string[], columns: number): number {
  const cols = Math.max(1, columns);
  return lines.reduce((n, l) => n + Math.max(1, Math.ceil(displayWidth(l) / cols)), 0);
}

/**
 * `text` word-wrapped to `width` columns, line by line: a line too wide breaks at its last space
 * that fits, and its continuation rows are indented like the line (plus two columns), so a
 * terminal never breaks a word or a number in two. A word wider than a whole row is cut where the
 * row ends, as the terminal would.
 */
export function wrapToWidth(text: string, width: number): string {
  if (width < 8) return text;
  return text
    .split('\n')
    .map((line) => {
      if (displayWidth(line) <= width) return line;
      const indent = ' '.repeat(Math.min((/^ */.exec(line)?.[0].length ?? 0) + 2, Math.floor(width / 2)));
      const rows: string[] = [];
      let row = '';
      for (const word of line.split(/(?<= )/)) {
        if (row.trim() !== '' && displayWidth(row + word.trimEnd()) > width) {
          rows.push(row.trimEnd());
          row = indent + word.trimStart();
        } else row += word;
        // A trailing space may reach past the width: only a word wider than the row is cut.
        while (displayWidth(row.trimEnd()) > width) {
          let cut = '';
          for (const ch of row) {
            if (displayWidth(cut + ch) > width) break;
            cut += ch;
          }
          rows.push(cut);
          row = indent + row.slice(cut.length);
        }
      }
      if (row.trim() !== '') rows.push(row.trimEnd());
      return rows.join('\n');
    })
    .join('\n');
}
