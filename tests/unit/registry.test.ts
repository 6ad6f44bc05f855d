import { describe, expect, it } from 'vitest';
import { parseDsn } from '../../src/config/dsn.js';
import { ENGINES, engineOfScheme, sameDialect, schemesFor } from '../../src/engines/registry.js';

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
    expect(schemesFor('target')).toBe('mysql:// or postgres://');
  });

  it('compares dialects, not names: an unknown engine is its own dialect', () => {
    expect(sameDialect('mysql', 'mysql')).toBe(true);
    expect(sameDialect('mysql', 'postgres')).toBe(false);
    expect(sameDialect('fake', 'fake')).toBe(true);
    expect(sameDialect('fake', 'mysql')).toBe(false);
  });

  it('refuses an engine in a role its line does not declare, naming the engines that can', async () => {
    const { openTarget } = await import('../../src/engines/registry.js');
    const { parseConfig } = await import('../../src/config/parse.js');
    const pino = (await import('pino')).default;
    const config = parseConfig({ source: 'mysql://u@h/db', target: 'etcd://h:2379/prefix' });
    await expect(openTarget(config, parseDsn(config.target, 'target'), 'id', pino({ level: 'silent' }))).rejects.toThrow(
      "target engine 'etcd' is not supported yet; use a mysql:// or postgres:// target",
    );
  });
});
