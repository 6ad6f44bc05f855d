/**
 * A PostgreSQL target applies a MariaDB source's schema changes (PostgresTarget.applySchemaChange)
 * on real servers: the definitions before and after each change are described from a MariaDB
 * database where the statement ran, the operations are built by hand as the DDL parser gives them.
 * Each change and its checkpoint commit in one transaction; a refused change leaves everything as
 * it was; writes after a change use the new definitions.
 */
import type { Connection } from 'mysql2/promise';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDsn } from '../../src/config/dsn.js';
import { ErrorCode } from '../../src/core/errors.js';
import { createLogger } from '../../src/core/logger.js';
import type { SchemaChange } from '../../src/core/schema-change.js';
import type { TableSchema } from '../../src/core/schema.js';
import type { StreamCheckpoint } from '../../src/core/target.js';
import { describeTable } from '../../src/engines/mysql/schema.js';
import { PostgresTarget } from '../../src/engines/postgres/target.js';
import { startMariaDb, startPostgres, type Server } from '../../src/testing/servers.js';
import { connect } from '../helpers/mysql.js';

let maria: Server;
let postgres: Server;
let src: Connection;
let dst: pg.Client;
let target: PostgresTarget;
const SRC = 'scp_src';

beforeAll(async () => {
  [maria, postgres] = await Promise.all([startMariaDb(), startPostgres()]);
  src = await connect(maria.url());
  await src.query(`CREATE DATABASE ${SRC}; USE ${SRC}`);
  const admin = new pg.Client({ connectionString: postgres.url('postgres') });
  await admin.connect();
  await admin.query('CREATE DATABASE scp_dst');
  await admin.end();
  dst = new pg.Client({ connectionString: postgres.url('scp_dst') });
  await dst.connect();
  target = new PostgresTarget({ dsn: parseDsn(postgres.url('scp_dst'), 'target'), syncId: 'scp', logger: createLogger({ level: 'silent', pretty: false }), poolSize: 1 });
  await target.connect();
  await target.lock();
});

afterAll(async () => {
  await target?.close();
  await dst?.end().catch(() => undefined);
  await src?.end().catch(() => undefined);
  await Promise.all([maria?.stop(), postgres?.stop()]);
});

const cp = (position: string): StreamCheckpoint => ({ version: 1, position, sourceId: 'src', phase: 'stream' });

/** Runs `sql` on the MariaDB source and describes `before` tables before it and `after` tables after it. */
async function onSource(statement: string, before: string[], after: string[]): Promise<Pick<SchemaChange, 'statement' | 'sourceEngine' | 'before' | 'after'>> {
  const b = new Map<string, TableSchema>();
  for (const t of before) b.set(t, await describeTable(src, SRC, t));
  await src.query(statement);
  const a = new Map<string, TableSchema>();
  for (const t of after) a.set(t, await describeTable(src, SRC, t));
  return { statement, sourceEngine: 'mysql', before: b, after: a };
}

async function columns(table: string): Promise<string[]> {
  const d = await target.describe(table);
  return (d?.columns ?? []).map((c) => `${c.name} ${c.columnType}${c.nullable ? '' : ' not null'}`);
}

async function rows(sql: string): Promise<string[]> {
  return (await dst.query(sql)).rows.map((r) => JSON.stringify(r));
}

describe('a PostgreSQL target applies schema changes of a MariaDB source', () => {
  it('follows ADD COLUMN with a default, CHANGE COLUMN, indexes, a swap, CREATE and DROP TABLE, with the checkpoint', async () => {
    await src.query(
      `CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(20));
       CREATE TABLE a (id INT PRIMARY KEY, v VARCHAR(10));
       CREATE TABLE b (id INT PRIMARY KEY, v VARCHAR(10));
       CREATE TABLE gone (id INT PRIMARY KEY)`,
    );
    const initial = await Promise.all(['t', 'a', 'b', 'gone'].map((n) => describeTable(src, SRC, n)));
    await target.ensureSchema(initial, { recreate: false });
    await target.saveStreamCheckpoint(cp('p0'));
    await target.saveSchemas(initial);
    await dst.query(`INSERT INTO t VALUES (1, 'one'), (2, 'two'); INSERT INTO a VALUES (1, 'A'); INSERT INTO b VALUES (1, 'B'), (2, 'B')`);
    await dst.query(
      `INSERT INTO _tributary_checkpoint (sync_id, name, body) VALUES ('scp', 't:a', '{"watermark":null,"done":true,"rowsCopied":1}'), ('scp', 't:b', '{"watermark":null,"done":true,"rowsCopied":2}'), ('scp', 't:gone', '{"watermark":null,"done":true,"rowsCopied":0}')`,
    );
    expect([...((await target.loadCheckpoint()).schemas ?? new Map()).keys()].sort()).toEqual(['a', 'b', 'gone', 't']);

    // ADD COLUMN with a default: the rows there take it.
    const c1 = await onSource('ALTER TABLE t ADD COLUMN qty INT NOT NULL DEFAULT 5 AFTER id, ADD COLUMN at DATETIME(3) NULL DEFAULT CURRENT_TIMESTAMP(3), ADD UNIQUE KEY uk_name (name)', ['t'], ['t']);
    const after1 = c1.after.get('t')!;
    const col = (t: TableSchema, n: string) => t.columns.find((c) => c.name === n)!;
    await target.applySchemaChange(
      {
        ...c1,
        operations: [
          { op: 'add-column', table: 't', column: col(after1, 'qty'), default: { kind: 'literal', value: '5' }, place: { after: 'id' }, sourceText: 'ADD COLUMN qty INT NOT NULL DEFAULT 5 AFTER id' },
          { op: 'add-column', table: 't', column: col(after1, 'at'), default: { kind: 'now', fsp: 3 }, sourceText: 'ADD COLUMN at DATETIME(3) NULL DEFAULT CURRENT_TIMESTAMP(3)' },
          { op: 'add-index', table: 't', name: 'uk_name', columns: ['name'], unique: true, sourceText: 'ADD UNIQUE KEY uk_name (name)' },
        ],
      },
      cp('p1'),
    );
    expect(await columns('t')).toEqual(['id integer not null', 'name character varying(20)', 'qty integer not null', 'at timestamp(3) without time zone']);
    expect(await rows('SELECT id, qty, at IS NOT NULL AS stamped FROM t ORDER BY id')).toEqual([JSON.stringify({ id: 1, qty: 5, stamped: true }), JSON.stringify({ id: 2, qty: 5, stamped: true })]);
    expect((await target.describe('t'))!.uniqueKeys).toEqual([[1]]);
    let loaded = await target.loadCheckpoint();
    expect(loaded.stream?.position).toBe('p1');
    expect(loaded.schemas?.get('t')?.columns.map((c) => c.name)).toEqual(['id', 'qty', 'name', 'at']);

    // Writes use the new definition (the plan was rebuilt): source column order, new columns.
    let tx = await target.begin();
    await tx.write(new Map([['t', after1]]), [{ kind: 'upsert', table: 't', key: [3], row: [3, 7, 'three', '2024-01-02 03:04:05.678'] }]);
    await tx.commit(cp('p1b'));
    expect(await rows("SELECT id, qty, name, to_char(at, 'YYYY-MM-DD HH24:MI:SS.MS') AS at FROM t WHERE id = 3")).toEqual([JSON.stringify({ id: 3, qty: 7, name: 'three', at: '2024-01-02 03:04:05.678' })]);

    // CHANGE COLUMN: rename plus ALTER TYPE … USING; drop the unique key by its source name.
    const c2 = await onSource("ALTER TABLE t CHANGE COLUMN qty amount BIGINT NOT NULL DEFAULT 0, DROP KEY uk_name", ['t'], ['t']);
    const after2 = c2.after.get('t')!;
    await target.applySchemaChange(
      {
        ...c2,
        operations: [
          { op: 'rename-column', table: 't', from: 'qty', to: 'amount', sourceText: 'CHANGE COLUMN qty amount BIGINT NOT NULL DEFAULT 0' },
          { op: 'modify-column', table: 't', column: col(after2, 'amount'), default: { kind: 'literal', value: '0' } },
          { op: 'drop-index', table: 't', name: 'uk_name', sourceText: 'DROP KEY uk_name' },
        ],
      },
      cp('p2'),
    );
    expect(await columns('t')).toEqual(['id integer not null', 'name character varying(20)', 'amount bigint not null', 'at timestamp(3) without time zone']);
    expect((await target.describe('t'))!.uniqueKeys).toEqual([]);
    expect(await rows('SELECT id, amount FROM t ORDER BY id')).toEqual([JSON.stringify({ id: 1, amount: '5' }), JSON.stringify({ id: 2, amount: '5' }), JSON.stringify({ id: 3, amount: '7' })]);

    // A refused change (a default expression) applies nothing, and its checkpoint is not saved.
    const refused = { statement: 'ALTER TABLE t ADD COLUMN r INT DEFAULT (rand())', sourceEngine: 'mysql', before: c2.after, after: c2.after, operations: [{ op: 'add-column' as const, table: 't', column: col(after2, 'amount'), default: { kind: 'expression' as const, sql: 'rand()' } }] };
    await expect(target.applySchemaChange(refused, cp('p-refused'))).rejects.toMatchObject({ code: ErrorCode.DDL_UNSUPPORTED });
    expect((await target.loadCheckpoint()).stream?.position).toBe('p2');

    // A swap of two tables with the same columns, in one transaction; their copy rows follow.
    const c3 = await onSource('RENAME TABLE a TO tmp, b TO a, tmp TO b', ['a', 'b'], ['a', 'b']);
    await target.applySchemaChange({ ...c3, operations: [{ op: 'rename-tables', pairs: [{ from: 'a', to: 'tmp' }, { from: 'b', to: 'a' }, { from: 'tmp', to: 'b' }] }] }, cp('p3'));
    expect(await rows('SELECT * FROM a ORDER BY id')).toEqual([JSON.stringify({ id: 1, v: 'B' }), JSON.stringify({ id: 2, v: 'B' })]);
    expect(await rows('SELECT * FROM b ORDER BY id')).toEqual([JSON.stringify({ id: 1, v: 'A' })]);
    loaded = await target.loadCheckpoint();
    expect(loaded.tables.get('a')?.rowsCopied).toBe(2);
    expect(loaded.tables.get('b')?.rowsCopied).toBe(1);

    // CREATE TABLE (its enum column with its CHECK), DROP TABLE, TRUNCATE.
    const c4 = await onSource("CREATE TABLE n (id INT PRIMARY KEY, mood ENUM('sad','ok') NOT NULL)", [], ['n']);
    await target.applySchemaChange({ ...c4, operations: [{ op: 'create-table', table: c4.after.get('n')! }] }, cp('p4'));
    expect(await columns('n')).toEqual(['id integer not null', 'mood text not null']);
    await expect(dst.query("INSERT INTO n VALUES (1, 'happy')")).rejects.toThrow(/check constraint/);
    // MODIFY the enum: the CHECK follows.
    const c5 = await onSource("ALTER TABLE n MODIFY mood ENUM('sad','ok','happy') NOT NULL", ['n'], ['n']);
    await target.applySchemaChange({ ...c5, operations: [{ op: 'modify-column', table: 'n', column: col(c5.after.get('n')!, 'mood'), sourceText: "MODIFY mood ENUM('sad','ok','happy') NOT NULL" }] }, cp('p5'));
    await dst.query("INSERT INTO n VALUES (1, 'happy')");
    await expect(dst.query("INSERT INTO n VALUES (2, 'angry')")).rejects.toThrow(/check constraint/);
    const c6 = await onSource('DROP TABLE gone', ['gone'], []);
    await target.applySchemaChange({ ...c6, operations: [{ op: 'drop-table', table: 'gone' }] }, cp('p6'));
    expect(await target.describe('gone')).toBeNull();
    const c7 = await onSource('TRUNCATE TABLE b', ['b'], ['b']);
    await target.applySchemaChange({ ...c7, operations: [{ op: 'truncate', table: 'b' }] }, cp('p7'));
    expect(await rows('SELECT * FROM b')).toEqual([]);

    loaded = await target.loadCheckpoint();
    expect(loaded.stream?.position).toBe('p7');
    expect([...(loaded.schemas?.keys() ?? [])].sort()).toEqual(['a', 'b', 'n', 't']);
    expect(loaded.schemas?.get('t')?.columns.map((c) => c.name)).toEqual(['id', 'amount', 'name', 'at']);
    expect(loaded.tables.has('gone')).toBe(false);

    // Writes to the new table and the changed one.
    tx = await target.begin();
    await tx.write(
      new Map([
        ['t', after2],
        ['n', c5.after.get('n')!],
      ]),
      [
        { kind: 'upsert', table: 't', key: [4], row: [4, 9, 'four', null] },
        { kind: 'upsert', table: 'n', key: [2], row: [2, 'ok'] },
      ],
    );
    await tx.commit(cp('p8'));
    expect(await rows('SELECT id, amount, name FROM t WHERE id = 4')).toEqual([JSON.stringify({ id: 4, amount: '9', name: 'four' })]);
    expect(await rows('SELECT * FROM n ORDER BY id')).toEqual([JSON.stringify({ id: 1, mood: 'happy' }), JSON.stringify({ id: 2, mood: 'ok' })]);

    // A plain index and a default; then both dropped, with a column.
    const indexes = async () => (await dst.query<{ d: string }>("SELECT indexdef AS d FROM pg_indexes WHERE tablename = 't' AND indexname NOT LIKE '%pkey' ORDER BY 1")).rows.map((r) => r.d);
    const c8 = await onSource('ALTER TABLE t ADD KEY k_name (name), ALTER COLUMN amount SET DEFAULT 3', ['t'], ['t']);
    await target.applySchemaChange(
      {
        ...c8,
        operations: [
          { op: 'add-index', table: 't', name: 'k_name', columns: ['name'], unique: false, sourceText: 'ADD KEY k_name (name)' },
          { op: 'set-default', table: 't', column: 'amount', default: { kind: 'literal', value: '3' }, sourceText: 'ALTER COLUMN amount SET DEFAULT 3' },
        ],
      },
      cp('p9'),
    );
    expect(await indexes()).toEqual(['CREATE INDEX t_name_idx ON public.t USING btree (name)']);
    await dst.query("INSERT INTO t (id, name) VALUES (10, 'ten')");
    expect(await rows('SELECT amount FROM t WHERE id = 10')).toEqual([JSON.stringify({ amount: '3' })]);
    const c9 = await onSource('ALTER TABLE t DROP KEY k_name, DROP COLUMN at', ['t'], ['t']);
    await target.applySchemaChange(
      {
        ...c9,
        operations: [
          { op: 'drop-index', table: 't', name: 'k_name', sourceText: 'DROP KEY k_name' },
          { op: 'drop-column', table: 't', column: 'at', sourceText: 'DROP COLUMN at' },
        ],
      },
      cp('p10'),
    );
    expect(await indexes()).toEqual([]);
    expect(await columns('t')).toEqual(['id integer not null', 'name character varying(20)', 'amount bigint not null']);
    tx = await target.begin();
    await tx.write(new Map([['t', c9.after.get('t')!]]), [{ kind: 'upsert', table: 't', key: [5], row: [5, 11, 'five'] }]);
    await tx.commit(cp('p11'));
    expect(await rows('SELECT id, amount, name FROM t WHERE id = 5')).toEqual([JSON.stringify({ id: 5, amount: '11', name: 'five' })]);
    expect((await target.loadCheckpoint()).schemas?.get('t')?.columns.map((c) => c.name)).toEqual(['id', 'amount', 'name']);
  });
});
