/**
 * Generates the tables of docs/type-mapping.md from the code that decides them (issue 11): each
 * engine's toLogical (native → logical), fromLogical (logical → native) and, through both, the
 * cross-engine maps, over the type corpus of the tests (tests/helpers/types-corpus.ts: columns as
 * real servers describe them, plus the few the unit tests write by hand).
 *
 *   npm run docs:types                 rewrites the generated blocks of docs/type-mapping.md
 *   npm run docs:types -- --check      exits 1, naming the blocks, when the doc differs
 *
 * A block is everything between `<!-- generated: NAME … -->` and `<!-- end generated -->`; the
 * prose around the blocks is hand-written and left alone. tests/unit/type-mapping-doc.test.ts
 * fails when a block differs from what this renders.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { LogicalType } from '../src/core/logical.js';
import type { Column, TableSchema } from '../src/core/schema.js';
import { fromLogical as mysqlFromLogical, mapLogicalTable, toLogical as mysqlToLogical, type MysqlFlavour } from '../src/engines/mysql/types.js';
import { fromLogical as postgresFromLogical, toLogical as postgresToLogical, type FromLogicalOptions as PostgresOptions } from '../src/engines/postgres/types.js';
import { corpusTables, type CorpusTable } from '../tests/helpers/types-corpus.js';
import { describeLogical, kindOrder } from './describe-logical.js';

export const DOC = resolve(import.meta.dirname, '..', 'docs', 'type-mapping.md');
export const REGENERATE = 'npm run docs:types (node --import tsx scripts/type-mapping.ts)';

// ---------------------------------------------------------------------------------------------
// Markdown

/** A code span, with `|` escaped for a table cell. */
function code(s: string): string {
  const ticks = s.includes('`');
  const body = s.replace(/\|/g, '\\|');
  return ticks ? `\`\` ${body} \`\`` : `\`${body}\``;
}

/** Plain text in a table cell. */
function cell(s: string): string {
  return s.replace(/\|/g, '\\|');
}

function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n') + '\n';
}

const natural = new Intl.Collator('en', { numeric: true });

// ---------------------------------------------------------------------------------------------
// The corpus: one row per distinct native declaration

interface NativeRow {
  readonly native: string;
  readonly logical: LogicalType;
  readonly words: string;
  /** Where the corpus has it: the server whose describe gave it, or a unit test's hand-written column. */
  readonly from: string;
  readonly table: TableSchema;
  readonly column: Column;
}

/** A MySQL column's declaration: COLUMN_TYPE, with the SRID and MariaDB's JSON check it does not show. */
function mysqlNative(c: Column, logical: LogicalType): string {
  let s = code(c.columnType);
  if (c.srid !== undefined && c.srid > 0) s += ` SRID ${c.srid}`;
  if (c.dataType === 'longtext' && logical.kind === 'json') s += ` with ${code('CHECK (json_valid(col))')}`;
  return s;
}

/** The servers tests/fixtures/capture-types-corpus.ts captures from. */
const SERVER = { mysql: 'MariaDB', postgres: 'PostgreSQL' } as const;

function rowsOf(engine: 'mysql' | 'postgres'): NativeRow[] {
  const rows = new Map<string, NativeRow>();
  const tables: CorpusTable[] = corpusTables().filter((ct) => ct.table.engine === engine);
  for (const ct of tables) {
    for (const column of ct.table.columns) {
      const logical = engine === 'mysql' ? mysqlToLogical(column, ct.table) : postgresToLogical(column);
      const native = engine === 'mysql' ? mysqlNative(column, logical) : code(column.columnType);
      const words = describeLogical(logical);
      const key = `${native}\n${words}`;
      const from = ct.origin === 'server' ? SERVER[engine] : 'unit test';
      const seen = rows.get(key);
      if (!seen || (seen.from === 'unit test' && from !== 'unit test')) rows.set(key, { native, logical, words, from, table: ct.table, column });
    }
  }
  return [...rows.values()].sort(
    (a, b) => kindOrder(a.logical.kind) - kindOrder(b.logical.kind) || natural.compare(a.words, b.words) || natural.compare(a.native, b.native),
  );
}

function nativeToLogical(engine: 'mysql' | 'postgres'): string {
  const head = [engine === 'mysql' ? 'MySQL / MariaDB' : 'PostgreSQL', 'logical', 'described by'];
  return table(head, rowsOf(engine).map((r) => [r.native, cell(r.words), r.from]));
}

// ---------------------------------------------------------------------------------------------
// Logical → native: each kind and the variants that change an engine's answer

export interface Variant {
  readonly logical: LogicalType;
  /** How the source engine declared it, for a refusal's words (default: the logical words). */
  readonly declared?: string;
  /** mapLogicalTable's enumLabels: labels of user enum types read apart from the columns. */
  readonly enumLabels?: ReadonlyMap<string, readonly string[]>;
  readonly note?: string;
}

const int = (bytes: 1 | 2 | 3 | 4 | 8, signed: boolean): Variant => ({ logical: { kind: 'integer', bytes, signed } });

export const VARIANTS: readonly Variant[] = [
  ...([1, 2, 3, 4, 8] as const).flatMap((b) => [int(b, true), int(b, false)]),
  { logical: { kind: 'decimal', precision: 10, scale: 2 } },
  { logical: { kind: 'decimal', precision: 65, scale: 30 } },
  { logical: { kind: 'decimal', precision: 3, scale: -2 }, note: 'negative scale' },
  { logical: { kind: 'decimal', precision: 2, scale: 5 }, note: 'scale above precision' },
  { logical: { kind: 'decimal', precision: 70, scale: 2 }, declared: 'numeric(70,2)' },
  { logical: { kind: 'decimal', precision: 40, scale: 31 }, declared: 'numeric(40,31)' },
  { logical: { kind: 'decimal' } },
  { logical: { kind: 'float', bits: 32 } },
  { logical: { kind: 'float', bits: 64 } },
  { logical: { kind: 'boolean' } },
  { logical: { kind: 'text', length: 10, fixed: true } },
  { logical: { kind: 'text', length: 300, fixed: true } },
  { logical: { kind: 'text', length: 20, fixed: false } },
  { logical: { kind: 'text', fixed: false } },
  { logical: { kind: 'binary', length: 4, fixed: true } },
  { logical: { kind: 'binary', length: 300, fixed: true } },
  { logical: { kind: 'binary', length: 16, fixed: false } },
  { logical: { kind: 'binary', fixed: false } },
  { logical: { kind: 'date' } },
  { logical: { kind: 'year' } },
  { logical: { kind: 'time', fsp: 0, range: 'hours838' } },
  { logical: { kind: 'time', fsp: 3, range: 'day' } },
  { logical: { kind: 'timestamp', zone: false, fsp: 0 } },
  { logical: { kind: 'timestamp', zone: true, fsp: 6 } },
  { logical: { kind: 'interval' } },
  { logical: { kind: 'json', binary: false } },
  { logical: { kind: 'json', binary: true } },
  { logical: { kind: 'uuid' } },
  { logical: { kind: 'inet', version: 4 } },
  { logical: { kind: 'inet', version: 6 } },
  { logical: { kind: 'enum', labels: ['a', 'b,c', "it's"] } },
  { logical: { kind: 'enum', labels: ['sad', 'happy'], typeName: 'mood' } },
  { logical: { kind: 'enum', labels: ['a ', 'b'], typeName: 'trail' }, note: 'a label with a trailing space' },
  { logical: { kind: 'enum', labels: ['x'.repeat(256), 'y'], typeName: 'longl' }, note: 'a label over 255 characters' },
  { logical: { kind: 'set', labels: ['x', 'y', 'z'] } },
  { logical: { kind: 'bit', length: 10, varying: false } },
  { logical: { kind: 'bit', length: 65, varying: false } },
  { logical: { kind: 'bit', length: 10, varying: true } },
  { logical: { kind: 'bit', varying: true } },
  { logical: { kind: 'array', of: { kind: 'integer', bytes: 4, signed: true } } },
  { logical: { kind: 'array', of: { kind: 'text', fixed: false } } },
  { logical: { kind: 'array', of: { kind: 'enum', labels: ['sad', 'happy'], typeName: 'mood' } } },
  { logical: { kind: 'array', of: { kind: 'enum', labels: ['a', 'b'] } } },
  ...['point', 'linestring', 'polygon', 'multipoint', 'multilinestring', 'multipolygon'].map((subtype): Variant => ({ logical: { kind: 'spatial', subtype } })),
  { logical: { kind: 'spatial', subtype: 'point', srid: 4326 } },
  { logical: { kind: 'spatial', subtype: 'geometry' } },
  { logical: { kind: 'spatial', subtype: 'geometry', srid: 3857 } },
  { logical: { kind: 'spatial', subtype: 'geometrycollection' } },
  { logical: { kind: 'spatial', subtype: 'point', srid: 4326, ewkb: true }, declared: 'geometry(Point,4326)' },
  { logical: { kind: 'other', native: 'citext', typeName: 'citext', text: { fixed: false, ascii: false, elastic: true } } },
  { logical: { kind: 'other', native: 'inet', typeName: 'inet', text: { length: 50, fixed: false, ascii: true, elastic: false } } },
  { logical: { kind: 'other', native: 'macaddr', typeName: 'macaddr', text: { length: 17, fixed: true, ascii: true, elastic: false } } },
  { logical: { kind: 'other', native: 'mood', typeName: 'mood', text: { length: 63, fixed: false, ascii: false, elastic: true } }, note: 'a user type' },
  {
    logical: { kind: 'other', native: 'mood', typeName: 'mood', text: { length: 63, fixed: false, ascii: false, elastic: true } },
    enumLabels: new Map([['mood', ['sad', 'happy']]]),
    note: "a user type whose labels the source read by name: ('sad', 'happy')",
  },
  { logical: { kind: 'other', native: 'int4range', typeName: 'int4range', text: { fixed: false, ascii: false, elastic: false, form: '[lower,upper)' } } },
  { logical: { kind: 'other', native: 'point', typeName: 'point', what: 'a geometric type' } },
  { logical: { kind: 'other', native: 'vector(3)' } },
];

function variantWords(v: Variant): string {
  return cell(describeLogical(v.logical) + (v.note !== undefined ? ` (${v.note})` : ''));
}

/** The MySQL answer for a logical type: the type, or 'refused' and why. */
export function mysqlAnswer(logical: LogicalType, flavour: MysqlFlavour, declared: string, enumLabels?: ReadonlyMap<string, readonly string[]>): { type: string; refusal?: string } {
  const t = mysqlFromLogical(logical, { flavour, ...(enumLabels ? { enumLabels } : {}) }, { name: 'col', declared });
  if (t.refusal) return { type: 'refused', refusal: `${t.refusal.reason} (override, e.g. ${code(t.refusal.example)})` };
  return { type: code(t.sql) };
}

/** The PostgreSQL answer for a logical type under the target's options: the type, or 'refused'. */
export function postgresAnswer(logical: LogicalType, opts: PostgresOptions): { type: string; nullable: boolean } {
  const t = postgresFromLogical(logical, opts);
  if (!t) return { type: 'refused: no PostgreSQL type', nullable: false };
  return { type: code(t.sql + (t.check ? ` CHECK (${t.check('col')})` : '')), nullable: t.forceNullable };
}

const PLAIN: PostgresOptions = { zeroDates: 'error' };
const POSTGIS: PostgresOptions = { zeroDates: 'error', postgis: 'public' };
const ZERO_NULL: PostgresOptions = { zeroDates: 'null' };

/** The PostgreSQL columns: the type, the type with PostGIS where it differs, and whether `--zero-dates null` makes it nullable. */
function postgresCells(logical: LogicalType): string[] {
  const plain = postgresAnswer(logical, PLAIN);
  const gis = postgresAnswer(logical, POSTGIS);
  return [plain.type, gis.type === plain.type ? '' : gis.type, postgresAnswer(logical, ZERO_NULL).nullable ? 'nullable' : ''];
}

/** The MySQL columns: MariaDB's type, MySQL 8's where it differs, and the refusal. */
function mysqlCells(a: { type: string; refusal?: string }, b: { type: string; refusal?: string }): string[] {
  return [a.type, b.type === a.type ? '' : b.type, cell(a.refusal ?? b.refusal ?? '')];
}

function logicalToMysql(): string {
  return table(
    ['logical', 'MariaDB', 'MySQL 8 (where it differs)', 'refused because'],
    VARIANTS.map((v) => {
      const declared = v.declared ?? (v.logical.kind === 'other' ? v.logical.native : describeLogical(v.logical));
      return [variantWords(v), ...mysqlCells(mysqlAnswer(v.logical, 'mariadb', declared, v.enumLabels), mysqlAnswer(v.logical, 'mysql', declared, v.enumLabels))];
    }),
  );
}

function logicalToPostgres(): string {
  return table(
    ['logical', 'PostgreSQL', 'with PostGIS (where it differs)', '`--zero-dates null`'],
    VARIANTS.filter((v) => !v.enumLabels).map((v) => [variantWords(v), ...postgresCells(v.logical)]),
  );
}

// ---------------------------------------------------------------------------------------------
// Across engines: native → logical → native, over the corpus

function mysqlToPostgres(): string {
  return table(
    ['MySQL / MariaDB', 'logical', 'PostgreSQL', 'with PostGIS (where it differs)', '`--zero-dates null`'],
    rowsOf('mysql').map((r) => [r.native, cell(r.words), ...postgresCells(r.logical)]),
  );
}

/** A PostgreSQL column mapped alone (no key, so no key sizing) by mapLogicalTable, as a sync of a table with it would. */
function mysqlOfPostgres(r: NativeRow, flavour: MysqlFlavour): { type: string; refusal?: string } {
  const column: Column = { ...r.column, name: 'col', logical: r.logical };
  const m = mapLogicalTable({ ...r.table, name: 't', columns: [column], primaryKey: [], uniqueKeys: [] }, { flavour });
  const problem = m.problems[0];
  if (problem) return { type: 'refused', refusal: problem.reason };
  return { type: code((m.columns[0] as { sql: string }).sql) };
}

function postgresToMysql(): string {
  return table(
    ['PostgreSQL', 'logical', 'MariaDB', 'MySQL 8 (where it differs)', 'refused because'],
    rowsOf('postgres').map((r) => [r.native, cell(r.words), ...mysqlCells(mysqlOfPostgres(r, 'mariadb'), mysqlOfPostgres(r, 'mysql'))]),
  );
}

// ---------------------------------------------------------------------------------------------
// The doc

/** Each generated block by the name its marker gives. */
export const BLOCKS: Readonly<Record<string, () => string>> = {
  'mysql-to-logical': () => nativeToLogical('mysql'),
  'logical-to-mysql': logicalToMysql,
  'postgres-to-logical': () => nativeToLogical('postgres'),
  'logical-to-postgres': logicalToPostgres,
  'mysql-to-postgres': mysqlToPostgres,
  'postgres-to-mysql': postgresToMysql,
};

const BLOCK = /(<!-- generated: ([a-z-]+)[^>]*-->\n)([\s\S]*?)(<!-- end generated -->)/g;

/** The blocks of a doc by name, as written there. */
export function blocksOf(doc: string): Map<string, string> {
  const found = new Map<string, string>();
  for (const m of doc.matchAll(BLOCK)) {
    const name = m[2] as string;
    if (!(name in BLOCKS)) throw new Error(`${DOC}: unknown generated block '${name}' (known: ${Object.keys(BLOCKS).join(', ')})`);
    if (found.has(name)) throw new Error(`${DOC}: generated block '${name}' appears twice`);
    found.set(name, m[3] as string);
  }
  const missing = Object.keys(BLOCKS).filter((n) => !found.has(n));
  if (missing.length > 0) throw new Error(`${DOC}: no marker for the generated block(s) ${missing.join(', ')}: add <!-- generated: NAME --> … <!-- end generated -->`);
  return found;
}

/** Every block rendered from the code, a blank line either side of its table (so every Markdown renderer sees a table). */
export function renderBlocks(): Map<string, string> {
  return new Map(Object.entries(BLOCKS).map(([name, render]) => [name, `\n${render()}\n`]));
}

/** The doc with its generated blocks rendered from the code and its prose unchanged. */
export function renderDoc(doc: string): string {
  blocksOf(doc);
  const blocks = renderBlocks();
  return doc.replace(BLOCK, (_, open: string, name: string, _body: string, close: string) => open + (blocks.get(name) as string) + close);
}

function main(argv: readonly string[]): number {
  const doc = readFileSync(DOC, 'utf8');
  const written = blocksOf(doc);
  const rendered = renderBlocks();
  const stale = [...rendered].filter(([name, body]) => written.get(name) !== body).map(([name]) => name);
  if (argv.includes('--check')) {
    if (stale.length === 0) return 0;
    console.error(`docs/type-mapping.md differs from the code in: ${stale.join(', ')}; run ${REGENERATE}`);
    return 1;
  }
  if (stale.length > 0) writeFileSync(DOC, renderDoc(doc));
  const rows = [...rendered.values()].reduce((n, b) => n + b.split('\n').filter((l) => l.startsWith('|')).length - 2, 0);
  console.log(`docs/type-mapping.md: ${rendered.size} generated tables, ${rows} rows; ${stale.length === 0 ? 'unchanged' : `rewrote ${stale.join(', ')}`}`);
  return 0;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  process.exitCode = main(process.argv.slice(2));
}

