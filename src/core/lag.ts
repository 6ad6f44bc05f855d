/**
 * A replica's lag, read for the copy's replica throttle (copier/throttle.ts). Each engine reads it
 * its own way (engines' lag.ts); the throttle only sees readings.
 */

/** One reading of the replica: its lag, or why it could not be read. */
export type LagReading = { readonly lagSeconds: number } | { readonly unreadable: string };

/**
 * Reads a replica's lag over one connection of its own. A probe that throws is closed and a new
 * one opened at the next reading, so read() need not recover a lost connection itself.
 */
export interface LagProbe {
  /** The lag now, or `unreadable` with why (not a replica, replication stopped): never a guess. */
  read(): Promise<LagReading>;
  close(): Promise<void>;
}
