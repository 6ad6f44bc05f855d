import { describe, expect, it } from 'vitest';
import { findUserType, userTypeChangeUnsupported, userTypeChangeWords, withUserType } from '../../src/engines/postgres/user-type-diff.js';
import { alterUserTypeSql } from '../../src/engines/postgres/user-type-ddl.js';
import { withLogical } from '../../src/engines/postgres/types.js';
import type { CompositeUserType, DomainUserType, EnumUserType } from '../../src/core/user-types.js';
import type { TableSchema } from '../../src/core/schema.js';

const mood = (labels: string[]): EnumUserType => ({ kind: 'enum', name: 'mood', labels });
const score = (extra: Partial<DomainUserType> = {}): DomainUserType => ({ kind: 'domain', name: 'score', base: { sql: 'integer' }, notNull: false, checks: [{ name: 'score_check', definition: 'CHECK ((VALUE >= 0))' }], ...extra });
const pair = (attrs: [string, string][]): CompositeUserType => ({ kind: 'composite', name: 'pair', attributes: attrs.map(([name, sql]) => ({ name, type: { sql } })) });
// A domain over the enum: a change of the enum reaches the columns of the domain too.
const moody: DomainUserType = { kind: 'domain', name: 'moody', base: { sql: 'mood', user: mood(['sad', 'ok']) }, notNull: false, checks: [] };

const table: TableSchema = withLogical({
  name: 'u',
  columns: [
    { name: 'id', dataType: 'int4', columnType: 'integer', nullable: false, unsigned: false },
    { name: 'm', dataType: 'mood', columnType: 'mood', nullable: false, unsigned: false, enumType: 'mood', enumLabels: ['sad', 'ok'], userType: { sql: 'mood', user: mood(['sad', 'ok']) } },
    { name: 'd', dataType: 'moody', columnType: 'moody', nullable: true, unsigned: false, userType: { sql: 'moody', user: moody } },
    { name: 's', dataType: 'score', columnType: 'score', nullable: true, unsigned: false, userType: { sql: 'score', user: score() } },
  ],
  primaryKey: [0],
  generated: [],
  engine: 'postgres',
});

describe('a user type changed on a PostgreSQL source', () => {
  it('finds the columns that use it, directly or through a domain, with the new description (an enum column its labels too)', () => {
    const now = mood(['sad', 'ok', 'happy']);
    const { after, columns } = withUserType(table, now);
    expect(columns.map((c) => c.name)).toEqual(['m', 'd']);
    expect(after.columns[1]?.enumLabels).toEqual(['sad', 'ok', 'happy']);
    expect(after.columns[1]?.logical).toMatchObject({ kind: 'enum', labels: ['sad', 'ok', 'happy'] });
    expect(findUserType(table.columns[2]?.userType, now)).toEqual(mood(['sad', 'ok']));
    expect(withUserType(table, pair([['a', 'integer']])).columns).toEqual([]);
  });

  it('follows added enum labels (anywhere), domain constraints, and composite attributes added at the end; nothing else', () => {
    expect(userTypeChangeUnsupported(mood(['sad', 'ok']), mood(['meh', 'sad', 'ok', 'happy']))).toBeUndefined();
    expect(userTypeChangeUnsupported(mood(['sad', 'ok']), mood(['sad', 'fine']))).toMatch(/labels 'sad', 'ok' became 'sad', 'fine': a label renamed/);
    expect(userTypeChangeUnsupported(score(), score({ notNull: true, default: '7', checks: [] }))).toBeUndefined();
    expect(userTypeChangeUnsupported(pair([['a', 'integer']]), pair([['a', 'integer'], ['b', 'text']]))).toBeUndefined();
    expect(userTypeChangeUnsupported(pair([['a', 'integer'], ['b', 'text']]), pair([['a', 'integer']]))).toMatch(/only attributes added at the end/);
    expect(userTypeChangeWords(mood(['a']), mood(['a', 'b']))).toBe("enum labels 'a' → 'a', 'b'");
  });

  it('a PostgreSQL target alters its domain or composite to the source\'s', () => {
    const want = score({ notNull: true, default: '7', checks: [{ name: 'score_check', definition: 'CHECK ((VALUE >= 1))' }, { name: 'score_max', definition: 'CHECK ((VALUE <= 1000))' }] });
    expect(alterUserTypeSql('public', score(), want)).toEqual([
      'ALTER DOMAIN "public"."score" DROP CONSTRAINT IF EXISTS "score_check"',
      'ALTER DOMAIN "public"."score" SET DEFAULT 7',
      'ALTER DOMAIN "public"."score" SET NOT NULL',
      'ALTER DOMAIN "public"."score" ADD CONSTRAINT "score_check" CHECK ((VALUE >= 1))',
      'ALTER DOMAIN "public"."score" ADD CONSTRAINT "score_max" CHECK ((VALUE <= 1000))',
    ]);
    expect(alterUserTypeSql('public', pair([['a', 'integer']]), pair([['a', 'integer'], ['b', 'text']]))).toEqual(['ALTER TYPE "public"."pair" ADD ATTRIBUTE "b" text CASCADE']);
    expect(alterUserTypeSql('public', pair([['a', 'integer']]), pair([['x', 'integer']]))).toBeUndefined();
    expect(alterUserTypeSql('public', score(), score({ base: { sql: 'bigint' } }))).toBeUndefined();
  });
});
