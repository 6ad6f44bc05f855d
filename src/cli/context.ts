/** What every command receives from the entry point. */
export interface CliContext {
  readonly env: NodeJS.ProcessEnv;
}

const NOT_CONFIG = new Set(['config']);

/** The flags the user gave, as config keys (commander already camel-cases them). */
export function collectFlags(opts: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(opts)) if (v !== undefined && !NOT_CONFIG.has(k)) out[k] = v;
  return out;
}
