import { closeSync, ftruncateSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Change, StreamEvent } from '../core/change.js';
import { decodeValues, encodeValues } from '../core/values.js';

/**
 * Bytes of spooled changes kept in memory, shared by every spool of one stream: past `limit`, a
 * spool appends to its file instead. One budget for all of them, so that many undecided XA
 * transactions at once stay within it too.
 */
export class SpoolBudget {
  used = 0;
  constructor(readonly limit: number) {}
}

/** A point in a spool that `truncate()` returns to (a savepoint). */
export interface SpoolMark {
  readonly name: string;
  readonly count: number;
  readonly memory: number;
  readonly fileBytes: number;
}

type ChangeEvent = Extract<StreamEvent, { type: 'change' }>;

/**
 * Row changes of one source transaction that must not reach the applier yet: the rows after a
 * SAVEPOINT (a later ROLLBACK TO discards them), or an XA transaction between XA PREPARE and its
 * XA COMMIT / XA ROLLBACK. In memory while the shared budget allows, then appended to a temp file,
 * so memory stays bounded however big the transaction. `replay()` hands them back in order, reading
 * the file in blocks; `truncate()` forgets everything after a mark; `discard()` frees it all.
 * Once replayed or discarded a spool is empty and its file is gone.
 */
export class EventSpool {
  private memory: { ev: ChangeEvent; bytes: number }[] = [];
  private memoryBytes = 0;
  private dir: string | undefined;
  private fd: number | undefined;
  private fileBytes = 0;
  private fileCount = 0;
  private readonly marks: SpoolMark[] = [];

  constructor(private readonly budget: SpoolBudget) {}

  /** Row changes held. */
  get count(): number {
    return this.memory.length + this.fileCount;
  }

  /** Bytes held in memory (what a queue holding this spool should count). */
  get bytesInMemory(): number {
    return this.memoryBytes;
  }

  append(ev: ChangeEvent, bytes: number): void {
    // Once the file has begun, everything goes there: replay reads the memory part first.
    if (this.fd === undefined && this.budget.used + bytes <= this.budget.limit) {
      this.memory.push({ ev, bytes });
      this.memoryBytes += bytes;
      this.budget.used += bytes;
      return;
    }
    if (this.fd === undefined) {
      this.dir = mkdtempSync(join(tmpdir(), 'tributary-spool-'));
      this.fd = openSync(join(this.dir, 'changes'), 'w+');
    }
    const line = Buffer.from(`${encodeEvent(ev)}\n`, 'utf8');
    writeSync(this.fd, line, 0, line.length, this.fileBytes);
    this.fileBytes += line.length;
    this.fileCount++;
  }

  /** Records a savepoint; a later one of the same name replaces it (as in SQL). */
  mark(name: string): void {
    const i = this.marks.findIndex((m) => m.name === name);
    if (i >= 0) this.marks.splice(i, 1);
    this.marks.push({ name, count: this.count, memory: this.memory.length, fileBytes: this.fileBytes });
  }

  hasMark(name: string): boolean {
    return this.marks.some((m) => m.name === name);
  }

  /**
   * ROLLBACK TO SAVEPOINT: forgets every change after the named mark, and the marks set after it
   * (the named one stays, as in SQL). False when no such mark exists.
   */
  truncate(name: string): boolean {
    const i = this.marks.findIndex((m) => m.name === name);
    if (i < 0) return false;
    const m = this.marks[i] as SpoolMark;
    this.marks.splice(i + 1);
    for (const dropped of this.memory.splice(m.memory)) {
      this.memoryBytes -= dropped.bytes;
      this.budget.used -= dropped.bytes;
    }
    if (this.fd !== undefined) {
      ftruncateSync(this.fd, m.fileBytes);
      this.fileCount = m.count - m.memory;
      this.fileBytes = m.fileBytes;
    }
    return true;
  }

  /** The changes in order, then the spool is empty (its file removed). */
  *replay(): Generator<ChangeEvent> {
    try {
      const memory = this.memory;
      this.memory = [];
      for (const item of memory) {
        this.budget.used -= item.bytes;
        this.memoryBytes -= item.bytes;
        yield item.ev;
      }
      if (this.fd === undefined) return;
      const block = Buffer.alloc(1 << 20);
      let offset = 0;
      let rest = Buffer.alloc(0);
      while (offset < this.fileBytes) {
        const n = readSync(this.fd, block, 0, Math.min(block.length, this.fileBytes - offset), offset);
        if (n <= 0) break;
        offset += n;
        let data = rest.length ? Buffer.concat([rest, block.subarray(0, n)]) : block.subarray(0, n);
        let nl: number;
        while ((nl = data.indexOf(10)) >= 0) {
          yield decodeEvent(data.subarray(0, nl).toString('utf8'));
          data = data.subarray(nl + 1);
        }
        rest = Buffer.from(data);
      }
    } finally {
      this.discard();
    }
  }

  /** Forgets everything held and removes the file. */
  discard(): void {
    this.budget.used -= this.memoryBytes;
    this.memory = [];
    this.memoryBytes = 0;
    this.marks.length = 0;
    if (this.fd !== undefined) closeSync(this.fd);
    if (this.dir !== undefined) rmSync(this.dir, { recursive: true, force: true });
    this.fd = undefined;
    this.dir = undefined;
    this.fileBytes = 0;
    this.fileCount = 0;
  }
}

/** One line of a spool file: the change with its values in encodeValues' typed JSON. */
function encodeEvent(ev: ChangeEvent): string {
  const c = ev.change;
  const o: Record<string, unknown> = { t: c.table, k: c.kind, key: encodeValues(c.key) };
  if (c.kind === 'upsert') {
    if (c.doc) o.doc = c.doc.toString('base64');
    else o.row = encodeValues(c.row);
    if (c.unchanged?.length) o.u = c.unchanged;
  }
  if (ev.op) o.op = ev.op;
  return JSON.stringify(o);
}

function decodeEvent(line: string): ChangeEvent {
  const o = JSON.parse(line) as { t: string; k: 'upsert' | 'delete'; key: string; row?: string; doc?: string; u?: number[]; op?: 'insert' | 'update' | 'delete' };
  const key = decodeValues(o.key);
  const change: Change =
    o.k === 'delete'
      ? { kind: 'delete', table: o.t, key }
      : o.doc !== undefined
        ? { kind: 'upsert', table: o.t, key, doc: Buffer.from(o.doc, 'base64') }
        : { kind: 'upsert', table: o.t, key, row: decodeValues(o.row ?? '[]'), ...(o.u ? { unchanged: o.u } : {}) };
  return o.op ? { type: 'change', change, op: o.op } : { type: 'change', change };
}
