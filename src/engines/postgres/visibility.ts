import type pg from 'pg';
import type { Logger } from 'pino';
import { AbortedError, ErrorCode, TributaryError } from '../../core/errors.js';
import { sleep } from '../../runner/retry.js';
import { APPLICATION_NAME } from './connection.js';

type Queryable = Pick<pg.Pool | pg.Client, 'query'>;

/**
 * Whether transaction `$1` (a 32-bit xid, as pgoutput's Begin message gives it) has ended for a
 * snapshot taken now. The xid is widened to 64 bits with the epoch of the snapshot's xmax (the
 * previous epoch when its low half is not below xmax's: it was assigned before xmax). The txid_*
 * functions exist from PostgreSQL 10 on (13 adds pg_* names for them).
 */
const VISIBLE_SQL = `SELECT txid_visible_in_snapshot(
    ((txid_snapshot_xmax(s) >> 32) - CASE WHEN $1::int8 >= (txid_snapshot_xmax(s) & 4294967295) THEN 1 ELSE 0 END) * 4294967296 + $1::int8, s)::int AS visible
  FROM txid_current_snapshot() AS s`;

/** How long a transaction the stream received may stay invisible before the stream fails (and is retried from its checkpoint). */
const VISIBLE_TIMEOUT_MS = 60_000;
/** When a warning says why the stream waits. */
const VISIBLE_WARN_MS = 2_000;

/** What a read made for a transaction's message needs it visible for: said in the wait's warning and error. */
export type VisibleFor = 'describe' | 'read-row';

const NEEDED: Readonly<Record<VisibleFor, { readonly error: string; readonly warning: string }>> = {
  describe: { error: 'its schema change cannot be described before it is', warning: 'its schema change is described once it is' },
  'read-row': { error: 'the unchanged TOAST values of a row it moved to another key cannot be read from the source before it is', warning: 'the unchanged TOAST values of a row it moved to another key are read once it is' },
};

/**
 * Resolves once transaction `xid` is visible to reads on `conn` (the catalogue's, or a row's).
 * The server sends a transaction to a logical replication client as soon as its commit record is
 * flushed, which may be before the committing session has ended it for other sessions' snapshots
 * (microseconds usually, longer on a loaded server; as long as a synchronous standby takes to
 * confirm it, when there is one): a read made for one of its messages in that window sees the
 * source as it was before it (a catalogue without the statement's change, a row not there yet).
 * Polls with growing waits (1 ms, doubling to 200 ms); after VISIBLE_TIMEOUT_MS fails with a
 * retryable STREAM_FAILED error naming the transaction and `what` it waited for.
 */
export async function awaitVisible(conn: Queryable, xid: number, logger: Logger, signal: AbortSignal, what: VisibleFor = 'describe'): Promise<void> {
  const started = Date.now();
  let delay = 1;
  let warned = false;
  for (;;) {
    // As a number: a pool with raw-text parsers returns a boolean as 'f', which is truthy.
    const r = await conn.query<{ visible: number | string }>(VISIBLE_SQL, [xid]);
    if (Number(r.rows[0]?.visible) === 1) return;
    const waited = Date.now() - started;
    if (waited >= VISIBLE_TIMEOUT_MS) {
      throw new TributaryError(
        ErrorCode.STREAM_FAILED,
        `transaction ${xid}, received from the replication slot, is still not visible to other sessions on the source after ${Math.round(waited / 1000)} s, and ${NEEDED[what].error}: its commit waits for a synchronous standby (synchronous_standby_names) that does not confirm it. If that setting names tributary's own connection (application_name '${APPLICATION_NAME}'), the commit waits for tributary, which waits for the commit: take it out of synchronous_standby_names. The stream is retried from its checkpoint`,
        { fatal: false },
      );
    }
    if (!warned && waited >= VISIBLE_WARN_MS) {
      warned = true;
      logger.warn({ xid, waitedMs: waited }, `a transaction received from the slot is not yet visible to other sessions on the source (its commit waits, for a synchronous standby?): ${NEEDED[what].warning}`);
    }
    await sleep(delay, signal);
    if (signal.aborted) throw new AbortedError('the stream stopped while waiting for a transaction to become visible');
    delay = Math.min(200, delay * 2);
  }
}
