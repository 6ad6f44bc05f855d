import type { ChangeLog } from './change-log.js';
import type { SnapshotReader } from './snapshot.js';
import type { SourceAdmin } from './source-admin.js';

export type { ChangeLog } from './change-log.js';
export type { ChunkDigest, CopyOrder, EncodedChunk, KeyRange, SnapshotReader } from './snapshot.js';
export type { ColumnValueStats, DatabaseDefaults, SourceAdmin, SourceCapabilities, SourceIdentity } from './source-admin.js';
export { notSupported } from './source-admin.js';

/**
 * A database whose tables can be copied and whose changes can be streamed: its admin side
 * (SourceAdmin, core/source-admin.ts), its snapshot reader (SnapshotReader, core/snapshot.ts) and
 * its change log (ChangeLog, core/change-log.ts), one object. Each role's file states its members'
 * contracts.
 *
 * Lifecycle: `connect()` once, then any of the other methods, then `close()`. Positions are opaque
 * strings outside the source: only the source encodes, parses and compares them.
 */
export interface ChangeSource extends SourceAdmin, SnapshotReader, ChangeLog {}
