import type { ChangeSource } from '../core/source.js';

/**
 * The rules that stand between a source and every consumer of its rows (the copier, the applier,
 * the checksum): table and column renames, row filters, excluded columns. None exist yet: the
 * selective-sync issue adds them here, and nothing else needs to change to carry them, because
 * every consumer reads the source that `transformSource` returns.
 *
 * Contract for the rules to come: a rule changes what consumers see of a table (its name, its
 * columns, which rows exist) the same way on each path (a copied chunk, a streamed change, a
 * checksum's read), so that copy, stream and checksum agree on one view of the source.
 */
export interface TransformRules {
  /** True when the rules change nothing: the source is handed on as it is, at no cost per row. */
  readonly identity: true;
}

/** No rules: what every sync has today. */
export const NO_TRANSFORM: TransformRules = { identity: true };

/**
 * The source as its consumers see it under `rules`. With no rules (the only case today) it is the
 * source itself, not a wrapper: the identity costs nothing per row.
 */
export function transformSource(source: ChangeSource, _rules: TransformRules): ChangeSource {
  return source;
}
