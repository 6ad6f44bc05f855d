import { crc32 } from 'node:zlib';
import { mkdir, open, readdir, readFile, rename, rm, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ErrorCode, TributaryError } from '../core/errors.js';

/**
 * The relay's metadata, `DIR/relay.json`, written only by the relay's writer process and always
 * replaced whole (writeJsonAtomic), so a reader of it sees the old or the new version, never a mix.
 * It is a summary for operators and readers: the segment files are the truth about records (the
 * writer reconciles the list with the folder on open), the reader files (`DIR/readers/<id>.json`,
 * each written by its own reader) the truth about reader positions. What only it holds: the
 * source's identity and which readers are lost.
 */
export interface RelayMeta {
  readonly version: 1;
  /**
   * The identity of the server the directory was made for (opaque). A writer for another server is
   * refused unless its caller admitted that server as the same lineage (RelayWriterOptions.admit).
   */
  readonly sourceId: string;
  /**
   * The server the relay streams from now (its last durable records came from it): its identity
   * and, when the source URL names several hosts, its host:port. Absent in a directory no writer
   * of this version opened: the server is then `sourceId`'s.
   */
  readonly server?: RelayServer;
  /** Each move of the relay to another server of the lineage (failover by GTID), oldest first. */
  readonly switches?: readonly RelaySwitch[];
  /** The last durable transaction (or, before any, where the relay began). */
  readonly durable: { readonly position: string; readonly gtidSet?: string; readonly ordinal: number; readonly updatedAt: number };
  /** Segments oldest first. `endedAt`: when the writer rolled past it (absent on the last). */
  readonly segments: readonly SegmentMeta[];
  /** Registered readers and their acknowledged positions (folded in from the reader files). */
  readonly readers: Readonly<Record<string, { readonly position: string; readonly updatedAt: number }>>;
  /** Readers the space limit overtook: they refuse to resume (RELAY_READER_LOST). */
  readonly lostReaders: Readonly<Record<string, { readonly position: string; readonly at: number; readonly reason: string }>>;
}

/** A server the relay streams from: its identity (opaque, as the source reports it) and its host:port when known. */
export interface RelayServer {
  readonly id: string;
  readonly host?: string;
  /** Since when (ms since epoch). */
  readonly since: number;
}

/**
 * One move to another server: the relay's last durable transaction from `from` was `ordinal` (at
 * `position`, GTID set `gtidSet`); every record after it came from `to`, which held that GTID
 * position (the containment checks passed) when the relay moved.
 */
export interface RelaySwitch {
  readonly from: string;
  readonly fromHost?: string;
  readonly to: string;
  readonly toHost?: string;
  readonly ordinal: number;
  readonly position: string;
  readonly gtidSet?: string;
  readonly at: number;
}

/** The server the relay's last durable records came from. */
export function currentServer(meta: RelayMeta): string {
  return meta.server?.id ?? meta.sourceId;
}

/** Every server identity of the relay's lineage: the first, the current one and each one it moved between. */
export function lineageServers(meta: RelayMeta): Set<string> {
  return new Set([meta.sourceId, currentServer(meta), ...(meta.switches ?? []).flatMap((s) => [s.from, s.to])]);
}

/** One segment as relay.json lists it: its header's fields, and once the writer rolled past it, when and at what size. */
export interface SegmentMeta {
  readonly seq: number;
  readonly startPosition: string;
  readonly startGtidSet?: string;
  readonly firstOrdinal: number;
  readonly createdAt: number;
  readonly endedAt?: number;
  readonly bytes?: number;
}

export const META_FILE = 'relay.json';
export const DURABLE_FILE = 'durable';
export const READERS_DIR = 'readers';

/**
 * Replaces `path` with `data` so that a crash at any point leaves either the old file or the new
 * one: write a temporary file beside it, fsync it, rename it over `path`, fsync the folder.
 * `beforeRename` is a test hook (a crash there must leave the old file).
 */
export async function writeJsonAtomic(path: string, data: unknown, hooks: { beforeRename?: () => void } = {}): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(JSON.stringify(data, null, 1) + '\n');
    await fh.sync();
  } finally {
    await fh.close();
  }
  hooks.beforeRename?.();
  await rename(tmp, path);
  await fsyncDir(dirname(path));
}

/** fsync of a folder, so a file created, renamed or removed in it stays so after a crash. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Removes temporary files a crash left beside `relay.json` or a reader file (they were never
 * renamed: not the truth). A live process's temporary file (a reader acknowledging right now) stays.
 */
export async function removeStaleTemps(dir: string): Promise<void> {
  for (const d of [dir, join(dir, READERS_DIR)]) {
    let names: string[];
    try {
      names = await readdir(d);
    } catch {
      continue;
    }
    for (const n of names) {
      const pid = /\.json\.tmp-(\d+)$/.exec(n)?.[1];
      if (pid !== undefined && !processAlive(Number(pid))) await rm(join(d, n), { force: true });
    }
  }
}

/** True when a process with this pid exists (it may be another program that reused the pid: callers err on the safe side). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** `DIR/relay.json`, or undefined when there is none yet. */
export async function readMeta(dir: string): Promise<RelayMeta | undefined> {
  const path = join(dir, META_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const meta = JSON.parse(text) as RelayMeta;
    if (meta.version !== 1) throw new Error(`format version ${String(meta.version)}`);
    return meta;
  } catch (err) {
    throw new TributaryError(ErrorCode.RELAY_CORRUPT, `relay metadata ${path} cannot be read: ${(err as Error).message}; fix: it is only ever replaced whole, so this is damage or another program's file — restore it, or delete the relay directory and start the relay again`, { cause: err });
  }
}

export async function writeMeta(dir: string, meta: RelayMeta, hooks?: { beforeRename?: () => void }): Promise<void> {
  await writeJsonAtomic(join(dir, META_FILE), meta, hooks);
}

// ---- the durable mark ----
// `DIR/durable`: 28 bytes, overwritten in place by the writer after every group commit's fsync:
// the segment, the byte offset in it up to which records are durable, the next ordinal (three
// little-endian doubles), and a CRC32 of those 24 bytes. Readers in other processes read only up to
// it. It is itself not fsynced (after a machine crash it may be older, never newer than the data).

/** Up to where records are durable: every byte of segment `seq` before `offset`, and every earlier segment. */
export interface DurableMark {
  readonly seq: number;
  readonly offset: number;
  /** The ordinal the next record will have. */
  readonly nextOrdinal: number;
}

export function encodeMark(m: DurableMark): Buffer {
  const b = Buffer.alloc(28);
  b.writeDoubleLE(m.seq, 0);
  b.writeDoubleLE(m.offset, 8);
  b.writeDoubleLE(m.nextOrdinal, 16);
  b.writeUInt32LE(crc32(b.subarray(0, 24)), 24);
  return b;
}

/** The durable mark in `DIR/durable`, or undefined when there is none or it does not check out. */
export async function readMark(dir: string): Promise<DurableMark | undefined> {
  let b: Buffer;
  try {
    b = await readFile(join(dir, DURABLE_FILE));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  if (b.length < 28 || crc32(b.subarray(0, 24)) !== b.readUInt32LE(24)) return undefined;
  return { seq: b.readDoubleLE(0), offset: b.readDoubleLE(8), nextOrdinal: b.readDoubleLE(16) };
}

/** The durable-mark file, opened for in-place writes (created when missing). */
export async function openMarkFile(dir: string): Promise<FileHandle> {
  try {
    return await open(join(dir, DURABLE_FILE), 'r+');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    return open(join(dir, DURABLE_FILE), 'w+');
  }
}

// ---- reader files ----

/** A registered reader's own file: its id and the position it acknowledged (it has everything up to it). */
export interface ReaderFile {
  readonly id: string;
  readonly position: string;
  readonly updatedAt: number;
}

export function readerFile(dir: string, id: string): string {
  if (!/^[A-Za-z0-9._-]{1,100}$/.test(id) || id.startsWith('.')) {
    throw new TributaryError(ErrorCode.CONFIG_INVALID, `relay reader id ${JSON.stringify(id)} is not usable as a file name; fix: use 1-100 letters, digits, '.', '_' or '-', not starting with '.'`);
  }
  return join(dir, READERS_DIR, `${id}.json`);
}

/** Registers reader `id` at `position` (or moves it there): retention keeps every record after it. */
export async function writeReaderFile(dir: string, id: string, position: string, now = Date.now()): Promise<void> {
  const path = readerFile(dir, id);
  await mkdir(dirname(path), { recursive: true });
  await writeJsonAtomic(path, { id, position, updatedAt: now } satisfies ReaderFile);
}

/** Every registered reader's file (unreadable ones skipped: a reader rewrites its file whole). */
export async function readReaderFiles(dir: string): Promise<ReaderFile[]> {
  let names: string[];
  try {
    names = await readdir(join(dir, READERS_DIR));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const out: ReaderFile[] = [];
  for (const n of names.filter((x) => x.endsWith('.json')).sort()) {
    try {
      const r = JSON.parse(await readFile(join(dir, READERS_DIR, n), 'utf8')) as ReaderFile;
      if (typeof r.id === 'string' && typeof r.position === 'string') out.push(r);
    } catch {
      // Removed or replaced between readdir and read: the next pass sees it.
    }
  }
  return out;
}

/** RELAY_READER_LOST for a reader the space limit overtook. */
export function readerLost(dir: string, id: string, lost: { position: string; at: number; reason: string }): TributaryError {
  return new TributaryError(
    ErrorCode.RELAY_READER_LOST,
    `relay reader ${id} in ${dir} was marked lost at ${new Date(lost.at).toISOString()} at position ${lost.position}: ${lost.reason}; fix: the relay no longer holds the changes it needs — resync this reader's target from the source (a new initial copy), or raise the relay's space limit so it does not happen again`,
  );
}

// ---- the relay's tables ----

export const TABLES_FILE = 'tables.json';

/**
 * The source tables whose changes the relay stores (names as the source names them), replaced
 * whole by the relay process at start and whenever a schema change brings a table in. A sync
 * reading the relay checks that it takes none outside them: their changes are not in the relay.
 */
export async function writeTablesFile(dir: string, tables: readonly string[]): Promise<void> {
  await writeJsonAtomic(join(dir, TABLES_FILE), { tables: [...tables].sort() });
}

/** The relay's tables (writeTablesFile), or undefined when no relay wrote them yet. */
export async function readTablesFile(dir: string): Promise<string[] | undefined> {
  try {
    const o = JSON.parse(await readFile(join(dir, TABLES_FILE), 'utf8')) as { tables?: unknown };
    return Array.isArray(o.tables) ? o.tables.filter((t): t is string => typeof t === 'string') : undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
