import { createHash } from 'node:crypto';
import type { Dsn } from './dsn.js';

/** The default sync id: stable for one source database and one target database. */
export function deriveSyncId(src: Dsn, dst: Dsn): string {
  const h = createHash('sha256').update(`${src.host}:${src.port}/${src.database}|${dst.host}:${dst.port}/${dst.database}`).digest('hex');
  return `${src.database}-${h.slice(0, 12)}`.slice(0, 64).replace(/[^A-Za-z0-9_.-]/g, '_');
}
