import { describe, expect, it } from 'vitest';
import { parseDsn } from '../../src/config/dsn.js';
import { familyOf } from '../../src/checksum/normalise.js';
import type { TableSchema } from '../../src/core/schema.js';
import { ENGINES, engineOfScheme, sameDialect, schemesFor, valueConventions, withLogicalTypes } from '../../src/engines/registry.js';

/** src/engines/registry.ts: the one table of engines, read by URLs, roles and dialect comparisons. */
describe('engine registry', () => {
  it('maps every scheme to one engine, and URLs take the default port and the database rule from it', () => {
    const schemes = ENGINES.flatMap((e) => e.schemes);
    expect(new Set(schemes).size).toBe(schemes.length);
    expect(engineOfScheme('mariadb')?.name).toBe('mysql');
    expect(engineOfScheme('postgresql')?.name).toBe('postgres');
    expect(engineOfScheme('oracle')).toBeUndefined();
    for (const e of ENGINES) {
      const dsn = parseDsn(`${e.schemes[0]}://u@h/db`, 'target');
      expect([dsn.engine, dsn.port]).toEqual([e.name, e.defaultPort]);
      if (e.needsDatabase) expect(() => parseDsn(`${e.schemes[0]}://u@h`, 'target')).toThrow(/names no database/);
      else expect(parseDsn(`${e.schemes[0]}://u@h`, 'target').database).toBe('');
    }
  });

  it('names the engines that can play a role, for messages', () => {
    expect(schemesFor('source')).toBe('mysql:// or postgres://');
    expect(schemesFor('target')).toBe('mysql://, postgres:// or etcd://');
  });

  it('compares dialects, not names: an unknown engine is its own dialect', () => {
    expect(sameDialect('mysql', 'mysql')).toBe(true);
    expect(sameDialect('mysql', 'postgres')).toBe(false);
    expect(sameDialect('fake', 'fake')).toBe(true);
    expect(sameDialect('fake', 'mysql')).toBe(false);
  });

  it('refuses an engine in a role its line does not declare, naming the engines that can', async () => {
    const { openSource, openLagProbe } = await import('../../src/engines/registry.js');
    const { parseConfig } = await import('../../src/config/parse.js');
    const pino = (await import('pino')).default;
    const config = parseConfig({ source: 'etcd://h:2379/prefix', target: 'mysql://u@h/db' });
    await expect(openSource(config, parseDsn(config.source, 'source'), 'id', pino({ level: 'silent' }))).rejects.toThrow(
      "source engine 'etcd' is not supported as a source; use a mysql:// or postgres:// source",
    );
    await expect(openLagProbe(parseDsn('etcd://h:2379/x', 'replica'))).rejects.toThrow("replica engine 'etcd' cannot be watched for lag");
  });

  it('parses an etcd URL naming every endpoint of a cluster, and refuses several hosts for an engine that takes one', () => {
    const d = parseDsn('etcd://u:p%40ss@a.example:2379,b.example:2380,[::1]/tree?ca=/x.pem', 'target');
    expect(d.endpoints).toEqual([
      { host: 'a.example', port: 2379 },
      { host: 'b.example', port: 2380 },
      { host: '::1', port: 2379 },
    ]);
    expect([d.host, d.port, d.user, d.password, d.database, d.params.ca]).toEqual(['a.example', 2379, 'u', 'p@ss', 'tree', '/x.pem']);
    expect(() => parseDsn('mysql://u:secret@a:3306,b:3306/db', 'target')).toThrow(/names 2 hosts; give one host:port/);
    expect(() => parseDsn('mysql://u:secret@a:3306,b:3306/db', 'target')).not.toThrow(/secret/);
    // A MySQL source may name several hosts of one replication lineage (docs/failover.md); PostgreSQL may not.
    expect(parseDsn('mysql://u:secret@a:3306,b:3307/db', 'source').endpoints).toEqual([{ host: 'a', port: 3306 }, { host: 'b', port: 3307 }]);
    expect(() => parseDsn('postgres://u@a:5432,b:5432/db', 'source')).toThrow(/names 2 hosts; give one host:port; only etcd:\/\/ or a mysql:\/\/ source URLs name several/);
  });

  it('fills the logical types of a hand-built table from its engine, keeps given ones, and leaves an unknown engine’s alone', async () => {
    const col = (name: string, dataType: string, columnType: string) => ({ name, dataType, columnType, nullable: true, unsigned: false });
    const mine: TableSchema = { name: 't', engine: 'mysql', primaryKey: [0], generated: [], columns: [col('id', 'int', 'int(11)'), col('at', 'datetime', 'datetime(3)')] };
    const filled = await withLogicalTypes(mine);
    expect(filled.columns.map((c) => c.logical)).toEqual([
      { kind: 'integer', bytes: 4, signed: true },
      { kind: 'timestamp', zone: false, fsp: 3 },
    ]);
    const given = { ...mine.columns[0]!, logical: { kind: 'decimal', precision: 10, scale: 0 } as const };
    expect((await withLogicalTypes({ ...mine, columns: [given] })).columns[0]?.logical).toBe(given.logical);
    const pg = await withLogicalTypes({ ...mine, engine: 'postgres', columns: [col('b', 'bit', 'bit(3)')] });
    expect(pg.columns[0]?.logical).toEqual({ kind: 'bit', length: 3, varying: false });
    const fake: TableSchema = { ...mine, engine: 'fake' };
    expect(await withLogicalTypes(fake)).toBe(fake);
    // A column without one is refused by name where values are compared across dialects.
    expect(() => familyOf(fake.columns[1]!)).toThrow(/column at has no logical type/);
  });

  it('gives every engine value conventions, and an unknown engine the defaults', () => {
    expect(valueConventions('mysql')).toMatchObject({ zeroDates: true, bits: 'integer', spatialBytes: 'srid-wkb' });
    expect(valueConventions('postgres')).toMatchObject({ zeroDates: false, bits: 'text', spatialBytes: 'ewkb' });
    expect(valueConventions('fake')).toMatchObject({ zeroDates: false });
  });
});
