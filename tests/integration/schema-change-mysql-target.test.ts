/**
 * A MariaDB target applies a MariaDB source's schema changes (MysqlTarget.applySchemaChange) on
 * real servers: the tables' definitions before and after each change are described from a source
 * database where the statement ran, the operations are built by hand as the DDL parser gives them,
 * and each change is applied twice: the second time (a replay after a crash between the DDL and its
 * checkpoint) must neither fail nor change anything, a RENAME TABLE swap of two tables with the
 * same columns included.
 */
import type { Connection, RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDsn } from '../../src/config/dsn.js';
import { createLogger } from '../../src/core/logger.js';
import type { SchemaChange, SchemaOperation } from '../../src/core/schema-change.js';
import type { TableSchema } from '../../src/core/schema.js';
import type { StreamCheckpoint } from '../../src/core/target.js';
import { describeTable } from '../../src/engines/mysql/schema.js';
import { MysqlTarget } from '../../src/engines/mysql/target.js';
import { startMariaDb, type Server } from '../../src/testing/servers.js';
import { connect } from '../helpers/mysql.js';

let server: Server;
let root: Connection;
let target: MysqlTarget;

const SRC = 'sc_src';
const DST = 'sc_dst';

beforeAll(async () => {
  server = await startMariaDb();
  root = await connect(server.url());
  await root.query(`CREATE DATABASE ${SRC}; CREATE DATABASE ${DST}`);
  target = new MysqlTarget({ dsn: parseDsn(server.url(DST), 'target'), syncId: 'sc', logger: createLogger({ level: 'silent', pretty: false }), poolSize: 1 });
  await target.connect();
  await target.lock();
});

afterAll(async () => {
  await target?.close();
  await root?.end().catch(() => undefined);
  await server?.stop();
});

const describeSource = (t: string) => describeTable(root, SRC, t);
const cp = (position: string): StreamCheckpoint => ({ version: 1, position, sourceId: 'src', phase: 'stream' });

/** Runs `sql` on the source database and returns the described definitions of `tables` before and after it. */
async function onSource(sql: string, before: string[], after: string[]): Promise<{ before: Map<string, TableSchema>; after: Map<string, TableSchema> }> {
  const b = new Map<string, TableSchema>();
  for (const t of before) b.set(t, await describeSource(t));
  await root.query(`USE ${SRC}`);
  await root.query(sql);
  const a = new Map<string, TableSchema>();
  for (const t of after) a.set(t, await describeSource(t));
  return { before: b, after: a };
}

async function showCreate(table: string): Promise<string> {
  const [rows] = await root.query<RowDataPacket[]>(`SHOW CREATE TABLE ${DST}.\`${table}\``);
  return String(rows[0]?.['Create Table']);
}

async function rows(table: string): Promise<string[]> {
  const [r] = await root.query<RowDataPacket[]>(`SELECT * FROM ${DST}.\`${table}\` ORDER BY 1`);
  return r.map((x) => JSON.stringify(x));
}

/** Applies the change, then applies it again and checks that the replay changed nothing. */
async function applyTwice(change: SchemaChange, position: string, tables: string[]): Promise<void> {
  await target.applySchemaChange(change, cp(position));
  const defs = await Promise.all(tables.map(showCreate));
  const data = await Promise.all(tables.map(rows));
  await target.applySchemaChange(change, cp(position));
  expect(await Promise.all(tables.map(showCreate))).toEqual(defs);
  expect(await Promise.all(tables.map(rows))).toEqual(data);
}

describe('a MariaDB target applies schema changes', () => {
  it('follows ADD COLUMN with a default, CHANGE COLUMN, indexes, a swap, CREATE and DROP TABLE, idempotently', async () => {
    await root.query(
      `USE ${SRC};
       CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(20));
       CREATE TABLE a (id INT PRIMARY KEY, v VARCHAR(10));
       CREATE TABLE b (id INT PRIMARY KEY, v VARCHAR(10));
       CREATE TABLE gone (id INT PRIMARY KEY)`,
    );
    const initial = await Promise.all(['t', 'a', 'b', 'gone'].map(describeSource));
    await target.ensureSchema(initial, { recreate: false });
    await target.saveStreamCheckpoint(cp('p0'));
    await target.saveSchemas(initial);
    await root.query(`USE ${DST}; INSERT INTO t VALUES (1, 'one'), (2, 'two'); INSERT INTO a VALUES (1, 'A'); INSERT INTO b VALUES (1, 'B'), (2, 'B')`);
    await root.query(`INSERT INTO _tributary_checkpoint (sync_id, name, body) VALUES ('sc', 't:a', '{"watermark":null,"done":true,"rowsCopied":1}'), ('sc', 't:b', '{"watermark":null,"done":true,"rowsCopied":2}'), ('sc', 't:gone', '{"watermark":null,"done":true,"rowsCopied":0}')`);
    expect([...((await target.loadCheckpoint()).schemas ?? new Map()).keys()].sort()).toEqual(['a', 'b', 'gone', 't']);

    // ADD COLUMN with a default, and an index.
    const add = 'ALTER TABLE t ADD COLUMN qty INT NOT NULL DEFAULT 5 AFTER id, ADD KEY by_qty (qty)';
    const d1 = await onSource(add, ['t'], ['t']);
    const qty = d1.after.get('t')!.columns.find((c) => c.name === 'qty')!;
    const ops1: SchemaOperation[] = [
      { op: 'add-column', table: 't', column: qty, default: { kind: 'literal', value: '5' }, place: { after: 'id' }, sourceText: 'ADD COLUMN qty INT NOT NULL DEFAULT 5 AFTER id' },
      { op: 'add-index', table: 't', name: 'by_qty', columns: ['qty'], unique: false, sourceText: 'ADD KEY by_qty (qty)' },
    ];
    await applyTwice({ statement: add, sourceEngine: 'mysql', operations: ops1, ...d1 }, 'p1', ['t']);
    expect((await target.describe('t'))!.columns.map((c) => `${c.name} ${c.columnType}${c.nullable ? '' : ' not null'}`)).toEqual(['id int(11) not null', 'qty int(11) not null', 'name varchar(20)']);
    expect(await rows('t')).toEqual([JSON.stringify({ id: 1, qty: 5, name: 'one' }), JSON.stringify({ id: 2, qty: 5, name: 'two' })]);
    expect(await showCreate('t')).toContain('KEY `by_qty` (`qty`)');
    let loaded = await target.loadCheckpoint();
    expect(loaded.stream?.position).toBe('p1');
    expect(loaded.schemas?.get('t')?.columns.map((c) => c.name)).toEqual(['id', 'qty', 'name']);

    // CHANGE COLUMN: a rename carrying the text, and a modify without it.
    const change = 'ALTER TABLE t CHANGE COLUMN name label VARCHAR(40) NOT NULL DEFAULT \'\'';
    const d2 = await onSource(change, ['t'], ['t']);
    const label = d2.after.get('t')!.columns.find((c) => c.name === 'label')!;
    await applyTwice(
      {
        statement: change,
        sourceEngine: 'mysql',
        operations: [
          { op: 'rename-column', table: 't', from: 'name', to: 'label', sourceText: "CHANGE COLUMN name label VARCHAR(40) NOT NULL DEFAULT ''" },
          { op: 'modify-column', table: 't', column: label, default: { kind: 'literal', value: '' } },
        ],
        ...d2,
      },
      'p2',
      ['t'],
    );
    expect((await target.describe('t'))!.columns.map((c) => `${c.name} ${c.columnType}`)).toEqual(['id int(11)', 'qty int(11)', 'label varchar(40)']);
    expect(await rows('t')).toEqual([JSON.stringify({ id: 1, qty: 5, label: 'one' }), JSON.stringify({ id: 2, qty: 5, label: 'two' })]);

    // Drop an index and a column, add a unique key.
    const alter = 'ALTER TABLE t DROP KEY by_qty, DROP COLUMN qty, ADD UNIQUE KEY uk_label (label)';
    const d3 = await onSource(alter, ['t'], ['t']);
    await applyTwice(
      {
        statement: alter,
        sourceEngine: 'mysql',
        operations: [
          { op: 'drop-index', table: 't', name: 'by_qty', sourceText: 'DROP KEY by_qty' },
          { op: 'drop-column', table: 't', column: 'qty', sourceText: 'DROP COLUMN qty' },
          { op: 'add-index', table: 't', name: 'uk_label', columns: ['label'], unique: true, sourceText: 'ADD UNIQUE KEY uk_label (label)' },
        ],
        ...d3,
      },
      'p3',
      ['t'],
    );
    expect(await showCreate('t')).toBe((await describeSource('t')).createStatement);

    // A crash after the DDL ran and before its checkpoint: the replay finds it in effect and only checkpoints.
    const extra = 'ALTER TABLE t ADD COLUMN extra INT NULL, ADD KEY by_extra (extra)';
    const d3b = await onSource(extra, ['t'], ['t']);
    await root.query(`ALTER TABLE ${DST}.t ADD COLUMN extra INT NULL, ADD KEY by_extra (extra)`);
    const ranAlready = await showCreate('t');
    await target.applySchemaChange(
      {
        statement: extra,
        sourceEngine: 'mysql',
        operations: [
          { op: 'add-column', table: 't', column: d3b.after.get('t')!.columns.find((c) => c.name === 'extra')!, sourceText: 'ADD COLUMN extra INT NULL' },
          { op: 'add-index', table: 't', name: 'by_extra', columns: ['extra'], unique: false, sourceText: 'ADD KEY by_extra (extra)' },
        ],
        ...d3b,
      },
      cp('p3b'),
    );
    expect(await showCreate('t')).toBe(ranAlready);
    expect((await target.loadCheckpoint()).schemas?.get('t')?.columns.map((c) => c.name)).toEqual(['id', 'label', 'extra']);
    const undo = 'ALTER TABLE t DROP COLUMN extra';
    const d3c = await onSource(undo, ['t'], ['t']);
    await applyTwice({ statement: undo, sourceEngine: 'mysql', operations: [{ op: 'drop-column', table: 't', column: 'extra', sourceText: 'DROP COLUMN extra' }], ...d3c }, 'p3c', ['t']);

    // A swap of two tables with the same columns: decided by their InnoDB ids on the replay.
    const swap = 'RENAME TABLE a TO tmp, b TO a, tmp TO b';
    const d4 = await onSource(swap, ['a', 'b'], ['a', 'b']);
    await applyTwice({ statement: swap, sourceEngine: 'mysql', operations: [{ op: 'rename-tables', pairs: [{ from: 'a', to: 'tmp' }, { from: 'b', to: 'a' }, { from: 'tmp', to: 'b' }] }], ...d4 }, 'p4', ['a', 'b']);
    expect(await rows('a')).toEqual([JSON.stringify({ id: 1, v: 'B' }), JSON.stringify({ id: 2, v: 'B' })]);
    expect(await rows('b')).toEqual([JSON.stringify({ id: 1, v: 'A' })]);
    // The identities the replay decided by: InnoDB table ids, recorded before the RENAME ran.
    const [pendingRow] = await root.query<RowDataPacket[]>(`SELECT body FROM ${DST}._tributary_checkpoint WHERE sync_id = 'sc' AND name = 'd:'`);
    expect(JSON.parse(String(pendingRow[0]?.body))).toMatchObject({ position: 'p4', statement: swap, tables: { a: expect.stringMatching(/^\d+$/), b: expect.stringMatching(/^\d+$/), tmp: null } });
    loaded = await target.loadCheckpoint();
    expect(loaded.tables.get('a')?.rowsCopied).toBe(2);
    expect(loaded.tables.get('b')?.rowsCopied).toBe(1);
    // A crash between the swap and its checkpoint: the checkpoint is still the one before it.
    await target.saveStreamCheckpoint(cp('p3c'));
    await target.applySchemaChange({ statement: swap, sourceEngine: 'mysql', operations: [{ op: 'rename-tables', pairs: [{ from: 'a', to: 'tmp' }, { from: 'b', to: 'a' }, { from: 'tmp', to: 'b' }] }], ...d4 }, cp('p4'));
    expect(await rows('a')).toEqual([JSON.stringify({ id: 1, v: 'B' }), JSON.stringify({ id: 2, v: 'B' })]);
    expect((await target.loadCheckpoint()).stream?.position).toBe('p4');

    // CREATE TABLE, DROP TABLE, TRUNCATE.
    const create = 'CREATE TABLE n (id INT PRIMARY KEY, note TEXT) ENGINE=InnoDB';
    const d5 = await onSource(create, [], ['n']);
    await applyTwice({ statement: create, sourceEngine: 'mysql', operations: [{ op: 'create-table', table: d5.after.get('n')! }], ...d5 }, 'p5', ['n']);
    expect(await showCreate('n')).toBe((await describeSource('n')).createStatement);
    const drop = 'DROP TABLE gone';
    const d6 = await onSource(drop, ['gone'], []);
    await target.applySchemaChange({ statement: drop, sourceEngine: 'mysql', operations: [{ op: 'drop-table', table: 'gone' }], ...d6 }, cp('p6'));
    await target.applySchemaChange({ statement: drop, sourceEngine: 'mysql', operations: [{ op: 'drop-table', table: 'gone' }], ...d6 }, cp('p6'));
    expect(await target.describe('gone')).toBeNull();
    const trunc = 'TRUNCATE TABLE b';
    const d7 = await onSource(trunc, ['b'], ['b']);
    await applyTwice({ statement: trunc, sourceEngine: 'mysql', operations: [{ op: 'truncate', table: 'b' }], ...d7 }, 'p7', ['b']);
    expect(await rows('b')).toEqual([]);

    loaded = await target.loadCheckpoint();
    expect(loaded.stream?.position).toBe('p7');
    expect([...(loaded.schemas?.keys() ?? [])].sort()).toEqual(['a', 'b', 'n', 't']);
    expect(loaded.schemas?.get('t')?.columns.map((c) => c.name)).toEqual(['id', 'label']);
    expect(loaded.tables.has('gone')).toBe(false);

    // Writes after the changes use the new definitions.
    const tx = await target.begin();
    const t = loaded.schemas!.get('t')!;
    await tx.write(new Map([['t', t]]), [{ kind: 'upsert', table: 't', key: [3], row: [3, 'three'] }]);
    await tx.commit(cp('p8'));
    expect(await rows('t')).toContain(JSON.stringify({ id: 3, label: 'three' }));
  });
});
