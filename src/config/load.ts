import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { z } from 'zod';
import { ErrorCode, TributaryError } from '../core/errors.js';
import { resolvePasswords } from './connection.js';
import { DURATION_RE, SyncConfigSchema, toMs, type SyncConfig } from './schema.js';

/** Config keys as they appear in YAML (kebab-case), in env (TRIBUTARY_FLUSH_INTERVAL) and flags. */
const KEYS = Object.keys(SyncConfigSchema.shape) as (keyof typeof SyncConfigSchema.shape)[];

function kebab(key: string): string {
  return key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
}
function camel(key: string): string {
  return key.replace(/[-_]([a-z])/g, (_, c: string) => c.toUpperCase());
}

const NUMERIC = new Set(['threads', 'serverId', 'chunkSize', 'batchSize', 'bufferMb', 'readyMaxLag', 'copyRateLimit', 'maxTxnOps', 'relayMaxMb']);
const BOOLEAN = new Set(['copyOnly', 'force', 'checksum', 'gtidAdoptDomains', 'decodeThread']);
const DURATION = new Set(['flushInterval', 'chunkTime', 'binlogTimeout', 'checksumInterval', 'replicaMaxLag', 'progressInterval', 'relayMinAge', 'leaderTtl', 'lockTtl']);

/** What a duration must look like, in every message about one (never the regular expression). */
export const DURATION_HINT = 'give e.g. 500ms, 2s, 5m (a bare number is milliseconds)';

/** The key as the user wrote it where it came from: `--threads`, `TRIBUTARY_THREADS`, or `threads` in a file. */
function shownKey(key: string, origin: string): string {
  if (origin === 'flag') return `--${kebab(key)}`;
  if (origin.startsWith('environment variable ')) return origin.slice('environment variable '.length);
  return origin.startsWith('config file ') ? `${kebab(key)} in ${origin}` : kebab(key);
}

/** The schema's number type of a numeric key, without its default/optional wrappers. */
function numberType(key: string): z.ZodNumber {
  let t = (SyncConfigSchema.shape as Record<string, z.ZodType>)[key] as unknown as { unwrap?: () => unknown; _def?: { innerType?: unknown } };
  while (!(t instanceof z.ZodNumber)) t = (t._def?.innerType ?? t.unwrap?.()) as typeof t;
  return t;
}

/**
 * The numbers a key takes, read from the schema ("an integer from 1 to 64", "a number above 0"),
 * so the message for '-1' and for 'abc' is one sentence.
 */
export function numberRange(key: string): string {
  const t = numberType(key);
  const min = t.minValue ?? -Infinity;
  const max = t.maxValue ?? Infinity;
  const kind = t.isInt ? 'an integer' : 'a number';
  const from = Number.isFinite(min) ? (t.safeParse(min).success ? `from ${min}` : `above ${min}`) : '';
  if (Number.isFinite(max) && max < Number.MAX_SAFE_INTEGER) return `${kind} ${from.replace(/^above/, 'over')} to ${max}`.replace(/\s+/g, ' ');
  return from.startsWith('from') ? `${kind} of ${min} or more` : `${kind} ${from}`.trim();
}

function invalidNumber(key: string, raw: unknown, origin: string): TributaryError {
  return new TributaryError(ErrorCode.CONFIG_INVALID, `${shownKey(key, origin)} '${String(raw)}' is not ${numberRange(key)}`);
}

function coerce(key: string, raw: unknown, origin: string): unknown {
  if (NUMERIC.has(key) && (typeof raw === 'string' || typeof raw === 'number')) {
    const n = typeof raw === 'number' ? raw : raw.trim() === '' ? NaN : Number(raw);
    if (!numberType(key).safeParse(n).success) throw invalidNumber(key, raw, origin);
    return n;
  }
  if (DURATION.has(key) && (typeof raw === 'string' || typeof raw === 'number')) {
    if (typeof raw === 'string' ? !DURATION_RE.test(raw) : !(Number.isFinite(raw) && raw >= 0)) {
      throw new TributaryError(ErrorCode.CONFIG_INVALID, `${shownKey(key, origin)} '${String(raw)}' is not a duration; ${DURATION_HINT}`);
    }
    return raw;
  }
  // A config file may give filters as a mapping, table: expression.
  if (key === 'where' && raw !== null && typeof raw === 'object' && !Array.isArray(raw)) return Object.entries(raw as Record<string, unknown>).map(([t, e]) => `${t}: ${String(e)}`);
  if (typeof raw !== 'string') return raw;
  if (BOOLEAN.has(key)) {
    if (/^(1|true|yes|on)$/i.test(raw)) return true;
    if (/^(0|false|no|off)$/i.test(raw)) return false;
    throw new TributaryError(ErrorCode.CONFIG_INVALID, `${shownKey(key, origin)} '${raw}' is not a boolean; use true or false`);
  }
  if (key === 'tables' || key === 'databases' || key === 'httpAllowedHosts' || key === 'oscShadows' || key === 'excludeColumns') return raw.split(',').map((s) => s.trim()).filter(Boolean);
  // One filter per line in a variable (a filter holds commas: IN lists); a flag is repeated instead.
  if (key === 'where') return raw.split('\n').map((s) => s.trim()).filter(Boolean);
  if (key === 'tableRewrites' || key === 'databaseRewrites') {
    const out: Record<string, string> = {};
    const example = key === 'tableRewrites' ? '--table-rewrites orders=orders_archive' : '--database-rewrites shop=shop_copy';
    for (const part of raw.split(',').map((s) => s.trim()).filter(Boolean)) {
      const eq = part.indexOf('=');
      if (eq < 1 || eq === part.length - 1) throw new TributaryError(ErrorCode.CONFIG_INVALID, `${shownKey(key, origin)} entry '${part}' is not source=target, e.g. ${example}`);
      out[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
    }
    return out;
  }
  if (key === 'columnTypes') {
    // table.column=TYPE[,table.column=TYPE…]
    const out: Record<string, string> = {};
    // Commas inside parentheses belong to the type: orders.total=DECIMAL(65,30),orders.note=TEXT
    for (const part of raw.split(/,(?![^(]*\))/).map((s) => s.trim()).filter(Boolean)) {
      const eq = part.indexOf('=');
      if (eq < 1) throw new TributaryError(ErrorCode.CONFIG_INVALID, `${shownKey(key, origin)} entry '${part}' is not table.column=TYPE, e.g. --column-types items.price=DECIMAL(65,30)`);
      out[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
    }
    return out;
  }
  return raw;
}

/** A mapping of config keys (kebab- or camelCase, as in a YAML file) as config keys with their values coerced; CONFIG_INVALID for an unknown key. */
export function fromObject(obj: Record<string, unknown>, origin: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    const key = camel(k);
    if (!(KEYS as string[]).includes(key)) {
      throw new TributaryError(
        ErrorCode.CONFIG_INVALID,
        `${origin}: unknown key '${k}'; allowed keys: ${KEYS.map(kebab).join(', ')}`,
      );
    }
    out[key] = coerce(key, v, origin);
  }
  return out;
}

/** Reads `TRIBUTARY_<KEY>` variables, e.g. TRIBUTARY_SOURCE, TRIBUTARY_FLUSH_INTERVAL. */
export function fromEnv(env: NodeJS.ProcessEnv): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of KEYS) {
    const name = 'TRIBUTARY_' + kebab(key).replace(/-/g, '_').toUpperCase();
    const v = env[name];
    if (v !== undefined && v !== '') out[key] = coerce(key, v, `environment variable ${name}`);
  }
  return out;
}

export function fromFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new TributaryError(ErrorCode.CONFIG_INVALID, `config file ${path} cannot be read (${(err as Error).message}); check the path`, { cause: err });
  }
  let doc: unknown;
  try {
    // Required here, not imported at the top: only a run with a config file pays for loading it.
    const { parse } = createRequire(import.meta.url)('yaml') as typeof import('yaml');
    doc = parse(text);
  } catch (err) {
    throw new TributaryError(ErrorCode.CONFIG_INVALID, `config file ${path} is not valid YAML: ${(err as Error).message}`, { cause: err });
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    throw new TributaryError(ErrorCode.CONFIG_INVALID, `config file ${path} must be a mapping of keys to values`);
  }
  return fromObject(doc as Record<string, unknown>, `config file ${path}`);
}

/** Validates a merged config, turning zod's issues into one message naming key and allowed values. */
export function validateConfig(input: Record<string, unknown>): SyncConfig {
  const result = SyncConfigSchema.safeParse(input);
  if (result.success) return result.data;
  throw new TributaryError(ErrorCode.CONFIG_INVALID, describeIssues(result.error, input));
}

/** Keys whose values are never repeated in a message: URLs (which may hold passwords), passwords, the token. */
const SECRET_KEYS = new Set(['source', 'target', 'replica', 'coordinator', 'sourcePassword', 'targetPassword', 'replicaPassword', 'coordinatorPassword', 'httpToken', 'progressWebhook', 'progressWebhookToken']);

function describeIssues(error: z.ZodError, input: Record<string, unknown>): string {
  return error.issues
    .map((issue) => {
      const key = issue.path.map(String).join('.');
      const shown = SECRET_KEYS.has(String(issue.path[0])) ? '' : ` (got ${JSON.stringify(input[String(issue.path[0])])})`;
      if (issue.code === 'unrecognized_keys') {
        return `unknown key(s) ${issue.keys.map(kebab).join(', ')}; allowed keys: ${KEYS.map(kebab).join(', ')}`;
      }
      if (issue.code === 'invalid_type' && input[String(issue.path[0])] === undefined) {
        return `${kebab(key)} is required; pass --${kebab(key)} or set it in the config file`;
      }
      // Library callers reach here with values the CLI's coerce() never lets through: same words.
      if (NUMERIC.has(key)) return `${kebab(key)} '${String(input[key])}' is not ${numberRange(key)}`;
      // A duration that parses but breaks a bound (binlog-timeout under 1s) says the bound, not the syntax.
      if (DURATION.has(key)) {
        return issue.message.startsWith('is not a duration')
          ? `${kebab(key)} '${String(input[key])}' is not a duration; ${DURATION_HINT}`
          : `${kebab(key)} '${String(input[key])}': ${issue.message}`;
      }
      return `${kebab(key)}: ${issue.message}${shown}`;
    })
    .join('; ');
}

/**
 * Merges configuration with one precedence: flags > environment > config file > defaults.
 * `flags` holds only the flags the user gave. Password files are read here, once
 * (resolvePasswords), and a role's password given in two places is refused.
 */
export function loadConfig(opts: {
  flags: Record<string, unknown>;
  configFile?: string;
  env?: NodeJS.ProcessEnv;
}): SyncConfig {
  const file = opts.configFile ? fromFile(opts.configFile) : {};
  const env = fromEnv(opts.env ?? process.env);
  const flags = fromObject(opts.flags, 'flag');
  return resolvePasswords(validateConfig({ ...file, ...env, ...flags }));
}

/** A duration flag ('500ms', '2s', '5m' or milliseconds) in milliseconds, or CONFIG_INVALID naming the flag. */
export function parseDuration(flag: string, raw: unknown): number {
  const text = String(raw);
  if (!DURATION_RE.test(text)) {
    throw new TributaryError(ErrorCode.CONFIG_INVALID, `${flag} '${text}' is not a duration; ${DURATION_HINT}`);
  }
  return toMs(text);
}
