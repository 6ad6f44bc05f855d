import type { Logger } from 'pino';
import { toMs, type SyncConfig } from '../config/schema.js';
import type { Dsn } from '../config/dsn.js';
import { ErrorCode, TributaryError } from '../core/errors.js';
import type { LagProbe } from '../core/lag.js';
import type { ChangeSource } from '../core/source.js';
import type { Target } from '../core/target.js';

/**
 * The source and target of a configuration, by the URL's engine. Engine modules are imported when
 * first needed, so a run loads only the drivers of its own engines (a PostgreSQL → PostgreSQL sync
 * never loads mysql2 or zongji). Shared by sync, verify and move.
 */
export async function createSource(config: SyncConfig, dsn: Dsn, syncId: string, logger: Logger): Promise<ChangeSource> {
  // A quarter of the buffer for events waiting to be applied, a quarter for the batch being built
  // and the changes the copy holds (the applier's bufferBytes), the rest for the copy's chunks
  // and what the estimates miss (object overhead, garbage not yet collected).
  const maxBufferBytes = Math.floor((config.bufferMb * 1024 * 1024) / 4);
  if (dsn.engine === 'postgres') {
    const { PostgresSource } = await import('../sources/postgres/source.js');
    return new PostgresSource({ dsn, logger, poolSize: config.threads + 1, syncId, slot: config.slot, publication: config.publication, tables: config.tables, maxBufferBytes });
  }
  if (dsn.engine !== 'mysql') {
    throw new TributaryError(ErrorCode.DSN_INVALID, `source engine '${dsn.engine}' is not supported as a source; use a mysql:// or postgres:// source`);
  }
  const { MysqlSource, deriveServerId } = await import('../sources/mysql/source.js');
  return new MysqlSource({ dsn, logger, poolSize: config.threads + 1, serverId: config.serverId ?? deriveServerId(syncId), positionMode: config.positionMode, maxBufferBytes, binlogTimeoutMs: toMs(config.binlogTimeout) });
}

/** The target of a configuration (see createSource). */
export async function createTarget(config: SyncConfig, dsn: Dsn, syncId: string, logger: Logger): Promise<Target> {
  if (dsn.engine === 'postgres') {
    const { PostgresTarget } = await import('../targets/postgres/target.js');
    return new PostgresTarget({ dsn, syncId, logger, poolSize: config.threads, zeroDates: config.zeroDates, columnTypes: config.columnTypes, force: config.force });
  }
  if (dsn.engine !== 'mysql') {
    throw new TributaryError(ErrorCode.DSN_INVALID, `target engine '${dsn.engine}' is not supported yet; use a mysql:// or postgres:// target`);
  }
  const { MysqlTarget } = await import('../targets/mysql/target.js');
  return new MysqlTarget({ dsn, syncId, logger, poolSize: config.threads, columnTypes: config.columnTypes, force: config.force });
}

/**
 * A lag probe of a replica (`--replica`) of the URL's engine, for the copy's ReplicaThrottle. Any
 * URL that is not postgres:// is read as a MySQL/MariaDB replica.
 */
export async function openLagProbe(dsn: Dsn): Promise<LagProbe> {
  if (dsn.engine === 'postgres') {
    const { openLagProbe: openPostgres } = await import('../sources/postgres/lag.js');
    return openPostgres(dsn);
  }
  const { openLagProbe: openMysql } = await import('../sources/mysql/lag.js');
  return openMysql(dsn);
}
