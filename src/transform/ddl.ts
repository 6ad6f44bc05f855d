import type { StreamEvent } from '../core/change.js';
import { ErrorCode, TributaryError } from '../core/errors.js';
import type { SchemaOperation } from '../core/schema-change.js';
import type { TableSchema } from '../core/schema.js';
import type { TransformRules } from './rules.js';
import { tableView, type FilterBinder, type TableView } from './view.js';

type DdlEvent = Extract<StreamEvent, { type: 'ddl' }>;

/**
 * A schema change of the source as the consumers see it under the rules: tables under their target
 * names, operations on excluded columns (and indexes, constraints and foreign keys over them) left
 * out, the definitions before and after as views. `current` (source name → view) is updated to the
 * tables after the change, so the stream's later rows are trimmed and judged with them.
 *
 * What the rules cannot follow stops the sync in one of two ways:
 * - the event is made `unsupported` (the applier stops on it, naming why; --skip-ddl goes past it)
 *   when the view after it still holds nothing the rules leave out: an excluded column renamed (its
 *   new name is left out too, until the rules name it), a column renamed onto an excluded name, a
 *   default computed from an excluded column, a table brought under a target name another synced
 *   table already has;
 * - DDL_UNSUPPORTED is thrown (fatal: no view could keep the rules) when a key comes to include an
 *   excluded column, a row filter no longer binds to its table, or a RENAME TABLE gives a table a
 *   name with other rules than its own (its excluded columns or its filter would stop applying).
 *   The message names the statement, its position and the fix.
 */
export function transformDdl(ev: DdlEvent, current: Map<string, TableView>, rules: TransformRules, binder: FilterBinder, describePosition: (p: string) => string = (p) => p): DdlEvent {
  const why: string[] = [];
  const fatal = (reason: string): TributaryError =>
    new TributaryError(
      ErrorCode.DDL_UNSUPPORTED,
      `schema change at ${describePosition(ev.position)} ("${ev.statement.slice(0, 200)}") cannot be followed under the selective sync's rules: ${reason}`,
    );
  // Renames first: a table renamed to a name with other rules would change what the target holds.
  for (const op of ev.operations ?? []) {
    if (op.op !== 'rename-tables') continue;
    for (const p of op.pairs) {
      const differ = rulesDiffer(rules, p.from, p.to);
      if (differ) throw fatal(`it renames table ${p.from} to ${p.to}, and ${differ}; give ${p.to} the same rules as ${p.from} and start over with --force, or rename it to a name with the same rules`);
    }
  }
  // Columns renamed out of, or onto, an excluded name stay out of the view (it never widens).
  const alsoExcluded = new Map<string, string[]>();
  for (const op of ev.operations ?? []) {
    if (op.op !== 'rename-column') continue;
    const excluded = (c: string) => rules.excludedColumns(op.table).some((x) => x.toLowerCase() === c.toLowerCase());
    if (excluded(op.from)) alsoExcluded.set(op.table, [...(alsoExcluded.get(op.table) ?? []), op.to]);
  }
  const viewAfter = (full: TableSchema): TableView => {
    try {
      return tableView(full, rules, binder, false, alsoExcluded.get(full.name) ?? []);
    } catch (err) {
      throw fatal(`${(err as Error).message.replace(/; (fix|exclude|drop)[^;]*$/, '')}; change the rules (--exclude-columns, --where) to match the table and start over with --force`);
    }
  };
  const before = ev.before && new Map([...ev.before].map(([name, full]) => [name, current.get(name) ?? tableView(full, rules, binder, false)] as const));
  const after = ev.after && new Map([...ev.after].map(([name, full]) => [name, viewAfter(full)] as const));

  // Two source tables may not come to share one target name.
  if (after) {
    const gone = new Set([...(ev.before?.keys() ?? [])].filter((n) => !ev.after?.has(n)));
    for (const [name, v] of after) {
      for (const [other, o] of current) {
        if (other !== name && !gone.has(other) && !after.has(other) && o.view.name === v.view.name) {
          why.push(`it brings source table ${name} under target name ${v.view.name}, which synced table ${other} already has (--table-rewrites); rewrite one of them to another name`);
        }
      }
    }
  }

  const operations = ev.operations?.flatMap((op) => {
    const out = transformOperation(op, rules, before, after, why);
    return out ? [out] : [];
  });

  if (after && ev.before) {
    for (const name of ev.before.keys()) current.delete(name);
    for (const [name, v] of after) current.set(name, v);
  }
  const unsupported = [ev.unsupported, ...why].filter((w): w is string => w !== undefined);
  const { before: _b, after: _a, operations: _o, unsupported: _u, adopt: _d, ...rest } = ev;
  return {
    ...rest,
    tables: ev.tables.map((t) => rules.targetName(t)),
    ...(operations ? { operations } : {}),
    ...(before ? { before: new Map([...before].map(([, v]) => [v.view.name, v.view])) } : {}),
    ...(after ? { after: new Map([...after].map(([, v]) => [v.view.name, v.view])) } : {}),
    ...(ev.adopt ? { adopt: ev.adopt.map((t) => rules.targetName(t)) } : {}),
    ...(unsupported.length ? { unsupported: unsupported.join('; ') } : {}),
  };
}

/** How the rules of source tables `a` and `b` differ (excluded columns, filter), or undefined when they are the same. */
function rulesDiffer(rules: TransformRules, a: string, b: string): string | undefined {
  const cols = (t: string) => rules.excludedColumns(t).map((c) => c.toLowerCase()).sort().join(', ');
  if (cols(a) !== cols(b)) return `--exclude-columns leaves out (${cols(a) || 'nothing'}) of ${a} but (${cols(b) || 'nothing'}) of ${b}`;
  const f = (t: string) => {
    const s = rules.filterOf(t);
    return s === undefined ? 'no filter' : s.kind === 'expression' ? `--where '${s.text}'` : `the predicate pair ${s.pair.sql}`;
  };
  if (f(a) !== f(b)) return `${a} has ${f(a)} but ${b} has ${f(b)}`;
  return undefined;
}

/** Whether SQL text names `column` as an identifier (bare or quoted, any case). */
function mentions(text: string, column: string): boolean {
  const esc = column.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(^|[^A-Za-z0-9_$])[\`"]?${esc}[\`"]?(?=$|[^A-Za-z0-9_$])`, 'i').test(text);
}

/** One operation under the rules, or undefined when it only touches what the target leaves out. */
function transformOperation(
  op: SchemaOperation,
  rules: TransformRules,
  before: ReadonlyMap<string, TableView> | undefined,
  after: ReadonlyMap<string, TableView> | undefined,
  why: string[],
): SchemaOperation | undefined {
  if (op.op === 'rename-tables') {
    // A rename onto the name the target already holds the table under is nothing to do there.
    const pairs = op.pairs.map((p) => ({ from: rules.targetName(p.from), to: rules.targetName(p.to) })).filter((p) => p.from !== p.to);
    return pairs.length ? { ...op, pairs } : undefined;
  }
  if (op.op === 'create-table') {
    // The table as the statement made it: its view, without the definition it came from (the after map carries that).
    const made = after?.get(op.table.name)?.view ?? { ...op.table, name: rules.targetName(op.table.name) };
    const { transformedFrom: _t, ...table } = made;
    return { ...op, table };
  }
  const source = op.table;
  const table = rules.targetName(source);
  const gone = rules.excludedColumns(source);
  const excluded = (column: string) => gone.some((c) => c.toLowerCase() === column.toLowerCase());
  const v = before?.get(source);
  // An operation whose own text names an excluded column is rendered from its fields instead.
  const text = 'sourceText' in op ? op.sourceText : undefined;
  const textNamesExcluded = text !== undefined && gone.some((c) => mentions(text, c));
  const plain = <T extends SchemaOperation>(o: T): T => {
    const { sourceText: _s, ...rest } = o as T & { sourceText?: string };
    return rest as unknown as T;
  };
  const renamed = <T extends SchemaOperation>(o: T): T => ({ ...(textNamesExcluded ? plain(o) : o), table });
  switch (op.op) {
    case 'add-column':
    case 'modify-column': {
      if (excluded(op.column.name)) return undefined;
      if (op.default?.kind === 'expression' && gone.some((c) => mentions(op.default?.kind === 'expression' ? op.default.sql : '', c))) {
        why.push(`column ${source}.${op.column.name}'s default is computed from a column --exclude-columns leaves out; the target cannot compute it. Give the target the column by hand, then go on past the statement with --skip-ddl`);
        return undefined;
      }
      const placedAfterExcluded = op.place && 'after' in op.place && excluded(op.place.after);
      if (placedAfterExcluded) {
        // After the last column before it that the target has, so the target's order stays the view's.
        const cols = v?.full.columns ?? [];
        const at = cols.findIndex((c) => c.name.toLowerCase() === (op.place as { after: string }).after.toLowerCase());
        const prior = cols.slice(0, Math.max(0, at)).filter((c) => !excluded(c.name)).at(-1);
        return { ...plain(op), table, place: prior ? { after: prior.name } : { first: true } };
      }
      return renamed(op);
    }
    case 'drop-column':
    case 'set-default':
      return excluded(op.column) ? undefined : renamed(op);
    case 'rename-column':
      if (excluded(op.from)) {
        why.push(`it renames column ${source}.${op.from}, which --exclude-columns leaves out, to ${op.to}: the sync keeps ${op.to} out of the target too if you go on past the statement with --skip-ddl; add ${source}.${op.to} to --exclude-columns for the next start`);
        return undefined;
      }
      if (excluded(op.to)) {
        why.push(`it renames column ${source}.${op.from} to ${op.to}, a name --exclude-columns leaves out, while the target holds the column's values; drop ${source}.${op.to} from --exclude-columns (and start over with --force), or remove the column from the target by hand and go on past the statement with --skip-ddl`);
        return undefined;
      }
      // CHANGE COLUMN … AFTER an excluded column: both halves render from their fields.
      return renamed(op);
    case 'add-index':
      if (op.columns.some(excluded)) return undefined;
      return renamed(op);
    case 'drop-index':
    case 'rename-index': {
      const name = op.op === 'drop-index' ? op.name : op.from;
      if (op.op === 'drop-index' && op.primary) return renamed(op);
      const onSource = v?.full.indexes?.some((i) => i.name.toLowerCase() === name.toLowerCase());
      const onTarget = v?.view.indexes?.some((i) => i.name.toLowerCase() === name.toLowerCase());
      return onSource && !onTarget ? undefined : renamed(op);
    }
    case 'add-foreign-key': {
      const fk = op.foreignKey;
      const parentGone = rules.excludedColumns(fk.referencedTable).some((c) => fk.referencedColumns.some((r) => r.toLowerCase() === c.toLowerCase()));
      if (fk.columns.some(excluded) || parentGone) return undefined;
      if (!rules.renames(fk.referencedTable)) return renamed(op);
      return { ...plain(op), table, foreignKey: { ...fk, referencedTable: rules.targetName(fk.referencedTable) } };
    }
    case 'drop-foreign-key': {
      const onSource = v?.full.foreignKeys?.some((f) => f.name === op.name);
      const onTarget = v?.view.foreignKeys?.some((f) => f.name === op.name);
      return onSource && !onTarget ? undefined : renamed(op);
    }
    case 'table-options':
      // Only text: a constraint, an attribute or a partitioning over an excluded column is the source's alone.
      return textNamesExcluded ? undefined : { ...op, table };
    case 'convert-charset':
    case 'drop-table':
    case 'truncate':
      return { ...op, table };
  }
}
