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
    let bytes = 0;
    const t0 = performance.now();
    const payloads = txns.map((t, i) => transactionFrame(i, t));
    const t1 = performance.now();
    for (const f of payloads) {
      bytes += f.length;
      decodeTransaction(f.subarray(8));
    }
    const t2 = performance.now();
    const rate = (ms: number) => `${Math.round((N / ms) * 1000).toLocaleString('en')} records/s, ${((bytes / 1e6 / ms) * 1000).toFixed(0)} MB/s`;
    console.log(`relay codec, ${N} transactions of 4 rows × 10 columns, ${(bytes / N).toFixed(0)} bytes/record framed:`);
    console.log(`  encode+frame: ${rate(t1 - t0)}`);
    console.log(`  decode:       ${rate(t2 - t1)}`);
    console.log(`  both:         ${rate(t2 - t0)}`);
    // The same rows as JSON with tagged bigint/Buffer (core/values.ts encodeValues), for comparison.
    const { encodeValues, decodeValues } = require_values();
    const t3 = performance.now();
    let jbytes = 0;
    for (const t of txns) for (const e of t.events) if (e.type === 'change' && e.change.kind === 'upsert') jbytes += decodeValues(encodeValues(e.change.row)).length && encodeValues(e.change.row).length;
    const t4 = performance.now();
    console.log(`  (rows only as tagged JSON, encode twice + decode once: ${Math.round((N / (t4 - t3)) * 1000).toLocaleString('en')} records/s, ${(jbytes / N).toFixed(0)} bytes/record)`);
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

function require_values(): typeof import('../../src/core/values.js') {
  return valuesModule;
}
import * as valuesModule from '../../src/core/values.js';
