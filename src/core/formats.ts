/**
 * Names of the encoded chunk formats a source may render and a target may load directly
 * (TargetCapabilities.chunkFormat, ChangeSource.readChunkEncoded). Defined here, apart from either
 * engine, because a source of one engine renders the format of a target of another.
 */

/**
 * PostgreSQL's COPY text format (loaded by the PostgreSQL target): one line per row, columns in
 * TableSchema.columns order separated by tab, each value in the input syntax of its target column,
 * backslash, tab, newline and CR escaped, NULL as \N. Rendered by a PostgreSQL source as its own
 * COPY output, and by a MySQL source for the types of typemap/mysql-to-postgres.ts
 * (sources/mysql/pgcopy.ts).
 */
export const PG_COPY_TEXT = 'postgres-copy-text';
