import type { Command } from 'commander';
import { readPasswordFile } from '../config/connection.js';
import { parseDsn, type Dsn } from '../config/dsn.js';
import { ErrorCode, TributaryError } from '../core/errors.js';
import { createLogger } from '../core/logger.js';
import { declaredSyncFile, SYNC_NAME } from '../cluster/declare.js';
import { clusterStatus, formatClusterStatus } from '../cluster/status.js';
import type { ClusterStore } from '../cluster/store.js';
import { openClusterStore } from '../engines/registry.js';
import type { CliContext } from './context.js';

/** The coordinator of a cluster command: its URL and password as given, and the Dsn it connects with. */
export interface ClusterCoordinator {
  readonly url: string;
  /** The password given apart from the URL (--coordinator-password-file, TRIBUTARY_COORDINATOR_PASSWORD[_FILE]). */
  readonly password: string | undefined;
  readonly dsn: Dsn;
}

/** --coordinator (or TRIBUTARY_COORDINATOR) and its password, given in one place only. */
export function clusterCoordinator(opts: Record<string, unknown>, env: NodeJS.ProcessEnv): ClusterCoordinator {
  const url = (opts.coordinator as string | undefined) ?? env.TRIBUTARY_COORDINATOR;
  if (!url) throw new TributaryError(ErrorCode.CONFIG_INVALID, "no coordinator URL is set; pass --coordinator etcd://host:2379/prefix (the cluster's etcd), or set TRIBUTARY_COORDINATOR");
  const dsn = parseDsn(url, 'coordinator');
  const file = (opts.coordinatorPasswordFile as string | undefined) ?? env.TRIBUTARY_COORDINATOR_PASSWORD_FILE;
  const given = [dsn.password !== '' ? 'the coordinator URL' : undefined, file ? 'coordinator-password-file' : undefined, env.TRIBUTARY_COORDINATOR_PASSWORD ? 'TRIBUTARY_COORDINATOR_PASSWORD' : undefined].filter(Boolean);
  if (given.length > 1) throw new TributaryError(ErrorCode.CONFIG_INVALID, `the coordinator password is given in ${given.length} places: ${given.join(' and ')}; give it in one only`);
  const password = file ? readPasswordFile(file, 'coordinator') : env.TRIBUTARY_COORDINATOR_PASSWORD || undefined;
  return { url, password, dsn: password !== undefined ? { ...dsn, password } : dsn };
}

const COORDINATOR_HELP = "the cluster's etcd, etcd://host:port[,…]/prefix (or TRIBUTARY_COORDINATOR)";
const PASSWORD_FILE_HELP = 'file holding the coordinator (etcd) password, instead of one in its URL; or TRIBUTARY_COORDINATOR_PASSWORD';

async function withStore<T>(opts: Record<string, unknown>, env: NodeJS.ProcessEnv, use: (store: ClusterStore) => Promise<T>): Promise<T> {
  const { dsn } = clusterCoordinator(opts, env);
  const store = await openClusterStore({ dsn, ttlSeconds: 5, logger: createLogger({ level: 'warn' }) });
  try {
    return await use(store);
  } finally {
    await store.close();
  }
}

/** `tributary cluster apply|delete|status`: declares, removes and lists the syncs of a cluster of workers (docs/cluster.md). */
export function registerCluster(program: Command, ctx: CliContext): void {
  const cluster = program.command('cluster').description('declare, remove and list the syncs a cluster of workers runs (docs/cluster.md)');
  cluster
    .command('apply')
    .description("declare a sync (create or replace): a YAML file with name and the keys of sync's config file, no passwords")
    .requiredOption('-f, --file <file>', 'the YAML file: name, then the keys of a sync config file (source, target, tables, …)')
    .option('--coordinator <url>', COORDINATOR_HELP)
    .option('--coordinator-password-file <file>', PASSWORD_FILE_HELP)
    .action(async (opts: Record<string, unknown>) => {
      const sync = declaredSyncFile(opts.file as string);
      await withStore(opts, ctx.env, (store) => store.declare(sync));
      process.stdout.write(`sync ${sync.name} declared; the scheduler assigns it to a worker\n`);
    });
  cluster
    .command('delete')
    .description('remove a declared sync: its worker stops it (the target and its checkpoint stay)')
    .argument('<name>', 'the declared sync')
    .option('--coordinator <url>', COORDINATOR_HELP)
    .option('--coordinator-password-file <file>', PASSWORD_FILE_HELP)
    .action(async (name: string, opts: Record<string, unknown>) => {
      if (!SYNC_NAME.test(name)) throw new TributaryError(ErrorCode.CONFIG_INVALID, `sync name '${name}' is not 1 to 64 letters, digits, '_', '.' or '-'; give a name as tributary cluster status lists it`);
      const removed = await withStore(opts, ctx.env, (store) => store.remove(name));
      if (!removed) throw new TributaryError(ErrorCode.CONFIG_INVALID, `no sync named ${name} is declared; tributary cluster status lists them`);
      process.stdout.write(`sync ${name} deleted; its worker stops it\n`);
    });
  cluster
    .command('status')
    .description("each declared sync's worker, phase, lag and last error, and each worker's capacity and load")
    .option('--json', 'print the status as one JSON document')
    .option('--coordinator <url>', COORDINATOR_HELP)
    .option('--coordinator-password-file <file>', PASSWORD_FILE_HELP)
    .action(async (opts: Record<string, unknown>) => {
      const status = await withStore(opts, ctx.env, async (store) => clusterStatus(await store.state(), store.where.replace(/^coordinator /, ''), await store.scheduler()));
      process.stdout.write(opts.json === true ? JSON.stringify(status, null, 2) + '\n' : formatClusterStatus(status));
    });
}
