import { ErrorCode, TributaryError } from '../core/errors.js';

function globToRegExp(glob: string): RegExp {
  const re = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${re}$`);
}

/**
 * Whether a table of this name is one the sync covers under `patterns` (all tables when empty):
 * what decides whether a table created or renamed while streaming starts being synced.
 */
export function tableSelected(name: string, patterns: readonly string[]): boolean {
  return patterns.length === 0 || patterns.some((p) => globToRegExp(p).test(name));
}

/**
 * The source tables a sync covers: all of them when `patterns` is empty, else those matching a
 * name or glob. A pattern that matches nothing is an error (NO_TABLES, a usage error) naming every
 * such pattern, so a typo never syncs less than asked.
 */
export function selectTables(all: readonly string[], patterns: readonly string[], database: string): string[] {
  if (patterns.length === 0) {
    if (all.length === 0) {
      throw new TributaryError(ErrorCode.NO_TABLES, `source database '${database}' has no tables; create some or point --source at another database`);
    }
    return [...all];
  }
  const chosen = new Set<string>();
  const unmatched: string[] = [];
  for (const p of patterns) {
    const re = globToRegExp(p);
    const hits = all.filter((t) => re.test(t));
    if (hits.length === 0) unmatched.push(p);
    hits.forEach((h) => chosen.add(h));
  }
  // Every pattern that matched nothing is named, even when others matched: a typo never syncs less.
  if (unmatched.length) {
    const shown = unmatched.map((p) => `'${p}'`).join(', ');
    throw new TributaryError(
      ErrorCode.NO_TABLES,
      `--tables pattern${unmatched.length > 1 ? 's' : ''} ${shown} match${unmatched.length > 1 ? '' : 'es'} no table of source database '${database}' (it has: ${all.slice(0, 20).join(', ') || 'none'}${all.length > 20 ? ', …' : ''}); fix the name or glob, or drop ${unmatched.length > 1 ? 'them' : 'it'} from --tables`,
    );
  }
  return all.filter((t) => chosen.has(t));
}
