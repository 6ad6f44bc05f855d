/**
 * The etcd copy's bulk load (engines/etcd/load.ts): an ETCD_JSON_LINES chunk's lines become puts
 * encoded straight from the chunk's bytes. Each transaction they make is decoded with etcd's own
 * .proto and compared with the one putOp per line gives (the key rowKey's text), and the buffer
 * counts an encoded op as its puts.
 */
import { createRequire } from 'node:module';
import type { IRequestOp } from 'etcd3';
import { describe, expect, it } from 'vitest';
import { encodedPutsOp, MAX_TXN_BYTES, OpBuffer, Pipeline, putOp, type Op, type Sender } from '../../src/engines/etcd/apply.js';
import { loadLines, type LineLoad } from '../../src/engines/etcd/load.js';
import { encodePuts, encodeTxn } from '../../src/engines/etcd/wire.js';
import { ErrorCode } from '../../src/core/errors.js';

const fromEtcd3 = createRequire(createRequire(import.meta.url).resolve('etcd3'));
const protoLoader = fromEtcd3('@grpc/proto-loader') as typeof import('@grpc/proto-loader');
const definition = protoLoader.loadSync(fromEtcd3.resolve('../proto/rpc.proto'), { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true });
const txn = (definition['etcdserverpb.KV'] as unknown as Record<string, { requestSerialize(v: unknown): Buffer; requestDeserialize(b: Buffer): unknown }>).Txn as {
  requestSerialize(v: unknown): Buffer;
  requestDeserialize(b: Buffer): { success: { request_put: { key: Buffer; value: Buffer } }[] };
};

/** The puts of an encoded transaction, as key → value text, in order. */
function putsOf(ops: readonly Op[]): [string, string][] {
  return txn.requestDeserialize(encodeTxn([], ops)).success.map((s) => [s.request_put.key.toString(), s.request_put.value.toString()]);
}

/** What rowKey gives for integer key values under prefix /p/t/. */
const keyOf = (key: readonly bigint[]) => '/p/t/' + key.map(String).join('/');
const load = (parts: number, room: number): LineLoad => ({ keyOf, prefix: '/p/t/', parts, room, what: 'copying a chunk of t' });

/** loadLines' ops for `text`, each awaited put resolved at once. */
async function opsOf(text: string, parts: number, room: number): Promise<Op[]> {
  const ops: Op[] = [];
  await loadLines(Buffer.from(text), load(parts, room), (op) => {
    ops.push(op);
    return undefined;
  });
  return ops;
}

describe('etcd bulk load of ETCD_JSON_LINES chunks', () => {
  it('encodes a run of lines as the very puts putOp gives one by one, keys as rowKey gives them', async () => {
    const lines = ['1\t{"id":1,"s":"é😀"}', '-42\t{"id":-42}', '0\t{}', '9223372036854775807\t{"id":"9223372036854775807"}', '7\t' + '{"v":"' + 'x'.repeat(300) + '"}'];
    const ops = await opsOf(lines.join('\n') + '\n', 1, 100);
    expect(ops).toHaveLength(1);
    expect(ops[0]?.count).toBe(5);
    const want = lines.map((l) => { const [k, v] = l.split('\t') as [string, string]; return putOp(keyOf([BigInt(k)]), v); });
    expect(putsOf(ops)).toEqual(putsOf(want));
    expect(txn.requestDeserialize(encodeTxn([], ops))).toEqual(txn.requestDeserialize(encodeTxn([], want)));
    expect(ops[0]?.bytes).toBe(want.reduce((n, o) => n + o.bytes, 0));
  });

  it('joins a composite key\u2019s parts with / and reads a last line without a newline', async () => {
    const ops = await opsOf('1\t-2\t{"a":1}\n30\t0\t{"a":2}', 2, 100);
    expect(putsOf(ops)).toEqual([['/p/t/1/-2', '{"a":1}'], ['/p/t/30/0', '{"a":2}']]);
    expect(ops[0]?.key).toBe('/p/t/1/-2');
  });

  it('gives a key value that is not its integer\u2019s digits (ZEROFILL, -0) rowKey\u2019s text, as an op of its own, in order', async () => {
    const one = await opsOf('1\t{"a":1}\n007\t{"a":7}\n-0\t{"a":0}\n8\t{"a":8}\n', 1, 100);
    expect(one.map((o) => o.count ?? 1)).toEqual([1, 1, 1, 1]);
    expect(one.map((o) => o.encoded !== undefined)).toEqual([true, false, false, true]);
    expect(putsOf(one)).toEqual([['/p/t/1', '{"a":1}'], ['/p/t/7', '{"a":7}'], ['/p/t/0', '{"a":0}'], ['/p/t/8', '{"a":8}']]);
  });

  it('holds at most `room` puts and MAX_TXN_BYTES an op, and refuses a row larger than a transaction by name', async () => {
    const lines = Array.from({ length: 10 }, (_, i) => `${i + 1}\t{"i":${i}}`).join('\n');
    expect((await opsOf(lines, 1, 4)).map((o) => o.count)).toEqual([4, 4, 2]);
    const big = 'y'.repeat(500_000);
    const heavy = Array.from({ length: 5 }, (_, i) => `${i + 1}\t"${big}"`).join('\n');
    const ops = await opsOf(heavy, 1, 100);
    expect(ops.map((o) => o.count)).toEqual([2, 2, 1]);
    for (const o of ops) expect(o.bytes).toBeLessThanOrEqual(MAX_TXN_BYTES);
    await expect(opsOf(`1\t"${'z'.repeat(MAX_TXN_BYTES)}"`, 1, 100)).rejects.toThrow(/more than one etcd request holds/);
  });

  it('refuses a line whose key is not the format\u2019s integers, with a stable code', async () => {
    await expect(opsOf('1\t{"a":1}\nabc\t{}\n', 1, 10)).rejects.toMatchObject({ code: ErrorCode.TARGET_WRITE_FAILED, message: expect.stringMatching(/has 0 of the key's 1 integer values/) });
    await expect(opsOf('1\t{"a":1}\n', 2, 10)).rejects.toMatchObject({ code: ErrorCode.TARGET_WRITE_FAILED });
  });

  it('encodePuts writes the fields encodeTxn would', () => {
    const data = Buffer.from('12\t34\t{"x":1}\n5\t6\t[]\n');
    const spans = Int32Array.from([0, 5, 13, 14, 17, 20]);
    const encoded = encodePuts(Buffer.from('/prefix/'), data, spans, 2, 0x09);
    const want: IRequestOp[] = [
      { request_put: { key: Buffer.from('/prefix/12/34'), value: Buffer.from('{"x":1}') } },
      { request_put: { key: Buffer.from('/prefix/5/6'), value: Buffer.from('[]') } },
    ];
    expect(txn.requestDeserialize(encodeTxn([], [encodedPutsOp('/prefix/12/34', encoded, 2, 0), putOp('/after', 'z')]))).toEqual(
      txn.requestDeserialize(txn.requestSerialize({ compare: [], success: [...want, { request_put: { key: Buffer.from('/after'), value: Buffer.from('z') } }], failure: [] })),
    );
  });
});

describe('OpBuffer counts an encoded op as its puts', () => {
  it('never sends more than maxOps puts a transaction, the checkpoint beside the last run when it fits', async () => {
    const sent: number[] = [];
    const sender: Sender = {
      write: (_c, ops) => {
        sent.push(ops.reduce((n, o) => n + (o.count ?? 1), 0));
        return Promise.resolve(true);
      },
      maxOps: 8,
      fence: () => [],
      error: (err) => err as never,
    };
    const buf = new OpBuffer(sender, 1, new Pipeline(), true);
    expect(buf.room).toBe(7);
    const lines = Array.from({ length: 17 }, (_, i) => `${i + 1}\t{}`).join('\n');
    await loadLines(Buffer.from(lines), load(1, buf.room), (op) => buf.put(op, 'x'));
    await buf.commit([putOp('/cp', '{}')], 'x');
    expect(sent).toEqual([7, 7, 4]);
  });

  it('refuses an encoded op in a buffer that tracks its keys', () => {
    const sender: Sender = { write: () => Promise.resolve(true), maxOps: 8, fence: () => [], error: (err) => err as never };
    const buf = new OpBuffer(sender, 1, new Pipeline());
    expect(() => buf.put(encodedPutsOp('/a', Buffer.alloc(0), 1, 1), 'x')).toThrow(/tracks its keys/);
  });
});
