import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/parse.js';
import type { SyncLock } from '../../src/coordination/lock.js';
import { ErrorCode, TributaryError } from '../../src/core/errors.js';
import type { TableSchema } from '../../src/core/schema.js';
import type { ChangeSource } from '../../src/core/source.js';
import { createSession, openSession, type SessionOptions, type SessionStep, type StepSubject } from '../../src/runner/session.js';
import { FakeSource, FakeTarget, TABLE } from '../helpers/fakes.js';

/**
 * runner/session.ts on the in-memory fakes: the one opening every command shares (sync, check,
 * --dry-run, verify, move). What each command makes of a failed step is tested with the command;
 * here, the order of the steps, what a failure skips, and the resume decision.
 */
const logger = pino({ level: 'silent' });
const config = parseConfig({ source: 'mysql://u@127.0.0.1/db', target: 'postgres://u@127.0.0.1/db2' });
const table = (name: string): TableSchema => ({ ...TABLE, name });

const SYNC: Omit<SessionOptions, 'source' | 'target'> = { logger, requirements: 'enforce', parallel: true, checkpoint: 'resume' };
const CHECK: Omit<SessionOptions, 'source' | 'target'> = { logger, requirements: 'report', parallel: false, checkpoint: 'inspect' };

function failing<T extends object>(obj: T, method: keyof T, err: Error, delayMs = 0): T {
  (obj as Record<keyof T, unknown>)[method] = () => new Promise((_, reject) => setTimeout(() => reject(err), delayMs));
  return obj;
}

function collect(): { failures: [SessionStep, string, StepSubject][]; onStepError: SessionOptions['onStepError'] } {
  const failures: [SessionStep, string, StepSubject][] = [];
  return { failures, onStepError: (step, err, subject) => failures.push([step, (err as Error).message, subject]) };
}

describe('openSession', () => {
  it('selects and describes the tables in the source order and reads a fresh checkpoint as a start', async () => {
    const source = new FakeSource([table('b'), table('a'), table('c')]);
    const s = await openSession(config, { ...SYNC, source, target: new FakeTarget() });
    expect(s.names).toEqual(['b', 'a', 'c']);
    expect(s.tables.map((t) => t.name)).toEqual(['b', 'a', 'c']);
    expect(s.resume).toEqual({ kind: 'start' });
    expect(s.identity).toEqual({ id: 'fake-source', version: '1' });
    // The transform stage with no rules hands on the source itself: no wrapper, nothing per row.
    expect(s.source).toBe(source);
    expect(s.syncId).toMatch(/^db-[0-9a-f]{12}$/);
    await s.close();
  });

  it('without onStepError, two failed connections report the source\'s, even when the target fails first', async () => {
    const source = failing(new FakeSource(), 'connect', new Error('source down'), 30);
    const target = failing(new FakeTarget(), 'connect', new Error('target down'), 0);
    let closed = 0;
    source.close = async () => void closed++;
    target.close = async () => void closed++;
    await expect(openSession(config, { ...SYNC, source, target })).rejects.toThrow('source down');
    // openSession closes both sides when the opening fails.
    expect(closed).toBe(2);
  });

  it('with onStepError, a source that does not connect skips the source steps and leaves whether to resume unchecked', async () => {
    const source = failing(new FakeSource(), 'connect', new Error('source down'));
    const target = new FakeTarget();
    await target.saveStreamCheckpoint({ version: 1, position: '0', sourceId: 'fake-source', phase: 'stream' });
    let listed = false;
    source.listTables = async () => ((listed = true), ['t']);
    const { failures, onStepError } = collect();
    const s = await openSession(config, { ...CHECK, source, target, onStepError });
    expect(failures).toEqual([['connect', 'source down', { side: 'source' }]]);
    expect([s.sourceUp, s.targetUp, listed]).toEqual([false, true, false]);
    expect(s.checkpoint?.stream?.position).toBe('0');
    expect(s.resume).toEqual({ kind: 'unchecked' });
  });

  it('with onStepError, a table that cannot be described is left out and the others keep their order', async () => {
    const source = new FakeSource([table('a'), table('b'), table('c')]);
    const describe = source.describe.bind(source);
    source.describe = async (name) => {
      if (name === 'b') throw new TributaryError(ErrorCode.TABLE_UNSUPPORTED, 'b is odd');
      return describe(name);
    };
    const { failures, onStepError } = collect();
    const s = await openSession(config, { ...CHECK, source, target: new FakeTarget(), onStepError });
    expect(s.names).toEqual(['a', 'b', 'c']);
    expect(s.tables.map((t) => t.name)).toEqual(['a', 'c']);
    expect(failures).toEqual([['describe', 'b is odd', { table: 'b' }]]);
  });

  it('an onStepError that rethrows ends the opening at that step', async () => {
    const source = failing(new FakeSource(), 'listTables', new Error('no catalogue'));
    let loaded = false;
    const target = new FakeTarget();
    target.loadCheckpoint = async () => ((loaded = true), { stream: null, tables: new Map() });
    await expect(
      openSession(config, {
        ...CHECK,
        source,
        target,
        onStepError: (step, err) => {
          if (step !== 'requirements') throw err;
        },
      }),
    ).rejects.toThrow('no catalogue');
    expect(loaded).toBe(false);
  });

  it('a checkpoint of another source is refused (SOURCE_CHANGED), not thrown, and inspect reads it without side effects', async () => {
    const target = new FakeTarget();
    await target.saveStreamCheckpoint({ version: 1, position: '0', sourceId: 'another', phase: 'stream' });
    const source = new FakeSource();
    const seen: unknown[] = [];
    (source as ChangeSource).checkPosition = async (_p: string, opts?: object) => void seen.push(opts);
    const s = await openSession(config, { ...CHECK, source, target });
    expect(s.resume.kind).toBe('refused');
    expect((s.resume as { error: TributaryError }).error.code).toBe(ErrorCode.SOURCE_CHANGED);
    // Its position is not asked about once the identity differs.
    expect(seen).toEqual([]);
  });

  it('a checkpoint the source can serve resumes from its position; inspect asks read-only, resume does not', async () => {
    for (const [opts, readOnly] of [
      [CHECK, true],
      [SYNC, false],
    ] as const) {
      const source = new FakeSource();
      const from = source.transaction([{ kind: 'upsert', table: 't', row: [1n, 'x'] }]);
      const target = new FakeTarget();
      await target.saveStreamCheckpoint({ version: 1, position: from, sourceId: 'fake-source', phase: 'stream' });
      const seen: unknown[] = [];
      const check = source.checkPosition.bind(source);
      (source as ChangeSource).checkPosition = async (p: string, o?: object) => (seen.push(o), check(p));
      const s = await openSession(config, { ...opts, source, target });
      expect(s.resume).toEqual({ kind: 'resume', from });
      expect(seen).toEqual([{ readOnly }]);
    }
  });

  it('a purged position is refused with the source\'s error', async () => {
    const target = new FakeTarget();
    await target.saveStreamCheckpoint({ version: 1, position: '99', sourceId: 'fake-source', phase: 'stream' });
    const s = await openSession(config, { ...SYNC, source: new FakeSource(), target });
    expect(s.resume.kind).toBe('refused');
    expect((s.resume as { error: TributaryError }).error.code).toBe(ErrorCode.POSITION_LOST);
  });

  it('takes the sync lock beside the requirements and releases it at close; commands without a lock take none', async () => {
    const events: string[] = [];
    const lock: SyncLock = { acquire: async (watch) => void events.push(`acquire ${typeof watch?.onLost}`), release: async () => void events.push('release') };
    const source = new FakeSource();
    source.preflight = async () => void events.push('preflight');
    const s = await openSession(config, { ...SYNC, source, target: new FakeTarget(), lock: { watch: { onLost: () => undefined }, lock: () => lock } });
    expect(events.sort()).toEqual(['acquire function', 'preflight']);
    await s.close();
    expect(events).toContain('release');

    const target = new FakeTarget();
    let locked = false;
    target.lock = async () => void (locked = true);
    await (await openSession(config, { ...CHECK, source: new FakeSource(), target })).close();
    expect(locked).toBe(false);
  });

  it('report collects the source\'s requirements; a failed preflight under enforce is one step error', async () => {
    const source = new FakeSource();
    (source as ChangeSource).check = async () => [{ name: 'binlog_format', ok: true, value: 'ROW', fix: '', severity: 'error', code: ErrorCode.SOURCE_SETTING }];
    const s = await openSession(config, { ...CHECK, source, target: new FakeTarget() });
    expect(s.requirements.map((r) => r.name)).toEqual(['binlog_format']);

    const refusing = failing(new FakeSource(), 'preflight', new TributaryError(ErrorCode.SOURCE_SETTING, 'binlog_format is MIXED'));
    const { failures, onStepError } = collect();
    const t = await openSession(config, { ...SYNC, source: refusing, target: new FakeTarget(), onStepError });
    expect(failures).toEqual([['requirements', 'binlog_format is MIXED', { side: 'source' }]]);
    // The rest still ran: tables and checkpoint.
    expect(t.names).toEqual(['t']);
  });

  it('createSession builds the sides without connecting them', async () => {
    const source = new FakeSource();
    let connected = false;
    source.connect = async () => void (connected = true);
    const s = await createSession(config, { ...SYNC, source, target: new FakeTarget() });
    expect(connected).toBe(false);
    expect(s.names).toEqual([]);
    await s.open();
    expect(connected).toBe(true);
  });

  it('createSession prepares the source\'s stream as it builds it when a stream follows (a sync), and not otherwise', async () => {
    const streaming = new FakeSource();
    let connected = false;
    streaming.connect = async () => void (connected = true);
    const s = await createSession(config, { ...SYNC, source: streaming, target: new FakeTarget(), prepareStream: true });
    // Before anything connects: the decoding thread loads beside the rest of the start.
    expect(streaming.prepared).toBe(1);
    expect(connected).toBe(false);
    await s.close();

    const copyOnly = new FakeSource();
    await (await createSession(config, { ...SYNC, source: copyOnly, target: new FakeTarget() })).close();
    expect(copyOnly.prepared).toBe(0);
  });
});
