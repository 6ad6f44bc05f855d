/**
 * Schema changes in the stream applier (src/stream/applier.ts), on the in-memory fakes: a parsed
 * DDL event is applied to the target between the batch before it and the one after it, with the
 * checkpoint of the position after it; later changes are written with the new definitions; the
 * `halt` policy, a statement the source could not follow and a change during a table's copy stop
 * the sync with the statement and its position named, and the checkpoint stays before it.
 */
import { describe, expect, it } from 'vitest';
import { ErrorCode, TributaryError } from '../../src/core/errors.js';
import type { StreamEvent } from '../../src/core/change.js';
import type { SchemaOperation } from '../../src/core/schema-change.js';
import type { Column, TableSchema } from '../../src/core/schema.js';
import { applierOf } from '../helpers/copier.js';
import { FakeSource, FakeTarget, TABLE, until, type SourceWrite } from '../helpers/fakes.js';

const U: TableSchema = { ...TABLE, name: 'u' };
const NOTE: Column = { name: 'note', dataType: 'varchar', columnType: 'varchar(20)', nullable: false, unsigned: false, logical: { kind: 'text', length: 20, fixed: false } };
const T2: TableSchema = { ...TABLE, columns: [...TABLE.columns, NOTE] };


const up = (table: string, id: number, ...v: string[]): SourceWrite => ({ kind: 'upsert', table, row: [BigInt(id), ...v] });

/** A DDL event right after position `after`, at the next position. */
function ddl(after: string, statement: string, operations: SchemaOperation[], before: TableSchema[], afterTables: TableSchema[], unsupported?: string): Extract<StreamEvent, { type: 'ddl' }> {
  return {
    type: 'ddl',
    tables: [...new Set([...before, ...afterTables].map((t) => t.name))],
    statement,
    position: String(Number(after) + 1),
    operations,
    before: new Map(before.map((t) => [t.name, t])),
    after: new Map(afterTables.map((t) => [t.name, t])),
    ...(unsupported !== undefined ? { unsupported } : {}),
  };
}

const ADD_NOTE: SchemaOperation = { op: 'add-column', table: 't', column: NOTE, default: { kind: 'literal', value: 'none' }, sourceText: "ADD COLUMN note varchar(20) NOT NULL DEFAULT 'none'" };

describe('schema changes in the stream applier', () => {
  it('applies a parsed ADD COLUMN between the batches around it, checkpoints its position, and writes later rows with the new definition', async () => {
    const source = new FakeSource([TABLE, U]);
    const target = new FakeTarget({ tables: [TABLE, U] });
    const acknowledged: string[] = [];
    source.onAcknowledge = (p) => acknowledged.push(p);
    const changes: string[] = [];
    const applier = applierOf(source, target, { tables: [TABLE, U], onSchemaChange: (c) => changes.push(c.statement) });
    const running = applier.run();
    source.transaction([up('t', 1, 'a'), up('t', 2, 'b')]);
    const p1 = source.transaction([up('u', 1, 'x')]);
    const ev = ddl(p1, "ALTER TABLE t ADD COLUMN note varchar(20) NOT NULL DEFAULT 'none'", [ADD_NOTE], [TABLE], [T2]);
    source.push(ev);
    const p3 = source.transaction([up('t', 3, 'c', 'hello'), up('t', 1, 'a', 'changed')]);
    await until('the statement to be applied', () => target.schemaChanges.length === 1);
    // Everything before the statement was committed first, with its own checkpoint (the
    // transaction after it may have committed since: the stream is caught up after it).
    expect(target.commitLog[0]?.checkpoint?.position).toBe(p1);
    expect(target.commitLog.slice(1).map((r) => r.checkpoint?.position)).toEqual(target.commitLog.length > 1 ? [p3] : []);
    expect(target.schemaChanges[0]).toMatchObject({ statement: ev.statement, sourceEngine: 'fake', operations: [ADD_NOTE] });
    // The statement's position was checkpointed (and acknowledged) right after p1, before p3.
    expect(acknowledged.slice(0, 2)).toEqual([p1, ev.position]);
    expect(changes).toEqual([ev.statement]);
    applier.stop();
    await running;
    expect(target.lastCheckpoint?.position).toBe(p3);
    expect(target.table('t').all()).toEqual([
      [1n, 'a', 'changed'],
      [2n, 'b', 'none'],
      [3n, 'c', 'hello'],
    ]);
    expect((await target.loadCheckpoint()).schemas?.get('t')).toEqual(T2);
    // The source may forget the statement once it is applied and checkpointed.
    expect(acknowledged).toContain(ev.position);
  });

  it('swaps two tables by RENAME TABLE and goes on writing each under its new name', async () => {
    const source = new FakeSource([TABLE, U]);
    const target = new FakeTarget({ tables: [TABLE, U] });
    const applier = applierOf(source, target, { tables: [TABLE, U] });
    const running = applier.run();
    const p1 = source.transaction([up('t', 1, 'from t'), up('u', 1, 'from u')]);
    source.push(ddl(p1, 'RENAME TABLE t TO tmp, u TO t, tmp TO u', [{ op: 'rename-tables', pairs: [{ from: 't', to: 'tmp' }, { from: 'u', to: 't' }, { from: 'tmp', to: 'u' }] }], [TABLE, U], [TABLE, U]));
    source.transaction([up('t', 2, 'new t')]);
    await until('the swap', () => target.schemaChanges.length === 1);
    applier.stop();
    await running;
    expect(target.table('t').all()).toEqual([
      [1n, 'from u'],
      [2n, 'new t'],
    ]);
    expect(target.table('u').all()).toEqual([[1n, 'from t']]);
  });

  it('stops on a parsed statement under --ddl halt, naming the statement, its position and the way on; the checkpoint stays before it', async () => {
    const source = new FakeSource([TABLE, U]);
    const target = new FakeTarget({ tables: [TABLE, U] });
    const applier = applierOf(source, target, { tables: [TABLE, U], ddl: 'halt' });
    const running = applier.run();
    const p1 = source.transaction([up('t', 1, 'a')]);
    source.push(ddl(p1, "ALTER TABLE t ADD COLUMN note varchar(20) NOT NULL DEFAULT 'none'", [ADD_NOTE], [TABLE], [T2]));
    const err = await running.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TributaryError);
    expect((err as TributaryError).code).toBe(ErrorCode.DDL_UNSUPPORTED);
    expect((err as Error).message).toMatch(/ALTER TABLE t ADD COLUMN note/);
    expect((err as Error).message).toMatch(/--ddl halt/);
    expect((err as Error).message).toMatch(/--ddl follow/);
    expect(target.schemaChanges).toHaveLength(0);
    expect(target.lastCheckpoint?.position).toBe(p1);
  });

  it('stops on a statement the source could not follow, naming why', async () => {
    const source = new FakeSource([TABLE, U]);
    const target = new FakeTarget({ tables: [TABLE, U] });
    const applier = applierOf(source, target, { tables: [TABLE, U] });
    const running = applier.run();
    const p1 = source.transaction([up('t', 1, 'a')]);
    source.push(ddl(p1, 'ALTER TABLE t DROP PRIMARY KEY', [], [TABLE], [TABLE], 'a change of the primary key of a synced table is not followed'));
    await expect(running).rejects.toThrow(/DROP PRIMARY KEY.*primary key of a synced table is not followed/);
    expect(target.schemaChanges).toHaveLength(0);
    expect(target.lastCheckpoint?.position).toBe(p1);
  });

  it('copies again from the start a table whose copy is not done: quiesced before the change, its copy checkpoint removed with it, restarted with the new definition after it', async () => {
    const source = new FakeSource([TABLE, U]);
    const target = new FakeTarget({ tables: [TABLE, U] });
    const calls: string[] = [];
    const applier = applierOf(source, target, {
      tables: [TABLE, U],
      copy: {
        quiesce: async (tables) => {
          calls.push(`quiesce ${tables.join(',')}`);
          return tables.filter((t) => t === 't');
        },
        restart: (table, schema) => calls.push(`restart ${table} as ${schema?.name} with ${schema?.columns.map((c) => c.name).join(',')} after ${target.schemaChanges.length} change(s)`),
        add: (schema) => calls.push(`add ${schema.name}`),
      },
    });
    const running = applier.run();
    const p1 = source.transaction([up('u', 1, 'a')]);
    source.push(ddl(p1, "ALTER TABLE t ADD COLUMN note varchar(20) NOT NULL DEFAULT 'none'", [ADD_NOTE], [TABLE], [T2]));
    const p3 = source.transaction([up('t', 2, 'b', 'new shape')]);
    await until('past the statement', () => applier.receivedPosition() === p3);
    applier.stop();
    await running;
    expect(target.lastCheckpoint?.position).toBe(p3);
    expect(calls).toEqual(['quiesce t', 'restart t as t with id,v,note after 1 change(s)']);
    expect(target.schemaChanges.map((c) => c.recopy)).toEqual([['t']]);
    expect(target.table('t').all()).toEqual([[2n, 'b', 'new shape']]);
  });

  it('a table entering the selection with rows the stream lacks (adopt) is created, its copy checkpoint removed with the change, and added to the copy after it', async () => {
    const source = new FakeSource([TABLE, U]);
    const target = new FakeTarget({ tables: [TABLE] });
    const calls: string[] = [];
    const applier = applierOf(source, target, {
      tables: [TABLE],
      copy: {
        quiesce: async (tables) => {
          calls.push(`quiesce ${tables.join(',')}`);
          return [];
        },
        restart: (table) => calls.push(`restart ${table}`),
        add: (schema) => calls.push(`add ${schema.name} after ${target.schemaChanges.length} change(s)`),
      },
    });
    const running = applier.run();
    const p1 = source.transaction([up('t', 1, 'a')]);
    source.push({ ...ddl(p1, 'RENAME TABLE staging TO u', [{ op: 'create-table', table: U }], [], [U]), adopt: ['u'] });
    const p3 = source.transaction([up('u', 7, 'later')]);
    await until('past the statement', () => applier.receivedPosition() === p3);
    applier.stop();
    await running;
    expect(calls).toEqual(['quiesce ', 'add u after 1 change(s)']);
    expect(target.schemaChanges.map((c) => c.recopy)).toEqual([['u']]);
    expect(target.lastCheckpoint?.position).toBe(p3);
    // The stream's changes after it are written (the copy's gate holds them during its chunks).
    expect(target.table('u').all()).toEqual([[7n, 'later']]);
    expect(applier.definition('u')).toEqual(U);
  });

  it('a table whose rows the target cannot convert (recopyAfter) has its copy checkpoint removed with the change and is copied again after it; without a copy the sync stops before applying it', async () => {
    const source = new FakeSource([TABLE, U]);
    const target = new FakeTarget({ tables: [TABLE, U] });
    target.recopyTables = (change) => (change.operations.some((op) => op.op === 'add-column') ? ['t'] : []);
    const calls: string[] = [];
    const applier = applierOf(source, target, {
      tables: [TABLE, U],
      copy: {
        quiesce: async () => [],
        restart: (table) => calls.push(`restart ${table}`),
        add: (schema) => calls.push(`add ${schema.name} with ${schema.columns.map((c) => c.name).join(',')} after ${target.schemaChanges.length} change(s)`),
      },
    });
    const running = applier.run();
    const p1 = source.transaction([up('t', 1, 'a')]);
    source.push(ddl(p1, "ALTER TABLE t ADD COLUMN note varchar(20) NOT NULL DEFAULT 'none'", [ADD_NOTE], [TABLE], [T2]));
    const p3 = source.transaction([up('t', 2, 'b', 'x')]);
    await until('past the statement', () => applier.receivedPosition() === p3);
    applier.stop();
    await running;
    expect(calls).toEqual(['add t with id,v,note after 1 change(s)']);
    expect(target.schemaChanges.map((c) => c.recopy)).toEqual([['t']]);

    const again = new FakeSource([TABLE]);
    const noCopy = new FakeTarget({ tables: [TABLE] });
    noCopy.recopyTables = () => ['t'];
    const stopped = applierOf(again, noCopy, { tables: [TABLE] }).run();
    const q1 = again.transaction([up('t', 1, 'a')]);
    again.push(ddl(q1, "ALTER TABLE t ADD COLUMN note varchar(20) NOT NULL DEFAULT 'none'", [ADD_NOTE], [TABLE], [T2]));
    await expect(stopped).rejects.toMatchObject({ code: ErrorCode.DDL_UNSUPPORTED, message: expect.stringContaining('cannot convert the rows of t') });
    expect(noCopy.schemaChanges).toEqual([]);
    expect(noCopy.lastCheckpoint?.position).toBe(q1);
  });

  it('without a copy to add it to, a table entering the selection stops the sync like a statement it cannot follow', async () => {
    const source = new FakeSource([TABLE, U]);
    const target = new FakeTarget({ tables: [TABLE] });
    const applier = applierOf(source, target, { tables: [TABLE] });
    const running = applier.run();
    const p1 = source.transaction([up('t', 1, 'a')]);
    source.push({ ...ddl(p1, 'RENAME TABLE staging TO u', [{ op: 'create-table', table: U }], [], [U]), adopt: ['u'] });
    await expect(running).rejects.toMatchObject({ code: ErrorCode.DDL_UNSUPPORTED });
    expect(target.schemaChanges).toEqual([]);
    expect(target.lastCheckpoint?.position).toBe(p1);
  });

  it('a table dropped while it is copied ends its copy and is copied again by nothing', async () => {
    const source = new FakeSource([TABLE, U]);
    const target = new FakeTarget({ tables: [TABLE, U] });
    const calls: string[] = [];
    const applier = applierOf(source, target, {
      tables: [TABLE, U],
      copy: { quiesce: async (tables) => tables.filter((t) => t === 't'), restart: (table, schema) => calls.push(`${table}:${schema?.name ?? 'dropped'}`), add: (schema) => calls.push(`add ${schema.name}`) },
    });
    const running = applier.run();
    const p1 = source.transaction([up('u', 1, 'a')]);
    source.push(ddl(p1, 'DROP TABLE t', [{ op: 'drop-table', table: 't' }], [TABLE], []));
    const p3 = source.transaction([up('u', 2, 'b')]);
    await until('past the statement', () => applier.receivedPosition() === p3);
    applier.stop();
    await running;
    expect(target.lastCheckpoint?.position).toBe(p3);
    expect(calls).toEqual(['t:dropped']);
    expect(target.schemaChanges[0]?.recopy).toBeUndefined();
  });

  it('stores an online schema change shadow\'s definition with the checkpoint, under --ddl halt too, applying and counting nothing', async () => {
    const source = new FakeSource([TABLE, U]);
    const target = new FakeTarget({ tables: [TABLE, U] });
    const counted: string[] = [];
    const applier = applierOf(source, target, { tables: [TABLE, U], ddl: 'halt', onSchemaChange: (c) => counted.push(c.statement), onSchemaChangeStart: (t) => counted.push(t.join()) });
    const running = applier.run();
    const p1 = source.transaction([up('t', 1, 'a')]);
    const shadow: TableSchema = { ...TABLE, name: '_t_new', shadowOf: { table: 't', operations: [] } };
    source.push(ddl(p1, 'CREATE TABLE _t_new LIKE t', [], [], [shadow]));
    const p3 = source.transaction([up('t', 2, 'b')]);
    await until('past the statement', () => applier.receivedPosition() === p3);
    applier.stop();
    await running;
    expect(target.lastCheckpoint?.position).toBe(p3);
    expect((await target.loadCheckpoint()).schemas?.get('_t_new')).toEqual(shadow);
    expect(target.schemaChanges.map((c) => c.operations)).toEqual([[]]);
    expect(counted).toEqual([]);
  });

  it('--skip-ddl goes on past the one statement at that position without applying it, storing the definitions after it', async () => {
    const source = new FakeSource([TABLE, U]);
    const target = new FakeTarget({ tables: [TABLE, U] });
    const p1 = source.transaction([up('t', 1, 'a')]);
    const ev = ddl(p1, 'ALTER TABLE t DROP PRIMARY KEY', [], [TABLE], [T2], 'a change of the primary key of a synced table is not followed');
    const applier = applierOf(source, target, { tables: [TABLE, U], skipDdl: source.describePosition(ev.position) });
    const running = applier.run();
    source.push(ev);
    const p3 = source.transaction([up('t', 2, 'b', 'new shape')]);
    await until('past the statement', () => target.lastCheckpoint?.position === p3 || applier.receivedPosition() === p3);
    applier.stop();
    await running;
    // Nothing rendered for the target: the statement's change is the user's.
    expect(target.schemaChanges.map((c) => c.operations)).toEqual([[]]);
    expect((await target.loadCheckpoint()).schemas?.get('t')).toEqual(T2);
    expect(target.lastCheckpoint?.position).toBe(p3);
  });

  it('names --skip-ddl with the statement\'s position in the message that stops the sync', async () => {
    const source = new FakeSource([TABLE, U]);
    const target = new FakeTarget({ tables: [TABLE, U] });
    const applier = applierOf(source, target, { tables: [TABLE, U] });
    const running = applier.run();
    const p1 = source.transaction([up('t', 1, 'a')]);
    const ev = ddl(p1, 'ALTER TABLE t DROP PRIMARY KEY', [], [TABLE], [TABLE], 'not followed');
    source.push(ev);
    await expect(running).rejects.toThrow(`--skip-ddl '${source.describePosition(ev.position)}'`);
  });
});
