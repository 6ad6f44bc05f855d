/**
 * tributary as a library: construct a Runner from the same config the CLI validates, then
 * `run(signal)` until cancelled. Sources and targets may be injected through the seams below.
 */
export { Runner, deriveSyncId, type RunnerOptions } from './runner/runner.js';
export type { Progress, TableProgress, Phase } from './runner/progress.js';
export { SyncConfigSchema, type SyncConfig, type SyncConfigInput } from './config/schema.js';
export { loadConfig } from './config/load.js';
export { parseDsn, redactUrl, type Dsn } from './config/dsn.js';
export { TributaryError, AbortedError, ErrorCode } from './core/errors.js';
export type { ChangeSource, KeyRange, SourceIdentity } from './core/source.js';
export type { Target, TargetCapabilities, TargetTransaction, Checkpoint, StreamCheckpoint, TableCheckpoint, ChunkCommit } from './core/target.js';
export type { Change, StreamEvent } from './core/change.js';
export type { Column, TableSchema } from './core/schema.js';
export type { Value, Row } from './core/values.js';
export { MysqlSource } from './sources/mysql/source.js';
export { MysqlTarget } from './targets/mysql/target.js';
