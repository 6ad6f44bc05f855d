import type pg from 'pg';
import { describeDsn, type Dsn } from '../../config/dsn.js';
import { ErrorCode, TributaryError } from '../../core/errors.js';
import type { TableSchema } from '../../core/schema.js';
import { userTypesInOrder, type TypeRef, type UserType } from '../../core/user-types.js';
import { qualified, quoteIdent, quoteLiteral } from './sql.js';
import type { PostgresColumnType } from './types.js';
import { describeTypeRefs } from './user-types.js';

type Queryable = Pick<pg.Client | pg.PoolClient, 'query'>;

/**
 * A user or extension type the target must hold before the tables that use it: the source's
 * description, and the columns that use it (directly or through another type), for messages.
 */
export interface UserTypePlan {
  readonly type: UserType;
  /** 'table.column' of each column that needs it. */
  readonly columns: readonly string[];
}

/**
 * Every user and extension type the tables' columns need (Column.userType), dependencies first: the
 * order ensureSchema creates them in. A column with a --column-types override needs none.
 */
export function planUserTypes(tables: readonly TableSchema[], types: readonly (readonly PostgresColumnType[])[]): UserTypePlan[] {
  const refs: TypeRef[] = [];
  const columns = new Map<string, string[]>();
  tables.forEach((t, ti) =>
    t.columns.forEach((c, ci) => {
      if (!c.userType || types[ti]?.[ci]?.overridden) return;
      refs.push(c.userType);
      for (const u of userTypesInOrder([c.userType])) {
        const key = `${u.kind}:${u.name}`;
        columns.set(key, [...(columns.get(key) ?? []), `${t.name}.${c.name}`]);
      }
    }),
  );
  return userTypesInOrder(refs).map((type) => ({ type, columns: columns.get(`${type.kind}:${type.name}`) ?? [] }));
}

/**
 * How a target declares a reference: a user type by its name in the target schema ([] for an array
 * of it); an extension's type and a built-in type as the source prints it (an extension's type
 * resolves through the search_path, where CREATE EXTENSION put it).
 */
export function typeRefSql(schema: string, ref: TypeRef): string {
  if (!ref.user || ref.user.kind === 'extension') return ref.sql;
  return `${qualified(schema, ref.user.name)}${ref.array ? '[]' : ''}`;
}

/** The statement that creates a user type in `schema` (CREATE EXTENSION IF NOT EXISTS for an extension's type). */
export function createUserTypeSql(schema: string, t: UserType): string {
  const name = qualified(schema, t.name);
  switch (t.kind) {
    case 'enum':
      return `CREATE TYPE ${name} AS ENUM (${t.labels.map(quoteLiteral).join(', ')})`;
    case 'domain': {
      const parts = [`CREATE DOMAIN ${name} AS ${typeRefSql(schema, t.base)}`];
      if (t.default !== undefined) parts.push(`DEFAULT ${t.default}`);
      if (t.notNull) parts.push('NOT NULL');
      for (const c of t.checks) parts.push(`CONSTRAINT ${quoteIdent(c.name)} ${c.definition}`);
      return parts.join(' ');
    }
    case 'composite':
      return `CREATE TYPE ${name} AS (${t.attributes.map((a) => `${quoteIdent(a.name)} ${typeRefSql(schema, a.type)}`).join(', ')})`;
    case 'range':
      return `CREATE TYPE ${name} AS RANGE (SUBTYPE = ${typeRefSql(schema, t.subtype)})`;
    case 'extension':
      return `CREATE EXTENSION IF NOT EXISTS ${quoteIdent(t.extension)}`;
  }
}

/** 'domain year', 'composite type full_name', … for messages. */
export function userTypeWords(t: UserType): string {
  const what = { enum: 'enum', domain: 'domain', composite: 'composite type', range: 'range type', extension: `type of extension ${t.kind === 'extension' ? t.extension : ''}` }[t.kind];
  return `${what} ${t.name}`;
}

/**
 * Whether the target's existing type of the same name serves the source's: undefined when its
 * definition (described by the same catalogue query, rendered the same way) is the source's, else
 * the error naming the type, both definitions and the fix. `existing` is undefined when the name
 * belongs to a type tributary cannot describe (a base type, a table's row type).
 */
export function userTypeMismatch(schema: string, plan: UserTypePlan, existing: UserType | undefined): TributaryError | undefined {
  const want = createUserTypeSql(schema, plan.type);
  const have = existing && existing.kind === plan.type.kind ? createUserTypeSql(schema, existing) : undefined;
  if (have === want) return undefined;
  const type = qualified(schema, plan.type.name);
  return new TributaryError(
    ErrorCode.TABLE_UNSUPPORTED,
    `target type ${type} is ${have ? `defined as: ${have}` : 'of another kind'}, but the source's ${userTypeWords(plan.type)} (used by ${plan.columns.join(', ')}) is: ${want}; values must keep the source's definition: drop the target's type (DROP TYPE ${type}, after the columns that use it) so tributary creates it, or sync the column${plan.columns.length > 1 ? 's' : ''} as text with --column-types ${plan.columns.map((c) => `${c}=text`).join(',')}`,
  );
}

/**
 * The refusal of an extension's type the target has not installed and cannot install (the role may
 * not, or the server lacks the extension's files): names the type, the extension and the fix.
 */
export function extensionMissing(dsn: Dsn, plan: UserTypePlan, extension: string, reason: string): TributaryError {
  return new TributaryError(
    ErrorCode.TABLE_UNSUPPORTED,
    `target ${describeDsn(dsn)}: the source's ${userTypeWords(plan.type)} (used by ${plan.columns.join(', ')}) needs extension ${extension}, which the target database has not installed and tributary could not create (${reason}); ${installFix(extension, plan)}`,
  );
}

/** How to give the target an extension it lacks, or do without it (a refusal's fix). */
export function installFix(extension: string, plan: UserTypePlan): string {
  return `install it on the target (a superuser: CREATE EXTENSION ${quoteIdent(extension)}; the server needs the extension's package, such as postgresql-contrib or postgresql-15-postgis-3), or sync the column${plan.columns.length > 1 ? 's' : ''} as text with --column-types ${plan.columns.map((c) => `${c}=text`).join(',')}`;
}

/**
 * Whether a column's values may travel in binary COPY between two servers: not when the type is, or
 * is built on, an array of a user type or a composite, whose binary forms carry the type's oid,
 * which differs between servers.
 */
export function binaryCopySafe(ref: TypeRef | undefined): boolean {
  if (!ref?.user) return true;
  if (ref.array) return false;
  return userTypesInOrder([ref]).every((u) => u.kind !== 'composite' && !(u.kind === 'domain' && u.base.array) && !(u.kind === 'range' && u.subtype.array));
}

/**
 * Whether the target already has what a user type plan needs: 'present' (the extension installed,
 * a type of the same definition in `schema`) or 'absent' (to be created); a type of the same name
 * with another definition throws userTypeMismatch. Reads only.
 */
export async function userTypeState(conn: Queryable, schema: string, u: UserTypePlan): Promise<'present' | 'absent'> {
  if (u.type.kind === 'extension') {
    const r = await conn.query('SELECT 1 FROM pg_extension WHERE extname = $1', [u.type.extension]);
    return r.rows.length > 0 ? 'present' : 'absent';
  }
  const r = await conn.query<{ oid: string }>(
    'SELECT t.oid::text AS oid FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = $1 AND t.typname = $2',
    [schema, u.type.name],
  );
  const found = r.rows[0];
  if (!found) return 'absent';
  const [ref] = await describeTypeRefs(conn, [{ oid: Number(found.oid), sql: '' }]);
  const mismatch = userTypeMismatch(schema, u, ref?.array ? undefined : ref?.user);
  if (mismatch) throw mismatch;
  return 'present';
}

/**
 * The statements that turn the target's type `have` into the source's `want` after the source
 * changed it while streaming (ALTER DOMAIN: NOT NULL, default, CHECK constraints by name; ALTER TYPE
 * … ADD ATTRIBUTE … CASCADE for a composite's attributes added at its end), or undefined when
 * they cannot (another kind, a domain's base type, a composite's attributes dropped, renamed or
 * retyped). Enums are ddl.ts addValueStatements'. A CHECK is added validated: the target's rows
 * are the source's at the statement, which passed it, and a NOT VALID one would describe differently.
 */
export function alterUserTypeSql(schema: string, have: UserType, want: UserType): string[] | undefined {
  const name = qualified(schema, want.name);
  if (have.kind === 'domain' && want.kind === 'domain') {
    if (have.base.sql !== want.base.sql) return undefined;
    const out: string[] = [];
    const had = new Map(have.checks.map((c) => [c.name, c.definition]));
    const has = new Map(want.checks.map((c) => [c.name, c.definition]));
    for (const [n, def] of had) if (has.get(n) !== def) out.push(`ALTER DOMAIN ${name} DROP CONSTRAINT IF EXISTS ${quoteIdent(n)}`);
    if (have.default !== want.default) out.push(`ALTER DOMAIN ${name} ${want.default !== undefined ? `SET DEFAULT ${want.default}` : 'DROP DEFAULT'}`);
    if (have.notNull !== want.notNull) out.push(`ALTER DOMAIN ${name} ${want.notNull ? 'SET' : 'DROP'} NOT NULL`);
    for (const [n, def] of has) if (had.get(n) !== def) out.push(`ALTER DOMAIN ${name} ADD CONSTRAINT ${quoteIdent(n)} ${def}`);
    return out;
  }
  if (have.kind === 'composite' && want.kind === 'composite') {
    const prefix = have.attributes.every((a, i) => want.attributes[i]?.name === a.name && want.attributes[i]?.type.sql === a.type.sql);
    if (!prefix) return undefined;
    return want.attributes.slice(have.attributes.length).map((a) => `ALTER TYPE ${name} ADD ATTRIBUTE ${quoteIdent(a.name)} ${typeRefSql(schema, a.type)} CASCADE`);
  }
  return undefined;
}
