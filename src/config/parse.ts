import { ErrorCode, TributaryError } from '../core/errors.js';
import { SyncConfigSchema, type SyncConfig, type SyncConfigInput } from './schema.js';

/**
 * A library caller's configuration (Runner, verify, move), validated: defaults filled in, or
 * CONFIG_INVALID listing each problem as `key: message`. The CLI validates earlier, with its own
 * wording (load.ts validateConfig); this is the embedding program's entry.
 */
export function parseConfig(config: SyncConfigInput | SyncConfig): SyncConfig {
  const parsed = SyncConfigSchema.safeParse(config);
  if (!parsed.success) {
    throw new TributaryError(ErrorCode.CONFIG_INVALID, parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  }
  return parsed.data;
}
