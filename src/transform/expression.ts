import { addSeconds } from '../core/calendar.js';
import { ErrorCode, TributaryError } from '../core/errors.js';
import type { LogicalType } from '../core/logical.js';
import type { RowFilter } from '../core/row-filter.js';
import type { Column, TableSchema } from '../core/schema.js';
import type { Row, Value } from '../core/values.js';

/**
 * The row filter language of `--where 'TABLE: EXPR'` (docs/filters.md "The expression language"):
 * parsed here (parseFilter), bound to a table's columns with every literal made the canonical value
 * of its column (bindFilter → core/row-filter.ts RowFilter), and evaluated on row images
 * (evaluateFilter, compileFilter) exactly as each source engine's SQL rendering of it
 * (engines/<engine>/filter.ts) evaluates it on the rows its snapshot reads return. No SQL here.
 *
 * What must hold: for every row, evaluateFilter is TRUE exactly when the engine's WHERE keeps the
 * row. So the comparisons here are the canonical values' own (strings by UTF-8 bytes, exact
 * decimals as numbers, temporal values by time), and a literal that the engines could compare
 * otherwise (a fraction against an integer, a number against text) is refused when bound.
 */

// ---------------------------------------------------------------------------------------------
// Syntax

/** A column named in an expression, as written (`quoted`: in backticks or double quotes). */
export interface ColumnRef {
  readonly kind: 'column';
  readonly name: string;
  readonly quoted: boolean;
  /** Offset in the expression text. */
  readonly at: number;
}

/** A literal as written: numbers keep their text (bound exactly later), strings are unescaped. */
export type Literal =
  | { readonly kind: 'number'; readonly text: string; readonly at: number }
  | { readonly kind: 'string'; readonly text: string; readonly at: number }
  | { readonly kind: 'boolean'; readonly value: boolean; readonly at: number }
  | { readonly kind: 'bytes'; readonly value: Buffer; readonly raw: string; readonly at: number }
  | { readonly kind: 'bits'; readonly text: string; readonly at: number };

export type CompareOp = '=' | '<>' | '<' | '<=' | '>' | '>=';

/** A parsed filter, before its columns are resolved (bindFilter). */
export type FilterSyntax =
  | { readonly kind: 'and'; readonly items: readonly FilterSyntax[] }
  | { readonly kind: 'or'; readonly items: readonly FilterSyntax[] }
  | { readonly kind: 'not'; readonly item: FilterSyntax }
  | { readonly kind: 'compare'; readonly column: ColumnRef; readonly op: CompareOp; readonly value: Literal }
  | { readonly kind: 'in'; readonly column: ColumnRef; readonly values: readonly Literal[]; readonly negated: boolean }
  | { readonly kind: 'between'; readonly column: ColumnRef; readonly low: Literal; readonly high: Literal; readonly negated: boolean }
  | { readonly kind: 'is-null'; readonly column: ColumnRef; readonly negated: boolean };

type Token =
  | { readonly t: 'word'; readonly v: string; readonly at: number }
  | { readonly t: 'ident'; readonly v: string; readonly at: number }
  | { readonly t: 'string'; readonly v: string; readonly at: number }
  | { readonly t: 'number'; readonly v: string; readonly at: number }
  | { readonly t: 'bytes'; readonly v: Buffer; readonly raw: string; readonly at: number }
  | { readonly t: 'bits'; readonly v: string; readonly at: number }
  | { readonly t: 'op'; readonly v: string; readonly at: number }
  | { readonly t: 'end'; readonly v: ''; readonly at: number };

const KEYWORDS = new Set(['AND', 'OR', 'NOT', 'IN', 'BETWEEN', 'IS', 'NULL', 'TRUE', 'FALSE']);
const COMPARE_OPS = new Set(['=', '<>', '!=', '<', '<=', '>', '>=']);
const FLIPPED: Record<CompareOp, CompareOp> = { '=': '=', '<>': '<>', '<': '>', '<=': '>=', '>': '<', '>=': '<=' };

function syntaxError(text: string, at: number, what: string): TributaryError {
  const near = at >= text.length ? 'at its end' : `at offset ${at}, near '${text.slice(at, at + 20)}'`;
  return new TributaryError(ErrorCode.CONFIG_INVALID, `row filter "${text}": ${near}: ${what}; see docs/filters.md "The expression language"`);
}

function tokenize(text: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text[i] as string;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const at = i;
    // x'hex', b'bits' (before identifiers: x and b are letters).
    if ((c === 'x' || c === 'X' || c === 'b' || c === 'B') && text[i + 1] === "'") {
      const end = text.indexOf("'", i + 2);
      if (end < 0) throw syntaxError(text, at, 'unterminated literal (a closing quote was expected)');
      const body = text.slice(i + 2, end);
      if (c === 'x' || c === 'X') {
        if (!/^([0-9a-fA-F]{2})*$/.test(body)) throw syntaxError(text, at, `x'${body}' is not an even number of hexadecimal digits`);
        out.push({ t: 'bytes', v: Buffer.from(body, 'hex'), raw: text.slice(at, end + 1), at });
      } else {
        if (!/^[01]*$/.test(body)) throw syntaxError(text, at, `b'${body}' holds a character other than 0 and 1`);
        out.push({ t: 'bits', v: body, at });
      }
      i = end + 1;
      continue;
    }
    if (c === '0' && (text[i + 1] === 'x' || text[i + 1] === 'X')) {
      const m = /^0[xX]([0-9a-fA-F]*)/.exec(text.slice(i)) as RegExpExecArray;
      const hex = m[1] as string;
      if (hex.length === 0 || hex.length % 2 !== 0) throw syntaxError(text, at, `${m[0]} is not an even, non-zero number of hexadecimal digits`);
      if (/^[\p{L}\p{N}_$]/u.test(text.slice(i + m[0].length))) throw syntaxError(text, i + m[0].length, 'a hexadecimal literal runs into a name');
      out.push({ t: 'bytes', v: Buffer.from(hex, 'hex'), raw: m[0], at });
      i += m[0].length;
      continue;
    }
    if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(text[i + 1] ?? ''))) {
      const m = /^(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?/.exec(text.slice(i)) as RegExpExecArray;
      if (/^[\p{L}_$.]/u.test(text.slice(i + m[0].length))) throw syntaxError(text, i + m[0].length, `a number (${m[0]}) runs into a name; quote a column whose name starts with a digit`);
      out.push({ t: 'number', v: m[0], at });
      i += m[0].length;
      continue;
    }
    if (c === "'" || c === '`' || c === '"') {
      let v = '';
      let j = i + 1;
      for (;;) {
        if (j >= n) throw syntaxError(text, at, `unterminated ${c === "'" ? 'string' : 'quoted name'} (a closing ${c} was expected)`);
        const d = text[j] as string;
        if (d === c) {
          if (text[j + 1] === c) {
            v += c;
            j += 2;
            continue;
          }
          break;
        }
        v += d;
        j++;
      }
      i = j + 1;
      if (c === "'") out.push({ t: 'string', v, at });
      else {
        if (v === '') throw syntaxError(text, at, 'an empty quoted name');
        out.push({ t: 'ident', v, at });
      }
      continue;
    }
    const word = /^[\p{L}_][\p{L}\p{N}_$]*/u.exec(text.slice(i));
    if (word) {
      out.push({ t: 'word', v: word[0], at });
      i += word[0].length;
      continue;
    }
    const two = text.slice(i, i + 2);
    if (two === '<>' || two === '!=' || two === '<=' || two === '>=') {
      out.push({ t: 'op', v: two, at });
      i += 2;
      continue;
    }
    if ('=<>(),+-'.includes(c)) {
      out.push({ t: 'op', v: c, at });
      i++;
      continue;
    }
    throw syntaxError(text, at, `unexpected character '${c}'`);
  }
  out.push({ t: 'end', v: '', at: n });
  return out;
}

/**
 * Parses a filter expression (grammar: docs/filters.md). Throws CONFIG_INVALID naming the
 * expression, where it went wrong and what was expected.
 */
export function parseFilter(text: string): FilterSyntax {
  const tokens = tokenize(text);
  let p = 0;
  const peek = (): Token => tokens[p] as Token;
  const isWord = (tok: Token, w: string) => tok.t === 'word' && tok.v.toUpperCase() === w;
  const isOp = (tok: Token, o: string) => tok.t === 'op' && tok.v === o;
  const fail = (tok: Token, what: string): never => {
    throw syntaxError(text, tok.at, what);
  };

  type Operand = ColumnRef | Literal | { readonly kind: 'null'; readonly at: number };

  const operand = (): Operand | undefined => {
    const tok = peek();
    if (tok.t === 'ident') {
      p++;
      return { kind: 'column', name: tok.v, quoted: true, at: tok.at };
    }
    if (tok.t === 'word') {
      const up = tok.v.toUpperCase();
      if (up === 'NULL') {
        p++;
        return { kind: 'null', at: tok.at };
      }
      if (up === 'TRUE' || up === 'FALSE') {
        p++;
        return { kind: 'boolean', value: up === 'TRUE', at: tok.at };
      }
      if (KEYWORDS.has(up)) return undefined;
      p++;
      return { kind: 'column', name: tok.v, quoted: false, at: tok.at };
    }
    return literalToken();
  };

  const literalToken = (): Literal | undefined => {
    const tok = peek();
    if (tok.t === 'string') {
      p++;
      return { kind: 'string', text: tok.v, at: tok.at };
    }
    if (tok.t === 'bytes') {
      p++;
      return { kind: 'bytes', value: tok.v, raw: tok.raw, at: tok.at };
    }
    if (tok.t === 'bits') {
      p++;
      return { kind: 'bits', text: tok.v, at: tok.at };
    }
    if (tok.t === 'number') {
      p++;
      return { kind: 'number', text: tok.v, at: tok.at };
    }
    if (isOp(tok, '-') || isOp(tok, '+')) {
      const num = tokens[p + 1] as Token;
      if (num.t !== 'number' || num.at !== tok.at + 1) return fail(tok, `a sign must be followed directly by a number`);
      p += 2;
      return { kind: 'number', text: (tok.v === '-' ? '-' : '') + num.v, at: tok.at };
    }
    return undefined;
  };

  /** A literal where only a literal may stand (IN lists, BETWEEN bounds, the right of a comparison). */
  const literal = (after: string): Literal => {
    const tok = peek();
    if (isWord(tok, 'NULL')) return fail(tok, `NULL cannot be compared (a comparison with NULL is never true); use IS NULL or IS NOT NULL`);
    if (isWord(tok, 'TRUE') || isWord(tok, 'FALSE')) {
      p++;
      return { kind: 'boolean', value: isWord(tok, 'TRUE'), at: tok.at };
    }
    const lit = literalToken();
    if (lit) return lit;
    if (tok.t === 'ident' || (tok.t === 'word' && !KEYWORDS.has(tok.v.toUpperCase()))) return fail(tok, `${after} compares with a column; a filter compares a column with literals only`);
    return fail(tok, `expected a literal (a 'string', a number, TRUE, FALSE, x'hex', b'bits') ${after}`);
  };

  const predicate = (): FilterSyntax => {
    const start = peek();
    const left = operand();
    if (!left) return fail(start, `expected a column name, a literal, NOT or '('`);
    if (left.kind === 'null') {
      return fail(start, `NULL cannot be compared (a comparison with NULL is never true); use column IS NULL`);
    }
    const tok = peek();
    if (left.kind !== 'column') {
      // literal op column: the same comparison, the other way round.
      if (tok.t === 'op' && COMPARE_OPS.has(tok.v)) {
        p++;
        const right = operand();
        if (!right) return fail(peek(), `expected a column after ${tok.v}`);
        if (right.kind === 'null') return fail(tok, `NULL cannot be compared (a comparison with NULL is never true); use IS NULL`);
        if (right.kind !== 'column') return fail(start, 'compares two literals; a filter compares a column with a literal');
        const op = (tok.v === '!=' ? '<>' : tok.v) as CompareOp;
        return { kind: 'compare', column: right, op: FLIPPED[op], value: left };
      }
      return fail(tok, `expected a comparison (=, <>, !=, <, <=, >, >=) after the literal`);
    }
    if (tok.t === 'op' && COMPARE_OPS.has(tok.v)) {
      p++;
      const value = literal(`after ${left.name} ${tok.v}`);
      return { kind: 'compare', column: left, op: (tok.v === '!=' ? '<>' : tok.v) as CompareOp, value };
    }
    if (isWord(tok, 'IS')) {
      p++;
      const negated = isWord(peek(), 'NOT');
      if (negated) p++;
      if (!isWord(peek(), 'NULL')) return fail(peek(), `expected NULL after IS${negated ? ' NOT' : ''} (IS tests for NULL only)`);
      p++;
      return { kind: 'is-null', column: left, negated };
    }
    let negated = false;
    if (isWord(tok, 'NOT')) {
      p++;
      negated = true;
      if (!isWord(peek(), 'IN') && !isWord(peek(), 'BETWEEN')) return fail(peek(), `expected IN or BETWEEN after ${left.name} NOT`);
    }
    if (isWord(peek(), 'IN')) {
      p++;
      if (!isOp(peek(), '(')) return fail(peek(), `expected '(' after IN`);
      p++;
      if (isOp(peek(), ')')) return fail(peek(), 'IN needs at least one value');
      const values: Literal[] = [literal(`in the IN list of ${left.name}`)];
      while (isOp(peek(), ',')) {
        p++;
        values.push(literal(`in the IN list of ${left.name}`));
      }
      if (!isOp(peek(), ')')) return fail(peek(), `expected ',' or ')' in the IN list`);
      p++;
      return { kind: 'in', column: left, values, negated };
    }
    if (isWord(peek(), 'BETWEEN')) {
      p++;
      const low = literal(`after ${left.name} BETWEEN`);
      if (!isWord(peek(), 'AND')) return fail(peek(), `expected AND between the two bounds of BETWEEN`);
      p++;
      const high = literal(`after ${left.name} BETWEEN … AND`);
      return { kind: 'between', column: left, low, high, negated };
    }
    return fail(peek(), `expected a comparison (=, <>, !=, <, <=, >, >=), [NOT] IN, [NOT] BETWEEN or IS [NOT] NULL after ${left.name}`);
  };

  const unary = (): FilterSyntax => {
    if (isWord(peek(), 'NOT')) {
      p++;
      return { kind: 'not', item: unary() };
    }
    if (isOp(peek(), '(')) {
      p++;
      const inner = disjunction();
      if (!isOp(peek(), ')')) return fail(peek(), `expected ')' or AND/OR`);
      p++;
      return inner;
    }
    return predicate();
  };

  const conjunction = (): FilterSyntax => {
    const items = [unary()];
    while (isWord(peek(), 'AND')) {
      p++;
      items.push(unary());
    }
    return items.length === 1 ? (items[0] as FilterSyntax) : { kind: 'and', items };
  };

  const disjunction = (): FilterSyntax => {
    const items = [conjunction()];
    while (isWord(peek(), 'OR')) {
      p++;
      items.push(conjunction());
    }
    return items.length === 1 ? (items[0] as FilterSyntax) : { kind: 'or', items };
  };

  if (peek().t === 'end') throw syntaxError(text, 0, 'the expression is empty');
  const tree = disjunction();
  if (peek().t !== 'end') return fail(peek(), 'expected AND, OR or the end of the expression');
  return tree;
}

// ---------------------------------------------------------------------------------------------
// Binding

function showLiteral(l: Literal): string {
  switch (l.kind) {
    case 'number':
      return l.text;
    case 'string':
      return `'${l.text.replace(/'/g, "''")}'`;
    case 'boolean':
      return l.value ? 'TRUE' : 'FALSE';
    case 'bytes':
      return l.raw;
    case 'bits':
      return `b'${l.text}'`;
  }
}

/** A predicate of the syntax, as it reads, for messages. */
export function showFilter(s: FilterSyntax): string {
  switch (s.kind) {
    case 'and':
    case 'or':
      return s.items.map((i) => (i.kind === 'and' || i.kind === 'or' ? `(${showFilter(i)})` : showFilter(i))).join(` ${s.kind.toUpperCase()} `);
    case 'not':
      return `NOT ${s.item.kind === 'and' || s.item.kind === 'or' ? `(${showFilter(s.item)})` : showFilter(s.item)}`;
    case 'compare':
      return `${s.column.name} ${s.op} ${showLiteral(s.value)}`;
    case 'in':
      return `${s.column.name} ${s.negated ? 'NOT ' : ''}IN (${s.values.map(showLiteral).join(', ')})`;
    case 'between':
      return `${s.column.name} ${s.negated ? 'NOT ' : ''}BETWEEN ${showLiteral(s.low)} AND ${showLiteral(s.high)}`;
    case 'is-null':
      return `${s.column.name} IS ${s.negated ? 'NOT ' : ''}NULL`;
  }
}

/** A literal's exact decimal value: sign and digits with the point placed; undefined when it is no number. */
function exactDecimal(text: string): { neg: boolean; int: string; frac: string } | undefined {
  const m = /^([+-])?(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(text.trim());
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) return undefined;
  const exp = Number(m[4] ?? 0);
  if (!Number.isSafeInteger(exp) || Math.abs(exp) > 1000) return undefined;
  const digits = (m[2] ?? '') + (m[3] ?? '');
  const point = (m[2] ?? '').length + exp;
  let int: string;
  let frac: string;
  if (point <= 0) [int, frac] = ['', '0'.repeat(-point) + digits];
  else if (point >= digits.length) [int, frac] = [digits + '0'.repeat(point - digits.length), ''];
  else [int, frac] = [digits.slice(0, point), digits.slice(point)];
  int = int.replace(/^0+/, '');
  frac = frac.replace(/0+$/, '');
  const neg = m[1] === '-' && (int !== '' || frac !== '');
  return { neg, int, frac };
}

const plainDecimal = (d: { neg: boolean; int: string; frac: string }) => `${d.neg ? '-' : ''}${d.int || '0'}${d.frac ? '.' + d.frac : ''}`;

/** Refusal of a literal, with what was wrong and the fix. */
class Refusal extends Error {}

function intRange(t: { bytes: number; signed: boolean }): [bigint, bigint] {
  const bits = BigInt(t.bytes * 8);
  return t.signed ? [-(1n << (bits - 1n)), (1n << (bits - 1n)) - 1n] : [0n, (1n << bits) - 1n];
}

const DATE_RE = /^(\d{4})-(\d\d)-(\d\d)$/;
const TIMESTAMP_RE = /^(\d{4})-(\d\d)-(\d\d)(?:[ T](\d\d):(\d\d)(?::(\d\d)(?:\.(\d+))?)?)?\s*(Z|[+-]\d\d(?::?\d\d)?)?$/i;
const TIME_RE = /^(-)?(\d{1,3}):(\d\d)(?::(\d\d)(?:\.(\d+))?)?$/;

function validDate(y: number, m: number, d: number): boolean {
  if (y < 1 || y > 9999 || m < 1 || m > 12 || d < 1) return false;
  const days = [31, y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1] as number;
  return d <= days;
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** Fraction digits beyond `fsp` that are not zeros cannot be compared exactly with the column's values. */
function fraction(frac: string, fsp: number, what: string): string {
  if (frac.replace(/0+$/, '').length > fsp) {
    throw new Refusal(`has more fraction digits than the column keeps (${fsp}): the column's values can never equal it; write at most ${fsp} fraction digit${fsp === 1 ? '' : 's'} in ${what}`);
  }
  return fsp === 0 ? '' : '.' + frac.padEnd(fsp, '0').slice(0, fsp);
}

/** One literal as the canonical value of a column of logical type `t`, or a Refusal. */
function convert(t: LogicalType, l: Literal): Value {
  const needString = (what: string): string => {
    if (l.kind !== 'string') throw new Refusal(`is not a quoted string; write the ${what} in quotes`);
    return l.text;
  };
  switch (t.kind) {
    case 'integer':
    case 'year': {
      let v: bigint;
      if (l.kind === 'boolean') v = l.value ? 1n : 0n;
      else if (l.kind === 'number' || l.kind === 'string') {
        const d = exactDecimal(l.text);
        if (!d) throw new Refusal('is not a number');
        if (d.frac !== '') throw new Refusal('has a fraction, which an integer column can never equal (and engines would compare it differently); compare with a whole number');
        v = BigInt(plainDecimal(d));
      } else throw new Refusal('is not a number');
      const [lo, hi] = t.kind === 'year' ? [0n, 2155n] : intRange(t);
      if (v < lo || v > hi) throw new Refusal(`is outside the column's range ${lo}..${hi}; compare with a value the column can hold`);
      return v;
    }
    case 'decimal': {
      if (l.kind !== 'number' && l.kind !== 'string') throw new Refusal('is not a number');
      if (l.kind === 'string' && t.precision === undefined && /^(NaN|Infinity|-Infinity)$/.test(l.text)) return l.text;
      const d = exactDecimal(l.text);
      if (!d) throw new Refusal(`is not a decimal number${t.precision === undefined ? " (nor 'NaN', 'Infinity', '-Infinity')" : ''}`);
      return plainDecimal(d);
    }
    case 'float': {
      if (l.kind !== 'number' && l.kind !== 'string') throw new Refusal('is not a number');
      if (!exactDecimal(l.text)) throw new Refusal('is not a finite number');
      const v = Number(l.text);
      if (!Number.isFinite(v)) throw new Refusal('is beyond the range of a double');
      return v;
    }
    case 'boolean':
      if (l.kind === 'boolean') return l.value;
      if (l.kind === 'number' && (l.text === '0' || l.text === '1')) return l.text === '1';
      throw new Refusal('is not TRUE or FALSE');
    case 'text':
    case 'enum':
    case 'set':
    case 'inet': {
      const s = needString('text');
      if (s.includes('\0')) throw new Refusal('holds a NUL character, which no text column holds');
      return s;
    }
    case 'uuid': {
      const s = needString('UUID');
      if (!/^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i.test(s)) throw new Refusal("is not a UUID ('xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx')");
      const h = s.replace(/-/g, '').toLowerCase();
      return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
    }
    case 'binary':
      if (l.kind === 'bytes') return l.value;
      if (l.kind === 'string') return Buffer.from(l.text, 'utf8');
      throw new Refusal("is not a byte string; write x'hex', 0xhex or a 'string' (its UTF-8 bytes)");
    case 'date': {
      const s = needString("date ('YYYY-MM-DD')");
      const m = DATE_RE.exec(s.trim());
      if (!m || !validDate(Number(m[1]), Number(m[2]), Number(m[3]))) throw new Refusal("is not a date 'YYYY-MM-DD' of the years 0001–9999");
      return `${m[1]}-${m[2]}-${m[3]}`;
    }
    case 'timestamp': {
      // Bound as 'YYYY-MM-DD HH:MM:SS' with the column's fraction digits, in UTC for a zone-aware
      // column, without a zone suffix: MySQL's canonical form. PostgreSQL prints timestamptz with
      // '+00' and trims fraction zeros, so its values are compared by time (compareTemporal),
      // never as text, and its filter.ts appends the zone when it renders the literal.
      const s = needString("timestamp ('YYYY-MM-DD HH:MM:SS[.ffffff]')");
      const m = TIMESTAMP_RE.exec(s.trim());
      if (!m || !validDate(Number(m[1]), Number(m[2]), Number(m[3]))) throw new Refusal("is not a timestamp 'YYYY-MM-DD[ HH:MM[:SS[.ffffff]]][+HH:MM|Z]' of the years 0001–9999");
      let [y, mo, d, h, mi, se] = [Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4] ?? 0), Number(m[5] ?? 0), Number(m[6] ?? 0)];
      if (h > 23 || mi > 59 || se > 59) throw new Refusal('has a time of day out of range');
      const frac = fraction(m[7] ?? '', t.fsp, 'the timestamp');
      const zone = m[8];
      if (zone && !t.zone) throw new Refusal('carries a time zone, but the column holds times without one; leave the zone out');
      if (zone && zone.toUpperCase() !== 'Z') {
        const z = /^([+-])(\d\d):?(\d\d)?$/.exec(zone) as RegExpExecArray;
        const off = (Number(z[2]) * 3600 + Number(z[3] ?? 0) * 60) * (z[1] === '-' ? -1 : 1);
        [y, mo, d, h, mi, se] = addSeconds(y, mo, d, h, mi, se, -off);
        if (y < 1 || y > 9999) throw new Refusal('is outside the years 0001–9999 in UTC');
      }
      return `${pad(y, 4)}-${pad(mo)}-${pad(d)} ${pad(h)}:${pad(mi)}:${pad(se)}${frac}`;
    }
    case 'time': {
      const s = needString("time ('HH:MM:SS[.ffffff]')");
      const m = TIME_RE.exec(s.trim());
      if (!m) throw new Refusal("is not a time '[-]HH:MM[:SS[.ffffff]]'");
      const [h, mi, se] = [Number(m[2]), Number(m[3]), Number(m[4] ?? 0)];
      if (mi > 59 || se > 59) throw new Refusal('has minutes or seconds out of range');
      const frac = fraction(m[5] ?? '', t.fsp, 'the time');
      const neg = m[1] === '-' && (h !== 0 || mi !== 0 || se !== 0 || /[1-9]/.test(frac));
      const micros = ((h * 60 + mi) * 60 + se) * 1e6 + Number((frac.slice(1) || '0').padEnd(6, '0').slice(0, 6));
      const max = t.range === 'day' ? 86_400e6 : (838 * 3600 + 59 * 60 + 59) * 1e6;
      if (micros > max || (neg && t.range === 'day')) throw new Refusal(`is outside the column's range (${t.range === 'day' ? "'00:00:00'..'24:00:00'" : "'-838:59:59'..'838:59:59'"})`);
      return `${neg ? '-' : ''}${pad(h)}:${pad(mi)}:${pad(se)}${frac}`;
    }
    case 'bit': {
      let bits: string;
      if (l.kind === 'bits') bits = l.text;
      else if (l.kind === 'string' && /^[01]*$/.test(l.text)) bits = l.text;
      else if (l.kind === 'number') {
        if (t.varying) throw new Refusal("is a number, but the column holds bit strings of varying length; write the bits, b'0101'");
        const d = exactDecimal(l.text);
        if (!d || d.frac !== '' || d.neg) throw new Refusal('is not a whole number ≥ 0');
        bits = BigInt(plainDecimal(d)).toString(2);
      } else if (l.kind === 'bytes' && !t.varying) bits = [...l.value].map((b) => b.toString(2).padStart(8, '0')).join('');
      else throw new Refusal("is not a bit string; write b'0101'" + (t.varying ? '' : ' or a whole number'));
      if (t.varying) {
        if (t.length !== undefined && bits.length > t.length) throw new Refusal(`has more than the column's ${t.length} bits`);
        return bits;
      }
      const v = bits === '' ? 0n : BigInt('0b' + bits);
      const width = t.length ?? 1;
      if (v >= 1n << BigInt(width)) throw new Refusal(`does not fit the column's ${width} bits`);
      return v;
    }
    case 'interval':
    case 'json':
    case 'array':
    case 'spatial':
    case 'other':
      throw new Refusal('');
  }
}

const WHAT: Partial<Record<LogicalType['kind'], string>> = {
  interval: 'an interval',
  json: 'JSON',
  array: 'an array',
  spatial: 'a geometry',
  other: 'a type without an exact comparison here',
};

function resolveColumn(ref: ColumnRef, table: TableSchema, label: string): Column {
  const exact = table.columns.find((c) => c.name === ref.name);
  if (exact) return exact;
  const folded = table.columns.filter((c) => c.name.toLowerCase() === ref.name.toLowerCase());
  if (folded.length === 1) return folded[0] as Column;
  const names = table.columns.map((c) => c.name).join(', ');
  if (folded.length > 1) {
    throw new TributaryError(ErrorCode.CONFIG_INVALID, `row filter on ${label}: column ${ref.name} matches ${folded.map((c) => c.name).join(' and ')} but for case; name one exactly, in double quotes`);
  }
  const generated = table.generated.find((g) => g.toLowerCase() === ref.name.toLowerCase());
  if (generated) {
    throw new TributaryError(ErrorCode.CONFIG_INVALID, `row filter on ${label}: column ${ref.name} is a generated column, which the stream's row images do not carry; filter on the columns it is computed from (${names})`);
  }
  throw new TributaryError(ErrorCode.CONFIG_INVALID, `row filter on ${label}: table ${table.name} has no column ${ref.name}; its columns are ${names}`);
}

/**
 * Resolves the syntax's columns in `table` (exactly, else ignoring case as MySQL does) and makes
 * each literal the canonical value of its column's logical type, refusing what cannot be compared
 * exactly. `tableLabel` names the table in messages ('orders', 'db.orders'). Throws CONFIG_INVALID
 * naming the table, the predicate, the value and the fix.
 */
export function bindFilter(syntax: FilterSyntax, table: TableSchema, tableLabel: string): RowFilter {
  const bind = (s: FilterSyntax): RowFilter => {
    switch (s.kind) {
      case 'and':
      case 'or':
        return { kind: s.kind, items: s.items.map(bind) };
      case 'not':
        return { kind: 'not', item: bind(s.item) };
      case 'is-null': {
        const col = resolveColumn(s.column, table, tableLabel);
        const f: RowFilter = { kind: 'is-null', column: col.name };
        return s.negated ? { kind: 'not', item: f } : f;
      }
      default:
        break;
    }
    const col = resolveColumn(s.column, table, tableLabel);
    const t = col.logical;
    if (!t) {
      throw new TributaryError(ErrorCode.INTERNAL, `row filter on ${tableLabel}: column ${col.name} (${col.columnType}) has no logical type; the session fills it before filters are bound`);
    }
    const value = (l: Literal): Value => {
      try {
        return convert(t, l);
      } catch (err) {
        if (!(err instanceof Refusal)) throw err;
        if (err.message === '') {
          throw new TributaryError(
            ErrorCode.CONFIG_INVALID,
            `row filter on ${tableLabel}: ${showFilter(s)}: column ${col.name} (${col.columnType}) holds ${WHAT[t.kind] ?? t.kind}, which a filter cannot compare exactly; only ${col.name} IS [NOT] NULL is allowed on it`,
          );
        }
        throw new TributaryError(ErrorCode.CONFIG_INVALID, `row filter on ${tableLabel}: ${showFilter(s)}: ${showLiteral(l)} for column ${col.name} (${col.columnType}) ${err.message}`);
      }
    };
    let f: RowFilter;
    if (s.kind === 'compare') f = { kind: 'compare', column: col.name, op: s.op, value: value(s.value) };
    else if (s.kind === 'in') f = { kind: 'in', column: col.name, values: s.values.map(value) };
    else f = { kind: 'between', column: col.name, low: value(s.low), high: value(s.high) };
    return s.kind !== 'compare' && s.negated ? { kind: 'not', item: f } : f;
  };
  return bind(syntax);
}

// ---------------------------------------------------------------------------------------------
// Evaluation

/** Compares two non-null canonical values of one column: <0, 0, >0. */
export type Comparator = (a: Value, b: Value) => number;

/** Strings by their UTF-8 bytes (= code point order), without encoding them. */
export function compareUtf8(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x !== y) {
      // UTF-16 order differs from code point order only where a surrogate (a code point above
      // U+FFFF) meets U+E000–U+FFFF: move surrogates above them.
      if (x >= 0xd800 && y >= 0xd800) {
        x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
        y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
      }
      return x < y ? -1 : 1;
    }
  }
  return a.length < b.length ? -1 : a.length > b.length ? 1 : 0;
}

/** Rank of PostgreSQL's special numbers: -Infinity < finite < Infinity < NaN (NaN equals NaN, as PostgreSQL orders them). */
function specialRank(s: string): number {
  const c = s.charCodeAt(0);
  if (c === 78 /* N */) return 3;
  if (c === 73 /* I */) return 2;
  if (c === 45 /* - */ && s.charCodeAt(1) === 73) return 0;
  return 1;
}

/** Exact decimals as numbers, from their text (no float): '-1.50' = '-1.5', '0' = '-0.00'. */
export function compareDecimal(a: string, b: string): number {
  const ra = specialRank(a);
  const rb = specialRank(b);
  if (ra !== 1 || rb !== 1) return ra - rb;
  const na = a.charCodeAt(0) === 45;
  const nb = b.charCodeAt(0) === 45;
  const za = isZero(a);
  const zb = isZero(b);
  const sa = za ? 0 : na ? -1 : 1;
  const sb = zb ? 0 : nb ? -1 : 1;
  if (sa !== sb) return sa - sb;
  if (sa === 0) return 0;
  const m = magnitude(a, b);
  return sa < 0 ? -m : m;
}

function isZero(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 49 && c <= 57) return false;
  }
  return true;
}

/** |a| against |b|, both plain decimals with an optional sign. */
function magnitude(a: string, b: string): number {
  let ia = a.charCodeAt(0) === 45 || a.charCodeAt(0) === 43 ? 1 : 0;
  let ib = b.charCodeAt(0) === 45 || b.charCodeAt(0) === 43 ? 1 : 0;
  while (a.charCodeAt(ia) === 48) ia++;
  while (b.charCodeAt(ib) === 48) ib++;
  let pa = a.indexOf('.', ia);
  let pb = b.indexOf('.', ib);
  if (pa < 0) pa = a.length;
  if (pb < 0) pb = b.length;
  const la = pa - ia;
  const lb = pb - ib;
  if (la !== lb) return la < lb ? -1 : 1;
  for (let k = 0; k < la; k++) {
    const x = a.charCodeAt(ia + k);
    const y = b.charCodeAt(ib + k);
    if (x !== y) return x < y ? -1 : 1;
  }
  const fa = a.length - pa - 1;
  const fb = b.length - pb - 1;
  const n = Math.max(fa, fb);
  for (let k = 0; k < n; k++) {
    const x = k < fa ? a.charCodeAt(pa + 1 + k) : 48;
    const y = k < fb ? b.charCodeAt(pb + 1 + k) : 48;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/** Floats with PostgreSQL's order (NaN above every number and equal to itself; −0 = 0), which MySQL's values (no NaN) follow too. */
function compareFloat(a: number, b: number): number {
  if (a < b) return -1;
  if (a > b) return 1;
  if (a === b) return 0;
  return Number.isNaN(a) ? (Number.isNaN(b) ? 0 : 1) : -1;
}

// Scratch results of parseTemporal (no allocation per value).
let tDay = 0;
let tMicros = 0;

function digitsAt(s: string, from: number, to: number): number {
  let v = 0;
  for (let i = from; i < to; i++) v = v * 10 + (s.charCodeAt(i) - 48);
  return v;
}

/**
 * A canonical date, timestamp or time-of-day text as (day ordinal, microseconds) in tDay/tMicros.
 * Dates order by (year, month, day) lexicographically, so MySQL's zero dates ('0000-00-00') sort
 * first, as MySQL sorts them; BC years and 'infinity' as PostgreSQL orders them. A non-zero zone
 * offset (canonical values are UTC, so only a hand-built value has one) is applied.
 */
function parseTemporal(s: string): void {
  if (s === 'infinity') {
    tDay = Infinity;
    tMicros = 0;
    return;
  }
  if (s === '-infinity') {
    tDay = -Infinity;
    tMicros = 0;
    return;
  }
  let i = 0;
  while (i < s.length && s.charCodeAt(i) !== 45) i++;
  let y = digitsAt(s, 0, i);
  const mo = digitsAt(s, i + 1, i + 3);
  const d = digitsAt(s, i + 4, i + 6);
  i += 6;
  let h = 0;
  let mi = 0;
  let se = 0;
  let frac = 0;
  if (i < s.length && s.charCodeAt(i) === 32 && s.charCodeAt(i + 3) === 58) {
    h = digitsAt(s, i + 1, i + 3);
    mi = digitsAt(s, i + 4, i + 6);
    se = digitsAt(s, i + 7, i + 9);
    i += 9;
    if (s.charCodeAt(i) === 46) {
      let k = i + 1;
      let scale = 100000;
      while (k < s.length && s.charCodeAt(k) >= 48 && s.charCodeAt(k) <= 57) {
        frac += (s.charCodeAt(k) - 48) * scale;
        scale /= 10;
        k++;
      }
      frac = Math.round(frac);
      i = k;
    }
  }
  let offset = 0;
  const z = s.charCodeAt(i);
  if (z === 43 || z === 45) {
    // ±HH[:MM[:SS]]
    const sign = z === 45 ? -1 : 1;
    const oh = digitsAt(s, i + 1, i + 3);
    let k = i + 3;
    let om = 0;
    if (s.charCodeAt(k) === 58) {
      om = digitsAt(s, k + 1, k + 3);
      k += 3;
    }
    if (s.charCodeAt(k) === 58) om += digitsAt(s, k + 1, k + 3) / 60;
    offset = sign * (oh * 3600 + om * 60);
  }
  if (s.endsWith(' BC')) y = 1 - y;
  if (offset !== 0) {
    const [yy, mm, dd, hh, nn, ss] = addSeconds(y, mo, d, h, mi, se, -offset);
    tDay = yy * 512 + mm * 32 + dd;
    tMicros = ((hh * 60 + nn) * 60 + ss) * 1e6 + frac;
    return;
  }
  tDay = y * 512 + mo * 32 + d;
  tMicros = ((h * 60 + mi) * 60 + se) * 1e6 + frac;
}

function compareTemporal(a: string, b: string): number {
  if (a === b) return 0;
  parseTemporal(a);
  const da = tDay;
  const ma = tMicros;
  parseTemporal(b);
  if (da !== tDay) return da < tDay ? -1 : 1;
  return ma < tMicros ? -1 : ma > tMicros ? 1 : 0;
}

/** A time of day or MySQL duration ('-838:59:59.000000', '12:00:00.5') in microseconds. */
function timeMicros(s: string): number {
  const neg = s.charCodeAt(0) === 45;
  let i = neg ? 1 : 0;
  let c = i;
  while (c < s.length && s.charCodeAt(c) !== 58) c++;
  const h = digitsAt(s, i, c);
  const mi = digitsAt(s, c + 1, c + 3);
  const se = digitsAt(s, c + 4, c + 6);
  i = c + 6;
  let frac = 0;
  if (s.charCodeAt(i) === 46) {
    let scale = 100000;
    for (let k = i + 1; k < s.length && s.charCodeAt(k) >= 48 && s.charCodeAt(k) <= 57; k++) {
      frac += (s.charCodeAt(k) - 48) * scale;
      scale /= 10;
    }
  }
  const v = ((h * 60 + mi) * 60 + se) * 1e6 + Math.round(frac);
  return neg ? -v : v;
}

const cmp = <T extends bigint | number | boolean>(a: T, b: T): number => (a < b ? -1 : a > b ? 1 : 0);

/** A bit value: MySQL BIT as bigint, PostgreSQL bit/varbit as '0'/'1' text. */
function compareBits(a: Value, b: Value): number {
  if (typeof a === 'string' && typeof b === 'string') return compareUtf8(a, b);
  const x = typeof a === 'bigint' ? a : BigInt('0b0' + String(a));
  const y = typeof b === 'bigint' ? b : BigInt('0b0' + String(b));
  return cmp(x, y);
}

/** How two non-null canonical values of a column compare, by its logical type (as the engines' SQL does). */
export function comparatorFor(col: Column): Comparator {
  const t = col.logical;
  switch (t?.kind) {
    case 'integer':
    case 'year':
      return (a, b) => cmp(a as bigint, b as bigint);
    case 'decimal':
      return (a, b) => compareDecimal(a as string, b as string);
    case 'float':
      return (a, b) => compareFloat(a as number, b as number);
    case 'boolean':
      return (a, b) => cmp(a as boolean, b as boolean);
    case 'binary':
      return (a, b) => Buffer.compare(a as Buffer, b as Buffer);
    case 'date':
    case 'timestamp':
      return (a, b) => compareTemporal(a as string, b as string);
    case 'time':
      return (a, b) => (a === b ? 0 : compareFloat(timeMicros(a as string), timeMicros(b as string)));
    case 'bit':
      return compareBits;
    case 'text':
    case 'enum':
    case 'set':
    case 'uuid':
    case 'inet':
      return (a, b) => compareUtf8(a as string, b as string);
    default:
      throw new TributaryError(ErrorCode.INTERNAL, `row filter: column ${col.name} (${col.columnType}) has no exact comparison (logical type ${t?.kind ?? 'missing'}); bindFilter refuses it`);
  }
}

/** A row filter over rows aligned with a table's columns: TRUE, FALSE or NULL (unknown). */
export type CompiledFilter = (row: Row) => boolean | null;

/**
 * `filter` compiled for rows of `table` (aligned with `table.columns`): column indexes and
 * comparators are resolved once, so each call allocates nothing (but for a `predicate`, whose
 * `matches` gets a fresh name → value record). SQL's three-valued logic: a comparison with NULL is
 * NULL, NOT NULL is NULL, AND is FALSE when any item is, OR TRUE when any item is.
 */
export function compileFilter(filter: RowFilter, table: TableSchema): CompiledFilter {
  const index = (name: string): number => {
    const i = table.columns.findIndex((c) => c.name === name);
    if (i < 0) throw new TributaryError(ErrorCode.INTERNAL, `row filter names column ${name}, which table ${table.name} does not have (columns: ${table.columns.map((c) => c.name).join(', ')})`);
    return i;
  };
  const compile = (f: RowFilter): CompiledFilter => {
    switch (f.kind) {
      case 'and': {
        const items = f.items.map(compile);
        return (row) => {
          let unknown = false;
          for (const item of items) {
            const v = item(row);
            if (v === false) return false;
            if (v === null) unknown = true;
          }
          return unknown ? null : true;
        };
      }
      case 'or': {
        const items = f.items.map(compile);
        return (row) => {
          let unknown = false;
          for (const item of items) {
            const v = item(row);
            if (v === true) return true;
            if (v === null) unknown = true;
          }
          return unknown ? null : false;
        };
      }
      case 'not': {
        const item = compile(f.item);
        return (row) => {
          const v = item(row);
          return v === null ? null : !v;
        };
      }
      case 'is-null': {
        const i = index(f.column);
        return (row) => (row[i] ?? null) === null;
      }
      case 'compare': {
        const i = index(f.column);
        const c = comparatorFor(table.columns[i] as Column);
        const value = f.value;
        const test = {
          '=': (x: number) => x === 0,
          '<>': (x: number) => x !== 0,
          '<': (x: number) => x < 0,
          '<=': (x: number) => x <= 0,
          '>': (x: number) => x > 0,
          '>=': (x: number) => x >= 0,
        }[f.op];
        return (row) => {
          const v = row[i] ?? null;
          return v === null ? null : test(c(v, value));
        };
      }
      case 'in': {
        const i = index(f.column);
        const c = comparatorFor(table.columns[i] as Column);
        const values = f.values;
        return (row) => {
          const v = row[i] ?? null;
          if (v === null) return null;
          for (const x of values) if (c(v, x) === 0) return true;
          return false;
        };
      }
      case 'between': {
        const i = index(f.column);
        const c = comparatorFor(table.columns[i] as Column);
        const { low, high } = f;
        return (row) => {
          const v = row[i] ?? null;
          return v === null ? null : c(v, low) >= 0 && c(v, high) <= 0;
        };
      }
      case 'predicate': {
        const names = table.columns.map((col) => col.name);
        const matches = f.matches;
        return (row) => {
          const rec: Record<string, Value> = {};
          for (let k = 0; k < names.length; k++) rec[names[k] as string] = row[k] ?? null;
          return matches(rec);
        };
      }
    }
  };
  return compile(filter);
}

/** `filter` on one row image aligned with `table.columns` (compileFilter, once): TRUE, FALSE or NULL. */
export function evaluateFilter(filter: RowFilter, table: TableSchema, row: Row): boolean | null {
  return compileFilter(filter, table)(row);
}
