import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ddlTriggerSql, parseDdlMessage, renamedColumns, type TriggerColumn } from '../../src/engines/postgres/ddl-trigger.js';
import { foreignKeyOperations, indexOperations, triggerOperations } from '../../src/engines/postgres/relation-diff.js';
import { foreignKeyOf } from '../../src/engines/postgres/schema.js';
import { withLogical } from '../../src/engines/postgres/types.js';
import type { Column, ForeignKey } from '../../src/core/schema.js';

const col = (name: string, dataType: string, columnType: string, nullable = true): Column => ({ name, dataType, columnType, nullable, unsigned: false });
const tc = (attnum: number, name: string, typeOid: number, notNull = false, defaultSql: string | null = null): TriggerColumn => ({ attnum, name, typeOid, typmod: -1, notNull, defaultSql });

describe('the DDL event trigger', () => {
  it('docs/check.md holds exactly the SQL sync installs', () => {
    const doc = readFileSync(new URL('../../docs/check.md', import.meta.url), 'utf8');
    expect(doc).toContain(ddlTriggerSql().join(';\n\n') + ';');
  });

  it('parses its message, and refuses what another version wrote', () => {
    const text = JSON.stringify({ v: 1, tag: 'ALTER TABLE', oid: 16384, schema: 'public', name: 't', columns: [[1, 'id', 23, -1, true, null], [3, 'note', 1043, 24, false, "'x'::character varying"]] });
    expect(parseDdlMessage(text)).toEqual({ tag: 'ALTER TABLE', oid: 16384, schema: 'public', name: 't', columns: [tc(1, 'id', 23, true), { attnum: 3, name: 'note', typeOid: 1043, typmod: 24, notNull: false, defaultSql: "'x'::character varying" }] });
    expect(parseDdlMessage('not json')).toBeUndefined();
    expect(parseDdlMessage(JSON.stringify({ v: 2, tag: 'x', oid: 1, schema: 's', name: 'n', columns: [] }))).toBeUndefined();
    expect(parseDdlMessage(JSON.stringify({ v: 3, tag: 'x', oid: 1, schema: 's', name: 'n', columns: [] }))).toBeUndefined();
    expect(parseDdlMessage(JSON.stringify({ v: 1, tag: 'x', oid: 1, schema: 's', name: 'n', columns: [[1, 'a', 23]] }))).toBeUndefined();
  });

  it('parses a table message with its indexes, and drop messages', () => {
    const text = JSON.stringify({ v: 1, tag: 'CREATE INDEX', oid: 7, schema: 'public', name: 't', columns: [[1, 'id', 23, -1, true, null]], indexes: [['t_k', true, false, ['k', 'v']], ['t_p', false, true, []]] });
    expect(parseDdlMessage(text)).toEqual({
      tag: 'CREATE INDEX',
      oid: 7,
      schema: 'public',
      name: 't',
      columns: [tc(1, 'id', 23, true)],
      indexes: [{ name: 't_k', unique: true, partial: false, columns: ['k', 'v'] }, { name: 't_p', unique: false, partial: true, columns: [] }],
    });
    expect(parseDdlMessage(JSON.stringify({ v: 2, tag: 'DROP TABLE', dropped: 'table', oid: 7, schema: 'public', name: 't' }))).toEqual({ tag: 'DROP TABLE', dropped: 'table', oid: 7, schema: 'public', name: 't' });
    expect(parseDdlMessage(JSON.stringify({ v: 2, tag: 'DROP INDEX', dropped: 'index', oid: 8, schema: 'public', name: 't_k' }))?.dropped).toBe('index');
    expect(parseDdlMessage(JSON.stringify({ v: 3, tag: 'ALTER TYPE', type: 16387 }))).toEqual({ tag: 'ALTER TYPE', typeOid: 16387 });
    expect(parseDdlMessage(JSON.stringify({ v: 3, tag: 'ALTER TYPE' }))).toBeUndefined();
    expect(parseDdlMessage(JSON.stringify({ v: 2, tag: 'DROP VIEW', dropped: 'view', oid: 8, schema: 'public', name: 'v' }))).toBeUndefined();
    expect(parseDdlMessage(JSON.stringify({ v: 1, tag: 'x', oid: 1, schema: 's', name: 'n', columns: [], indexes: [['i', true]] }))).toBeUndefined();
  });

  it('installs two triggers, widening an older one in place', () => {
    const sql = ddlTriggerSql().join('\n');
    expect(sql).toContain("ON ddl_command_end WHEN TAG IN ('ALTER TABLE', 'CREATE TABLE', 'CREATE INDEX', 'ALTER INDEX', 'ALTER TYPE', 'ALTER DOMAIN')");
    expect(sql).toContain("ON sql_drop WHEN TAG IN ('DROP TABLE', 'DROP INDEX', 'DROP SCHEMA', 'DROP OWNED')");
    expect(sql).toContain('DROP EVENT TRIGGER tributary_ddl_v1;');
    // No EXCEPTION block: its subtransaction makes PostgreSQL decode the message out of place.
    expect(sql).not.toMatch(/EXCEPTION/);
  });

  it('finds renames by attribute number', () => {
    expect([...renamedColumns([tc(1, 'id', 23), tc(2, 'v', 25), tc(3, 'w', 25)], [tc(1, 'id', 23), tc(2, 'value', 25), tc(4, 'w', 25)])]).toEqual([['v', 'value']]);
  });
});

describe('triggerOperations: a change the trigger reported', () => {
  const before = withLogical({ name: 't', columns: [col('id', 'int4', 'integer', false), col('v', 'text', 'text'), col('n', 'int4', 'integer')], primaryKey: [0], generated: [], engine: 'postgres' });
  const was = [tc(1, 'id', 23, true), tc(2, 'v', 25), tc(3, 'n', 23, false, '0')];
  const described = (cols: readonly TriggerColumn[]) =>
    cols.map((c) => ({ column: col(c.name, c.typeOid === 23 ? 'int4' : 'text', c.typeOid === 23 ? 'integer' : 'text', !c.notNull), defaultSql: c.defaultSql }));

  it('a rename with no row after it', () => {
    const now = [tc(1, 'id', 23, true), tc(2, 'value', 25), tc(3, 'n', 23, false, '0')];
    const r = triggerOperations(before, described(now), was, now);
    expect(r.unsupported).toBeUndefined();
    expect(r.operations).toEqual([{ op: 'rename-column', table: 't', from: 'v', to: 'value', sourceText: 'RENAME COLUMN "v" TO "value"' }]);
  });

  it('a drop and an add in one statement are certain', () => {
    const now = [tc(1, 'id', 23, true), tc(3, 'n', 23, false, '0'), tc(4, 'w', 25, false, "'d'::text")];
    const r = triggerOperations(before, described(now), was, now);
    expect(r.unsupported).toBeUndefined();
    expect(r.operations.map((o) => o.op)).toEqual(['drop-column', 'add-column']);
  });

  it('SET/DROP NOT NULL and SET/DROP DEFAULT', () => {
    const now = [tc(1, 'id', 23, true), tc(2, 'v', 25, true), tc(3, 'n', 23, false, null)];
    const r = triggerOperations(before, described(now), was, now);
    expect(r.operations).toEqual([
      { op: 'modify-column', table: 't', column: col('v', 'text', 'text', false), sourceText: 'ALTER COLUMN "v" SET NOT NULL' },
      { op: 'set-default', table: 't', column: 'n', default: null, sourceText: 'ALTER COLUMN "n" DROP DEFAULT' },
    ]);
    const set = [tc(1, 'id', 23, true), tc(2, 'v', 25), tc(3, 'n', 23, false, '5')];
    expect(triggerOperations(before, described(set), was, set).operations).toEqual([{ op: 'set-default', table: 't', column: 'n', default: { kind: 'literal', value: '5' }, sourceText: 'ALTER COLUMN "n" SET DEFAULT 5' }]);
  });

  it('without the columns before (first message, definition not known): as a Relation message', () => {
    const now = [tc(1, 'id', 23, true), tc(2, 'value', 25), tc(3, 'n', 23, false, '0')];
    expect(triggerOperations(before, described(now), undefined, now).unsupported).toMatch(/a rename or a drop and an add/);
  });
});

describe('indexOperations: indexes the trigger reported', () => {
  const before = withLogical({
    name: 't',
    columns: [col('id', 'int4', 'integer', false), col('k', 'int4', 'integer'), col('v', 'text', 'text')],
    primaryKey: [0],
    uniqueKeys: [[1]],
    indexes: [{ name: 't_k_key', columns: ['k'], unique: true }, { name: 't_v', columns: ['v'], unique: false }],
    generated: [],
    engine: 'postgres',
  });
  const ix = (name: string, columns: string[], unique = false, partial = false) => ({ name, columns, unique, partial });

  it('CREATE INDEX and CREATE UNIQUE INDEX: add-index, the unique one a unique key', () => {
    const r = indexOperations(before, [ix('t_k_key', ['k'], true), ix('t_v', ['v']), ix('t_kv', ['k', 'v'], true)]);
    expect(r.operations).toEqual([{ op: 'add-index', table: 't', name: 't_kv', columns: ['k', 'v'], unique: true, sourceText: 'CREATE UNIQUE INDEX "t_kv" ON "t" ("k", "v")' }]);
    expect(r.after.uniqueKeys).toEqual([[1], [1, 2]]);
    expect(r.after.indexes?.map((i) => i.name)).toEqual(['t_k_key', 't_v', 't_kv']);
  });

  it('DROP INDEX of a unique index: drop-index, and the unique key goes', () => {
    const r = indexOperations(before, [ix('t_v', ['v'])]);
    expect(r.operations).toEqual([{ op: 'drop-index', table: 't', name: 't_k_key', sourceText: 'DROP INDEX "t_k_key"' }]);
    expect(r.after.uniqueKeys).toEqual([]);
  });

  it('ALTER INDEX … RENAME: rename-index (one gone, one new, the same definition)', () => {
    const r = indexOperations(before, [ix('t_k_key', ['k'], true), ix('t_v_renamed', ['v'])]);
    expect(r.operations).toEqual([{ op: 'rename-index', table: 't', from: 't_v', to: 't_v_renamed', sourceText: 'RENAME INDEX "t_v" TO "t_v_renamed"' }]);
    expect(r.changes).toEqual(['index "t_v" renamed to "t_v_renamed"']);
  });

  it('a partial index or one over an expression is kept in the list, never an operation', () => {
    const r = indexOperations(before, [ix('t_k_key', ['k'], true), ix('t_v', ['v']), ix('t_part', ['k'], true, true), ix('t_expr', [], false, true)]);
    expect(r.operations).toEqual([]);
    expect(r.after.uniqueKeys).toEqual([[1]]);
    expect(r.after.indexes?.map((i) => i.name)).toEqual(['t_k_key', 't_v', 't_part', 't_expr']);
  });

  it('no change: no operation', () => {
    expect(indexOperations(before, [ix('t_k_key', ['k'], true), ix('t_v', ['v'])]).operations).toEqual([]);
  });
});

describe('foreign keys the trigger reported', () => {
  it('parses them, and makes ForeignKeys of them (the referenced table qualified outside the namespace)', () => {
    const text = JSON.stringify({
      v: 1,
      tag: 'ALTER TABLE',
      oid: 7,
      schema: 'public',
      name: 'child',
      columns: [[1, 'id', 23, -1, true, null]],
      indexes: [],
      fks: [['child_p', ['pid'], 'public', 'parent', ['id'], 'c', 'n', 'f', true, true], ['child_o', ['oid'], 'other', 'ext', ['id'], 'a', 'a', 's', false, false]],
    });
    const m = parseDdlMessage(text);
    expect(m?.columns !== undefined ? m.foreignKeys?.map((k) => foreignKeyOf(k, 'public')) : undefined).toEqual([
      { name: 'child_p', columns: ['pid'], referencedTable: 'parent', referencedColumns: ['id'], onUpdate: 'CASCADE', onDelete: 'SET NULL', match: 'FULL', deferrable: true, initiallyDeferred: true },
      { name: 'child_o', columns: ['oid'], referencedTable: 'other.ext', referencedColumns: ['id'], onUpdate: 'NO ACTION', onDelete: 'NO ACTION', deferrable: false, initiallyDeferred: false },
    ]);
    expect(parseDdlMessage(JSON.stringify({ v: 1, tag: 'x', oid: 1, schema: 's', name: 'n', columns: [], indexes: [], fks: [['f', ['a'], 'public']] }))).toBeUndefined();
  });

  const fk = (name: string, columns: string[], referencedTable: string, extra: Partial<ForeignKey> = {}): ForeignKey => ({
    name,
    columns,
    referencedTable,
    referencedColumns: ['id'],
    onUpdate: 'NO ACTION',
    onDelete: 'NO ACTION',
    deferrable: false,
    initiallyDeferred: false,
    ...extra,
  });
  const before = withLogical({
    name: 'child',
    columns: [col('id', 'int4', 'integer', false), col('pid', 'int4', 'integer'), col('qid', 'int4', 'integer')],
    primaryKey: [0],
    generated: [],
    engine: 'postgres',
    foreignKeys: [fk('child_p', ['pid'], 'parent')],
  });
  const synced = (t: string) => ['parent', 'child'].includes(t);

  it('ADD CONSTRAINT … FOREIGN KEY: add-foreign-key after the columns; one to a table not synced is only named', () => {
    const r = foreignKeyOperations(before, [fk('child_p', ['pid'], 'parent'), fk('child_q', ['qid'], 'parent', { onDelete: 'CASCADE' }), fk('child_x', ['qid'], 'elsewhere')], new Map(), synced);
    expect(r.drops).toEqual([]);
    expect(r.adds).toEqual([{ op: 'add-foreign-key', table: 'child', foreignKey: fk('child_q', ['qid'], 'parent', { onDelete: 'CASCADE' }), sourceText: 'ADD CONSTRAINT "child_q" FOREIGN KEY ("qid") REFERENCES "parent" ("id") ON UPDATE NO ACTION ON DELETE CASCADE' }]);
    expect(r.foreignKeys.map((f) => f.name)).toEqual(['child_p', 'child_q']);
    expect(r.changes[1]).toMatch(/"child_x".*not on the target: it references a table the sync does not take/);
  });

  it('DROP CONSTRAINT: drop-foreign-key; a redefined key (ALTER CONSTRAINT … DEFERRABLE) is dropped and added', () => {
    expect(foreignKeyOperations(before, [], new Map(), synced).drops).toEqual([{ op: 'drop-foreign-key', table: 'child', name: 'child_p', sourceText: 'DROP CONSTRAINT "child_p"' }]);
    const r = foreignKeyOperations(before, [fk('child_p', ['pid'], 'parent', { deferrable: true })], new Map(), synced);
    expect(r.drops.map((o) => o.op)).toEqual(['drop-foreign-key']);
    expect(r.adds.map((o) => o.op)).toEqual(['add-foreign-key']);
  });

  it("a column renamed by the statement changes no key (the kept key names it by its new name)", () => {
    const r = foreignKeyOperations(before, [fk('child_p', ['parent_id'], 'parent')], new Map([['pid', 'parent_id']]), synced);
    expect([...r.drops, ...r.adds]).toEqual([]);
    expect(r.foreignKeys).toEqual([fk('child_p', ['parent_id'], 'parent')]);
  });
});
