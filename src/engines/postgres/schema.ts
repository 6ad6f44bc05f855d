import type pg from 'pg';
import { ErrorCode, TributaryError } from '../../core/errors.js';
import { keyedTable, type Column, type ForeignKey, type ForeignKeyRule, type IndexDefinition, type TableSchema } from '../../core/schema.js';
import type { ColumnValueStats } from '../../core/source.js';
import { qualified, quoteIdent } from './sql.js';
import { withLogical } from './types.js';
import { describeTypeRefs } from './user-types.js';
import type { TypeRef } from '../../core/user-types.js';
import type { TriggerForeignKey } from './ddl-trigger.js';
import { SchemaScope } from './scope.js';

type Queryable = Pick<pg.Client | pg.Pool, 'query'>;

/** A column's type as the catalogue has it: pgoutput's Relation messages carry the same pair. */
export interface ColumnType {
  readonly oid: number;
  readonly typmod: number;
}

/** A described table with what the stream needs to notice a changed definition. */
export interface DescribedTable {
  readonly schema: TableSchema;
  readonly oid: number;
  /** Type of each column of `schema.columns`, in the same order. */
  readonly types: readonly ColumnType[];
  readonly replicaIdentity: ReplicaIdentity;
  /** Columns of the replica identity index (REPLICA IDENTITY USING INDEX), as column names. */
  readonly identityColumns: readonly string[];
  /**
   * True for a partitioned table (relkind 'p'). It is synced as one table: read through the parent
   * (which reads every partition), published through it (publish_via_partition_root), and created
   * on the target as one ordinary table. Its partitions are never listed on their own.
   */
  readonly partitioned: boolean;
  /** The leaf partitions of a partitioned table (empty otherwise), each with its own replica identity. */
  readonly partitions: readonly PartitionIdentity[];
}

/**
 * A leaf partition's replica identity. UPDATE and DELETE on a partition carry the old row as the
 * partition's replica identity says, whatever the parent's says, so each must deliver the key.
 */
export interface PartitionIdentity {
  readonly name: string;
  readonly replicaIdentity: ReplicaIdentity;
  readonly identityColumns: readonly string[];
}

type ReplicaIdentity = 'default' | 'nothing' | 'full' | 'index';

function replicaIdentity(code: string): ReplicaIdentity {
  return ({ d: 'default', n: 'nothing', f: 'full', i: 'index' } as const)[code as 'd' | 'n' | 'f' | 'i'] ?? 'default';
}

/** `"schema"."table"` (sql.ts qualified: a qualified table name names its own schema). */
export { qualified } from './sql.js';

/**
 * Base tables of `namespace`, in name order: ordinary tables and partitioned tables (relkind 'p'),
 * each partitioned table standing for all its partitions. Partitions themselves (relispartition,
 * sub-partitioned ones included) and tributary's own tables are left out, so no row is read twice.
 */
export async function listTables(conn: Queryable, namespace: string): Promise<string[]> {
  const r = await conn.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY c.relname COLLATE "C"`,
    [namespace],
  );
  return r.rows.map((x) => x.name).filter((n) => !n.startsWith('_tributary_'));
}

/** numeric(p,s) from its typmod; PostgreSQL 15 allows a negative scale (11 signed bits). */
function numericTypmod(typmod: number): { precision?: number; scale?: number } {
  if (typmod < 4) return {};
  const t = typmod - 4;
  return { precision: (t >> 16) & 0xffff, scale: ((t & 0x7ff) ^ 1024) - 1024 };
}

const TEMPORAL = new Set(['time', 'timetz', 'timestamp', 'timestamptz', 'interval']);

interface AttrRow {
  name: string;
  udt: string;
  coltype: string;
  notnull: string;
  typid: string;
  typmod: string;
  /** The typmod the values obey: a domain's own (numeric(7,2) of a domain) when the column declares none. */
  valuemod: string;
  generated: string;
  collation: string | null;
  attnum: string;
  /** The enum type of the column, its domain's base type or its array's element type. */
  enumoid: string | null;
  enumname: string | null;
}

/**
 * A table's columns, primary key and unique keys from the catalogue. Column.dataType is the
 * type's udt_name ('int4', 'timestamptz', '_int4' for int4[]; a domain's base type), columnType
 * is format_type(). Generated columns are listed in `generated` and never read.
 */
export async function describeTable(conn: Queryable, namespace: string | SchemaScope, table: string): Promise<DescribedTable> {
  // `table` is a synced name of `scope` (scope.ts: `schema.table` in a sync of several schemas).
  const scope = typeof namespace === 'string' ? SchemaScope.one(namespace) : namespace;
  const { schema: nspname, relname } = scope.placeOf(table);
  const rel = await conn.query<{ oid: string; ident: string; kind: string }>(
    `SELECT c.oid, c.relreplident AS ident, c.relkind AS kind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')`,
    [nspname, relname],
  );
  const r0 = rel.rows[0];
  if (!r0) throw new TributaryError(ErrorCode.TABLE_UNSUPPORTED, `table ${nspname}.${relname} not found on the source; check --tables`);
  const oid = Number(r0.oid);
  const attrs = await conn.query<AttrRow>(
    `SELECT a.attname AS name, COALESCE(bt.typname, t.typname) AS udt,
            format_type(a.atttypid, a.atttypmod) AS coltype, a.attnotnull AS notnull,
            a.atttypid AS typid, a.atttypmod AS typmod, a.attgenerated AS generated,
            CASE WHEN t.typtype = 'd' AND a.atttypmod < 0 THEN t.typtypmod ELSE a.atttypmod END AS valuemod,
            CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation THEN co.collname END AS collation,
            a.attnum, et.oid AS enumoid, et.typname AS enumname
       FROM pg_attribute a
       JOIN pg_type t ON t.oid = a.atttypid
       LEFT JOIN pg_type bt ON t.typtype = 'd' AND bt.oid = t.typbasetype
       LEFT JOIN pg_type et ON et.typtype = 'e'
             AND et.oid = CASE WHEN t.typtype = 'e' THEN t.oid WHEN bt.typtype = 'e' THEN bt.oid WHEN t.typcategory = 'A' THEN t.typelem END
       LEFT JOIN pg_collation co ON co.oid = a.attcollation
      WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
    [oid],
  );
  const labels = await enumLabels(conn, attrs.rows.flatMap((a) => (a.enumoid ? [a.enumoid] : [])));
  const refs = await describeTypeRefs(conn, attrs.rows.map((a) => ({ oid: Number(a.typid), sql: a.coltype })));
  const columns: Column[] = [];
  const types: ColumnType[] = [];
  const generated: string[] = [];
  const byAttnum = new Map<number, number>();
  for (const [ai, a] of attrs.rows.entries()) {
    if (a.generated !== '') {
      generated.push(a.name);
      continue;
    }
    byAttnum.set(Number(a.attnum), columns.length);
    columns.push(columnOf(a, labels, refs[ai]));
    types.push({ oid: Number(a.typid), typmod: Number(a.typmod) });
  }
  const idx = await conn.query<{ keys: string; primary: string; ident: string }>(
    `SELECT array_to_string(i.indkey, ' ') AS keys, i.indisprimary AS primary, i.indisreplident AS ident
       FROM pg_index i
      WHERE i.indrelid = $1 AND i.indisunique AND i.indisvalid AND i.indpred IS NULL AND i.indexprs IS NULL
      ORDER BY i.indisprimary DESC, i.indexrelid`,
    [oid],
  );
  let primaryKey: number[] = [];
  const uniqueKeys: number[][] = [];
  let identityColumns: string[] = [];
  for (const row of idx.rows) {
    const attnums = row.keys.split(' ').map(Number);
    const cols = attnums.map((n) => byAttnum.get(n));
    if (row.ident === 't') identityColumns = cols.map((i) => (i === undefined ? '?' : (columns[i] as Column).name));
    if (cols.some((i) => i === undefined)) {
      if (row.primary === 't') {
        throw new TributaryError(ErrorCode.TABLE_UNSUPPORTED, `table ${table}: a primary key column is generated; tributary cannot key on it`);
      }
      continue;
    }
    if (row.primary === 't') primaryKey = cols as number[];
    else uniqueKeys.push(cols as number[]);
  }
  // Text results only: the connection may parse no type (booleans as 't'/'f', json as text).
  const named = await conn.query<{ name: string; unique: string; columns: string | null }>(
    `SELECT c.relname AS name, i.indisunique::text AS unique,
            (SELECT json_agg(a.attname ORDER BY k.o) FROM unnest(i.indkey) WITH ORDINALITY AS k(n, o)
               JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n)::text AS columns
       FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
      WHERE i.indrelid = $1 AND NOT i.indisprimary
      ORDER BY c.relname`,
    [oid],
  );
  // Expression parts (attnum 0) join no attribute: an index over expressions only has no column.
  const indexes: IndexDefinition[] = named.rows.map((r) => ({ name: r.name, columns: r.columns ? (JSON.parse(r.columns) as string[]) : [], unique: r.unique === 'true' }));
  const partitioned = r0.kind === 'p';
  return {
    schema: keyedTable(withLogical({ name: table, columns, primaryKey, uniqueKeys, indexes, generated, engine: 'postgres', foreignKeys: await describeForeignKeys(conn, oid, scope) })),
    oid,
    types,
    replicaIdentity: replicaIdentity(r0.ident),
    identityColumns,
    partitioned,
    partitions: partitioned ? await leafPartitions(conn, oid) : [],
  };
}

const RULE: Readonly<Record<string, ForeignKeyRule>> = { a: 'NO ACTION', r: 'RESTRICT', c: 'CASCADE', n: 'SET NULL', d: 'SET DEFAULT' };
const MATCH: Readonly<Record<string, ForeignKey['match']>> = { f: 'FULL', p: 'PARTIAL', s: 'SIMPLE' };

/**
 * The foreign keys of the table `oid` (pg_constraint contype 'f'), by name, with columns in
 * constraint order. A referenced table in another schema keeps its qualifier, so it never matches
 * a synced table's name (the session leaves such keys out).
 */
export async function describeForeignKeys(conn: Queryable, oid: number, namespace: string | SchemaScope): Promise<ForeignKey[]> {
  // Arrays and booleans travel as JSON text: the source's clients may read every type as raw text.
  const r = await conn.query<{ name: string; cols: string; refns: string; reft: string; refcols: string; upd: string; del: string; flags: string; match: string }>(
    `SELECT c.conname AS name,
            (SELECT json_agg(a.attname ORDER BY k.o) FROM unnest(c.conkey) WITH ORDINALITY k(n, o) JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n)::text AS cols,
            rn.nspname AS refns, rc.relname AS reft,
            (SELECT json_agg(a.attname ORDER BY k.o) FROM unnest(c.confkey) WITH ORDINALITY k(n, o) JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n)::text AS refcols,
            c.confupdtype AS upd, c.confdeltype AS del, json_build_array(c.condeferrable, c.condeferred)::text AS flags, c.confmatchtype AS match
       FROM pg_constraint c JOIN pg_class rc ON rc.oid = c.confrelid JOIN pg_namespace rn ON rn.oid = rc.relnamespace
      WHERE c.conrelid = $1 AND c.contype = 'f' AND c.conparentid = 0
      ORDER BY c.conname COLLATE "C"`,
    [oid],
  );
  return r.rows.map((x) => {
    const [deferrable, initiallyDeferred] = JSON.parse(x.flags) as [boolean, boolean];
    return foreignKeyOf(
      {
        name: x.name,
        columns: JSON.parse(x.cols) as string[],
        referencedSchema: x.refns,
        referencedTable: x.reft,
        referencedColumns: JSON.parse(x.refcols) as string[],
        onUpdate: x.upd,
        onDelete: x.del,
        match: x.match,
        deferrable,
        initiallyDeferred,
      },
      namespace,
    );
  });
}

/**
 * A foreign key from pg_constraint's fields (rules and match as its letters): the referenced table
 * by its synced name when `namespace` (a schema: a sync of one) holds it, else qualified (in a sync
 * of one schema never a synced table's name; in a sync of several, the synced name when its
 * schema is synced).
 */
export function foreignKeyOf(k: TriggerForeignKey, namespace: string | SchemaScope): ForeignKey {
  const scope = typeof namespace === 'string' ? SchemaScope.one(namespace) : namespace;
  return {
    name: k.name,
    columns: [...k.columns],
    referencedTable: scope.nameOf(k.referencedSchema, k.referencedTable) ?? `${k.referencedSchema}.${k.referencedTable}`,
    referencedColumns: [...k.referencedColumns],
    onUpdate: RULE[k.onUpdate] ?? 'NO ACTION',
    onDelete: RULE[k.onDelete] ?? 'NO ACTION',
    deferrable: k.deferrable,
    initiallyDeferred: k.initiallyDeferred,
    ...(MATCH[k.match] && k.match !== 's' ? { match: MATCH[k.match] } : {}),
  };
}

/** A Column as describeTable describes it, from one catalogue row of the column's attribute and type. */
function columnOf(a: AttrRow, labels: ReadonlyMap<string, readonly string[]>, ref: TypeRef | undefined): Column {
  // The typmod the values obey: a domain's own when the column declares none.
  const valuemod = Number(a.valuemod);
  const udt = a.udt;
  return {
    name: a.name,
    dataType: udt,
    columnType: a.coltype,
    nullable: a.notnull !== 't',
    unsigned: false,
    ...(udt === 'bytea' ? { charset: 'binary' } : {}),
    ...(a.collation ? { collation: a.collation } : {}),
    ...(udt === 'numeric' ? numericTypmod(valuemod) : {}),
    ...(TEMPORAL.has(udt) ? { scale: valuemod < 0 || (valuemod & 0xffff) === 0xffff ? 6 : valuemod & 0xffff } : {}),
    ...((udt === 'bit' || udt === 'varbit') && valuemod >= 0 ? { precision: valuemod } : {}),
    ...(a.enumoid && a.enumname ? { enumType: a.enumname, enumLabels: labels.get(a.enumoid) ?? [] } : {}),
    ...(ref?.user ? { userType: ref } : {}),
  };
}

/** A column a Relation message (or an event trigger's message) names: its name, type OID and typmod. */
export interface RelationColumn {
  readonly name: string;
  readonly typeOid: number;
  readonly typmod: number;
}

/** A column described from a Relation message's type, with what the catalogue says of it now. */
export interface RelationColumnDescription {
  /** As describeTable would describe it (type from the Relation's type OID and typmod; NOT NULL and collation from the catalogue now). */
  readonly column: Column;
  /** pg_get_expr of its default in the catalogue now (null: none, or the column is no longer there). */
  readonly defaultSql: string | null;
}

/**
 * The columns of a Relation message described exactly as describeTable describes them: the type
 * comes from the message (format_type of its OID and typmod, so it is the definition at the
 * message's place in the WAL, whatever happened since), NOT NULL, collation and the default from
 * the table's catalogue now, by name (the message carries neither). A column no longer in the
 * catalogue (dropped since) is described nullable without a default.
 */
export async function describeRelationColumns(conn: Queryable, tableOid: number, cols: readonly RelationColumn[]): Promise<RelationColumnDescription[]> {
  if (cols.length === 0) return [];
  const r = await conn.query<AttrRow & { def: string | null }>(
    `SELECT r.name, COALESCE(bt.typname, t.typname) AS udt,
            format_type(r.typid, r.typmod) AS coltype, COALESCE(a.attnotnull, false) AS notnull,
            r.typid, r.typmod, '' AS generated,
            CASE WHEN t.typtype = 'd' AND r.typmod < 0 THEN t.typtypmod ELSE r.typmod END AS valuemod,
            CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation THEN co.collname END AS collation,
            COALESCE(a.attnum, 0) AS attnum, et.oid AS enumoid, et.typname AS enumname,
            CASE WHEN a.atttypid = r.typid THEN pg_get_expr(d.adbin, d.adrelid) END AS def
       FROM unnest($2::text[], $3::oid[], $4::int4[]) WITH ORDINALITY AS r(name, typid, typmod, ord)
       JOIN pg_type t ON t.oid = r.typid
       LEFT JOIN pg_type bt ON t.typtype = 'd' AND bt.oid = t.typbasetype
       LEFT JOIN pg_type et ON et.typtype = 'e'
             AND et.oid = CASE WHEN t.typtype = 'e' THEN t.oid WHEN bt.typtype = 'e' THEN bt.oid WHEN t.typcategory = 'A' THEN t.typelem END
       LEFT JOIN pg_attribute a ON a.attrelid = $1 AND a.attname = r.name AND a.attnum > 0 AND NOT a.attisdropped
       LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
       LEFT JOIN pg_collation co ON co.oid = a.attcollation
      ORDER BY r.ord`,
    [tableOid, cols.map((c) => c.name), cols.map((c) => String(c.typeOid)), cols.map((c) => c.typmod)],
  );
  const labels = await enumLabels(conn, r.rows.flatMap((a) => (a.enumoid ? [a.enumoid] : [])));
  const refs = await describeTypeRefs(conn, r.rows.map((a) => ({ oid: Number(a.typid), sql: a.coltype })));
  return r.rows.map((a, i) => ({ column: columnOf(a, labels, refs[i]), defaultSql: a.def }));
}

/** The labels of each enum type, by type oid, in the type's sort order (enumsortorder). */
async function enumLabels(conn: Queryable, oids: readonly string[]): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  if (oids.length === 0) return out;
  const r = await conn.query<{ oid: string; label: string }>(
    'SELECT enumtypid AS oid, enumlabel AS label FROM pg_enum WHERE enumtypid = ANY($1::oid[]) ORDER BY enumtypid, enumsortorder',
    [[...new Set(oids)]],
  );
  for (const row of r.rows) {
    let list = out.get(row.oid);
    if (!list) out.set(row.oid, (list = []));
    list.push(row.label);
  }
  return out;
}

/** Every leaf partition of a partitioned table (at any depth) with its replica identity. */
async function leafPartitions(conn: Queryable, oid: number): Promise<PartitionIdentity[]> {
  const r = await conn.query<{ name: string; ident: string; cols: string | null }>(
    `SELECT c.relname AS name, c.relreplident AS ident,
            (SELECT json_agg(a.attname ORDER BY k.o) FROM pg_index i
               CROSS JOIN unnest(i.indkey) WITH ORDINALITY AS k(n, o)
               JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n
              WHERE i.indrelid = c.oid AND i.indisreplident)::text AS cols
       FROM pg_partition_tree($1::oid) p JOIN pg_class c ON c.oid = p.relid
      WHERE p.isleaf AND c.oid <> $1::oid ORDER BY c.relname COLLATE "C"`,
    [oid],
  );
  return r.rows.map((p) => ({ name: p.name, replicaIdentity: replicaIdentity(p.ident), identityColumns: p.cols ? (JSON.parse(p.cols) as string[]) : [] }));
}

/**
 * Row estimate and average row size from the planner's statistics (reltuples is -1 before the
 * first ANALYZE). A partitioned table stores nothing itself: its figures are its leaf partitions'.
 * The size counts the table's TOAST (pg_table_size): large values live there, and a chunk sized by
 * the heap alone (18 bytes a TOASTed value) could hold thousands of times the bytes meant.
 */
export async function tableStats(conn: Queryable, namespace: string | SchemaScope, table: string): Promise<{ rows: number; avgRowBytes: number }> {
  const { schema, relname } = (typeof namespace === 'string' ? SchemaScope.one(namespace) : namespace).placeOf(table);
  const r = await conn.query<{ tuples: string | null; bytes: string | null }>(
    `SELECT sum(GREATEST(s.reltuples, 0)) AS tuples, sum(pg_table_size(s.oid)) AS bytes
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_class s ON (c.relkind <> 'p' AND s.oid = c.oid)
                       OR (c.relkind = 'p' AND s.oid IN (SELECT relid FROM pg_partition_tree(c.oid) WHERE isleaf))
      WHERE n.nspname = $1 AND c.relname = $2`,
    [schema, relname],
  );
  const tuples = Math.max(0, Number(r.rows[0]?.tuples ?? 0));
  const bytes = Number(r.rows[0]?.bytes ?? 0);
  return { rows: Math.round(tuples), avgRowBytes: tuples > 0 ? Math.round(bytes / tuples) : 0 };
}

/** Runs SQL on the PostgreSQL source and returns the rows as objects. */
export type PgQuery = (sql: string) => Promise<Record<string, unknown>[]>;

/**
 * The columns of a table whose values another engine's target may refuse at write time (numeric,
 * float, date, timestamp, timestamptz) and one query that counts what it would refuse: NaN and
 * ±Infinity, the most integer and fraction digits of a numeric, infinite, BC and post-9999 dates.
 * A full scan: an optional preflight (`tributary check`) that turns a failure in the middle of a
 * copy into a report before it; the write-time checks hold whether or not it ran.
 */
export function dataScanSql(table: TableSchema, schema = 'public'): { sql: string; columns: Column[] } | undefined {
  const parts: string[] = [];
  const columns: Column[] = [];
  table.columns.forEach((c, i) => {
    const q = quoteIdent(c.name);
    if (c.dataType === 'numeric') {
      const finite = `${q}::text NOT IN ('NaN','Infinity','-Infinity')`;
      parts.push(
        `count(*) FILTER (WHERE ${q}::text = 'NaN') AS n${i}`,
        `count(*) FILTER (WHERE ${q}::text = 'Infinity') AS p${i}`,
        `count(*) FILTER (WHERE ${q}::text = '-Infinity') AS m${i}`,
        `max(length(ltrim(split_part(ltrim(${q}::text, '-'), '.', 1), '0'))) FILTER (WHERE ${finite}) AS d${i}`,
        `max(length(rtrim(split_part(${q}::text, '.', 2), '0'))) FILTER (WHERE ${finite}) AS s${i}`,
      );
    } else if (c.dataType === 'float4' || c.dataType === 'float8') {
      parts.push(
        `count(*) FILTER (WHERE ${q} = 'NaN') AS n${i}`,
        `count(*) FILTER (WHERE ${q} = 'Infinity') AS p${i}`,
        `count(*) FILTER (WHERE ${q} = '-Infinity') AS m${i}`,
      );
    } else if (c.dataType === 'date' || c.dataType === 'timestamp' || c.dataType === 'timestamptz') {
      const v = c.dataType === 'timestamptz' ? `(${q} AT TIME ZONE 'UTC')` : q;
      parts.push(`count(*) FILTER (WHERE NOT isfinite(${q}) OR ${v} < '0001-01-01' OR ${v} >= '10000-01-01') AS o${i}`);
    } else return;
    columns.push(c);
  });
  if (!parts.length) return undefined;
  return { sql: `SELECT ${parts.join(', ')} FROM ${qualified(schema, table.name)}`, columns };
}

/**
 * Scans a table's data (see `dataScanSql`) and reports per column. Whether the values fit is the
 * target's to decide (the MySQL target's dataProblems, engines/mysql/check.ts).
 */
export async function scanPostgresData(query: PgQuery, table: TableSchema, schema = 'public'): Promise<ColumnValueStats[]> {
  const scan = dataScanSql(table, schema);
  if (!scan) return [];
  const [row = {}] = await query(scan.sql);
  const num = (k: string) => (row[k] === null || row[k] === undefined ? null : Number(row[k]));
  return scan.columns.map((c) => {
    const i = table.columns.indexOf(c);
    return {
      table: table.name,
      column: c.name,
      sourceType: c.columnType,
      nan: num(`n${i}`) ?? 0,
      posInfinity: num(`p${i}`) ?? 0,
      negInfinity: num(`m${i}`) ?? 0,
      maxIntegerDigits: num(`d${i}`),
      maxScale: num(`s${i}`),
      outOfRange: num(`o${i}`) ?? 0,
    };
  });
}
