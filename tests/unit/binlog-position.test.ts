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
