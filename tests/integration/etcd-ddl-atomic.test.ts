/**
 * etcd target, a schema change whose checkpoint rows take more than one etcd transaction (issue 13):
 * a RENAME TABLE of 10 tables under --max-txn-ops 4 (40 checkpoint row edits), with a crash
 * injected before each of its write transactions in turn, on a real etcd. After each crash, a
 * reader and a resumed run see the checkpoint's position with the whole schema of that position
 * (the 10 old tables, or the 10 new ones), never a mix; replaying the change from there ends with
 * the new schema, the objects moved, and no journal or pending row left.
 */
import { Etcd3 } from 'etcd3';
import pino from 'pino';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { CHECKPOINT_VERSION } from '../../src/checkpoint/checkpoint.js';
import { parseDsn } from '../../src/config/dsn.js';
import type { SchemaChange } from '../../src/core/schema-change.js';
import type { TableSchema } from '../../src/core/schema.js';
import type { StreamCheckpoint } from '../../src/core/target.js';
import type { Sender } from '../../src/engines/etcd/apply.js';
import { EtcdTarget } from '../../src/engines/etcd/index.js';
import { valueConventions } from '../../src/engines/registry.js';
import { startEtcd, type Server } from '../../src/testing/servers.js';

let etcd: Server;
let client: Etcd3;

beforeAll(async () => {
  etcd = await startEtcd();
  client = new Etcd3({ hosts: `http://127.0.0.1:${etcd.port}` });
}, 60_000);

afterAll(async () => {
  client?.close();
  await etcd?.stop();
});

const N = 10;
const ROWS = 2;
const META = '/atomic/%tributary/s1/';

function table(name: string): TableSchema {
  return {
    name,
    engine: 'mysql',
    generated: [],
    primaryKey: [0],
    columns: [
      { name: 'id', dataType: 'int', columnType: 'int', nullable: false, unsigned: false, logical: { kind: 'integer', bytes: 4, signed: true } },
      { name: 'v', dataType: 'varchar', columnType: 'varchar(20)', nullable: true, unsigned: false, logical: { kind: 'text', length: 20, fixed: false } },
    ],
  };
}

const olds = Array.from({ length: N }, (_, i) => `a${i}`);
const news = Array.from({ length: N }, (_, i) => `b${i}`);
const position = (p: string): StreamCheckpoint => ({ version: CHECKPOINT_VERSION, position: p, sourceId: 'src', phase: 'stream' });
const change: SchemaChange = {
  statement: `RENAME TABLE ${olds.map((o, i) => `${o} TO ${news[i]}`).join(', ')}`,
  sourceEngine: 'mysql',
  operations: [{ op: 'rename-tables', pairs: olds.map((from, i) => ({ from, to: news[i] as string })) }],
  before: new Map(olds.map((n) => [n, table(n)])),
  after: new Map(news.map((n) => [n, table(n)])),
};

function target(): EtcdTarget {
  return new EtcdTarget({ dsn: parseDsn(etcd.url('atomic'), 'target'), syncId: 's1', logger: pino({ level: 'silent' }), layout: 'tributary', maxTxnOps: 4, conventions: valueConventions });
}

/** The sync before the statement: 10 tables of 2 objects, copied, streaming at position P0. */
async function setUp(): Promise<void> {
  await client.delete().prefix('/atomic/');
  const t = target();
  await t.connect();
  await t.lock();
  await t.saveSchemas(olds.map(table));
  await t.saveStreamCheckpoint(position('P0'));
  for (const name of olds) {
    await client.put(`${META}cp/t:${name}`).value(`2026-01-01T00:00:00.000Z\n{"watermark":null,"done":true,"rowsCopied":${ROWS}}`);
    for (let id = 1; id <= ROWS; id++) await client.put(`/atomic/${name}/${id}`).value(JSON.stringify({ id, v: `${name}-${id}` }));
  }
  await t.close();
}

/** The write transactions (puts and deletes: every one the target sends) sent from this process. */
function failWritesAfter(limit: number): { writes: () => number; restore: () => void } {
  type Senders = { senderFor(): Sender };
  const proto = EtcdTarget.prototype as unknown as Senders;
  const real = proto.senderFor;
  let n = 0;
  const spy = vi.spyOn(proto, 'senderFor').mockImplementation(function (this: Senders) {
    const sender = real.call(this);
    return {
      ...sender,
      write: (compare, ops) => {
        if (n >= limit) return Promise.reject(new Error(`injected crash before write transaction ${n + 1}`));
        n++;
        return sender.write(compare, ops);
      },
    };
  });
  return { writes: () => n, restore: () => spy.mockRestore() };
}

/** What a reader sees: the position, the tables with a definition, the tables with copy progress. */
async function seen(t: EtcdTarget): Promise<{ position: string | undefined; schemas: string[]; copies: string[] }> {
  const cp = await t.loadCheckpoint();
  return { position: cp.stream?.position, schemas: [...(cp.schemas?.keys() ?? [])].sort(), copies: [...cp.tables.keys()].sort() };
}

it('a schema change over more tables than one etcd transaction holds is all or nothing across a crash before any of its transactions', async () => {
  const outcomes: string[] = [];
  for (let limit = 0; ; limit++) {
    await setUp();
    const crashed = target();
    await crashed.connect();
    await crashed.lock();
    const inject = failWritesAfter(limit);
    let failed = false;
    try {
      await crashed.applySchemaChange(change, position('P1'));
    } catch {
      failed = true;
    } finally {
      inject.restore();
    }
    await crashed.close();
    if (!failed) {
      // Every transaction ran: the loop has crashed before each one.
      expect(limit, 'the change took several transactions').toBeGreaterThan(20);
      break;
    }

    // A reader (no lock, nothing settled) sees one whole schema, that of the checkpoint's position.
    const reader = target();
    await reader.connect();
    const read = await seen(reader);
    const whole = read.position === 'P0' ? olds : news;
    expect(read, `crash before write ${limit + 1}`).toEqual({ position: read.position, schemas: [...whole].sort(), copies: [...whole].sort() });
    expect(['P0', 'P1']).toContain(read.position);
    expect((await reader.describe(whole[3] as string))?.name).toBe(whole[3]);
    expect(await reader.describe((read.position === 'P0' ? news : olds)[3] as string)).toBeNull();
    await reader.close();
    outcomes.push(read.position as string);

    // The resumed run: the same, then (from P0) the change again, which completes.
    const resumed = target();
    await resumed.connect();
    await resumed.lock();
    expect(await seen(resumed)).toEqual(read);
    if (read.position === 'P0') await resumed.applySchemaChange(change, position('P1'));
    expect(await seen(resumed)).toEqual({ position: 'P1', schemas: [...news].sort(), copies: [...news].sort() });
    await resumed.close();

    const all = await client.getAll().prefix('/atomic/').strings();
    const keys = Object.keys(all);
    expect(keys.filter((k) => !k.startsWith('/atomic/%')).sort()).toEqual(news.flatMap((n) => Array.from({ length: ROWS }, (_, i) => `/atomic/${n}/${i + 1}`)).sort());
    expect(all['/atomic/b3/2']).toBe(JSON.stringify({ id: 2, v: 'a3-2' }));
    expect(keys.filter((k) => k.startsWith(`${META}ddl/`) || k === `${META}cp/d:`)).toEqual([]);
  }
  // Crashes before the checkpoint left the old schema, crashes after it the new one: both were seen.
  expect(outcomes).toContain('P0');
  expect(outcomes).toContain('P1');
}, 300_000);
