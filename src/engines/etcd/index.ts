import { toMs } from '../../config/schema.js';
import { ErrorCode, TributaryError } from '../../core/errors.js';
import type { Engine } from '../engine.js';
import { valueConventions } from '../registry.js';
import { EtcdClusterStore } from './cluster.js';
import { EtcdCoordinator } from './election.js';
import { EtcdTarget } from './target.js';
import { withLogical } from './types.js';

export { EtcdTarget };

function targetOnly(role: string): never {
  throw new TributaryError(ErrorCode.DSN_INVALID, `etcd cannot be a ${role}: it is a target only; use mysql:// or postgres:// for the ${role}`);
}

/**
 * etcd: a target (issue 13), the coordinator of standby instances and the store of a cluster of workers (issue 17). The registry imports this folder only when an etcd:// URL is
 * used, so a run without one never loads the etcd3 client and gRPC.
 */
export const engine: Engine = {
  name: 'etcd',
  openSource: () => targetOnly('source'),
  async openTarget({ config, dsn, syncId, logger }) {
    return new EtcdTarget({ dsn, syncId, logger, layout: config.etcdLayout, maxTxnOps: config.maxTxnOps, lockTtlSeconds: toMs(config.lockTtl) / 1000, conventions: valueConventions });
  },
  openLagProbe: () => targetOnly('replica'),
  async openCoordinator({ dsn, syncId, ttlSeconds, logger, http }) {
    return new EtcdCoordinator({ dsn, syncId, ttlSeconds, logger, ...(http !== undefined ? { http } : {}) });
  },
  async openClusterStore({ dsn, ttlSeconds, logger }) {
    return new EtcdClusterStore({ dsn, ttlSeconds, logger });
  },
  withLogical,
};
