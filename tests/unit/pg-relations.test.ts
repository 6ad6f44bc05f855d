import { describe, expect, it } from 'vitest';
import { RelationChangedError, sameColumns, type RelationRecord } from '../../src/engines/postgres/relations.js';
import { ownerComment, publicationComment, publicationState } from '../../src/engines/postgres/slot.js';
import { SchemaScope } from '../../src/engines/postgres/scope.js';

const before: RelationRecord = { oid: 100, columns: [['id', 23, -1], ['v', 25, -1], ['n', 1700, 655366]] };

describe('PostgreSQL relation records', () => {
  it('tells a changed column list', () => {
    const after: RelationRecord = { oid: 100, columns: [['id', 23, -1], ['n', 1700, 851974], ['w', 25, -1]] };
    expect(sameColumns(before, before)).toBe(true);
    expect(sameColumns(before, after)).toBe(false);
  });

  it('says what happened to the relation, where the stream stands and the way out', () => {
    const e = new RelationChangedError({ namespace: 'public', table: 't', oid: 100, now: { oid: 100, schema: 'public', name: 't_old' }, replacedBy: 200, seen: 'in a test', position: 'the checkpoint is at LSN 0/1' });
    expect(e.code).toBe('TRIB_DDL_UNSUPPORTED');
    expect(e.fatal).toBe(true);
    expect(e.message).toMatch(/^table t \("public"\."t", relation OID 100\) was renamed to "public"\."t_old", and a different relation \(OID 200\) now has its name/);
    expect(e.message).toContain('the checkpoint is at LSN 0/1');
    expect(e.message).toContain('leave t out with --tables');
    expect(new RelationChangedError({ namespace: 'public', table: 't', oid: 100, now: { oid: 100, schema: 'other', name: 't' }, seen: 's', position: 'p' }).message).toContain('was moved to another schema: it is now "other"."t"');
    expect(new RelationChangedError({ namespace: 'public', table: 't', oid: 100, seen: 's', position: 'p' }).message).toContain('relation OID 100) was dropped (seen s)');
    // A sync of several schemas names its table schema.table.
    expect(new RelationChangedError({ namespace: 'a', table: 'a.t', oid: 100, now: { oid: 100, schema: 'a', name: 'u' }, seen: 's', position: 'p' }).message).toMatch(/^table a\.t \("a"\."t", relation OID 100\) was renamed to "a"\."u"/);
  });

  it('records relations in the comment of the publication the sync owns, and reads them back', async () => {
    const comment = publicationComment('s1', new Map([['t', before]]));
    expect(comment.split('\n')[0]).toBe(ownerComment('s1'));
    const conn = {
      query: (sql: string) =>
        Promise.resolve({
          rows: sql.includes('FROM pg_publication WHERE')
            ? [{ alltables: 'f', pubinsert: 't', pubupdate: 't', pubdelete: 't', pubtruncate: 't', viaroot: 't', comment }]
            : [{ schemaname: 'public', tablename: 't' }],
        }),
    } as unknown as Parameters<typeof publicationState>[0];
    const state = await publicationState(conn, 'p', SchemaScope.one('public'), 's1');
    expect(state.owned).toBe(true);
    expect(state.tables).toEqual(['t']);
    // A sync of several schemas names the published tables schema.table.
    expect((await publicationState(conn, 'p', SchemaScope.several(['a', 'public']), 's1')).tables).toEqual(['public.t']);
    expect(state.recorded?.get('t')).toEqual(before);
    // Another sync's publication, or one with the owner line only (from before records existed).
    expect((await publicationState(conn, 'p', SchemaScope.one('public'), 's2')).owned).toBe(false);
    expect(publicationComment('s1', new Map())).toBe(ownerComment('s1'));
  });
});
