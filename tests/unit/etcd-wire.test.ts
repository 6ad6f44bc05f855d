import { createRequire } from 'node:module';
import type { ICompare, IRequestOp } from 'etcd3';
import { describe, expect, it } from 'vitest';
import { deleteOp, deletePrefixOp, putOp, type Op } from '../../src/engines/etcd/apply.js';
import { encodeOps, encodeTxn, encodeTxnMessage, succeededOf } from '../../src/engines/etcd/wire.js';

// etcd's own .proto, loaded as the etcd3 client loads it (its copy, its options): the reference.
const fromEtcd3 = createRequire(createRequire(import.meta.url).resolve('etcd3'));
const protoLoader = fromEtcd3('@grpc/proto-loader') as typeof import('@grpc/proto-loader');
const definition = protoLoader.loadSync(fromEtcd3.resolve('../proto/rpc.proto'), { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true });
const txnMethod = (definition['etcdserverpb.KV'] as unknown as Record<string, { requestSerialize(v: unknown): Buffer; requestDeserialize(b: Buffer): unknown; responseSerialize(v: unknown): Buffer }>).Txn as {
  requestSerialize(v: unknown): Buffer;
  requestDeserialize(b: Buffer): unknown;
  responseSerialize(v: unknown): Buffer;
};

/** What the etcd3 client's kv.txn sends for the same compares and ops, decoded. */
function reference(compare: ICompare[], ops: readonly Op[]): unknown {
  const success: IRequestOp[] = ops.map((o) => (o.value !== undefined ? { request_put: { key: o.keyBytes, value: o.value } } : { request_delete_range: { key: o.keyBytes, ...(o.rangeEnd ? { range_end: o.rangeEnd } : {}) } }));
  return txnMethod.requestDeserialize(txnMethod.requestSerialize({ compare, success, failure: [] }));
}

describe('etcd transactions encoded by hand (wire.ts) match etcd\u2019s .proto', () => {
  it('puts, deletes and range deletes, short and long keys and values, no compare', () => {
    const ops = [
      putOp('/t/a', '{"id":1}'),
      putOp('/t/\u00e9\u{1F600}', 'x'.repeat(200)),
      putOp('/t/big', 'y'.repeat(70_000)),
      putOp('/t/empty', ''),
      deleteOp('/t/gone'),
      deletePrefixOp('/t/'),
    ];
    expect(txnMethod.requestDeserialize(encodeTxn([], ops))).toEqual(reference([], ops));
  });

  it('ops encoded ahead (encodeOps) are the very bytes encodeTxn writes for them, alone or among others', () => {
    const ops = [putOp('/t/a', '{"id":1}'), deleteOp('/t/gone'), putOp('/t/\u00e9', 'z'.repeat(300)), deletePrefixOp('/u/'), putOp('/t/empty', '')];
    const compare: ICompare[] = [{ key: Buffer.from('/lock'), target: 'Create', result: 'Greater', create_revision: 5 }];
    const encoded: Op = { keyBytes: ops[0]!.keyBytes, key: ops[0]!.key, encoded: encodeOps(ops), count: ops.length, bytes: 0 };
    expect(encodeTxn(compare, [encoded])).toEqual(encodeTxn(compare, ops));
    expect(txnMethod.requestDeserialize(encodeTxn([], [encoded]))).toEqual(reference([], ops));
    // Beside ops of its own, before and after.
    const before = putOp('/t/0', '0');
    const after = deleteOp('/t/9');
    expect(encodeTxn([], [before, encoded, after])).toEqual(encodeTxn([], [before, ...ops, after]));
    expect(encodeOps([])).toHaveLength(0);
  });

  it('encodeTxnMessage: encodeTxn\u2019s bytes behind the gRPC prefix (uncompressed, their length)', () => {
    const ops = [putOp('/t/a', '{"id":1}'), deleteOp('/t/gone'), putOp('/t/b', 'y'.repeat(70_000))];
    const compare: ICompare[] = [{ key: Buffer.from('/lock'), target: 'Create', result: 'Greater', create_revision: 5 }];
    const body = encodeTxn(compare, ops);
    const message = encodeTxnMessage(compare, ops);
    expect(message[0]).toBe(0);
    expect(message.readUInt32BE(1)).toBe(body.length);
    expect(message.subarray(5)).toEqual(body);
    expect(encodeTxnMessage([], [])).toEqual(Buffer.from([0, 0, 0, 0, 0]));
  });

  it('every compare target, by name and by number, revisions as numbers and strings beyond 2^53', () => {
    const compare: ICompare[] = [
      { key: Buffer.from('/lock'), target: 'Create', result: 'Equal', create_revision: 0 },
      { key: Buffer.from('/lock'), target: 'Create', result: 'Equal', create_revision: 1234567 },
      { key: Buffer.from('/fence'), target: 'Mod', result: 'Equal', mod_revision: '9007199254740993' },
      { key: Buffer.from('/cp'), target: 'Value', result: 'Equal', value: Buffer.from('pos\n'.repeat(50)) },
      { key: Buffer.from('/v'), target: 'Version', result: 'Less', version: 0 },
      { key: Buffer.from('/l'), target: 'Lease', result: 'NotEqual', lease: '7587862072908063247' },
      { key: Buffer.from('/g'), target: 'Version', result: 'Greater', version: 3, range_end: Buffer.from('/h') },
    ];
    const ops = [putOp('/t/1', '{}')];
    expect(txnMethod.requestDeserialize(encodeTxn(compare, ops))).toEqual(reference(compare, ops));
  });

  it('refuses a compare it cannot encode, naming it', () => {
    expect(() => encodeTxn([{ key: Buffer.from('/x'), target: 'Mod', result: 'Equal', mod_revision: 'abc' } as unknown as ICompare], [])).toThrow(/mod_revision is abc, not an integer/);
    expect(() => encodeTxn([{ key: Buffer.from('/x'), target: 'Nope', result: 'Equal' } as unknown as ICompare], [])).toThrow(/target is Nope/);
    expect(() => encodeTxn([{ key: '/x', target: 'Create', result: 'Equal', create_revision: 0 } as unknown as ICompare], [])).toThrow(/key is string, not a Buffer/);
  });

  it('reads succeeded from a TxnResponse, whatever else it holds', () => {
    const header = { cluster_id: '14841639068965178418', member_id: '10276657743932975437', revision: '123456789', raft_term: '5' };
    const responses = [{ response_put: { header, prev_kv: null } }, { response_range: { header, kvs: [{ key: Buffer.from('k'), value: Buffer.from('v'.repeat(300)), create_revision: '1', mod_revision: '2', version: '3', lease: '0' }], more: false, count: '1' } }];
    expect(succeededOf(txnMethod.responseSerialize({ header, succeeded: true, responses }))).toBe(true);
    expect(succeededOf(txnMethod.responseSerialize({ header, succeeded: false, responses }))).toBe(false);
    expect(succeededOf(txnMethod.responseSerialize({ header, succeeded: true, responses: [] }))).toBe(true);
    expect(succeededOf(Buffer.alloc(0))).toBe(false);
    expect(() => succeededOf(Buffer.from([0x10]))).toThrow(/ended inside a number/);
  });
});
