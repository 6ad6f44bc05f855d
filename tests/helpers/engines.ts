/**
 * One face for every engine a contract test runs against: start a throwaway server, create a
 * database, run SQL, read a table back as comparable text rows, and write a random workload.
 * Tables in contract tests use types whose text form is the same in every engine (integers,
 * varchar, numeric), so rows compare as text across engines.
 */
import pg from 'pg';
import type { Connection, RowDataPacket } from 'mysql2/promise';
import { startMariaDb, startPostgres, type Server } from '../../src/testing/servers.js';
import { afterAll, beforeAll } from 'vitest';
import { connect, waitUntil, type CliRun } from './mysql.js';

export type EngineName = 'mysql' | 'postgres';

export interface Engine {
  readonly name: EngineName;
  readonly server: Server;
  url(db: string): string;
  createDatabase(db: string): Promise<void>;
  /** Runs statements (separated by ';' at line ends or inside one string) in `db`. */
  exec(db: string, sql: string): Promise<void>;
  /** Every row of `table` as text ('NULL' for null), ordered by `orderBy`. */
  rows(db: string, table: string, columns: readonly string[], orderBy: string): Promise<string[]>;
  count(db: string, table: string): Promise<number>;
  /** A client for repeated statements in `db` (the caller ends it). */
  client(db: string): Promise<EngineClient>;
  stop(): Promise<void>;
  kill(): void;
}

export interface EngineClient {
  query(sql: string, params?: unknown[]): Promise<void>;
  end(): Promise<void>;
}

class MysqlEngine implements Engine {
  readonly name = 'mysql' as const;
  private root: Connection | undefined;
  constructor(readonly server: Server) {}
  private async conn(): Promise<Connection> {
    this.root ??= await connect(this.server.url());
    return this.root;
  }
  url(db: string): string {
    return this.server.url(db);
  }
  async createDatabase(db: string): Promise<void> {
    await (await this.conn()).query(`CREATE DATABASE \`${db}\``);
  }
  async exec(db: string, sql: string): Promise<void> {
    const c = await this.conn();
    await c.query(`USE \`${db}\``);
    await c.query(sql);
  }
  async rows(db: string, table: string, columns: readonly string[], orderBy: string): Promise<string[]> {
    const list = columns.map((c) => `IFNULL(CAST(\`${c}\` AS CHAR), 'NULL')`).join(", '|', ");
    const [rows] = await (await this.conn()).query<RowDataPacket[]>(`SELECT CONCAT(${list}) AS r FROM \`${db}\`.\`${table}\` ORDER BY ${orderBy}`);
    return rows.map((r) => String(r.r));
  }
  async count(db: string, table: string): Promise<number> {
    const [rows] = await (await this.conn()).query<RowDataPacket[]>(`SELECT COUNT(*) AS n FROM \`${db}\`.\`${table}\``);
    return Number(rows[0]?.n);
  }
  async client(db: string): Promise<EngineClient> {
    const c = await connect(this.server.url(db));
    return {
      query: async (sql, params) => {
        await c.query(sql, params);
      },
      end: () => c.end(),
    };
  }
  async stop(): Promise<void> {
    await this.root?.end().catch(() => undefined);
    await this.server.stop();
  }
  kill(): void {
    this.server.kill();
  }
}

class PostgresEngine implements Engine {
  readonly name = 'postgres' as const;
  private readonly clients = new Map<string, pg.Client>();
  constructor(readonly server: Server) {}
  private async conn(db: string): Promise<pg.Client> {
    let c = this.clients.get(db);
    if (!c) {
      c = new pg.Client({ connectionString: this.server.url(db) });
      c.on('error', () => undefined);
      await c.connect();
      this.clients.set(db, c);
    }
    return c;
  }
  url(db: string): string {
    return this.server.url(db);
  }
  async createDatabase(db: string): Promise<void> {
    await (await this.conn('postgres')).query(`CREATE DATABASE "${db}"`);
  }
  async exec(db: string, sql: string): Promise<void> {
    await (await this.conn(db)).query(sql);
  }
  async rows(db: string, table: string, columns: readonly string[], orderBy: string): Promise<string[]> {
    const list = columns.map((c) => `COALESCE("${c}"::text, 'NULL')`).join(" || '|' || ");
    const res = await (await this.conn(db)).query<{ r: string }>(`SELECT ${list} AS r FROM "${table}" ORDER BY ${orderBy}`);
    return res.rows.map((r) => r.r);
  }
  async count(db: string, table: string): Promise<number> {
    const res = await (await this.conn(db)).query<{ n: string }>(`SELECT COUNT(*) AS n FROM "${table}"`);
    return Number(res.rows[0]?.n);
  }
  async client(db: string): Promise<EngineClient> {
    const c = new pg.Client({ connectionString: this.server.url(db) });
    c.on('error', () => undefined);
    await c.connect();
    return {
      query: async (sql, params) => {
        await c.query(sql, params as unknown[]);
      },
      end: () => c.end(),
    };
  }
  async stop(): Promise<void> {
    for (const c of this.clients.values()) await c.end().catch(() => undefined);
    await this.server.stop();
  }
  kill(): void {
    this.server.kill();
  }
}

export async function startEngine(name: EngineName, serverId = 1): Promise<Engine> {
  return name === 'mysql' ? new MysqlEngine(await startMariaDb({ serverId })) : new PostgresEngine(await startPostgres());
}

/** A PostgreSQL source with a PostgreSQL and a MariaDB target, for the tests of one file (postgresSourceRig). */
export interface PostgresSourceRig {
  /** The source server (after beforeAll). */
  readonly source: Engine;
  /** The target server of that engine (after beforeAll). */
  target(name: EngineName): Engine;
  /** CLI runs the tests start: killed after the file. */
  readonly running: CliRun[];
}

/**
 * Starts a PostgreSQL source, a PostgreSQL target and a MariaDB target before the file's tests
 * (vitest beforeAll) and stops them, and every run in `running`, after them (afterAll).
 */
export function postgresSourceRig(): PostgresSourceRig {
  let source: Engine | undefined;
  const targets = new Map<EngineName, Engine>();
  const running: CliRun[] = [];
  beforeAll(async () => {
    const [s, p, m] = await Promise.all([startEngine('postgres'), startEngine('postgres'), startEngine('mysql', 2)]);
    source = s;
    targets.set('postgres', p);
    targets.set('mysql', m);
  });
  afterAll(async () => {
    for (const r of running) r.child.kill('SIGKILL');
    await Promise.all([source?.stop(), ...[...targets.values()].map((t) => t.stop())]);
  });
  return {
    get source(): Engine {
      if (!source) throw new Error('the PostgreSQL source is not started yet (use it inside a test or hook)');
      return source;
    },
    target(name: EngineName): Engine {
      const t = targets.get(name);
      if (!t) throw new Error(`no ${name} target`);
      return t;
    },
    running,
  };
}

/** The contract table: portable types whose text forms agree across engines. */
export function contractTableSql(engine: EngineName, table: string): string {
  const t = engine === 'mysql' ? `\`${table}\`` : `"${table}"`;
  return `CREATE TABLE ${t} (id BIGINT NOT NULL PRIMARY KEY, k VARCHAR(32) NOT NULL, v INT NOT NULL, amount NUMERIC(12,2), pad VARCHAR(64))`;
}

export const CONTRACT_COLUMNS = ['id', 'k', 'v', 'amount', 'pad'] as const;

/**
 * Inserts a marker row (key `id`: choose one beyond every key the test's writers use, as 1e9 + n
 * for startContractWriter) into the contract table on the source, and resolves once the target holds
 * it: the running sync `run` streams changes made now, after everything committed before. A test that
 * wants its sync streaming under writes for a while waits for this instead of a fixed sleep, which a
 * loaded machine may not fill and an idle one overfills (with writes the sync must then catch up on).
 * Fails at once when `run` exits.
 */
export async function markerStreamed(src: Engine, dst: Engine, db: string, table: string, id: number, run: CliRun, timeoutMs = 60_000): Promise<void> {
  await src.exec(db, `INSERT INTO ${src.name === 'mysql' ? `\`${table}\`` : `"${table}"`} (id, k, v) VALUES (${id}, 'marker', 0)`);
  const arrived = async () => (await dst.rows(db, table, ['id'], 'id DESC LIMIT 1').catch(() => []))[0] === String(id);
  await waitUntil(`marker row ${id} streamed to the target`, async () => (await arrived()) || run.child.exitCode !== null, timeoutMs, 50);
  if (!(await arrived())) throw new Error(`the sync exited (code ${run.child.exitCode}) before marker row ${id} reached the target\n${run.stderr().slice(-3000)}`);
}

/** Fills the contract table with ids 1..rows. */
export async function fillContractTable(e: Engine, db: string, table: string, rows: number): Promise<void> {
  if (e.name === 'mysql') {
    await e.exec(db, `INSERT INTO \`${table}\` SELECT seq, CONCAT('k', seq), seq, seq / 4, REPEAT('x', seq % 50) FROM seq_1_to_${rows}`);
  } else {
    await e.exec(db, `INSERT INTO "${table}" SELECT s, 'k' || s, s, s / 4.0, repeat('x', s % 50) FROM generate_series(1, ${rows}) s`);
  }
}

export interface Writer {
  readonly ops: () => number;
  stop(): Promise<void>;
}

/**
 * Random inserts, updates, deletes and primary-key updates in small transactions on the contract
 * table, from `connections` clients, until stopped.
 */
export async function startContractWriter(e: Engine, db: string, table: string, maxId: number, connections = 3): Promise<Writer> {
  const my = e.name === 'mysql';
  const t = my ? `\`${table}\`` : `"${table}"`;
  const p = (i: number) => (my ? '?' : `$${i}`);
  const insert = my
    ? `INSERT IGNORE INTO ${t} (id, k, v, amount, pad) VALUES (?, ?, ?, ?, ?)`
    : `INSERT INTO ${t} (id, k, v, amount, pad) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING`;
  const update = `UPDATE ${t} SET v = v + 1, amount = ${p(1)}, pad = ${p(2)} WHERE id = ${p(3)}`;
  const del = `DELETE FROM ${t} WHERE id = ${p(1)}`;
  // Moves a row to a key no other statement uses, so the key update never conflicts.
  const move = `UPDATE ${t} SET id = ${p(1)} WHERE id = ${p(2)}`;
  let moved = maxId + 1;
  const clients: EngineClient[] = [];
  for (let i = 0; i < connections; i++) clients.push(await e.client(db));
  let stopped = false;
  let ops = 0;
  const rnd = (n: number) => 1 + Math.floor(Math.random() * n);
  const loop = async (c: EngineClient) => {
    while (!stopped) {
      try {
        await c.query('BEGIN');
        for (let j = 0; j < 3; j++) {
          const r = Math.random();
          const id = rnd(maxId);
          if (r < 0.3) await c.query(insert, [id, `k${id}`, id, `${rnd(9999)}.${rnd(89) + 10}`, 'p'.repeat(rnd(50))]);
          else if (r < 0.65) await c.query(update, [`${rnd(9999)}.25`, 'u'.repeat(rnd(50)), id]);
          else if (r < 0.85) await c.query(del, [id]);
          else await c.query(move, [moved++, id]);
          ops++;
        }
        await c.query('COMMIT');
      } catch {
        await c.query('ROLLBACK').catch(() => undefined);
        // A connection that fails at once (the server gone) must not spin: timers would never run.
        await new Promise((r) => setTimeout(r, 5));
      }
    }
  };
  const running = clients.map((c) => loop(c));
  return {
    ops: () => ops,
    async stop() {
      stopped = true;
      await Promise.all(running);
      await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
    },
  };
}

/** '' when equal, else a short description of the first differences. */
export async function diffContract(src: Engine, srcDb: string, dst: Engine, dstDb: string, table: string): Promise<string> {
  const a = await src.rows(srcDb, table, CONTRACT_COLUMNS, 'id');
  const b = await dst.rows(dstDb, table, CONTRACT_COLUMNS, 'id');
  if (a.length === b.length && a.every((r, i) => r === b[i])) return '';
  const sa = new Set(a);
  const sb = new Set(b);
  return `${table}: source ${a.length} rows, target ${b.length}; only in source: ${a.filter((r) => !sb.has(r)).slice(0, 3).join(' ; ')}; only in target: ${b.filter((r) => !sa.has(r)).slice(0, 3).join(' ; ')}`;
}

/** Every source/target pair the suites run for. */
export const ENGINE_PAIRS: [EngineName, EngineName][] = [
  ['mysql', 'mysql'],
  ['mysql', 'postgres'],
  ['postgres', 'postgres'],
  ['postgres', 'mysql'],
];

/**
 * The servers of one test file: one per role and engine, started on first use and shared by the
 * file's pairs (a source MariaDB has server_id 1, a target 2).
 */
export class EnginePool {
  private readonly engines = new Map<string, Promise<Engine>>();

  get(role: 'source' | 'target', name: EngineName): Promise<Engine> {
    const key = `${role}:${name}`;
    let e = this.engines.get(key);
    if (!e) this.engines.set(key, (e = startEngine(name, role === 'source' ? 1 : 2)));
    return e;
  }

  async stopAll(): Promise<void> {
    for (const e of this.engines.values()) await (await e.catch(() => undefined))?.stop().catch(() => undefined);
  }
}

/**
 * A test file's servers (an EnginePool) and the sync runs its tests start (`track`): every run is
 * killed and every server stopped after the file's tests (vitest afterAll).
 */
export function enginePoolRig(): { readonly pool: EnginePool; track(run: CliRun): CliRun } {
  const pool = new EnginePool();
  const running: CliRun[] = [];
  afterAll(async () => {
    for (const r of running) r.child.kill('SIGKILL');
    await pool.stopAll();
  });
  return {
    pool,
    track(run: CliRun): CliRun {
      running.push(run);
      return run;
    },
  };
}

/** The foreign keys of a database as comparable lines: table.name (columns) -> table (columns) ON UPDATE … ON DELETE …. */
export async function foreignKeyLines(engine: Engine, db: string): Promise<string[]> {
  if (engine.name === 'mysql') {
    const c = await connect(engine.url(db));
    try {
      const [rows] = await c.query<RowDataPacket[]>(
        `SELECT CONCAT(rc.TABLE_NAME, '.', rc.CONSTRAINT_NAME, ' (', GROUP_CONCAT(k.COLUMN_NAME ORDER BY k.ORDINAL_POSITION), ') -> ', rc.REFERENCED_TABLE_NAME,
                ' (', GROUP_CONCAT(k.REFERENCED_COLUMN_NAME ORDER BY k.ORDINAL_POSITION), ') ON UPDATE ', rc.UPDATE_RULE, ' ON DELETE ', rc.DELETE_RULE) AS line
           FROM information_schema.REFERENTIAL_CONSTRAINTS rc
           JOIN information_schema.KEY_COLUMN_USAGE k ON k.CONSTRAINT_SCHEMA = rc.CONSTRAINT_SCHEMA AND k.CONSTRAINT_NAME = rc.CONSTRAINT_NAME AND k.TABLE_NAME = rc.TABLE_NAME
          WHERE rc.CONSTRAINT_SCHEMA = ? GROUP BY rc.TABLE_NAME, rc.CONSTRAINT_NAME, rc.REFERENCED_TABLE_NAME, rc.UPDATE_RULE, rc.DELETE_RULE ORDER BY line`,
        [db],
      );
      return rows.map((r) => String(r.line)).sort();
    } finally {
      await c.end();
    }
  }
  const c = new pg.Client({ connectionString: engine.url(db) });
  await c.connect();
  try {
    const r = await c.query<{ line: string }>(
      `SELECT t.relname || '.' || c.conname || ' (' || (SELECT string_agg(a.attname, ',' ORDER BY k.o) FROM unnest(c.conkey) WITH ORDINALITY k(n, o) JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n)
              || ') -> ' || rt.relname || ' (' || (SELECT string_agg(a.attname, ',' ORDER BY k.o) FROM unnest(c.confkey) WITH ORDINALITY k(n, o) JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n)
              || ') ON UPDATE ' || (CASE c.confupdtype WHEN 'c' THEN 'CASCADE' WHEN 'r' THEN 'RESTRICT' WHEN 'n' THEN 'SET NULL' WHEN 'd' THEN 'SET DEFAULT' ELSE 'NO ACTION' END)
              || ' ON DELETE ' || (CASE c.confdeltype WHEN 'c' THEN 'CASCADE' WHEN 'r' THEN 'RESTRICT' WHEN 'n' THEN 'SET NULL' WHEN 'd' THEN 'SET DEFAULT' ELSE 'NO ACTION' END) AS line
         FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid JOIN pg_class rt ON rt.oid = c.confrelid JOIN pg_namespace n ON n.oid = t.relnamespace
        WHERE c.contype = 'f' AND n.nspname = 'public'`,
    );
    // Sorted here: ORDER BY would sort by the database's collation, the MySQL side's GROUP BY by its own.
    return r.rows.map((x) => x.line).sort();
  } finally {
    await c.end();
  }
}
