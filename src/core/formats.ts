/**
 * Names of the encoded chunk formats a source may render and a target may load directly
 * (TargetCapabilities.chunkFormats, ChangeSource.readChunkEncoded). Defined here, apart from either
 * engine, because a source of one engine renders the format of a target of another.
 */

/**
 * PostgreSQL's COPY text format (loaded by the PostgreSQL target): one line per row, columns in
 * TableSchema.columns order separated by tab, each value in the input syntax of its target column,
 * backslash, tab, newline and CR escaped, NULL as \N. Rendered by a PostgreSQL source as its own
 * COPY output, and by a MySQL source by each column's logical type, as the input of the PostgreSQL
 * type the PostgreSQL engine gives that logical type (engines/mysql/load.ts pgCopySelect, which
 * lists the rendering per logical kind).
 */
export const PG_COPY_TEXT = 'postgres-copy-text';

/**
 * PostgreSQL's binary COPY format (loaded by the PostgreSQL target): the signature header, one
 * tuple per row with columns in TableSchema.columns order, each value in its type's binary send
 * form, then the trailer. Rendered only by a PostgreSQL source, for tables whose columns are all
 * built-in types (a user type's binary form carries its server-local OID, in arrays and records),
 * and loaded only into target columns of exactly the source's declared types. It spares both
 * servers the text output and input functions (timestamps and numerics above all).
 */
export const PG_COPY_BINARY = 'postgres-copy-binary';

/**
 * The text format of LOAD DATA chunks (loaded by the MySQL target with LOAD DATA LOCAL INFILE,
 * engines/mysql/load.ts): one line per row, fields in `TableSchema.columns` order, separated by
 * tab, `\N` for NULL, backslash escapes for `\ tab newline CR NUL`; binary columns as hex (spatial
 * values too: their stored SRID + WKB), BIT as an unsigned number, YEAR with four digits (LOAD
 * DATA reads '0' as 2000). Rendered in SQL by a MySQL source (engines/mysql/load.ts tsvSelect).
 */
export const MYSQL_TSV = 'mysql-load-data-tsv';

/**
 * Rows as etcd values (loaded by the etcd target, engines/etcd/target.ts writeEncodedChunk): one
 * line per row, the row's primary key values as their text (each an integer's digits: the format
 * is for integer keys only), a tab after each, then the row as the JSON object the etcd target's
 * values.ts renderRow renders for it, byte for byte (members in TableSchema.columns order, named
 * by the columns' names), then a newline. Neither a key's text nor the object holds a tab or a
 * newline. Rendered in SQL by a MySQL source for the logical types it can render exactly
 * (engines/mysql/json.ts), so Node neither decodes the row's values nor renders them.
 */
export const ETCD_JSON_LINES = 'etcd-json-lines';
