import type { Column, TableSchema } from './schema.js';

/**
 * One typed operation of a DDL statement on a synced table: what a source's schema change becomes
 * once parsed, so that each target renders it in its own dialect. Today no source parses its DDL:
 * a schema change reaches the stream as a `ddl` event with its statement only, and the sync stops
 * there (TRIB_DDL_UNSUPPORTED) unless it is a replay of a change already in effect. The issue that
 * makes the schema follow the source fills `operations` and applies them.
 */
export type SchemaOperation =
  | { readonly op: 'add-column'; readonly table: string; readonly column: Column; readonly after?: string }
  | { readonly op: 'drop-column'; readonly table: string; readonly column: string }
  | { readonly op: 'modify-column'; readonly table: string; readonly column: Column }
  | { readonly op: 'rename-column'; readonly table: string; readonly from: string; readonly to: string }
  | { readonly op: 'add-index'; readonly table: string; readonly name: string; readonly columns: readonly string[]; readonly unique: boolean }
  | { readonly op: 'drop-index'; readonly table: string; readonly name: string }
  | { readonly op: 'rename-table'; readonly from: string; readonly to: string }
  | { readonly op: 'create-table'; readonly table: TableSchema }
  | { readonly op: 'drop-table'; readonly table: string }
  | { readonly op: 'truncate'; readonly table: string };
