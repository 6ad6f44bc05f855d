import { toMs } from '../../config/schema.js';
import { ErrorCode, TributaryError } from '../../core/errors.js';
import type { Engine } from '../engine.js';
import { valueConventions } from '../registry.js';
import { openLagProbe } from './lag.js';
import { deriveServerId, MysqlSource } from './source.js';
import { MysqlTarget } from './target.js';
import { withLogical } from './types.js';

export { MysqlSource, MysqlTarget };

/**
 * MySQL and MariaDB: source (binlog), target and replica. The registry imports this folder only
 * when a URL of this engine is used, so a run without one never loads mysql2 or zongji.
 */
export const engine: Engine = {
  name: 'mysql',
  async openSource({ config, dsn, syncId, logger, maxBufferBytes }) {
    return new MysqlSource({ dsn, logger, poolSize: config.threads + 1, serverId: config.serverId ?? deriveServerId(syncId), positionMode: config.positionMode, adoptDomains: config.gtidAdoptDomains, maxBufferBytes, binlogTimeoutMs: toMs(config.binlogTimeout), decodeThread: config.decodeThread, tables: config.tables, oscShadows: config.oscShadows, databases: config.databases, conventions: valueConventions('mysql') });
  },
  async openTarget({ config, dsn, syncId, logger }) {
    return new MysqlTarget({ dsn, syncId, logger, poolSize: config.threads, columnTypes: config.columnTypes, force: config.force });
  },
  async openLagProbe(dsn) {
    return openLagProbe(dsn);
  },
  openCoordinator: () => Promise.reject(new TributaryError(ErrorCode.DSN_INVALID, 'MySQL cannot coordinate standby instances; give --coordinator an etcd:// URL')),
  openClusterStore: () => Promise.reject(new TributaryError(ErrorCode.DSN_INVALID, 'MySQL cannot hold a cluster of workers; give --coordinator an etcd:// URL')),
  withLogical,
};
