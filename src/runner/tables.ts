import { ErrorCode, TributaryError } from '../core/errors.js';

function globToRegExp(glob: string): RegExp {
  const re = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${re}$`);
}

/**
 * The source tables a sync covers: all of them when `patterns` is empty, else those matching a
 * name or glob. A pattern that matches nothing is an error, so a typo never syncs less than asked.
 */
export function selectTables(all: readonly string[], patterns: readonly string[], database: string): string[] {
  if (patterns.length === 0) {
    if (all.length === 0) {
      throw new TributaryError(ErrorCode.NO_TABLES, `source database '${database}' has no tables; create some or point --source at another database`);
    }
    return [...all];
  }
  const chosen = new Set<string>();
  for (const p of patterns) {
    const re = globToRegExp(p);
    const hits = all.filter((t) => re.test(t));
    if (hits.length === 0) {
      throw new TributaryError(
        ErrorCode.NO_TABLES,
        `--tables pattern '${p}' matches no table of source database '${database}' (it has: ${all.slice(0, 20).join(', ') || 'none'}${all.length > 20 ? ', …' : ''}); fix the name or glob`,
      );
    }
    hits.forEach((h) => chosen.add(h));
  }
  return all.filter((t) => chosen.has(t));
}
