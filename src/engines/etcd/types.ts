import type { TableSchema } from '../../core/schema.js';

/**
 * etcd has no column types: it stores the source's definitions (the versioned schema rows of the
 * checkpoint) and writes each value in the JSON form of its logical type (core/json-row.ts). A table
 * described by this engine is the source's, logical types and all, so there is nothing to fill in.
 */
export function withLogical(table: TableSchema): TableSchema {
  return table;
}
