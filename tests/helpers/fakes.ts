/**
 * In-memory fakes of the Source and Target seams (src/core/source.ts, target.ts) for unit tests of
 * the copier and the applier: a table of integer keys, a change stream the test feeds, and a
 * target that models row locks per table (a writer waits while another open transaction has
 * written the table, as row locks make a chunk wait on an open transaction that wrote its rows).
 */
import type { StreamEvent } from '../../src/core/change.js';
import type { TableSchema } from '../../src/core/schema.js';
import type { ChangeSource, KeyRange } from '../../src/core/source.js';
import type { ChunkCommit, StreamCheckpoint, Target, TargetTransaction } from '../../src/core/target.js';
import type { Row, Value } from '../../src/core/values.js';

export const TABLE: TableSchema = {
  name: 't',
  engine: 'fake',
  generated: [],
  primaryKey: [0],
  columns: [
    { name: 'id', dataType: 'int', columnType: 'int', nullable: false, unsigned: false },
    { name: 'v', dataType: 'varchar', columnType: 'varchar(100)', nullable: true, unsigned: false },
  ],
};

const idOf = (k: readonly Value[] | Row): bigint => k[0] as bigint;

/** A source holding table rows (what chunks read) and a stream of events the test pushes. */
export class FakeSource {
  readonly engine = 'fake';
  /** Current rows by id: a chunk reads them as they are when it reads. */
  readonly rows = new Map<bigint, Row>();
  private readonly queue: StreamEvent[] = [];
  private wake: (() => void) | undefined;
  /** Events the stream's consumer has taken. */
  taken = 0;
  /** Called each time the consumer takes an event, before it gets it. */
  onTake: (() => void) | undefined;

  push(...events: StreamEvent[]): void {
    this.queue.push(...events);
    this.wake?.();
  }

  asSource(): ChangeSource {
    return this as unknown as ChangeSource;
  }

  async *stream(_from: string, _tables: readonly TableSchema[], signal: AbortSignal): AsyncGenerator<StreamEvent> {
    while (!signal.aborted) {
      const ev = this.queue.shift();
      if (!ev) {
        await new Promise<void>((r) => {
          this.wake = r;
          signal.addEventListener('abort', () => r(), { once: true });
        });
        continue;
      }
      this.onTake?.();
      this.taken++;
      yield ev;
    }
  }

  async tableStats(): Promise<{ rows: number; avgRowBytes: number }> {
    return { rows: this.rows.size, avgRowBytes: 0 };
  }

  private sortedIds(after: Value[] | null): bigint[] {
    const from = after ? idOf(after) : undefined;
    return [...this.rows.keys()].filter((id) => from === undefined || id > from).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  async chunkBoundary(_t: TableSchema, after: Value[] | null, size: number): Promise<Value[] | null> {
    const ids = this.sortedIds(after);
    return ids.length > size ? [ids[size - 1] as bigint] : null;
  }

  async readChunk(_t: TableSchema, range: KeyRange): Promise<Row[]> {
    const upTo = range.upTo ? idOf(range.upTo) : undefined;
    return this.sortedIds(range.after)
      .filter((id) => upTo === undefined || id <= upTo)
      .map((id) => [...(this.rows.get(id) as Row)]);
  }

  comparePositions(a: string, b: string): number {
    return Number(a) - Number(b);
  }

  describePosition(p: string): string {
    return p;
  }
}

/**
 * A target with one lock per table standing for its row locks: a writer of a table waits while
 * another transaction has written it and is still open. Chunk writes take `chunkDelayMs`.
 */
export class FakeTarget {
  readonly engine = 'fake';
  readonly capabilities = { transactions: true, upsert: true, bulkLoad: false };
  readonly rows = new Map<bigint, Row>();
  /** The open stream transaction that has written each table (its row locks). */
  private readonly streamOwners = new Map<string, object>();
  /** Chunks being written per table (their row locks, disjoint from each other's). */
  private readonly chunkWriters = new Map<string, number>();
  private lockWaiters: (() => void)[] = [];
  /** Times a chunk write had to wait for a lock an open stream transaction held. */
  chunkWaitsOnStream = 0;
  /** Row changes written by stream transactions, and how many were committed. */
  streamWrites = 0;
  commits = 0;
  lastCheckpoint: StreamCheckpoint | null = null;
  /** Called at every stream write, with the tables it writes. */
  onStreamWrite: ((tables: string[]) => void) | undefined;

  constructor(private readonly chunkDelayMs = 2) {}

  asTarget(): Target {
    return this as unknown as Target;
  }

  private async lockWait(): Promise<void> {
    await new Promise<void>((r) => this.lockWaiters.push(r));
  }

  private wakeLockWaiters(): void {
    for (const r of this.lockWaiters.splice(0)) r();
  }

  async writeChunk(table: TableSchema, rows: readonly Row[], commit: ChunkCommit): Promise<void> {
    if (this.streamOwners.has(table.name)) this.chunkWaitsOnStream++;
    while (this.streamOwners.has(table.name)) await this.lockWait();
    this.chunkWriters.set(table.name, (this.chunkWriters.get(table.name) ?? 0) + 1);
    try {
      await new Promise((r) => setTimeout(r, this.chunkDelayMs));
      for (const r of rows) this.rows.set(idOf(r), [...r]);
      await commit.checkpoint();
      commit.committed();
    } finally {
      this.chunkWriters.set(table.name, (this.chunkWriters.get(table.name) ?? 1) - 1);
      this.wakeLockWaiters();
    }
  }

  private async streamLock(table: string, owner: object): Promise<void> {
    for (;;) {
      const held = this.streamOwners.get(table);
      if ((held === undefined || held === owner) && !this.chunkWriters.get(table)) break;
      await this.lockWait();
    }
    this.streamOwners.set(table, owner);
  }

  private streamUnlock(owner: object): void {
    for (const [t, o] of this.streamOwners) if (o === owner) this.streamOwners.delete(t);
    this.wakeLockWaiters();
  }

  async begin(): Promise<TargetTransaction> {
    const owner = {};
    const staged: (() => void)[] = [];
    return {
      write: async (_tables, changes) => {
        const tables = [...new Set(changes.map((c) => c.table))];
        this.onStreamWrite?.(tables);
        for (const t of tables) await this.streamLock(t, owner);
        for (const c of changes) {
          staged.push(c.kind === 'delete' ? () => this.rows.delete(idOf(c.key)) : () => this.rows.set(idOf(c.key), [...c.row]));
        }
        this.streamWrites += changes.length;
      },
      truncate: async (t) => {
        await this.streamLock(t.name, owner);
        staged.push(() => this.rows.clear());
      },
      commit: async (cp) => {
        for (const f of staged) f();
        this.lastCheckpoint = cp;
        this.commits++;
        this.streamUnlock(owner);
      },
      rollback: async () => this.streamUnlock(owner),
    };
  }
}
