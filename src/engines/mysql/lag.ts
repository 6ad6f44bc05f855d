import type { Dsn } from '../../config/dsn.js';
import type { LagProbe } from '../../core/lag.js';
import { openConnection } from './connection.js';

/**
 * SHOW REPLICA STATUS (MySQL 8.0.22+, MariaDB 10.5.1+), else SHOW SLAVE STATUS. No row: the server
 * is not a replica. Seconds_Behind_Source (MySQL) or Seconds_Behind_Master (MariaDB) NULL: its
 * SQL thread is not running. A multi-source replica's lag is its largest.
 */
export async function openLagProbe(dsn: Dsn): Promise<LagProbe> {
  const conn = await openConnection(dsn, 'replica');
  const status = async (): Promise<Record<string, unknown>[]> => {
    try {
      const [rows] = await conn.query('SHOW REPLICA STATUS');
      return rows as Record<string, unknown>[];
    } catch (err) {
      if ((err as { code?: string }).code !== 'ER_PARSE_ERROR') throw err;
      const [rows] = await conn.query('SHOW SLAVE STATUS');
      return rows as Record<string, unknown>[];
    }
  };
  return {
    async read() {
      const rows = await status();
      if (rows.length === 0) return { unreadable: 'SHOW REPLICA STATUS returns no row (the server is not a replica)' };
      let lag = 0;
      for (const r of rows) {
        const v = r.Seconds_Behind_Source ?? r.Seconds_Behind_Master;
        if (v === null || v === undefined) return { unreadable: 'Seconds_Behind_Master is NULL (the replication SQL thread is not running)' };
        lag = Math.max(lag, Number(v));
      }
      return { lagSeconds: lag };
    },
    close: () => conn.end(),
  };
}
