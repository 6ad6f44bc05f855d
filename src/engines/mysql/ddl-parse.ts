import { ErrorCode, TributaryError } from '../../core/errors.js';
import { qualify, splitName } from '../../core/names.js';
import { keyedTable, type ForeignKey, type ForeignKeyRule, type IndexDefinition, type TableSchema } from '../../core/schema.js';
import type { SchemaOperation } from '../../core/schema-change.js';
import { applyOperations } from '../../schema/apply.js';
import {
  canonicalCharset,
  canonicalCollation,
  charsetOfCollation,
  convertedText,
  Cursor,
  defaultCollation,
  DefinitionError,
  readColumnDefinition,
  readDefault,
  type CharsetDefaults,
} from './ddl-column.js';
import { specKind, type SpecKind } from './ddl-kind.js';
import { isName, isPunct, isWord, nameOf, splitTopLevel, textOf, tokenize, type Lexed, type Token } from './ddl-tokens.js';

/**
 * A MySQL/MariaDB DDL statement (a binlog query event's text) read into typed schema operations
 * (core/schema-change.ts) on the synced tables it touches.
 *
 * The statement is lexed here (ddl-tokens.ts); an ALTER TABLE's specifications are split at
 * top-level commas so that each operation keeps its own text and one specification that cannot be
 * followed does not lose the others. Which specification it is comes from node-sql-parser where it
 * parses it (ddl-kind.ts), from this reader's own keywords otherwise; column definitions are always
 * read by ddl-column.ts, since information_schema's spelling of a type needs the text as written.
 */

/** What parseDdl needs to know about the sync. */
export interface DdlContext {
  /** The source database: only its tables are ours. */
  readonly database: string;
  /** The query event's schema: unqualified names are in it. */
  readonly currentSchema: string;
  /** Synced tables now, by exact name (MySQL compares table names case-insensitively here). */
  readonly tables: ReadonlyMap<string, TableSchema>;
  /** Whether the sync's table selection takes a table of this name. */
  readonly selects: (name: string) => boolean;
  /**
   * --databases: the synced databases. Every table name parseDdl reads or returns is then
   * qualified, `db.table` (core/names.ts), and `database` is not used. Absent: the tables of
   * `database`, by their own names.
   */
  readonly databases?: readonly string[];
}

/** A statement read. */
export interface ParsedDdl {
  /** Synced tables it touches, exact names (a table it creates by its new name); empty: not ours. */
  readonly tables: string[];
  readonly operations: SchemaOperation[];
  /** The touched tables after it (applyOperations), under their names after it; dropped ones absent. */
  readonly after: Map<string, TableSchema>;
  /** Why it cannot be followed (the sync stops naming the statement); undefined when it can. */
  readonly unsupported?: string;
  /**
   * Tables the statement brings into the selection with rows the binlog does not carry (renamed in
   * from outside it, CREATE TABLE … LIKE an unsynced table, CREATE TABLE … SELECT, CREATE TABLE
   * without a column list): their definitions are not in the statement, so the stream reads them
   * from the source catalogue and adds a create-table operation of each (after `operations`), and
   * the sync copies their rows while it streams (SchemaChange.recopy). Names as the statement
   * leaves them; listed in `tables` too. Absent: none.
   */
  readonly adopt?: string[];
}

interface QName {
  readonly db: string;
  /** The sync's name for it: the table's own, or `db.table` under --databases (DdlContext.databases). */
  readonly name: string;
  /** The table's own name in `db`. */
  readonly own: string;
  readonly tokens: readonly Token[];
}

/** Statements that never change a table's definition or rows outside row events. */
const NOT_TABLE_DDL = new Set([
  'BEGIN',
  'COMMIT',
  'ROLLBACK',
  'SAVEPOINT',
  'XA',
  'GRANT',
  'REVOKE',
  'FLUSH',
  'SET',
  'ANALYZE',
  'OPTIMIZE',
  'REPAIR',
  'CHECK',
  'CHECKSUM',
  'INSTALL',
  'UNINSTALL',
  'USE',
]);
const NOT_TABLE_OBJECTS = new Set(['DATABASE', 'SCHEMA', 'VIEW', 'TRIGGER', 'PROCEDURE', 'FUNCTION', 'EVENT', 'USER', 'ROLE', 'SERVER', 'SEQUENCE', 'DEFINER', 'ALGORITHM', 'SQL', 'AGGREGATE', 'LOGFILE', 'TABLESPACE', 'PACKAGE']);

/**
 * Reads one DDL statement. Never throws: what cannot be followed comes back as `unsupported`
 * (with the operations that could be read, for the message), and a statement that touches no synced
 * table and makes none comes back with `tables` empty.
 */
export function parseDdl(statement: string, ctx: DdlContext): ParsedDdl {
  let lexed: Lexed;
  try {
    lexed = tokenize(statement);
  } catch (err) {
    return unreadable(statement, ctx, (err as Error).message);
  }
  const toks = lexed.tokens;
  while (isPunct(toks[toks.length - 1], ';')) toks.pop();
  const r = new Reader(lexed, ctx);
  try {
    r.statement(toks);
  } catch (err) {
    if (!(err instanceof DefinitionError)) throw err;
    return unreadable(statement, ctx, err.message);
  }
  return r.result();
}

/** A statement the classifier cannot read: unsupported when it names a synced table, else not ours. */
function unreadable(statement: string, ctx: DdlContext, why: string): ParsedDdl {
  const named = [...ctx.tables.keys()].filter((t) => new RegExp(`(^|[^A-Za-z0-9_$])${t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}($|[^A-Za-z0-9_$])`, 'i').test(statement));
  if (named.length === 0) return { tables: [], operations: [], after: new Map() };
  return { tables: named, operations: [], after: new Map(), unsupported: `cannot read the statement (${why}); it names synced table(s) ${named.join(', ')}` };
}

class Reader {
  private readonly touched: string[] = [];
  private readonly ops: SchemaOperation[] = [];
  private readonly reasons: string[] = [];
  private readonly adopted: string[] = [];
  constructor(
    private readonly lexed: Lexed,
    private readonly ctx: DdlContext,
  ) {}

  result(): ParsedDdl {
    const tables = [...new Set(this.touched)];
    let after = new Map<string, TableSchema>();
    const reasons = [...this.reasons];
    try {
      const all = renameGeneratedForeignKeys(widenConvertedText(this.ctx.tables, applyOperations(this.ctx.tables, this.ops), this.ops), this.ops);
      after = new Map([...this.namesAfter(tables)].flatMap((n) => (all.has(n) ? [[n, all.get(n) as TableSchema] as const] : [])));
      // A key change is followed (the key columns are those after it); a keyed table left without
      // any key would have to be synced as a multiset of rows from then on, which only a copy at
      // the sync's start can do.
      for (const name of tables) {
        const was = this.ctx.tables.get(name);
        const now = after.get([...this.namesAfter([name])][0] ?? name);
        if (was && was.primaryKey.length > 0 && now && now.primaryKey.length === 0) {
          reasons.push(`it leaves ${name} without a primary key or a unique key of NOT NULL columns, and a table without a key is synced only by a copy at the sync's start: re-copy it (restart with --force, or a new sync)`);
        }
      }
    } catch (err) {
      if (!(err instanceof TributaryError) || err.code !== ErrorCode.DDL_UNSUPPORTED) throw err;
      reasons.push(err.message);
    }
    return { tables, operations: this.ops, after, ...(reasons.length > 0 ? { unsupported: reasons.join('; ') } : {}), ...(this.adopted.length > 0 ? { adopt: [...this.adopted] } : {}) };
  }

  /** The touched tables' names after the operations (renames followed, drops removed, creates added). */
  private namesAfter(tables: readonly string[]): Set<string> {
    const names = new Set(tables);
    for (const op of this.ops) {
      if (op.op === 'rename-tables') {
        for (const p of op.pairs) {
          const k = [...names].find((n) => n.toLowerCase() === p.from.toLowerCase());
          if (k !== undefined) {
            names.delete(k);
            names.add(p.to);
          }
        }
      } else if (op.op === 'drop-table') {
        names.delete(op.table);
      } else if (op.op === 'create-table') {
        names.add(op.table.name);
      }
    }
    return names;
  }

  private text(tokens: readonly Token[]): string {
    return textOf(this.lexed.text, tokens);
  }

  /**
   * Whether `q` is a table of a synced database. In a sync of one database a table whose own name
   * holds a '.' is never ours: names are unqualified there, and a target reads a '.' as the end of
   * a database name (core/names.ts), so such a table is not synced, as the source's listing says.
   */
  private ours(q: QName): boolean {
    return this.ctx.databases ? this.ctx.databases.includes(q.db) : q.db === this.ctx.database && !q.own.includes('.');
  }

  private named(db: string, own: string, tokens: readonly Token[]): QName {
    return { db, own, name: this.ctx.databases ? qualify(db, own) : own, tokens };
  }

  /** The synced table's exact name, when `q` is one. */
  private synced(q: QName): string | undefined {
    if (!this.ours(q)) return undefined;
    if (this.ctx.tables.has(q.name)) return q.name;
    const lower = q.name.toLowerCase();
    return [...this.ctx.tables.keys()].find((k) => k.toLowerCase() === lower);
  }

  private qname(c: Cursor): QName {
    const start = c.i;
    const first = c.name();
    if (c.acceptPunct('.')) {
      const name = c.name();
      return this.named(first, name, c.tokens.slice(start, c.i));
    }
    return this.named(this.ctx.currentSchema, first, c.tokens.slice(start, c.i));
  }

  statement(toks: Token[]): void {
    const c = new Cursor(toks, this.lexed.text);
    const first = c.peek();
    if (!first) return;
    if (c.accept('ALTER')) {
      c.acceptOne('ONLINE', 'OFFLINE');
      c.accept('IGNORE');
      if (c.accept('TABLE')) return this.alter(c);
      if (NOT_TABLE_OBJECTS.has(c.peek()?.value ?? '')) return;
      throw new DefinitionError(`unknown ALTER ${c.where()}`);
    }
    if (c.accept('RENAME')) {
      if (!c.accept('TABLE') && !c.accept('TABLES')) {
        if (c.accept('USER')) return;
        throw new DefinitionError(`unknown RENAME ${c.where()}`);
      }
      c.accept('IF', 'EXISTS');
      return this.renameTable(c);
    }
    if (c.accept('TRUNCATE')) {
      c.accept('TABLE');
      const q = this.qname(c);
      const t = this.synced(q);
      if (t !== undefined) this.push(t, { op: 'truncate', table: t });
      return;
    }
    if (c.accept('DROP')) {
      if (c.accept('TEMPORARY')) return;
      if (c.accept('TABLE') || c.accept('TABLES')) return this.dropTables(c);
      if (c.accept('INDEX') || c.accept('KEY')) return this.dropIndex(c);
      if (c.accept('DATABASE') || c.accept('SCHEMA')) {
        c.accept('IF', 'EXISTS');
        const db = c.name();
        const gone = this.ctx.databases ? [...this.ctx.tables.keys()].filter((t) => t.startsWith(`${db}.`)) : db === this.ctx.database ? [...this.ctx.tables.keys()] : [];
        if (gone.length > 0) {
          this.touched.push(...gone);
          this.reasons.push(`DROP DATABASE ${db} drops every synced table`);
        }
        return;
      }
      return;
    }
    if (c.accept('CREATE')) {
      const orReplace = c.accept('OR', 'REPLACE');
      if (c.accept('TEMPORARY')) return;
      if (c.accept('TABLE')) return this.createTable(c, orReplace);
      c.acceptOne('ONLINE', 'OFFLINE');
      const kind = c.accept('UNIQUE') ? 'UNIQUE' : c.accept('FULLTEXT') ? 'FULLTEXT' : c.accept('SPATIAL') ? 'SPATIAL' : '';
      if (c.accept('INDEX') || c.accept('KEY')) return this.createIndex(c, kind);
      return; // views, triggers, routines, databases, users …: no table definition changes
    }
    if (NOT_TABLE_DDL.has(first.value)) return;
    throw new DefinitionError(`unknown statement ${c.where()}`);
  }

  /** A table entering the selection whose definition and rows come from the catalogue (ParsedDdl.adopt). */
  private adopt(name: string): void {
    this.touched.push(name);
    this.adopted.push(name);
  }

  private push(table: string, op: SchemaOperation): void {
    this.touched.push(table);
    this.ops.push(op);
  }

  // ---- ALTER TABLE ----------------------------------------------------------------------------

  private alter(c: Cursor): void {
    c.accept('IF', 'EXISTS');
    const q = this.qname(c);
    if (c.accept('WAIT')) c.next();
    else c.accept('NOWAIT');
    const rest = c.tokens.slice(c.i);
    const table = this.synced(q);
    const specs = splitTopLevel(rest, rest[0]?.depth ?? 0).flatMap((s) => splitPartitionOptions(s));
    if (table === undefined) {
      // Not synced: only a rename into our selection matters.
      for (const s of specs) {
        const sc = new Cursor(s, this.lexed.text);
        if (sc.accept('RENAME') && !isWord(sc.peek(), 'COLUMN', 'INDEX', 'KEY')) {
          sc.acceptOne('TO', 'AS');
          this.renames([{ from: q, to: this.qname(sc) }]);
        }
      }
      return;
    }
    this.touched.push(table);
    const before = this.ctx.tables.get(table) as TableSchema;
    const st: AlterState = { table, before, defaults: tableDefaults(before), rename: undefined, added: new Set() };
    for (const s of specs) {
      try {
        this.spec(st, s);
      } catch (err) {
        if (!(err instanceof DefinitionError)) throw err;
        this.reasons.push(`cannot read '${this.text(s)}': ${err.message}`);
      }
    }
    if (st.rename) this.renames([{ from: q, to: st.rename }]);
  }

  private spec(st: AlterState, s: Token[]): void {
    const text = this.text(s);
    const kind: SpecKind = specKind(text, s);
    const c = new Cursor(s, this.lexed.text);
    const table = st.table;
    // The table's own primary key (a key taken from a unique key is none: its columns may become nullable, and the next key takes over).
    const pk = new Set((st.before.keyFromUnique ? [] : st.before.primaryKey).map((i) => st.before.columns[i]?.name.toLowerCase()));
    switch (kind) {
      case 'add-column': {
        c.accept('ADD');
        c.accept('COLUMN');
        const ifNotExists = c.accept('IF', 'NOT', 'EXISTS');
        if (isPunct(c.peek(), '(')) {
          const inner = c.group().slice(1, -1);
          for (const part of splitTopLevel(inner, (inner[0]?.depth ?? 1) as number)) this.addColumn(st, part, text, ifNotExists, false);
          return;
        }
        this.addColumn(st, s.slice(c.i), text, ifNotExists, true);
        return;
      }
      case 'drop-column': {
        const name = existingColumn(c, st.before, 'DROP');
        if (name === undefined) return;
        // A key column dropped narrows the primary key to the others (result() refuses a table left without a key).
        this.ops.push({ op: 'drop-column', table, column: name, sourceText: text });
        return;
      }
      case 'modify-column': {
        const name = existingColumn(c, st.before, 'MODIFY');
        if (name === undefined) return;
        const def = this.definition(st, name, s.slice(c.i), text, pk.has(name.toLowerCase()));
        this.ops.push({ op: 'modify-column', table, column: def.column, ...(def.default ? { default: def.default } : {}), ...(def.place ? { place: def.place } : {}), sourceText: text });
        if (def.primary) this.inlinePrimaryKey(table, name);
        return;
      }
      case 'change-column': {
        const from = existingColumn(c, st.before, 'CHANGE');
        if (from === undefined) return;
        const to = c.name();
        const def = this.definition(st, to, s.slice(c.i), text, pk.has(from.toLowerCase()));
        const modify = { op: 'modify-column', table, column: def.column, ...(def.default ? { default: def.default } : {}), ...(def.place ? { place: def.place } : {}) } as const;
        if (from === to) {
          this.ops.push({ ...modify, sourceText: text });
        } else {
          this.ops.push({ op: 'rename-column', table, from, to, sourceText: text }, modify);
        }
        if (def.primary) this.inlinePrimaryKey(table, to);
        return;
      }
      case 'rename-column': {
        c.accept('RENAME');
        c.accept('COLUMN');
        const from = c.name();
        if (!c.accept('TO')) throw new DefinitionError('RENAME COLUMN a TO b expected');
        this.ops.push({ op: 'rename-column', table, from, to: c.name(), sourceText: text });
        return;
      }
      case 'rename-index': {
        c.accept('RENAME');
        c.acceptOne('INDEX', 'KEY');
        const from = c.name();
        if (!c.accept('TO')) throw new DefinitionError('RENAME INDEX a TO b expected');
        this.ops.push({ op: 'rename-index', table, from, to: c.name(), sourceText: text });
        return;
      }
      case 'alter-column': {
        c.accept('ALTER');
        c.accept('COLUMN');
        c.accept('IF', 'EXISTS');
        const column = c.name();
        if (c.accept('SET', 'DEFAULT')) {
          const d = readDefault(c);
          this.ops.push({ op: 'set-default', table, column, default: d, sourceText: text });
        } else if (c.accept('DROP', 'DEFAULT')) {
          this.ops.push({ op: 'set-default', table, column, default: null, sourceText: text });
        } else if (c.accept('SET', 'VISIBLE') || c.accept('SET', 'INVISIBLE')) {
          this.ops.push({ op: 'table-options', table, sourceText: text });
        } else {
          throw new DefinitionError(`unknown ALTER COLUMN ${c.where()}`);
        }
        return;
      }
      case 'add-index': {
        c.accept('ADD');
        const sym = c.accept('CONSTRAINT') && !isWord(c.peek(), 'PRIMARY', 'UNIQUE') ? c.name() : undefined;
        if (c.accept('PRIMARY', 'KEY')) {
          skipIndexType(c);
          const columns = this.indexColumns(c);
          this.ops.push({ op: 'add-index', table, name: 'PRIMARY', columns, unique: true, primary: true, sourceText: text });
          return;
        }
        const unique = c.accept('UNIQUE');
        if (!unique) c.acceptOne('FULLTEXT', 'SPATIAL');
        c.acceptOne('INDEX', 'KEY');
        c.accept('IF', 'NOT', 'EXISTS');
        let name: string | undefined;
        if (isName(c.peek()) && !isWord(c.peek(), 'USING')) name = c.name();
        skipIndexType(c);
        const columns = this.indexColumns(c);
        name ??= sym ?? autoIndexName(st, columns[0] ?? 'idx');
        st.added.add(name.toLowerCase());
        this.ops.push({ op: 'add-index', table, name, columns, unique, sourceText: text });
        return;
      }
      case 'drop-index': {
        c.accept('DROP');
        if (c.accept('PRIMARY', 'KEY')) {
          this.ops.push({ op: 'drop-index', table, name: 'PRIMARY', primary: true, sourceText: text });
          return;
        }
        const constraint = c.accept('CONSTRAINT');
        if (!constraint) c.acceptOne('INDEX', 'KEY');
        const ifExists = c.accept('IF', 'EXISTS');
        const name = c.name();
        if (name.toUpperCase() === 'PRIMARY') {
          this.ops.push({ op: 'drop-index', table, name: 'PRIMARY', primary: true, sourceText: text });
          return;
        }
        const known = indexNamesOf(st.before);
        if (constraint && (st.before.foreignKeys ?? []).some((f) => f.name.toLowerCase() === name.toLowerCase())) {
          this.ops.push({ op: 'drop-foreign-key', table, name, sourceText: text });
          return;
        }
        if (constraint && known.get(name.toLowerCase()) !== true) {
          this.ops.push({ op: 'table-options', table, sourceText: text }); // a check or foreign key constraint
          return;
        }
        if (ifExists && st.before.indexes !== undefined && !known.has(name.toLowerCase())) return;
        this.ops.push({ op: 'drop-index', table, name, sourceText: text });
        return;
      }
      case 'rename-table': {
        c.accept('RENAME');
        c.acceptOne('TO', 'AS');
        st.rename = this.qname(c);
        return;
      }
      case 'convert-charset': {
        c.accept('CONVERT', 'TO');
        if (!c.accept('CHARACTER', 'SET')) c.accept('CHARSET');
        c.acceptPunct('=');
        const csTok = c.name();
        if (csTok.toUpperCase() === 'DEFAULT') throw new DefinitionError('CONVERT TO CHARACTER SET DEFAULT names no character set');
        const charset = canonicalCharset(csTok);
        let collation = defaultCollation(charset);
        if (c.accept('COLLATE')) {
          c.acceptPunct('=');
          collation = canonicalCollation(c.name());
        }
        st.defaults = { charset, collation };
        this.ops.push({ op: 'convert-charset', table, charset, collation, sourceText: text });
        return;
      }
      case 'add-foreign-key': {
        c.accept('ADD');
        let symbol: string | undefined;
        if (c.accept('CONSTRAINT') && !isWord(c.peek(), 'FOREIGN')) symbol = c.name();
        if (!c.accept('FOREIGN', 'KEY')) throw new DefinitionError('ADD [CONSTRAINT name] FOREIGN KEY expected');
        const ifNotExists = c.accept('IF', 'NOT', 'EXISTS');
        const fk = this.foreignKeyClause(c, symbol);
        // A key to a table of another database: only a target of the source's engine keeps it.
        if (!this.ours(fk.ref)) {
          this.ops.push({ op: 'table-options', table, sourceText: text });
          return;
        }
        // A key to a table the sync does not take is left out, as at the start (schema/foreign-keys.ts).
        if (!this.takes(fk.ref, table)) return;
        const fks = st.before.foreignKeys ?? [];
        const given = fk.name;
        if (given !== undefined && ifNotExists && fks.some((f) => f.name.toLowerCase() === given.toLowerCase())) return;
        const name = given ?? autoForeignKeyName(ownName(st.table, this.ctx), [...fks.map((f) => f.name), ...this.ops.flatMap((o) => (o.op === 'add-foreign-key' && o.table === st.table ? [o.foreignKey.name] : []))]);
        this.ops.push({ op: 'add-foreign-key', table, foreignKey: { name, columns: fk.columns, referencedTable: fk.ref.name, referencedColumns: fk.referencedColumns, onUpdate: fk.onUpdate, onDelete: fk.onDelete }, sourceText: text });
        return;
      }
      case 'drop-foreign-key': {
        c.accept('DROP');
        c.accept('FOREIGN', 'KEY');
        const ifExists = c.accept('IF', 'EXISTS');
        const name = c.name();
        const fks = st.before.foreignKeys;
        // Not in the followed definition: a key to a table the sync does not take (left out), or
        // none at all (IF EXISTS): nothing of the target changes.
        if (fks !== undefined && !fks.some((f) => f.name.toLowerCase() === name.toLowerCase())) return;
        if (ifExists && fks === undefined) return;
        this.ops.push({ op: 'drop-foreign-key', table, name, sourceText: text });
        return;
      }
      case 'table-options': {
        st.defaults = optionDefaults(s, st.defaults);
        this.ops.push({ op: 'table-options', table, sourceText: text });
        return;
      }
      case 'no-op':
        return;
      case 'rows-outside-events':
        this.reasons.push(`'${text}' on ${table} changes rows without row events (partition or tablespace data): re-copy the table`);
        return;
      case 'unknown':
        throw new DefinitionError('not a specification this reader knows');
    }
  }

  /** A column definition's inline PRIMARY KEY: the table's primary key becomes that column (its text is the column's). */
  private inlinePrimaryKey(table: string, column: string): void {
    this.ops.push({ op: 'add-index', table, name: 'PRIMARY', columns: [column], unique: true, primary: true });
  }

  private definition(st: AlterState, name: string, rest: readonly Token[], text: string, inPrimaryKey: boolean) {
    const def = readColumnDefinition(name, rest, this.lexed.text, st.defaults, true);
    if (def.generated) this.reasons.push(`'${text}' defines generated column ${st.table}.${name}: a generated column's definition cannot be followed yet`);
    // A primary key's columns are NOT NULL whatever the definition says.
    return inPrimaryKey && def.column.nullable ? { ...def, column: { ...def.column, nullable: false } } : def;
  }

  private addColumn(st: AlterState, part: readonly Token[], specText: string, ifNotExists: boolean, single: boolean): void {
    const c = new Cursor(part, this.lexed.text);
    const name = c.name();
    if (ifNotExists && hasColumn(st.before, name)) return;
    const def = this.definition(st, name, part.slice(c.i), specText, false);
    this.ops.push({
      op: 'add-column',
      table: st.table,
      column: def.column,
      ...(def.default ? { default: def.default } : {}),
      ...(def.place ? { place: def.place } : {}),
      ...(single ? { sourceText: specText } : { sourceText: `ADD COLUMN ${this.text(part)}` }),
    });
    if (def.primary) this.inlinePrimaryKey(st.table, name);
    // An inline UNIQUE (or SERIAL) makes an index named after the column; its text is the column's.
    if (def.unique) {
      const index = autoIndexName(st, name);
      st.added.add(index.toLowerCase());
      this.ops.push({ op: 'add-index', table: st.table, name: index, columns: [name], unique: true });
    }
  }

  /** An index's column list: names (a prefix length and ASC/DESC dropped); an expression part is refused. */
  private indexColumns(c: Cursor): string[] {
    const g = c.group();
    const inner = g.slice(1, -1);
    return splitTopLevel(inner, g[0]?.depth === undefined ? 1 : (g[0].depth + 1)).map((part) => {
      const t = part[0];
      if (!t || !isName(t)) throw new DefinitionError(`index part '${this.text(part)}' is an expression; only column parts can be followed`);
      return nameOf(t);
    });
  }

  // ---- other statements -----------------------------------------------------------------------

  private renameTable(c: Cursor): void {
    const pairs: { from: QName; to: QName }[] = [];
    for (const part of splitTopLevel(c.tokens.slice(c.i), 0)) {
      const pc = new Cursor(part, this.lexed.text);
      const from = this.qname(pc);
      if (pc.accept('WAIT')) pc.next();
      else pc.accept('NOWAIT');
      if (!pc.accept('TO')) throw new DefinitionError(`RENAME TABLE a TO b expected at ${pc.where()}`);
      pairs.push({ from, to: this.qname(pc) });
    }
    this.renames(pairs);
  }

  /**
   * Renames done as one step. Followed when every synced table ends under a name of our database
   * that the selection takes, and no other table ends under a name the selection takes (a swap
   * among synced tables, through temporary names, is one rename-tables operation).
   */
  private renames(pairs: readonly { from: QName; to: QName }[]): void {
    const key = (q: QName) => `${q.db}\u0000${q.name.toLowerCase()}`;
    const state = new Map<string, { origin: string; synced?: string; final: QName }>();
    const opPairs: { from: string; to: string }[] = [];
    for (const { from, to } of pairs) {
      const k = key(from);
      const entry = state.get(k) ?? { origin: `${from.db}.${from.own}`, ...(this.synced(from) !== undefined ? { synced: this.synced(from) as string } : {}), final: from };
      state.delete(k);
      state.set(key(to), { ...entry, final: to });
      if (entry.synced !== undefined) this.touched.push(entry.synced);
      if (entry.synced !== undefined) opPairs.push({ from: from.name, to: to.name });
    }
    for (const e of state.values()) {
      const inSelection = this.ours(e.final) && this.ctx.selects(e.final.name);
      if (e.synced !== undefined) {
        if (!inSelection) this.reasons.push(`the rename moves synced table ${e.synced} to ${e.final.db}.${e.final.own}, which the table selection does not take`);
      } else if (inSelection) {
        const existing = this.synced(e.final);
        const renamedAway = opPairs.some((p) => p.from.toLowerCase() === e.final.name.toLowerCase());
        if (existing === undefined || renamedAway) {
          // A table of rows the binlog never carried: described from the catalogue and copied.
          this.adopt(e.final.name);
        } else {
          this.reasons.push(`the rename moves table ${e.origin} into ${e.final.name}, the name of a synced table it does not rename away: re-copy ${e.final.name}`);
          this.touched.push(existing ?? e.final.name);
        }
      }
    }
    if (opPairs.length > 0) this.ops.push({ op: 'rename-tables', pairs: opPairs });
  }

  private dropTables(c: Cursor): void {
    c.accept('IF', 'EXISTS');
    const rest = c.tokens.slice(c.i).filter((t) => !isWord(t, 'RESTRICT', 'CASCADE', 'FORCE'));
    for (const part of splitTopLevel(rest, 0)) {
      const t = this.synced(this.qname(new Cursor(part, this.lexed.text)));
      if (t !== undefined) this.push(t, { op: 'drop-table', table: t });
    }
  }

  private dropIndex(c: Cursor): void {
    c.accept('IF', 'EXISTS');
    const name = c.name();
    if (!c.accept('ON')) throw new DefinitionError('DROP INDEX name ON table expected');
    const t = this.synced(this.qname(c));
    if (t === undefined) return;
    if (name.toUpperCase() === 'PRIMARY') {
      // A key change is followed as ALTER TABLE … DROP PRIMARY KEY is (a table left with no key is refused at the end).
      this.push(t, { op: 'drop-index', table: t, name: 'PRIMARY', primary: true, sourceText: 'DROP PRIMARY KEY' });
      return;
    }
    this.push(t, { op: 'drop-index', table: t, name, sourceText: `DROP INDEX ${quoteName(name)}` });
  }

  private createIndex(c: Cursor, kind: string): void {
    c.accept('IF', 'NOT', 'EXISTS');
    const name = c.name();
    skipIndexType(c);
    if (!c.accept('ON')) throw new DefinitionError('CREATE INDEX name ON table expected');
    const t = this.synced(this.qname(c));
    if (t === undefined) return;
    const groupStart = c.i;
    const columns = this.indexColumns(c);
    const cols = this.text(c.tokens.slice(groupStart, c.i));
    this.push(t, { op: 'add-index', table: t, name, columns, unique: kind === 'UNIQUE', sourceText: `ADD ${kind ? `${kind} ` : ''}INDEX ${quoteName(name)} ${cols}` });
  }

  private createTable(c: Cursor, orReplace: boolean): void {
    const ifNotExists = c.accept('IF', 'NOT', 'EXISTS');
    const q = this.qname(c);
    if (!this.ours(q) || !this.ctx.selects(q.name)) return;
    const existing = this.synced(q);
    if (existing !== undefined && ifNotExists) {
      this.touched.push(existing);
      return;
    }
    if (existing !== undefined) {
      if (!orReplace) throw new DefinitionError(`CREATE TABLE of synced table ${existing}, which exists`);
      this.push(existing, { op: 'drop-table', table: existing });
    }
    // CREATE TABLE t LIKE s, or CREATE TABLE t (LIKE s)
    const parenthesisedLike = isPunct(c.peek(), '(') && isWord(c.peek(1), 'LIKE');
    if (parenthesisedLike) c.i += 1;
    const like = c.accept('LIKE') ? this.qname(c) : undefined;
    if (like) {
      const src = this.synced(like);
      if (src === undefined) {
        // Its definition is the unsynced table's: read from the catalogue.
        this.adopt(q.name);
        return;
      }
      const { createStatement: _c, ...def } = this.ctx.tables.get(src) as TableSchema;
      this.push(q.name, { op: 'create-table', table: { ...def, name: q.name } });
      return;
    }
    // Without a column list (… SELECT), or with a SELECT: the definition is the catalogue's, and the
    // rows the SELECT brings are in the binlog only under row-based logging: copied.
    if (!isPunct(c.peek(), '(')) {
      this.adopt(q.name);
      return;
    }
    const group = c.group();
    const options = c.tokens.slice(c.i);
    if (options.some((t) => isWord(t, 'SELECT'))) {
      this.adopt(q.name);
      return;
    }
    const defaults = optionDefaults(options, { charset: 'utf8mb4', collation: 'utf8mb4_general_ci' });
    let table: TableSchema;
    try {
      table = this.tableDefinition(q.name, group.slice(1, -1), (group[0]?.depth ?? 0) + 1, defaults);
    } catch (err) {
      if (!(err instanceof DefinitionError)) throw err;
      this.touched.push(q.name);
      this.reasons.push(`cannot read the definition of new table ${q.name}: ${err.message}`);
      return;
    }
    const nameStart = q.tokens[0] as Token;
    const nameEnd = q.tokens[q.tokens.length - 1] as Token;
    const stmt = this.lexed.text;
    const first = c.tokens[0] as Token;
    const last = c.tokens[c.tokens.length - 1] as Token;
    const createStatement = `${stmt.slice(first.start, nameStart.start)}${quoteName(q.name)}${stmt.slice(nameEnd.end, last.end)}`;
    this.push(q.name, { op: 'create-table', table: { ...table, createStatement } });
  }

  /**
   * `[index_name] (columns) REFERENCES table (columns) [MATCH …] [ON DELETE …] [ON UPDATE …]`, after
   * FOREIGN KEY. The key's name: the constraint's symbol, else the index name (MariaDB names the
   * constraint after it, measured on 10.11), else none (the caller generates `<table>_ibfk_<n>`).
   */
  private foreignKeyClause(c: Cursor, symbol: string | undefined) {
    const indexName = isName(c.peek()) ? c.name() : undefined;
    const columns = this.indexColumns(c);
    if (!c.accept('REFERENCES')) throw new DefinitionError('FOREIGN KEY (…) REFERENCES expected');
    const ref = this.qname(c);
    const referencedColumns = this.indexColumns(c);
    let onDelete: ForeignKeyRule = 'RESTRICT';
    let onUpdate: ForeignKeyRule = 'RESTRICT';
    for (;;) {
      if (c.accept('MATCH')) c.next();
      else if (c.accept('ON', 'DELETE')) onDelete = readRule(c);
      else if (c.accept('ON', 'UPDATE')) onUpdate = readRule(c);
      else break;
    }
    return { name: symbol ?? indexName, columns, ref, referencedColumns, onDelete, onUpdate };
  }

  /** Whether a foreign key of `table` to `ref` is followed: `ref` is synced, taken by the selection, or the table itself. */
  private takes(ref: QName, table: string): boolean {
    return this.synced(ref) !== undefined || ref.name.toLowerCase() === table.toLowerCase() || (this.ours(ref) && this.ctx.selects(ref.name));
  }

  private tableDefinition(name: string, inner: readonly Token[], depth: number, defaults: CharsetDefaults): TableSchema {
    const columns: TableSchema['columns'][number][] = [];
    const generated: string[] = [];
    let primary: string[] = [];
    const uniques: string[][] = [];
    // Secondary indexes by the names the server gives them (TableSchema.indexes), in declaration order.
    const indexes: IndexDefinition[] = [];
    const named = (given: string | undefined, columns: readonly string[]): string => {
      if (given !== undefined) return given;
      // Unnamed: its first column's name, then _2, _3 … while an index declared before has it.
      const first = columns[0] ?? 'idx';
      const taken = (n: string) => n.toLowerCase() === 'primary' || indexes.some((i) => i.name.toLowerCase() === n.toLowerCase());
      let name = first;
      for (let i = 2; taken(name); i++) name = `${first}_${i}`;
      return name;
    };
    // Foreign keys whose columns no index starts with: the server adds an index of its own for them.
    const foreign: string[][] = [];
    const foreignKeys: ForeignKey[] = [];
    // An index over an expression (MySQL 8): its columns cannot be named; the indexes are not known.
    let expressionIndex = false;
    for (const part of splitTopLevel(inner, depth)) {
      const c = new Cursor(part, this.lexed.text);
      let symbol: string | undefined;
      if (c.accept('CONSTRAINT')) {
        if (!isWord(c.peek(), 'PRIMARY', 'UNIQUE', 'FOREIGN', 'CHECK')) symbol = c.name();
      }
      if (c.accept('PRIMARY', 'KEY')) {
        skipIndexType(c);
        primary = this.indexColumns(c);
      } else if (c.accept('UNIQUE')) {
        c.acceptOne('INDEX', 'KEY');
        const given = isName(c.peek()) && !isWord(c.peek(), 'USING') ? c.name() : symbol;
        skipIndexType(c);
        const cols = this.indexColumns(c);
        uniques.push(cols);
        indexes.push({ name: named(given, cols), columns: cols, unique: true });
      } else if (c.accept('FOREIGN', 'KEY')) {
        const fk = this.foreignKeyClause(c, symbol);
        foreign.push(fk.columns);
        if (this.ours(fk.ref) && this.takes(fk.ref, name)) {
          const fkName = fk.name ?? autoForeignKeyName(ownName(name, this.ctx), foreignKeys.map((f) => f.name));
          foreignKeys.push({ name: fkName, columns: fk.columns, referencedTable: fk.ref.name, referencedColumns: fk.referencedColumns, onUpdate: fk.onUpdate, onDelete: fk.onDelete });
        }
      } else if (isWord(c.peek(), 'INDEX', 'KEY', 'FULLTEXT', 'SPATIAL')) {
        if (c.acceptOne('FULLTEXT', 'SPATIAL')) c.acceptOne('INDEX', 'KEY');
        else c.acceptOne('INDEX', 'KEY');
        const given = isName(c.peek()) && !isWord(c.peek(), 'USING') && !isPunct(c.peek(), '(') ? c.name() : undefined;
        skipIndexType(c);
        let cols: string[];
        try {
          cols = this.indexColumns(c);
        } catch (err) {
          if (!(err instanceof DefinitionError)) throw err;
          expressionIndex = true;
          continue;
        }
        indexes.push({ name: named(given, cols), columns: cols, unique: false });
      } else if (isWord(c.peek(), 'CHECK', 'PERIOD')) {
        // no field of TableSchema
      } else {
        const col = c.name();
        const def = readColumnDefinition(col, part.slice(c.i), this.lexed.text, defaults, false);
        if (def.generated) generated.push(col);
        else columns.push(def.column);
        if (def.primary) primary = [col];
        if (def.unique) {
          uniques.push([col]);
          indexes.push({ name: named(undefined, [col]), columns: [col], unique: true });
        }
      }
    }
    // Where the server adds an index for a foreign key, its name is not certain: indexes not known.
    const startsWith = (cols: readonly string[], fk: readonly string[]) => fk.every((n, i) => cols[i]?.toLowerCase() === n.toLowerCase());
    const known = !expressionIndex && foreign.every((fk) => startsWith(primary, fk) || indexes.some((i) => startsWith(i.columns, fk)));
    const index = (n: string) => {
      const i = columns.findIndex((c) => c.name.toLowerCase() === n.toLowerCase());
      if (i < 0) throw new DefinitionError(`key column '${n}' of ${name} is not a written column`);
      return i;
    };
    const primaryKey = primary.map(index);
    for (const i of primaryKey) {
      const col = columns[i];
      if (col?.nullable) columns[i] = { ...col, nullable: false };
    }
    return keyedTable({ name, columns, primaryKey, uniqueKeys: uniques.map((u) => u.map(index)), ...(known ? { indexes } : {}), ...(foreignKeys.length ? { foreignKeys } : {}), generated, engine: 'mysql' });
  }
}

/**
 * CONVERT TO CHARACTER SET also widens TEXT columns whose characters no longer fit (ddl-column.ts
 * convertedText), which the engine-neutral convert-charset operation does not say: the definitions
 * after it get the wider type, unless a later operation of the statement redefines the column.
 * (A target of MySQL's dialect widens them itself from the operation's source text; others map every
 * TEXT type alike.)
 */
function widenConvertedText(before: ReadonlyMap<string, TableSchema>, tables: Map<string, TableSchema>, ops: readonly SchemaOperation[]): Map<string, TableSchema> {
  ops.forEach((op, i) => {
    if (op.op !== 'convert-charset') return;
    const t = tables.get(op.table);
    const old = before.get(op.table);
    if (!t || !old) return;
    // Columns another operation of the statement (re)defines keep that definition.
    const redefined = new Set(ops.flatMap((o, j) => ((o.op === 'modify-column' || o.op === 'add-column') && j !== i ? [o.column.name.toLowerCase()] : [])));
    const columns = t.columns.map((c) => {
      const was = old.columns.find((o) => o.name === c.name);
      if (!was || redefined.has(c.name.toLowerCase())) return c;
      return convertedText(was, op.charset, op.collation ?? defaultCollation(op.charset)) ?? c;
    });
    tables.set(op.table, { ...t, columns });
  });
  return tables;
}

/**
 * RENAME TABLE also renames the foreign keys the server named after the table (`a_ibfk_1` becomes
 * `b_ibfk_1`, measured on MariaDB 10.11), which the engine-neutral rename does not say: the
 * definitions after it get those names, so a later DROP FOREIGN KEY finds its key.
 */
function renameGeneratedForeignKeys(tables: Map<string, TableSchema>, ops: readonly SchemaOperation[]): Map<string, TableSchema> {
  // Each table's name now → its name before the statement (a swap goes through a temporary name).
  const origin = new Map<string, string>();
  for (const op of ops) {
    if (op.op !== 'rename-tables') continue;
    for (const { from, to } of op.pairs) {
      origin.set(to, origin.get(from) ?? from);
      origin.delete(from);
    }
  }
  for (const [to, from] of origin) {
    const t = tables.get(to);
    if (!t?.foreignKeys || from === to) continue;
    const prefix = `${from}_ibfk_`.toLowerCase();
    const renamed = t.foreignKeys.map((f) => (f.name.toLowerCase().startsWith(prefix) && /^\d+$/.test(f.name.slice(prefix.length)) ? { ...f, name: `${to}_ibfk_${f.name.slice(prefix.length)}` } : f));
    tables.set(to, { ...t, foreignKeys: renamed });
  }
  return tables;
}

interface AlterState {
  readonly table: string;
  readonly before: TableSchema;
  /** The charset a new character column takes: the table's default, changed by this statement's options. */
  defaults: CharsetDefaults;
  rename: QName | undefined;
  /** Index names this statement added so far, lower case (an unnamed index's made-up name must not take one). */
  readonly added: Set<string>;
}

function hasColumn(t: TableSchema, name: string): boolean {
  const n = name.toLowerCase();
  return t.columns.some((c) => c.name.toLowerCase() === n) || t.generated.some((g) => g.toLowerCase() === n);
}

/** The table's secondary index names (TableSchema.indexes), lower case → whether unique. */
function indexNamesOf(t: TableSchema): Map<string, boolean> {
  return new Map((t.indexes ?? []).map((i) => [i.name.toLowerCase(), i.unique] as const));
}

/** The name MySQL gives an index declared without one: its first column's, then _2, _3 … while taken. */
function autoIndexName(st: AlterState, column: string): string {
  const known = indexNamesOf(st.before);
  const taken = (n: string) => known.has(n.toLowerCase()) || st.added.has(n.toLowerCase());
  let name = column;
  for (let i = 2; taken(name); i++) name = `${column}_${i}`;
  return name;
}

/**
 * The name MariaDB/MySQL give a foreign key declared without one: `<table>_ibfk_<n>`, n one more
 * than the highest such number the table has (or this statement gave).
 */
/** A synced table's own name in its database (a qualified name's table part under --databases), as the server names things after it. */
function ownName(name: string, ctx: DdlContext): string {
  return ctx.databases ? splitName(name).table : name;
}

function autoForeignKeyName(table: string, taken: readonly string[]): string {
  const prefix = `${table}_ibfk_`.toLowerCase();
  let n = 0;
  for (const name of taken) {
    const lower = name.toLowerCase();
    if (lower.startsWith(prefix) && /^\d+$/.test(lower.slice(prefix.length))) n = Math.max(n, Number(lower.slice(prefix.length)));
  }
  return `${table}_ibfk_${n + 1}`;
}

/** ON DELETE / ON UPDATE's action. */
function readRule(c: Cursor): ForeignKeyRule {
  if (c.accept('CASCADE')) return 'CASCADE';
  if (c.accept('RESTRICT')) return 'RESTRICT';
  if (c.accept('SET', 'NULL')) return 'SET NULL';
  if (c.accept('SET', 'DEFAULT')) return 'SET DEFAULT';
  if (c.accept('NO', 'ACTION')) return 'NO ACTION';
  throw new DefinitionError(`a referential action expected at ${c.where()}`);
}

function skipIndexType(c: Cursor): void {
  if (c.accept('USING')) c.next();
}

function quoteName(n: string): string {
  return '`' + n.replace(/`/g, '``') + '`';
}

/** The table's default charset and collation: its CREATE statement's, else its character columns', else utf8mb4. */
/**
 * Reads `VERB [COLUMN] [IF EXISTS] name`: the column's name, or undefined when IF EXISTS names a
 * column the table does not have (the specification then does nothing).
 */
function existingColumn(c: Cursor, before: TableSchema, verb: string): string | undefined {
  c.accept(verb);
  c.accept('COLUMN');
  const ifExists = c.accept('IF', 'EXISTS');
  const name = c.name();
  return ifExists && !hasColumn(before, name) ? undefined : name;
}

export function tableDefaults(t: TableSchema): CharsetDefaults {
  const cs = /DEFAULT CHARSET=(\w+)/i.exec(t.createStatement ?? '')?.[1];
  const co = /COLLATE=(\w+)/i.exec(t.createStatement ?? '')?.[1];
  if (cs) return { charset: canonicalCharset(cs), collation: co ? canonicalCollation(co) : defaultCollation(cs) };
  if (co) return { charset: charsetOfCollation(co), collation: canonicalCollation(co) };
  const text = t.columns.find((c) => c.charset !== undefined && c.charset !== 'binary' && c.collation !== undefined);
  if (text) return { charset: text.charset as string, collation: text.collation as string };
  return { charset: 'utf8mb4', collation: 'utf8mb4_general_ci' };
}

/** The defaults after table options ([DEFAULT] CHARACTER SET|CHARSET [=] cs, [DEFAULT] COLLATE [=] co). */
function optionDefaults(tokens: readonly Token[], current: CharsetDefaults): CharsetDefaults {
  let charset: string | undefined;
  let collation: string | undefined;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i] as Token;
    if (t.depth !== (tokens[0] as Token).depth) continue;
    let k: number;
    if (isWord(t, 'CHARSET')) k = i + 1;
    else if (isWord(t, 'CHARACTER') && isWord(tokens[i + 1], 'SET')) k = i + 2;
    else if (isWord(t, 'COLLATE')) {
      let j = i + 1;
      if (isPunct(tokens[j], '=')) j++;
      const v = tokens[j];
      if (v && (isName(v) || v.kind === 'string')) collation = canonicalCollation(isName(v) ? nameOf(v) : v.value);
      continue;
    } else continue;
    if (isPunct(tokens[k], '=')) k++;
    const v = tokens[k];
    if (v && (isName(v) || v.kind === 'string')) charset = canonicalCharset(isName(v) ? nameOf(v) : v.value);
  }
  if (charset === undefined && collation === undefined) return current;
  const cs = charset ?? (collation ? charsetOfCollation(collation) : current.charset);
  return { charset: cs, collation: collation ?? defaultCollation(cs) };
}

/**
 * Partition options follow an ALTER's specifications without a comma (ALTER TABLE t ADD c int
 * PARTITION BY HASH(id)): split them off as a specification of their own.
 */
function splitPartitionOptions(s: Token[]): Token[][] {
  const d = s[0]?.depth ?? 0;
  for (let i = 1; i < s.length; i++) {
    const t = s[i] as Token;
    if (t.depth !== d) continue;
    if ((isWord(t, 'PARTITION') && isWord(s[i + 1], 'BY')) || (isWord(t, 'REMOVE') && isWord(s[i + 1], 'PARTITIONING'))) return [s.slice(0, i), s.slice(i)];
  }
  return [s];
}
