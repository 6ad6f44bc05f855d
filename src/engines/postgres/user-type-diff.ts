import type { Column, TableSchema } from '../../core/schema.js';
import type { TypeRef, UserType } from '../../core/user-types.js';
import { quoteIdent, quoteLiteral } from './sql.js';
import { withLogical } from './types.js';

/**
 * A user type changed on a PostgreSQL source while streaming (ALTER TYPE, ALTER DOMAIN, reported by
 * the event trigger): which synced columns use it, their definitions with the type's new
 * description, and whether a target can follow the change. Pure functions; the stream asks the
 * catalogue for the new description, and a PostgreSQL target alters its own type to match
 * (user-type-ddl.ts alterUserTypeSql).
 */

/** Whether `t` is the type `u` names (a type is known by kind and name in the schema). */
const same = (t: UserType, u: UserType) => t.kind === u.kind && t.name === u.name;

/** The reference with every use of `now`'s type (by kind and name) replaced by `now`; the same object when it has none. */
export function replaceUserType(ref: TypeRef, now: UserType): TypeRef {
  const u = ref.user;
  if (!u) return ref;
  if (same(u, now)) return u === now ? ref : { ...ref, user: now };
  switch (u.kind) {
    case 'domain': {
      const base = replaceUserType(u.base, now);
      return base === u.base ? ref : { ...ref, user: { ...u, base } };
    }
    case 'composite': {
      const attributes = u.attributes.map((a) => {
        const type = replaceUserType(a.type, now);
        return type === a.type ? a : { ...a, type };
      });
      return attributes.every((a, i) => a === u.attributes[i]) ? ref : { ...ref, user: { ...u, attributes } };
    }
    case 'range': {
      const subtype = replaceUserType(u.subtype, now);
      return subtype === u.subtype ? ref : { ...ref, user: { ...u, subtype } };
    }
    default:
      return ref;
  }
}

/** The description of the type of `now`'s kind and name that `ref` uses, directly or through other types. */
export function findUserType(ref: TypeRef | undefined, now: UserType): UserType | undefined {
  const u = ref?.user;
  if (!u) return undefined;
  if (same(u, now)) return u;
  switch (u.kind) {
    case 'domain':
      return findUserType(u.base, now);
    case 'composite':
      for (const a of u.attributes) {
        const found = findUserType(a.type, now);
        if (found) return found;
      }
      return undefined;
    case 'range':
      return findUserType(u.subtype, now);
    default:
      return undefined;
  }
}

/** A table's definition with `now` in place of the type of its kind and name, and the columns that use it (none: the table does not). */
export function withUserType(table: TableSchema, now: UserType): { after: TableSchema; columns: Column[] } {
  const columns: Column[] = [];
  const cols = table.columns.map((c) => {
    const ref = c.userType ? replaceUserType(c.userType, now) : undefined;
    if (!ref || ref === c.userType) return c;
    const col: Column = { ...c, userType: ref, ...(now.kind === 'enum' && c.enumType === now.name ? { enumLabels: [...now.labels] } : {}) };
    columns.push(col);
    return col;
  });
  if (columns.length === 0) return { after: table, columns };
  const after = withLogical({ ...table, columns: cols });
  return { after, columns: columns.map((c) => after.columns.find((x) => x.name === c.name) as Column) };
}

const labels = (l: readonly string[]) => l.map(quoteLiteral).join(', ');

/** What changed, in words, for the ddl event's statement ('labels 'a', 'b' → 'a', 'b', 'c''). */
export function userTypeChangeWords(was: UserType, now: UserType): string {
  if (was.kind === 'enum' && now.kind === 'enum') return `enum labels ${labels(was.labels)} → ${labels(now.labels)}`;
  if (was.kind === 'domain' && now.kind === 'domain') {
    const parts: string[] = [];
    if (was.notNull !== now.notNull) parts.push(now.notNull ? 'SET NOT NULL' : 'DROP NOT NULL');
    if (was.default !== now.default) parts.push(now.default !== undefined ? `SET DEFAULT ${now.default}` : 'DROP DEFAULT');
    const had = new Map(was.checks.map((c) => [c.name, c.definition]));
    const has = new Map(now.checks.map((c) => [c.name, c.definition]));
    for (const [name, def] of had) if (has.get(name) !== def) parts.push(`DROP CONSTRAINT ${quoteIdent(name)}`);
    for (const [name, def] of has) if (had.get(name) !== def) parts.push(`ADD CONSTRAINT ${quoteIdent(name)} ${def}`);
    return `domain ${parts.join(', ') || 'unchanged'}`;
  }
  if (was.kind === 'composite' && now.kind === 'composite') {
    const attrs = (t: typeof was) => t.attributes.map((a) => `${quoteIdent(a.name)} ${a.type.sql}`).join(', ');
    return `composite attributes (${attrs(was)}) → (${attrs(now)})`;
  }
  return `${was.kind} → ${now.kind}`;
}

/**
 * Why a change of a user type cannot be followed, or undefined when it can: an enum may only gain
 * labels (ADD VALUE: the old labels in their order within the new; a label renamed or a reordering
 * would change what the target's rows hold), a composite only gain attributes at its end (ADD
 * ATTRIBUTE: a dropped, renamed or retyped attribute would change the values rows hold), a domain
 * any of its constraints, default and NOT NULL (its base type cannot change); the kind never.
 */
export function userTypeChangeUnsupported(was: UserType, now: UserType): string | undefined {
  if (was.kind !== now.kind) return `its kind changed from ${was.kind} to ${now.kind}`;
  if (was.kind === 'enum' && now.kind === 'enum') {
    let at = 0;
    for (const l of now.labels) if (l === was.labels[at]) at++;
    if (at === was.labels.length) return undefined;
    return `its labels ${labels(was.labels)} became ${labels(now.labels)}: a label renamed (ALTER TYPE … RENAME VALUE) changes what rows already on the target hold, and only added labels (ADD VALUE) are followed`;
  }
  if (was.kind === 'domain' && now.kind === 'domain') {
    return was.base.sql === now.base.sql ? undefined : `its base type changed from ${was.base.sql} to ${now.base.sql}`;
  }
  if (was.kind === 'composite' && now.kind === 'composite') {
    const prefix = was.attributes.every((a, i) => now.attributes[i]?.name === a.name && now.attributes[i]?.type.sql === a.type.sql);
    if (prefix) return undefined;
    return `its attributes changed from (${was.attributes.map((a) => `${a.name} ${a.type.sql}`).join(', ')}) to (${now.attributes.map((a) => `${a.name} ${a.type.sql}`).join(', ')}): only attributes added at the end (ADD ATTRIBUTE) are followed, for a dropped, renamed or retyped attribute changes the values rows already on the target hold`;
  }
  return `a ${was.kind} type's change is not followed`;
}
