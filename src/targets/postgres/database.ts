import type pg from 'pg';
import { describeDsn, type Dsn } from '../../config/dsn.js';
import { ErrorCode, TributaryError } from '../../core/errors.js';
import { openClient } from './connection.js';
import { quoteIdent } from './sql.js';

/** The template databases: `--force` never drops anything in them. */
const TEMPLATE_DATABASES = new Set(['template0', 'template1']);

/**
 * Refuses `--force` (CONFIG_INVALID) on a target URL naming a template database, or a system schema
 * (information_schema, pg_*) as `?schema=`: what --force drops there would break the server.
 */
export function refuseForceOnSystemDatabase(dsn: Dsn, schema: string): void {
  if (TEMPLATE_DATABASES.has(dsn.database)) {
    throw new TributaryError(ErrorCode.CONFIG_INVALID, `--force drops what the sync created in target ${describeDsn(dsn)}, a template database; point --target at a database of its own`);
  }
  if (schema === 'information_schema' || schema.startsWith('pg_')) {
    throw new TributaryError(ErrorCode.CONFIG_INVALID, `--force drops and recreates the target schema, and ?schema=${schema} names a system schema of target ${describeDsn(dsn)}; name a schema of its own`);
  }
}

/** A missing target database as connect() found it, from a maintenance database of the same server. */
export interface MissingDatabase {
  /** A session on the maintenance database (`postgres`, else `template1`), which CREATE DATABASE runs on. */
  readonly admin: pg.Client;
  /** The maintenance database's URL (the sync's lock is taken there until the database exists). */
  readonly adminDsn: Dsn;
  /** The role has CREATEDB or is a superuser. */
  readonly mayCreate: boolean;
  /** The statement the sync runs (or the user must run when the role may not). */
  readonly sql: string;
  readonly version: string;
}

/**
 * Connects to a maintenance database to look at a target database that does not exist: whether
 * this role may create it, and the CREATE DATABASE that would (UTF8, the encoding every tributary
 * session speaks; the cluster's default locale). Undefined when no maintenance database accepts
 * the role either: the caller then reports the missing database as it is.
 */
export async function inspectMissingDatabase(dsn: Dsn): Promise<MissingDatabase | undefined> {
  for (const database of ['postgres', 'template1']) {
    const adminDsn = { ...dsn, database };
    let admin: pg.Client;
    try {
      admin = await openClient(adminDsn, 'target');
    } catch {
      continue;
    }
    try {
      const r = await admin.query<{ may: string; enc: string | null; version: string }>(
        `SELECT (SELECT rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user) AS may,
                (SELECT pg_encoding_to_char(encoding) FROM pg_database WHERE datname = 'template1') AS enc,
                current_setting('server_version') AS version`,
      );
      const row = r.rows[0];
      // A session on template1 keeps it from being copied: template0 then, as for another encoding.
      const template = database === 'template1' || row?.enc !== 'UTF8' ? ' TEMPLATE template0' : '';
      return {
        admin,
        adminDsn,
        mayCreate: row?.may === 't',
        sql: `CREATE DATABASE ${quoteIdent(dsn.database)} ENCODING 'UTF8'${template}`,
        version: row?.version ?? '?',
      };
    } catch {
      await admin.end().catch(() => undefined);
    }
  }
  return undefined;
}

/** The refusal when the role may not create the missing database: the exact statement to run, and by whom. */
export function cannotCreate(dsn: Dsn, missing: MissingDatabase): TributaryError {
  return new TributaryError(
    ErrorCode.DATABASE_MISSING,
    `target ${describeDsn(dsn)}: database '${dsn.database}' does not exist and role '${dsn.user}' may not create it (it has neither CREATEDB nor SUPERUSER); ` +
      `run ${missing.sql} OWNER ${quoteIdent(dsn.user)} as a role that may (a superuser), or ALTER ROLE ${quoteIdent(dsn.user)} CREATEDB, then start the sync again`,
  );
}
