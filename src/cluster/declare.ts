import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { parseDsn } from '../config/dsn.js';
import { fromObject, validateConfig } from '../config/load.js';
import { ErrorCode, TributaryError } from '../core/errors.js';
import type { DeclaredSync } from './store.js';

/** A declared sync's name: a sync id (its checkpoint and election are named by it). */
export const SYNC_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/** Keys that are the worker's, not a declared sync's: it sets the id, the coordinator and its own HTTP API. */
const WORKER_KEYS = ['id', 'coordinator', 'coordinatorPassword', 'coordinatorPasswordFile', 'leaderTtl', 'http', 'httpToken', 'httpAllowedHosts', 'httpLinger'];

/** Passwords given as values: never stored in the coordinator in clear. */
const PASSWORD_KEYS = ['sourcePassword', 'targetPassword', 'replicaPassword'];

/** The URL keys whose user:password@ would be stored in clear. */
const URL_KEYS = ['source', 'target', 'replica'];

const kebab = (key: string) => key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());

/**
 * A declared sync from a YAML document (`tributary cluster apply -f FILE`): `name` plus the keys of
 * `sync`'s config file, validated as `sync` validates them. CONFIG_INVALID (exit 2), naming the
 * sync and the key (never its value), for a password in a URL or a `*-password` key (secrets
 * come from the worker's environment or files: `source-password-file` paths are read on the
 * worker), and for the worker's own keys (id, coordinator, http…).
 */
export function declaredSync(doc: unknown, origin: string, now = new Date()): DeclaredSync {
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new TributaryError(ErrorCode.CONFIG_INVALID, `${origin} must be a mapping of keys to values: name and the keys of a sync's config file`);
  }
  const { name, ...rest } = doc as Record<string, unknown>;
  if (typeof name !== 'string' || !SYNC_NAME.test(name)) {
    throw new TributaryError(
      ErrorCode.CONFIG_INVALID,
      `${origin}: name ${name === undefined ? 'is missing' : `'${String(name)}' is not 1 to 64 letters, digits, '_', '.' or '-'`}; give the sync a name, e.g. name: orders`,
    );
  }
  const config = fromObject(rest, origin);
  const worker = WORKER_KEYS.filter((k) => config[k] !== undefined);
  if (worker.length) {
    throw new TributaryError(ErrorCode.CONFIG_INVALID, `declared sync ${name}: ${worker.map(kebab).join(', ')} ${worker.length > 1 ? 'are' : 'is'} the worker's to set (the sync id is its name); remove ${worker.length > 1 ? 'them' : 'it'} from ${origin}`);
  }
  for (const k of PASSWORD_KEYS) {
    if (config[k] !== undefined) {
      throw new TributaryError(
        ErrorCode.CONFIG_INVALID,
        `declared sync ${name}: ${kebab(k)} would be stored in the coordinator in clear; remove it from ${origin} and give the password to each worker (TRIBUTARY_${kebab(k).replace(/-/g, '_').toUpperCase()} in its environment, or ${kebab(k)}-file naming a file on the workers)`,
      );
    }
  }
  for (const k of URL_KEYS) {
    const url = config[k];
    if (typeof url === 'string' && parseDsn(url, k, { databaseOptional: true }).password !== '') {
      throw new TributaryError(
        ErrorCode.CONFIG_INVALID,
        `declared sync ${name}: the ${k} URL carries a password, which would be stored in the coordinator in clear; write it as user@host, and give the password to each worker (TRIBUTARY_${k.toUpperCase()}_PASSWORD in its environment, or ${k}-password-file naming a file on the workers)`,
      );
    }
  }
  validateConfig({ ...config, id: name });
  return { name, config, appliedAt: now.toISOString() };
}

/** declaredSync() of a YAML file. */
export function declaredSyncFile(path: string): DeclaredSync {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new TributaryError(ErrorCode.CONFIG_INVALID, `sync file ${path} cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)}); check the path`, { cause: err });
  }
  let doc: unknown;
  try {
    const { parse } = createRequire(import.meta.url)('yaml') as typeof import('yaml');
    doc = parse(text);
  } catch (err) {
    throw new TributaryError(ErrorCode.CONFIG_INVALID, `sync file ${path} is not valid YAML: ${(err as Error).message}`, { cause: err });
  }
  return declaredSync(doc, `sync file ${path}`);
}
