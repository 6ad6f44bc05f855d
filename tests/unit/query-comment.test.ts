/**
 * `--query-comment` (issue 14) without servers: the config refuses text that would break out of
 * the comment, every role's DSN carries the text, and each engine's wrapper puts it before what
 * it sends (mysql2's queryFormat; pg's client.query), replication commands excepted. The real
 * servers' logs are read in tests/integration/query-comment.test.ts.
 */
import { describe, expect, it } from 'vitest';
import mysql, { type ConnectionOptions } from 'mysql2/promise';
import type pg from 'pg';
import { connectionDsn } from '../../src/config/connection.js';
import { loadConfig } from '../../src/config/load.js';
import { ErrorCode, TributaryError } from '../../src/core/errors.js';
import { connectionOptions } from '../../src/engines/mysql/connection.js';
import { commentQueries, commentPrefix } from '../../src/engines/postgres/connection.js';

const URLS = { source: 'mysql://u:secret@127.0.0.1:3306/shop', target: 'postgres://u@127.0.0.1:5432/shop', replica: 'mysql://u@127.0.0.1:3307/shop' };

function refusal(queryComment: string, env: NodeJS.ProcessEnv = {}): TributaryError {
  try {
    loadConfig({ flags: { ...URLS, queryComment }, env });
  } catch (err) {
    return err as TributaryError;
  }
  throw new Error(`query comment ${JSON.stringify(queryComment)} was accepted`);
}

describe('--query-comment in the config', () => {
  it('comes from a flag, the environment or a file, and every role connects with it', () => {
    const config = loadConfig({ flags: URLS, env: { TRIBUTARY_QUERY_COMMENT: 'tributary sync=orders' } });
    expect(config.queryComment).toBe('tributary sync=orders');
    for (const role of ['source', 'target', 'replica'] as const) expect(connectionDsn(config, role).queryComment).toBe('tributary sync=orders');
    // The password given in the URL is kept beside it.
    expect(connectionDsn(config, 'source').password).toBe('secret');
  });

  it('is absent from the DSN when none is given', () => {
    const config = loadConfig({ flags: URLS, env: {} });
    expect(config.queryComment).toBeUndefined();
    expect('queryComment' in connectionDsn(config, 'source')).toBe(false);
  });

  it.each([
    ['a */ b', /query-comment: holds '\*\/', which would end the comment early; remove it \(got "a \*\/ b"\)/],
    ['a /* b', /query-comment: holds '\/\*', which opens a nested comment on PostgreSQL; remove it/],
    ['a\u0000b', /query-comment: holds a control character .*use printable text only/],
    ['line\nbreak', /query-comment: holds a control character/],
    ['x'.repeat(257), /query-comment: is longer than 256 characters; shorten it/],
    ['', /query-comment: is empty; give the text/],
  ])('refuses %j with CONFIG_INVALID naming the value and the fix', (text, message) => {
    const err = refusal(text);
    expect(err).toBeInstanceOf(TributaryError);
    expect(err.code).toBe(ErrorCode.CONFIG_INVALID);
    expect(err.message).toMatch(message);
  });

  it('takes 256 characters and any printable text, quotes and non-ASCII included', () => {
    expect(loadConfig({ flags: { ...URLS, queryComment: 'x'.repeat(256) }, env: {} }).queryComment).toHaveLength(256);
    expect(loadConfig({ flags: { ...URLS, queryComment: `app='tributary' "ü" ? $1 -- #` }, env: {} }).queryComment).toBe(`app='tributary' "ü" ? $1 -- #`);
  });
});

describe('MySQL: queryFormat', () => {
  const dsn = { ...connectionDsn(loadConfig({ flags: URLS, env: {} }), 'source') };
  type Format = (this: { config: { stringifyObjects?: boolean } }, sql: string, values: unknown, tz?: string) => string;
  const format = (o: ConnectionOptions) => o.queryFormat as unknown as Format | undefined;

  it('without a comment fills placeholders as mysql2 does, and sends a statement without values as it is (no scan for placeholders)', () => {
    const f = format(connectionOptions(dsn));
    const conn = { config: {} };
    expect(f?.call(conn, 'SELECT ?, ? FROM t WHERE s = ?', [1, null, "it's"], 'Z')).toBe("SELECT 1, NULL FROM t WHERE s = 'it\\'s'");
    // A literal '?' stays: with no values nothing is a placeholder (mysql2's format agrees, after a scan).
    const big = `INSERT INTO t VALUES ${Array.from({ length: 1000 }, (_, i) => `(${i}, 'a?b')`).join(',')}`;
    for (const values of [undefined, null, []]) {
      expect(f?.call(conn, big, values, 'Z')).toBe(big);
      expect(f?.call(conn, big, values, 'Z')).toBe(mysql.format(big, (values ?? []) as never));
    }
  });

  it('fills placeholders as mysql2 does, then puts the comment first; a ? in the comment is not a placeholder', () => {
    const f = format(connectionOptions({ ...dsn, queryComment: 'who? me' }));
    expect(f).toBeTypeOf('function');
    const conn = { config: {} };
    expect(f?.call(conn, 'SELECT ?, ? FROM t WHERE s = ?', [1, null, "it's"], 'Z')).toBe("/* who? me */ SELECT 1, NULL FROM t WHERE s = 'it\\'s'");
    expect(f?.call(conn, "SET time_zone = '+00:00'", [], 'Z')).toBe("/* who? me */ SET time_zone = '+00:00'");
    expect(f?.call(conn, 'SELECT ?', [new Date(Date.UTC(2024, 0, 2, 3, 4, 5))], 'Z')).toBe("/* who? me */ SELECT '2024-01-02 03:04:05.000'");
  });

  it('is kept when the caller adds its own options (the binlog client, a target without a database)', () => {
    expect(format(connectionOptions({ ...dsn, queryComment: 'c' }, { database: undefined }))).toBeTypeOf('function');
  });
});

describe('PostgreSQL: client.query', () => {
  /** A client whose query records what pg would send. */
  function fakeClient(): { client: pg.ClientBase; sent: unknown[][] } {
    const sent: unknown[][] = [];
    const client = {
      query(...args: unknown[]) {
        sent.push(args);
        return Promise.resolve({ rows: [] });
      },
    };
    return { client: client as unknown as pg.ClientBase, sent };
  }

  it('renders the prefix from the DSN, and none without a comment', () => {
    expect(commentPrefix({ ...connectionDsn(loadConfig({ flags: URLS, env: {} }), 'target'), queryComment: 'c' })).toBe('/* c */ ');
    expect(commentPrefix(connectionDsn(loadConfig({ flags: URLS, env: {} }), 'target'))).toBeUndefined();
  });

  it('puts the comment before text, a query config (copied) and a Submittable (COPY), values passed on', async () => {
    const { client, sent } = fakeClient();
    commentQueries(client, '/* c */ ');
    await client.query('SELECT $1', [1]);
    const config = { text: 'SELECT 2', rowMode: 'array' as const };
    await client.query(config);
    const copy = { text: 'COPY t FROM STDIN', submit: () => undefined };
    client.query(copy as unknown as pg.Submittable);
    expect(sent).toEqual([['/* c */ SELECT $1', [1]], [{ text: '/* c */ SELECT 2', rowMode: 'array' }], [copy]]);
    expect(config.text).toBe('SELECT 2');
    expect(copy.text).toBe('/* c */ COPY t FROM STDIN');
  });

  it("leaves a replication connection's own commands as written (the walsender's grammar takes no comment), SQL on it not", async () => {
    const { client, sent } = fakeClient();
    commentQueries(client, '/* c */ ');
    for (const sql of ['IDENTIFY_SYSTEM', 'CREATE_REPLICATION_SLOT "s" LOGICAL pgoutput EXPORT_SNAPSHOT', '  start_replication SLOT s LOGICAL 0/0', 'DROP_REPLICATION_SLOT s', 'SHOW wal_level']) await client.query(sql);
    expect(sent.map((a) => a[0])).toEqual(['IDENTIFY_SYSTEM', 'CREATE_REPLICATION_SLOT "s" LOGICAL pgoutput EXPORT_SNAPSHOT', '  start_replication SLOT s LOGICAL 0/0', 'DROP_REPLICATION_SLOT s', '/* c */ SHOW wal_level']);
  });
});
