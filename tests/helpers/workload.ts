/**
 * A random writer for convergence tests: inserts, updates, deletes and primary-key updates on
 * `table (id BIGINT PRIMARY KEY, k VARCHAR, v INT, pad VARCHAR)` from several connections.
 */
import type { Connection } from 'mysql2/promise';
import { connect } from './mysql.js';

export interface Writer {
  /** Number of statements executed. */
  readonly ops: () => number;
  stop(): Promise<void>;
}

export interface WriterOptions {
  readonly url: string;
  readonly table: string;
  /** Ids are drawn from 1..maxId (existing rows and gaps alike). */
  readonly maxId: number;
  readonly connections?: number;
  /** Statements per transaction. */
  readonly perTxn?: number;
}

function rnd(n: number): number {
  return 1 + Math.floor(Math.random() * n);
}

export async function startWriter(opts: WriterOptions): Promise<Writer> {
  const conns: Connection[] = [];
  for (let i = 0; i < (opts.connections ?? 4); i++) conns.push(await connect(opts.url));
  let stopped = false;
  let ops = 0;
  const t = '`' + opts.table + '`';
  const loop = async (c: Connection) => {
    while (!stopped) {
      try {
        await c.query('BEGIN');
        for (let j = 0; j < (opts.perTxn ?? 3); j++) {
          const r = Math.random();
          const id = rnd(opts.maxId);
          if (r < 0.3) await c.query(`INSERT INTO ${t} (id, k, v, pad) VALUES (?, ?, ?, REPEAT('p', ?)) ON DUPLICATE KEY UPDATE v = v + 1`, [id, `k${id}`, id, rnd(50)]);
          else if (r < 0.65) await c.query(`UPDATE ${t} SET v = v + 1, pad = REPEAT('u', ?) WHERE id = ?`, [rnd(50), id]);
          else if (r < 0.85) await c.query(`DELETE FROM ${t} WHERE id = ?`, [id]);
          else await c.query(`UPDATE IGNORE ${t} SET id = ? WHERE id = ?`, [rnd(opts.maxId), id]);
          ops++;
        }
        await c.query('COMMIT');
      } catch {
        await c.query('ROLLBACK').catch(() => undefined);
        // A connection that fails at once (the server gone) must not spin: timers would never run,
        // and a test that failed with its writer still running would hang its worker instead of
        // reporting (its afterAll stops the servers under the writer).
        await new Promise((r) => setTimeout(r, 5));
      }
    }
  };
  const running = conns.map((c) => loop(c));
  return {
    ops: () => ops,
    async stop() {
      stopped = true;
      await Promise.all(running);
      await Promise.all(conns.map((c) => c.end().catch(() => undefined)));
    },
  };
}

/** Creates and fills the writer's table with ids 1..rows (every other id in 1..2·rows is a gap when sparse). */
export async function createWriterTable(conn: Connection, db: string, table: string, rows: number): Promise<void> {
  await conn.query(`CREATE DATABASE IF NOT EXISTS \`${db}\``);
  await conn.query(`CREATE TABLE \`${db}\`.\`${table}\` (id BIGINT NOT NULL PRIMARY KEY, k VARCHAR(32) NOT NULL, v INT NOT NULL, pad VARCHAR(64), KEY (k)) ENGINE=InnoDB`);
  await conn.query(
    `INSERT INTO \`${db}\`.\`${table}\` SELECT seq, CONCAT('k', seq), seq, REPEAT('x', seq % 50) FROM \`${db}\`.seq_1_to_${rows}`,
  );
}

/** The workload of a promotion test (promotionWorkload). */
export interface PromotionWorkload {
  /** Rows inserted so far (ids from the first id on, one after the other). */
  readonly inserted: () => number;
  /**
   * Stops the writes (after the one under way), runs `promote` (the replica catches up, the primary
   * dies, the replica becomes primary) and goes on writing on the connection it returns.
   */
  promote(promote: () => Promise<Connection>): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A steady workload across a source promotion (the failover tests): every 10 ms one transaction, an
 * insert of the next id and an update of one of rows 1..100, into `table (id, v)` on whichever
 * server is primary; so after it the new primary holds exactly ids firstId … firstId + inserted − 1.
 */
export function promotionWorkload(first: Connection, table: string, firstId: number): PromotionWorkload {
  let writer = first;
  let paused = false;
  let stop = false;
  let next = firstId;
  let inserted = 0;
  let current: Promise<unknown> = Promise.resolve();
  const loop = (async () => {
    while (!stop) {
      if (!paused) {
        const id = next++;
        current = writer.query(`INSERT INTO ${table} VALUES (${id}, 0); UPDATE ${table} SET v = v + 1 WHERE id = ${(id % 100) + 1}`);
        await current;
        inserted++;
      }
      await new Promise((res) => setTimeout(res, 10));
    }
  })();
  return {
    inserted: () => inserted,
    async promote(promote) {
      paused = true;
      await current;
      writer = await promote();
      paused = false;
    },
    async stop() {
      stop = true;
      await loop;
    },
  };
}
