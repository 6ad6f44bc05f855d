import { toMs } from '../../config/schema.js';
import type { Engine } from '../engine.js';

/**
 * MySQL and MariaDB: source (binlog), target and replica. Each role's module loads when first opened.
 */
export const engine: Engine = {
  name: 'mysql',
  async openSource({ config, dsn, syncId, logger, maxBufferBytes }) {
    const { MysqlSource, deriveServerId } = await import('../../sources/mysql/source.js');
    return new MysqlSource({ dsn, logger, poolSize: config.threads + 1, serverId: config.serverId ?? deriveServerId(syncId), positionMode: config.positionMode, maxBufferBytes, binlogTimeoutMs: toMs(config.binlogTimeout) });
  },
  async openTarget({ config, dsn, syncId, logger }) {
    const { MysqlTarget } = await import('../../targets/mysql/target.js');
    return new MysqlTarget({ dsn, syncId, logger, poolSize: config.threads, columnTypes: config.columnTypes, force: config.force });
  },
  async openLagProbe(dsn) {
    const { openLagProbe } = await import('../../sources/mysql/lag.js');
    return openLagProbe(dsn);
  },
};
