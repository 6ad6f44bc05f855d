import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { connectionDsn, resolvePasswords, type ConnectionSettings } from '../../src/config/connection.js';
import { describeDsn, parseDsn, redactConnectionUrl, redactUrl } from '../../src/config/dsn.js';
import { loadConfig, validateConfig } from '../../src/config/load.js';
import { exitCodeOf, TributaryError } from '../../src/core/errors.js';
import { selectTables } from '../../src/config/tables.js';
import { freeSpaceRequirement } from '../../src/core/disk.js';
import { formatCheckReport } from '../../src/cli/check.js';

/**
 * What the CLI writes to stdout and stderr while a test runs (after `start()`), for the describe
 * block that calls this; the writes are restored and the text cleared after each test.
 */
function captureCli(): { readonly out: string; start(): void; reset(): void } {
  let text = '';
  afterEach(() => {
    vi.restoreAllMocks();
    text = '';
  });
  return {
    get out() {
      return text;
    },
    start() {
      const grab = (chunk: unknown) => {
        text += String(chunk);
        return true;
      };
      vi.spyOn(process.stderr, 'write').mockImplementation(grab);
      vi.spyOn(process.stdout, 'write').mockImplementation(grab);
    },
    reset() {
      text = '';
    },
  };
}

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

/**
 * Malformed connection URLs holding a password. `secret` lists the pieces of the password that must
 * not appear in any output (a password cut by an unencoded '/', '#' or '?' leaks its halves).
 */
const MALFORMED: { readonly name: string; readonly url: string; readonly secret: readonly string[]; readonly says: RegExp }[] = [
  { name: 'missing colon after the scheme', url: 'mysql//root:MyPw123xyz@db.example/shop', secret: ['MyPw123xyz'], says: /does not begin with a scheme and ':\/\/'/ },
  { name: 'one slash after the scheme', url: 'mysql:/root:MyPw123xyz@db.example/shop', secret: ['MyPw123xyz'], says: /does not begin with a scheme/ },
  { name: 'no slashes after the scheme', url: 'mysql:root:MyPw123xyz@db.example/shop', secret: ['MyPw123xyz'], says: /does not begin with a scheme/ },
  { name: 'no scheme at all', url: 'root:MyPw123xyz@db.example/shop', secret: ['MyPw123xyz'], says: /does not begin with a scheme/ },
  { name: "'%' not encoded", url: 'mysql://root:50%offMyPw@db.example/shop', secret: ['50%offMyPw', 'offMyPw'], says: /write a literal % as %25/ },
  { name: "'%' before non-hex", url: 'postgres://root:MyPw%zz99@db.example/shop', secret: ['MyPw%zz99', 'zz99'], says: /%25/ },
  { name: "'%xx' not UTF-8", url: 'mysql://root:MyPwAbc%C3%28@db.example/shop', secret: ['MyPwAbc'], says: /%25/ },
  { name: "'#' in the password", url: 'mysql://root:MyPw#Tail99@db.example/shop', secret: ['MyPw#Tail99', 'Tail99'], says: /# as %23/ },
  { name: "'#' after digits (parses as host:port#fragment)", url: 'mysql://root:1234#Tail99@db.example/shop', secret: ['Tail99'], says: /# as %23/ },
  { name: "'/' after digits (parses as a path)", url: 'mysql://root:1234/Tail99@db.example/shop', secret: ['Tail99'], says: /%2F/ },
  { name: "'/' in the password", url: 'mysql://root:Head99/Tail99@db.example/shop', secret: ['Head99', 'Tail99'], says: /%2F/ },
  { name: "'?' after digits (parses as a query)", url: 'mysql://root:1234?Tail99@db.example/shop', secret: ['Tail99'], says: /%3F/ },
  { name: "'?' in the password", url: 'mysql://root:Head99?Tail99@db.example/shop', secret: ['Head99', 'Tail99'], says: /%3F|%2F/ },
  { name: 'a space in the host', url: 'mysql://root:MyPw123xyz@db example/shop', secret: ['MyPw123xyz'], says: /cannot be parsed/ },
  { name: 'unknown scheme', url: 'mssql://root:MyPw123xyz@db.example/shop', secret: ['MyPw123xyz'], says: /scheme 'mssql:'.*not supported/ },
  { name: 'empty host', url: 'mysql://root:MyPw123xyz@/shop', secret: ['MyPw123xyz'], says: /no host/ },
  { name: 'empty host with a port', url: 'mysql://root:MyPw123xyz@:3306/shop', secret: ['MyPw123xyz'], says: /cannot be parsed/ },
  { name: 'port not a number', url: 'mysql://root:MyPw123xyz@db.example:port/shop', secret: ['MyPw123xyz'], says: /cannot be parsed/ },
  { name: 'port out of range', url: 'postgres://root:MyPw123xyz@db.example:99999/shop', secret: ['MyPw123xyz'], says: /cannot be parsed/ },
  { name: "'@host' forgotten", url: 'mysql://root:MyPw123xyz', secret: ['MyPw123xyz'], says: /cannot be parsed/ },
  { name: "'@host' forgotten, a path after", url: 'mysql://root:MyPw123xyz/shop', secret: ['MyPw123xyz'], says: /cannot be parsed/ },
  { name: 'no database', url: 'mysql://root:MyPw123xyz@db.example', secret: ['MyPw123xyz'], says: /names no database/ },
];

describe('malformed URLs with passwords', () => {
  const hides = (text: string, secret: readonly string[]) => {
    for (const piece of secret) expect(text.includes(piece), `'${piece}' appears in: ${text}`).toBe(false);
  };

  it.each(MALFORMED)('$name: DSN_INVALID with the fix, and no piece of the password', ({ url, secret, says }) => {
    let err: unknown;
    try {
      parseDsn(url, 'source');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TributaryError);
    const e = err as TributaryError;
    expect(e.code).toBe('TRIB_DSN_INVALID');
    expect(e.message).toMatch(says);
    expect(e.message).toMatch(/TRIBUTARY_SOURCE_PASSWORD|mysql:\/\/user@host/);
    hides(e.message, secret);
    hides(redactConnectionUrl(url), secret);
  });

  describe('through the CLI (exit 2, stdout and stderr)', () => {
    const cli = captureCli();

    it.each(MALFORMED)('$name', async ({ url, secret }) => {
      cli.start();
      const ok = 'mysql://u@127.0.0.1:1/db';
      const runs: [string[], NodeJS.ProcessEnv][] = [
        [['sync', '--source', url, '--target', ok], {}],
        [['check', '--source', ok, '--target', url], {}],
        [['verify', '--source', url, '--target', ok], {}],
        [['move', '--source', ok, '--target', ok, '--replica', url], {}],
        [['sync', '--dry-run'], { TRIBUTARY_SOURCE: url, TRIBUTARY_TARGET: ok }],
      ];
      for (const [argv, env] of runs) {
        cli.reset();
        expect(await main(argv, env), `${argv.join(' ')}: ${cli.out}`).toBe(2);
        expect(cli.out).toMatch(/TRIB_DSN_INVALID/);
        expect(cli.out).not.toMatch(/unexpected error|URIError|at .*\.ts:\d+/);
        hides(cli.out, secret);
      }
    });
  });

  it('accepts what parses unambiguously: spaces, an unencoded @ and percent-encodings', () => {
    const cases: [string, string][] = [
      ['mysql://root:My Pw 1@db.example/shop', 'My Pw 1'],
      ['mysql://root:My@Pw@db.example/shop', 'My@Pw'],
      ['mysql://root:a:b@db.example/shop', 'a:b'],
      ['mysql://root:50%25off%23%40%2F%3A%3F%20x@db.example/shop', '50%off#@/:? x'],
    ];
    for (const [url, password] of cases) {
      const d = parseDsn(url, 'source');
      expect(d.password).toBe(password);
      expect(d.host).toBe('db.example');
      expect(describeDsn(d)).toBe('mysql://root@db.example:3306/shop');
      expect(redactConnectionUrl(url)).toBe('mysql://root:***@db.example/shop');
    }
  });

  it('redacts every URL in free text, and keeps what holds no password', () => {
    expect(redactUrl('failed: mysql://u:p@ss@h/db and postgres://v:x/y@h2/db2 (retry)')).toBe('failed: mysql://u:***@h/db and postgres://v:***@h2/db2 (retry)');
    expect(redactUrl('source mysql://root@h:3306/db: user \'root\'@\'%\' denied')).toBe('source mysql://root@h:3306/db: user \'root\'@\'%\' denied');
    for (const url of ['mysql://h:3306/db', 'mysql://[::1]:3306/db', 'mysql://u@[::1]/db', 'mysql://h/db?x=1']) expect(redactConnectionUrl(url)).toBe(url);
  });
});

describe('passwords outside the URL', () => {
  const dir = mkdtempSync(join(tmpdir(), 'trib-pw-'));
  const file = (name: string, content: string) => {
    const p = join(dir, name);
    writeFileSync(p, content);
    return p;
  };
  const base: ConnectionSettings = { source: 'mysql://app@db1/shop', target: 'postgres://app@db2/shop' };

  it('takes them from the environment, a file (trailing newlines stripped) or the config file', () => {
    const c = loadConfig({
      flags: { ...base, targetPasswordFile: file('t', 'Tgt Pw\r\n\n') },
      env: { TRIBUTARY_SOURCE_PASSWORD: 'Src#Pw%1' },
    });
    expect(connectionDsn(c, 'source').password).toBe('Src#Pw%1');
    expect(connectionDsn(c, 'target').password).toBe('Tgt Pw');
    // Read once by loadConfig: the config no longer names the file.
    expect(c.targetPasswordFile).toBeUndefined();
    const yaml = file('c.yaml', `source: ${base.source}\ntarget: ${base.target}\nsource-password-file: ${file('s', 'FromFile\n')}\ntarget-password: FromYaml\n`);
    const y = loadConfig({ flags: {}, configFile: yaml, env: { TRIBUTARY_REPLICA_PASSWORD_FILE: file('r', 'Rep\n'), TRIBUTARY_REPLICA: 'mysql://ro@db3/shop' } });
    expect([connectionDsn(y, 'source').password, connectionDsn(y, 'target').password, connectionDsn(y, 'replica').password]).toEqual(['FromFile', 'FromYaml', 'Rep']);
    // A library caller may hand the file to the Runner's config directly.
    expect(connectionDsn({ ...base, sourcePasswordFile: file('s2', 'Direct\n') }, 'source').password).toBe('Direct');
    expect(resolvePasswords({ ...base, sourcePasswordFile: file('s3', 'Once') }).sourcePassword).toBe('Once');
  });

  it('refuses a password given twice, naming where, never the values', () => {
    const cases: [Record<string, unknown>, NodeJS.ProcessEnv, RegExp][] = [
      [{ ...base, source: 'mysql://app:InUrl99@db1/shop' }, { TRIBUTARY_SOURCE_PASSWORD: 'InEnv99' }, /source password is given in 2 places: the source URL.*source-password \(TRIBUTARY_SOURCE_PASSWORD/],
      [{ ...base, targetPasswordFile: file('t2', 'InFile99') }, { TRIBUTARY_TARGET_PASSWORD: 'InEnv99' }, /target password is given in 2 places: target-password .* and target-password-file/],
      [{ ...base, target: 'postgres://app:InUrl99@db2/shop', targetPasswordFile: file('t3', 'InFile99') }, {}, /target password is given in 2 places/],
    ];
    for (const [flags, env, says] of cases) {
      let message = '';
      try {
        loadConfig({ flags, env });
      } catch (e) {
        expect((e as TributaryError).code).toBe('TRIB_CONFIG_INVALID');
        message = (e as Error).message;
      }
      expect(message).toMatch(says);
      for (const v of ['InUrl99', 'InEnv99', 'InFile99']) expect(message).not.toContain(v);
    }
  });

  it('names a missing, unreadable or empty file (never its content), and a password for no replica', () => {
    const missing = join(dir, 'nope');
    expect(() => loadConfig({ flags: { ...base, sourcePasswordFile: missing }, env: {} })).toThrow(new RegExp(`source-password-file ${missing} cannot be read \\(ENOENT\\)`));
    expect(() => loadConfig({ flags: { ...base, targetPasswordFile: dir }, env: {} })).toThrow(/target-password-file .* cannot be read \(EISDIR\)/);
    expect(() => loadConfig({ flags: { ...base, sourcePasswordFile: file('empty', '\n') }, env: {} })).toThrow(/source-password-file .* is empty/);
    expect(() => loadConfig({ flags: base, env: { TRIBUTARY_REPLICA_PASSWORD: 'x' } })).toThrow(/replica password is given but no replica URL/);
  });

  it('never repeats a password value in a validation message', () => {
    expect(() => loadConfig({ flags: { ...base, sourcePassword: '' }, env: {} })).toThrow(/source-password/);
    try {
      loadConfig({ flags: { ...base, sourcePassword: 'SecretValue42', threads: 'x' }, env: {} });
    } catch (e) {
      expect((e as Error).message).not.toContain('SecretValue42');
    }
  });
});

describe('messages say what the user types', () => {
  const base = { source: 'mysql://a@h/d', target: 'mysql://a@h/e' };
  const dir = mkdtempSync(join(tmpdir(), 'trib-msg-'));
  const message = (f: () => unknown): string => {
    try {
      f();
    } catch (err) {
      expect(err).toBeInstanceOf(TributaryError);
      return (err as TributaryError).message;
    }
    throw new Error('no error');
  };

  it('a bad duration gives examples, never the regular expression, from a flag, the environment, a file or a library call', () => {
    const file = join(dir, 'd.yaml');
    writeFileSync(file, 'flush-interval: 5x\n');
    const msgs = [
      message(() => loadConfig({ flags: { ...base, flushInterval: '5x' }, env: {} })),
      message(() => loadConfig({ flags: base, env: { TRIBUTARY_FLUSH_INTERVAL: '5x' } })),
      message(() => loadConfig({ flags: base, configFile: file, env: {} })),
      message(() => validateConfig({ ...base, flushInterval: '5x' })),
    ];
    for (const m of msgs) {
      expect(m).toMatch(/'5x' is not a duration; give e\.g\. 500ms, 2s, 5m/);
      expect(m).not.toMatch(/[\\^$]|regex|pattern|Invalid/);
    }
    expect(msgs[0]).toMatch(/^--flush-interval '5x'/);
    expect(msgs[1]).toMatch(/^TRIBUTARY_FLUSH_INTERVAL '5x'/);
    expect(msgs[2]).toMatch(/^flush-interval in config file /);
  });

  it('--lock-ttl: whole seconds from 2s to 60s, 10s by default, named with the fix when out of range', () => {
    expect(loadConfig({ flags: base, env: {} }).lockTtl).toBe('10s');
    expect(loadConfig({ flags: base, env: { TRIBUTARY_LOCK_TTL: '3s' } }).lockTtl).toBe('3s');
    for (const bad of ['1s', '2500ms', '61s']) {
      expect(message(() => loadConfig({ flags: { ...base, lockTtl: bad }, env: {} }))).toBe(`lock-ttl '${bad}': is not a whole number of seconds from 2s to 60s; give e.g. 10s`);
    }
  });

  it('--decode-thread: on by default; on/off from a flag or the environment, a bad value named', () => {
    expect(loadConfig({ flags: base, env: {} }).decodeThread).toBe(true);
    expect(loadConfig({ flags: { ...base, decodeThread: 'off' }, env: {} }).decodeThread).toBe(false);
    expect(loadConfig({ flags: base, env: { TRIBUTARY_DECODE_THREAD: 'off' } }).decodeThread).toBe(false);
    expect(message(() => loadConfig({ flags: { ...base, decodeThread: 'sometimes' }, env: {} }))).toBe("--decode-thread 'sometimes' is not a boolean; use true or false");
  });

  it('number errors read the same for -1 and abc, wherever they come from', () => {
    const file = join(dir, 'n.yaml');
    for (const [key, flag, range] of [
      ['threads', '--threads', 'an integer from 1 to 64'],
      ['chunkSize', '--chunk-size', 'an integer from 1 to 1000000'],
      ['copyRateLimit', '--copy-rate-limit', 'an integer of 0 or more'],
      ['readyMaxLag', '--ready-max-lag', 'a number above 0'],
    ] as const) {
      for (const bad of ['-1', 'abc', '']) {
        expect(message(() => loadConfig({ flags: { ...base, [key]: bad }, env: {} }))).toBe(`${flag} '${bad}' is not ${range}`);
      }
      writeFileSync(file, `${flag.slice(2)}: -1\n`);
      expect(message(() => loadConfig({ flags: base, configFile: file, env: {} }))).toBe(`${flag.slice(2)} in config file ${file} '-1' is not ${range}`);
      expect(message(() => validateConfig({ ...base, [key]: -1 }))).toBe(`${flag.slice(2)} '-1' is not ${range}`);
    }
  });

  it('config keys are kebab-case as the flags; camelCase is still read', () => {
    const file = join(dir, 'k.yaml');
    writeFileSync(file, 'flush-interval: 2s\nhttp-token: abcdefghijklmnopq\ncolumn-types: {items.price: "DECIMAL(65,30)"}\ncopyRateLimit: 5\n');
    const c = loadConfig({ flags: base, configFile: file, env: {} });
    expect(c).toMatchObject({ flushInterval: '2s', httpToken: 'abcdefghijklmnopq', columnTypes: { 'items.price': 'DECIMAL(65,30)' }, copyRateLimit: 5 });
    writeFileSync(file, 'flushInterval: 5x\n');
    expect(message(() => loadConfig({ flags: base, configFile: file, env: {} }))).toMatch(/^flush-interval in config file/);
    writeFileSync(file, 'treads: 2\n');
    const unknown = message(() => loadConfig({ flags: base, configFile: file, env: {} }));
    expect(unknown).toMatch(/allowed keys: .*flush-interval.*http-token/);
    expect(unknown.slice(unknown.indexOf('allowed keys:'))).not.toMatch(/[a-z][A-Z]/);
  });

  it('a --column-types entry without = shows the form to type', () => {
    expect(message(() => loadConfig({ flags: { ...base, columnTypes: 'items.price' }, env: {} }))).toMatch(/--column-types entry 'items\.price' is not table\.column=TYPE, e\.g\. --column-types items\.price=DECIMAL\(65,30\)/);
  });

  it('every --tables pattern that matches nothing is named, also when others match; the code is a usage error (exit 2)', () => {
    let err: unknown;
    try {
      selectTables(['orders', 'items'], ['orders', 'itemz', 'shop_*'], 'db');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TributaryError);
    expect((err as TributaryError).code).toBe('TRIB_NO_TABLES');
    expect((err as TributaryError).message).toMatch(/^--tables patterns 'itemz', 'shop_\*' match no table of source database 'db' \(it has: orders, items\)/);
    expect(exitCodeOf(err)).toBe(2);
    expect(exitCodeOf(new TributaryError('TRIB_CONFIG_INVALID', 'x'))).toBe(2);
    expect(exitCodeOf(new TributaryError('TRIB_DSN_INVALID', 'x'))).toBe(2);
    expect(exitCodeOf(new TributaryError('TRIB_CONNECT_FAILED', 'x'))).toBe(1);
    expect(exitCodeOf(new TributaryError('TRIB_CHECK_FAILED', 'x'))).toBe(1);
    expect(exitCodeOf(new Error('x'))).toBe(1);
  });

  describe('through the CLI', () => {
    const cli = captureCli();

    it('an unknown flag prints the suggestion and one line pointing at --help, not the help (exit 2)', async () => {
      cli.start();
      expect(await main(['check', '--treads', '2'])).toBe(2);
      expect(cli.out).toMatch(/unknown option '--treads'/);
      expect(cli.out).toMatch(/Did you mean --threads\?/);
      expect(cli.out).toMatch(/^\(run 'tributary check --help' for its options\)$/m);
      expect(cli.out).not.toMatch(/Usage:|Options:/);
      expect(cli.out.trim().split('\n').length).toBeLessThanOrEqual(3);
    });

    it('bad numbers and durations exit 2 with the same words as the library', async () => {
      cli.start();
      const ok = ['--source', 'mysql://u@127.0.0.1:1/db', '--target', 'mysql://u@127.0.0.1:1/db2'];
      expect(await main(['check', ...ok, '--threads', 'abc'])).toBe(2);
      expect(await main(['check', ...ok, '--threads', '-1'])).toBe(2);
      expect(await main(['sync', ...ok, '--flush-interval', '5x'])).toBe(2);
      const lines = cli.out.trim().split('\n');
      expect(lines).toEqual([
        "tributary: error TRIB_CONFIG_INVALID: --threads 'abc' is not an integer from 1 to 64",
        "tributary: error TRIB_CONFIG_INVALID: --threads '-1' is not an integer from 1 to 64",
        "tributary: error TRIB_CONFIG_INVALID: --flush-interval '5x' is not a duration; give e.g. 500ms, 2s, 5m (a bare number is milliseconds)",
      ]);
    });
  });
});

describe('check: free space is measured or a warning, never an unmeasured ✔', () => {
  it('measures a local data directory, and warns for a remote server or a directory not on this machine', async () => {
    const local = await freeSpaceRequirement('127.0.0.1', tmpdir(), 'MySQL');
    expect(local).toMatchObject({ ok: true, severity: 'info' });
    expect(local.value).toMatch(/^\d+\.\d GiB free in /);
    for (const r of [await freeSpaceRequirement('db.example', tmpdir(), 'MySQL'), await freeSpaceRequirement('127.0.0.1', '/nonexistent/trib-data', 'PostgreSQL'), await freeSpaceRequirement('::1', undefined, 'PostgreSQL')]) {
      expect(r).toMatchObject({ ok: false, severity: 'warning' });
      expect(r.value).toMatch(/^unknown/);
    }
    const report = formatCheckReport({
      source: 's',
      target: 't',
      tables: [],
      lines: [{ ...(await freeSpaceRequirement('db.example', undefined, 'MySQL')), group: 'target' }],
      errors: 0,
      warnings: 1,
      ok: true,
    });
    expect(report).toMatch(/^ {2}⚠ free space: unknown/m);
    expect(report).toMatch(/ready: every requirement is met, 1 warning/);
  });
});
