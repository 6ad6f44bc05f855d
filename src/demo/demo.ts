/**
 * `tributary demo`: a throwaway MariaDB source with a shop and a live workload, a throwaway target
 * (another MariaDB, or with `--target etcd` a single-member etcd), and a sync into the target
 * through the library's Runner — the same code path as `tributary sync`.
 * Stopping is the interesting part: the workload stops, the sync applies everything up to the
 * source's last binlog position and checkpoints, and only then are the tables compared, so the
 * final "equal" is a real check and not a race.
 */
import { rmSync } from 'node:fs';
import { Etcd3 } from 'etcd3';
import type { Connection } from 'mysql2/promise';
import { parseDsn } from '../config/dsn.js';
import { ErrorCode, TributaryError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { Runner } from '../runner/runner.js';
import { baseUrl } from '../server/address.js';
import { SyncMetrics } from '../server/metrics.js';
import { HttpApi } from '../server/server.js';
import { formatDuration } from '../runner/progress.js';
import { MysqlSource } from '../engines/mysql/index.js';
import { startEtcd, startMariaDb, type Server } from '../testing/servers.js';
import {
  compareTables,
  compareWithEtcd,
  countEtcdKeys,
  countRows,
  formatComparison,
  formatCounts,
  formatKeyComparison,
  openDemoConnection,
  type KeyComparison,
  type TableComparison,
} from './compare.js';
import { createShop, DEFAULT_SEED, SHOP_DATABASE, SHOP_TABLES, type SeedSizes } from './shop.js';
import { Workload } from './workload.js';

/** The target side of a running demo: what the periodic line counts and the final comparison reads. */
interface TargetSide {
  readonly url: string;
  /** Banner lines under `target  URL`: how to look at the target. */
  readonly lines: readonly string[];
  count(tables: readonly string[]): Promise<number[]>;
  /** The final comparison (nothing writes any more): each table's verdict and the table to print. */
  compare(src: Connection, srcUrl: string): Promise<{ tables: (TableComparison | KeyComparison)[]; text: string }>;
  close(): Promise<void>;
}

/** Where the demo's words and the sync's progress go (the CLI draws them on the terminal). */
export interface DemoOutput {
  /** A message for the user: the banner, the periodic comparison, the final table. */
  say(text: string): void;
  /** The sync runs: show its progress. */
  follow(runner: Runner): void;
  /** The sync stopped: stop showing its progress. */
  unfollow(): void;
}

/** What the demo syncs into: another MariaDB (the default), or etcd (one JSON object per row). */
export const DEMO_TARGETS = ['mysql', 'etcd'] as const;
export type DemoTarget = (typeof DEMO_TARGETS)[number];

/** The etcd target's prefix: rows under `/shop/<table>/<key>`. */
export const DEMO_ETCD_PREFIX = SHOP_DATABASE;

export interface DemoOptions {
  /** The target's kind; default mysql (a MariaDB server). */
  readonly target?: DemoTarget;
  /** Workload transactions per second. */
  readonly rate: number;
  readonly logger: Logger;
  readonly output: DemoOutput;
  /** Stops by itself this many seconds after the sync and the workload started; undefined runs until stopped. */
  readonly durationSeconds?: number;
  readonly compareEveryMs?: number;
  readonly sizes?: SeedSizes;
  /** Longest wait for the sync to apply the source's last change after the workload stopped. */
  readonly catchUpTimeoutMs?: number;
  /**
   * HOST:PORT of the sync's HTTP API and dashboard (a loopback address: the demo sets no token);
   * port 0 picks a free one. Default 127.0.0.1:0.
   */
  readonly http?: string;
}

export interface DemoResult {
  /** CHECKSUM TABLE on both sides (a MariaDB target), or verify's findings (etcd). */
  readonly tables: readonly (TableComparison | KeyComparison)[];
  /** Every table has the same rows on both sides (same checksum; for etcd, verify found no difference). */
  readonly equal: boolean;
  /** The sync reached the source's final binlog position before it was cancelled. */
  readonly caughtUp: boolean;
}

export class Demo {
  private readonly opts: DemoOptions;
  private readonly servers: Server[] = [];

  constructor(opts: DemoOptions) {
    this.opts = opts;
  }

  /**
   * Runs the demo until `stop` fires, then stops it in order and compares. Resolves undefined when
   * stopped before the sync started. The servers are stopped and their data removed in every case.
   */
  async run(stop: AbortSignal): Promise<DemoResult | undefined> {
    const { output: out, logger } = this.opts;
    const conns: Connection[] = [];
    let api: HttpApi | undefined;
    let dst: TargetSide | undefined;
    try {
      out.say(
        this.kind === 'etcd'
          ? 'tributary demo: starting throwaway MariaDB (source) and etcd (target) servers…'
          : 'tributary demo: starting two throwaway MariaDB servers (source and target)…',
      );
      await this.startServers();
      const [source, target] = this.servers as [Server, Server];
      if (stop.aborted) return this.stoppedEarly();

      const srcUrl = source.url(SHOP_DATABASE);
      for (const s of this.servers.filter((x) => x.kind === 'mariadb')) {
        const c = await openDemoConnection(s.url());
        await c.query(`CREATE DATABASE ${SHOP_DATABASE} CHARACTER SET utf8mb4`);
        await c.end();
      }
      const src = await openDemoConnection(srcUrl);
      conns.push(src);
      dst = this.kind === 'etcd' ? this.etcdSide(target) : await this.mysqlSide(target);
      const dstUrl = dst.url;
      const sizes = this.opts.sizes ?? DEFAULT_SEED;
      const seeded = await createShop(src, sizes);
      if (stop.aborted) return this.stoppedEarly();

      // One registry for the runner's histograms and the API's /metrics, as `sync --http` has.
      const metrics = new SyncMetrics();
      const runner = new Runner({ source: srcUrl, target: dstUrl }, { logger, observer: metrics });
      // The dashboard is served from before the sync starts, so its address heads the banner and
      // a user can open it while the copy runs.
      api = new HttpApi({ runner, metrics, listen: this.opts.http ?? '127.0.0.1:0', logger: logger.child({ component: 'http' }) });
      const dashboard = `${baseUrl(await api.start())}/`;
      out.say(this.banner(dashboard, srcUrl, source, dst, seeded.total));
      const workload = new Workload({ url: srcUrl, rate: this.opts.rate, sizes, logger: logger.child({ component: 'workload' }) });
      // The writes start with the sync, so the initial copy runs against a changing source.
      workload.start();
      const started = Date.now();
      out.follow(runner);
      const running = runner.run();
      let ended = false;
      const settled = running.then(
        () => (ended = true),
        () => (ended = true),
      );

      let comparing = false;
      let stopping = false;
      const every = this.opts.compareEveryMs ?? 10_000;
      const timer = setInterval(() => {
        if (comparing || ended || stopping) return;
        comparing = true;
        void Promise.all([countRows(src, SHOP_TABLES), (dst as TargetSide).count(SHOP_TABLES)])
          .then(([s, d]) => {
            const w = workload.stats();
            const p = runner.progress();
            // Two lines, each within 80 columns for the shop's four tables.
            out.say(
              `${formatDuration((Date.now() - started) / 1000).padStart(6)}  ${formatCounts(SHOP_TABLES, s, d)}\n        (source/target rows; ${w.committed} transactions written, sync ${p.phase} lag ${p.lagSeconds.toFixed(1)}s)`,
            );
          })
          .catch((err: unknown) => logger.warn({ err: (err as Error).message }, 'demo: could not count rows'))
          .finally(() => (comparing = false));
      }, every);

      const duration = this.opts.durationSeconds;
      // A timer of our own, not AbortSignal.any(): on Node 20 a combined signal can be garbage
      // collected with its listeners, and then it never fires.
      let stopAt: NodeJS.Timeout | undefined;
      const timeUp = new Promise<void>((resolve) => {
        if (duration !== undefined) {
          stopAt = setTimeout(() => {
            out.say(`${duration} s are up: stopping`);
            resolve();
          }, duration * 1000);
        }
      });
      try {
        await Promise.race([aborted(stop), timeUp, running]);
        if (ended) {
          // The sync ended on its own: a fatal error (rethrown here) or a cancel nobody asked for.
          await running;
          throw new TributaryError(ErrorCode.INTERNAL, 'the sync stopped on its own before the demo was asked to stop');
        }
        stopping = true;
        await workload.stop();
        const w = workload.stats();
        out.say(
          `stopping: the workload stopped after ${w.committed} transactions (${w.repriced} rows repriced${w.failed ? `, ${w.failed} failed` : ''}${w.skipped ? `, ${w.skipped} not started because the source was at its limit` : ''}); waiting for the sync to apply the source's last change…`,
        );
        const waitFrom = Date.now();
        const caughtUp = await this.catchUp(runner, srcUrl, running);
        if (caughtUp) out.say(`the sync applied the source's last change ${((Date.now() - waitFrom) / 1000).toFixed(1)} s later; stopping it (it checkpoints)`);
        runner.cancel();
        await running;
        clearInterval(timer);
        out.unfollow();
        if (!caughtUp) out.say(`the sync did not reach the source's last position within ${formatDuration((this.opts.catchUpTimeoutMs ?? 60_000) / 1000)}; comparing anyway`);

        const { tables, text } = await dst.compare(src, srcUrl);
        const equal = tables.every((t) => t.equal);
        out.say(`final comparison, source vs target (the sync stopped and checkpointed):\n${text}`);
        out.say(equal ? `all ${tables.length} tables equal` : `tables differ: ${tables.filter((t) => !t.equal).map((t) => t.table).join(', ')}`);
        return { tables, equal, caughtUp };
      } finally {
        clearInterval(timer);
        clearTimeout(stopAt);
        await workload.stop();
        runner.cancel();
        await settled;
        out.unfollow();
      }
    } finally {
      await api?.close().catch(() => undefined);
      await dst?.close().catch(() => undefined);
      for (const c of conns) await c.end().catch(() => undefined);
      await this.stopServers();
    }
  }

  private get kind(): DemoTarget {
    return this.opts.target ?? 'mysql';
  }

  private async mysqlSide(server: Server): Promise<TargetSide> {
    const url = server.url(SHOP_DATABASE);
    const conn = await openDemoConnection(url);
    return {
      url,
      lines: [`          mariadb -h 127.0.0.1 -P ${server.port} -u root ${SHOP_DATABASE}`],
      count: (tables) => countRows(conn, tables),
      compare: async (src) => {
        const tables = await compareTables(src, conn, SHOP_TABLES);
        return { tables, text: formatComparison(tables) };
      },
      close: () => conn.end(),
    };
  }

  private etcdSide(server: Server): TargetSide {
    const url = server.url(DEMO_ETCD_PREFIX);
    const endpoint = `http://127.0.0.1:${server.port}`;
    const prefix = `/${DEMO_ETCD_PREFIX}`;
    const client = new Etcd3({ hosts: endpoint });
    // verify's logger names its own component.
    const logger = this.opts.logger;
    return {
      url,
      lines: [
        `          one key per row, ${prefix}/<table>/<key>, its value the row as JSON`,
        '',
        '  Watch the keys change live (the rows, and the checkpoint under %tributary),',
        '  and read the first three orders:',
        `  etcdctl --endpoints ${endpoint} watch --prefix ${prefix}/`,
        `  etcdctl --endpoints ${endpoint} get --prefix ${prefix}/orders/ --limit 3`,
      ],
      count: (tables) => countEtcdKeys(client, prefix, tables),
      compare: async (src, srcUrl) => {
        const tables = await compareWithEtcd(src, client, { source: srcUrl, target: url, prefix }, SHOP_TABLES, logger);
        return { tables, text: formatKeyComparison(tables) };
      },
      close: async () => client.close(),
    };
  }

  private stoppedEarly(): undefined {
    this.opts.output.say('stopped before the sync started; stopping the servers');
    return undefined;
  }

  /** Kills the servers at once and removes their data (the second Ctrl-C). */
  kill(): void {
    for (const s of this.servers.splice(0)) {
      s.kill();
      rmSync(s.dir, { recursive: true, force: true });
    }
  }

  private async startServers(): Promise<void> {
    // The source keeps its binlogs a week, as a production source should: the sync's start then has
    // no retention warning to show a new user.
    const etcd = this.kind === 'etcd';
    const started = await Promise.allSettled([
      startMariaDb({ serverId: 1, args: ['--binlog-expire-logs-seconds=604800'] }),
      etcd ? startEtcd() : startMariaDb({ serverId: 2 }),
    ]);
    // In order, source first: run() reads them as [source, target].
    for (const r of started) if (r.status === 'fulfilled') this.servers.push(r.value);
    const failedAt = started.findIndex((r) => r.status === 'rejected');
    if (failedAt >= 0) {
      const err = (started[failedAt] as PromiseRejectedResult).reason as Error;
      if (etcd && failedAt === 1) {
        throw new TributaryError(ErrorCode.CONNECT_FAILED, `could not start a throwaway etcd (${err.message}); run 'bash scripts/install.sh' (as root) to install etcd-server`, { cause: err });
      }
      throw new TributaryError(
        ErrorCode.CONNECT_FAILED,
        `could not start a throwaway MariaDB (${err.message}); run 'bash scripts/install.sh' (as root) to install mariadb-server and create the 'tributary' user`,
        { cause: err },
      );
    }
  }

  private async stopServers(): Promise<void> {
    const servers = this.servers.splice(0);
    await Promise.all(servers.map((s) => s.stop().catch(() => undefined)));
  }

  /**
   * Waits until the checkpoint on the target has reached the source's current binlog position:
   * with the workload stopped, that is every change there will be. False on timeout or when the
   * sync ended first.
   */
  private async catchUp(runner: Runner, srcUrl: string, running: Promise<void>): Promise<boolean> {
    let ended = false;
    void running.then(
      () => (ended = true),
      () => (ended = true),
    );
    const probe = new MysqlSource({
      dsn: parseDsn(srcUrl, 'source'),
      logger: this.opts.logger.child({ component: 'demo' }),
      poolSize: 1,
      serverId: 1, // never registers as a replica: it only reads SHOW MASTER STATUS
      positionMode: 'auto',
      maxBufferBytes: 1,
    });
    await probe.connect();
    try {
      const goal = await probe.currentPosition();
      const deadline = Date.now() + (this.opts.catchUpTimeoutMs ?? 60_000);
      while (!ended && Date.now() < deadline) {
        const cp = await runner.dumpCheckpoint().catch(() => undefined);
        if (cp?.stream && cp.stream.phase === 'stream' && probe.comparePositions(cp.stream.position, goal) >= 0) return true;
        await new Promise((r) => setTimeout(r, 200));
      }
      return false;
    } finally {
      await probe.close();
    }
  }

  private banner(dashboard: string, srcUrl: string, source: Server, target: TargetSide, rows: number): string {
    const stopHow = this.opts.durationSeconds ? `Stops by itself after ${this.opts.durationSeconds} s, or Ctrl-C to stop:` : 'Ctrl-C to stop:';
    const etcd = this.kind === 'etcd';
    // Lines within 80 columns: the demo's first screen is often a default-sized terminal.
    return [
      `dashboard: ${dashboard}`,
      '',
      etcd ? 'tributary demo — a live shop database kept in step with etcd' : 'tributary demo — a live shop database kept in step with a copy of it',
      '',
      `  source  ${srcUrl}`,
      `          mariadb -h 127.0.0.1 -P ${source.port} -u root ${SHOP_DATABASE}`,
      `  target  ${target.url}`,
      ...target.lines,
      '',
      `  The source holds a shop: ${SHOP_TABLES.join(', ')}`,
      `  (${rows} rows). A workload writes about ${this.opts.rate} transactions/s to it: new orders,`,
      '  status changes, edits, deletes, and every 10 s a price change across a whole',
      ...(etcd
        ? [
            '  category. tributary copies each row into etcd as one key, then applies every',
            "  change from the source's binlog, each source transaction in one etcd",
            '  transaction. Every 10 s a line compares source rows with etcd keys (etcd trails',
            '  by about a second). Both servers are throwaway: they and their data go when the',
            '  demo stops.',
          ]
        : [
            '  category. tributary copies the tables to the target, then applies every change',
            "  from the source's binlog. Every 10 s a line compares row counts, source/target",
            '  (the target trails by about a second). Both servers are throwaway: they and',
            '  their data go when the demo stops.',
          ]),
      '',
      `  ${stopHow}`,
      '  the workload stops, the sync catches up and checkpoints, and each table is',
      ...(etcd
        ? ["  compared row by row with etcd's objects (tributary verify's checksum).", '  A second Ctrl-C exits at once.']
        : ['  compared with CHECKSUM TABLE. A second Ctrl-C exits at once.']),
      '',
    ].join('\n');
  }
}

function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}
