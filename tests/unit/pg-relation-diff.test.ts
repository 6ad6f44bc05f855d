import { describe, expect, it } from 'vitest';
import { pgColumnDefault, relationOperations } from '../../src/engines/postgres/relation-diff.js';
import type { RelationColumnDescription } from '../../src/engines/postgres/schema.js';
import { withLogical } from '../../src/engines/postgres/types.js';
import type { Column, TableSchema } from '../../src/core/schema.js';

const col = (name: string, dataType: string, columnType: string, nullable = true, extra: Partial<Column> = {}): Column => ({ name, dataType, columnType, nullable, unsigned: false, ...extra });

const before: TableSchema = withLogical({
  name: 't',
  columns: [col('id', 'int4', 'integer', false), col('s', 'varchar', 'character varying(10)'), col('n', 'int4', 'integer', false), col('gone', 'text', 'text')],
  primaryKey: [0],
  uniqueKeys: [[2]],
  generated: [],
  engine: 'postgres',
});

const d = (c: Column, defaultSql: string | null = null): RelationColumnDescription => ({ column: c, defaultSql });
const same = before.columns.map((c) => d(c));

describe('pgColumnDefault: a PostgreSQL default in no engine\'s words', () => {
  it.each([
    [null, undefined],
    ["'none'::character varying", { kind: 'literal', value: 'none' }],
    ["'it''s'::text", { kind: 'literal', value: "it's" }],
    ["'-5'::integer", { kind: 'literal', value: '-5' }],
    ['7', { kind: 'literal', value: '7' }],
    ['1.50', { kind: 'literal', value: '1.50' }],
    ['(-1.5)', { kind: 'literal', value: '-1.5' }],
    ['true', { kind: 'literal', value: '1' }],
    ['false', { kind: 'literal', value: '0' }],
    ['NULL::text', { kind: 'null' }],
    ['now()', { kind: 'now' }],
    ['CURRENT_TIMESTAMP', { kind: 'now' }],
    ['CURRENT_TIMESTAMP(3)', { kind: 'now', fsp: 3 }],
    ['LOCALTIMESTAMP', { kind: 'now' }],
    ["nextval('t_id_seq'::regclass)", { kind: 'expression', sql: "nextval('t_id_seq'::regclass)" }],
    ["('a'::text || 'b'::text)", { kind: 'expression', sql: "('a'::text || 'b'::text)" }],
    ['gen_random_uuid()', { kind: 'expression', sql: 'gen_random_uuid()' }],
  ] as const)('%s', (sql, want) => {
    expect(pgColumnDefault(sql)).toEqual(want);
  });
});

describe('relationOperations: a Relation message against the definition followed', () => {
  it('finds nothing when nothing changed', () => {
    const r = relationOperations(before, same);
    expect(r.operations).toEqual([]);
    expect(r.unsupported).toBeUndefined();
    expect(r.after.columns.map((c) => c.name)).toEqual(['id', 's', 'n', 'gone']);
  });

  it('an added column, with its default and NOT NULL from the catalogue', () => {
    const note = col('note', 'varchar', 'character varying(20)', false);
    const r = relationOperations(before, [...same, d(note, "'none'::character varying")]);
    expect(r.operations).toEqual([{ op: 'add-column', table: 't', column: note, default: { kind: 'literal', value: 'none' }, sourceText: `ADD COLUMN "note" character varying(20) DEFAULT 'none'::character varying NOT NULL` }]);
    expect(r.after.columns.at(-1)?.logical).toBeDefined();
    expect(r.changes).toEqual(['column "note" character varying(20) added']);
  });

  it('a dropped column keeps the keys by name', () => {
    const r = relationOperations(before, same.filter((c) => c.column.name !== 's'));
    expect(r.operations).toEqual([{ op: 'drop-column', table: 't', column: 's', sourceText: 'DROP COLUMN "s"' }]);
    expect(r.after.primaryKey).toEqual([0]);
    expect(r.after.uniqueKeys).toEqual([[1]]);
    expect(r.unsupported).toBeUndefined();
  });

  it('retyped columns become modify-column with the catalogue\'s NOT NULL and default', () => {
    const n = col('n', 'int8', 'bigint', false);
    const s = col('s', 'text', 'text');
    const r = relationOperations(before, [same[0] as RelationColumnDescription, d(s), d(n, '0'), same[3] as RelationColumnDescription]);
    expect(r.operations.map((o) => o.op)).toEqual(['modify-column', 'modify-column']);
    expect(r.operations[1]).toMatchObject({ op: 'modify-column', column: n, default: { kind: 'literal', value: '0' } });
    expect(r.changes).toEqual(['column "s" changed type from character varying(10) to text', 'column "n" changed type from integer to bigint']);
    expect(r.after.columns[2]?.logical).not.toEqual(before.columns[2]?.logical);
  });

  it('a drop and an add in one change are ambiguous without the trigger, and a rename with it', () => {
    const w = col('w', 'text', 'text');
    const cols = [same[0], same[1], same[2], d(w)] as RelationColumnDescription[];
    const r = relationOperations(before, cols);
    expect(r.unsupported).toMatch(/column "gone" dropped and "w" added in one change of t: a rename or a drop and an add/);
    const renamed = relationOperations(before, cols, new Map([['gone', 'w']]));
    expect(renamed.unsupported).toBeUndefined();
    expect(renamed.operations).toEqual([{ op: 'rename-column', table: 't', from: 'gone', to: 'w', sourceText: 'RENAME COLUMN "gone" TO "w"' }]);
  });

  it('a renamed and retyped column: rename, then modify under the new name', () => {
    const m = col('m', 'int8', 'bigint', false);
    const r = relationOperations(before, [same[0], same[1], d(m), same[3]] as RelationColumnDescription[], new Map([['n', 'm']]));
    expect(r.operations.map((o) => o.op)).toEqual(['rename-column', 'modify-column']);
    expect(r.after.uniqueKeys).toEqual([[2]]);
  });

  it('a dropped primary key column cannot be followed', () => {
    const r = relationOperations(before, same.slice(1));
    expect(r.unsupported).toMatch(/primary key column of t dropped/);
    expect(r.after.primaryKey).toEqual([]);
  });

  it('a rename hint for columns that are not there is ignored', () => {
    const r = relationOperations(before, same, new Map([['nope', 'id']]));
    expect(r.operations).toEqual([]);
  });
});
