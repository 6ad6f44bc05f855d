import mariadb from 'node-sql-parser/build/mariadb.js';
import { isPunct, isWord, type Token } from './ddl-tokens.js';

/**
 * Which kind of ALTER TABLE specification a piece of text is: node-sql-parser (5.4.0, its MariaDB
 * grammar) where it parses `ALTER TABLE t <spec>`, this module's keyword classifier where it does
 * not (it fails on ADD UNIQUE/PRIMARY KEY, ALTER COLUMN … SET DEFAULT, CONVERT TO CHARACTER SET,
 * DROP CONSTRAINT, FORCE, partition maintenance and IF [NOT] EXISTS forms, among others).
 */
export type SpecKind =
  | 'add-column'
  | 'drop-column'
  | 'modify-column'
  | 'change-column'
  | 'rename-column'
  | 'alter-column'
  | 'add-index'
  | 'drop-index'
  | 'rename-index'
  | 'rename-table'
  | 'convert-charset'
  | 'add-foreign-key'
  | 'drop-foreign-key'
  /** Nothing a row holds: table options, foreign keys, checks, partitioning that keeps rows. */
  | 'table-options'
  /** Statement modifiers (ALGORITHM=, LOCK=, WITH VALIDATION): no operation. */
  | 'no-op'
  /** Rows change without row events (DROP/TRUNCATE/EXCHANGE PARTITION, DISCARD/IMPORT TABLESPACE). */
  | 'rows-outside-events'
  | 'unknown';

const { Parser } = mariadb;
const parser = new Parser();

interface AlterExpr {
  readonly action?: string;
  readonly resource?: string;
  readonly keyword?: string | null;
}

/** The kind node-sql-parser gives a specification, or undefined where it cannot parse it or has no mapping. */
export function parserSpecKind(text: string): SpecKind | undefined {
  let ast: unknown;
  try {
    ast = parser.astify(`ALTER TABLE t ${text}`, { database: 'MariaDB' });
  } catch {
    return undefined;
  }
  const stmt = (Array.isArray(ast) ? ast[0] : ast) as { type?: string; expr?: AlterExpr[] } | undefined;
  if (stmt?.type !== 'alter' || stmt.expr?.length !== 1) return undefined;
  const e = stmt.expr[0] as AlterExpr;
  const action = e.action?.toLowerCase();
  const resource = e.resource?.toLowerCase();
  const keyword = e.keyword?.toLowerCase() ?? '';
  if (resource === 'column') {
    if (action === 'add') return 'add-column';
    if (action === 'drop') return 'drop-column';
    if (action === 'modify') return 'modify-column';
    if (action === 'change') return 'change-column';
    if (action === 'rename') return 'rename-column';
    return undefined;
  }
  if (resource === 'index' && action === 'add') return 'add-index';
  if ((resource === 'index' || resource === 'key') && action === 'rename') return 'rename-index';
  if ((resource === 'index' || resource === 'key') && action === 'drop') return keyword === 'foreign key' ? 'drop-foreign-key' : 'drop-index';
  if (resource === 'table' && action === 'rename') return 'rename-table';
  if (resource === 'partition') return action === 'add' ? 'table-options' : action === 'truncate' || action === 'drop' ? 'rows-outside-events' : undefined;
  if (resource === 'algorithm' || resource === 'lock') return 'no-op';
  if (action === undefined && resource !== undefined) return 'table-options';
  return undefined;
}

/** Words that begin a table option (ALTER TABLE t ENGINE=InnoDB …). */
const TABLE_OPTIONS = new Set([
  'ENGINE',
  'TYPE',
  'AUTO_INCREMENT',
  'AVG_ROW_LENGTH',
  'CHECKSUM',
  'TABLE_CHECKSUM',
  'COMMENT',
  'COMPRESSION',
  'CONNECTION',
  'DATA',
  'INDEX',
  'DELAY_KEY_WRITE',
  'ENCRYPTED',
  'ENCRYPTION',
  'ENCRYPTION_KEY_ID',
  'IETF_QUOTES',
  'INSERT_METHOD',
  'KEY_BLOCK_SIZE',
  'MAX_ROWS',
  'MIN_ROWS',
  'PACK_KEYS',
  'PAGE_CHECKSUM',
  'PAGE_COMPRESSED',
  'PAGE_COMPRESSION_LEVEL',
  'PASSWORD',
  'ROW_FORMAT',
  'SEQUENCE',
  'STATS_AUTO_RECALC',
  'STATS_PERSISTENT',
  'STATS_SAMPLE_PAGES',
  'TABLESPACE',
  'TRANSACTIONAL',
  'UNION',
  'WITH',
  'WITHOUT',
  'CHARSET',
  'CHARACTER',
  'COLLATE',
  'SECONDARY_ENGINE',
  'AUTOEXTEND_SIZE',
]);

/** The keyword classifier: the kind from the specification's first words. */
export function classifySpec(s: readonly Token[]): SpecKind {
  const w = (i: number) => (s[i]?.kind === 'word' ? (s[i] as Token).value : '');
  const first = w(0);
  switch (first) {
    case 'ADD': {
      let i = 1;
      if (w(i) === 'CONSTRAINT') i += isWord(s[i + 1], 'PRIMARY', 'UNIQUE', 'FOREIGN', 'CHECK') ? 1 : 2;
      const k = w(i);
      if (k === 'PRIMARY' || k === 'UNIQUE' || k === 'INDEX' || k === 'KEY' || k === 'FULLTEXT' || k === 'SPATIAL') return 'add-index';
      if (k === 'FOREIGN') return 'add-foreign-key';
      if (k === 'CHECK' || k === 'PERIOD' || k === 'SYSTEM') return 'table-options';
      if (k === 'PARTITION') return 'table-options';
      if (i > 1) return 'unknown';
      return 'add-column';
    }
    case 'DROP': {
      const k = w(1);
      if (k === 'PRIMARY' || k === 'INDEX' || k === 'KEY' || k === 'CONSTRAINT') return 'drop-index';
      if (k === 'FOREIGN') return 'drop-foreign-key';
      if (k === 'CHECK' || k === 'PERIOD' || k === 'SYSTEM') return 'table-options';
      if (k === 'PARTITION') return 'rows-outside-events';
      return 'drop-column';
    }
    case 'MODIFY':
      return 'modify-column';
    case 'CHANGE':
      return 'change-column';
    case 'ALTER':
      if (w(1) === 'INDEX' || w(1) === 'KEY' || w(1) === 'CHECK' || w(1) === 'CONSTRAINT') return 'table-options';
      return 'alter-column';
    case 'RENAME':
      if (w(1) === 'COLUMN') return 'rename-column';
      if (w(1) === 'INDEX' || w(1) === 'KEY') return 'rename-index';
      return 'rename-table';
    case 'CONVERT':
      return w(1) === 'TO' ? 'convert-charset' : 'unknown';
    case 'ALGORITHM':
    case 'LOCK':
      return 'no-op';
    case 'WITH':
    case 'WITHOUT':
      return w(1) === 'VALIDATION' ? 'no-op' : 'table-options';
    case 'FORCE':
    case 'ORDER':
    case 'ENABLE':
    case 'DISABLE':
    case 'PARTITION':
    case 'REMOVE':
    case 'COALESCE':
    case 'REORGANIZE':
    case 'ANALYZE':
    case 'CHECK':
    case 'OPTIMIZE':
    case 'REBUILD':
    case 'REPAIR':
    case 'UPGRADE':
      return 'table-options';
    case 'TRUNCATE':
    case 'EXCHANGE':
    case 'DISCARD':
    case 'IMPORT':
      return 'rows-outside-events';
    case 'DEFAULT':
      return w(1) === 'CHARSET' || w(1) === 'CHARACTER' || w(1) === 'COLLATE' ? 'table-options' : 'unknown';
  }
  if (TABLE_OPTIONS.has(first)) return 'table-options';
  if (s[0]?.kind === 'word' && isPunct(s[1], '=')) return 'table-options';
  return 'unknown';
}

/**
 * The kind of one specification: node-sql-parser's reading where it parses it, the keyword
 * classifier's otherwise. (On every specification both read, they agree: tests/unit/mysql-ddl-parse.test.ts
 * measures how many of its corpus node-sql-parser reads.)
 */
export function specKind(text: string, tokens: readonly Token[]): SpecKind {
  return parserSpecKind(text) ?? classifySpec(tokens);
}
