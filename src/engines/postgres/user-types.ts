import type pg from 'pg';
import type { TypeRef, UserType } from '../../core/user-types.js';

type Queryable = Pick<pg.Client | pg.Pool, 'query'>;

/** One pg_type row, with what each kind of user type is built on. */
interface TypeRow {
  oid: string;
  name: string;
  /** typtype: b base, d domain, e enum, c composite, r range, m multirange, p pseudo. */
  kind: string;
  /** 't' outside pg_catalog and information_schema (text: the client may parse no types). */
  own: string;
  extension: string | null;
  /** An array type's element (typcategory 'A'), else '0'. */
  elem: string;
  base: string;
  basesql: string | null;
  notnull: string;
  def: string | null;
  relid: string;
  rngsub: string | null;
  rngsubsql: string | null;
}

interface AttributeRow {
  relid: string;
  name: string;
  typid: string;
  sql: string;
}

/**
 * Describes the types of `columns` (type oid and format_type declaration each) down to the
 * built-in types, from the catalogue of the connection's database: a TypeRef per column, with
 * `user` set when the type is a user type (domain, enum, composite, range) or an extension's
 * (pg_depend deptype 'e'), or an array of one. The same connection and function describe a target's
 * existing types, so comparing two descriptions compares definitions.
 */
export async function describeTypeRefs(conn: Queryable, columns: readonly { oid: number; sql: string }[]): Promise<TypeRef[]> {
  const rows = new Map<string, TypeRow>();
  const attributes = new Map<string, AttributeRow[]>();
  const labels = new Map<string, string[]>();
  const checks = new Map<string, { name: string; definition: string }[]>();
  let pending = [...new Set(columns.map((c) => String(c.oid)))];
  while (pending.length > 0) {
    const r = await conn.query<TypeRow>(
      `SELECT t.oid::text AS oid, t.typname AS name, t.typtype::text AS kind,
              (n.nspname NOT IN ('pg_catalog', 'information_schema'))::text AS own,
              (SELECT e.extname FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
                WHERE d.classid = 'pg_type'::regclass AND d.objid = t.oid AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e') AS extension,
              CASE WHEN t.typcategory = 'A' AND t.typtype = 'b' THEN t.typelem ELSE 0 END::text AS elem,
              t.typbasetype::text AS base, CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod) END AS basesql,
              t.typnotnull::text AS notnull, t.typdefault AS def, t.typrelid::text AS relid,
              r.rngsubtype::text AS rngsub, CASE WHEN r.rngsubtype IS NOT NULL THEN format_type(r.rngsubtype, NULL) END AS rngsubsql
         FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
         LEFT JOIN pg_range r ON r.rngtypid = t.oid
        WHERE t.oid = ANY($1::oid[])`,
      [pending],
    );
    const next: string[] = [];
    const want = (oid: string | null): void => {
      if (oid && oid !== '0' && !rows.has(oid)) next.push(oid);
    };
    const composites: string[] = [];
    const domains: string[] = [];
    const enums: string[] = [];
    for (const row of r.rows) {
      rows.set(row.oid, row);
      want(row.elem);
      if (row.own !== 't' && row.own !== 'true') continue;
      if (row.extension) continue;
      if (row.kind === 'd') {
        domains.push(row.oid);
        want(row.base);
      }
      if (row.kind === 'r') want(row.rngsub);
      if (row.kind === 'c') composites.push(row.relid);
      if (row.kind === 'e') enums.push(row.oid);
    }
    if (composites.length) {
      const a = await conn.query<AttributeRow>(
        `SELECT a.attrelid::text AS relid, a.attname AS name, a.atttypid::text AS typid, format_type(a.atttypid, a.atttypmod) AS sql
           FROM pg_attribute a WHERE a.attrelid = ANY($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attrelid, a.attnum`,
        [composites],
      );
      for (const row of a.rows) {
        let list = attributes.get(row.relid);
        if (!list) attributes.set(row.relid, (list = []));
        list.push(row);
        want(row.typid);
      }
    }
    if (domains.length) {
      const c = await conn.query<{ oid: string; name: string; definition: string }>(
        `SELECT contypid::text AS oid, conname AS name, pg_get_constraintdef(oid) AS definition
           FROM pg_constraint WHERE contypid = ANY($1::oid[]) AND contype = 'c' ORDER BY contypid, conname COLLATE "C"`,
        [domains],
      );
      for (const row of c.rows) {
        let list = checks.get(row.oid);
        if (!list) checks.set(row.oid, (list = []));
        list.push({ name: row.name, definition: row.definition });
      }
    }
    if (enums.length) {
      const l = await conn.query<{ oid: string; label: string }>(
        'SELECT enumtypid::text AS oid, enumlabel AS label FROM pg_enum WHERE enumtypid = ANY($1::oid[]) ORDER BY enumtypid, enumsortorder',
        [enums],
      );
      for (const row of l.rows) {
        let list = labels.get(row.oid);
        if (!list) labels.set(row.oid, (list = []));
        list.push(row.label);
      }
    }
    // A type wanted twice in one round (an array's element that is also a column's type) is read once.
    pending = [...new Set(next)].filter((oid) => !rows.has(oid));
  }

  const users = new Map<string, UserType | undefined>();
  const user = (oid: string): UserType | undefined => {
    if (users.has(oid)) return users.get(oid);
    const row = rows.get(oid);
    const t = row ? userType(row) : undefined;
    users.set(oid, t);
    return t;
  };
  const ref = (oid: string, sql: string): TypeRef => {
    const row = rows.get(oid);
    if (row && row.elem !== '0') {
      const of = user(row.elem);
      return of ? { sql, user: of, array: true } : { sql };
    }
    const u = user(oid);
    return u ? { sql, user: u } : { sql };
  };
  const userType = (row: TypeRow): UserType | undefined => {
    if (row.extension) return { kind: 'extension', name: row.name, extension: row.extension };
    if (row.own !== 't' && row.own !== 'true') return undefined;
    switch (row.kind) {
      case 'e':
        return { kind: 'enum', name: row.name, labels: labels.get(row.oid) ?? [] };
      case 'd':
        return {
          kind: 'domain',
          name: row.name,
          base: ref(row.base, row.basesql ?? ''),
          notNull: row.notnull === 't' || row.notnull === 'true',
          ...(row.def !== null ? { default: row.def } : {}),
          checks: checks.get(row.oid) ?? [],
        };
      case 'c':
        return { kind: 'composite', name: row.name, attributes: (attributes.get(row.relid) ?? []).map((a) => ({ name: a.name, type: ref(a.typid, a.sql) })) };
      case 'r':
        return { kind: 'range', name: row.name, subtype: ref(row.rngsub ?? '0', row.rngsubsql ?? '') };
      default:
        // A base type written in C outside an extension, a multirange (created with its range): nothing a target can create.
        return undefined;
    }
  };
  return columns.map((c) => ref(String(c.oid), c.sql));
}
