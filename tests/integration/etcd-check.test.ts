/**
 * `tributary check` and the connection to an etcd target on real etcd servers, through the CLI, as
 * docs/etcd.md says: a plain cluster's lines (reachable, version, space against
 * --quota-backend-bytes, write permission, each table) and a keyless table refused by name; etcd
 * auth (a user whose role may write only /allowed: ✔ there, ✘ naming the grant elsewhere, a wrong
 * password refused as AUTH_FAILED, the password never printed; a copy as that user); TLS with the
 * cluster's own CA (?ca=), without it, with an unreadable CA file; a nearly full quota (a warning:
 * the exit code stays 0); several endpoints, the first dead (the client fails over); a stream as an
 * etcd user outliving its auth token (--auth-token-ttl=1) while idle, more than once.
 */
import { readFileSync } from 'node:fs';
import { Etcd3, type IOptions } from 'etcd3';
import type { Connection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startEtcd, startMariaDb, type EtcdServer, type Server } from '../../src/testing/servers.js';
import { connect, runCli, startCli, waitUntil } from '../helpers/mysql.js';

const QUOTA = 16 * 1048576;
const PASSWORD = 'Pw-9f3kQ7-never-printed';

let maria: Server;
let plain: EtcdServer;
let authed: EtcdServer;
let tls: EtcdServer;
let full: EtcdServer;
let mtls: EtcdServer;
let shortToken: EtcdServer;
let src: Connection;
const clients: Etcd3[] = [];

beforeAll(async () => {
  [maria, plain, authed, tls, full, mtls, shortToken] = await Promise.all([
    // Retention set as an operator would, so a healthy check has no warning from the source.
    startMariaDb({ args: ['--binlog-expire-logs-seconds=604800'] }),
    startEtcd({ args: [`--quota-backend-bytes=${QUOTA}`] }),
    startEtcd(),
    startEtcd({ tls: true }),
    startEtcd({ args: [`--quota-backend-bytes=${QUOTA}`] }),
    startEtcd({ tls: { clientCertAuth: true } }),
    // Auth tokens that expire after a second unused.
    startEtcd({ args: ['--auth-token-ttl=1'] }),
  ]);
  src = await connect(maria.url());
  await src.query(`CREATE DATABASE ok; USE ok; CREATE TABLE orders (id INT PRIMARY KEY, note VARCHAR(20)); INSERT INTO orders VALUES (1, 'a'), (2, 'b'), (3, 'c');
    CREATE DATABASE nokey; USE nokey; CREATE TABLE orders (id INT PRIMARY KEY, note VARCHAR(20)); CREATE TABLE loose (v INT);`);
}, 120_000);

afterAll(async () => {
  for (const c of clients) c.close();
  await src?.end();
  await Promise.all([maria?.stop(), plain?.stop(), authed?.stop(), tls?.stop(), full?.stop(), mtls?.stop(), shortToken?.stop()]);
});

/**
 * Turns etcd auth on: user root (password rootpw, role root), and `user` (password PASSWORD) whose
 * role `role` may read and write only under `prefix`.
 */
async function enableAuth(server: EtcdServer, g: { role: string; prefix: string; user: string }): Promise<void> {
  const admin = client(server);
  await admin.role('root').create();
  await admin.user('root').create('rootpw');
  await admin.user('root').addRole('root');
  await admin.role(g.role).create();
  await admin.role(g.role).grant({ permission: 'Readwrite', range: admin.range({ prefix: g.prefix }) });
  await admin.user(g.user).create(PASSWORD);
  await admin.user(g.user).addRole(g.role);
  await admin.auth.authEnable({});
}

function client(server: EtcdServer, extra: Omit<IOptions, 'hosts'> = {}): Etcd3 {
  const c = new Etcd3({ hosts: server.endpoint, ...extra });
  clients.push(c);
  return c;
}

/** The check line of one requirement (`  ✔ name: value…`), or '' when there is none. */
function line(stdout: string, requirement: string): string {
  // `connection` is a line of the source's section too: the target's comes after its header.
  const from = requirement === 'connection' ? stdout.indexOf('\ntarget ') : 0;
  return stdout.slice(Math.max(from, 0)).split('\n').find((l) => /^ {2}[✔✘⚠ℹ] /.test(l) && l.slice(4).startsWith(`${requirement}: `)) ?? '';
}

const shown: string[] = [];

async function check(target: string, db = 'ok'): Promise<{ code: number; stdout: string; stderr: string }> {
  const res = await runCli(['check', '--source', maria.url(db), '--target', target], {}, 60_000);
  shown.push(`${target} → ${res.code}`, ...res.stdout.split('\n').filter((l) => /^ {2}[✘⚠]|etcd|permission/.test(l)), res.stderr);
  return res;
}

describe('tributary check → etcd', () => {
  afterAll(() => {
    if (process.env.SHOW_LINES) console.log(shown.join('\n'));
  });

  it('a plain cluster: reachable, version, space of the quota, write permission, each table; a keyless table is refused by name', async () => {
    const res = await check(plain.url('shop'));
    expect(res.code, res.stdout + res.stderr).toBe(0);
    expect(res.stdout).not.toMatch(/[✘⚠]/);
    expect(line(res.stdout, 'connection')).toMatch(/✔ .*etcd/);
    expect(line(res.stdout, 'etcd version')).toMatch(/✔ etcd version: 3\.\d+\.\d+/);
    expect(line(res.stdout, 'etcd space (--quota-backend-bytes)')).toMatch(/✔ .*: \d+\.\d MiB used of 16\.0 MiB/);
    expect(line(res.stdout, 'etcd alarms')).toMatch(/✔ etcd alarms: none/);
    expect(line(res.stdout, 'write permission')).toMatch(/✔ write permission: user \(no auth\) may read and write \/shop/);
    expect(line(res.stdout, 'table orders')).toMatch(/✔ table orders: keys \/shop\/orders\/…/);
    // check creates nothing: the probe's put never runs.
    expect(await client(plain).getAll().prefix('/').keys()).toEqual([]);

    const bad = await check(plain.url('shop'), 'nokey');
    expect(bad.code, bad.stdout + bad.stderr).not.toBe(0);
    const loose = line(bad.stdout, 'table loose');
    expect(loose).toMatch(/✘ table loose: .*no primary key.*; fix: .*add a primary key on the source, or leave the table out of --tables/);
    // The reason and the fix are said once each.
    expect(loose.split('add a primary key').length, loose).toBe(2);
    expect(bad.stderr).toMatch(/TRIB_CHECK_FAILED.*table loose/);
  });

  it('auth: a user may write only under its granted prefix; a wrong password is AUTH_FAILED; the password is never printed; a copy as that user', async () => {
    await enableAuth(authed, { role: 'writer', prefix: '/allowed', user: 'limited' });
    const at = (user: string, pw: string, prefix: string): string => `etcd://${user}:${pw}@127.0.0.1:${authed.port}/${prefix}`;
    const noPassword = (out: string): void => expect(out).not.toContain(PASSWORD);

    const ok = await check(at('limited', PASSWORD, 'allowed'));
    noPassword(ok.stdout + ok.stderr);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(line(ok.stdout, 'write permission')).toMatch(/✔ write permission: user limited may read and write \/allowed/);
    // Where alarms take the root role the line is left out; etcd 3.4 lets any user read them.
    expect(line(ok.stdout, 'etcd alarms')).not.toMatch(/✘/);

    const other = await check(at('limited', PASSWORD, 'other'));
    noPassword(other.stdout + other.stderr);
    expect(other.code, other.stdout + other.stderr).not.toBe(0);
    expect(other.stdout + other.stderr).toMatch(/etcdctl role grant-permission ROLE --prefix=true readwrite \/other/);
    expect(other.stdout + other.stderr).toMatch(/limited/);

    const wrong = await check(at('limited', `${PASSWORD}x`, 'allowed'));
    noPassword(wrong.stdout + wrong.stderr);
    expect(wrong.code).not.toBe(0);
    expect(line(wrong.stdout, 'connection')).toMatch(/✘ connection: target etcd:\/\/limited@127\.0\.0\.1:\d+\/allowed: authentication failed for user 'limited'; fix: check the user and password in the URL/);

    const copy = await runCli(['sync', '--copy-only', '--source', maria.url('ok'), '--target', at('limited', PASSWORD, 'allowed')], {}, 60_000);
    noPassword(copy.stdout + copy.stderr);
    expect(copy.code, copy.stdout + copy.stderr).toBe(0);
    const root = client(authed, { auth: { username: 'root', password: 'rootpw' } });
    expect((await root.getAll().prefix('/allowed/orders/').keys()).sort()).toEqual(['/allowed/orders/1', '/allowed/orders/2', '/allowed/orders/3']);
  });

  it('a stream as an etcd user outlives its auth token: idle past --auth-token-ttl, the next writes renew it and land; the password is never printed', { timeout: 90_000 }, async () => {
    await enableAuth(shortToken, { role: 'tok', prefix: '/tok', user: 'streamer' });
    const root = client(shortToken, { auth: { username: 'root', password: 'rootpw' } });
    await src.query('CREATE DATABASE tok; CREATE TABLE tok.t (id INT PRIMARY KEY, v INT); INSERT INTO tok.t VALUES (1, 1)');
    const run = startCli(['sync', '--source', maria.url('tok'), '--target', `etcd://streamer:${PASSWORD}@127.0.0.1:${shortToken.port}/tok`, '--flush-interval', '50ms', '--checksum', 'off']);
    try {
      await waitUntil('copied', async () => (await root.get('/tok/t/1').string()) !== null, 60_000);
      for (const v of [2, 3]) {
        // Idle well past the token's second (the lock's lease is renewed every few seconds): calls
        // after it, the writes' and the renewals', carry an expired token.
        await new Promise((resolve) => setTimeout(resolve, 3_000));
        await src.query(`INSERT INTO tok.t VALUES (${v}, ${v}); UPDATE tok.t SET v = ${v} WHERE id = 1`);
        await waitUntil(`row ${v} streamed`, async () => (await root.get(`/tok/t/${v}`).string()) !== null && JSON.parse((await root.get('/tok/t/1').string()) ?? '{}').v === v, 20_000).catch((err: Error) => {
          throw new Error(`${err.message}\n${run.stderr().slice(-3000)}`, { cause: err });
        });
      }
      expect(run.child.exitCode, run.stderr()).toBeNull();
    } finally {
      run.child.kill('SIGTERM');
    }
    expect(await run.exited, run.stderr()).toBe(0);
    expect(run.stdout() + run.stderr()).not.toContain(PASSWORD);
    // etcd did refuse an expired token of the sync's (it logs each one): the renewal was needed, and worked.
    expect(shortToken.log()).toContain('invalid auth token');
  });

  it('TLS: ?ca= the cluster\u2019s CA connects (check and a copy); without it, a clear error; an unreadable CA file is DSN_INVALID naming it', async () => {
    const files = tls.tls;
    if (!files) throw new Error('no TLS files');
    const withCa = `${tls.url('secure')}?ca=${files.ca}`;
    const ok = await check(withCa);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(line(ok.stdout, 'write permission')).toMatch(/✔/);
    expect(line(ok.stdout, 'table orders')).toMatch(/✔/);
    // /metrics is read over https with the URL's CA: the quota is known (etcd's default, 2 GiB).
    expect(line(ok.stdout, 'etcd space (--quota-backend-bytes)')).toMatch(/✔ .*used of 2048\.0 MiB/);
    const copy = await runCli(['sync', '--copy-only', '--source', maria.url('ok'), '--target', withCa], {}, 60_000);
    expect(copy.code, copy.stdout + copy.stderr).toBe(0);
    const c = client(tls, { credentials: { rootCertificate: readFileSync(files.ca) } });
    expect(await c.getAll().prefix('/secure/orders/').count()).toBe(3);

    // Plaintext to an https server: the error says the connection failed and how TLS is asked for.
    const plainToTls = await check(tls.url('secure'));
    expect(plainToTls.code).not.toBe(0);
    expect(line(plainToTls.stdout, 'connection')).toMatch(/✘ connection: .*no endpoint answered \(14 UNAVAILABLE: .*\); fix: check that the cluster runs and listens on 127\.0\.0\.1:\d+, and whether it serves TLS \(https\): then add \?tls=1, or \?ca=FILE/);
    // TLS against the system's roots: the server's certificate is not trusted; the fix is ?ca=.
    const systemRoots = await check(`${tls.url('secure')}?tls=1`);
    expect(systemRoots.code).not.toBe(0);
    expect(line(systemRoots.stdout, 'connection')).toMatch(/✘ connection: .*unable to verify the first certificate.*; fix: .*signed by the CA in \?ca=/);

    const missing = await check(`${tls.url('secure')}?ca=/nonexistent/ca.pem`);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/TRIB_DSN_INVALID: .*\?ca=\/nonexistent\/ca\.pem cannot be read \(ENOENT\)/);
  });

  it('TLS with --client-cert-auth: ?ca=&cert=&key= connects (check and a copy); without a client certificate, a clear error; cert without key is refused', async () => {
    const files = mtls.tls;
    if (!files) throw new Error('no TLS files');
    const withCert = `${mtls.url('m')}?ca=${files.ca}&cert=${files.cert}&key=${files.key}`;
    const ok = await check(withCert);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(line(ok.stdout, 'write permission')).toMatch(/✔/);
    expect(line(ok.stdout, 'etcd space (--quota-backend-bytes)')).toMatch(/✔ .*used of 2048\.0 MiB/);
    // The copy's transactions go over HTTP/2 of their own (unary.ts), with the same certificate.
    const copy = await runCli(['sync', '--copy-only', '--source', maria.url('ok'), '--target', withCert], {}, 60_000);
    expect(copy.code, copy.stdout + copy.stderr).toBe(0);
    const c = client(mtls, { credentials: { rootCertificate: readFileSync(files.ca), certChain: readFileSync(files.cert), privateKey: readFileSync(files.key) } });
    expect(await c.getAll().prefix('/m/orders/').count()).toBe(3);
    const noCert = await check(`${mtls.url('m')}?ca=${files.ca}`);
    expect(noCert.code).not.toBe(0);
    expect(line(noCert.stdout, 'connection')).toMatch(/✘ connection: .*no endpoint answered \(.*bad certificate.*\); fix: .*client certificate \(--client-cert-auth\): give \?cert=FILE&key=FILE/);
    const half = await check(`${mtls.url('m')}?ca=${files.ca}&cert=${files.cert}`);
    expect(half.code).not.toBe(0);
    expect(half.stderr).toMatch(/TRIB_DSN_INVALID: .*needs both \?cert= and \?key=/);
  });

  it('quota: nearly full, the space line is a warning and the exit code stays 0; full, every failing line says why (never "circuit breaker")', async () => {
    const c = client(full);
    // etcd reports the size its backend last committed (every 100 ms, later on a busy machine), so
    // a size read right after a put may be stale. Each step reads the size until two reads agree,
    // then puts half of what is left to 95 %: even a read that missed the whole previous step
    // (which was half of the gap it saw) cannot carry the fill past 95 %, and the fill stops between
    // the warning (over 90 %) and the quota (writes refused) in a few steps.
    const settled = async (): Promise<number> => {
      let last = -1;
      for (;;) {
        const size = Number((await c.maintenance.status()).dbSize);
        if (size === last) return size;
        last = size;
        await new Promise((r) => setTimeout(r, 300));
      }
    };
    let n = 0;
    for (;;) {
      const size = await settled();
      if (size > QUOTA * 0.91) break;
      const gap = (QUOTA * 0.95 - size) / 2;
      const value = Buffer.alloc(gap > 2 * 1048576 ? 128 * 1024 : 16 * 1024, 'x');
      const count = Math.max(1, Math.floor(gap / value.length));
      for (let i = 0; i < count; i++) await c.put(`/junk/${n++}`).value(value);
    }
    const res = await check(full.url('shop'));
    const space = line(res.stdout, 'etcd space (--quota-backend-bytes)');
    expect(space).toMatch(/⚠ .*: 1\d\.\d MiB used of 16\.0 MiB; fix: raise the cluster.s --quota-backend-bytes/);
    expect(res.code, res.stdout + res.stderr).toBe(0);

    // Past the quota etcd raises its NOSPACE alarm and refuses every write. The write's line fails
    // with that reason, and the client counts no such failure against the endpoint, so the reads
    // after it still answer (before, the write's three retries opened the endpoint's circuit breaker
    // and the next line said "circuit breaker is open" instead).
    const big = Buffer.alloc(128 * 1024, 'x');
    for (;;) {
      try {
        await c.put(`/junk/${n++}`).value(big);
      } catch (err) {
        expect(String(err)).toMatch(/database space exceeded/);
        break;
      }
    }
    const over = await check(full.url('shop'));
    expect(over.code).not.toBe(0);
    expect(over.stdout).not.toMatch(/circuit breaker/);
    expect(line(over.stdout, 'write permission')).toMatch(/✘ .*out of space.*database space exceeded/);
    expect(line(over.stdout, 'etcd alarms')).toMatch(/✘ etcd alarms: Nospace/);
    // The read that follows the refused write still answers (it failed with the open breaker before).
    expect(line(over.stdout, 'target tables'), over.stdout).toMatch(/✔ target tables: absent or empty/);
  });

  it('several endpoints, one dead: check passes through the live one, whichever comes first', async () => {
    const dead = await freePort();
    for (const hosts of [`127.0.0.1:${plain.port},127.0.0.1:${dead}`, `127.0.0.1:${dead},127.0.0.1:${plain.port}`]) {
      const res = await check(`etcd://${hosts}/shop`);
      expect(res.code, res.stdout + res.stderr).toBe(0);
      expect(line(res.stdout, 'write permission'), hosts).toMatch(/✔/);
      // The quota is read from whichever endpoint answers.
      expect(line(res.stdout, 'etcd space (--quota-backend-bytes)'), hosts).toMatch(/✔ .*used of 16\.0 MiB/);
    }
  });
});
