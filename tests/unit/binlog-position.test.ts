import { describe, expect, it } from 'vitest';
import { comparePositions, decodePosition, describePosition, encodePosition } from '../../src/engines/mysql/position.js';
import { schemaChangeRows } from '../../src/checkpoint/rows.js';
import type { TableSchema } from '../../src/core/schema.js';

describe('binlog positions', () => {
  const at = (pos: number, firstApplied?: true) => encodePosition({ file: 'binlog.000002', pos, gtid: '0-1-9', ...(firstApplied ? { firstApplied } : {}) });

  it('a group whose first statement is applied orders after its start and before the next event', () => {
    expect(comparePositions(at(400, true), at(400))).toBeGreaterThan(0);
    expect(comparePositions(at(400), at(400, true))).toBeLessThan(0);
    expect(comparePositions(at(400, true), at(401))).toBeLessThan(0);
    expect(comparePositions(at(400, true), at(400, true))).toBe(0);
  });

  it('orders MariaDB GTID positions by their GTIDs first, across the files of two servers (failover), and by file and offset when they are equal or incomparable', () => {
    const pos = (file: string, p: number, gtid: string) => encodePosition({ file, pos: p, gtid });
    // The old primary's binlog.000009 against the promoted replica's binlog.000002: the GTID decides.
    expect(comparePositions(pos('binlog.000009', 900, '0-1-100'), pos('binlog.000002', 300, '0-2-101'))).toBeLessThan(0);
    expect(comparePositions(pos('binlog.000002', 300, '0-2-101'), pos('binlog.000009', 900, '0-1-100'))).toBeGreaterThan(0);
    // A domain the other lacks counts as before everything.
    expect(comparePositions(pos('binlog.000009', 900, '0-1-100'), pos('binlog.000001', 10, '0-1-100,7-2-1'))).toBeLessThan(0);
    // Equal or incomparable GTIDs: file and offset.
    expect(comparePositions(pos('binlog.000002', 400, '0-1-100'), pos('binlog.000002', 500, '0-1-100'))).toBeLessThan(0);
    expect(comparePositions(pos('binlog.000003', 10, '0-1-100,1-1-5'), pos('binlog.000002', 500, '0-1-99,1-1-6'))).toBeGreaterThan(0);
    // MySQL GTID sets and file positions: file and offset, as before.
    expect(comparePositions(pos('binlog.000003', 10, 'uuid:1-5'), pos('binlog.000002', 500, 'uuid:1-9'))).toBeGreaterThan(0);
  });

  it('round-trips and says so when described; a position without it encodes as before', () => {
    expect(decodePosition(at(400, true))).toEqual({ file: 'binlog.000002', pos: 400, gtid: '0-1-9', firstApplied: true });
    expect(describePosition(at(400, true))).toBe('binlog.000002:400+1 gtid=0-1-9');
    expect(at(400)).toBe('{"file":"binlog.000002","pos":400,"gtid":"0-1-9"}');
  });
});

describe('checkpoint rows of a schema change', () => {
  const table = (name: string): TableSchema => ({ name, columns: [{ name: 'id', type: 'int', nullable: false } as never], primaryKey: ['id'] }) as unknown as TableSchema;

  it('a table created by the stream has its copy row done; one copied again (recopy) has it removed', () => {
    const created = schemaChangeRows({ statement: 'CREATE TABLE n (id INT)', sourceEngine: 'mysql', operations: [{ op: 'create-table', table: table('n') }], before: new Map(), after: new Map([['n', table('n')]]) });
    expect(created.put.map((r) => r.name)).toEqual(['s:n', 't:n']);
    expect(JSON.parse(created.put[1]?.body ?? '{}')).toMatchObject({ done: true, watermark: null });
    const adopted = schemaChangeRows({ statement: 'RENAME TABLE o TO n', sourceEngine: 'mysql', operations: [{ op: 'create-table', table: table('n') }], before: new Map(), after: new Map([['n', table('n')]]), recopy: ['n'] });
    expect(adopted.put.map((r) => r.name)).toEqual(['s:n']);
    expect(adopted.remove).toContain('t:n');
  });
});

describe('checkpoint rows of a change applying nothing', () => {
  const table = (name: string): TableSchema => ({ name, columns: [], primaryKey: [], generated: [], engine: 'mysql' }) as TableSchema;
  it('a table created by a skipped statement (--skip-ddl: no operations) still has its copy row done; a renamed one does not get one', () => {
    const skipped = schemaChangeRows({ statement: 'CREATE TABLE n (a INT)', sourceEngine: 'mysql', operations: [], before: new Map(), after: new Map([['n', table('n')]]) });
    expect(skipped.put.map((r) => r.name)).toEqual(['s:n', 't:n']);
    const renamed = schemaChangeRows({ statement: 'RENAME TABLE o TO n', sourceEngine: 'mysql', operations: [{ op: 'rename-tables', pairs: [{ from: 'o', to: 'n' }] }], before: new Map([['o', table('o')]]), after: new Map([['n', table('n')]]) });
    expect(renamed.put.map((r) => r.name)).toEqual(['s:n']);
  });
});
