/**
 * Waiting for a sync's initial copy, and for a table to hold the same rows on a sync's source and
 * target, for the integration tests that follow schema changes (ddl-stream, ddl-stream-postgres,
 * keyless, sakila).
 */
import { expect } from 'vitest';
import type { Engine } from './engines.js';
import { waitUntil, type CliRun } from './mysql.js';

/** '' when `table` holds the same rows on both sides (these columns, by id), else the first differences. */
export async function rowsDiffer(src: Engine, dst: Engine, db: string, table: string, columns: readonly string[]): Promise<string> {
  const a = await src.rows(db, table, columns, 'id');
  const b = await dst.rows(db, table, columns, 'id').catch((err: unknown) => [`(target: ${(err as Error).message})`]);
  if (a.length === b.length && a.every((r, i) => r === b[i])) return '';
  const sb = new Set(b);
  const sa = new Set(a);
  return `${table}: source ${a.length} rows, target ${b.length}; only in source: ${a.filter((r) => !sb.has(r)).slice(0, 3).join(' ; ')}; only in target: ${b.filter((r) => !sa.has(r)).slice(0, 3).join(' ; ')}`;
}

/**
 * Resolves once `table` holds the same rows on both sides; fails after `ms`, or as soon as the
 * sync `run` exited, with the last differences and the end of the sync's log.
 */
export async function converged(src: Engine, dst: Engine, db: string, table: string, columns: readonly string[], run: CliRun, ms = 60_000): Promise<void> {
  let last = '';
  try {
    await waitUntil(`${table} to converge`, async () => (last = await rowsDiffer(src, dst, db, table, columns)) === '' || run.child.exitCode !== null, ms, 300);
  } catch (err) {
    throw new Error(`${(err as Error).message}: ${last}\n--- tributary stderr ---\n${run.stderr().slice(-4000)}`, { cause: err });
  }
  expect(last, run.stderr().slice(-4000)).toBe('');
}

/**
 * Resolves once the sync `run` logged that its initial copy is done; fails after `ms`, or as soon as
 * the run exited, with the end of the sync's log.
 */
export async function copyDone(run: CliRun, ms = 60_000): Promise<void> {
  const done = () => run.stderr().includes('initial copy done');
  try {
    await waitUntil('the copy', () => done() || run.child.exitCode !== null, ms);
  } catch (err) {
    throw new Error(`${(err as Error).message}\n--- tributary stderr ---\n${run.stderr().slice(-3000)}`, { cause: err });
  }
  if (!done()) throw new Error(`the sync exited (code ${run.child.exitCode}) before its initial copy was done\n--- tributary stderr ---\n${run.stderr().slice(-3000)}`);
}

/**
 * waitUntil for syncs run as CLI processes: fails at once when one of `runs` exits, and on failure
 * shows the end of each one's log (checksum passes left out), so a timeout says why.
 */
export async function inStep(what: string, predicate: () => Promise<boolean>, runs: CliRun | readonly CliRun[], ms = 90_000): Promise<void> {
  const all = Array.isArray(runs) ? (runs as readonly CliRun[]) : [runs as CliRun];
  const exited = () => all.find((r) => r.child.exitCode !== null);
  const logs = () => all.map((r) => r.stderr().split('\n').filter((l) => !l.includes('checksum pass')).join('\n').slice(-3000)).join('\n----\n');
  await waitUntil(what, async () => (await predicate()) || exited() !== undefined, ms).catch((err: unknown) => {
    throw new Error(`${(err as Error).message}\n${logs()}`, { cause: err });
  });
  const gone = exited();
  if (gone) throw new Error(`a sync exited (${gone.child.exitCode}) before ${what}\n${logs()}`);
}
