import pino from 'pino';
import { Convergence } from '../../src/copier/convergence.js';
import { Copier, type CopierOptions } from '../../src/copier/copier.js';
import type { ChangeSource } from '../../src/core/source.js';
import type { Target } from '../../src/core/target.js';
import { StreamApplier, type ApplierOptions } from '../../src/stream/applier.js';
import { TABLE } from './fakes.js';

/**
 * A copier of the fakes' TABLE over `source` and `target`: one thread, chunks of 10 rows that do
 * not adapt (chunkTimeMs is out of reach), nothing held; `over` replaces any option.
 */
export function copierOf(source: ChangeSource, target: Target, over: Partial<CopierOptions> = {}): Copier {
  return new Copier({
    source,
    target,
    tables: [TABLE],
    resume: new Map(),
    threads: 1,
    chunkTimeMs: 1_000_000,
    initialChunkSize: 10,
    chunkBytes: 1 << 20,
    convergence: new Convergence(),
    release: () => undefined,
    logger: pino({ level: 'silent' }),
    signal: new AbortController().signal,
    // A failed chunk fails the copy at once unless a test waits for a schema change.
    schemaChangeWaitMs: 0,
    ...over,
  });
}

/**
 * A stream applier of the fakes' TABLE over `source` and `target`, from position '0': batches that
 * commit only when the stream stops or the buffer is full (no size or interval is reached), a 1 MiB
 * buffer, nothing held; `over` replaces any option.
 */
export function applierOf(source: ChangeSource, target: Target, over: Partial<ApplierOptions> = {}): StreamApplier {
  return new StreamApplier({
    source,
    target,
    tables: [TABLE],
    from: '0',
    sourceId: 'fake-source',
    convergence: new Convergence(),
    batchSize: 1_000_000,
    flushIntervalMs: 10_000,
    bufferBytes: 1 << 20,
    logger: pino({ level: 'silent' }),
    ...over,
  });
}
