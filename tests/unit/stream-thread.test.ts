import { describe, expect, it } from 'vitest';
import type { StreamEvent } from '../../src/core/change.js';
import { ErrorCode, TributaryError } from '../../src/core/errors.js';
import type { Logger } from '../../src/core/logger.js';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Worker } from 'node:worker_threads';
import { prepareThread, threadEvents, type PreparedThread } from '../../src/stream/thread.js';
import { fixtureEvents } from './fixtures/thread-events.js';

const MODULE = new URL('./fixtures/thread-producer.ts', import.meta.url);

interface Line {
  level: string;
  obj: unknown;
  msg: string;
}

function recordingLogger(level = 'info'): { logger: Logger; lines: Line[] } {
  const lines: Line[] = [];
  const logger: Record<string, unknown> = { level };
  for (const l of ['trace', 'debug', 'info', 'warn', 'error', 'fatal']) logger[l] = (obj: unknown, msg: string) => lines.push({ level: l, obj, msg });
  return { logger: logger as unknown as Logger, lines };
}

async function collect(it: AsyncIterable<readonly StreamEvent[]>): Promise<{ events: StreamEvent[]; error?: unknown }> {
  const events: StreamEvent[] = [];
  try {
    for await (const run of it) {
      expect(run.length).toBeGreaterThan(0);
      events.push(...run);
    }
    return { events };
  } catch (error) {
    return { events, error };
  }
}

describe('a change stream decoded in a worker thread', () => {
  it('hands over every event in order, exactly, across many batches', async () => {
    const { logger } = recordingLogger();
    const count = 30_000; // ~2 MB of events: several 256 KiB batches, beyond the in-flight bound
    const { events, error } = await collect(threadEvents({ module: MODULE, data: { mode: 'events', count }, logger, maxInflightBytes: 512 * 1024, what: 'test' }, new AbortController().signal));
    expect(error).toBeUndefined();
    expect(events).toStrictEqual([...fixtureEvents(count)]);
  });

  it('ends with the producer’s own error after every event before it: code and fatal kept', async () => {
    const { logger } = recordingLogger();
    const { events, error } = await collect(threadEvents({ module: MODULE, data: { mode: 'fail-tributary' }, logger, what: 'test' }, new AbortController().signal));
    expect(events).toStrictEqual([...fixtureEvents(5)]);
    expect(error).toBeInstanceOf(TributaryError);
    expect(error).toMatchObject({ code: ErrorCode.POSITION_LOST, fatal: true, message: 'binlog.000007 was purged; fix: re-copy' });
  });

  it('a driver error keeps its code and errno (the source names it as a connection error)', async () => {
    const { logger } = recordingLogger();
    const { events, error } = await collect(threadEvents({ module: MODULE, data: { mode: 'fail-driver' }, logger, what: 'test' }, new AbortController().signal));
    expect(events).toHaveLength([...fixtureEvents(3)].length);
    expect(error).not.toBeInstanceOf(TributaryError);
    expect(error).toMatchObject({ message: 'read ECONNRESET', code: 'ECONNRESET', errno: -104 });
  });

  it('the producer calls the main thread and logs through its logger, below-level lines dropped', async () => {
    const { logger, lines } = recordingLogger('info');
    const describe = async (name: string) => {
      if (name === 'missing') throw new TributaryError(ErrorCode.TABLE_UNSUPPORTED, 'no table missing');
      return { name, columns: [{ name: 'id' }], big: 9007199254740993n };
    };
    const { events, error } = await collect(threadEvents({ module: MODULE, data: { mode: 'describe' }, calls: { describe }, logger, what: 'test' }, new AbortController().signal));
    expect(error).toBeUndefined();
    expect(events[0]).toMatchObject({ type: 'heartbeat' });
    expect(JSON.parse((events[0] as { position: string }).position)).toEqual({ name: 'orders', columns: [{ name: 'id' }], big: '9007199254740993n' });
    expect((events[1] as { position: string }).position).toBe(`${ErrorCode.TABLE_UNSUPPORTED}: no table missing`);
    expect(lines).toEqual([{ level: 'warn', obj: { table: 'orders', big: 12n }, msg: 'described' }]);
  });

  it('stops pulling from its producer while batches wait for the consumer, and stops it when the consumer stops', async () => {
    const { logger, lines } = recordingLogger();
    const gen = threadEvents({ module: MODULE, data: { mode: 'endless' }, logger, maxInflightBytes: 64 * 1024, what: 'test' }, new AbortController().signal);
    await gen.next();
    await new Promise((resolve) => setTimeout(resolve, 500));
    await gen.return(undefined);
    const stopped = lines.find((l) => l.msg === 'producer stopped');
    expect(stopped).toBeDefined();
    // One batch of ~256 KiB (~2,300 events of ~115 bytes) went out, the next filled, then it waited.
    const produced = (stopped?.obj as { produced: number }).produced;
    expect(produced).toBeGreaterThan(1000);
    expect(produced).toBeLessThan(6000);
  });

  it('the signal stops the stream too', async () => {
    const { logger, lines } = recordingLogger();
    const ac = new AbortController();
    const seen: StreamEvent[] = [];
    let runsAfterAbort = 0;
    for await (const run of threadEvents({ module: MODULE, data: { mode: 'endless' }, logger, what: 'test' }, ac.signal)) {
      if (ac.signal.aborted) runsAfterAbort++;
      seen.push(...run);
      if (seen.length >= 10) ac.abort();
    }
    // The run in whose course the signal aborted is the last.
    expect(seen.length).toBeGreaterThanOrEqual(10);
    expect(runsAfterAbort).toBe(0);
    expect(lines.some((l) => l.msg === 'producer stopped')).toBe(true);
  });

  it('a thread that dies is a retryable STREAM_FAILED after the events it handed over', async () => {
    const { logger } = recordingLogger();
    const { events, error } = await collect(threadEvents({ module: MODULE, data: { mode: 'crash' }, logger, what: 'test' }, new AbortController().signal));
    expect(events).toStrictEqual([...fixtureEvents(2)]);
    expect(error).toBeInstanceOf(TributaryError);
    expect(error).toMatchObject({ code: ErrorCode.STREAM_FAILED, fatal: false });
    expect((error as Error).message).toMatch(/the test thread failed: boom in the thread; the stream resumes from its checkpoint/);
  });

  it('a thread that does not stop in time is terminated', async () => {
    const { logger, lines } = recordingLogger();
    const gen = threadEvents({ module: MODULE, data: { mode: 'hang' }, logger, stopTimeoutMs: 200, what: 'test' }, new AbortController().signal);
    await gen.next();
    const t0 = Date.now();
    await gen.return(undefined);
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(lines.some((l) => l.level === 'warn' && /did not stop in time/.test(l.msg))).toBe(true);
  });

  describe('a thread prepared ahead (prepareThread)', () => {
    const workerOf = (p: PreparedThread) => (p as unknown as { worker: Worker }).worker;
    const exited = (w: Worker) => new Promise<number>((resolve) => w.once('exit', resolve));

    it('is taken by the stream: the same events, and the log says it was prepared', async () => {
      const { logger, lines } = recordingLogger('debug');
      const prepared = prepareThread(MODULE);
      const { events, error } = await collect(threadEvents({ module: MODULE, data: { mode: 'events', count: 500 }, logger, what: 'test', prepared }, new AbortController().signal));
      expect(error).toBeUndefined();
      expect(events).toStrictEqual([...fixtureEvents(500)]);
      expect(lines.some((l) => l.msg.includes('started ahead'))).toBe(true);
    });

    it('one that died or was disposed is replaced by a fresh thread', async () => {
      const dead = prepareThread(MODULE);
      const gone = exited(workerOf(dead));
      await workerOf(dead).terminate();
      await gone;
      const disposed = prepareThread(MODULE);
      disposed.dispose();
      for (const prepared of [dead, disposed]) {
        const { logger, lines } = recordingLogger('debug');
        const { events, error } = await collect(threadEvents({ module: MODULE, data: { mode: 'events', count: 50 }, logger, what: 'test', prepared }, new AbortController().signal));
        expect(error).toBeUndefined();
        expect(events).toStrictEqual([...fixtureEvents(50)]);
        expect(lines.some((l) => l.msg.includes('started ahead'))).toBe(false);
      }
    });

    it('dispose() ends one no stream took; one left alone keeps no process from exiting', async () => {
      const prepared = prepareThread(MODULE);
      const gone = exited(workerOf(prepared));
      prepared.dispose();
      await gone;
      // A process whose only work left is an untaken prepared thread exits by itself.
      const script = `import { prepareThread } from ${JSON.stringify(new URL('../../src/stream/thread.ts', import.meta.url).href)}; prepareThread(new URL(${JSON.stringify(MODULE.href)})); console.log('prepared');`;
      const out = await new Promise<string>((resolve, reject) =>
        execFile(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: fileURLToPath(new URL('../..', import.meta.url)), timeout: 30_000 }, (err, stdout) => (err ? reject(err) : resolve(stdout))),
      );
      expect(out.trim()).toBe('prepared');
    }, 40_000);
  });
});
