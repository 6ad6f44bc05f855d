import type { Connection, RowDataPacket } from 'mysql2/promise';
import { describeDsn, type Dsn } from '../../config/dsn.js';
import { ErrorCode, TributaryError } from '../../core/errors.js';
import type { DatabaseDefaults } from '../../core/source.js';
import { binaryCollation, type MysqlFlavour } from '../../typemap/postgres-to-mysql.js';
import { quoteId } from './sql.js';

type Queryable = Pick<Connection, 'query'>;

/** The server's own databases: `--force` never drops them. */
const SYSTEM_DATABASES = new Set(['mysql', 'information_schema', 'performance_schema', 'sys']);

/** Refuses `--force` on a target URL that names one of the server's own databases (CONFIG_INVALID). */
export function refuseForceOnSystemDatabase(dsn: Dsn): void {
  if (!SYSTEM_DATABASES.has(dsn.database.toLowerCase())) return;
  throw new TributaryError(
    ErrorCode.CONFIG_INVALID,
    `--force drops and recreates the target database, and target ${describeDsn(dsn)} names the server's own database '${dsn.database}'; point --target at a database of its own`,
  );
}

/** How the sync creates a target database that does not exist (or that --force recreates). */
export interface DatabasePlan {
  readonly sql: string;
  /** Why the character set or collation is not the source's, when it is not. */
  readonly note?: string;
}

/**
 * The CREATE DATABASE for `name`: the source database's default character set and collation for a
 * MySQL source (when this server has them; else the character set's default here, or utf8mb4),
 * and utf8mb4 with the binary NO PAD collation for a PostgreSQL source, the collation the type map
 * creates its tables with (keys equal exactly when their bytes are, as under PostgreSQL). Reads only.
 */
export async function databasePlan(conn: Queryable, name: string, defaults: DatabaseDefaults | undefined, flavour: MysqlFlavour): Promise<DatabasePlan> {
  const fallback = binaryCollation(flavour);
  const render = (charset: string, collation: string, note?: string): DatabasePlan => ({
    sql: `CREATE DATABASE ${quoteId(name)} CHARACTER SET ${charset} COLLATE ${collation}`,
    ...(note ? { note } : {}),
  });
  if (defaults?.engine !== 'mysql') {
    return render('utf8mb4', fallback, `the source is ${defaults?.engine ?? 'not MySQL'}: utf8mb4 with the binary NO PAD collation its tables are created with`);
  }
  const [same] = await conn.query<RowDataPacket[]>('SELECT 1 FROM information_schema.COLLATIONS WHERE COLLATION_NAME = ? AND CHARACTER_SET_NAME = ?', [defaults.collation, defaults.charset]);
  if (same.length) return render(defaults.charset, defaults.collation);
  const [cs] = await conn.query<RowDataPacket[]>('SELECT DEFAULT_COLLATE_NAME AS co FROM information_schema.CHARACTER_SETS WHERE CHARACTER_SET_NAME = ?', [defaults.charset]);
  const co = cs[0]?.co as string | undefined;
  if (co) return render(defaults.charset, co, `this server has no collation ${defaults.collation}: the character set's default here`);
  return render('utf8mb4', fallback, `this server has no character set ${defaults.charset}: utf8mb4 with the binary NO PAD collation`);
}

/** Whether `name` exists on the server. */
export async function databaseExists(conn: Queryable, name: string): Promise<boolean> {
  const [rows] = await conn.query<RowDataPacket[]>('SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [name]);
  return rows.length > 0;
}
