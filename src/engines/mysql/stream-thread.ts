import type { StreamEvent } from '../../core/change.js';
import type { TableSchema } from '../../core/schema.js';
import { prepareThread, threadEvents, type PreparedThread } from '../../stream/thread.js';
import type { BinlogOptions } from './stream.js';
import type { BinlogThreadData } from './stream-worker.js';

/** The decoding thread's module (stream-worker.ts, or its build). */
const WORKER = new URL(`./stream-worker.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`, import.meta.url);

/**
 * What the thread's own queue holds as decoded objects before it stops reading the binlog; the
 * batches in flight (encoded bytes, up to 4 MiB) hold the rest. Kept small, those objects are
 * encoded and let go young instead of being promoted while the applying thread catches up: 1 MiB
 * against 4 MiB (half the stream's buffer), alternating runs, MySQL → etcd 44.4k / 44.8k changes/s at
 * 9.9 / 9.4 CPU s and 212 MB against 43.1k / 43.6k at 10.5 / 10.1 CPU s and 226 MB; MySQL → MySQL
 * the same rate at 5 % less CPU (bench/README.md); 512 KiB gained nothing more.
 */
const THREAD_QUEUE_BYTES = 1024 * 1024;

/** The decoding thread, started ahead of its stream (ChangeLog.prepareStream): the next streamBinlogThreaded given it takes it. */
export function prepareBinlogThread(): PreparedThread {
  return prepareThread(WORKER);
}

/**
 * streamBinlog in a decoding thread of its own (stream-worker.ts): the same events, the same
 * errors, the same backpressure (the thread stops reading the binlog while its batches wait), with
 * zongji's decoding and its garbage off the main thread. `selection` is the --tables patterns
 * `opts.selects` answers from (a function cannot cross to the thread).
 */
export function streamBinlogThreaded(opts: BinlogOptions & { readonly selection: readonly string[]; readonly prepared?: PreparedThread }, signal: AbortSignal): AsyncGenerator<readonly StreamEvent[]> {
  const { logger, selects: _selects, describe, prepared, ...rest } = opts;
  // The thread's batches and streamBinlog's own queue share the stream's buffer.
  const half = Math.max(1024 * 1024, Math.floor(opts.maxBufferBytes / 2));
  const data: BinlogThreadData = { ...rest, maxBufferBytes: half, queueBytes: THREAD_QUEUE_BYTES, describes: describe !== undefined };
  const calls: Record<string, (name: string) => Promise<TableSchema | undefined>> = describe ? { describe } : {};
  return threadEvents(
    {
      module: WORKER,
      ...(prepared ? { prepared } : {}),
      data,
      calls,
      logger,
      // More batches waiting gained nothing measurable (bench/stream.ts: 2, 4 and 16 MiB alike).
      maxInflightBytes: Math.min(half, 4 * 1024 * 1024),
      what: 'binlog decoding',
    },
    signal,
  );
}
