/**
 * The MySQL/MariaDB lexer the DDL parser (ddl-parse.ts) reads statements with: words, backquoted
 * identifiers, strings, numbers and punctuation, each with its place in the statement so that an
 * ALTER TABLE specification keeps its exact source text. Comments are skipped; a versioned comment
 * (`/*!50100 … *\/`, MariaDB's `/*M!100100 … *\/`) is read as its content, as the server executes it.
 */

export type TokenKind = 'word' | 'ident' | 'string' | 'number' | 'punct';

export interface Token {
  readonly kind: TokenKind;
  /** The token as written. */
  readonly text: string;
  /** Words upper-cased, identifiers and strings unquoted and unescaped, others as written. */
  readonly value: string;
  /** Offsets in the statement: text = statement.slice(start, end). */
  readonly start: number;
  readonly end: number;
  /** Parenthesis depth before the token (a '(' is at the depth outside it). */
  readonly depth: number;
}

const STRING_ESCAPES: Readonly<Record<string, string>> = { n: '\n', t: '\t', r: '\r', '0': '\0', b: '\b', Z: '\x1a' };

/** A statement's tokens and its text as the server reads it (versioned comments' markers blanked, offsets kept). */
export interface Lexed {
  readonly text: string;
  readonly tokens: Token[];
}

/**
 * The tokens of `sql`. Throws an Error naming the offset when a quote or comment does not end
 * (the parser reports the statement as unreadable).
 */
export function tokenize(sql: string): Lexed {
  const out: Token[] = [];
  let depth = 0;
  let i = 0;
  const n = sql.length;
  const push = (kind: TokenKind, start: number, end: number, value: string) => {
    out.push({ kind, text: sql.slice(start, end), value, start, end, depth });
  };
  while (i < n) {
    const ch = sql[i] as string;
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    if (ch === '#' || (ch === '-' && sql[i + 1] === '-' && (i + 2 >= n || /\s/.test(sql[i + 2] as string)))) {
      const nl = sql.indexOf('\n', i);
      i = nl < 0 ? n : nl + 1;
      continue;
    }
    if (ch === '/' && sql[i + 1] === '*') {
      const close = sql.indexOf('*/', i + 2);
      if (close < 0) throw new Error(`comment at offset ${i} does not end`);
      const versioned = /^\/\*M?!\d*/.exec(sql.slice(i, close));
      if (versioned) {
        // Executed by the server: read its content, dropping the opening and the closing '*/'.
        sql = sql.slice(0, i) + ' '.repeat(versioned[0].length) + sql.slice(i + versioned[0].length, close) + '  ' + sql.slice(close + 2);
        continue;
      }
      i = close + 2;
      continue;
    }
    if (ch === '`' || ch === '"') {
      // Double quotes are strings under the default sql_mode, identifiers under ANSI_QUOTES; DDL
      // names are backquoted or bare in what servers and tools log, so '"' is read as a string.
      const [value, end] = quoted(sql, i, ch);
      push(ch === '`' ? 'ident' : 'string', i, end, value);
      i = end;
      continue;
    }
    if (ch === "'") {
      const [value, end] = quoted(sql, i, ch);
      push('string', i, end, value);
      i = end;
      continue;
    }
    if (/[0-9]/.test(ch) || (ch === '.' && /[0-9]/.test(sql[i + 1] ?? ''))) {
      const m = /^(?:0x[0-9a-f]+|[0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)/i.exec(sql.slice(i)) as RegExpExecArray;
      const after = sql[i + m[0].length];
      if (after === undefined || !/[a-z_$]/i.test(after)) {
        push('number', i, i + m[0].length, m[0]);
        i += m[0].length;
        continue;
      }
      // An identifier that starts with digits (1col): read as a word below.
    }
    if (/[a-z0-9_$@\u0080-\uffff]/i.test(ch)) {
      let j = i + 1;
      while (j < n && /[a-z0-9_$@\u0080-\uffff]/i.test(sql[j] as string)) j++;
      const word = sql.slice(i, j);
      // Hex and bit literals: X'0F', B'101' (and introducers such as _utf8mb4'x', kept as words).
      if (/^[xb]$/i.test(word) && sql[j] === "'") {
        const [, end] = quoted(sql, j, "'");
        push('string', i, end, sql.slice(i, end));
        i = end;
        continue;
      }
      push('word', i, j, word.toUpperCase());
      i = j;
      continue;
    }
    if (ch === '(') {
      push('punct', i, i + 1, ch);
      depth++;
      i++;
      continue;
    }
    if (ch === ')') {
      depth = Math.max(0, depth - 1);
      push('punct', i, i + 1, ch);
      i++;
      continue;
    }
    const two = sql.slice(i, i + 2);
    if (['<=', '>=', '<>', '!=', ':=', '||', '&&', '<<', '>>'].includes(two)) {
      push('punct', i, i + 2, two);
      i += 2;
      continue;
    }
    push('punct', i, i + 1, ch);
    i++;
  }
  return { text: sql, tokens: out };
}

/** A quoted token from `start` (at the quote): its unescaped value and the offset after it. */
function quoted(sql: string, start: number, q: string): [string, number] {
  let v = '';
  let i = start + 1;
  for (;;) {
    const ch = sql[i];
    if (ch === undefined) throw new Error(`quote ${q} at offset ${start} does not end`);
    if (ch === q) {
      if (sql[i + 1] === q) {
        v += q;
        i += 2;
        continue;
      }
      return [v, i + 1];
    }
    if (ch === '\\' && q !== '`') {
      const next = sql[i + 1] ?? '';
      v += STRING_ESCAPES[next] ?? next;
      i += 2;
      continue;
    }
    v += ch;
    i++;
  }
}

/**
 * Splits tokens at commas outside parentheses (depth `depth`): an ALTER TABLE's specifications,
 * a RENAME TABLE's pairs, a DROP TABLE's names. Empty parts are dropped.
 */
export function splitTopLevel(tokens: readonly Token[], depth = 0): Token[][] {
  const parts: Token[][] = [];
  let cur: Token[] = [];
  for (const t of tokens) {
    if (t.kind === 'punct' && t.value === ',' && t.depth === depth) {
      if (cur.length > 0) parts.push(cur);
      cur = [];
    } else {
      cur.push(t);
    }
  }
  if (cur.length > 0) parts.push(cur);
  return parts;
}

/** The statement's text from the first to the last token (comments between them included). */
export function textOf(sql: string, tokens: readonly Token[]): string {
  const first = tokens[0];
  const last = tokens[tokens.length - 1];
  return first && last ? sql.slice(first.start, last.end) : '';
}

/** Whether `t` is the word `w` (upper case). */
export function isWord(t: Token | undefined, ...w: string[]): boolean {
  return t?.kind === 'word' && w.includes(t.value);
}

/** Whether `t` is the punctuation `p`. */
export function isPunct(t: Token | undefined, p: string): boolean {
  return t?.kind === 'punct' && t.value === p;
}

/** Whether `t` can be a name: a backquoted identifier or a bare word. */
export function isName(t: Token | undefined): boolean {
  return t?.kind === 'ident' || t?.kind === 'word';
}

/** The name a name token stands for: identifiers unquoted, bare words as written (not upper-cased). */
export function nameOf(t: Token): string {
  return t.kind === 'word' ? t.text : t.value;
}
