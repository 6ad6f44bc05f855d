import type { Dsn } from '../../config/dsn.js';
import type { LagProbe } from '../../core/lag.js';
import { openClient } from './connection.js';

/**
 * The standby's replay delay: now() minus the commit time of the last transaction it replayed.
 * NULL on a server that is not a standby or has replayed nothing yet. On a standby whose primary
 * is idle this grows though nothing is behind; a heartbeat on the primary keeps it honest.
 */
export async function openLagProbe(dsn: Dsn): Promise<LagProbe> {
  const client = await openClient(dsn, 'replica');
  return {
    async read() {
      const r = await client.query<{ lag: string | null }>('SELECT EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())::text AS lag');
      const lag = r.rows[0]?.lag;
      if (lag === null || lag === undefined) return { unreadable: 'pg_last_xact_replay_timestamp() is NULL (not a standby, or nothing replayed yet)' };
      return { lagSeconds: Math.max(0, Math.round(Number(lag) * 10) / 10) };
    },
    close: () => client.end(),
  };
}
