/**
 * StatementBatch (engines/mysql/statements.ts): statements gathered in order and sent as one
 * multi-statement query, the query comment before each, never more than MAX_GATHERED characters
 * in one packet beside a statement of its own, nothing sent after a discard.
 */
import { describe, expect, it } from 'vitest';
import type { PoolConnection } from 'mysql2/promise';
import { MAX_GATHERED, StatementBatch } from '../../src/engines/mysql/statements.js';

/** A connection that records each query it is sent (and fails one whose text matches `fail`). */
function recorder(fail?: RegExp): { conn: PoolConnection; sent: string[] } {
  const sent: string[] = [];
  const conn = {
    query: (sql: string) => {
      sent.push(sql);
      return fail?.test(sql) ? Promise.reject(new Error('refused')) : Promise.resolve([[], []]);
    },
  } as unknown as PoolConnection;
  return { conn, sent };
}

describe('StatementBatch', () => {
  it('sends nothing until flushed, then every statement in order in one query', async () => {
    const { conn, sent } = recorder();
    const b = new StatementBatch(conn);
    await b.query('START TRANSACTION');
    await b.query('DELETE FROM `t` WHERE `id` IN (1)');
    await b.query('REPLACE INTO `cp` (a, b) VALUES (?, ?)', ['x', "it's"]);
    expect(sent).toEqual([]);
    await b.flush();
    expect(sent).toEqual(["START TRANSACTION;\nDELETE FROM `t` WHERE `id` IN (1);\nREPLACE INTO `cp` (a, b) VALUES ('x', 'it\\'s')"]);
    await b.flush();
    expect(sent).toHaveLength(1);
  });

  it('puts the query comment before every statement after the first (the connection puts it before the first)', async () => {
    const { conn, sent } = recorder();
    const b = new StatementBatch(conn, '/* tributary sync=a */ ');
    await b.query('START TRANSACTION');
    await b.query('DELETE FROM `t`');
    await b.flush();
    expect(sent).toEqual(['START TRANSACTION;\n/* tributary sync=a */ DELETE FROM `t`']);
  });

  it('sends what is gathered before a statement that would take the packet past MAX_GATHERED, and a larger statement alone', async () => {
    const { conn, sent } = recorder();
    const b = new StatementBatch(conn);
    const half = `INSERT INTO t VALUES ('${'x'.repeat(MAX_GATHERED / 2)}')`;
    const huge = `INSERT INTO t VALUES ('${'y'.repeat(MAX_GATHERED)}')`;
    await b.query('START TRANSACTION');
    await b.query(half);
    expect(sent).toEqual([]);
    await b.query(half);
    expect(sent).toEqual([`START TRANSACTION;\n${half}`]);
    await b.query(huge);
    expect(sent).toEqual([`START TRANSACTION;\n${half}`, half]);
    await b.query('COMMIT');
    expect(sent).toEqual([`START TRANSACTION;\n${half}`, half, huge]);
    await b.flush();
    expect(sent.slice(3)).toEqual(['COMMIT']);
    // Every packet of several statements stays within the bound.
    for (const q of sent) if (q.includes(';\n')) expect(q.length).toBeLessThanOrEqual(MAX_GATHERED);
  });

  it('throws the failure from the flush that sent it, and sends nothing discarded', async () => {
    const { conn, sent } = recorder(/bad/);
    const b = new StatementBatch(conn);
    await b.query('INSERT bad');
    await expect(b.flush()).rejects.toThrow('refused');
    await b.query('DELETE FROM t');
    b.discard();
    await b.flush();
    expect(sent).toEqual(['INSERT bad']);
  });
});
