import type { StreamEvent } from '../core/change.js';
import type { SchemaOperation } from '../core/schema-change.js';
import type { TableSchema } from '../core/schema.js';
import type { TransformRules } from './rules.js';
import { tableView, type FilterBinder, type TableView } from './view.js';

type DdlEvent = Extract<StreamEvent, { type: 'ddl' }>;

/**
 * A schema change of the source as the consumers see it under the rules: tables under their target
 * names, operations on excluded columns (and indexes and foreign keys over them) left out, the
 * definitions before and after as views. `current` (source name → view) is updated to the tables
 * after the change, so the stream's later rows are trimmed and judged with them.
 *
 * What the rules cannot follow makes the event `unsupported` (the applier stops the sync on it,
 * naming why, and --skip-ddl goes past it): an excluded column renamed (its new name is not
 * excluded, and its values are not on the target), a key over an excluded column, a row filter whose
 * column the change dropped or retyped beyond its literals, and a table brought under a target name
 * another synced table already has.
 */
export function transformDdl(ev: DdlEvent, current: Map<string, TableView>, rules: TransformRules, binder: FilterBinder): DdlEvent {
  const why: string[] = [];
  const views = new Map<string, TableView>();
  const viewAfter = (full: TableSchema): TableView => {
    try {
      return tableView(full, rules, binder, false);
    } catch (err) {
      why.push((err as Error).message);
      // Followed only past --skip-ddl: what of the rules can still be applied.
      return tableView(full, rules, binder, false, true);
    }
  };
  const before = ev.before && new Map([...ev.before].map(([name, full]) => [name, current.get(name) ?? tableView(full, rules, binder, false)] as const));
  const after = ev.after && new Map([...ev.after].map(([name, full]) => [name, viewAfter(full)] as const));
  for (const [name, v] of after ?? []) views.set(name, v);

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

/** One operation under the rules, or undefined when it only touches what the target leaves out. */
function transformOperation(
  op: SchemaOperation,
  rules: TransformRules,
  before: ReadonlyMap<string, TableView> | undefined,
  after: ReadonlyMap<string, TableView> | undefined,
  why: string[],
): SchemaOperation | undefined {
  if (op.op === 'rename-tables') return { ...op, pairs: op.pairs.map((p) => ({ from: rules.targetName(p.from), to: rules.targetName(p.to) })) };
  if (op.op === 'create-table') {
    // The table as the statement made it: its view, without the definition it came from (the after map carries that).
    const made = after?.get(op.table.name)?.view ?? { ...op.table, name: rules.targetName(op.table.name) };
    const { transformedFrom: _t, ...table } = made;
    return { ...op, table };
  }
  const source = op.table;
  const table = rules.targetName(source);
  const excluded = (column: string) => rules.excludedColumns(source).some((c) => c.toLowerCase() === column.toLowerCase());
  const v = before?.get(source);
  // An operation whose text names a renamed table or an excluded column is rendered from its fields.
  const plain = <T extends SchemaOperation>(o: T): T => {
    const { sourceText: _s, ...rest } = o as T & { sourceText?: string };
    return rest as unknown as T;
  };
  switch (op.op) {
    case 'add-column':
    case 'modify-column': {
      if (excluded(op.column.name)) return undefined;
      const placedAfterExcluded = op.place && 'after' in op.place && excluded(op.place.after);
      if (placedAfterExcluded) {
        // After the last column before it that the target has, so the target's order stays the view's.
        const cols = v?.full.columns ?? [];
        const at = cols.findIndex((c) => c.name.toLowerCase() === (op.place as { after: string }).after.toLowerCase());
        const prior = cols.slice(0, Math.max(0, at)).filter((c) => !excluded(c.name)).at(-1);
        return { ...plain(op), table, place: prior ? { after: prior.name } : { first: true } };
      }
      return { ...op, table };
    }
    case 'drop-column':
    case 'set-default':
      return excluded(op.column) ? undefined : { ...op, table };
    case 'rename-column':
      if (excluded(op.from)) {
        why.push(`it renames column ${source}.${op.from}, which --exclude-columns leaves out, to ${op.to}: add ${source}.${op.to} to --exclude-columns and start over with --force, or go on past it with --skip-ddl`);
        return undefined;
      }
      if (excluded(op.to)) {
        why.push(`it renames column ${source}.${op.from} to ${op.to}, a name --exclude-columns leaves out: the target holds the column's values; drop ${source}.${op.to} from --exclude-columns, or go on past it with --skip-ddl`);
        return undefined;
      }
      return { ...op, table };
    case 'add-index':
      if (op.columns.some(excluded)) {
        if (op.primary) why.push(`it keys ${source} by (${op.columns.join(', ')}), which includes a column --exclude-columns leaves out; the target's rows need their key`);
        return undefined;
      }
      return { ...op, table };
    case 'drop-index':
    case 'rename-index': {
      const name = op.op === 'drop-index' ? op.name : op.from;
      if (op.op === 'drop-index' && op.primary) return { ...op, table };
      const onSource = v?.full.indexes?.some((i) => i.name.toLowerCase() === name.toLowerCase());
      const onTarget = v?.view.indexes?.some((i) => i.name.toLowerCase() === name.toLowerCase());
      return onSource && !onTarget ? undefined : { ...op, table };
    }
    case 'add-foreign-key': {
      const fk = op.foreignKey;
      const parentGone = rules.excludedColumns(fk.referencedTable).some((c) => fk.referencedColumns.some((r) => r.toLowerCase() === c.toLowerCase()));
      if (fk.columns.some(excluded) || parentGone) return undefined;
      if (!rules.renames(fk.referencedTable)) return { ...op, table };
      return { ...plain(op), table, foreignKey: { ...fk, referencedTable: rules.targetName(fk.referencedTable) } };
    }
    case 'drop-foreign-key': {
      const onSource = v?.full.foreignKeys?.some((f) => f.name === op.name);
      const onTarget = v?.view.foreignKeys?.some((f) => f.name === op.name);
      return onSource && !onTarget ? undefined : { ...op, table };
    }
    case 'convert-charset':
    case 'table-options':
    case 'drop-table':
    case 'truncate':
      return { ...op, table };
  }
}
