// The relay log's storage (issue 16): segment files of committed source transactions, written by
// one RelayWriter, read by any number of RelayReaders, trimmed by applyRetention. README.md has the
// file format and the rules.
export { RelayWriter, type RelayWriterOptions, type DurablePosition, type TornTail } from './writer.js';
export { RelayReader, type RelayReaderOptions } from './reader.js';
export { applyRetention, type RetentionOptions, type RetentionResult } from './retention.js';
export { readMeta, writeReaderFile as registerReader, type RelayMeta, type SegmentMeta, type DurableMark } from './meta.js';
export type { RelayTransaction, StoredTransaction, SegmentHeader } from './record.js';
export { readReaderFiles, readTablesFile, writeTablesFile, type ReaderFile } from './meta.js';
export { segmentFile } from './segment.js';
export { foldSchemas, streamSchemas } from './schemas.js';
export { relayChangeLog, type RelayChangeLogOptions } from './change-log.js';
