/**
 * Schema changes rendered for each target (engines/mysql/ddl.ts and engines/postgres/ddl.ts
 * schemaChangeSql), a MySQL target's replay decisions (engines/mysql/replay.ts), and the checkpoint
 * rows a change rewrites (checkpoint/rows.ts schemaChangeRows).
 */
import { describe, expect, it } from 'vitest';
import { schemaChangeRows } from '../../src/checkpoint/rows.js';
import { ErrorCode, TributaryError } from '../../src/core/errors.js';
import type { SchemaChange, SchemaOperation } from '../../src/core/schema-change.js';
import { nameAfter, nameBefore, resolveColumn } from '../../src/core/schema-change-tables.js';
import { indexNamed, type Column, type TableSchema } from '../../src/core/schema.js';
import { schemaChangeGroups, schemaChangeSql as mysqlSql } from '../../src/engines/mysql/ddl.js';
import { innodbName, operationsInEffect, type TableState, type TargetState } from '../../src/engines/mysql/replay.js';
import { withLogical } from '../../src/engines/mysql/types.js';
import { parseDdl } from '../../src/engines/mysql/ddl-parse.js';
import { schemaChangeSql as pgSql } from '../../src/engines/postgres/ddl.js';
import { withLogical as pgWithLogical } from '../../src/engines/postgres/types.js';

function col(name: string, dataType: string, columnType: string, extra: Partial<Column> = {}): Column {
  return { name, dataType, columnType, nullable: true, unsigned: /unsigned/.test(columnType), ...extra };
}
const id = col('id', 'int', 'int(11)', { nullable: false });
const name = col('name', 'varchar', 'varchar(20)', { charset: 'utf8mb4', collation: 'utf8mb4_general_ci' });

/** A MySQL table as the engine's describe gives it. */
function mysqlTable(tname: string, columns: Column[], extra: Partial<TableSchema> = {}): TableSchema {
  return withLogical({ name: tname, columns, primaryKey: [0], generated: [], engine: 'mysql', ...extra });
}

function change(operations: SchemaOperation[], before: TableSchema[], after: TableSchema[], extra: Partial<SchemaChange> = {}): SchemaChange {
  return {
    statement: 'ALTER TABLE …',
    sourceEngine: 'mysql',
    operations,
    before: new Map(before.map((t) => [t.name, t])),
    after: new Map(after.map((t) => [t.name, t])),
    ...extra,
  };
}

const pgOpts = { schema: 'public', types: { zeroDates: 'error' as const, columnTypes: {} } };
const t0 = mysqlTable('t', [id, name]);
const withCol = (c: Column, tname = 't') => mysqlTable(tname, [id, name, c]);

function refusal(fn: () => unknown): TributaryError {
  try {
    fn();
  } catch (err) {
    if (err instanceof TributaryError) return err;
    throw err;
  }
  throw new Error('expected a refusal');
}

describe('MySQL target: schema changes from a MySQL source', () => {
  it('renders one ALTER TABLE from the operations\' source text', () => {
    const c = col('qty', 'int', 'int(11)', { nullable: false });
    const ch = change(
      [
        { op: 'add-column', table: 't', column: c, default: { kind: 'literal', value: '5' }, place: { after: 'id' }, sourceText: 'ADD COLUMN `qty` int NOT NULL DEFAULT 5 AFTER `id`' },
        { op: 'add-index', table: 't', name: 'q', columns: ['qty'], unique: false, sourceText: 'ADD KEY `q` (`qty`)' },
      ],
      [t0],
      [withCol(c)],
    );
    expect(mysqlSql(ch)).toEqual(['ALTER TABLE `t` ADD COLUMN `qty` int NOT NULL DEFAULT 5 AFTER `id`, ADD KEY `q` (`qty`)']);
  });

  it('renders a CHANGE COLUMN once, from the rename half\'s text', () => {
    const c = col('label', 'varchar', 'varchar(40)', { charset: 'utf8mb4', collation: 'utf8mb4_general_ci' });
    const ch = change(
      [
        { op: 'rename-column', table: 't', from: 'name', to: 'label', sourceText: 'CHANGE COLUMN `name` `label` varchar(40)' },
        { op: 'modify-column', table: 't', column: c },
      ],
      [t0],
      [mysqlTable('t', [id, c])],
    );
    expect(mysqlSql(ch)).toEqual(['ALTER TABLE `t` CHANGE COLUMN `name` `label` varchar(40)']);
    // With the rename already in effect (a replay), the modify half is declared from its fields.
    expect(mysqlSql(ch, {}, new Set([0]))).toEqual(['ALTER TABLE `t` MODIFY COLUMN `label` varchar(40) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NULL']);
  });

  it('renders CHANGE COLUMN … PRIMARY KEY once: the key is in the rename half\'s text', () => {
    const ref = col('ref', 'varchar', 'varchar(10)', { nullable: false, charset: 'utf8mb4', collation: 'utf8mb4_general_ci' });
    const ch = change(
      [
        { op: 'drop-index', table: 't', name: 'PRIMARY', primary: true, sourceText: 'DROP PRIMARY KEY' },
        { op: 'rename-column', table: 't', from: 'name', to: 'ref', sourceText: 'CHANGE COLUMN `name` `ref` varchar(10) NOT NULL PRIMARY KEY' },
        { op: 'modify-column', table: 't', column: ref },
        { op: 'add-index', table: 't', name: 'PRIMARY', columns: ['ref'], unique: true, primary: true },
      ],
      [t0],
      [mysqlTable('t', [id, ref], { primaryKey: [1] })],
    );
    expect(mysqlSql(ch)).toEqual(['ALTER TABLE `t` DROP PRIMARY KEY, CHANGE COLUMN `name` `ref` varchar(10) NOT NULL PRIMARY KEY']);
  });

  it('renders operations without text from their fields', () => {
    const c = col('at', 'datetime', 'datetime(3)', { nullable: false, scale: 3 });
    const ch = change(
      [
        { op: 'add-column', table: 't', column: c, default: { kind: 'now', fsp: 3 }, place: { first: true } },
        { op: 'drop-column', table: 't', column: 'name' },
        { op: 'rename-column', table: 't', from: 'a', to: 'b' },
        { op: 'set-default', table: 't', column: 'id', default: { kind: 'literal', value: "it's" } },
        { op: 'set-default', table: 't', column: 'id', default: null },
        { op: 'add-index', table: 't', name: 'u', columns: ['at', 'id'], unique: true },
        { op: 'add-index', table: 't', name: 'PRIMARY', columns: ['id'], unique: true, primary: true },
        { op: 'drop-index', table: 't', name: 'PRIMARY', primary: true },
        { op: 'drop-index', table: 't', name: 'u' },
        { op: 'convert-charset', table: 't', charset: 'utf8mb4', collation: 'utf8mb4_bin' },
        { op: 'modify-column', table: 't', column: c, default: { kind: 'expression', sql: 'now() + interval 1 day' } },
      ],
      [t0],
      [withCol(c)],
    );
    // Each group is what one ALTER can hold: a column or index is named once per statement.
    expect(mysqlSql(ch)).toEqual([
      'ALTER TABLE `t` ADD COLUMN `at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) FIRST, DROP COLUMN `name`, RENAME COLUMN `a` TO `b`, ' +
        "ALTER COLUMN `id` SET DEFAULT 'it\\'s'",
      'ALTER TABLE `t` ALTER COLUMN `id` DROP DEFAULT, ADD UNIQUE KEY `u` (`at`, `id`), ADD PRIMARY KEY (`id`)',
      'ALTER TABLE `t` DROP PRIMARY KEY, DROP INDEX `u`, CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_bin, MODIFY COLUMN `at` datetime(3) NOT NULL DEFAULT (now() + interval 1 day)',
    ]);
  });

  it('renders RENAME TABLE swaps, CREATE, DROP and TRUNCATE, and an ALTER … RENAME TO as one statement', () => {
    const b = mysqlTable('b', [id]);
    const created = mysqlTable('n', [id], { createStatement: 'CREATE TABLE `n` (\n  `id` int(11) NOT NULL,\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB AUTO_INCREMENT=7 DEFAULT CHARSET=utf8mb4' });
    const ch = change(
      [
        { op: 'rename-tables', pairs: [{ from: 'a', to: 'tmp' }, { from: 'b', to: 'a' }, { from: 'tmp', to: 'b' }] },
        { op: 'create-table', table: created },
        { op: 'drop-table', table: 'old' },
        { op: 'truncate', table: 'b' },
        { op: 'add-column', table: 'b', column: name, sourceText: 'ADD `name` varchar(20)' },
        { op: 'rename-tables', pairs: [{ from: 'b', to: 'c' }] },
      ],
      [mysqlTable('a', [id]), b],
      [mysqlTable('a', [id]), mysqlTable('c', [id, name]), created],
    );
    expect(mysqlSql(ch)).toEqual([
      'RENAME TABLE `a` TO `tmp`, `b` TO `a`, `tmp` TO `b`',
      'CREATE TABLE IF NOT EXISTS `n` (\n  `id` int(11) NOT NULL,\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4',
      'DROP TABLE IF EXISTS `old`',
      'TRUNCATE TABLE `b`',
      'ALTER TABLE `b` ADD `name` varchar(20), RENAME TO `c`',
    ]);
    expect(schemaChangeGroups(ch).map((g) => g.kind)).toEqual(['rename', 'create', 'drop', 'truncate', 'alter']);
  });

  it('splits operations of several statements on one table where one ALTER could not hold them', () => {
    const c = col('c', 'int', 'int(11)');
    const wide = col('c', 'bigint', 'bigint(20)');
    const ch = change(
      [
        { op: 'add-column', table: 't', column: c, sourceText: 'ADD c int' },
        { op: 'add-index', table: 't', name: 'k', columns: ['c'], unique: false, sourceText: 'ADD KEY k (c)' },
        { op: 'modify-column', table: 't', column: wide, sourceText: 'MODIFY c bigint' },
        { op: 'drop-index', table: 't', name: 'k', sourceText: 'DROP KEY k' },
        { op: 'add-index', table: 't', name: 'k', columns: ['c', 'id'], unique: false, sourceText: 'ADD KEY k (c, id)' },
        { op: 'rename-column', table: 't', from: 'c', to: 'd', sourceText: 'CHANGE c d bigint' },
        { op: 'modify-column', table: 't', column: { ...wide, name: 'd' } },
        { op: 'drop-column', table: 't', column: 'd', sourceText: 'DROP d' },
      ],
      [t0],
      [t0],
    );
    expect(mysqlSql(ch)).toEqual([
      'ALTER TABLE `t` ADD c int, ADD KEY k (c)',
      'ALTER TABLE `t` MODIFY c bigint, DROP KEY k, ADD KEY k (c, id)',
      'ALTER TABLE `t` CHANGE c d bigint',
      'ALTER TABLE `t` DROP d',
    ]);
  });

  it('keeps table options from the source text, and renders nothing for them from another engine', () => {
    const opt: SchemaOperation = { op: 'table-options', table: 't', sourceText: 'ENGINE=InnoDB ROW_FORMAT=DYNAMIC' };
    expect(mysqlSql(change([opt], [t0], [t0]))).toEqual(['ALTER TABLE `t` ENGINE=InnoDB ROW_FORMAT=DYNAMIC']);
    const pgT = pgWithLogical({ name: 't', columns: [col('id', 'int4', 'integer', { nullable: false })], primaryKey: [0], generated: [], engine: 'postgres' });
    expect(mysqlSql(change([opt], [pgT], [pgT], { sourceEngine: 'postgres' }))).toEqual([]);
  });
});

describe('MySQL target: schema changes from a PostgreSQL source, through the logical types', () => {
  const pgId = col('id', 'int4', 'integer', { nullable: false });
  const pgT = (cols: Column[]) => pgWithLogical({ name: 't', columns: [pgId, ...cols], primaryKey: [0], generated: [], engine: 'postgres' });
  it('adds, modifies, renames and drops columns with their mapped types', () => {
    const amount = col('amount', 'numeric', 'numeric(10,2)', { precision: 10, scale: 2, nullable: false });
    const note = col('note', 'text', 'text');
    const after = pgT([amount, note]);
    const ch = change(
      [
        { op: 'add-column', table: 't', column: amount, default: { kind: 'literal', value: '1.50' } },
        { op: 'modify-column', table: 't', column: note },
        { op: 'rename-column', table: 't', from: 'x', to: 'y' },
        { op: 'drop-column', table: 't', column: 'z' },
      ],
      [pgT([])],
      [after],
      { sourceEngine: 'postgres' },
    );
    expect(mysqlSql(ch)).toEqual(["ALTER TABLE `t` ADD COLUMN `amount` DECIMAL(10,2) NOT NULL DEFAULT '1.50', MODIFY COLUMN `note` LONGTEXT NULL, RENAME COLUMN `x` TO `y`, DROP COLUMN `z`"]);
  });
  it('refuses a default expression of PostgreSQL by name', () => {
    const c = col('d', 'int4', 'integer');
    const err = refusal(() => mysqlSql(change([{ op: 'add-column', table: 't', column: c, default: { kind: 'expression', sql: "nextval('s')" } }], [pgT([])], [pgT([c])], { sourceEngine: 'postgres', statement: 'ALTER TABLE t ADD d int' })));
    expect(err.code).toBe(ErrorCode.DDL_UNSUPPORTED);
    expect(err.message).toMatch(/ALTER TABLE t ADD d int.*d DEFAULT nextval\('s'\).*--skip-ddl/);
  });
});

describe('PostgreSQL target: schema changes from a MySQL source', () => {
  const render = (ops: SchemaOperation[], before: TableSchema[], after: TableSchema[], extra: Partial<SchemaChange> = {}) => pgSql(change(ops, before, after, extra), pgOpts);

  it('gives the key the constraint it needs whatever moved it: narrowed by a DROP COLUMN, a unique key taking over (made immediate), renamed in the statement, and the old unique key deferred again', () => {
    const k = col('k', 'varchar', 'varchar(10)', { nullable: false, charset: 'utf8mb4', collation: 'utf8mb4_general_ci' });
    const email = col('email', 'varchar', 'varchar(40)', { nullable: false, charset: 'utf8mb4', collation: 'utf8mb4_general_ci' });
    const tail = (r: { statements: readonly string[] }) => r.statements.filter((x) => !x.startsWith('DO $tributary$'));
    // (k, id) narrowed to (id): PostgreSQL drops the whole constraint with the column.
    const composite = mysqlTable('t', [id, k], { primaryKey: [1, 0] });
    const narrowed = render([{ op: 'drop-column', table: 't', column: 'k', sourceText: 'x' }], [composite], [mysqlTable('t', [id])]);
    expect(tail(narrowed)).toEqual(['ALTER TABLE "public"."t" DROP COLUMN IF EXISTS "k"', 'ALTER TABLE "public"."t" ADD PRIMARY KEY ("id")']);
    // The primary key dropped: the unique NOT NULL email (created deferred) becomes the key, immediate.
    const withEmail = mysqlTable('t', [id, email], { uniqueKeys: [[1]] });
    const byEmail = mysqlTable('t', [id, email], { primaryKey: [1], keyFromUnique: true, uniqueKeys: [[1]] });
    const dropped = render([{ op: 'drop-index', table: 't', name: 'PRIMARY', primary: true, sourceText: 'DROP PRIMARY KEY' }], [withEmail], [byEmail]);
    expect(tail(dropped)).toEqual(['ALTER TABLE "public"."t" ADD UNIQUE ("email")']);
    expect(dropped.statements.filter((x) => x.startsWith('DO $tributary$'))).toHaveLength(2);
    // Its column renamed in the same statement: the constraint is made on the new name.
    const ref = { ...email, name: 'ref' };
    const renamed = render(
      [{ op: 'drop-index', table: 't', name: 'PRIMARY', primary: true, sourceText: 'x' }, { op: 'rename-column', table: 't', from: 'email', to: 'ref', sourceText: 'x' }],
      [withEmail],
      [mysqlTable('t', [id, ref], { primaryKey: [1], keyFromUnique: true, uniqueKeys: [[1]] })],
    );
    expect(tail(renamed).at(-1)).toBe('ALTER TABLE "public"."t" ADD UNIQUE ("ref")');
    // A unique key added with the drop, as the key: immediate at once, nothing after.
    const addedKey = render(
      [{ op: 'drop-index', table: 't', name: 'PRIMARY', primary: true, sourceText: 'x' }, { op: 'add-index', table: 't', name: 'by_email', columns: ['email'], unique: true, sourceText: 'x' }],
      [mysqlTable('t', [id, email])],
      [byEmail],
    );
    expect(tail(addedKey)).toEqual(['ALTER TABLE "public"."t" ADD UNIQUE ("email")']);
    // A primary key added to a table keyed by its unique key: that key is deferred again.
    const pk = render([{ op: 'add-index', table: 't', name: 'PRIMARY', columns: ['id'], unique: true, primary: true, sourceText: 'x' }], [byEmail], [withEmail]);
    expect(tail(pk)).toEqual(['ALTER TABLE "public"."t" ADD PRIMARY KEY ("id")', 'ALTER TABLE "public"."t" ADD UNIQUE ("email") DEFERRABLE INITIALLY DEFERRED']);
  });

  it('refuses an AUTO_INCREMENT column added to rows there, by name: PostgreSQL cannot number them as MySQL does', () => {
    const c = col('seq', 'bigint', 'bigint(20)', { nullable: false });
    const err = refusal(() => render([{ op: 'add-column', table: 't', column: c, sourceText: 'ADD COLUMN seq BIGINT NOT NULL AUTO_INCREMENT' }], [t0], [withCol(c)]));
    expect(err.code).toBe(ErrorCode.DDL_UNSUPPORTED);
    expect(err.message).toContain('ADD COLUMN seq … AUTO_INCREMENT');
  });

  it('adds a column with a literal default of its type, NOT NULL, and no place', () => {
    const c = col('qty', 'int', 'int(11)', { nullable: false });
    const r = render([{ op: 'add-column', table: 't', column: c, default: { kind: 'literal', value: '5' }, place: { after: 'id' }, sourceText: 'x' }], [t0], [withCol(c)]);
    expect(r.statements).toEqual([`ALTER TABLE "public"."t" ADD COLUMN "qty" integer DEFAULT '5'::integer NOT NULL`]);
    expect(r.enums).toEqual([]);
  });

  it('maps `now` to CURRENT_TIMESTAMP for TIMESTAMP and LOCALTIMESTAMP for DATETIME', () => {
    const ts = col('ts', 'timestamp', 'timestamp(3)', { scale: 3 });
    const dt = col('dt', 'datetime', 'datetime', { scale: 0 });
    expect(render([{ op: 'add-column', table: 't', column: ts, default: { kind: 'now', fsp: 3 } }], [t0], [withCol(ts)]).statements).toEqual([
      'ALTER TABLE "public"."t" ADD COLUMN "ts" timestamptz(3) DEFAULT CURRENT_TIMESTAMP(3)',
    ]);
    expect(render([{ op: 'add-column', table: 't', column: dt, default: { kind: 'now' } }], [t0], [withCol(dt)]).statements).toEqual([
      'ALTER TABLE "public"."t" ADD COLUMN "dt" timestamp(0) DEFAULT LOCALTIMESTAMP(0)',
    ]);
  });

  it('fills a NOT NULL column without a default as MySQL does, then drops the default', () => {
    const n = col('n', 'decimal', 'decimal(5,2)', { nullable: false, precision: 5, scale: 2 });
    expect(render([{ op: 'add-column', table: 't', column: n }], [t0], [withCol(n)]).statements).toEqual([
      `ALTER TABLE "public"."t" ADD COLUMN "n" numeric(5,2) DEFAULT '0'::numeric(5,2) NOT NULL`,
      'ALTER TABLE "public"."t" ALTER COLUMN "n" DROP DEFAULT',
    ]);
    const e = col('e', 'enum', "enum('x','y')", { nullable: false });
    expect(render([{ op: 'add-column', table: 't', column: e }], [t0], [withCol(e)]).statements[0]).toBe(
      `ALTER TABLE "public"."t" ADD COLUMN "e" text DEFAULT 'x'::text NOT NULL CHECK ("e" IN ('', 'x', 'y'))`,
    );
    const s = col('s', 'varchar', 'varchar(3)', { nullable: false, charset: 'utf8mb4' });
    expect(render([{ op: 'add-column', table: 't', column: s }], [t0], [withCol(s)]).statements[0]).toContain(`varchar(3) DEFAULT ''::varchar(3) NOT NULL`);
    const d = col('d', 'date', 'date', { nullable: false });
    expect(refusal(() => render([{ op: 'add-column', table: 't', column: d }], [t0], [withCol(d)])).code).toBe(ErrorCode.DDL_UNSUPPORTED);
  });

  it('refuses a default expression and a zero-date default by name, unless zero dates become NULL', () => {
    const c = col('c', 'int', 'int(11)');
    const err = refusal(() => render([{ op: 'add-column', table: 't', column: c, default: { kind: 'expression', sql: 'rand()' } }], [t0], [withCol(c)], { statement: 'ALTER TABLE t ADD c int DEFAULT (rand())' }));
    expect(err.code).toBe(ErrorCode.DDL_UNSUPPORTED);
    expect(err.message).toContain('ALTER TABLE t ADD c int DEFAULT (rand())');
    expect(err.message).toContain('ADD COLUMN c DEFAULT rand()');
    expect(err.message).toContain('--skip-ddl');
    const d = col('d', 'date', 'date');
    const zero: SchemaOperation = { op: 'add-column', table: 't', column: d, default: { kind: 'literal', value: '0000-00-00' } };
    expect(refusal(() => render([zero], [t0], [withCol(d)])).message).toMatch(/zero date.*--zero-dates null/);
    const lenient = pgSql(change([zero], [t0], [withCol(d)]), { schema: 'public', types: { zeroDates: 'null', columnTypes: {} } });
    expect(lenient.statements).toEqual(['ALTER TABLE "public"."t" ADD COLUMN "d" date']);
  });

  it('modifies a column: type with USING, nullability, default, and the enum CHECK replaced', () => {
    const wide = col('name', 'varchar', 'varchar(40)', { nullable: false, charset: 'utf8mb4' });
    expect(render([{ op: 'modify-column', table: 't', column: wide, default: { kind: 'literal', value: 'n/a' } }], [t0], [mysqlTable('t', [id, wide])]).statements).toEqual([
      'ALTER TABLE "public"."t" ALTER COLUMN "name" DROP DEFAULT',
      'ALTER TABLE "public"."t" ALTER COLUMN "name" TYPE varchar(40) USING "name"::varchar(40)',
      `ALTER TABLE "public"."t" ALTER COLUMN "name" SET NOT NULL, ALTER COLUMN "name" SET DEFAULT 'n/a'::varchar(40)`,
    ]);
    const same = col('name', 'varchar', 'varchar(20)', { charset: 'utf8mb4' });
    expect(render([{ op: 'modify-column', table: 't', column: same }], [t0], [t0]).statements).toEqual([
      'ALTER TABLE "public"."t" ALTER COLUMN "name" DROP NOT NULL, ALTER COLUMN "name" DROP DEFAULT',
    ]);
    const e1 = col('e', 'enum', "enum('a')");
    const e2 = col('e', 'enum', "enum('a','b')");
    const r = render([{ op: 'modify-column', table: 't', column: e2 }], [withCol(e1)], [withCol(e2)]).statements;
    expect(r[0]).toMatch(/^DO \$tributary\$.*contype = 'c'.*a\.attname = 'e'/);
    expect(r.slice(1)).toEqual([
      'ALTER TABLE "public"."t" ALTER COLUMN "e" DROP NOT NULL, ALTER COLUMN "e" DROP DEFAULT',
      `ALTER TABLE "public"."t" ADD CHECK ("e" IN ('', 'a', 'b'))`,
    ]);
  });

  it('renders a CHANGE COLUMN as a rename and an ALTER TYPE … USING under the new name', () => {
    const big = col('label', 'bigint', 'bigint(20)');
    const before = mysqlTable('t', [id, col('qty', 'int', 'int(11)')]);
    const r = render(
      [
        { op: 'rename-column', table: 't', from: 'qty', to: 'label', sourceText: 'CHANGE `qty` `label` bigint' },
        { op: 'modify-column', table: 't', column: big },
      ],
      [before],
      [mysqlTable('t', [id, big])],
    );
    expect(r.statements).toEqual([
      'ALTER TABLE "public"."t" RENAME COLUMN "qty" TO "label"',
      'ALTER TABLE "public"."t" ALTER COLUMN "label" DROP DEFAULT',
      'ALTER TABLE "public"."t" ALTER COLUMN "label" TYPE bigint USING "label"::bigint',
      'ALTER TABLE "public"."t" ALTER COLUMN "label" DROP NOT NULL, ALTER COLUMN "label" DROP DEFAULT',
    ]);
  });

  it('resolves column names as MySQL does, ignoring case', () => {
    const r = render([{ op: 'drop-column', table: 't', column: 'NAME' }, { op: 'rename-column', table: 't', from: 'ID', to: 'key' }], [t0], [mysqlTable('t', [{ ...id, name: 'key' }])]);
    expect(r.statements).toEqual(['ALTER TABLE "public"."t" DROP COLUMN IF EXISTS "name"', 'ALTER TABLE "public"."t" RENAME COLUMN "id" TO "key"']);
  });

  it('adds indexes as table creation does and drops them by the columns the source declared', () => {
    const before = mysqlTable('t', [id, name], {
      indexes: [
        { name: 'uk_Name', columns: ['name'], unique: true },
        { name: 'by_name', columns: ['name', 'id'], unique: false },
      ],
    });
    const r = render(
      [
        { op: 'add-index', table: 't', name: 'u2', columns: ['name', 'id'], unique: true },
        { op: 'add-index', table: 't', name: 'k', columns: ['Name'], unique: false },
        { op: 'drop-index', table: 't', name: 'UK_NAME' },
        { op: 'drop-index', table: 't', name: 'by_name' },
        { op: 'drop-index', table: 't', name: 'PRIMARY', primary: true },
        { op: 'add-index', table: 't', name: 'PRIMARY', columns: ['id', 'name'], unique: true, primary: true },
      ],
      [before],
      [t0],
    );
    expect(r.statements[0]).toBe('ALTER TABLE "public"."t" ADD UNIQUE ("name", "id") DEFERRABLE INITIALLY DEFERRED');
    expect(r.statements[1]).toBe('CREATE INDEX ON "public"."t" ("name")');
    expect(r.statements[2]).toMatch(/i\.indisunique = true .*= ARRAY\['name'\]::text\[\]/);
    expect(r.statements[3]).toMatch(/i\.indisunique = false .*= ARRAY\['name', 'id'\]::text\[\]/);
    expect(r.statements[4]).toMatch(/AND i\.indisprimary LOOP/);
    expect(r.statements[5]).toBe('ALTER TABLE "public"."t" ADD PRIMARY KEY ("id", "name")');
    expect(refusal(() => render([{ op: 'drop-index', table: 't', name: 'nope' }], [before], [before])).message).toMatch(/index nope/);
  });

  it('renames tables in order, creates, drops and truncates; charset and options render nothing', () => {
    const a = mysqlTable('a', [id]);
    const b = mysqlTable('b', [id]);
    const n = mysqlTable('n', [id, name]);
    const r = render(
      [
        { op: 'rename-tables', pairs: [{ from: 'a', to: 'tmp' }, { from: 'b', to: 'a' }, { from: 'tmp', to: 'b' }] },
        { op: 'create-table', table: n },
        { op: 'drop-table', table: 'gone' },
        { op: 'truncate', table: 'a' },
        { op: 'convert-charset', table: 'a', charset: 'latin1' },
        { op: 'table-options', table: 'a', sourceText: 'ENGINE=Aria' },
      ],
      [a, b],
      [a, b, n],
    );
    expect(r.statements).toEqual([
      'ALTER TABLE "public"."a" RENAME TO "tmp"',
      'ALTER TABLE "public"."b" RENAME TO "a"',
      'ALTER TABLE "public"."tmp" RENAME TO "b"',
      'CREATE TABLE IF NOT EXISTS "public"."n" (\n  "id" integer NOT NULL,\n  "name" varchar(20),\n  PRIMARY KEY ("id")\n)',
      'DROP TABLE IF EXISTS "public"."gone"',
      'TRUNCATE "public"."a"',
    ]);
  });

  it('creates the enum type of an added column of a PostgreSQL source', () => {
    const pgId = col('id', 'int4', 'integer', { nullable: false });
    const mood = col('mood', 'mood', 'mood', { enumType: 'mood', enumLabels: ['sad', 'ok'] });
    const t = (cols: Column[]) => pgWithLogical({ name: 't', columns: [pgId, ...cols], primaryKey: [0], generated: [], engine: 'postgres' });
    const r = pgSql(change([{ op: 'add-column', table: 't', column: mood, default: { kind: 'expression', sql: "'ok'::mood" } }], [t([])], [t([mood])], { sourceEngine: 'postgres' }), pgOpts);
    expect(r.enums).toEqual([{ name: 'mood', labels: ['sad', 'ok'], columns: ['t.mood'] }]);
    expect(r.statements).toEqual([`ALTER TABLE "public"."t" ADD COLUMN "mood" "public"."mood" DEFAULT 'ok'::mood`]);
  });

  it('finds an operation\'s table after the statement through a RENAME TO that follows it', () => {
    const c = col('c', 'int', 'int(11)');
    const r = render([{ op: 'add-column', table: 't', column: c }, { op: 'rename-tables', pairs: [{ from: 't', to: 'u' }] }], [t0], [withCol(c, 'u')]);
    expect(r.statements).toEqual(['ALTER TABLE "public"."t" ADD COLUMN "c" integer', 'ALTER TABLE "public"."t" RENAME TO "u"']);
  });
});

describe('schema change helpers', () => {
  const swap: SchemaOperation = { op: 'rename-tables', pairs: [{ from: 'a', to: 'tmp' }, { from: 'b', to: 'a' }, { from: 'tmp', to: 'b' }] };
  it('follows table names through renames', () => {
    const ch = change([{ op: 'drop-column', table: 'a', column: 'x' }, swap, { op: 'drop-column', table: 'b', column: 'x' }], [], []);
    expect(nameAfter(ch, 0, 'a')).toBe('b');
    expect(nameAfter(ch, 2, 'b')).toBe('b');
    expect(nameBefore(ch, 2, 'b')).toBe('a');
    expect(nameBefore(ch, 0, 'b')).toBe('b');
  });
  it('resolves column case', () => {
    expect(resolveColumn('NAME', t0)).toBe('name');
    expect(resolveColumn('name', t0)).toBe('name');
    expect(resolveColumn('other', t0)).toBe('other');
    expect(resolveColumn('G', { ...t0, generated: ['g'] })).toBe('g');
  });
  it('finds an index by name, exactly first, else ignoring case', () => {
    const t = mysqlTable('t', [id], { indexes: [{ name: 'a`b', columns: ['x', 'y'], unique: true }, { name: 'k', columns: ['z'], unique: false }, { name: 'K', columns: ['w'], unique: false }] });
    expect(indexNamed(t, 'a`b')).toEqual({ name: 'a`b', columns: ['x', 'y'], unique: true });
    expect(indexNamed(t, 'K')?.columns).toEqual(['w']);
    expect(indexNamed(t, 'A`B')?.columns).toEqual(['x', 'y']);
    expect(indexNamed(t, 'none')).toBeUndefined();
    expect(indexNamed(mysqlTable('u', [id]), 'k')).toBeUndefined();
  });
  it('names tables as InnoDB does', () => {
    expect(innodbName('shop', 'orders_1')).toBe('shop/orders_1');
    expect(innodbName('my-db', 'a b$')).toBe('my@002ddb/a@0020b@0024');
    expect(innodbName('shop', 'café')).toBeUndefined();
  });
});

describe('checkpoint rows of a schema change', () => {
  it('moves copy rows through a swap, keeps both schema rows', () => {
    const a = mysqlTable('a', [id]);
    const b = mysqlTable('b', [id, name]);
    const r = schemaChangeRows(change([{ op: 'rename-tables', pairs: [{ from: 'a', to: 'tmp' }, { from: 'b', to: 'a' }, { from: 'tmp', to: 'b' }] }], [a, b], [{ ...b, name: 'a' }, { ...a, name: 'b' }]));
    expect(r.moves).toEqual([
      { from: 't:a', to: 't:tmp' },
      { from: 't:b', to: 't:a' },
      { from: 't:tmp', to: 't:b' },
    ]);
    expect(r.remove).toEqual([]);
    expect(r.put.map((p) => p.name)).toEqual(['s:a', 's:b']);
    expect(JSON.parse(r.put[0]!.body)).toMatchObject({ name: 'a', columns: [{ name: 'id' }, { name: 'name' }] });
  });
  it('removes the rows of a renamed-away and a dropped table', () => {
    const a = mysqlTable('a', [id]);
    const d = mysqlTable('d', [id]);
    const r = schemaChangeRows(change([{ op: 'rename-tables', pairs: [{ from: 'a', to: 'z' }] }, { op: 'drop-table', table: 'd' }], [a, d], [{ ...a, name: 'z' }]));
    expect(r.moves).toEqual([{ from: 't:a', to: 't:z' }]);
    expect(r.remove).toEqual(['s:a', 's:d', 't:d']);
    expect(r.put.map((p) => p.name)).toEqual(['s:z']);
  });
});

describe('MySQL target: what a replay leaves out', () => {
  const table = (columns: string[], indexes: Record<string, [string[], boolean]> = {}, tid?: string): TableState => ({
    columns,
    indexes: new Map(Object.entries(indexes).map(([k, [c, u]]) => [k.toLowerCase(), { columns: c, unique: u }])),
    ...(tid ? { id: tid } : {}),
  });
  const state = (tables: Record<string, TableState>): TargetState => new Map(Object.entries(tables));
  const c = col('qty', 'int', 'int(11)');
  const skips = (ch: SchemaChange, s: TargetState, pending?: Parameters<typeof operationsInEffect>[3]) => [...operationsInEffect(ch, schemaChangeGroups(ch), s, pending)].sort();

  it('leaves out an ALTER whose visible effects are all there, runs one whose are not', () => {
    const ch = change(
      [
        { op: 'add-column', table: 't', column: c, sourceText: 'ADD qty int' },
        { op: 'modify-column', table: 't', column: name, sourceText: 'MODIFY name varchar(20)' },
        { op: 'add-index', table: 't', name: 'q', columns: ['qty'], unique: false, sourceText: 'ADD KEY q (qty)' },
      ],
      [t0],
      [withCol(c)],
    );
    expect(skips(ch, state({ t: table(['id', 'name', 'QTY'], { PRIMARY: [['id'], true], q: [['qty'], false] }) }))).toEqual([0, 1, 2]);
    expect(skips(ch, state({ t: table(['id', 'name'], { PRIMARY: [['id'], true] }) }))).toEqual([]);
    // Seen in part (someone changed the target): only what is there is left out.
    expect(skips(ch, state({ t: table(['id', 'name', 'qty'], { PRIMARY: [['id'], true] }) }))).toEqual([0]);
  });

  it('decides drops, renames and a CHANGE COLUMN by the columns there', () => {
    const ch = change(
      [
        { op: 'rename-column', table: 't', from: 'name', to: 'label', sourceText: 'CHANGE name label varchar(40)' },
        { op: 'modify-column', table: 't', column: { ...name, name: 'label' } },
        { op: 'drop-column', table: 't', column: 'old', sourceText: 'DROP old' },
      ],
      [t0],
      [t0],
    );
    expect(skips(ch, state({ t: table(['id', 'label']) }))).toEqual([0, 1, 2]);
    expect(skips(ch, state({ t: table(['id', 'name', 'old']) }))).toEqual([]);
    expect(mysqlSql(ch, {}, new Set(skips(ch, state({ t: table(['id', 'label']) }))))).toEqual([]);
  });

  it('does not decide an index dropped and added again in one statement by its name', () => {
    const ch = change(
      [
        { op: 'drop-index', table: 't', name: 'k', sourceText: 'DROP INDEX k' },
        { op: 'add-index', table: 't', name: 'k', columns: ['name', 'id'], unique: true, sourceText: 'ADD UNIQUE KEY k (name, id)' },
      ],
      [t0],
      [t0],
    );
    expect(skips(ch, state({ t: table(['id', 'name'], { k: [['name', 'id'], true] }) }))).toEqual([0, 1]);
    expect(skips(ch, state({ t: table(['id', 'name'], { k: [['name'], false] }) }))).toEqual([]);
  });

  it('decides a swap by the tables\' recorded ids, and refuses what it cannot tell', () => {
    const swap = change([{ op: 'rename-tables', pairs: [{ from: 'a', to: 'tmp' }, { from: 'b', to: 'a' }, { from: 'tmp', to: 'b' }] }], [], [], { statement: 'RENAME TABLE a TO tmp, b TO a, tmp TO b' });
    const pending = { position: 'p', statement: swap.statement, tables: { a: '11', tmp: null, b: '12' } };
    expect(skips(swap, state({ a: table(['id'], {}, '11'), b: table(['id'], {}, '12') }), pending)).toEqual([]);
    expect(skips(swap, state({ a: table(['id'], {}, '12'), b: table(['id'], {}, '11') }), pending)).toEqual([0]);
    // No record: the record is written before the DDL, so the DDL has not run.
    expect(skips(swap, state({ a: table(['id'], {}, '12'), b: table(['id'], {}, '11') }))).toEqual([]);
    expect(refusal(() => skips(swap, state({ a: table(['id'], {}, '12'), tmp: table(['id'], {}, '11') }), pending)).message).toMatch(/neither as they were/);
    const noIds = { ...pending, tables: { a: 'exists', tmp: null, b: 'exists' } };
    expect(refusal(() => skips(swap, state({ a: table(['id']), b: table(['id']) }), noIds)).message).toMatch(/PROCESS/);
    // A plain rename is told by the names alone.
    const move = change([{ op: 'rename-tables', pairs: [{ from: 'a', to: 'z' }] }], [], []);
    const rec = { position: 'p', statement: move.statement, tables: { a: 'exists', z: null } };
    expect(skips(move, state({ z: table(['id']) }), rec)).toEqual([0]);
    expect(skips(move, state({ a: table(['id']) }), rec)).toEqual([]);
  });

  it('leaves out a CREATE of a table there, a DROP of one gone, an ALTER … RENAME TO that ran; never a TRUNCATE', () => {
    const created = mysqlTable('n', [id]);
    const ch = change(
      [
        { op: 'create-table', table: created },
        { op: 'drop-table', table: 'gone' },
        { op: 'truncate', table: 'n' },
        { op: 'add-column', table: 't', column: c, sourceText: 'ADD qty int' },
        { op: 'rename-tables', pairs: [{ from: 't', to: 'u' }] },
      ],
      [t0],
      [created],
    );
    expect(skips(ch, state({ n: table(['id']), u: table(['id', 'name', 'qty']) }))).toEqual([0, 1, 3, 4]);
    expect(skips(ch, state({ gone: table(['id']), t: table(['id', 'name']) }))).toEqual([]);
  });
});

describe('a key the column definition declares', () => {
  it('is rendered once for a MySQL target: by the column\'s own text (ADD COLUMN … UNIQUE, SERIAL)', () => {
    const t = withLogical(mysqlTable('t', [col('id', 'int', 'int(11)', { nullable: false })], { primaryKey: [0] }));
    for (const [statement, text] of [
      ['ALTER TABLE t ADD COLUMN c INT UNIQUE', 'ADD COLUMN c INT UNIQUE'],
      ['ALTER TABLE t ADD COLUMN s SERIAL', 'ADD COLUMN s SERIAL'],
    ] as const) {
      const parsed = parseDdl(statement, { database: 'd', currentSchema: 'd', tables: new Map([['t', t]]), selects: () => true });
      expect(parsed.unsupported).toBeUndefined();
      expect(parsed.operations.map((o) => o.op)).toEqual(['add-column', 'add-index']);
      const sql = mysqlSql(change(parsed.operations, [t], [...parsed.after.values()]));
      expect(sql).toEqual([`ALTER TABLE \`t\` ${text}`]);
    }
  });
});


describe('foreign keys added and dropped by schema changes, on both targets', () => {
  const fk = { name: 'fk_t_u', columns: ['ID'], referencedTable: 'u', referencedColumns: ['k'], onUpdate: 'RESTRICT' as const, onDelete: 'CASCADE' as const };
  const withFk = mysqlTable('t', [id, name], { foreignKeys: [fk] });
  const added = (sourceEngine: string) => change([{ op: 'add-foreign-key', table: 't', foreignKey: fk, ...(sourceEngine === 'mysql' ? { sourceText: 'ADD CONSTRAINT fk_t_u FOREIGN KEY (ID) REFERENCES u (k) ON DELETE CASCADE' } : {}) }], [t0], [withFk], { sourceEngine });
  const dropped = change([{ op: 'drop-foreign-key', table: 't', name: 'fk_t_u', sourceText: 'DROP FOREIGN KEY fk_t_u' }], [withFk], [t0]);

  it('a MySQL target runs the source text, or renders the key from its fields for another source', () => {
    expect(mysqlSql(added('mysql'))).toEqual(['ALTER TABLE `t` ADD CONSTRAINT fk_t_u FOREIGN KEY (ID) REFERENCES u (k) ON DELETE CASCADE']);
    expect(mysqlSql(added('postgres'))).toEqual(['ALTER TABLE `t` ADD CONSTRAINT `fk_t_u` FOREIGN KEY (`ID`) REFERENCES `u` (`k`) ON DELETE CASCADE ON UPDATE RESTRICT']);
    expect(mysqlSql(dropped)).toEqual(['ALTER TABLE `t` DROP FOREIGN KEY fk_t_u']);
  });

  it('a PostgreSQL target adds it NOT VALID under the column names the table has, and drops it if it exists', () => {
    expect(pgSql(added('mysql'), pgOpts).statements).toEqual([
      'ALTER TABLE "public"."t" ADD CONSTRAINT "fk_t_u" FOREIGN KEY ("id") REFERENCES "public"."u" ("k") ON UPDATE RESTRICT ON DELETE CASCADE NOT VALID',
    ]);
    expect(pgSql(dropped, pgOpts).statements).toEqual(['ALTER TABLE "public"."t" DROP CONSTRAINT IF EXISTS "fk_t_u"']);
  });

  it('a replay leaves out a key the target has, and a drop of one it does not have', () => {
    const at = (keys: string[]): TargetState => new Map([['t', { columns: ['id', 'name'], indexes: new Map(), foreignKeys: new Set(keys) }]]);
    const skips = (ch: SchemaChange, s: TargetState) => [...operationsInEffect(ch, schemaChangeGroups(ch), s, undefined)];
    expect(skips(added('mysql'), at(['fk_t_u']))).toEqual([0]);
    expect(skips(added('mysql'), at([]))).toEqual([]);
    expect(skips(dropped, at([]))).toEqual([0]);
    expect(skips(dropped, at(['fk_t_u']))).toEqual([]);
  });
});
