import { readFileSync } from 'node:fs';
import { ErrorCode, TributaryError } from '../core/errors.js';
import { parseDsn, type Dsn } from './dsn.js';
import type { SyncConfig } from './schema.js';

/** The connections a sync makes, each from a URL and, optionally, a password given apart from it. */
export type ConnectionRole = 'source' | 'target' | 'replica' | 'coordinator';

const ROLES: readonly ConnectionRole[] = ['source', 'target', 'replica', 'coordinator'];

/** What this module reads of a config: the URLs, the passwords given outside them, the query comment. */
export type ConnectionSettings = Pick<
  SyncConfig,
  'source' | 'target' | 'replica' | 'sourcePassword' | 'sourcePasswordFile' | 'targetPassword' | 'targetPasswordFile' | 'replicaPassword' | 'replicaPasswordFile'
> &
  Partial<Pick<SyncConfig, 'queryComment' | 'databases' | 'coordinator' | 'coordinatorPassword' | 'coordinatorPasswordFile'>>;

function keys(role: ConnectionRole): { readonly password: `${ConnectionRole}Password`; readonly file: `${ConnectionRole}PasswordFile` } {
  return { password: `${role}Password`, file: `${role}PasswordFile` };
}

/** Where each way of giving a role's password comes from, for messages (never the value). */
function origins(role: ConnectionRole): { readonly url: string; readonly password: string; readonly file: string } {
  const env = `TRIBUTARY_${role.toUpperCase()}_PASSWORD`;
  return {
    url: `the ${role} URL (user:password@)`,
    password: `${role}-password (${env} or the config file)`,
    file: `${role}-password-file (--${role}-password-file, ${env}_FILE or the config file)`,
  };
}

/**
 * A password file's content without its trailing newlines (`echo pw > file` writes one).
 * CONFIG_INVALID naming the file, never its content, when it cannot be read or is empty.
 */
export function readPasswordFile(path: string, role: ConnectionRole): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new TributaryError(
      ErrorCode.CONFIG_INVALID,
      `${role}-password-file ${path} cannot be read (${code}); check the path and that this user may read it`,
      { cause: err },
    );
  }
  const password = text.replace(/(?:\r?\n)+$/, '');
  if (password === '') {
    throw new TributaryError(ErrorCode.CONFIG_INVALID, `${role}-password-file ${path} is empty; write the ${role} password into it, or give none`);
  }
  return password;
}

/**
 * Refuses a role's password given in more than one place. Silently preferring one would leave a
 * stale password (an old URL, a forgotten variable) in use with nothing saying so; Debezium and
 * PeerDB users keep the password in exactly one property, and this keeps it that way.
 */
function assertOnce(config: ConnectionSettings, role: ConnectionRole, dsn: Dsn): void {
  const k = keys(role);
  const o = origins(role);
  const given = [dsn.password !== '' ? o.url : undefined, config[k.password] !== undefined ? o.password : undefined, config[k.file] !== undefined ? o.file : undefined].filter(
    (x): x is string => x !== undefined,
  );
  if (given.length > 1) {
    throw new TributaryError(ErrorCode.CONFIG_INVALID, `the ${role} password is given in ${given.length} places: ${given.join(' and ')}; give it in one only`);
  }
}

/**
 * The DSN a role connects with: its URL parsed (DSN_INVALID as parseDsn says), with the password
 * from the URL, `<role>Password` or `<role>PasswordFile` (read now), whichever was given; two
 * given is CONFIG_INVALID. CONFIG_INVALID too for the replica when no replica URL is set.
 *
 * It carries `queryComment` when the config has one: every connection to any role is opened from
 * such a DSN, so each engine's connection code puts the comment before every statement without
 * any caller passing it on.
 */
export function connectionDsn(config: ConnectionSettings, role: ConnectionRole): Dsn {
  const url = config[role];
  if (url === undefined) {
    throw new TributaryError(ErrorCode.CONFIG_INVALID, `no ${role} URL is set; pass --${role} URL`);
  }
  // A sync of several databases names them apart from the URL (--databases): a MySQL source URL
  // then names none (the engine refuses one that does, and a PostgreSQL source one that does not).
  const dsn = parseDsn(url, role, { databaseOptional: role === 'source' && (config.databases?.length ?? 0) > 0 });
  assertOnce(config, role, dsn);
  const k = keys(role);
  const file = config[k.file];
  const password = config[k.password] ?? (file !== undefined ? readPasswordFile(file, role) : undefined);
  const comment = config.queryComment;
  if (password === undefined && comment === undefined) return dsn;
  return { ...dsn, ...(password !== undefined ? { password } : {}), ...(comment !== undefined ? { queryComment: comment } : {}) };
}

/**
 * The config with every password file read, once, into its role's password (so a pipe such as
 * `--source-password-file <(pass show db)` works and the file is not read again on a reconnect),
 * after checking each role's URL and that its password is given in one place. A password for a
 * replica that is not set is refused. loadConfig calls this; library callers may pass either form.
 */
export function resolvePasswords<T extends ConnectionSettings>(config: T): T {
  const out: T = { ...config };
  for (const role of ROLES) {
    const k = keys(role);
    if (config[role] === undefined) {
      if (config[k.password] !== undefined || config[k.file] !== undefined) {
        throw new TributaryError(ErrorCode.CONFIG_INVALID, `a ${role} password is given but no ${role} URL; pass --${role} URL, or drop the password`);
      }
      continue;
    }
    const dsn = connectionDsn(config, role);
    if (config[k.file] !== undefined) {
      delete out[k.file];
      out[k.password] = dsn.password;
    }
  }
  return out;
}
