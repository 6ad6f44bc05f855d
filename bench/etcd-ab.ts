/**
 * The etcd stream replay, side by side: builds or settings of tributary compared with each other and
 * with the etcd3 client on the very same work, on a host whose speed drifts by a fifth within
 * minutes (bench/README.md), where two runs of bench/etcd.ts minutes apart cannot tell 5 % apart.
 *
 * One source MariaDB seeded with BENCH_ROWS rows (default 1,000,000; bench/copy.ts's table), copied
 * into etcd by a streaming `tributary sync` that is then stopped; etcd is stopped and its data dir
 * kept; the backlog (bench/lib/stream.ts: 500-change transactions of 250 inserts, 150 updates and
 * 100 deletes, BENCH_ROWS changes) is executed at the source. Then, round after round
 * (BENCH_AB_ROUNDS, default 3; the order reversed every other round), each variant replays the
 * backlog into a fresh copy of that data dir, on the same ports, timed from the process start until
 * the checkpoint key reaches the binlog's end (as bench/etcd.ts times it):
 *
 *   - each tributary variant of BENCH_AB (`name=path/to/tributary.mjs[:VAR=value…]`, `;` between
 *     variants; default: this checkout's build, as `current`), with its environment;
 *   - `etcd3`, the anchor: the etcd3 client writing the backlog's own puts (the objects the first
 *     replay left, read back) and deletes, in source order, in kv.txn of 128 ops, 32 in flight.
 *
 * Each replay is checked (the table's key count against the source's rows). Per trial: changes/s,
 * the writer's and etcd's CPU per change (the writer's: tributary's process from start to exit, or
 * the etcd3 client's), etcd's WAL fsyncs, tributary's peak RSS; then per variant the means and its
 * ratio to the anchor of the same round (the mean of the rounds' ratios). Writes etcd-ab.json.
 *
 *   BENCH_AB='before=/tmp/a/tributary.mjs;after=/tmp/b/tributary.mjs' node --import tsx bench/etcd-ab.ts
 */
import { buildTributary, ENTRY, log, perSecond, printTable, processCpuSeconds, startTributary, warnIfBusy, writeResult } from './lib/harness.js';
import { backlogOps, client, countKeys, etcdCounters, finalObjects, PREFIX, SavedEtcd, transactionsOf, TXN_OPS, untilCaughtUp, untilStreaming, writeAll } from './lib/etcd.js';
import { DEL, INS, startEndpoint, TXN_ROWS } from './lib/stream.js';

const ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000);
const TXNS = Math.ceil(ROWS / TXN_ROWS);
const ROUNDS = Number(process.env.BENCH_AB_ROUNDS ?? 3);
const ID = 'bench-ab';
const ANCHOR = 'etcd3';
const ANCHOR_IN_FLIGHT = 32;
const CATCH_UP_TIMEOUT_MS = 600_000;

interface Variant {
  readonly name: string;
  /** A tributary.mjs, or undefined for the etcd3 anchor. */
  readonly entry?: string;
  readonly env: Record<string, string>;
}

/** BENCH_AB's variants: `name=entry[:VAR=value…]`, separated by `;`. */
function variantsOf(spec: string | undefined): Variant[] {
  if (!spec) return [{ name: 'current', entry: ENTRY, env: {} }];
  return spec
    .split(';')
    .filter(Boolean)
    .map((v) => {
      const eq = v.indexOf('=');
      if (eq <= 0) throw new Error(`BENCH_AB: '${v}' is not name=path/to/tributary.mjs[:VAR=value…]`);
      const [entry, ...vars] = v.slice(eq + 1).split(':');
      const env: Record<string, string> = {};
      for (const kv of vars) {
        const at = kv.indexOf('=');
        if (at <= 0) throw new Error(`BENCH_AB: '${kv}' in variant ${v.slice(0, eq)} is not VAR=value`);
        env[kv.slice(0, at)] = kv.slice(at + 1);
      }
      const name = v.slice(0, eq);
      if (name === ANCHOR) throw new Error(`BENCH_AB: the name ${ANCHOR} is the anchor's`);
      return { name, entry: entry as string, env };
    });
}

interface Trial {
  readonly variant: string;
  readonly round: number;
  readonly ms: number;
  readonly changesPerSecond: number;
  readonly writerUsPerChange: number;
  readonly etcdUsPerChange: number;
  readonly fsyncs: number;
  readonly peakRssMb?: number;
}

async function main(): Promise<void> {
  const variants = variantsOf(process.env.BENCH_AB);
  if (!process.env.BENCH_AB) buildTributary();
  warnIfBusy();
  const source = await startEndpoint('mysql', 1);
  const saved = new SavedEtcd('/tmp/tributary-bench-etcd-ab');
  try {
    log(`seeding ${ROWS} rows on the source (${await source.version()})`);
    await source.seed(ROWS);
    const args = (port: number) => ['sync', '--id', ID, '--source', source.url, '--target', `etcd://127.0.0.1:${port}/${PREFIX}`, '--progress', 'none'];

    // The copy, by the first tributary variant; its etcd's dir, kept, is what every trial starts from.
    const first = variants[0] as Variant;
    const seedServer = await saved.start();
    const port = seedServer.port;
    {
      const etcd = client(seedServer);
      try {
        log(`copying into etcd with ${first.name}`);
        await untilStreaming(etcd, startTributary('etcd-ab-copy', args(port), first.env, first.entry), 'etcd-ab copy', ID);
      } finally {
        etcd.close();
      }
      await seedServer.stop();
    }
    const { ms: sourceMs, goal } = await source.backlog(TXNS, ROWS);
    log(`source: ${TXNS} transactions × ${TXN_ROWS} changes in ${(sourceMs / 1000).toFixed(2)} s; end position ${goal.text}`);

    const trials: Trial[] = [];
    let finals: Map<number, Buffer> | undefined;
    const all: Variant[] = [...variants, { name: ANCHOR, env: {} }];
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? [...all] : [...all].reverse();
      // The anchor needs the objects a replay left: after the first tributary trial.
      if (!finals) order.sort((a, b) => Number(a.entry === undefined) - Number(b.entry === undefined));
      for (const v of order) {
        const server = await saved.trial();
        const etcd = client(server);
        try {
          const fsync0 = (await etcdCounters(server)).count;
          const etcd0 = processCpuSeconds(server.pid);
          const t0 = performance.now();
          let ms: number;
          let writerS: number;
          let peakRssMb: number | undefined;
          if (v.entry === undefined) {
            const cpu0 = process.cpuUsage();
            await writeAll(etcd, transactionsOf(backlogOps(finals as Map<number, Buffer>, TXNS, ROWS)), ANCHOR_IN_FLIGHT);
            ms = performance.now() - t0;
            const cpu = process.cpuUsage(cpu0);
            writerS = (cpu.user + cpu.system) / 1e6;
          } else {
            const run = startTributary(`etcd-ab-${v.name}`, args(port), v.env, v.entry);
            const { caughtUpMs, exit } = await untilCaughtUp(etcd, run, `etcd-ab ${v.name}`, ID, goal, { pollMs: 50, timeoutMs: CATCH_UP_TIMEOUT_MS });
            ms = caughtUpMs;
            writerS = exit.userCpuS + exit.systemCpuS;
            peakRssMb = exit.peakRssMb;
          }
          const etcdS = processCpuSeconds(server.pid) - etcd0;
          const fsyncs = (await etcdCounters(server)).count - fsync0;
          const keys = await countKeys(etcd);
          const want = ROWS + TXNS * (INS - DEL);
          if (keys !== want) throw new Error(`${v.name} (round ${round}): etcd holds ${keys} keys, the source ${want} rows`);
          finals ??= await finalObjects(etcd, TXNS, ROWS);
          const t: Trial = { variant: v.name, round, ms, changesPerSecond: (TXNS * TXN_ROWS * 1000) / ms, writerUsPerChange: (writerS * 1e6) / (TXNS * TXN_ROWS), etcdUsPerChange: (etcdS * 1e6) / (TXNS * TXN_ROWS), fsyncs, ...(peakRssMb !== undefined ? { peakRssMb } : {}) };
          trials.push(t);
          log(`round ${round + 1}, ${v.name}: ${perSecond(t.changesPerSecond)} changes/s; µs a change: writer ${t.writerUsPerChange.toFixed(1)}, etcd ${t.etcdUsPerChange.toFixed(1)}; ${fsyncs} fsyncs`);
        } finally {
          etcd.close();
          await server.stop();
        }
      }
    }

    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const anchorOf = (round: number) => trials.find((t) => t.variant === ANCHOR && t.round === round) as Trial;
    const summary = all.map((v) => {
      const mine = trials.filter((t) => t.variant === v.name);
      return {
        variant: v.name,
        changesPerSecond: mean(mine.map((t) => t.changesPerSecond)),
        each: mine.map((t) => t.changesPerSecond),
        writerUsPerChange: mean(mine.map((t) => t.writerUsPerChange)),
        etcdUsPerChange: mean(mine.map((t) => t.etcdUsPerChange)),
        fsyncs: mean(mine.map((t) => t.fsyncs)),
        ratio: mean(mine.map((t) => t.changesPerSecond / anchorOf(t.round).changesPerSecond)),
        ...(v.entry !== undefined ? { peakRssMb: Math.max(...mine.map((t) => t.peakRssMb ?? 0)) } : {}),
      };
    });
    printTable(`etcd stream replay side by side: ${TXNS * TXN_ROWS} changes into an etcd holding ${ROWS} keys, ${ROUNDS} rounds`, [
      ['variant', 'changes/s, mean', 'each round', 'µs a change: writer / etcd', 'fsyncs', 'peak RSS', `÷ ${ANCHOR} (same round)`],
      ...summary.map((s) => [
        s.variant,
        perSecond(s.changesPerSecond),
        s.each.map(perSecond).join(' / '),
        `${s.writerUsPerChange.toFixed(1)} / ${s.etcdUsPerChange.toFixed(1)}`,
        s.fsyncs.toFixed(0),
        s.peakRssMb !== undefined ? `${s.peakRssMb.toFixed(0)} MB` : '',
        `${s.ratio.toFixed(2)}×`,
      ]),
    ]);
    writeResult('etcd-ab', { rows: ROWS, changes: TXNS * TXN_ROWS, rounds: ROUNDS, anchor: `etcd3 kv.txn of ${TXN_OPS} ops, ${ANCHOR_IN_FLIGHT} in flight`, variants: variants.map((v) => ({ name: v.name, entry: v.entry, env: v.env })), trials, summary });
  } finally {
    saved.remove();
    await source.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
