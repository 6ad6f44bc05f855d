import { ErrorCode, TributaryError } from './errors.js';

/**
 * How much an unmet requirement matters: an `error` refuses the sync (and fails `tributary
 * check`), a `warning` is printed but lets it run, an `info` line only reports a value.
 */
export type Severity = 'error' | 'warning' | 'info';

/**
 * One requirement on a source or target, its current value and the fix. The same list serves
 * `tributary check` (every entry, one ✔/✘ line each) and a sync's preflight (the failing errors
 * become one TributaryError), so the two can never disagree.
 */
export interface Requirement {
  readonly name: string;
  readonly ok: boolean;
  /** The current value as the server reports it (never a password). */
  readonly value: string;
  /** What to do when it is not met (or a note when it is, for info lines). */
  readonly fix: string;
  readonly severity: Severity;
  /** The code a refusal carries (SOURCE_SETTING, PRIVILEGE_MISSING, TABLE_UNSUPPORTED, …). */
  readonly code: ErrorCode;
  /** The table it concerns, for requirements of one table (reported under "tables"). */
  readonly table?: string;
  /** A type-mapping line (source type → target type and its policy), reported under "type mapping". */
  readonly mapping?: boolean;
}

/** The requirements that refuse a run: not met, severity error. */
export function failing(reqs: readonly Requirement[]): Requirement[] {
  return reqs.filter((r) => !r.ok && r.severity === 'error');
}

/**
 * Throws one error naming every failing requirement (`where` names the server, without its
 * password), with the code of the first; warnings and info lines never refuse.
 */
export function assertRequirements(reqs: readonly Requirement[], where: string): void {
  const bad = failing(reqs);
  if (bad.length === 0) return;
  const first = bad[0] as Requirement;
  throw new TributaryError(
    first.code,
    `${where} does not meet ${bad.length === 1 ? 'a requirement' : `${bad.length} requirements`}: ` + bad.map((r) => `${r.name} is ${r.value}; fix: ${r.fix}`).join('; '),
  );
}

