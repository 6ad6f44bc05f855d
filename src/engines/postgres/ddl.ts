import type pg from 'pg';
import { describeDsn, type Dsn } from '../../config/dsn.js';
import { ErrorCode, TributaryError } from '../../core/errors.js';
import type { Column, TableSchema } from '../../core/schema.js';
import { openClient } from './connection.js';
import { MAX_IDENTIFIER_BYTES, qualified, quoteIdent, quoteLiteral } from './sql.js';
import { postgresColumnType, type PostgresColumnType, type PostgresTypeOptions } from './types.js';

function checkIdentifier(what: string, name: string): void {
  if (Buffer.byteLength(name, 'utf8') > MAX_IDENTIFIER_BYTES) {
    throw new TributaryError(
      ErrorCode.TABLE_UNSUPPORTED,
      `${what} '${name}' is ${Buffer.byteLength(name, 'utf8')} bytes long; PostgreSQL truncates identifiers to ${MAX_IDENTIFIER_BYTES} bytes, which could merge two names. Rename it on the source or leave the table out with --tables`,
    );
  }
}

/**
 * Every column's target type, or the first error naming an unmappable column or a name PostgreSQL
 * cannot hold. Run for all tables before anything is created, so a refused run writes nothing.
 */
export function planTypes(table: TableSchema, opts: PostgresTypeOptions, schema = 'public'): PostgresColumnType[] {
  checkIdentifier('table name', table.name);
  return table.columns.map((c: Column) => {
    checkIdentifier(`column name ${table.name}.`, c.name);
    return postgresColumnType(table, c, opts, schema);
  });
}

/** A user enum type the target schema must hold before the tables using it are created. */
export interface EnumTypePlan {
  /** The type's name (the source's pg_type.typname), created in the target schema. */
  readonly name: string;
  /** Labels in the source's sort order. */
  readonly labels: readonly string[];
  /** 'table.column' of each column declared with it, for messages. */
  readonly columns: readonly string[];
}

/**
 * The enum types the tables' columns are declared with (see postgresColumnType), one per name. Two
 * source types of one name (from two source schemas) with different labels cannot share the
 * target schema: refused, naming both columns.
 */
export function planEnumTypes(tables: readonly TableSchema[], types: readonly (readonly PostgresColumnType[])[]): EnumTypePlan[] {
  const byName = new Map<string, { labels: readonly string[]; columns: string[] }>();
  tables.forEach((t, ti) =>
    t.columns.forEach((c, ci) => {
      if (c.enumType === undefined || c.enumLabels === undefined || types[ti]?.[ci]?.overridden) return;
      const where = `${t.name}.${c.name}`;
      const known = byName.get(c.enumType);
      if (!known) {
        byName.set(c.enumType, { labels: c.enumLabels, columns: [where] });
        return;
      }
      if (!sameLabels(known.labels, c.enumLabels)) {
        throw new TributaryError(
          ErrorCode.TABLE_UNSUPPORTED,
          `columns ${known.columns[0] ?? '?'} and ${where} use two different source enum types named ${c.enumType} (labels ${labelList(known.labels)} and ${labelList(c.enumLabels)}), which cannot both be created in the target schema; map one of them to text with --column-types ${where}=text, or leave one table out with --tables`,
        );
      }
      known.columns.push(where);
    }),
  );
  return [...byName].map(([name, e]) => ({ name, labels: e.labels, columns: e.columns }));
}

export function createEnumTypeSql(schema: string, e: EnumTypePlan): string {
  return `CREATE TYPE ${qualified(schema, e.name)} AS ENUM (${e.labels.map(quoteLiteral).join(', ')})`;
}

function sameLabels(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((l, i) => l === b[i]);
}

function labelList(labels: readonly string[]): string {
  return `(${labels.map(quoteLiteral).join(', ')})`;
}

/**
 * Whether the target's existing type `e.name` serves the source's enum: undefined when it is an
 * enum with the same labels in the same order (values and their order are then the source's),
 * else the error naming the type, both label lists and the fix. `existing` is the target type's
 * labels, or null when the name belongs to a type that is not an enum.
 */
export function enumTypeMismatch(schema: string, e: EnumTypePlan, existing: readonly string[] | null): TributaryError | undefined {
  if (existing !== null && sameLabels(existing, e.labels)) return undefined;
  const type = qualified(schema, e.name);
  const has = existing === null ? 'is not an enum type' : `has labels ${labelList(existing)}`;
  const additions = existing === null ? undefined : addValueStatements(type, existing, e.labels);
  const fix = additions?.length
    ? `add the missing labels in the source's order (${additions.join('; ')})`
    : `make its labels the source's (ALTER TYPE ${type} RENAME VALUE / ADD VALUE), or drop it (DROP TYPE ${type}, after the columns that use it) so tributary creates it`;
  return new TributaryError(
    ErrorCode.TABLE_UNSUPPORTED,
    `target type ${type} ${has}, but source enum ${e.name} (used by ${e.columns.join(', ')}) has labels ${labelList(e.labels)}, and values must keep their labels and order; ${fix}, or sync the column${e.columns.length > 1 ? 's' : ''} as text with --column-types ${e.columns.map((c) => `${c}=text`).join(',')}`,
  );
}

/**
 * ALTER TYPE … ADD VALUE statements that turn `existing` into `want` when `existing` is `want`
 * with labels missing (same order); undefined when it is not.
 */
function addValueStatements(type: string, existing: readonly string[], want: readonly string[]): string[] | undefined {
  let at = 0;
  for (const l of want) if (l === existing[at]) at++;
  if (at !== existing.length) return undefined;
  const have = new Set(existing);
  const out: string[] = [];
  // In order, so the label each statement places itself after exists by then.
  want.forEach((l, i) => {
    if (have.has(l)) return;
    const after = want[i - 1];
    const first = existing[0];
    const place = after !== undefined ? ` AFTER ${quoteLiteral(after)}` : first !== undefined ? ` BEFORE ${quoteLiteral(first)}` : '';
    out.push(`ALTER TYPE ${type} ADD VALUE ${quoteLiteral(l)}${place}`);
  });
  return out;
}

/**
 * CREATE TABLE for a target table, with the column types planTypes chose (types.ts postgresColumnType).
 *
 * Secondary unique keys become UNIQUE constraints DEFERRABLE INITIALLY DEFERRED: a batch applies
 * each key's last image, and when a unique value moves between rows inside one batch (row 1 gives
 * up 'x', row 2 takes it) the row taking it may be written before the row giving it up. An
 * immediate constraint would fail that statement half-way; a deferred one is checked at COMMIT,
 * when the batch has reached a source transaction boundary and the values are unique again. The
 * primary key stays immediate: ON CONFLICT can only arbitrate a non-deferrable constraint, and the
 * primary key is the one it must arbitrate.
 */
export function createTableSql(schema: string, table: TableSchema, types: readonly PostgresColumnType[]): string {
  const lines: string[] = [];
  const pk = new Set(table.primaryKey);
  table.columns.forEach((c, i) => {
    const t = types[i] as PostgresColumnType;
    const q = quoteIdent(c.name);
    const notNull = pk.has(i) || (!c.nullable && !t.forceNullable);
    lines.push(`${q} ${t.sql}${notNull ? ' NOT NULL' : ''}${t.check ? ` CHECK (${t.check(q)})` : ''}`);
  });
  const names = (idx: readonly number[]) => idx.map((i) => quoteIdent((table.columns[i] as Column).name)).join(', ');
  if (table.primaryKey.length) lines.push(`PRIMARY KEY (${names(table.primaryKey)})`);
  for (const u of table.uniqueKeys ?? []) {
    if (u.length === 0 || u.some((i) => i < 0)) continue;
    lines.push(`UNIQUE (${names(u)}) DEFERRABLE INITIALLY DEFERRED`);
  }
  return `CREATE TABLE IF NOT EXISTS ${qualified(schema, table.name)} (\n  ${lines.join(',\n  ')}\n)`;
}

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
