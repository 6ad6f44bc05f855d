/**
 * PostgreSQL user and extension types (issue 12): the order a target creates them in
 * (core/user-types.ts), the statements and comparisons of engines/postgres/user-type-ddl.ts, the
 * column types a PostgreSQL target declares, the logical types a domain's column gets, and how a
 * MySQL target maps and reports them (check lines).
 */
import { describe, expect, it } from 'vitest';
import type { Column, TableSchema } from '../../src/core/schema.js';
import { userTypesInOrder, type TypeRef, type UserType } from '../../src/core/user-types.js';
import { mappingRequirements } from '../../src/engines/mysql/check.js';
import { mapLogicalTable } from '../../src/engines/mysql/types.js';
import { binaryCopySafe, createUserTypeSql, planUserTypes, typeRefSql, userTypeMismatch, type UserTypePlan } from '../../src/engines/postgres/user-type-ddl.js';
import { planTypes } from '../../src/engines/postgres/ddl.js';
import { postgresColumnType, toLogical, withLogical } from '../../src/engines/postgres/types.js';

const mpaa: UserType = { kind: 'enum', name: 'mpaa_rating', labels: ['G', 'PG', 'PG-13', 'R', 'NC-17'] };
const year: UserType = { kind: 'domain', name: 'year', base: { sql: 'integer' }, notNull: false, checks: [{ name: 'year_check', definition: 'CHECK (VALUE >= 1901 AND VALUE <= 2155)' }] };
const family: UserType = { kind: 'domain', name: 'family_rating', base: { sql: 'mpaa_rating', user: mpaa }, notNull: false, checks: [{ name: 'family_rating_check', definition: "CHECK (VALUE <> 'NC-17'::mpaa_rating)" }] };
const amount: UserType = { kind: 'domain', name: 'positive_amount', base: { sql: 'numeric(7,2)' }, notNull: true, default: '0', checks: [] };
const citext: UserType = { kind: 'extension', name: 'citext', extension: 'citext' };
const fullName: UserType = { kind: 'composite', name: 'full_name', attributes: [{ name: 'first', type: { sql: 'text' } }, { name: 'nick', type: { sql: 'citext', user: citext } }] };
const tag: UserType = {
  kind: 'composite',
  name: 'price_tag',
  attributes: [
    { name: 'rating', type: { sql: 'family_rating', user: family } },
    { name: 'amount', type: { sql: 'positive_amount', user: amount } },
    { name: 'years', type: { sql: 'year[]', user: year, array: true } },
  ],
};
const floatrange: UserType = { kind: 'range', name: 'floatrange', subtype: { sql: 'double precision' } };

function col(name: string, dataType: string, columnType: string, userType?: TypeRef, extra: Partial<Column> = {}): Column {
  return { name, dataType, columnType, nullable: true, unsigned: false, ...(userType ? { userType } : {}), ...extra };
}

function pgTable(columns: Column[]): TableSchema {
  return withLogical({ name: 'film', columns, primaryKey: [0], generated: [], engine: 'postgres' });
}

const opts = { zeroDates: 'error' as const, columnTypes: {} };

describe('userTypesInOrder', () => {
  it('lists every type a reference is built on once, dependencies first', () => {
    const order = userTypesInOrder([{ sql: 'price_tag', user: tag }, { sql: 'mpaa_rating', user: mpaa }, { sql: 'full_name[]', user: fullName, array: true }]);
    expect(order.map((t) => t.name)).toEqual(['mpaa_rating', 'family_rating', 'positive_amount', 'year', 'price_tag', 'citext', 'full_name']);
  });
  it('returns nothing for built-in types', () => {
    expect(userTypesInOrder([{ sql: 'integer' }, undefined, { sql: 'text[]' }])).toEqual([]);
  });
  it('keeps two kinds of one name apart', () => {
    const order = userTypesInOrder([{ sql: 'x', user: { kind: 'enum', name: 'x', labels: [] } }, { sql: 'x', user: { kind: 'range', name: 'x', subtype: { sql: 'integer' } } }]);
    expect(order.map((t) => t.kind)).toEqual(['enum', 'range']);
  });
});

describe('createUserTypeSql', () => {
  it('renders each kind in the target schema, user types referenced there, built-in and extension types as the source prints them', () => {
    expect(createUserTypeSql('public', mpaa)).toBe(`CREATE TYPE "public"."mpaa_rating" AS ENUM ('G', 'PG', 'PG-13', 'R', 'NC-17')`);
    expect(createUserTypeSql('public', year)).toBe('CREATE DOMAIN "public"."year" AS integer CONSTRAINT "year_check" CHECK (VALUE >= 1901 AND VALUE <= 2155)');
    expect(createUserTypeSql('s', amount)).toBe('CREATE DOMAIN "s"."positive_amount" AS numeric(7,2) DEFAULT 0 NOT NULL');
    expect(createUserTypeSql('s', family)).toBe(`CREATE DOMAIN "s"."family_rating" AS "s"."mpaa_rating" CONSTRAINT "family_rating_check" CHECK (VALUE <> 'NC-17'::mpaa_rating)`);
    expect(createUserTypeSql('s', tag)).toBe('CREATE TYPE "s"."price_tag" AS ("rating" "s"."family_rating", "amount" "s"."positive_amount", "years" "s"."year"[])');
    expect(createUserTypeSql('s', fullName)).toBe('CREATE TYPE "s"."full_name" AS ("first" text, "nick" citext)');
    expect(createUserTypeSql('s', floatrange)).toBe('CREATE TYPE "s"."floatrange" AS RANGE (SUBTYPE = double precision)');
    expect(createUserTypeSql('s', citext)).toBe('CREATE EXTENSION IF NOT EXISTS "citext"');
    expect(createUserTypeSql('public', { kind: 'domain', name: 'bıgint', base: { sql: 'bigint' }, notNull: false, checks: [] })).toBe('CREATE DOMAIN "public"."bıgint" AS bigint');
  });
  it('declares references: user types qualified ([] for arrays), others verbatim', () => {
    expect(typeRefSql('t', { sql: 'year[]', user: year, array: true })).toBe('"t"."year"[]');
    expect(typeRefSql('t', { sql: 'citext', user: citext })).toBe('citext');
    expect(typeRefSql('t', { sql: 'character varying(5)[]' })).toBe('character varying(5)[]');
  });
});

describe('userTypeMismatch', () => {
  const plan: UserTypePlan = { type: year, columns: ['film.release_year'] };
  it('keeps a target type of the same definition', () => {
    expect(userTypeMismatch('public', plan, { ...year })).toBeUndefined();
  });
  it('refuses another definition by name, showing both and the fixes', () => {
    const err = userTypeMismatch('public', plan, { ...year, checks: [{ name: 'year_check', definition: 'CHECK (VALUE >= 1800)' }] });
    expect(err?.code).toBe('TRIB_TABLE_UNSUPPORTED');
    expect(err?.message).toContain('target type "public"."year" is defined as: CREATE DOMAIN "public"."year" AS integer CONSTRAINT "year_check" CHECK (VALUE >= 1800)');
    expect(err?.message).toContain("the source's domain year (used by film.release_year) is: CREATE DOMAIN \"public\".\"year\" AS integer CONSTRAINT \"year_check\" CHECK (VALUE >= 1901 AND VALUE <= 2155)");
    expect(err?.message).toContain('DROP TYPE "public"."year"');
    expect(err?.message).toContain('--column-types film.release_year=text');
  });
  it('refuses a type of another kind, or one it cannot describe', () => {
    expect(userTypeMismatch('public', plan, mpaa)?.message).toContain('is of another kind');
    expect(userTypeMismatch('public', plan, undefined)?.message).toContain('is of another kind');
  });
});

describe('binaryCopySafe', () => {
  it('allows built-in types, domains over them, enums, extension types and ranges of built-ins', () => {
    for (const ref of [undefined, { sql: 'int' }, { sql: 'year', user: year }, { sql: 'mpaa_rating', user: mpaa }, { sql: 'citext', user: citext }, { sql: 'floatrange', user: floatrange }]) {
      expect(binaryCopySafe(ref)).toBe(true);
    }
  });
  it('refuses arrays of user types and composites anywhere (their binary forms carry oids)', () => {
    for (const ref of [{ sql: 'year[]', user: year, array: true }, { sql: 'full_name', user: fullName }, { sql: 'd', user: { kind: 'domain', name: 'd', base: { sql: 'price_tag', user: tag }, notNull: false, checks: [] } as UserType }]) {
      expect(binaryCopySafe(ref)).toBe(false);
    }
  });
});

describe('a PostgreSQL source to a PostgreSQL target', () => {
  const t = pgTable([
    col('film_id', 'int4', 'integer'),
    col('release_year', 'int4', 'year', { sql: 'year', user: year }),
    col('tag', 'price_tag', 'price_tag', { sql: 'price_tag', user: tag }),
    col('years', '_year', 'year[]', { sql: 'year[]', user: year, array: true }),
    col('code', 'citext', 'citext', { sql: 'citext', user: citext }),
    col('nick', 'full_name', 'full_name', { sql: 'full_name', user: fullName }),
  ]);
  it('declares user types in the target schema and keeps extension types', () => {
    expect(t.columns.map((c) => postgresColumnType(t, c, opts, 'dst').sql)).toEqual(['integer', '"dst"."year"', '"dst"."price_tag"', '"dst"."year"[]', 'citext', '"dst"."full_name"']);
  });
  it('plans every type once, dependencies first, naming the columns that need each', () => {
    const plans = planUserTypes([t], [planTypes(t, opts)]);
    expect(plans.map((p) => p.type.name)).toEqual(['year', 'mpaa_rating', 'family_rating', 'positive_amount', 'price_tag', 'citext', 'full_name']);
    expect(plans[0]?.columns).toEqual(['film.release_year', 'film.tag', 'film.years']);
    expect(plans.find((p) => p.type.name === 'citext')?.columns).toEqual(['film.code', 'film.nick']);
  });
  it('needs no type for a column with an override', () => {
    const plans = planUserTypes([t], [planTypes(t, { ...opts, columnTypes: { 'film.code': 'text', 'film.nick': 'text' } })]);
    expect(plans.map((p) => p.type.name)).not.toContain('citext');
  });
});

describe("a domain column's logical type is its base type's", () => {
  it('takes the typmod and declaration of the base', () => {
    expect(toLogical(col('p', 'numeric', 'positive_amount', { sql: 'positive_amount', user: amount }, { precision: 7, scale: 2 }))).toEqual({ kind: 'decimal', precision: 7, scale: 2 });
    const vc: UserType = { kind: 'domain', name: 'code', base: { sql: 'character varying(12)' }, notNull: false, checks: [] };
    expect(toLogical(col('c', 'varchar', 'code', { sql: 'code', user: vc }))).toEqual({ kind: 'text', length: 12, fixed: false });
    const outer: UserType = { kind: 'domain', name: 'outer', base: { sql: 'code', user: vc }, notNull: false, checks: [] };
    expect(toLogical(col('c', 'varchar', 'outer', { sql: 'outer', user: outer }))).toEqual({ kind: 'text', length: 12, fixed: false });
    expect(toLogical(col('y', 'int4', 'year', { sql: 'year', user: year }))).toEqual({ kind: 'integer', bytes: 4, signed: true });
  });
  it('keeps a composite or range under a domain as its text form', () => {
    const d: UserType = { kind: 'domain', name: 'tagged', base: { sql: 'price_tag', user: tag }, notNull: false, checks: [] };
    const l = toLogical(col('t', 'price_tag', 'tagged', { sql: 'tagged', user: d }));
    expect(l).toMatchObject({ kind: 'other', text: { form: '(attribute,…)' } });
  });
});

describe('a PostgreSQL source to a MySQL target', () => {
  const t = pgTable([
    col('film_id', 'int4', 'integer'),
    col('release_year', 'int4', 'year', { sql: 'year', user: year }),
    col('fulltext', 'tsvector', 'tsvector'),
    col('score', 'floatrange', 'floatrange', { sql: 'floatrange', user: floatrange }),
    col('showing', 'tstzrange', 'tstzrange'),
    col('props', 'hstore', 'hstore', { sql: 'hstore', user: { kind: 'extension', name: 'hstore', extension: 'hstore' } }),
    col('tag', 'price_tag', 'price_tag', { sql: 'price_tag', user: tag }),
    col('code', 'citext', 'citext', { sql: 'citext', user: citext }),
    col('vec', 'vector', 'vector(3)', { sql: 'vector(3)', user: { kind: 'extension', name: 'vector', extension: 'vector' } }),
  ]);
  it('maps domains to their base type and text forms to LONGTEXT, refusing only what has no text form', () => {
    const m = mapLogicalTable(t);
    expect(m.columns.map((c) => c.sql)).toEqual(['INT', 'INT', 'LONGTEXT', 'LONGTEXT', 'LONGTEXT', 'LONGTEXT', 'LONGTEXT', 'LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_uca1400_nopad_as_ci', 'LONGTEXT']);
    expect(m.problems.map((p) => p.column)).toEqual(['vec']);
  });
  it('says in check how each is kept', () => {
    const lines = new Map(mappingRequirements([t], {}).map((r) => [r.name, r]));
    expect(lines.get('film.release_year')?.fix).toBe('domain year as its base type integer; its CHECK constraints are not created (the source enforced them): CHECK (VALUE >= 1901 AND VALUE <= 2155)');
    expect(lines.get('film.fulltext')?.fix).toContain("kept as text ''lexeme':position …'");
    expect(lines.get('film.score')?.fix).toContain("kept as text '[lower,upper)'");
    expect(lines.get('film.showing')?.fix).toContain("kept as text '[lower,upper)'");
    expect(lines.get('film.props')?.fix).toContain('kept as text \'"key"=>"value", …\'');
    expect(lines.get('film.tag')?.fix).toContain("kept as text '(attribute,…)'");
    expect(lines.get('film.code')?.fix).toBe('case-insensitive, accent-sensitive NO PAD collation, as citext compares');
    expect(lines.get('column film.vec')?.ok).toBe(false);
  });
  it('sizes a citext key as VARCHAR keeping its collation', () => {
    const keyed = pgTable([col('code', 'citext', 'citext', { sql: 'citext', user: citext })]);
    expect(mapLogicalTable(keyed, { flavour: 'mysql' }).columns[0]?.sql).toBe('VARCHAR(767) CHARACTER SET utf8mb4 COLLATE utf8mb4_0900_as_ci');
  });
});
