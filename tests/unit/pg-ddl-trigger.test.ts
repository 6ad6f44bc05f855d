import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ddlTriggerSql, parseDdlMessage, renamedColumns, type TriggerColumn } from '../../src/engines/postgres/ddl-trigger.js';
import { triggerOperations } from '../../src/engines/postgres/relation-diff.js';
import { withLogical } from '../../src/engines/postgres/types.js';
import type { Column } from '../../src/core/schema.js';

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
    expect(parseDdlMessage(JSON.stringify({ v: 1, tag: 'x', oid: 1, schema: 's', name: 'n', columns: [[1, 'a', 23]] }))).toBeUndefined();
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
