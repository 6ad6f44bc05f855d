import { escape } from 'mysql2';
import type { Value } from '../../core/values.js';

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

export function quoteId(name: string): string {
  return '`' + name.replace(/`/g, '``') + '`';
}
