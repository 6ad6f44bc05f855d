// The child of relay-crash.test.ts: opens the relay in argv[2], appends transactions after its
// durable position as fast as it can with group commit, and prints each durable ordinal and position
// ("durable <ordinal> <position>") once whenDurable says so, until it is killed.
import { RelayWriter } from '../../src/relay/writer.js';
import { compare, p, txn } from './relay-fixtures.js';

const dir = process.argv[2]!;
const w = await RelayWriter.open(dir, { sourceId: 'crash', startPosition: p(0), compare, fsyncIntervalMs: 10, fsyncBytes: 256 * 1024, segmentBytes: 1024 * 1024 });
process.stdout.write(`open ${w.durablePosition().ordinal} ${w.recovered ? w.recovered.bytes : 0}\n`);
w.onDurable(() => {
  const d = w.durablePosition();
  process.stdout.write(`durable ${d.ordinal} ${d.position}\n`);
});
let n = w.durablePosition().ordinal + 2;
for (;;) {
  const ordinal = w.append(txn(n, 1 + (n % 20)));
  n++;
  // Keep at most ~2000 transactions in flight: wait for the group commit now and then.
  if (ordinal % 2000 === 0) await w.whenDurable(ordinal - 1000);
  if (ordinal % 100 === 0) await new Promise((res) => setImmediate(res));
}
