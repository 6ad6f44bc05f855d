import { qualify, splitName } from '../../core/names.js';
import { quoteIdent } from './sql.js';

/** Where a synced table lives on the source: its schema and its relation's own name there. */
export interface RelationName {
  readonly schema: string;
  readonly relname: string;
}

/**
 * The schemas a PostgreSQL source syncs and how it names their tables (core/names.ts). A sync of
 * one schema (the URL's `?schema=`, default `public`) names a table by its relation name alone
 * (`orders`); a sync of several (`--databases`, schemas of the URL's database) names it
 * `schema.table` (`shop.orders`), as a MySQL source under --databases names `db.table`.
 *
 * Every catalogue read, publication change and stream message goes through it, so a relation
 * (schema, relname) and a synced name always map the same way both ways.
 */
export class SchemaScope {
  private constructor(
    /** The synced schemas, in the order their tables are listed. */
    readonly schemas: readonly string[],
    /** The schema whose tables are named bare (a sync of one); undefined for a sync of several. */
    readonly bare: string | undefined,
  ) {}

  /** A sync of one schema: its tables named bare. */
  static one(schema: string): SchemaScope {
    return new SchemaScope([schema], schema);
  }

  /** A sync of several schemas: their tables named `schema.table`. */
  static several(schemas: readonly string[]): SchemaScope {
    return new SchemaScope([...schemas], undefined);
  }

  /** Whether `schema` is one of the synced schemas. */
  has(schema: string): boolean {
    return this.schemas.includes(schema);
  }

  /**
   * The synced name of relation `relname` of `schema`; undefined when the scope has not that
   * schema (a relation there is none of the sync's).
   */
  nameOf(schema: string, relname: string): string | undefined {
    if (!this.has(schema)) return undefined;
    return this.bare === undefined ? qualify(schema, relname) : relname;
  }

  /** The relation a synced name stands for (a qualified name is split at its first '.'). */
  placeOf(name: string): RelationName {
    if (this.bare !== undefined) return { schema: this.bare, relname: name };
    const { namespace, table } = splitName(name);
    return { schema: namespace ?? this.schemas[0] ?? 'public', relname: table };
  }

  /** `"schema"."relname"` of a synced name. */
  quoted(name: string): string {
    const p = this.placeOf(name);
    return `${quoteIdent(p.schema)}.${quoteIdent(p.relname)}`;
  }

  /** A synced name as a statement names it: `"orders"` in a sync of one schema, `"shop"."orders"` in a sync of several. */
  shown(name: string): string {
    return this.bare !== undefined ? quoteIdent(name) : this.quoted(name);
  }

  /**
   * Whether a relation of this own name can be synced: in a sync of one schema a '.' in it would
   * read as the end of a schema's name on the target (core/names.ts), so such a table is left out;
   * a sync of several qualifies every name and splits it at its first '.'.
   */
  syncable(relname: string): boolean {
    return this.bare === undefined || !relname.includes('.');
  }
}
