import { escape } from 'mysql2';
import { splitName } from '../../core/names.js';
import type { Value } from '../../core/values.js';
import type { MysqlColumnType } from './types.js';
import { mysqlValue } from './values.js';

/** A value as a MySQL literal that reads back exactly (−0 and binary included). */
export function literal(v: Value): string {
  if (v === null) return 'NULL';
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'boolean') return v ? 'TRUE' : 'FALSE';
  if (typeof v === 'number') {
    if (Object.is(v, -0)) return '-0e0';
    const s = String(v);
    // A bare integer literal would be an exact DECIMAL; the e0 keeps doubles doubles.
    return /[e.]/i.test(s) ? s : `${s}e0`;
  }
  if (Buffer.isBuffer(v)) return v.length === 0 ? "''" : `X'${v.toString('hex')}'`;
  return escape(v);
}

/**
 * A canonical value as the literal of a column mapped from another engine (types.ts mapLogicalTable): numbers
 * bare (a quoted DECIMAL would be compared with the column as a double), booleans 1/0, bit
 * strings as their integer, timestamptz in UTC without the zone. Throws, naming table and column,
 * for a value the column cannot hold exactly.
 */
export function columnLiteral(table: string, m: MysqlColumnType, v: Value): string {
  const r = mysqlValue(table, m, v);
  if (r === null) return 'NULL';
  if (Buffer.isBuffer(r)) return literal(r);
  switch (m.kind) {
    case 'int':
    case 'bits':
      return /^-?\d+$/.test(r) ? r : escape(r);
    case 'decimal':
      return /^-?\d+(\.\d+)?$/.test(r) ? r : escape(r);
    case 'float':
      return typeof v === 'number' ? literal(v) : /^-?\d+(\.\d+)?$/.test(r) ? r : escape(r);
    default:
      return escape(r);
  }
}

export function quoteId(name: string): string {
  return '`' + name.replace(/`/g, '``') + '`';
}

/**
 * A table's name as SQL: `t`, or `db`.`t` for a qualified name (a sync of several databases,
 * core/names.ts). Every statement that names a synced table, on the source or the target, quotes it
 * with this, so a qualified name reaches its own database whatever the connection's default is.
 */
export function quoteTable(name: string): string {
  const { namespace, table } = splitName(name);
  return namespace === undefined ? quoteId(table) : `${quoteId(namespace)}.${quoteId(table)}`;
}
