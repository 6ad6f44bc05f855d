import type { Engine } from '../engine.js';

/**
 * PostgreSQL: source (logical replication, pgoutput), target and replica. Each role's module loads
 * when first opened.
 */
export const engine: Engine = {
  name: 'postgres',
  async openSource({ config, dsn, syncId, logger, maxBufferBytes }) {
    const { PostgresSource } = await import('../../sources/postgres/source.js');
    return new PostgresSource({ dsn, logger, poolSize: config.threads + 1, syncId, slot: config.slot, publication: config.publication, tables: config.tables, maxBufferBytes });
  },
  async openTarget({ config, dsn, syncId, logger }) {
    const { PostgresTarget } = await import('../../targets/postgres/target.js');
    return new PostgresTarget({ dsn, syncId, logger, poolSize: config.threads, zeroDates: config.zeroDates, columnTypes: config.columnTypes, force: config.force });
  },
  async openLagProbe(dsn) {
    const { openLagProbe } = await import('../../sources/postgres/lag.js');
    return openLagProbe(dsn);
  },
};
