import { ErrorCode, TributaryError } from '../../core/errors.js';
import type { Engine } from '../engine.js';
import { openLagProbe } from './lag.js';
import { PostgresSource } from './source.js';
import { PostgresTarget } from './target.js';
import { withLogical } from './types.js';

export { PostgresSource, PostgresTarget };

/**
 * PostgreSQL: source (logical replication, pgoutput), target and replica. The registry imports this
 * folder only when a URL of this engine is used, so a run without one never loads its driver.
 */
export const engine: Engine = {
  name: 'postgres',
  async openSource({ config, dsn, syncId, logger, maxBufferBytes }) {
    return new PostgresSource({ dsn, logger, poolSize: config.threads + 1, syncId, slot: config.slot, publication: config.publication, tables: config.tables, maxBufferBytes, ddlTrigger: config.pgDdlTrigger, databases: config.databases });
  },
  async openTarget({ config, dsn, syncId, logger }) {
    return new PostgresTarget({ dsn, syncId, logger, poolSize: config.threads, zeroDates: config.zeroDates, columnTypes: config.columnTypes, force: config.force });
  },
  openLagProbe: (dsn) => openLagProbe(dsn),
  openCoordinator: () => Promise.reject(new TributaryError(ErrorCode.DSN_INVALID, 'PostgreSQL cannot coordinate standby instances; give --coordinator an etcd:// URL')),
  openClusterStore: () => Promise.reject(new TributaryError(ErrorCode.DSN_INVALID, 'PostgreSQL cannot hold a cluster of workers; give --coordinator an etcd:// URL')),
  withLogical,
};
