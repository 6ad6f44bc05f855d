/**
 * The two kinds of EncodedChunk (core/source.ts): one a source rendered into memory, and one it
 * streams from the server while the target loads it, so a chunk of any size crosses Node in pieces.
 */
import { Readable } from 'node:stream';
import type { EncodedChunk } from './source.js';

/** A chunk rendered into one buffer: `open()` replays it. */
export function bufferedChunk(format: string, data: Buffer, rows: number): EncodedChunk {
  return { format, open: () => Readable.from([data]), rows: () => rows, heldBytes: data.length };
}

/** What a streamed read yields: the chunk's bytes in pieces, and its row count once it has ended. */
export interface ChunkRead {
  readonly pieces: AsyncIterable<Buffer>;
  /** Called once `pieces` has ended: the rows the read produced. */
  rows(): number;
}

/**
 * A chunk read afresh by `read()` at every `open()`, piece by piece as the consumer pulls (the
 * consumer's pace is the read's: backpressure reaches the source's socket).
 */
export function streamedChunk(format: string, read: () => ChunkRead): EncodedChunk {
  let rows = 0;
  return {
    format,
    open: () => {
      const r = read();
      return Readable.from(
        (async function* () {
          yield* r.pieces;
          rows = r.rows();
        })(),
        { objectMode: false },
      );
    },
    rows: () => rows,
    heldBytes: 0,
  };
}

/** Everything a stream yields, as one buffer (for a target that loads a chunk whole). */
export async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(part as Buffer);
  return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
}
