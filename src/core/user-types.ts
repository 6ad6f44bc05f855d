/**
 * User-defined and extension types (PostgreSQL's CREATE DOMAIN / TYPE … AS ENUM / AS (…) / AS
 * RANGE, and types an extension installs), as a source describes them for a target: what a target
 * of the same engine must create before the tables that use them, and what another engine maps
 * them by (the column's logical type, core/logical.ts, stays the authority for values).
 *
 * A description refers to the types it is built on by `TypeRef`: a built-in type by its
 * declaration, a user type by its own description, so a target walks the tree and creates the
 * leaves first (an enum, then a domain over it, then a composite holding the domain).
 */

/** A type another type or a column is declared with. */
export interface TypeRef {
  /** The declaration as the source prints it (format_type: 'integer', 'numeric(4,2)', 'citext', 'mood[]'). */
  readonly sql: string;
  /** The user or extension type it is (or is an array of); undefined for a built-in type. */
  readonly user?: UserType;
  /** True when the reference is to an array of `user`. */
  readonly array?: boolean;
}

/** CREATE TYPE name AS ENUM (labels): the labels in sort order (pg_enum.enumsortorder), exactly as spelled. */
export interface EnumUserType {
  readonly kind: 'enum';
  readonly name: string;
  readonly labels: readonly string[];
}

/** CREATE DOMAIN name AS base [DEFAULT …] [NOT NULL] [CONSTRAINT c CHECK (…)]… */
export interface DomainUserType {
  readonly kind: 'domain';
  readonly name: string;
  readonly base: TypeRef;
  /** The domain's own NOT NULL (a column of it refuses NULL whatever the column says). */
  readonly notNull: boolean;
  /** The domain's default expression as the catalogue prints it (pg_type.typdefault), if any. */
  readonly default?: string;
  /** CHECK constraints in name order: the constraint's name and its definition ('CHECK (VALUE >= 1901)'). */
  readonly checks: readonly { readonly name: string; readonly definition: string }[];
}

/** CREATE TYPE name AS (attribute type, …): the attributes in order. */
export interface CompositeUserType {
  readonly kind: 'composite';
  readonly name: string;
  readonly attributes: readonly { readonly name: string; readonly type: TypeRef }[];
}

/** CREATE TYPE name AS RANGE (SUBTYPE = …). */
export interface RangeUserType {
  readonly kind: 'range';
  readonly name: string;
  readonly subtype: TypeRef;
}

/**
 * A type an extension installs (citext, hstore, vector, PostGIS geometry): a target creates the
 * extension (CREATE EXTENSION), never the type.
 */
export interface ExtensionUserType {
  readonly kind: 'extension';
  readonly name: string;
  /** pg_extension.extname: 'citext', 'hstore', 'vector', 'postgis'. */
  readonly extension: string;
}

export type UserType = EnumUserType | DomainUserType | CompositeUserType | RangeUserType | ExtensionUserType;

/** The user types a reference is built on, directly or not. */
function dependencies(t: UserType): TypeRef[] {
  switch (t.kind) {
    case 'domain':
      return [t.base];
    case 'composite':
      return t.attributes.map((a) => a.type);
    case 'range':
      return [t.subtype];
    default:
      return [];
  }
}

/**
 * Every user type the references use, each once (by kind and name), dependencies before the types
 * built on them: the order a target creates them in. Two different descriptions of one name (two
 * source schemas' types) are returned as found: the target's comparison with what it holds refuses
 * the second by name.
 */
export function userTypesInOrder(refs: readonly (TypeRef | undefined)[]): UserType[] {
  const out: UserType[] = [];
  const seen = new Set<string>();
  const visit = (t: UserType): void => {
    const key = `${t.kind}:${t.name}`;
    if (seen.has(key)) return;
    seen.add(key);
    for (const d of dependencies(t)) if (d.user) visit(d.user);
    out.push(t);
  };
  for (const r of refs) if (r?.user) visit(r.user);
  return out;
}
