import { ErrorCode, TributaryError } from '../core/errors.js';
import type { ChangeSource, SourceIdentity } from '../core/source.js';
import type { Checkpoint } from '../core/target.js';

/** The checkpoint format this version of tributary writes and reads. */
export const CHECKPOINT_VERSION = 1;

/**
 * The resume rules: a checkpoint taken from another source is refused, and so is one whose
 * position the source no longer has. Neither case ever falls back to a silent restart.
 */
export async function assertResumable(cp: Checkpoint, source: ChangeSource, identity: SourceIdentity, opts: { readonly readOnly?: boolean } = {}): Promise<void> {
  const stream = cp.stream;
  if (!stream) return;
  if (stream.sourceId !== identity.id && source.capabilities.lineagePositions) {
    // A GTID position names the lineage: the source decides whether this server (a promoted
    // replica) holds the checkpoint's history, and refuses a file+position one itself.
    await source.checkPosition(stream.position, { ...opts, otherServer: stream.sourceId });
    return;
  }
  if (stream.sourceId !== identity.id) {
    throw new TributaryError(
      ErrorCode.SOURCE_CHANGED,
      `the checkpoint was taken from source '${stream.sourceId}' but the source is now '${identity.id}'; resuming would skip or repeat changes. Point --source at the original server, or start over with --force`,
    );
  }
  await source.checkPosition(stream.position, opts);
}
