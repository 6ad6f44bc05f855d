import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { StreamEvent } from '../../src/core/change.js';
import { decodeTransaction, transactionFrame, type RelayTransaction } from '../../src/relay/record.js';
import { RelayReader } from '../../src/relay/reader.js';
import { RelayWriter } from '../../src/relay/writer.js';
import { compare, p } from './relay-fixtures.js';

// A micro-benchmark, not a test of speed (it asserts only that what it measured round-trips):
// RELAY_BENCH=1 npx vitest run tests/unit/relay-bench.test.ts prints its figures.

/** A sysbench-like transaction: 4 row changes of 10 columns (bigints, a float, strings, a date, a Buffer, a null). */
function benchTxn(n: number): RelayTransaction {
  const events: StreamEvent[] = [{ type: 'begin' }];
  for (let i = 0; i < 4; i++) {
    const id = BigInt(n * 4 + i);
    events.push({
      type: 'change',
      op: 'update',
      change: { kind: 'upsert', table: 'sbtest1', key: [id], row: [id, BigInt(n % 100000), `${n}-68487932199-96439406143-93774651418-41631865787-96406072701-20604855487-25459966574-28203206787-41238978918`, '22195207048-70116052123-74140395089-76317954521-98694025897', 3.25 * i, '2024-01-01 00:00:00.000000', null, 18446744073709551615n, Buffer.from([1, 2, 3, 4, 5, 6, 7, 8]), 'x'] },
    });
  }
  events.push({ type: 'commit', position: p(n), timestamp: 1733000000000 + n });
  return { position: p(n), gtidSet: `0-1-${n}`, events };
}

describe.runIf(process.env.RELAY_BENCH)('relay codec micro-benchmark', () => {
  it('encode + decode', () => {
    const N = 50_000;
    const txns = Array.from({ length: N }, (_, i) => benchTxn(i + 1));
    const rate = (n: number, bytes: number, ms: number) => `${Math.round((n / ms) * 1000).toLocaleString('en')} records/s, ${((bytes / 1e6 / ms) * 1000).toFixed(0)} MB/s`;
    // Best of 3 rounds (the first warms the JIT up).
    const best = { enc: Infinity, dec: Infinity, jenc: Infinity, jdec: Infinity };
    let bytes = 0;
    let jbytes = 0;
    let payloads: Buffer[] = [];
    for (let round = 0; round < 3; round++) {
      const t0 = performance.now();
      payloads = txns.map((t, i) => transactionFrame(i, t));
      const t1 = performance.now();
      for (const f of payloads) decodeTransaction(f.subarray(8));
      const t2 = performance.now();
      const texts = txns.map((t) => toJson(t));
      const t3 = performance.now();
      for (const t of texts) fromJson(t);
      const t4 = performance.now();
      bytes = payloads.reduce((n, f) => n + f.length, 0);
      jbytes = texts.reduce((n, t) => n + Buffer.byteLength(t), 0);
      best.enc = Math.min(best.enc, t1 - t0);
      best.dec = Math.min(best.dec, t2 - t1);
      best.jenc = Math.min(best.jenc, t3 - t2);
      best.jdec = Math.min(best.jdec, t4 - t3);
    }
    console.log(`relay codec, ${N} transactions of 4 rows × 10 columns, ${(bytes / N).toFixed(0)} bytes/record framed (best of 3):`);
    console.log(`  encode+frame: ${rate(N, bytes, best.enc)}`);
    console.log(`  decode:       ${rate(N, bytes, best.dec)}`);
    console.log(`  both:         ${rate(N, bytes, best.enc + best.dec)}`);
    console.log(`  JSON with tagged bigint/Buffer, for comparison (${(jbytes / N).toFixed(0)} bytes/record; not exact for -0, NaN, Maps): encode ${rate(N, jbytes, best.jenc)}, decode ${rate(N, jbytes, best.jdec)}, both ${rate(N, jbytes, best.jenc + best.jdec)}`);
    expect(decodeTransaction(payloads[7]!.subarray(8))).toStrictEqual({ ordinal: 7, ...txns[7] });
  });

  it('writer with group commit (fsync) and a reader behind it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'relay-bench-'));
    try {
      const N = 100_000;
      const w = await RelayWriter.open(dir, { sourceId: 'bench', startPosition: p(0), compare });
      const t0 = performance.now();
      for (let n = 1; n <= N; n++) {
        const o = w.append(benchTxn(n));
        if (o % 5000 === 4999) await w.whenDurable(o - 2500);
      }
      await w.flush();
      const t1 = performance.now();
      await w.close();
      const r = await RelayReader.open({ dir, compare, follow: false });
      let count = 0;
      for await (const _t of r) count++;
      const t2 = performance.now();
      console.log(`relay writer: ${Math.round((N / (t1 - t0)) * 1000).toLocaleString('en')} transactions/s appended and fsynced; reader: ${Math.round((N / (t2 - t1)) * 1000).toLocaleString('en')} transactions/s`);
      expect(count).toBe(N);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

function toJson(t: RelayTransaction): string {
  return JSON.stringify(t, function (this: Record<string, unknown>, k: string, v: unknown) {
    const raw = this[k];
    if (typeof raw === 'bigint') return { $b: raw.toString() };
    if (Buffer.isBuffer(raw)) return { $x: raw.toString('base64') };
    return v;
  });
}

function fromJson(text: string): unknown {
  return JSON.parse(text, (_k, v: unknown) => {
    if (v !== null && typeof v === 'object') {
      const o = v as { $b?: string; $x?: string };
      if (o.$b !== undefined) return BigInt(o.$b);
      if (o.$x !== undefined) return Buffer.from(o.$x, 'base64');
    }
    return v;
  });
}
