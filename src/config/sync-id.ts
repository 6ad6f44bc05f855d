import { createHash } from 'node:crypto';
import type { Dsn } from './dsn.js';

/**
 * The default sync id: stable for one source database and one target database. A sync of several
 * databases (--databases) hashes its selection too, so two syncs of other databases from the same
 * server into the same target never share a checkpoint or a lock.
 */
export function deriveSyncId(src: Dsn, dst: Dsn, databases: readonly string[] = []): string {
  const selection = databases.length ? `[${[...databases].sort().join(',')}]` : '';
  const h = createHash('sha256').update(`${src.host}:${src.port}/${src.database}${selection}|${dst.host}:${dst.port}/${dst.database}`).digest('hex');
  const label = src.database || (databases.length === 1 ? databases[0] : 'databases');
  return `${label}-${h.slice(0, 12)}`.slice(0, 64).replace(/[^A-Za-z0-9_.-]/g, '_');
}
