import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { connectionDsn } from '../config/connection.js';
import { describeDsn, parseHostPort, preferHost } from '../config/dsn.js';
import { toMs, type SyncConfig } from '../config/schema.js';
import { selectTables, tableSelected } from '../config/tables.js';
import type { StreamEvent } from '../core/change.js';
import { AbortedError, ErrorCode, TributaryError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { keyedTable, type TableSchema } from '../core/schema.js';
import type { ChangeSource, SourceIdentity } from '../core/source.js';
import { openSource, withLogicalTypes } from '../engines/registry.js';
import { applyRetention, readMeta, readReaderFiles, RelayWriter, segmentFile, streamSchemas, writeTablesFile } from '../relay/index.js';
import { MAX_ATTEMPTS, reconnectDelayMs, sleep } from './retry.js';

/** Past this many bytes appended and not yet durable, the relay waits for the group commit before reading on. */
const BUFFER_LIMIT = 8 * 1024 * 1024;
/** A heartbeat at a position already stored is stored again at most this often (readers' lag). */
const HEARTBEAT_EVERY_MS = 5000;
/** The refusals of a move to another server (GTID containment, or positions of one server only). */
const REFUSALS: ReadonlySet<string> = new Set([ErrorCode.SOURCE_BEHIND, ErrorCode.SOURCE_DIVERGED, ErrorCode.POSITION_LOST, ErrorCode.GTID_DOMAIN_UNKNOWN, ErrorCode.SOURCE_CHANGED]);

/** What GET /status of a relay answers. */
export interface RelayStatus {
  readonly relayDir: string;
  /** The source URL without its password. */
  readonly source: string;
  readonly sourceId: string | undefined;
  /** The host in use (host:port) when the source URL names several or the relay was moved (switch-source); null otherwise. */
  readonly sourceHost: string | null;
  /** Moves to another server of the lineage since the directory was made (relay.json `switches`). */
  readonly switches: number;
  readonly state: 'starting' | 'streaming' | 'paused' | 'retrying' | 'stopped' | 'failed';
  readonly paused: boolean;
  /** The source's latest logged position, when the source reports one. */
  readonly sourcePosition: string | undefined;
  /** The last durable transaction (what readers can read) and its ordinal (-1 before any). */
  readonly durablePosition: string | undefined;
  readonly durableOrdinal: number;
  /** Seconds between now and the source time of the last event stored; 0 before any. */
  readonly lagSeconds: number;
  readonly bytes: number;
  readonly segments: readonly { readonly seq: number; readonly file: string; readonly bytes: number; readonly startPosition: string; readonly firstOrdinal: number }[];
  readonly readers: readonly { readonly id: string; readonly position: string; readonly updatedAt: string; readonly lost?: { readonly position: string; readonly at: string; readonly reason: string } }[];
  readonly transactions: number;
  readonly reconnects: number;
  readonly lastError: string | undefined;
  /** The code of lastError (a TRIB_… code), e.g. TRIB_SOURCE_BEHIND while a promoted replica is refused. */
  readonly lastErrorCode: string | undefined;
}

/** Knobs a test or library caller sets; the CLI takes the defaults and the config's keys. */
export interface RelayOptions {
  readonly logger: Logger;
  /** An injected source (tests); opened from the config's URL through the registry otherwise. */
  readonly source?: ChangeSource;
  /** How often retention runs (default 10 s). */
  readonly retentionIntervalMs?: number;
  readonly segmentBytes?: number;
}

/** A relay's id (binlog server_id, logs) when the config names none: derived from its directory. */
export function relayId(config: Pick<SyncConfig, 'id'>, dir: string): string {
  return config.id ?? `relay-${createHash('sha256').update(resolve(dir)).digest('hex').slice(0, 12)}`;
}

/**
 * `tributary relay` as a library call: streams the source's change log into a relay directory
 * (src/relay) until `cancel()`. Lifecycle: `run()` once; it connects, opens the writer (refusing
 * another source's directory, SOURCE_CHANGED, or a second relay, ALREADY_RUNNING), and appends each
 * committed source transaction (begin … commit) and each schema change, truncate and heartbeat
 * between them as one record, from the relay's last durable position (a new relay: the source's
 * currentPosition()). Retryable failures reconnect from the durable position with backoff, at most
 * MAX_ATTEMPTS times in a row without progress; each reconnect opens the source anew, trying the
 * host it streamed from first, then the URL's others in order (docs/failover.md). Before it streams
 * from another server than the one its last durable record came from, it checks that the server
 * holds the relay's last durable GTID position (admit: GTID containment); a refusal leaves the
 * directory as it was (SOURCE_BEHIND is retried: a replica may still be applying; the others are
 * fatal), and an admitted server is recorded in relay.json before its first record.
 * `switchSource()` moves a streaming relay to a named host after the same check. `pause()` closes
 * the source stream (readers go on reading what is durable); `resume()` reopens it. Retention runs
 * every `retentionIntervalMs`.
 * `run()` resolves after `cancel()` once everything appended is durable and the writer is closed.
 */
export class Relay {
  readonly dir: string;
  private readonly abort = new AbortController();
  private streamAbort: AbortController | undefined;
  private writer: RelayWriter | undefined;
  private source: ChangeSource | undefined;
  private sourceId: string | undefined;
  private state: RelayStatus['state'] = 'starting';
  private paused = false;
  private wakeResume: (() => void) | undefined;
  private lastTimestamp: number | undefined;
  private lastHeartbeatStored = 0;
  private transactions = 0;
  private reconnects = 0;
  private lastError: string | undefined;
  private lastErrorCode: string | undefined;
  private readonly describedSource: string;
  /** The relay's id (binlog client server_id, the probe of switchSource). */
  private readonly id: string;
  /** The host in use (SourceIdentity.endpoint), when known. */
  private sourceHost: string | undefined;
  /** The host the next connect tries first: the one streamed from (sticky), or where switchSource() moves. */
  private prefer: { readonly host: string; readonly port: number } | undefined;
  /** The next stream attempt opens the source anew (after a failure, or switchSource()). */
  private reopen = false;
  /** switchSource() stopped the stream on purpose: the abort it causes is no failure. */
  private moving = false;
  /** The tables whose changes the relay stores (DIR/tables.json): those described at start and those schema changes brought in. */
  private kept = new Set<string>();

  constructor(
    private readonly config: SyncConfig & { readonly relayDir: string },
    private readonly opts: RelayOptions,
  ) {
    this.dir = config.relayDir;
    this.describedSource = describeDsn(connectionDsn(config, 'source'));
    this.id = relayId(config, this.dir);
  }

  /** Stops the relay: the source stream ends, what was appended is made durable, the writer closes. */
  cancel(): void {
    this.abort.abort();
    this.streamAbort?.abort();
    this.wakeResume?.();
  }

  /** Stops reading the source (its stream is closed); readers keep reading what is durable. */
  pause(): void {
    if (this.paused) return;
    this.paused = true;
    this.opts.logger.info({ relayDir: this.dir }, 'relay paused: the source stream is closed; readers go on reading what is durable');
    this.streamAbort?.abort();
  }

  /** Reopens the source stream from the durable position. */
  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.opts.logger.info({ relayDir: this.dir }, 'relay resumed');
    this.wakeResume?.();
  }

  async run(): Promise<void> {
    const config = this.config;
    const log = this.opts.logger;
    let retention: NodeJS.Timeout | undefined;
    try {
      // A restarted relay tries the host it last streamed from first (relay.json), when the URL
      // still names it: a revived old primary earlier in the URL is not gone back to.
      const urlDsn = connectionDsn(config, 'source');
      const last = (await readMeta(this.dir).catch(() => undefined))?.server?.host;
      const lastEp = last === undefined ? undefined : parseHostPort(last, urlDsn.port);
      if (lastEp && (urlDsn.endpoints ?? []).some((e) => e.host === lastEp.host && e.port === lastEp.port)) this.prefer = lastEp;
      const source = await this.connectSource();
      const identity = await source.identity();
      const described = await this.tables(source);
      const compare = (a: string, b: string) => source.comparePositions(a, b);
      const start = await source.currentPosition();
      const writer = await RelayWriter.open(this.dir, {
        sourceId: identity.id,
        ...(identity.endpoint === undefined ? {} : { host: identity.endpoint }),
        admit: async (from, durable) => {
          await this.admit(source, identity, from, durable.position);
          log.warn({ relayDir: this.dir, from, to: identity.id, toHost: identity.endpoint, ordinal: durable.ordinal, position: source.describePosition(durable.position) }, `relay moved to another server of the source's lineage, ${identity.endpoint ?? identity.id}: it holds the relay's last durable GTID position`);
        },
        startPosition: start,
        tables: described,
        compare,
        logger: log,
        ...(this.opts.segmentBytes ? { segmentBytes: this.opts.segmentBytes } : {}),
      });
      this.connected(identity);
      this.writer = writer;
      const tables = this.resumeSchemas(writer, described);
      this.kept = new Set(tables.map((t) => t.name));
      await writeTablesFile(this.dir, [...this.kept]);
      const from = writer.durablePosition();
      if (from.ordinal >= 0 || compare(from.position, start) !== 0) {
        await source.checkPosition(from.position, { readOnly: true }).catch((err: unknown) => {
          if (!(err instanceof TributaryError) || err.code !== ErrorCode.POSITION_LOST) throw err;
          throw new TributaryError(
            ErrorCode.POSITION_LOST,
            `relay ${this.dir} cannot resume: the source no longer holds its last durable position ${source.describePosition(from.position)} (${err.message}); fix: move ${this.dir} away and start a new relay there, then resync the syncs that read it with --force; keep the source's binlogs longer than any stop of the relay`,
            { cause: err },
          );
        });
      }
      log.info({ relayDir: this.dir, source: this.describedSource, sourceId: identity.id, ...(identity.endpoint === undefined ? {} : { host: identity.endpoint }), tables: tables.length, from: source.describePosition(from.position), ordinal: from.ordinal }, from.ordinal < 0 ? 'relay started' : 'relay resuming from its last durable transaction');
      const retain = async () => {
        try {
          const r = await applyRetention(writer, { compare, minAgeMs: toMs(config.relayMinAge), ...(config.relayMaxMb > 0 ? { maxBytes: config.relayMaxMb * 1024 * 1024 } : {}) });
          if (r.deleted.length) log.info({ deleted: r.deleted, bytes: r.bytes }, `relay retention deleted ${r.deleted.length} segment(s)`);
          await forgetRestarted(writer, compare, log);
          for (const lost of r.lost) log.warn({ reader: lost }, `relay reader ${lost} marked lost: the space limit (--relay-max-mb) deleted changes it had not read; it must resync`);
        } catch (err) {
          log.warn({ err: (err as Error).message }, 'relay retention pass failed; it runs again later');
        }
      };
      retention = setInterval(() => void retain(), this.opts.retentionIntervalMs ?? 10_000);
      retention.unref();
      await this.streamLoop(writer);
      this.state = 'stopped';
    } catch (err) {
      this.state = this.abort.signal.aborted && (err instanceof AbortedError || !(err instanceof TributaryError) || !err.fatal) ? 'stopped' : 'failed';
      if (this.state === 'failed') {
        this.lastError = (err as Error).message;
        this.lastErrorCode = err instanceof TributaryError ? err.code : undefined;
        throw err;
      }
    } finally {
      clearInterval(retention);
      try {
        await this.writer?.close();
      } finally {
        await this.source?.close().catch(() => undefined);
      }
    }
  }

  /**
   * Opens and connects the source (the injected one, in tests), its hosts in the URL's order but
   * `prefer` first, and checks its requirements. It becomes `this.source` once connected.
   */
  private async connectSource(): Promise<ChangeSource> {
    // The relay streams as soon as it is connected: what the stream's start loads (a MySQL source's
    // decoding thread) loads beside connecting and the preflight. close() releases it.
    if (this.opts.source) {
      this.opts.source.prepareStream();
      await this.opts.source.connect();
      await this.opts.source.preflight();
      this.source = this.opts.source;
      return this.opts.source;
    }
    const urlDsn = connectionDsn(this.config, 'source');
    const dsn = this.prefer ? preferHost(urlDsn, this.prefer) : urlDsn;
    const source = await openSource(this.config, dsn, this.id, this.opts.logger.child({ component: 'source' }));
    source.prepareStream();
    try {
      await source.connect();
      await source.preflight();
    } catch (err) {
      await source.close().catch(() => undefined);
      throw err;
    }
    this.source = source;
    return source;
  }

  /** The server now streamed from: shown in status, and its host tried first by the next connect. */
  private connected(identity: SourceIdentity): void {
    this.sourceId = identity.id;
    this.sourceHost = identity.endpoint;
    const ep = identity.endpoint === undefined ? undefined : parseHostPort(identity.endpoint, connectionDsn(this.config, 'source').port);
    if (ep) this.prefer = ep;
  }

  /**
   * Whether `source` (server `identity`, reached at `where`) may continue the relay whose last
   * durable record, at `position`, came from server `from`: the source decides by GTID containment
   * (checkPosition on another server: behind, diverged, purged, unknown domain), and positions
   * that name one server only (file+position, a source without lineage positions) are refused.
   * Throws the refusal under its own code, naming the relay and both servers; SOURCE_BEHIND is
   * retryable (a promoted replica may still be applying what it received), the others are fatal.
   */
  private async admit(source: ChangeSource, identity: SourceIdentity, from: string, position: string, where = identity.endpoint ?? this.describedSource): Promise<void> {
    const head = `relay ${this.dir} does not stream from ${where} (${identity.id}): its last durable transaction (${source.describePosition(position)}) came from another server, ${from}`;
    const fix = `the relay directory is unchanged, and its syncs go on reading what it holds. Relay fix: bring ${where} up to the relay's position, or point --source (or switch-source) at the server that has it; if none will, move ${this.dir} away, start a new relay and resync its syncs with --force`;
    if (!source.capabilities.lineagePositions) {
      throw new TributaryError(ErrorCode.SOURCE_CHANGED, `${head}, and this source's positions name one server only. ${fix}`);
    }
    try {
      await source.checkPosition(position, { readOnly: true, otherServer: from });
    } catch (err) {
      if (!(err instanceof TributaryError) || !REFUSALS.has(err.code)) throw err;
      const gtidHint = err.code === ErrorCode.SOURCE_CHANGED ? '; to follow a failover, run the relay in GTID mode (--position-mode auto or gtid, with GTIDs on the source)' : '';
      throw new TributaryError(err.code, `${head}. ${err.message}. In this message "the checkpoint" and "the target" are the relay's last durable position; ${fix}${gtidHint}`, { cause: err, fatal: err.code !== ErrorCode.SOURCE_BEHIND });
    }
  }

  /**
   * Moves a streaming relay to another source host (POST /switch-source on its HTTP API): checks,
   * on a connection of its own to `host`, that the server there holds the relay's durable position
   * (admit, when it is another server), refusing with that error while the relay goes on where it
   * is; then stops the stream at a transaction boundary and reconnects there first (then the URL's
   * others), checking again. Resolves with the host once the stream is stopping. Refused
   * (CONFIG_INVALID) unless the relay is streaming.
   */
  async switchSource(host: string): Promise<string> {
    const urlDsn = connectionDsn(this.config, 'source');
    const ep = parseHostPort(host, urlDsn.port);
    if (!ep) throw new TributaryError(ErrorCode.CONFIG_INVALID, `source host '${host}' is not host:port; give it as h2:3306`);
    const writer = this.writer;
    const notNow = () => new TributaryError(ErrorCode.CONFIG_INVALID, `relay ${this.dir} moves to another source host only while streaming (it is ${this.moving ? 'moving already' : this.state}); retry once it streams`);
    if (!writer || this.state !== 'streaming' || this.moving || this.opts.source) throw notNow();
    const where = `${ep.host}:${ep.port}`;
    const probe = await openSource(this.config, { ...preferHost(urlDsn, ep), endpoints: [ep] }, this.id, this.opts.logger.child({ component: 'switch-source' }));
    try {
      await probe.connect();
      const identity = await probe.identity();
      await writer.flush();
      const position = writer.durablePosition().position;
      const current = writer.server().id;
      if (identity.id !== current) await this.admit(probe, identity, current, position, where);
      else await probe.checkPosition(position, { readOnly: true });
    } finally {
      await probe.close().catch(() => undefined);
    }
    if (this.state !== 'streaming' || this.moving || this.writer !== writer) throw notNow();
    this.opts.logger.info({ relayDir: this.dir, host: where }, `moving the relay's source to ${where}: stopping the stream at a transaction boundary, then resuming there`);
    this.prefer = ep;
    this.moving = true;
    this.reopen = true;
    this.streamAbort?.abort();
    return where;
  }

  /**
   * Opens the source anew (the host streamed from first) and, when it is another server than the
   * one the last durable record came from, admits it and records the switch before any of its records.
   */
  private async reconnect(writer: RelayWriter): Promise<ChangeSource> {
    await writer.flush();
    await this.source?.close().catch(() => undefined);
    const source = await this.connectSource();
    const identity = await source.identity();
    const current = writer.server();
    if (identity.id !== current.id) {
      await this.admit(source, identity, current.id, writer.durablePosition().position);
      this.opts.logger.warn(
        { relayDir: this.dir, from: current.id, fromHost: current.host, to: identity.id, toHost: identity.endpoint, ordinal: writer.durablePosition().ordinal, position: source.describePosition(writer.durablePosition().position) },
        `relay moved to another server of the source's lineage, ${identity.endpoint ?? identity.id}: it holds the relay's last durable GTID position`,
      );
    }
    await writer.useServer({ id: identity.id, ...(identity.endpoint === undefined ? {} : { host: identity.endpoint }) });
    this.connected(identity);
    return source;
  }

  /** The source tables the relay decodes: --tables / --databases as a sync takes them. */
  private async tables(source: ChangeSource): Promise<TableSchema[]> {
    const all = await source.listTables();
    const dsn = connectionDsn(this.config, 'source');
    const names = selectTables(all, this.config.tables, this.config.databases.length ? this.config.databases.join(', ') : dsn.database);
    const out: TableSchema[] = [];
    for (const n of names) out.push(keyedTable(await withLogicalTypes(await source.describe(n))));
    return out;
  }

  /**
   * The definitions the relay streams with from its last durable record (schemas.ts
   * streamSchemas): its own at that record, so that rows written before an ALTER the relay was
   * down for decode as they were written; the catalogue's for tables new to it. They become the
   * writer's (a table the selection no longer takes is dropped from them). A directory written
   * before the relay kept definitions (format 1) decodes with the catalogue's of now, as it did.
   */
  private resumeSchemas(writer: RelayWriter, described: readonly TableSchema[]): TableSchema[] {
    const defs = writer.definitions();
    const resuming = writer.durablePosition().ordinal >= 0;
    if (!defs.stored) {
      if (resuming) this.opts.logger.warn({ relayDir: this.dir }, `relay ${this.dir} was written by a tributary that kept no table definitions in its segments: it resumes decoding with the source's definitions of now, so a table altered since its last record is decoded wrongly or stops it; from its next segment on it keeps them`);
      writer.define(described);
      return [...described];
    }
    const tables = streamSchemas(defs.tables, described, (name) => tableSelected(name, this.config.tables));
    // Changed for decoding: the columns (names, types, order), which is what rows are read by.
    const columns = (t: TableSchema) => JSON.stringify(t.columns.map((c) => [c.name, c.columnType]));
    const changed = described.filter((t) => { const s = defs.tables.get(t.name); return s !== undefined && columns(s) !== columns(t); }).map((t) => t.name);
    const gone = tables.filter((t) => !described.some((d) => d.name === t.name)).map((t) => t.name);
    if (changed.length || gone.length) {
      this.opts.logger.info({ relayDir: this.dir, changed, gone }, `relay resumes decoding with the definitions of its last record: ${[...changed.map((n) => `${n} (changed since)`), ...gone.map((n) => `${n} (no longer in the catalogue)`)].join(', ')}; the schema changes in the binlog after it bring them up to date`);
    }
    writer.define(tables);
    return tables;
  }

  private async streamLoop(writer: RelayWriter): Promise<void> {
    const log = this.opts.logger;
    let attempt = 0;
    for (;;) {
      if (this.abort.signal.aborted) return;
      if (this.paused) {
        this.state = 'paused';
        await new Promise<void>((r) => (this.wakeResume = r));
        this.wakeResume = undefined;
        continue;
      }
      const before = this.transactions;
      try {
        let source = this.source!;
        if (this.reopen) {
          // From here on a failure is one (not the abort switchSource() caused).
          this.moving = false;
          source = await this.reconnect(writer);
          this.reopen = false;
        }
        this.state = 'streaming';
        await this.streamOnce(source, writer);
      } catch (err) {
        if (this.abort.signal.aborted || ((this.paused || this.moving) && (err instanceof AbortedError || !(err instanceof TributaryError) || !err.fatal))) {
          await writer.flush();
          continue;
        }
        const retryable = err instanceof TributaryError && !err.fatal;
        attempt = this.transactions > before ? 1 : attempt + 1;
        this.lastError = (err as Error).message;
        this.lastErrorCode = err instanceof TributaryError ? err.code : undefined;
        if (!retryable || attempt > MAX_ATTEMPTS) throw err;
        this.state = 'retrying';
        this.reconnects++;
        // The next attempt opens the source anew: the host it streamed from first, then the URL's others.
        if (!this.opts.source) this.reopen = true;
        const wait = reconnectDelayMs(attempt);
        log.warn({ err: (err as Error).message, code: this.lastErrorCode, attempt, waitMs: wait }, 'relay: the source stream failed; reconnecting from the last durable transaction');
        await writer.flush().catch(() => undefined);
        await sleep(wait, this.abort.signal);
      }
    }
  }

  /**
   * One source stream from the durable position, until it fails or is aborted (pause, cancel),
   * decoding with the definitions at that position (the writer's, as the records before it left them).
   */
  private async streamOnce(source: ChangeSource, writer: RelayWriter): Promise<void> {
    await writer.flush();
    const from = writer.durablePosition().position;
    const tables = [...writer.definitions().tables.values()];
    const ctl = new AbortController();
    this.streamAbort = ctl;
    if (this.abort.signal.aborted || this.paused) ctl.abort();
    let events: StreamEvent[] = [];
    let last = from;
    const append = async (position: string, txn: StreamEvent[]) => {
      const entering = txn.flatMap((e) => (e.type === 'ddl' ? [...(e.after?.keys() ?? [])].filter((n) => !this.kept.has(n)) : []));
      if (entering.length) {
        // Listed before the records that hold their changes can be read.
        for (const n of entering) this.kept.add(n);
        await writeTablesFile(this.dir, [...this.kept]);
      }
      const ordinal = writer.append({ position, events: txn });
      last = position;
      if (writer.bufferedBytes() > BUFFER_LIMIT) await writer.whenDurable(ordinal);
    };
    try {
      // Whole old images: the relay keeps the stream for syncs whose needs it does not know.
      for await (const evs of source.stream(from, tables, ctl.signal, { oldImages: 'whole' })) for (const ev of evs) {
        switch (ev.type) {
          case 'begin':
            events = [ev];
            break;
          case 'change':
            events.push(ev);
            break;
          case 'commit':
            events.push(ev);
            await append(ev.position, events);
            events = [];
            this.transactions++;
            this.lastTimestamp = ev.timestamp;
            break;
          case 'heartbeat': {
            const now = Date.now();
            this.lastTimestamp = ev.timestamp;
            if (events.length) break;
            // A heartbeat of a server moved to may sit before the last position (the same GTID, an
            // earlier binlog file of that server): skipped, for appends never go back.
            const order = source.comparePositions(ev.position, last);
            if (order > 0 || (order === 0 && now - this.lastHeartbeatStored >= HEARTBEAT_EVERY_MS)) {
              this.lastHeartbeatStored = now;
              // Stored at most every HEARTBEAT_EVERY_MS at one position: readers are told to expect no more.
              await append(ev.position, [ev.nextWithinMs === undefined ? ev : { ...ev, nextWithinMs: Math.max(ev.nextWithinMs, 2 * HEARTBEAT_EVERY_MS) }]);
            }
            break;
          }
          default:
            // A schema change or truncate: inside a transaction it stays there, else a record of its own.
            if (events.length) events.push(ev);
            else {
              await append(ev.position, [ev]);
              this.transactions++;
              this.lastTimestamp = 'timestamp' in ev ? ev.timestamp : this.lastTimestamp;
            }
        }
      }
    } finally {
      this.streamAbort = undefined;
    }
    if (!ctl.signal.aborted) throw new TributaryError(ErrorCode.STREAM_FAILED, `the source stream of relay ${this.dir} ended without being stopped; fix: none needed, the relay reconnects (a bug if it repeats: please report it)`, { fatal: false });
  }

  /** The relay's state, positions, disk use and readers (GET /status). */
  async status(): Promise<RelayStatus> {
    const w = this.writer;
    const source = this.source;
    let sourcePosition: string | undefined;
    if (source && this.state !== 'starting' && source.capabilities.reportsHead) {
      sourcePosition = await source.headPosition().then((p) => source.describePosition(p), () => undefined);
    }
    const meta = w?.meta();
    const segments = await Promise.all(
      (meta?.segments ?? []).map(async (s) => {
        const file = segmentFile(this.dir, s.seq);
        const bytes = await stat(file).then((st) => st.size, () => 0);
        return { seq: s.seq, file, bytes, startPosition: source ? source.describePosition(s.startPosition) : s.startPosition, firstOrdinal: s.firstOrdinal };
      }),
    );
    const files = await readReaderFiles(this.dir);
    const lost = meta?.lostReaders ?? {};
    const ids = [...new Set([...files.map((f) => f.id), ...Object.keys(lost)])].sort();
    const readers = ids.map((id) => {
      const f = files.find((x) => x.id === id);
      const l = lost[id];
      const show = (p: string) => (source ? source.describePosition(p) : p);
      return {
        id,
        position: show(f?.position ?? l?.position ?? ''),
        updatedAt: new Date(f?.updatedAt ?? l?.at ?? 0).toISOString(),
        ...(l ? { lost: { position: show(l.position), at: new Date(l.at).toISOString(), reason: l.reason } } : {}),
      };
    });
    const d = w?.durablePosition();
    return {
      relayDir: this.dir,
      source: this.describedSource,
      sourceId: this.sourceId,
      sourceHost: this.sourceHost ?? null,
      switches: meta?.switches?.length ?? 0,
      state: this.state,
      paused: this.paused,
      sourcePosition,
      durablePosition: d && source ? source.describePosition(d.position) : undefined,
      durableOrdinal: d?.ordinal ?? -1,
      lagSeconds: this.lastTimestamp === undefined ? 0 : Math.max(0, (Date.now() - this.lastTimestamp) / 1000),
      bytes: segments.reduce((n, s) => n + s.bytes, 0),
      segments,
      readers,
      transactions: this.transactions,
      reconnects: this.reconnects,
      lastError: this.lastError,
      lastErrorCode: this.lastErrorCode,
    };
  }
}

/**
 * Forgets the lost mark of each reader that started anew since (a sync resynced with --force): its
 * reader file was written after the mark, at a position past the one it was lost at.
 */
async function forgetRestarted(writer: RelayWriter, compare: (a: string, b: string) => number, log: Logger): Promise<void> {
  const lost = writer.meta().lostReaders;
  if (Object.keys(lost).length === 0) return;
  const files = await readReaderFiles(writer.dir);
  const back = files.filter((f) => {
    const l = lost[f.id];
    return l !== undefined && f.updatedAt > l.at && compare(f.position, l.position) > 0;
  });
  if (back.length === 0) return;
  await writer.updateMeta((m) => ({ ...m, lostReaders: Object.fromEntries(Object.entries(m.lostReaders).filter(([id]) => !back.some((b) => b.id === id))) }));
  for (const b of back) log.info({ reader: b.id }, `relay reader ${b.id} started anew past the position it was lost at: its lost mark is forgotten`);
}
