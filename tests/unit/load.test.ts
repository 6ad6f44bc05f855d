import { describe, expect, it } from 'vitest';
import type { TableSchema } from '../../src/core/schema.js';
import { loadPlan, serialise, tsvSelect } from '../../src/engines/mysql/load.js';
import { literal } from '../../src/engines/mysql/sql.js';

const t: TableSchema = {
  name: 'we`ird',
  engine: 'mysql',
  generated: [],
  primaryKey: [0],
  columns: [
    { name: 'id', dataType: 'bigint', columnType: 'bigint(20)', nullable: false, unsigned: false },
    { name: 's', dataType: 'varchar', columnType: 'varchar(9)', nullable: true, unsigned: false, charset: 'utf8mb4' },
    { name: 'b', dataType: 'varbinary', columnType: 'varbinary(9)', nullable: true, unsigned: false, charset: 'binary' },
    { name: 'bits', dataType: 'bit', columnType: 'bit(64)', nullable: true, unsigned: false },
    { name: 'y', dataType: 'year', columnType: 'year(4)', nullable: true, unsigned: false },
    { name: 'f', dataType: 'double', columnType: 'double', nullable: true, unsigned: false },
  ],
};

describe('LOAD DATA serialisation', () => {
  it('escapes text, hex-encodes binary, keeps NULL apart from the string "\\N"', () => {
    const plan = loadPlan(t);
    expect(plan.sql).toContain('REPLACE INTO TABLE `we``ird`');
    expect(plan.sql).toContain('`b` = UNHEX(@v2)');
    expect(plan.sql).toContain('`bits` = CAST(@v3 AS UNSIGNED)');
    const out = serialise(
      [
        [1n, 'a\tb\nc\\d\0', Buffer.from([0, 255]), 18446744073709551615n, 0n, -0],
        [2n, null, null, null, null, 1e-7],
        [3n, '\\N', Buffer.alloc(0), 0n, 2155n, 0.1],
      ],
      plan,
    ).toString('utf8');
    expect(out).toBe(
      '1\ta\\tb\\nc\\\\d\\0\t00ff\t18446744073709551615\t0000\t-0\n' + '2\t\\N\t\\N\t\\N\t\\N\t1e-7\n' + '3\t\\\\N\t\t0\t2155\t0.1\n',
    );
  });
});

describe('SQL literals', () => {
  it('keep doubles doubles, −0 negative, binary as hex', () => {
    expect(literal(1)).toBe('1e0');
    expect(literal(-0)).toBe('-0e0');
    expect(literal(0.1)).toBe('0.1');
    expect(literal(12345678901234567890n)).toBe('12345678901234567890');
    expect(literal(Buffer.from([0, 1]))).toBe("X'0001'");
    expect(literal(Buffer.alloc(0))).toBe("''");
    expect(literal("it's")).toBe("'it\\'s'");
    expect(literal(null)).toBe('NULL');
  });
});

describe('ENUM members from the catalogue', () => {
  it('parses quotes and commas', async () => {
    const { enumMembers } = await import('../../src/engines/mysql/chunks.js');
    expect(enumMembers("enum('z','b,c','it''s','')")).toEqual(['z', 'b,c', "it's", '']);
  });
});

describe('LOAD DATA lines rendered on a MySQL source (tsvSelect)', () => {
  const table = (c: TableSchema['columns'][number]): TableSchema => ({
    name: 't',
    engine: 'mysql',
    generated: [],
    primaryKey: [0],
    columns: [{ name: 'id', dataType: 'int', columnType: 'int(11)', nullable: false, unsigned: false }, c],
  });

  it("escapes a MySQL 8 JSON column (no charset in the catalogue) as it escapes MariaDB's JSON (utf8mb4 LONGTEXT)", () => {
    // MySQL 8 prints a JSON string holding a newline as "a\nb": the backslash must reach LOAD DATA as '\\'.
    const mysql8 = tsvSelect(table({ name: 'j', dataType: 'json', columnType: 'json', nullable: true, unsigned: false }));
    const mariadb = tsvSelect(table({ name: 'j', dataType: 'longtext', columnType: 'longtext', nullable: true, unsigned: false, charset: 'utf8mb4', collation: 'utf8mb4_bin' }));
    expect(mysql8).toBe(mariadb);
    expect(mysql8).toContain("REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(CONVERT(`j` USING utf8mb4), '\\\\', '\\\\\\\\')");
  });

  it('renders spatial columns as the hex of their stored bytes, loaded through UNHEX', () => {
    const t = table({ name: 'g', dataType: 'point', columnType: 'point', nullable: true, unsigned: false });
    expect(tsvSelect(t)).toBe("CONCAT_WS('\\t', IFNULL(`id`, '\\\\N'), IFNULL(HEX(`g`), '\\\\N'))");
    expect(loadPlan(t).sql).toContain('`g` = UNHEX(@v1)');
  });
});
