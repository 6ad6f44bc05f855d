/**
 * How a canonical value is written into a PostgreSQL column, by the column's type: the PostgreSQL
 * target renders values by it (engines/postgres/sql.ts pgText), and a MySQL source renders its COPY
 * text by it (engines/mysql/load.ts pgCopySelect). Kept apart from either engine so that neither imports the
 * other's folder; phase B of issue 11 replaces it with the logical type.
 */

/** How a canonical value is written into a column, by the target column's type (pg_type.typname). */
export type ValueKind = 'int' | 'numeric' | 'float4' | 'float8' | 'bool' | 'bit' | 'bytea' | 'date' | 'timestamp' | 'timestamptz' | 'text';

export function kindOf(udtName: string): ValueKind {
  switch (udtName) {
    case 'int2':
    case 'int4':
    case 'int8':
    case 'oid':
      return 'int';
    case 'numeric':
      return 'numeric';
    case 'float4':
      return 'float4';
    case 'float8':
      return 'float8';
    case 'bool':
      return 'bool';
    case 'bit':
    case 'varbit':
      return 'bit';
    case 'bytea':
      return 'bytea';
    case 'date':
      return 'date';
    case 'timestamp':
      return 'timestamp';
    case 'timestamptz':
      return 'timestamptz';
    default:
      return 'text';
  }
}

/** Names a CREATE TABLE may spell a type with, as pg_type.typname. */
const TYPNAME: Record<string, string> = {
  smallint: 'int2',
  integer: 'int4',
  int: 'int4',
  bigint: 'int8',
  decimal: 'numeric',
  real: 'float4',
  'double precision': 'float8',
  boolean: 'bool',
  'timestamp without time zone': 'timestamp',
  'timestamp with time zone': 'timestamptz',
  character: 'bpchar',
  char: 'bpchar',
  'character varying': 'varchar',
};

/**
 * The kind (and bit(n) length) of a type as written in CREATE TABLE — 'numeric(20,0)',
 * 'timestamptz(6)', 'double precision', 'bit(5)' — as `kindOf` gives it for the catalogue's type
 * once the table exists. Lets a writer know, before the table is read back, how values of a
 * mapped column will be rendered.
 */
export function declaredKind(sqlType: string): { kind: ValueKind; bits?: number } {
  const m = /^\s*([a-z ]*[a-z])\s*(?:\(\s*(\d+)[^)]*\))?\s*(with(?:out)? time zone)?\s*$/i.exec(sqlType);
  if (!m) return { kind: 'text' };
  let name = (m[1] as string).toLowerCase();
  if (m[3]) name = `${name} ${m[3].toLowerCase()}`;
  const kind = kindOf(TYPNAME[name] ?? name);
  return kind === 'bit' && name === 'bit' ? { kind, bits: m[2] === undefined ? 1 : Number(m[2]) } : { kind };
}
