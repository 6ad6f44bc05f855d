import type { TableSchema } from '../../core/schema.js';
import { tableSelected } from '../../config/tables.js';
import { serveEvents } from '../../stream/thread.js';
import { streamBinlog, type BinlogOptions } from './stream.js';

/**
 * The binlog decoding thread's module (stream-thread.ts starts it): streams the binlog with
 * streamBinlog, as the main thread would, and hands the events over. What cannot cross a thread
 * (functions) is rebuilt here: the table selection from its patterns, `describe` as a call back to
 * the main thread's source, the logger as one whose lines go to the main thread.
 */
export interface BinlogThreadData extends Omit<BinlogOptions, 'logger' | 'selects' | 'describe'> {
  /** --tables patterns (config/tables.ts): the selection `selects` answers from. */
  readonly selection: readonly string[];
  /** Whether the main thread answers 'describe' calls (BinlogOptions.describe). */
  readonly describes: boolean;
}

await serveEvents<BinlogThreadData>(({ data, signal, call, logger }) => {
  const { selection, describes, ...rest } = data;
  return streamBinlog(
    {
      ...rest,
      selects: (name) => tableSelected(name, selection),
      ...(describes ? { describe: async (name: string) => (await call('describe', name)) as TableSchema | undefined } : {}),
      logger,
    },
    signal,
  );
});
