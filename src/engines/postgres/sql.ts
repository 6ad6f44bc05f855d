import { splitName } from '../../core/names.js';
import { ErrorCode, TributaryError } from '../../core/errors.js';
import type { TableSchema } from '../../core/schema.js';
import { POSTGIS_MAX_SRID, SpatialError, spatialSrid, spatialToEwkb } from '../../core/spatial.js';
import type { Value } from '../../core/values.js';
import { isZeroDate } from '../../core/calendar.js';
import type { ValueKind } from './values.js';

/**
 * Identifiers are always quoted, so reserved words (`order`, `user`), mixed case and unicode
 * names keep their spelling; an embedded double quote is doubled.
 */
export function quoteIdent(name: string): string {
  return '"' + name.replace(/"/g, '""') + '"';
}

/**
 * A quoted string literal (standard_conforming_strings on, the default since 9.1): for the
 * replication protocol's commands and DDL, neither of which takes parameters.
 */
export function quoteLiteral(text: string): string {
  return "'" + text.replace(/'/g, "''") + "'";
}

/**
 * `"schema"."table"`. A qualified table name (`ns.table`, a sync of several databases or schemas:
 * core/names.ts) names its own schema, which wins over `schema`.
 */
export function qualified(schema: string, table: string): string {
  const { namespace, table: own } = splitName(table);
  return `${quoteIdent(namespace ?? schema)}.${quoteIdent(own)}`;
}

/** PostgreSQL truncates longer identifiers silently (NAMEDATALEN 64), which could merge two names. */
export const MAX_IDENTIFIER_BYTES = 63;

/** A target column as the writer needs it: name, catalogue type and how values are rendered. */
export interface TargetColumn {
  readonly name: string;
  /** format_type(): 'numeric(20,0)', 'timestamp(6) with time zone', 'bit(5)', … */
  readonly sqlType: string;
  readonly kind: ValueKind;
  /** Declared length of a bit(n) column (undefined for varbit without a limit). */
  readonly bits?: number;
  /** The source column is a MySQL spatial column: its values are spatial values (core/spatial.ts). */
  readonly spatial?: boolean;
  /**
   * The type's array literal does not separate elements with a comma (pg_type.typdelim; PostGIS
   * geometry uses ':', box ';'): its values travel to a statement as text[] and are cast one by
   * one, since '{a,b}' cast to geometry[] would be one element. So does a composite's (or a domain
   * over one): unnest() of several arrays expands a composite element into its attributes, which
   * would shift every later column.
   */
  readonly castFromText?: boolean;
}

const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

/** The float32 next to `f` (a float32) in the direction of `toward`. */
function nextFloat32(f: number, up: boolean): number {
  F32[0] = f;
  if (f === 0) {
    U32[0] = 1;
    return up ? (F32[0] as number) : -(F32[0] as number);
  }
  const bits = U32[0] as number;
  U32[0] = (f > 0) === up ? bits + 1 : bits - 1;
  return F32[0] as number;
}

/**
 * The shortest decimal that PostgreSQL's float4in (strtof, one rounding from decimal to float32)
 * reads back as the float32 `v`. Checked through a double (Number(s)), which rounds twice; the two
 * roundings differ only when Number(s) lands exactly on a float32 midpoint, so such a candidate is
 * skipped. A value that is not a float32 at all keeps its double repr (PostgreSQL rounds it).
 */
export function float4Text(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return 'Infinity';
  if (v === -Infinity) return '-Infinity';
  if (Object.is(v, -0)) return '-0';
  if (Math.fround(v) !== v) return String(v);
  for (let p = 1; p <= 9; p++) {
    const s = v.toPrecision(p);
    const d = Number(s);
    if (Math.fround(d) !== v) continue;
    if (Math.fround(d) !== d) {
      const other = nextFloat32(v, d > v);
      if (Math.abs(d - v) === Math.abs(other - d)) continue;
    }
    return s;
  }
  return String(v);
}

export function float8Text(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return 'Infinity';
  if (v === -Infinity) return '-Infinity';
  if (Object.is(v, -0)) return '-0';
  return String(v);
}

/**
 * A zone suffix such as '+00', '-05:30', 'Z' (before PostgreSQL's ' BC' on an era date), or a
 * special value that takes none: a PostgreSQL source's timestamptz is written as it is.
 */
const HAS_ZONE = /(?:[+-]\d\d(?::?\d\d){0,2}|Z)(?: BC)?$|^[+-]?infinity$/i;

export class ValueError extends Error {}

/**
 * The PostgreSQL input text for a canonical value in a column of `kind`, or null for NULL. Throws
 * a ValueError for a value PostgreSQL cannot hold exactly; callers name the table, column and key.
 */
export function pgText(v: Value, col: TargetColumn, zeroDates: 'error' | 'null'): string | null {
  if (v === null) return null;
  if (col.spatial) return spatialText(v, col);
  let s: string;
  switch (col.kind) {
    case 'bytea':
      if (Buffer.isBuffer(v)) return '\\x' + v.toString('hex');
      if (typeof v === 'string') return '\\x' + Buffer.from(v, 'utf8').toString('hex');
      throw new ValueError(`a ${typeof v} value cannot be written to a bytea column`);
    case 'bit':
      if (typeof v === 'bigint') {
        if (v < 0n) throw new ValueError(`negative bit value ${v}`);
        s = v.toString(2);
        if (col.bits !== undefined) {
          if (s.length > col.bits) throw new ValueError(`bit value ${v} needs ${s.length} bits, the column holds ${col.bits}`);
          s = s.padStart(col.bits, '0');
        }
        return s;
      }
      break;
    case 'float4':
      if (typeof v === 'number') return float4Text(v);
      break;
    case 'float8':
      if (typeof v === 'number') return float8Text(v);
      break;
    case 'int':
    case 'numeric':
      if (typeof v === 'number') return float8Text(v);
      if (typeof v === 'boolean') return v ? '1' : '0';
      break;
    case 'bool':
      if (typeof v === 'boolean') return v ? 't' : 'f';
      break;
    case 'date':
    case 'timestamp':
    case 'timestamptz':
      if (typeof v === 'string' && isZeroDate(v)) {
        if (zeroDates === 'null') return null;
        throw new ValueError(
          `MySQL zero date '${v}' has no PostgreSQL equivalent; write it as NULL with --zero-dates null (in the config file: zero-dates: null), or correct the row on the source`,
        );
      }
      if (col.kind === 'timestamptz' && typeof v === 'string' && !HAS_ZONE.test(v)) return v + '+00';
      break;
    default:
      break;
  }
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number') return float8Text(v);
  if (typeof v === 'boolean') return v ? 't' : 'f';
  if (Buffer.isBuffer(v)) {
    try {
      s = new TextDecoder('utf-8', { fatal: true }).decode(v);
    } catch {
      throw new ValueError(`bytes 0x${v.subarray(0, 16).toString('hex')}… are not UTF-8 and cannot be written to a ${col.sqlType} column; map the column to bytea`);
    }
  } else s = v;
  if (s.includes('\0')) {
    throw new ValueError(
      `the value contains a NUL character (0x00), which PostgreSQL ${col.sqlType} cannot store; remove it on the source or map the column to bytea with --column-types`,
    );
  }
  return s;
}

/**
 * A spatial value (core/spatial.ts) as the input of its column: its EWKB, as bytes in a bytea
 * column (the spatial policy without PostGIS), and in hex otherwise, which is PostGIS geometry's
 * own text form (and what a text column overriding the mapping gets). PostGIS would change an
 * SRID above its largest and refuses one its column does not declare: both refused here by name.
 */
function spatialText(v: Value, col: TargetColumn): string {
  if (!Buffer.isBuffer(v)) throw new ValueError(`a ${typeof v} value is not a spatial value (SRID + WKB bytes)`);
  let srid: number;
  let ewkb: Buffer;
  try {
    srid = spatialSrid(v);
    ewkb = spatialToEwkb(v);
  } catch (err) {
    if (err instanceof SpatialError) throw new ValueError(`0x${v.subarray(0, 16).toString('hex')}… is not a spatial value: ${err.message}`);
    throw err;
  }
  if (col.kind === 'bytea') return '\\x' + ewkb.toString('hex');
  if (/\bgeometry\b/i.test(col.sqlType)) {
    if (srid > POSTGIS_MAX_SRID) {
      throw new ValueError(`SRID ${srid} is above PostGIS's largest (${POSTGIS_MAX_SRID}), which PostGIS would change; give the value another SRID on the source, or write the column as bytea with --column-types`);
    }
    const declared = /,\s*(\d+)\s*\)\s*$/.exec(col.sqlType)?.[1];
    if (declared !== undefined && Number(declared) !== srid) {
      throw new ValueError(
        `the value's SRID ${srid} is not the SRID ${declared} of the column ${col.sqlType} (MariaDB records a column's REF_SYSTEM_ID without enforcing it); set the value's SRID on the source (ST_SRID / ST_GeomFromWKB(…, ${declared})), or declare the target column plain geometry with --column-types`,
      );
    }
  }
  return ewkb.toString('hex');
}

/** A key for error messages: `id=2, name='x'`. */
export function describeKey(table: TableSchema, row: readonly Value[]): string {
  return table.primaryKey
    .map((i) => {
      const v = row[i] ?? null;
      const c = table.columns[i];
      const shown = v === null ? 'NULL' : Buffer.isBuffer(v) ? '0x' + v.toString('hex') : typeof v === 'string' ? `'${v}'` : String(v);
      return `${c?.name ?? i}=${shown}`;
    })
    .join(', ');
}

/** pgText with the table, column and key named in the error. */
export function renderRow(table: TableSchema, cols: readonly TargetColumn[], row: readonly Value[], zeroDates: 'error' | 'null', keyRow: readonly Value[] = row): (string | null)[] {
  const out: (string | null)[] = new Array(cols.length);
  for (let i = 0; i < cols.length; i++) {
    const col = cols[i] as TargetColumn;
    try {
      out[i] = pgText(row[i] ?? null, col, zeroDates);
    } catch (err) {
      if (!(err instanceof ValueError)) throw err;
      throw new TributaryError(ErrorCode.TARGET_WRITE_FAILED, `table ${table.name}, column ${col.name}, row ${describeKey(table, keyRow)}: ${err.message}`, { cause: err });
    }
  }
  return out;
}

const COPY_ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/** One field of COPY's text format: backslash, tab, newline and CR escaped, NULL as \N. */
export function copyField(s: string | null): string {
  if (s === null) return '\\N';
  return /[\\\t\n\r]/.test(s) ? s.replace(/[\\\t\n\r]/g, (c) => COPY_ESCAPES[c] as string) : s;
}
