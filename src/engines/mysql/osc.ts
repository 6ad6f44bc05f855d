import type { SchemaOperation } from '../../core/schema-change.js';
import type { TableSchema } from '../../core/schema.js';
import { qualify, splitName } from '../../core/names.js';

/**
 * Online schema change tools (gh-ost, pt-online-schema-change) as the binlog shows them: the tool
 * creates a shadow table like the real one (`_t_gho`, `_t_new`), alters the shadow, copies rows
 * into it (row events of a table the sync does not follow), and swaps names at the end
 * (`RENAME TABLE t TO _t_del, _t_gho TO t`). The sync must not copy the shadow's rows, and at the
 * swap the real table takes the shadow's definition: so the ALTERs run on the shadow are
 * remembered here, and the swap becomes one schema change of the real table made of them.
 *
 * Shadows are recognised by name: each pattern's first capture group is the real table's name.
 * The defaults match both tools' shadows; `--osc-patterns` may add others. Patterns match a
 * table's own name; under --databases (names `db.table`, core/names.ts) a shadow belongs to the real
 * table of its own database (`shop._orders_gho` to `shop.orders`).
 */
export const DEFAULT_SHADOW_PATTERNS: readonly RegExp[] = [/^_(.+)_gho$/, /^_(.+)_new$/];

/**
 * The tools' other tables of a real table `t`: gh-ost's changelog `_t_ghc`, cut-over sentry and old
 * table `_t_del`, pt-online-schema-change's old table `_t_old`. Never synced, whatever the table
 * selection says.
 */
const TOOL_TABLES: readonly RegExp[] = [/^_(.+)_ghc$/, /^_(.+)_del$/, /^_(.+)_old$/];

interface Shadow {
  /** The synced table it is the shadow of. */
  readonly base: string;
  /** Its definition now (the real table's, as it was created like it, after the ALTERs since). */
  schema: TableSchema;
  /** The ALTERs run on it since it was created, in order, naming the shadow. */
  readonly operations: SchemaOperation[];
}

/** What the swap of a shadow onto its real table amounts to: one schema change of the real table. */
export interface ShadowSwap {
  readonly table: string;
  /** The shadow swapped in, no longer followed, with its stored definition (its versioned schema row goes). */
  readonly shadow: TableSchema;
  /** The ALTERs run on the shadow, now naming the real table. */
  readonly operations: SchemaOperation[];
  /** The real table's definition after the swap: the shadow's, under the real name. */
  readonly after: TableSchema;
}

const NAME = '(`(?:[^`]|``)+`|[\\w$]+)(?:\\s*\\.\\s*(`(?:[^`]|``)+`|[\\w$]+))?';
const CREATE_LIKE = new RegExp(`^\\s*(?:/\\*.*?\\*/\\s*)*CREATE\\s+(?:/\\*.*?\\*/\\s*)?TABLE\\s+(?:IF\\s+NOT\\s+EXISTS\\s+)?${NAME}\\s*\\(?\\s*LIKE\\s+${NAME}\\s*\\)?\\s*;?\\s*$`, 'is');

function unquote(id: string): string {
  return id.startsWith('`') ? id.slice(1, -1).replace(/``/g, '`') : id;
}

/** A qualified or bare name's schema and table, from the two groups of NAME. */
function split(a: string | undefined, b: string | undefined): { schema?: string; name: string } {
  return b !== undefined ? { schema: unquote(a ?? ''), name: unquote(b) } : { name: unquote(a ?? '') };
}

/** Shadow name patterns with one `*` for the real table's name ('_*_gho') as the patterns ShadowTables takes. */
export function shadowPatterns(globs: readonly string[]): RegExp[] {
  return globs.map((g) => new RegExp(`^${g.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('(.+)')}$`));
}

/** The shadow tables of one binlog stream. */
export class ShadowTables {
  private readonly shadows = new Map<string, Shadow>();

  constructor(private readonly patterns: readonly RegExp[] = DEFAULT_SHADOW_PATTERNS) {}

  /**
   * Follows again the shadows stored with the checkpoint (TableSchema.shadowOf), as they were at the
   * stream's position: a sync restarted during a tool's run. Definitions without `shadowOf` are not
   * shadows and are left alone.
   */
  restore(tables: readonly TableSchema[]): void {
    for (const t of tables) {
      if (!t.shadowOf) continue;
      const { shadowOf, ...schema } = t;
      this.shadows.set(t.name, { base: shadowOf.table, schema, operations: [...shadowOf.operations] });
    }
  }

  /** The definition to store for shadow `name` (with `shadowOf`), or undefined when it is not followed. */
  stored(name: string): TableSchema | undefined {
    const s = this.shadows.get(name);
    return s ? { ...s.schema, shadowOf: { table: s.base, operations: [...s.operations] } } : undefined;
  }

  /** The shadows' definitions now, by name: what the DDL parser is given beside the synced tables. */
  definitions(): Map<string, TableSchema> {
    return new Map([...this.shadows].map(([name, s]) => [name, s.schema] as const));
  }

  /** Whether `name` is a shadow being followed. */
  has(name: string): boolean {
    return this.shadows.has(name);
  }

  /** Whether `name` is one of an online schema change tool's tables of a synced table (a shadow, a changelog, an old table). */
  isToolTable(name: string, synced: { has(name: string): boolean }): boolean {
    return this.baseOf(name, synced) !== undefined || realTable(TOOL_TABLES, name, synced) !== undefined;
  }

  /** The synced table `name` is a shadow of by the patterns, or undefined. */
  baseOf(name: string, synced: { has(name: string): boolean }): string | undefined {
    return realTable(this.patterns, name, synced);
  }

  /**
   * A `CREATE TABLE shadow LIKE real`, run with `currentSchema` as the session's database: starts
   * following the shadow when it is one of a synced table (the real table of its own database).
   * `nameOf` gives the sync's name of a table of a source database, or undefined for a database
   * the sync does not follow (the stream's rule). Returns the shadow's name when the statement was one.
   */
  created(statement: string, currentSchema: string, synced: ReadonlyMap<string, TableSchema>, nameOf: (schema: string, table: string) => string | undefined): string | undefined {
    const m = CREATE_LIKE.exec(statement);
    if (!m) return undefined;
    const made = split(m[1], m[2]);
    const like = split(m[3], m[4]);
    const madeName = nameOf(made.schema ?? currentSchema, made.name);
    const likeName = nameOf(like.schema ?? currentSchema, like.name);
    if (madeName === undefined || likeName === undefined) return undefined;
    const base = this.baseOf(madeName, synced);
    const real = synced.get(likeName);
    if (base === undefined || base !== likeName || !real) return undefined;
    // LIKE copies no foreign keys (MySQL's rule), and a shadow is never a child whose rows cascade.
    const { createStatement: _c, foreignKeys: _f, ...definition } = real;
    this.shadows.set(madeName, { base, schema: { ...definition, name: madeName }, operations: [] });
    return madeName;
  }

  /**
   * A table created with its own definition (pt-online-schema-change copies the real table's SHOW
   * CREATE TABLE under the shadow's name): starts following it when it is a shadow of a synced
   * table. Returns whether it was one.
   */
  adopt(created: TableSchema, synced: ReadonlyMap<string, TableSchema>): boolean {
    const base = this.baseOf(created.name, synced);
    if (base === undefined) return false;
    this.shadows.set(created.name, { base, schema: created, operations: [] });
    return true;
  }

  /**
   * A parsed statement that touches shadows only: ALTERs are remembered with the definition after
   * them, a DROP forgets the shadow. Returns whether the statement was one.
   */
  record(touched: readonly string[], operations: readonly SchemaOperation[], after: ReadonlyMap<string, TableSchema>): boolean {
    if (touched.length === 0 || !touched.every((t) => this.shadows.has(t))) return false;
    if (operations.some((op) => op.op === 'rename-tables')) return false;
    for (const name of touched) {
      const shadow = this.shadows.get(name) as Shadow;
      const next = after.get(name);
      if (!next) {
        this.shadows.delete(name);
        continue;
      }
      shadow.schema = next;
      shadow.operations.push(...operations.filter((op) => 'table' in op && op.table === name));
    }
    return true;
  }

  /**
   * A RENAME TABLE that moves a shadow onto its real table (the real table moving away in the
   * same statement, to a name nothing follows): the swap, or undefined when the statement is no
   * such swap. The shadow is forgotten.
   */
  swap(operations: readonly SchemaOperation[]): ShadowSwap | undefined {
    if (operations.length !== 1) return undefined;
    const op = operations[0];
    if (op?.op !== 'rename-tables') return undefined;
    const onto = op.pairs.find((p) => this.shadows.get(p.from)?.base === p.to);
    if (!onto) return undefined;
    const shadow = this.shadows.get(onto.from) as Shadow;
    // Every other pair moves the real table away (to the tool's old table): nothing else may be renamed.
    if (op.pairs.some((p) => p !== onto && p.from !== shadow.base)) return undefined;
    const stored = this.stored(onto.from) as TableSchema;
    this.shadows.delete(onto.from);
    const retarget = (o: SchemaOperation): SchemaOperation => ('table' in o && typeof o.table === 'string' ? ({ ...o, table: shadow.base } as SchemaOperation) : o);
    return { table: shadow.base, shadow: stored, operations: shadow.operations.map(retarget), after: { ...shadow.schema, name: shadow.base } };
  }
}

/**
 * The synced table a tool's table `name` belongs to by one of `patterns` (matched against the
 * table's own name; the real table is in the same database), or undefined.
 */
function realTable(patterns: readonly RegExp[], name: string, synced: { has(name: string): boolean }): string | undefined {
  const { namespace, table } = splitName(name);
  for (const p of patterns) {
    const own = p.exec(table)?.[1];
    if (own !== undefined && synced.has(qualify(namespace, own))) return qualify(namespace, own);
  }
  return undefined;
}
