import { ErrorCode, TributaryError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { StreamEvent } from '../core/change.js';
import type { TableSchema } from '../core/schema.js';
import type { ChangeSource } from '../core/source.js';
import { currentServer, lineageServers, readMeta, readTablesFile, writeReaderFile } from './meta.js';
import { RelayReader } from './reader.js';
import { listSegments, readHeader } from './segment.js';

/** Where a sync reads its stream from instead of the source's change log. */
export interface RelayChangeLogOptions {
  /** The relay directory (`tributary relay --relay-dir`). */
  readonly dir: string;
  /** The reader's id (the sync id): registered in the relay, so retention keeps what it has not acknowledged. */
  readonly id: string;
  /**
   * Whether the sync takes a table that a schema change brings into the relay's selection (the
   * sync's own --tables / --databases); absent: every table the relay holds.
   */
  readonly selects?: (name: string) => boolean;
  readonly logger?: Logger;
  /** How often an idle reader looks for new records (default 200 ms; the durable mark's fs.watch wakes it sooner). */
  readonly pollIntervalMs?: number;
  /** Acknowledgements are written to the reader file at most this often (default 1 s); the last one always is, when the stream ends. */
  readonly acknowledgeIntervalMs?: number;
}

/**
 * A ChangeSource whose change log is a relay (issue 16): `stream`, `checkPosition`, `acknowledge`
 * and `retainedBytes` read and move the relay's reader; everything else (the copy's reads,
 * identity, currentPosition, headPosition, comparePositions, describePosition) is the real
 * source's, which the copy still reads. Engine-neutral: positions are the source's opaque strings,
 * compared by its comparePositions.
 *
 * The stream yields the relay's transactions after `from`, keeping only the events of `tables`
 * (and of tables a schema change brings in that `selects` takes), in the same shape as the
 * source's own stream: a transaction without any kept change still yields its `commit`, so the
 * sync's position moves on. A `from` the relay has not reached yet is waited for (logged); one
 * before the relay's oldest segment is POSITION_LOST naming the directory; a reader the relay
 * marked lost is RELAY_READER_LOST.
 */
export function relayChangeLog(source: ChangeSource, opts: RelayChangeLogOptions): ChangeSource {
  const compare = (a: string, b: string) => source.comparePositions(a, b);
  let acked: string | undefined;
  let ackPending: string | undefined;
  let ackWrittenAt = 0;
  let ackChain: Promise<void> = Promise.resolve();
  const ackInterval = opts.acknowledgeIntervalMs ?? 1000;

  const writeAck = (position: string): Promise<void> => {
    ackChain = ackChain.then(async () => {
      if (acked !== undefined && compare(position, acked) <= 0) return;
      await lostCheck(position);
      await writeReaderFile(opts.dir, opts.id, position);
      acked = position;
      ackWrittenAt = Date.now();
    });
    return ackChain;
  };

  /** POSITION_LOST when the relay began after `position` (or retention deleted what follows it). */
  const assertHeld = async (position: string): Promise<void> => {
    const seqs = await listSegments(opts.dir);
    if (seqs.length === 0) return;
    const { header } = await readHeader(opts.dir, seqs[0]!);
    if (compare(header.startPosition, position) > 0) {
      throw new TributaryError(
        ErrorCode.POSITION_LOST,
        `relay ${opts.dir} does not hold position ${source.describePosition(position)}: its oldest segment starts at ${source.describePosition(header.startPosition)}; fix: resync with --force (a new initial copy, which starts at the relay's head), or start the relay earlier than the sync (a relay only holds what came after it began)`,
      );
    }
  };

  /** When this process registered the reader: a lost mark older than it is of a run before (see lostCheck). */
  let registeredAt: number | undefined;

  /**
   * RELAY_READER_LOST when the relay marked this reader lost and `position` is not a new start: a
   * mark set while this process reads, or a position at or before the one it was lost at. A reader
   * lost in an earlier run that starts anew (a new initial copy, after --force) past that position
   * reads on, and the relay forgets the mark once it sees its reader file move past it.
   */
  const lostCheck = async (position: string): Promise<void> => {
    const lost = (await readMeta(opts.dir))?.lostReaders[opts.id];
    if (!lost) return;
    const newStart = registeredAt !== undefined ? lost.at < registeredAt : true;
    if (newStart && compare(position, lost.position) > 0) return;
    throw new TributaryError(
      ErrorCode.RELAY_READER_LOST,
      `relay reader ${opts.id} in ${opts.dir} was marked lost at position ${source.describePosition(lost.position)} (${lost.reason}), so the relay no longer holds changes this sync needs; fix: resync with --force (a new initial copy; the relay forgets the mark once the new sync reads past it), and raise the relay's --relay-max-mb so it does not happen again`,
    );
  };

  const relayed: Partial<ChangeSource> = {
    async checkPosition(position: string): Promise<void> {
      await lostCheck(position);
      await assertHeld(position);
    },

    async retainedBytes(): Promise<number | undefined> {
      return undefined;
    },

    async acknowledge(position: string): Promise<void> {
      ackPending = position;
      if (Date.now() - ackWrittenAt < ackInterval) return;
      ackPending = undefined;
      await writeAck(position);
    },

    stream(from: string, tables: readonly TableSchema[], signal: AbortSignal): AsyncIterable<readonly StreamEvent[]> {
      return streamRelay(from, tables, signal);
    },

    // The stream reads the relay's files: the source's own stream (a decoding thread) is never started.
    prepareStream(): void {},
  };

  /** Each record's kept events as one run (a record is read whole: a transaction, or a heartbeat). */
  async function* streamRelay(from: string, tables: readonly TableSchema[], signal: AbortSignal): AsyncIterable<readonly StreamEvent[]> {
    await assertHeld(from);
    const meta = await readMeta(opts.dir);
    if (!meta) opts.logger?.info({ relayDir: opts.dir }, `relay ${opts.dir} has not started yet: waiting for it (tributary relay --relay-dir ${opts.dir})`);
    else if (compare(meta.durable.position, from) < 0) {
      opts.logger?.info(
        { relayDir: opts.dir, relayPosition: source.describePosition(meta.durable.position), from: source.describePosition(from) },
        `relay ${opts.dir} is at ${source.describePosition(meta.durable.position)}, before the sync's start ${source.describePosition(from)}: waiting for it to catch up`,
      );
    }
    await lostCheck(from);
    if (meta) {
      // The sync's own source (its copy, checksums) must be a server of the relay's lineage: one
      // the relay streamed from, or (the sync moved before the relay did) one whose GTID history
      // holds the sync's position, as the source itself decides (failover by GTID).
      const identity = await source.identity();
      if (!lineageServers(meta).has(identity.id)) {
        const other = () => new TributaryError(ErrorCode.SOURCE_CHANGED, `relay ${opts.dir} holds the changes of source ${currentServer(meta)}, but this sync's source is ${identity.id}; fix: give --relay-dir the directory of the relay of this sync's source`);
        if (!source.capabilities.lineagePositions) throw other();
        await source.checkPosition(from, { readOnly: true, otherServer: currentServer(meta) });
      }
    }
    const kept = await readTablesFile(opts.dir);
    const missing = kept === undefined ? [] : tables.map((t) => t.name).filter((n) => !kept.includes(n));
    if (missing.length) {
      throw new TributaryError(
        ErrorCode.CONFIG_INVALID,
        `relay ${opts.dir} does not keep table${missing.length > 1 ? 's' : ''} ${missing.join(', ')}, which this sync takes (the relay keeps ${kept!.slice(0, 20).join(', ') || 'none'}${kept!.length > 20 ? ', …' : ''}); fix: start the relay with --tables/--databases that take ${missing.length > 1 ? 'them' : 'it'} (names as the sync's: with --databases both name tables db.table), or leave ${missing.length > 1 ? 'them' : 'it'} out of the sync`,
      );
    }
    // Registered here, not by RelayReader (which refuses any id marked lost, also one starting anew).
    registeredAt = Date.now();
    await writeReaderFile(opts.dir, opts.id, from, registeredAt);
    acked = from;
    const r = await RelayReader.open({ dir: opts.dir, from, compare, signal, ...(opts.pollIntervalMs !== undefined ? { pollIntervalMs: opts.pollIntervalMs } : {}) });
    const synced = new Set(tables.map((t) => t.name));
    const takes = (name: string) => synced.has(name);
    try {
      for await (const txn of r) {
        let begun = false;
        const out: StreamEvent[] = [];
        for (const ev of txn.events) {
          switch (ev.type) {
            case 'begin':
              break;
            case 'change':
              if (!takes(ev.change.table)) break;
              if (!begun) {
                begun = true;
                out.push({ type: 'begin' });
              }
              out.push(ev);
              break;
            case 'truncate':
              if (takes(ev.table)) out.push(ev);
              break;
            case 'ddl': {
              const after = [...(ev.after?.keys() ?? [])];
              const touches = ev.tables.some(takes) || after.some(takes);
              const enters = after.filter((n) => !synced.has(n) && (opts.selects?.(n) ?? true));
              if (!touches && enters.length === 0) break;
              for (const n of after) if (synced.has(n) || enters.includes(n)) synced.add(n);
              out.push(ev);
              break;
            }
            case 'commit':
              out.push(ev);
              begun = false;
              break;
            default:
              out.push(ev);
          }
        }
        if (out.length) yield out;
      }
    } finally {
      const last = ackPending;
      ackPending = undefined;
      if (last !== undefined) await writeAck(last).catch(() => undefined);
    }
  }

  return new Proxy(source, {
    get(target, prop, receiver) {
      if (typeof prop === 'string' && prop in relayed) return (relayed as Record<string, unknown>)[prop];
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}
