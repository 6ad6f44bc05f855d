import { Worker, parentPort, type MessagePort } from 'node:worker_threads';
import type { StreamEvent } from '../core/change.js';
import { ErrorCode, TributaryError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { decodeEvent, Decoder, encodeEvent, Encoder } from './event-codec.js';
import { RUN_EVENTS } from './queue.js';

/**
 * A change stream decoded in a worker thread. Decoding a replication log (the binlog's row events
 * above all) costs as much CPU as applying it; in a thread of its own it runs on the other core
 * while the main thread applies, and its garbage is collected in the thread's own heap.
 *
 * The worker runs a producer (`serveEvents`) and hands its events over in batches encoded with the
 * event codec (exact, every canonical value kept), as transferred ArrayBuffers: nothing is copied
 * between the heaps but the batch's bytes. `threadEvents` yields them on the main thread in order.
 *
 * What must hold:
 * - Order and completeness: the events come out in the producer's order, none twice, none left out;
 *   the events before a failure are all handed out, then the failure is thrown (as a TributaryError
 *   with the producer's code and `fatal`, or an Error with the driver's `code`), nothing after it.
 * - Bounded memory: the worker stops pulling from its producer while more than `maxInflightBytes`
 *   of batches wait for the main thread (the producer's own bound then pauses its source); a batch
 *   counts until the consumer has taken all its events.
 * - Cancelling: when the consumer stops (return, throw, or the signal), the producer's signal is
 *   aborted, the worker ends, and a worker that does not end within `stopTimeoutMs` is terminated.
 * - Calls back: the producer may call the main thread's `calls` (e.g. describing a table from the
 *   catalogue through the source's own connections); its log lines go to the main thread's logger.
 * - Prepared threads: `prepareThread` starts a worker before its stream is wanted (its isolate made
 *   and its modules loaded, ~0.2 s for the binlog's), idle until threadEvents takes it; a worker
 *   learns what to produce only from the `init` message, so a prepared one and a fresh one behave
 *   alike. A prepared worker keeps nothing alive and is terminated by its `dispose()`.
 */

/** The worker's young generation (see threadEvents). */
const YOUNG_GENERATION_MB = 16;

/** A batch is handed over once it holds this many bytes, or when the producer has nothing ready. */
const BATCH_BYTES = 256 * 1024;

interface SerializedError {
  readonly tributary: boolean;
  readonly name: string;
  readonly message: string;
  readonly code?: string | number;
  readonly fatal?: boolean;
  readonly errno?: number;
  readonly sqlState?: string;
  readonly stack?: string;
  readonly cause?: SerializedError;
}

type FromWorker =
  | { readonly t: 'events'; readonly buf: ArrayBuffer; readonly count: number }
  | { readonly t: 'log'; readonly level: LogLevel; readonly obj: unknown; readonly msg: string }
  | { readonly t: 'call'; readonly id: number; readonly name: string; readonly args: unknown[] }
  | { readonly t: 'end' }
  | { readonly t: 'error'; readonly error: SerializedError };

type ToWorker =
  | { readonly t: 'init'; readonly data: unknown; readonly level: string; readonly maxInflight: number }
  | { readonly t: 'ack'; readonly bytes: number }
  | { readonly t: 'reply'; readonly id: number; readonly value?: unknown; readonly error?: SerializedError }
  | { readonly t: 'stop' };

type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';
const LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];

/** What the worker's producer is given. */
export interface ProducerContext<D> {
  /** The `data` passed to threadEvents (structured-cloned). */
  readonly data: D;
  /** Aborted when the main thread's consumer stops. */
  readonly signal: AbortSignal;
  /** Calls the main thread's `calls[name](...args)`; its result comes back structured-cloned. */
  readonly call: (name: string, ...args: unknown[]) => Promise<unknown>;
  /** Logs through the main thread's logger (levels below its level are dropped in the worker). */
  readonly logger: Logger;
}

export interface ThreadEventsOptions<D> {
  /** The worker's module (it calls serveEvents). A `.ts` module is run through tsx (tests, `npm run dev`). */
  readonly module: URL;
  readonly data: D;
  /** Functions the producer may call on the main thread. */
  readonly calls?: Readonly<Record<string, (...args: never[]) => Promise<unknown>>>;
  readonly logger: Logger;
  /** Bytes of batches that may wait for the consumer before the worker stops pulling (default 4 MiB). */
  readonly maxInflightBytes?: number;
  /** How long a stopping worker may take to end before it is terminated (default 5 s). */
  readonly stopTimeoutMs?: number;
  /** What the worker decodes, for messages (e.g. "binlog decoding"). */
  readonly what: string;
  /** A worker prepareThread started for this module: taken if still alive, else disposed and a fresh one started. */
  readonly prepared?: PreparedThread;
}

/** A worker started ahead of its stream (prepareThread), for threadEvents to take. */
export interface PreparedThread {
  readonly module: URL;
  /** Terminates the worker unless threadEvents took it; idempotent. */
  dispose(): void;
}

interface Spare extends PreparedThread {
  readonly worker: Worker;
  /** Hands the worker over, once: undefined when it was taken or disposed, or exited or failed while it waited. */
  take(): Worker | undefined;
}

/** A worker for `module`, started and loading its modules, waiting for its `init` message. */
function spawn(module: URL): Worker {
  // A TypeScript module (tests, `npm run dev`) is loaded through tsx, registered in the thread
  // itself: a worker does not inherit the main thread's loader hooks, nor take `--import` from execArgv.
  const ts = module.pathname.endsWith('.ts');
  return new Worker(ts ? TS_BOOTSTRAP : module, {
    ...(ts ? { eval: true, workerData: { tsModule: module.href, tsx: import.meta.resolve('tsx/esm/api') } } : {}),
    // A decoder allocates fast and keeps little: V8's default young generation added ~15 MB of
    // peak RSS for no speed (bench/stream.ts, 1M changes: 258–264 MB against 244–245 MB at 16 MB,
    // 60–62k changes/s either way; 24 MB alike; 12 MB cost CPU).
    resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB },
  });
}

/**
 * Starts a worker for `module` now, for the next threadEvents given it: a stream expected soon (a
 * standby's) then starts without loading its modules. The worker waits idle and keeps the process
 * from exiting no more than a timer that was unref'd would; `dispose()` ends it when no stream came.
 */
export function prepareThread(module: URL): PreparedThread {
  const worker = spawn(module);
  worker.unref();
  let dead = false;
  let taken = false;
  const died = () => (dead = true);
  worker.on('exit', died);
  worker.on('error', died);
  const spare: Spare = {
    module,
    worker,
    take() {
      if (taken || dead) return undefined;
      taken = true;
      worker.off('exit', died);
      worker.off('error', died);
      worker.ref();
      return worker;
    },
    dispose() {
      if (taken) return;
      taken = true;
      void worker.terminate();
    },
  };
  return spare;
}

/** The main thread's side: starts the worker (or takes `prepared`) and yields its events (see the contract above). */
export async function* threadEvents<D>(opts: ThreadEventsOptions<D>, signal: AbortSignal): AsyncGenerator<readonly StreamEvent[]> {
  const maxInflight = opts.maxInflightBytes ?? 4 * 1024 * 1024;
  const level = opts.logger.level;
  const prepared = opts.prepared as Spare | undefined;
  const warm = prepared && prepared.module.href === opts.module.href ? prepared.take() : undefined;
  prepared?.dispose();
  const worker = warm ?? spawn(opts.module);
  if (warm) opts.logger.info({ thread: opts.what }, 'the decoding thread was started ahead: the stream starts without loading it');
  const batches: { buf: Buffer; count: number }[] = [];
  let ended = false;
  let failure: Error | undefined;
  let exited = false;
  let wake: (() => void) | undefined;
  let finish: () => void = () => undefined;
  // Resolves (false) once the worker said its stream ended or failed, or exited.
  const finished = new Promise<boolean>((resolve) => (finish = () => resolve(false)));
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const post = (m: ToWorker) => {
    if (!exited) worker.postMessage(m);
  };
  worker.on('message', (m: FromWorker) => {
    switch (m.t) {
      case 'events':
        batches.push({ buf: Buffer.from(m.buf), count: m.count });
        break;
      case 'log':
        logTo(opts.logger, m.level, m.obj, m.msg);
        return;
      case 'call': {
        const fn = opts.calls?.[m.name] as ((...args: unknown[]) => Promise<unknown>) | undefined;
        void (async () => {
          try {
            if (!fn) throw new TributaryError(ErrorCode.INTERNAL, `the ${opts.what} thread called '${m.name}', which the main thread does not offer (a bug: please report it)`);
            post({ t: 'reply', id: m.id, value: await fn(...m.args) });
          } catch (err) {
            post({ t: 'reply', id: m.id, error: serializeError(err) });
          }
        })();
        return;
      }
      case 'end':
        ended = true;
        finish();
        break;
      case 'error':
        failure ??= deserializeError(m.error);
        finish();
        break;
    }
    notify();
  });
  worker.on('error', (err: Error) => {
    failure ??= new TributaryError(ErrorCode.STREAM_FAILED, `the ${opts.what} thread failed: ${err.message}; the stream resumes from its checkpoint`, { fatal: false, cause: err });
    notify();
  });
  worker.on('exit', (code) => {
    exited = true;
    finish();
    if (!ended) failure ??= new TributaryError(ErrorCode.STREAM_FAILED, `the ${opts.what} thread exited (code ${code}) before its stream ended; the stream resumes from its checkpoint`, { fatal: false });
    notify();
  });
  // Stopping the worker: asked once, by the consumer's end or by the signal (a consumer that stops
  // pulling and aborts must not leave the thread, and the process, running).
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      post({ t: 'stop' });
      // The worker has finished once its producer stopped (its connections closed) and said so; one
      // that does not within the timeout is terminated all the same.
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), opts.stopTimeoutMs ?? 5000)));
      if (await Promise.race([finished, late])) opts.logger.warn({ thread: opts.what }, 'the decoding thread did not stop in time: terminated');
      clearTimeout(timer);
      await worker.terminate();
    })());
  const onAbort = () => {
    notify();
    void stop();
  };
  signal.addEventListener('abort', onAbort);
  post({ t: 'init', data: opts.data, level, maxInflight });
  try {
    for (;;) {
      if (signal.aborted) return;
      const batch = batches.shift();
      if (batch) {
        // Decoded a run at a time (ChangeLog.stream), each run as the consumer asks for it.
        const r = new Decoder(batch.buf, 0);
        for (let i = 0; i < batch.count; ) {
          const run: StreamEvent[] = [];
          for (const end = Math.min(batch.count, i + RUN_EVENTS); i < end; i++) run.push(decodeEvent(r));
          yield run;
          if (signal.aborted) return;
        }
        r.end();
        post({ t: 'ack', bytes: batch.buf.length });
        continue;
      }
      if (failure) throw failure;
      if (ended) return;
      await new Promise<void>((resolve) => (wake = resolve));
    }
  } finally {
    signal.removeEventListener('abort', onAbort);
    await stop();
  }
}

/**
 * The worker's side: runs `produce` and hands its events to the main thread until it ends, fails
 * or the main thread stops it. Call it once, from the worker module's top level.
 */
export async function serveEvents<D>(produce: (ctx: ProducerContext<D>) => AsyncIterable<readonly StreamEvent[]>): Promise<void> {
  const port = parentPort as MessagePort | null;
  if (!port) throw new TributaryError(ErrorCode.INTERNAL, 'serveEvents() runs in a worker thread only');
  let init: { data: D; level: string; maxInflight: number } = { data: undefined as D, level: 'silent', maxInflight: Infinity };
  let started: () => void = () => undefined;
  const initialised = new Promise<void>((resolve) => (started = resolve));
  const ac = new AbortController();
  let inflight = 0;
  let drained: (() => void) | undefined;
  let nextCall = 0;
  const replies = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  port.on('message', (m: ToWorker) => {
    if (m.t === 'init') {
      init = { data: m.data as D, level: m.level, maxInflight: m.maxInflight };
      started();
    } else if (m.t === 'ack') {
      inflight -= m.bytes;
      if (inflight <= init.maxInflight / 2 && drained) {
        const d = drained;
        drained = undefined;
        d();
      }
    } else if (m.t === 'reply') {
      const r = replies.get(m.id);
      replies.delete(m.id);
      if (m.error) r?.reject(deserializeError(m.error));
      else r?.resolve(m.value);
    } else if (m.t === 'stop') {
      ac.abort();
      drained?.();
      started();
    }
  });
  const call = (name: string, ...args: unknown[]) =>
    new Promise<unknown>((resolve, reject) => {
      const id = nextCall++;
      replies.set(id, { resolve, reject });
      port.postMessage({ t: 'call', id, name, args } satisfies FromWorker);
    });

  const w = new Encoder(BATCH_BYTES + 64 * 1024);
  let count = 0;
  let scheduled: NodeJS.Immediate | undefined;
  const send = () => {
    if (scheduled) clearImmediate(scheduled);
    scheduled = undefined;
    if (count === 0) return;
    const bytes = w.done();
    // A fresh ArrayBuffer of its own (never a pooled one) is transferred: no copy into the main heap.
    const buf = new ArrayBuffer(bytes.length);
    bytes.copy(new Uint8Array(buf));
    // (counted before the transfer detaches it)
    inflight += buf.byteLength;
    port.postMessage({ t: 'events', buf, count } satisfies FromWorker, [buf]);
    w.reset(0);
    // A huge event (a row of large BLOBs) grew the buffer: it is let go.
    w.trim();
    count = 0;
  };
  // What to produce comes with the first message (a prepared worker waits here, its modules loaded).
  await initialised;
  if (ac.signal.aborted) {
    port.postMessage({ t: 'end' } satisfies FromWorker);
    port.close();
    return;
  }
  try {
    for await (const run of produce({ data: init.data, signal: ac.signal, call, logger: workerLogger(port, init.level) })) {
      for (const ev of run) {
        encodeEvent(w, ev);
        count++;
        if (w.done().length >= BATCH_BYTES) send();
      }
      // Nothing more ready now (the producer awaits its source): hand over what there is.
      if (count > 0) scheduled ??= setImmediate(send);
      if (inflight > init.maxInflight && !ac.signal.aborted) await new Promise<void>((resolve) => (drained = resolve));
    }
    send();
    port.postMessage({ t: 'end' } satisfies FromWorker);
  } catch (err) {
    send();
    port.postMessage({ t: 'error', error: serializeError(err) } satisfies FromWorker);
  } finally {
    port.close();
  }
}

/** The thread's code for a TypeScript module: registers tsx's loader, then imports the module. */
const TS_BOOTSTRAP = `(async () => {
  const { workerData } = await import('node:worker_threads');
  const { register } = await import(workerData.tsx);
  register();
  await import(workerData.tsModule);
})()`;

function logTo(logger: Logger, level: LogLevel, obj: unknown, msg: string): void {
  (logger[level] as (o: unknown, m: string) => void).call(logger, obj, msg);
}

/** A Logger whose lines go to the main thread's logger; bindings of child() travel with each line. */
function workerLogger(port: MessagePort, level: string, bindings: Record<string, unknown> = {}): Logger {
  // pino's levels; 'silent' (or any other) drops every line.
  const threshold = LEVELS.includes(level as LogLevel) ? LEVELS.indexOf(level as LogLevel) : LEVELS.length;
  const logger: Record<string, unknown> = { level };
  for (const l of LEVELS) {
    logger[l] = (a: unknown, b?: string) => {
      if (LEVELS.indexOf(l) < threshold) return;
      const obj = typeof a === 'string' ? bindings : { ...bindings, ...(a as object) };
      const msg = typeof a === 'string' ? a : (b ?? '');
      try {
        port.postMessage({ t: 'log', level: l, obj, msg } satisfies FromWorker);
      } catch {
        port.postMessage({ t: 'log', level: l, obj: JSON.parse(JSON.stringify(obj, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))) as unknown, msg } satisfies FromWorker);
      }
    };
  }
  logger.child = (more: Record<string, unknown>) => workerLogger(port, level, { ...bindings, ...more });
  logger.isLevelEnabled = (l: string) => LEVELS.indexOf(l as LogLevel) >= threshold;
  return logger as unknown as Logger;
}

function serializeError(err: unknown): SerializedError {
  if (!(err instanceof Error)) return { tributary: false, name: 'Error', message: String(err) };
  const e = err as Error & { code?: unknown; fatal?: unknown; errno?: unknown; sqlState?: unknown };
  return {
    tributary: err instanceof TributaryError,
    name: err.name,
    message: err.message,
    ...(typeof e.code === 'string' || typeof e.code === 'number' ? { code: e.code } : {}),
    ...(typeof e.fatal === 'boolean' ? { fatal: e.fatal } : {}),
    ...(typeof e.errno === 'number' ? { errno: e.errno } : {}),
    ...(typeof e.sqlState === 'string' ? { sqlState: e.sqlState } : {}),
    ...(err.stack !== undefined ? { stack: err.stack } : {}),
    ...(err.cause !== undefined ? { cause: serializeError(err.cause) } : {}),
  };
}

/** The error as the producer threw it: a TributaryError keeps its code and `fatal`, a driver's error its `code`. */
function deserializeError(s: SerializedError): Error {
  const cause = s.cause ? deserializeError(s.cause) : undefined;
  if (s.tributary) {
    const err = new TributaryError(s.code as ErrorCode, s.message, { fatal: s.fatal ?? true, ...(cause ? { cause } : {}) });
    if (s.name !== 'TributaryError') err.name = s.name;
    if (s.stack !== undefined) err.stack = s.stack;
    return err;
  }
  const err = new Error(s.message, cause ? { cause } : undefined) as Error & Record<string, unknown>;
  err.name = s.name;
  if (s.code !== undefined) err.code = s.code;
  if (s.fatal !== undefined) err.fatal = s.fatal;
  if (s.errno !== undefined) err.errno = s.errno;
  if (s.sqlState !== undefined) err.sqlState = s.sqlState;
  if (s.stack !== undefined) err.stack = s.stack;
  return err;
}
