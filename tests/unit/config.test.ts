import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDsn, redactUrl } from '../../src/config/dsn.js';
import { loadConfig } from '../../src/config/load.js';
import { selectTables } from '../../src/runner/tables.js';

describe('config precedence: flags > env > file > defaults', () => {
  const dir = mkdtempSync(join(tmpdir(), 'trib-cfg-'));
  const file = join(dir, 'c.yaml');
  writeFileSync(file, 'source: mysql://a@h/db\ntarget: mysql://b@h/db2\nthreads: 2\nflush-interval: 5s\ntables: [orders, "shop_*"]\n');

  it('takes the file, then env over it, then flags over both', () => {
    const c = loadConfig({ flags: { threads: '8' }, configFile: file, env: { TRIBUTARY_THREADS: '3', TRIBUTARY_FLUSH_INTERVAL: '250ms' } });
    expect(c.threads).toBe(8);
    expect(c.flushInterval).toBe('250ms');
    expect(c.tables).toEqual(['orders', 'shop_*']);
    expect(c.chunkSize).toBe(5000);
  });

  it('names an unknown key and the allowed ones', () => {
    writeFileSync(join(dir, 'bad.yaml'), 'source: mysql://a@h/db\ntreads: 2\n');
    expect(() => loadConfig({ flags: {}, configFile: join(dir, 'bad.yaml'), env: {} })).toThrow(/unknown key 'treads'; allowed keys: source, target/);
  });

  it('names a bad value and the allowed values', () => {
    expect(() => loadConfig({ flags: { source: 'mysql://a@h/d', target: 'mysql://a@h/e', positionMode: 'bogus' }, env: {} })).toThrow(/position-mode.*auto.*gtid.*file/s);
  });
});

describe('DSN parsing', () => {
  it('parses and never prints the password', () => {
    const d = parseDsn('mysql://u:s%40cret@db.example:3307/shop', 'source');
    expect(d).toMatchObject({ engine: 'mysql', host: 'db.example', port: 3307, user: 'u', password: 's@cret', database: 'shop' });
    expect(redactUrl('mysql://u:s3cret@h/db')).toBe('mysql://u:***@h/db');
  });
  it('refuses a missing database', () => {
    expect(() => parseDsn('mysql://u@h', 'source')).toThrow(/names no database/);
  });
});

describe('table selection', () => {
  it('matches names and globs, and refuses a pattern that matches nothing', () => {
    expect(selectTables(['a', 'shop_x', 'shop_y', 'z'], ['a', 'shop_*'], 'db')).toEqual(['a', 'shop_x', 'shop_y']);
    expect(() => selectTables(['a'], ['b*'], 'db')).toThrow(/matches no table/);
  });
});

describe('column type overrides', () => {
  it('keep commas inside a type', () => {
    const c = loadConfig({ flags: { source: 'mysql://a@h/d', target: 'mysql://a@h/e', columnTypes: 'orders.total=DECIMAL(65,30), orders.note=TEXT' }, env: {} });
    expect(c.columnTypes).toEqual({ 'orders.total': 'DECIMAL(65,30)', 'orders.note': 'TEXT' });
  });
});
