import { z } from 'zod';

/** '500ms', '2s', '5m', or a number of milliseconds ('250'). */
export const DURATION_RE = /^\d+(\.\d+)?(ms|s|m)?$/;

/** A duration: milliseconds as a number, or text DURATION_RE accepts. The message never shows the expression. */
const duration = z.custom<number | string>(
  (v) => (typeof v === 'number' && Number.isFinite(v) && v >= 0) || (typeof v === 'string' && DURATION_RE.test(v)),
  'is not a duration; give e.g. 500ms, 2s, 5m',
);

/** Parses '500ms', '2s', '1m' or a number of milliseconds. */
export function toMs(v: number | string): number {
  if (typeof v === 'number') return v;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(v);
  if (!m) throw new Error(`bad duration ${v}`);
  const n = Number(m[1]);
  return m[2] === 's' ? n * 1000 : m[2] === 'm' ? n * 60_000 : n;
}

/** The longest `queryComment` accepted: it is sent with every statement. */
export const QUERY_COMMENT_MAX = 256;

/** The configuration of a sync: the CLI, the config file and library callers share this type. */
export const SyncConfigSchema = z
  .object({
    source: z.string().min(1),
    target: z.string().min(1),
    /**
     * Passwords outside the URLs (connection.ts): the value itself (env TRIBUTARY_SOURCE_PASSWORD)
     * or a file holding it (trailing newlines stripped). A role's password may be given in one place
     * only: in its URL, as `<role>Password` or as `<role>PasswordFile`; two are refused.
     */
    sourcePassword: z.string().min(1).optional(),
    sourcePasswordFile: z.string().min(1).optional(),
    targetPassword: z.string().min(1).optional(),
    targetPasswordFile: z.string().min(1).optional(),
    replicaPassword: z.string().min(1).optional(),
    replicaPasswordFile: z.string().min(1).optional(),
    coordinatorPassword: z.string().min(1).optional(),
    coordinatorPasswordFile: z.string().min(1).optional(),
    /**
     * Table names or globs (`orders`, `shop_*`); default all base tables of the source database.
     * With `databases`, a pattern may also be `db.table` (either part a glob); a bare one takes the
     * tables of that name in every selected database.
     */
    tables: z.array(z.string().min(1)).default([]),
    /**
     * Several databases in one sync (names or globs): a MySQL source URL without a database syncs
     * each selected database into the target database of the same name (or its rewrite); on
     * PostgreSQL they select schemas of the URL's database. Tables are then named `db.table`
     * everywhere (core/names.ts). Empty: the one database of the source URL.
     */
    databases: z.array(z.string().min(1)).default([]),
    /** Source databases (schemas) written under other names on the target: { source: target } (flag: src=dst[,…]). Needs `databases`. */
    databaseRewrites: z.record(z.string().min(1), z.string().min(1)).default({}),
    /** Parallel copy workers. */
    threads: z.number().int().min(1).max(64).default(4),
    /** How often buffered stream changes are committed to the target at most. */
    flushInterval: duration.default('1s'),
    /** Copy, checkpoint and exit without streaming. */
    copyOnly: z.boolean().default(false),
    /** Recreate target tables when no checkpoint can resume. */
    force: z.boolean().default(false),
    /** Identifies this sync's checkpoint and lock; default derived from source and target. */
    id: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/).optional(),
    /** Binlog client server_id; default derived from the sync id. */
    serverId: z.number().int().min(1).max(4294967295).optional(),
    /** How to resume the binlog: GTID where the server offers it, or file+position. */
    positionMode: z.enum(['auto', 'gtid', 'file']).default('auto'),
    /**
     * Resuming on another server in GTID mode (failover): stream the GTID domains it logged that
     * the checkpoint does not know from their first transaction, instead of refusing them.
     */
    gtidAdoptDomains: z.boolean().default(false),
    /** Target duration of one copy chunk; the chunk size adapts to it. */
    chunkTime: duration.default('200ms'),
    /**
     * The direction the initial copy walks each table's primary key: asc from the first key, or
     * desc from the last (the most recent rows first when the key grows with time). A table resumed
     * mid-copy goes on in the direction its checkpoint recorded.
     */
    copyOrder: z.enum(['asc', 'desc']).default('asc'),
    /** Initial rows per copy chunk. */
    chunkSize: z.number().int().min(1).max(1_000_000).default(5000),
    /** Maximum changes per target transaction in the stream. */
    batchSize: z.number().int().min(1).max(1_000_000).default(20_000),
    /**
     * MySQL/MariaDB source: silence on the binlog connection (no event, no heartbeat) after which
     * it counts as lost and is reopened from the checkpoint; the server is asked for a heartbeat
     * ten times as often.
     */
    binlogTimeout: duration.default('30s').refine((v) => toMs(v) >= 1000, 'give at least 1s'),
    /**
     * MySQL/MariaDB source: decode the binlog in a worker thread of its own (on), beside the
     * thread that applies, or on that thread (off).
     */
    decodeThread: z.boolean().default(true),
    /** Bound on buffered stream data, in MiB. */
    bufferMb: z.number().int().min(1).max(4096).default(32),
    /** MySQL zero dates ('0000-00-00') bound for a target that has none: refuse (error) or write NULL. */
    zeroDates: z.enum(['error', 'null']).default('error'),
    /**
     * A schema change of a synced table while streaming: follow (apply it to the target in stream
     * order) or halt (stop the sync on it, for users who manage the target's schema themselves).
     */
    ddl: z.enum(['follow', 'halt']).default('follow'),
    /**
     * The source's foreign keys among the synced tables: create them on the target after the
     * initial copy, or skip them (the target's tables then have none). Cascades the source ran
     * reach the target's rows either way.
     */
    foreignKeys: z.enum(['create', 'skip']).default('create'),
    /**
     * The position of one schema change to go on past without applying it, as the message that
     * stopped the sync prints it (e.g. binlog.000003:1234): the target's tables are then the user's.
     */
    skipDdl: z.string().min(1).optional(),
    /**
     * Names of online schema change tools' shadow tables, with one `*` standing for the real
     * table's name: a shadow's ALTERs reach the real table at the swap, and its rows are not synced.
     * A pattern names a table in the real table's own database, so it holds no '.'.
     */
    oscShadows: z
      .array(z.string().regex(/^[^*.]*\*[^*.]*$/, "give one * standing for the real table and no '.' (a shadow is in its real table's database), e.g. _*_gho"))
      .min(1)
      .default(['_*_gho', '_*_new']),
    /** PostgreSQL source: replication slot to use (created and owned by the sync when absent). */
    slot: z.string().regex(/^[a-z0-9_]{1,63}$/).optional(),
    /** PostgreSQL source: publication to use (created and owned by the sync when absent). */
    publication: z.string().regex(/^[A-Za-z0-9_]{1,63}$/).optional(),
    /**
     * PostgreSQL source: 'install' installs the event trigger that writes DDL into the WAL when the
     * role may (a superuser) and reads its messages; 'off' follows column changes from pgoutput's
     * Relation messages only.
     */
    pgDdlTrigger: z.enum(['install', 'off']).default('install'),
    /**
     * etcd target: the key layout. tributary: `<prefix>/<table>/<key>`, each part percent-encoded,
     * a composite key's parts joined by '/'. contrail: `<prefix>/<resource>/<key>` as Juniper
     * contrail's sync wrote it (the table name with '_' as '-'; one key column).
     */
    etcdLayout: z.enum(['tributary', 'contrail']).default('tributary'),
    /** etcd target: the server's --max-txn-ops; one etcd transaction holds at most this many writes, the checkpoint's included. */
    maxTxnOps: z.number().int().min(2).max(1_000_000).default(128),
    /**
     * etcd target: the time to live of the sync's lock lease (whole seconds, 2s–60s). A killed
     * instance's lock goes when it runs out (the next start waits that long at most); a running
     * one that cannot renew it for this long loses the lock and stops writing.
     */
    lockTtl: duration.refine((v) => toMs(v) >= 2000 && toMs(v) <= 60_000 && toMs(v) % 1000 === 0, 'is not a whole number of seconds from 2s to 60s; give e.g. 10s').default('10s'),
    /**
     * Source tables written under other names on the target: { source: target } (flag: src=dst[,…]).
     * The copy, the stream, schema changes, checksums and etcd keys all use the target name
     * (transform/rules.ts). Two source tables may not share a target name.
     */
    tableRewrites: z.record(z.string().min(1), z.string().min(1)).default({}),
    /** 'table.column' entries (source names): columns the target is created without and the sync never reads. Not a key column. */
    excludeColumns: z.array(z.string().min(1)).default([]),
    /**
     * Row filters, 'TABLE: EXPRESSION' (the expression language of docs/filters.md), one per table:
     * only the rows for which it is true are copied, streamed and checksummed; a row that leaves the
     * filter is deleted from the target, one that enters it is written.
     */
    where: z.array(z.string().min(1)).default([]),
    /** Per-column target type overrides: { "table.column": "TYPE" } (source names; "db.table.column" under --databases, a bare table in every database). */
    columnTypes: z.record(z.string().regex(/^[^.]+(\.[^.]+)?\.[^.]+$/, 'give table.column (or db.table.column with --databases)'), z.string().min(1)).default({}),
    /** After the copy, checksum every table again and again while streaming, and repair what differs. */
    checksum: z.boolean().default(true),
    /** Rest between two checksum passes. */
    checksumInterval: duration.default('30s'),
    /**
     * A relay directory (docs/relay.md). `tributary relay`: where it writes the source's change
     * log. `tributary sync`: read the stream from this relay instead of the source's change log
     * (the copy still reads the source); the sync registers there as reader `id`.
     */
    relayDir: z.string().min(1).optional(),
    /** `tributary relay`: a segment is deleted only once its last record is older than this (and every reader has read it). */
    relayMinAge: duration.default('60m'),
    /** `tributary relay`: space limit of its segments in MiB; past it the oldest go even if a reader needs them (that reader is marked lost). 0: no limit. */
    relayMaxMb: z.number().int().min(0).default(0),
    /** Progress output: auto (bars on a TTY), plain lines, json lines, or none. */
    progress: z.enum(['auto', 'plain', 'json', 'none']).default('auto'),
    logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'silent']).default('info'),
    /**
     * Log lines as compact text (pretty) or JSON lines; auto: pretty when stderr is a terminal, else
     * json. With json logs, progress that shares stderr is JSON too (cli/progress-printer.ts).
     */
    logFormat: z.enum(['auto', 'pretty', 'json']).default('auto'),
    /**
     * Serve the HTTP API (status, health, readiness, metrics, control) on HOST:PORT, e.g.
     * 127.0.0.1:8080. Off when absent. A host other than loopback requires `httpToken`.
     */
    http: z.string().regex(/^(?:\[[0-9A-Fa-f:.]+\]|[^\s:[\]/]*:)?\d{1,5}$/, 'give HOST:PORT, e.g. 127.0.0.1:8080').optional(),
    /** Bearer token the HTTP API requires on every call but /healthz and /readyz (required off loopback). */
    httpToken: z.string().min(16, 'use a token of at least 16 characters').optional(),
    /**
     * Names besides the bound address under which clients reach the HTTP API (a reverse proxy's or
     * a DNS name; `.example.com` admits its subdomains). Requests whose Host header names anything
     * else are refused (421), against DNS rebinding.
     */
    httpAllowedHosts: z.array(z.string().min(1)).default([]),
    /**
     * With `http`: how long the HTTP API stays up after the run ended with an error, so the
     * dashboard and GET /status go on showing it, before the process exits (0 = exit at once). A
     * signal or POST /stop ends the wait. A clean stop never lingers.
     */
    httpLinger: duration.default('30s'),
    /** /readyz answers 503 once the stream's lag exceeds this many seconds. */
    readyMaxLag: z.number().positive().default(60),
    /** Most rows per second the initial copy reads, across all threads; 0 = no limit. The stream is not limited. */
    copyRateLimit: z.number().int().min(0).default(0),
    /**
     * URL of a MySQL/MariaDB replica or a PostgreSQL standby of the source: the copy starts no new
     * chunk while its lag is above `replicaMaxLag` or cannot be read. The stream is not throttled.
     */
    replica: z.string().min(1).optional(),
    /** The replica lag above which the copy waits. */
    replicaMaxLag: duration.default('10s'),
    /**
     * Coordinator mode (docs/standby.md): an etcd URL, etcd://host:port[,…]/prefix, in which every
     * instance started with the same sync id campaigns; one leads and syncs, the others stand by
     * and take over, fenced by the leadership's epoch, when it dies, stops or loses its lease.
     */
    coordinator: z.string().min(1).optional(),
    /**
     * Coordinator mode: the leadership's lease time to live (whole seconds, 2s–60s): a leader that
     * stops renewing it keeps the sync this long at most, so a standby takes over within about it.
     */
    leaderTtl: duration.refine((v) => toMs(v) >= 2000 && toMs(v) <= 60_000 && toMs(v) % 1000 === 0, 'is not a whole number of seconds from 2s to 60s; give e.g. 5s').default('5s'),
    /**
     * http(s) URL that receives the sync's status (GET /status's JSON, with `event` and `sentAt`)
     * as a POST every `progressInterval`, at every phase change and at the end (server/webhook.ts).
     * Bounded retries; never holds the sync back. Off when absent.
     */
    progressWebhook: z
      .string()
      .refine((v) => /^https?:\/\/[^/\s]+/i.test(v), 'is not an http(s) URL; give e.g. https://hooks.example.com/tributary')
      .optional(),
    /** How often the progress webhook is posted to (at least 1s). */
    progressInterval: duration.refine((v) => toMs(v) >= 1000, 'is shorter than 1s; give e.g. 10s').default('10s'),
    /** Sent to the progress webhook as `Authorization: Bearer <token>` (prefer TRIBUTARY_PROGRESS_WEBHOOK_TOKEN). */
    progressWebhookToken: z.string().min(1).optional(),
    /**
     * Text every SQL statement tributary sends to the source, the target and the replica begins
     * with, inside a block comment (Ghostferry's marginalia), so a DBA can tell its load apart in
     * the process list, the slow log or pg_stat_activity. Off when absent. At most QUERY_COMMENT_MAX
     * characters; the comment's closing or opening marker (PostgreSQL nests comments) and control
     * characters (a newline would break log lines) are refused.
     */
    queryComment: z
      .string()
      .min(1, 'is empty; give the text, e.g. tributary sync=orders, or leave the option out')
      .max(QUERY_COMMENT_MAX, `is longer than ${QUERY_COMMENT_MAX} characters; shorten it`)
      .refine((v) => !v.includes('*/'), "holds '*/', which would end the comment early; remove it")
      .refine((v) => !v.includes('/*'), "holds '/*', which opens a nested comment on PostgreSQL; remove it")
      // eslint-disable-next-line no-control-regex
      .refine((v) => !/[\u0000-\u001f\u007f]/.test(v), 'holds a control character (NUL, a newline, a tab…); use printable text only')
      .optional(),
  })
  .strict();

export type SyncConfigInput = z.input<typeof SyncConfigSchema>;
export type SyncConfig = z.output<typeof SyncConfigSchema>;
