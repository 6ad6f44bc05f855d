import { ErrorCode, TributaryError } from '../core/errors.js';
import { isQualified, splitName } from '../core/names.js';

function globToRegExp(glob: string): RegExp {
  const re = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${re}$`);
}

/**
 * Whether one --tables pattern takes a table. A qualified name (`db.table`, a sync of several
 * databases: core/names.ts) is matched whole by a pattern holding a '.', and by its table part
 * alone by a bare pattern (`orders` takes the orders table of every selected database).
 */
function patternTakes(re: RegExp, qualifiedPattern: boolean, name: string): boolean {
  return re.test(!qualifiedPattern && isQualified(name) ? splitName(name).table : name);
}

/**
 * Whether a table of this name is one the sync covers under `patterns` (all tables when empty):
 * what decides whether a table created or renamed while streaming starts being synced.
 */
export function tableSelected(name: string, patterns: readonly string[]): boolean {
  return patterns.length === 0 || patterns.some((p) => patternTakes(globToRegExp(p), p.includes('.'), name));
}

/**
 * The names among `all` (a server's databases or schemas: `kind`) that `patterns` (names or globs)
 * take, in `all`'s order. A pattern that takes none is an error (NO_TABLES) naming it and what there is.
 */
export function selectDatabases(all: readonly string[], patterns: readonly string[], where: string, kind: 'database' | 'schema' = 'database'): string[] {
  const unmatched = patterns.filter((p) => !all.some((d) => globToRegExp(p).test(d)));
  if (unmatched.length) {
    throw new TributaryError(
      ErrorCode.NO_TABLES,
      `--databases ${unmatched.map((p) => `'${p}'`).join(', ')} match${unmatched.length > 1 ? '' : 'es'} no ${kind} of ${where} (it has: ${all.slice(0, 20).join(', ') || 'none'}${all.length > 20 ? ', …' : ''}); fix the name or glob`,
    );
  }
  return all.filter((d) => patterns.some((p) => globToRegExp(p).test(d)));
}

/**
 * The source tables a sync covers: all of them when `patterns` is empty, else those matching a
 * name or glob. A pattern that matches nothing is an error (NO_TABLES, a usage error) naming every
 * such pattern, so a typo never syncs less than asked.
 */
export function selectTables(all: readonly string[], patterns: readonly string[], database: string): string[] {
  if (patterns.length === 0) {
    if (all.length === 0) {
      throw new TributaryError(ErrorCode.NO_TABLES, `source database '${database}' has no tables; create some or point --source at another database${database.includes(',') ? ' (or --databases at others)' : ''}`);
    }
    return [...all];
  }
  const chosen = new Set<string>();
  const unmatched: string[] = [];
  for (const p of patterns) {
    const re = globToRegExp(p);
    const hits = all.filter((t) => patternTakes(re, p.includes('.'), t));
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
