import { describe, expect, it } from 'vitest';
import type { StreamEvent } from '../../src/core/change.js';
import type { TableSchema } from '../../src/core/schema.js';
import type { Value } from '../../src/core/values.js';
import { prng } from '../helpers/fakes.js';
import { decodeHeader, decodeIndexEntry, decodeTransaction, encodeHeader, encodeIndexEntry, encodeTransaction, frame, frameAt, FRAME_HEAD, type RelayTransaction } from '../../src/relay/record.js';

/** A seeded PRNG, so a failure names a seed that reproduces it. */
const rng = prng;

const BIGINTS = [0n, 1n, -1n, 127n, -128n, 2n ** 31n, 2n ** 52n - 1n, -(2n ** 52n) + 1n, 2n ** 52n, -(2n ** 52n), 2n ** 53n + 1n, 2n ** 63n - 1n, -(2n ** 63n), 2n ** 63n, 18446744073709551615n, 2n ** 64n, -(2n ** 64n) - 5n, 10n ** 40n];
const NUMBERS = [0, -0, 1, -1, 1.5, -2.25, NaN, Infinity, -Infinity, 3.1415927410125732, 2 ** 52 - 1, -(2 ** 52) + 1, 2 ** 52, 2 ** 53, -(2 ** 60), Number.MAX_VALUE, Number.MIN_VALUE, 5e-324, 1e21, 0.1];
const STRINGS = ['', 'a', 'héllo', '日本語', '😀 emoji', '\u0000nul', 'x'.repeat(42), 'é'.repeat(42), '日'.repeat(42), '日'.repeat(43), 'y'.repeat(200), '€'.repeat(600), '\ud800 lone high', 'lone low \udc00', '2024-01-01 00:00:00.500000', '-1.50', '{"a": 1.0}'];

function value(r: () => number): Value {
  switch (Math.floor(r() * 7)) {
    case 0:
      return null;
    case 1:
      return r() < 0.5;
    case 2:
      return BIGINTS[Math.floor(r() * BIGINTS.length)]!;
    case 3:
      return NUMBERS[Math.floor(r() * NUMBERS.length)]!;
    case 4:
      return STRINGS[Math.floor(r() * STRINGS.length)]!;
    case 5: {
      const n = [0, 1, 16, 300, 2000][Math.floor(r() * 5)]!;
      const b = Buffer.alloc(n);
      for (let i = 0; i < n; i++) b[i] = Math.floor(r() * 256);
      return b;
    }
    default:
      return BigInt(Math.floor((r() - 0.5) * 2 ** 40));
  }
}

const row = (r: () => number, n: number): Value[] => Array.from({ length: n }, () => value(r));

const TABLE: TableSchema = {
  name: 'orders',
  columns: [
    { name: 'id', dataType: 'bigint', columnType: 'bigint(20) unsigned', nullable: false, unsigned: true, logical: { kind: 'integer', bytes: 8, signed: false } },
    { name: 'note', dataType: 'varchar', columnType: 'varchar(10)', nullable: true, unsigned: false, charset: 'utf8mb4', collation: 'utf8mb4_bin', logical: { kind: 'text', length: 10, fixed: false, charset: 'utf8mb4' } },
    { name: 'mood', dataType: 'USER-DEFINED', columnType: 'mood', nullable: true, unsigned: false, enumLabels: ['sad', 'ok'], enumType: 'mood', userType: { sql: 'mood', user: { kind: 'enum', name: 'mood', labels: ['sad', 'ok'] } } },
  ],
  primaryKey: [0],
  uniqueKeys: [[1]],
  indexes: [{ name: 'n', columns: ['note'], unique: true }],
  generated: [],
  createStatement: 'CREATE TABLE `orders` (…)',
  engine: 'mysql',
  foreignKeys: [{ name: 'fk', columns: ['id'], referencedTable: 'p', referencedColumns: ['id'], onUpdate: 'CASCADE', onDelete: 'SET NULL' }],
  shadowOf: { table: 'x', operations: [{ op: 'drop-column', table: 'x', column: 'y' }] },
};

/** One event of each kind, with its optional fields present or not as `r` decides. */
function event(r: () => number, kind: number, pos: string): StreamEvent {
  const maybe = <T>(v: T): T | undefined => (r() < 0.5 ? v : undefined);
  const table = STRINGS[Math.floor(r() * STRINGS.length)]!;
  switch (kind) {
    case 0:
      return { type: 'begin' };
    case 1: {
      const n = 1 + Math.floor(r() * 12);
      const op = maybe((['insert', 'update', 'delete'] as const)[Math.floor(r() * 3)]!);
      const before = maybe(row(r, n));
      const unchanged = maybe(r() < 0.3 ? [] : [0, Math.floor(r() * 1000)]);
      // An upsert carries its row as values, or as its JSON document (StreamRequest.documents).
      const doc = r() < 0.25 ? Buffer.from(`{"id":${n},"s":"\u00e9\u0000"}`) : undefined;
      const change = doc ? { kind: 'upsert' as const, table, key: row(r, 2), doc } : { kind: 'upsert' as const, table, key: row(r, 2), row: row(r, n), ...(unchanged === undefined ? {} : { unchanged }) };
      return { type: 'change', change, ...(op === undefined ? {} : { op }), ...(before === undefined ? {} : { before }) };
    }
    case 2: {
      const op = maybe('delete' as const);
      return { type: 'change', change: { kind: 'delete', table, key: row(r, 1 + Math.floor(r() * 3)) }, ...(op === undefined ? {} : { op }) };
    }
    case 3:
      return { type: 'commit', position: pos, timestamp: [1733000000000, 0, 1.5, -1][Math.floor(r() * 4)]! };
    case 4:
      return { type: 'truncate', table, position: pos, timestamp: 1733000000123 };
    case 5: {
      const nextWithinMs = maybe(30000);
      return { type: 'heartbeat', position: pos, timestamp: 1733000000999, ...(nextWithinMs === undefined ? {} : { nextWithinMs }) };
    }
    default: {
      const full = r() < 0.5;
      return full
        ? {
            type: 'ddl',
            tables: ['orders', table],
            statement: 'ALTER TABLE orders ADD COLUMN c int',
            position: pos,
            operations: [
              { op: 'add-column', table: 'orders', column: TABLE.columns[0]!, default: { kind: 'literal', value: '5' }, place: { after: 'id' }, sourceText: 'ADD COLUMN c int' },
              { op: 'set-default', table: 'orders', column: 'c', default: null },
              { op: 'create-table', table: TABLE },
              { op: 'rename-tables', pairs: [{ from: 'a', to: 'b' }] },
            ],
            before: new Map([['orders', TABLE]]),
            after: new Map([['orders', { ...TABLE, transformedFrom: TABLE }], ['__proto__', TABLE]]),
            unsupported: 'because',
            adopt: ['orders'],
          }
        : { type: 'ddl', tables: [], statement: 'DROP TABLE t', position: pos };
    }
  }
}

describe('relay record codec', () => {
  it('round-trips every event kind and every value kind exactly (property test over 400 seeded transactions)', () => {
    for (let seed = 1; seed <= 400; seed++) {
      const r = rng(seed);
      const pos = `binlog.000001:${seed}`;
      const events: StreamEvent[] = [];
      const n = Math.floor(r() * 20);
      for (let i = 0; i < n; i++) events.push(event(r, Math.floor(r() * 7), pos));
      const gtid = r() < 0.5 ? `0-1-${seed}` : undefined;
      const txn: RelayTransaction = { position: pos, ...(gtid === undefined ? {} : { gtidSet: gtid }), events };
      const back = decodeTransaction(encodeTransaction(seed * 1000, txn));
      expect(back, `seed ${seed}`).toStrictEqual({ ordinal: seed * 1000, ...txn });
    }
  });

  it('keeps -0, NaN, ±Infinity, 64-bit and larger bigints, lone surrogates and Buffers as they are', () => {
    const key: Value[] = [-0, 0, NaN, Infinity, -Infinity, 18446744073709551615n, -(2n ** 63n), 2n ** 100n, '\ud83d', Buffer.from([0, 255]), true, false, null];
    const back = decodeTransaction(encodeTransaction(7, { position: 'p', events: [{ type: 'change', change: { kind: 'delete', table: 't', key } }] }));
    const ev = back.events[0]!;
    if (ev.type !== 'change') throw new Error('not a change');
    const got = ev.change.key;
    expect(Object.is(got[0], -0)).toBe(true);
    expect(Object.is(got[1], 0)).toBe(true);
    expect(got[2]).toBeNaN();
    expect(got.slice(3, 8)).toStrictEqual([Infinity, -Infinity, 18446744073709551615n, -(2n ** 63n), 2n ** 100n]);
    expect(got[8]).toBe('\ud83d');
    expect(Buffer.isBuffer(got[9])).toBe(true);
    expect(got[9]).toStrictEqual(Buffer.from([0, 255]));
    expect(got.slice(10)).toStrictEqual([true, false, null]);
  });

  it('round-trips segment headers and index entries', () => {
    const h = { version: 1, seq: 12, firstOrdinal: 2 ** 40, startPosition: 'binlog.000002:4', startGtidSet: '0-1-5,1-2-7', sourceId: 'uuid-1', createdAt: 1733000000000 };
    expect(decodeHeader(encodeHeader(h))).toStrictEqual(h);
    const { startGtidSet: _g, ...noGtid } = h;
    expect(decodeHeader(encodeHeader(noGtid))).toStrictEqual(noGtid);
    const e = { ordinal: 99, offset: 65536, before: 'p' };
    expect(decodeIndexEntry(encodeIndexEntry(e))).toStrictEqual(e);
  });

  it('refuses to store what is not data (a function) with a TributaryError', () => {
    const ev = { type: 'ddl', tables: [], statement: 's', position: 'p', operations: [{ op: 'x', f: () => 1 }] } as unknown as StreamEvent;
    expect(() => encodeTransaction(0, { position: 'p', events: [ev] })).toThrow(/holds a value of type function, which the event codec cannot encode/);
  });

  it('frames: a whole frame checks out; a flipped byte anywhere in it fails the CRC; a cut one is short', () => {
    const f = frame(encodeTransaction(1, { position: 'p', events: [{ type: 'begin' }, { type: 'commit', position: 'p', timestamp: 1 }] }));
    const ok = frameAt(f, 0, f.length);
    expect(ok.ok).toBe(true);
    for (let i = 0; i < f.length; i++) {
      const bad = Buffer.from(f);
      bad[i]! ^= 0x10;
      const got = frameAt(bad, 0, bad.length);
      expect(got.ok, `byte ${i}`).toBe(false);
    }
    for (let cut = 0; cut < f.length; cut++) expect(frameAt(f, 0, cut)).toStrictEqual({ ok: false, why: cut < FRAME_HEAD ? 'short' : 'short' });
  });
});
