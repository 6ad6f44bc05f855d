/**
 * tributary as a library: construct a Runner from the same config the CLI validates, then
 * `run(signal)` until cancelled. Sources and targets may be injected through the seams below.
 */
export { Runner, type RunnerOptions } from './runner/runner.js';
export { deriveSyncId } from './config/sync-id.js';
export type { Progress, TableProgress, Phase } from './runner/progress.js';
export { SyncConfigSchema, type SyncConfig, type SyncConfigInput } from './config/schema.js';
export { loadConfig } from './config/load.js';
export { parseDsn, redactUrl, type Dsn } from './config/dsn.js';
export { TributaryError, AbortedError, ErrorCode } from './core/errors.js';
export type { ChangeSource, DatabaseDefaults, KeyRange, SourceIdentity } from './core/source.js';
export type { SourceAdmin, SourceCapabilities } from './core/source-admin.js';
export { notSupported } from './core/source-admin.js';
export type { SnapshotReader } from './core/snapshot.js';
export { COMPARABLE_DIGEST, type ComparableForm } from './core/comparable.js';
export type { ChangeLog, StreamRequest } from './core/change-log.js';
export type { Target, TargetCapabilities, TargetTransaction, Checkpoint, StreamCheckpoint, TableCheckpoint, ChunkCommit, LockWatch, SchemaOptions } from './core/target.js';
export type { TargetWriter } from './core/target-writer.js';
export type { CheckpointStore } from './core/checkpoint-store.js';
export type { TargetReader } from './core/target-reader.js';
export { rowOf, type Change, type StreamEvent } from './core/change.js';
export type { Column, TableSchema } from './core/schema.js';
export type { Value, Row } from './core/values.js';
export type { RowFilter } from './core/row-filter.js';
export { transformSource, TransformRules, type PredicatePair, type TransformConfig } from './transform/transform.js';
export { MysqlSource, MysqlTarget } from './engines/mysql/index.js';
export { verify, type VerifyOptions } from './runner/verify.js';
export { move, type MoveOptions, type MoveReport, type MoveStep } from './runner/move.js';
export { ContinuousChecker, type CheckerOptions, type CheckerStatus, type CheckerState, type RepairEvent } from './checksum/continuous.js';
export type { VerifyResult, VerifyTotals, TableReport, RangeReport, KeyReport, KeyJson, JsonValue } from './checksum/report.js';
export { checkChunk, repairChunk, repairDifferences, readChunkPair, DEFAULT_RECHECK, type ChunkCheck, type ChunkContext, type RecheckPolicy } from './checksum/chunk.js';
export { compareRows, type Comparison, type KeyDifference, type DifferenceKind } from './checksum/compare.js';
export { planTable, type TablePlan, type Mode as ChecksumMode } from './checksum/plan.js';
export { HttpApi, type HttpApiOptions } from './server/server.js';
export { ProgressWebhook, type ProgressWebhookOptions, type WebhookBody, type WebhookEvent } from './server/webhook.js';
export { buildStatus, readiness, type StatusJson, type Readiness, type StatusSource } from './server/status.js';
export { renderMetrics, SyncMetrics, type SyncMetricsOptions } from './server/metrics.js';
export { NO_OBSERVER, type SyncObserver } from './core/observer.js';
export type { RunnerHealth } from './runner/progress.js';
