/**
 * What every commit of a SQL target consults, whichever way the sync was taken: the sync's lock
 * (engines/<engine>/lock.ts) or a leadership's fence (engines/<engine>/fence.ts, coordinator
 * mode). `Q` is the engine's connection.
 */
export interface CommitGuard<Q> {
  /** Throws once the right to write is known to be lost; runs no query. */
  check(): Promise<void>;
  /**
   * Run by every writer inside its transaction, after its checkpoint row is written and right
   * before COMMIT (and before each statement of DDL that commits on its own): throws, so that the
   * writer rolls back, unless this instance may still commit.
   */
  verify(conn: Q): Promise<void>;
  /** Gives up what the guard holds; never throws. */
  release(): Promise<void>;
}
