/**
 * Throwaway database servers for tests, benchmarks and the demo: each runs as an unprivileged
 * user (servers refuse root), on a free loopback port, with its data in a temp dir that is
 * removed when it stops. `scripts/install.sh` installs the packages and creates the user.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, mkdirSync, rmSync, chownSync, readdirSync, existsSync, writeFileSync, readFileSync, renameSync } from 'node:fs';
import { get as httpsGet } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';

const RUN_AS = 'tributary';

export interface Server {
  readonly kind: 'mariadb' | 'postgres' | 'etcd';
  readonly port: number;
  readonly dir: string;
  readonly pid: number;
  /** A connection URL for the given database (created on demand by the caller). */
  url(database?: string): string;
  /** Stops the process (SIGTERM, then SIGKILL) and removes its data dir. */
  stop(): Promise<void>;
  /** Kills the process at once, keeping its data dir (for crash tests). */
  kill(): void;
}

/** Ports this process has handed out; never handed out twice, so servers started at once cannot share one. */
const handedOut = new Set<number>();

/**
 * Finds a port that is free on 127.0.0.1 right now and that this process has not handed out before.
 * Another process may still take it before the server binds it: the start functions retry on a
 * fresh port when the server says its address is in use.
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await unusedPort();
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}

function unusedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => {
        if (addr && typeof addr === 'object') resolve(addr.port);
        else reject(new Error('no port'));
      });
    });
  });
}

/** What a server prints when the port it was given was taken after freePort() found it free. */
const PORT_TAKEN = /address already in use|could not bind|bind on tcp\/ip port/i;

/**
 * Runs `start` again, on fresh ports, when the server it launched exited because its port was taken
 * (at most 3 starts); any other failure is thrown at once.
 */
export async function onFreshPorts<T>(start: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (err) {
      if (attempt >= 3 || !PORT_TAKEN.test((err as Error).message)) throw err;
    }
  }
}

function userIds(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const uid = Number(execFileSync('id', ['-u', RUN_AS]).toString().trim());
  const gid = Number(execFileSync('id', ['-g', RUN_AS]).toString().trim());
  return { uid, gid };
}

function makeDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const ids = userIds();
  if (ids) chownSync(dir, ids.uid, ids.gid);
  return dir;
}

function run(cmd: string, args: string[], opts: { cwd?: string } = {}): void {
  const ids = userIds();
  execFileSync(cmd, args, { stdio: 'pipe', cwd: opts.cwd ?? '/', ...(ids ?? {}) });
}

/**
 * A data directory made once by `init` (mariadb-install-db, initdb: 1.3–1.9 s of CPU each) and
 * copied for every server after it (`cp -a`, a few tenths of a second), since tests, bench and demo
 * start hundreds. Kept under the temp dir per `key` (the server's version and options), built under
 * a temporary name and renamed into place, so processes that start servers at the same time never
 * see half a template (the loser of a race throws its own away). Without a template (it could not
 * be built) `init` makes `data` itself.
 */
function fromTemplate(kind: string, key: string, data: string, init: (target: string) => void): void {
  const root = join(tmpdir(), 'tributary-templates');
  mkdirSync(root, { recursive: true });
  const ids = userIds();
  const name = `${kind}-${createHash('sha256').update(`${key}|${ids?.uid ?? process.getuid?.() ?? ''}`).digest('hex').slice(0, 16)}`;
  const template = join(root, name);
  if (!existsSync(join(template, 'ready'))) {
    const build = mkdtempSync(join(root, `${name}.build-`));
    if (ids) chownSync(build, ids.uid, ids.gid);
    try {
      init(join(build, 'data'));
      writeFileSync(join(build, 'ready'), key);
      try {
        renameSync(build, template);
      } catch {
        // Another process put its template there first: the same bytes, keep it.
      }
    } finally {
      rmSync(build, { recursive: true, force: true });
    }
  }
  if (!existsSync(join(template, 'ready'))) {
    init(data);
    return;
  }
  execFileSync('cp', ['-a', join(template, 'data'), data], { stdio: 'pipe' });
}

let mariadbVersion: string | undefined;
let postgresVersion: string | undefined;

/** The last lines each launched server wrote to stderr, for the error of a start that failed. */
const stderrOf = new WeakMap<ChildProcess, Buffer[]>();

function launch(cmd: string, args: string[], logFile: string): ChildProcess {
  const ids = userIds();
  const child = spawn(cmd, args, {
    stdio: ['ignore', 'ignore', 'pipe'],
    cwd: '/',
    detached: false,
    ...(ids ?? {}),
  });
  const chunks: Buffer[] = [];
  stderrOf.set(child, chunks);
  child.stderr?.on('data', (b: Buffer) => {
    chunks.push(b);
    if (chunks.length > 200) chunks.shift();
  });
  child.on('exit', () => {
    try {
      writeFileSync(logFile, Buffer.concat(chunks));
    } catch {
      /* dir may be gone */
    }
  });
  return child;
}

async function waitFor(what: string, probe: () => Promise<boolean>, child: ChildProcess, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  let lastErr: unknown;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      const said = Buffer.concat(stderrOf.get(child) ?? []).toString().trim().slice(-2000);
      throw new Error(`${what} exited with code ${child.exitCode} before it was ready${said ? `; its stderr ends:\n${said}` : ' (nothing on stderr)'}`);
    }
    try {
      if (await probe()) return;
    } catch (err) {
      lastErr = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`${what} not ready after ${ms} ms: ${String(lastErr)}`);
}

function stopper(child: ChildProcess, dir: string, keepDir = false): { stop: () => Promise<void>; kill: () => void } {
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  return {
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
      if (!keepDir) rmSync(dir, { recursive: true, force: true });
    },
    kill() {
      child.kill('SIGKILL');
    },
  };
}

export interface MariaDbOptions {
  /** Extra mariadbd flags, e.g. `--binlog-format=MIXED` to test preflight refusals. */
  readonly args?: readonly string[];
  readonly serverId?: number;
  /** Reuse an existing data dir (a restart after kill()). */
  readonly dir?: string;
  readonly port?: number;
}

/**
 * Starts MariaDB with the binlog settings tributary requires. The `root` user has no password
 * and may connect over TCP from 127.0.0.1.
 */
export function startMariaDb(opts: MariaDbOptions = {}): Promise<Server> {
  // A restart on a given port cannot move to another one.
  return opts.port === undefined ? onFreshPorts(() => startMariaDbOnce(opts)) : startMariaDbOnce(opts);
}

async function startMariaDbOnce(opts: MariaDbOptions): Promise<Server> {
  const dir = opts.dir ?? makeDir('trib-maria-');
  const data = join(dir, 'data');
  const fresh = !existsSync(data);
  // A private tmpdir: the bootstrap's temporary tables otherwise share /tmp with every other server.
  const tmp = join(dir, 'tmp');
  if (!existsSync(tmp)) {
    mkdirSync(tmp);
    const ids = userIds();
    if (ids) chownSync(tmp, ids.uid, ids.gid);
  }
  if (fresh) {
    const install = (target: string) => {
      for (let attempt = 1; ; attempt++) {
        try {
          run('mariadb-install-db', ['--no-defaults', `--datadir=${target}`, `--tmpdir=${tmp}`, '--auth-root-authentication-method=normal', '--skip-test-db']);
          break;
        } catch (err) {
          rmSync(target, { recursive: true, force: true });
          if (attempt >= 3) throw err;
        }
      }
    };
    mariadbVersion ??= execFileSync('mariadbd', ['--version'], { stdio: 'pipe' }).toString().trim();
    fromTemplate('mariadb', `${mariadbVersion} install-db --auth-root-authentication-method=normal --skip-test-db`, data, install);
  }
  const port = opts.port ?? (await freePort());
  const socket = join(dir, 'sock');
  const child = launch(
    'mariadbd',
    [
      '--no-defaults',
      `--datadir=${data}`,
      `--socket=${socket}`,
      `--tmpdir=${tmp}`,
      `--port=${port}`,
      '--bind-address=127.0.0.1',
      '--skip-name-resolve',
      `--log-bin=${join(data, 'binlog')}`,
      '--binlog-format=ROW',
      '--binlog-row-image=FULL',
      '--binlog-row-metadata=FULL',
      `--server-id=${opts.serverId ?? 1}`,
      '--gtid-strict-mode=1',
      '--local-infile=1',
      '--character-set-server=utf8mb4',
      '--collation-server=utf8mb4_general_ci',
      '--innodb-buffer-pool-size=256M',
      '--innodb-log-file-size=256M',
      '--innodb-flush-log-at-trx-commit=2',
      '--sync-binlog=0',
      '--skip-log-error',
      `--pid-file=${join(dir, 'mariadb.pid')}`,
      '--max-connections=500',
      ...(opts.args ?? []),
    ],
    join(dir, 'mariadb.log'),
  );
  await waitFor(
    'mariadbd',
    async () => {
      const conn = await mysql.createConnection({ socketPath: socket, user: 'root' });
      try {
        if (fresh) {
          await conn.query("CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY ''");
          await conn.query("GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION");
        }
      } finally {
        await conn.end();
      }
      return true;
    },
    child,
  ).catch((err: unknown) => {
    if (!opts.dir) rmSync(dir, { recursive: true, force: true });
    throw err;
  });
  const { stop, kill } = stopper(child, dir);
  return {
    kind: 'mariadb',
    port,
    dir,
    pid: child.pid ?? 0,
    url: (db = '') => `mysql://root@127.0.0.1:${port}/${db}`,
    stop,
    kill,
  };
}

/** A PostgreSQL program (newest installed version), or its bare name to find on PATH. */
export function pgBin(name: string): string {
  const base = '/usr/lib/postgresql';
  const versions = existsSync(base) ? readdirSync(base).sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of versions) {
    const p = join(base, v, 'bin', name);
    if (existsSync(p)) return p;
  }
  return name;
}

/** Starts PostgreSQL with `wal_level=logical`; user `postgres`, trust authentication. */
export function startPostgres(opts: { args?: readonly string[] } = {}): Promise<Server> {
  return onFreshPorts(() => startPostgresOnce(opts));
}

async function startPostgresOnce(opts: { args?: readonly string[] }): Promise<Server> {
  const dir = makeDir('trib-pg-');
  const data = join(dir, 'data');
  const args = ['-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C.UTF-8', '--no-sync'];
  postgresVersion ??= execFileSync(pgBin('postgres'), ['--version'], { stdio: 'pipe' }).toString().trim();
  fromTemplate('postgres', `${postgresVersion} initdb ${args.join(' ')}`, data, (target) => run(pgBin('initdb'), ['-D', target, ...args]));
  const port = await freePort();
  const child = launch(
    pgBin('postgres'),
    [
      '-D',
      data,
      '-p',
      String(port),
      '-k',
      dir,
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'wal_level=logical',
      '-c',
      'max_replication_slots=10',
      '-c',
      'max_wal_senders=10',
      '-c',
      'fsync=off',
      ...(opts.args ?? []),
    ],
    join(dir, 'postgres.log'),
  );
  await waitFor(
    'postgres',
    async () => {
      execFileSync(pgBin('pg_isready'), ['-h', '127.0.0.1', '-p', String(port), '-q']);
      return true;
    },
    child,
  ).catch((err: unknown) => {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  });
  const { stop, kill } = stopper(child, dir);
  return {
    kind: 'postgres',
    port,
    dir,
    pid: child.pid ?? 0,
    url: (db = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${db}`,
    stop,
    kill,
  };
}

export interface EtcdOptions {
  /** Extra etcd flags, e.g. `--quota-backend-bytes=16777216`, `--max-txn-ops=16`. */
  readonly args?: readonly string[];
  /**
   * Serve the client URL over https with a certificate of a throwaway CA generated (with
   * `openssl`) in the server's temp dir; `clientCertAuth` also requires a client certificate
   * signed by that CA (`--client-cert-auth`, `--trusted-ca-file`).
   */
  readonly tls?: boolean | { readonly clientCertAuth?: boolean };
  /**
   * Start on this server dir (its data in `<dir>/data`), which stop() then keeps: a restart, or a
   * copy of a stopped server's dir (bench/etcd-ab.ts replays from one). Give the `ports` its data
   * was made with: etcd keeps its member's peer address in its data.
   */
  readonly dir?: string;
  /** The client and peer ports (EtcdServer.port and peerPort of the server whose dir this is); free ones by default. */
  readonly ports?: { readonly client: number; readonly peer: number };
}

/** PEM files of a TLS etcd, in its temp dir: the CA's certificate, and a client certificate (CN root) with its key. */
export interface EtcdTlsFiles {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

export interface EtcdServer extends Server {
  readonly kind: 'etcd';
  /** The client URL's scheme and host:port, e.g. `https://127.0.0.1:2379`. */
  readonly endpoint: string;
  /** Set when started with `tls`. */
  readonly tls?: EtcdTlsFiles;
  /** Its peer port (EtcdOptions.ports, to start again on its dir). */
  readonly peerPort: number;
  /** What it has logged lately (its standard error, the last 200 reads of it): for tests asserting what the server saw. */
  log(): string;
}

/** A throwaway CA, a server certificate for 127.0.0.1/localhost and a client certificate (CN root), all signed by it. */
function makeCertificates(dir: string): EtcdTlsFiles & { serverCert: string; serverKey: string } {
  const f = (name: string): string => join(dir, name);
  const openssl = (args: string[]): void => {
    execFileSync('openssl', args, { stdio: 'pipe', cwd: dir });
  };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(['req', '-x509', ...ec, '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '2', '-subj', '/CN=tributary test CA']);
  writeFileSync(f('server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n');
  writeFileSync(f('client.ext'), 'extendedKeyUsage=clientAuth\n');
  for (const [name, cn] of [['server', '127.0.0.1'], ['client', 'root']] as const) {
    openssl(['req', ...ec, '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`), '-subj', `/CN=${cn}`]);
    openssl(['x509', '-req', '-in', f(`${name}.csr`), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f(`${name}.pem`), '-days', '2', '-extfile', f(`${name}.ext`)]);
  }
  const ids = userIds();
  if (ids) for (const name of ['ca.pem', 'server.pem', 'server.key', 'client.pem', 'client.key']) chownSync(f(name), ids.uid, ids.gid);
  return { ca: f('ca.pem'), cert: f('client.pem'), key: f('client.key'), serverCert: f('server.pem'), serverKey: f('server.key') };
}

/** GET https://… trusting the given CA (and presenting a client certificate when given): whether it answered 2xx. */
function httpsOk(url: string, tls: EtcdTlsFiles): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const req = httpsGet(url, { ca: readFileSync(tls.ca), cert: readFileSync(tls.cert), key: readFileSync(tls.key), timeout: 2000 }, (res) => {
      res.resume();
      resolve((res.statusCode ?? 500) < 300);
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
  });
}

/** The flags naming one etcd member: its data dir, client and peer addresses on loopback, and the initial cluster. */
function etcdMemberFlags(m: { name: string; data: string; endpoint: string; peer: number; cluster: string }): string[] {
  const peer = `http://127.0.0.1:${m.peer}`;
  return ['--data-dir', m.data, '--name', m.name, '--listen-client-urls', m.endpoint, '--advertise-client-urls', m.endpoint, '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer, '--initial-cluster', m.cluster];
}

/**
 * Starts a single-member etcd cluster (no auth; http unless `tls`). `etcdctl`-style setup (users,
 * roles, `auth enable`) is left to the caller.
 */
export function startEtcd(opts: EtcdOptions = {}): Promise<EtcdServer> {
  // Given ports cannot move to others.
  return opts.ports ? startEtcdOnce(opts) : onFreshPorts(() => startEtcdOnce(opts));
}

async function startEtcdOnce(opts: EtcdOptions): Promise<EtcdServer> {
  const dir = opts.dir ?? makeDir('trib-etcd-');
  const port = opts.ports?.client ?? (await freePort());
  const peer = opts.ports?.peer ?? (await freePort());
  const certs = opts.tls ? makeCertificates(dir) : undefined;
  const clientCertAuth = typeof opts.tls === 'object' && opts.tls.clientCertAuth === true;
  const scheme = certs ? 'https' : 'http';
  const endpoint = `${scheme}://127.0.0.1:${port}`;
  const child = launch(
    'etcd',
    [
      ...etcdMemberFlags({ name: 'trib', data: join(dir, 'data'), endpoint, peer, cluster: `trib=http://127.0.0.1:${peer}` }),
      '--heartbeat-interval=10',
      '--election-timeout=100',
      ...(certs ? ['--cert-file', certs.serverCert, '--key-file', certs.serverKey] : []),
      ...(certs && clientCertAuth ? ['--client-cert-auth', '--trusted-ca-file', certs.ca] : []),
      ...(opts.args ?? []),
    ],
    join(dir, 'etcd.log'),
  );
  await waitFor(
    'etcd',
    async () => {
      if (certs) return httpsOk(`${endpoint}/health`, certs);
      const res = await fetch(`${endpoint}/health`);
      return res.ok;
    },
    child,
  ).catch((err: unknown) => {
    if (!opts.dir) rmSync(dir, { recursive: true, force: true });
    throw err;
  });
  const { stop, kill } = stopper(child, dir, opts.dir !== undefined);
  return {
    kind: 'etcd',
    port,
    peerPort: peer,
    dir,
    pid: child.pid ?? 0,
    endpoint,
    ...(certs ? { tls: { ca: certs.ca, cert: certs.cert, key: certs.key } } : {}),
    url: (prefix = 'tributary') => `etcd://127.0.0.1:${port}/${prefix}`,
    log: () => Buffer.concat(stderrOf.get(child) ?? []).toString(),
    stop,
    kill,
  };
}

/** One member of a throwaway etcd cluster (startEtcdCluster). */
export interface EtcdMember {
  readonly name: string;
  /** `http://127.0.0.1:PORT`. */
  readonly endpoint: string;
  readonly port: number;
  /** Kills it at once (SIGKILL), keeping its data dir. */
  kill(): void;
  /** Stops it (SIGTERM), keeping its data dir. */
  stop(): Promise<void>;
  /** Starts it again after kill() or stop(), on its ports and data dir; resolves once it serves. */
  restart(): Promise<void>;
  /** Whether its process runs. */
  readonly running: boolean;
}

/** A throwaway etcd cluster of several members on loopback (no auth, http). */
export interface EtcdCluster {
  readonly members: readonly EtcdMember[];
  /** `etcd://h:p1,h:p2,h:p3/prefix`: every member's client address. */
  url(prefix?: string): string;
  /** Stops every member and removes the data. */
  stop(): Promise<void>;
}

/**
 * Starts an etcd cluster of `size` members (default 3) on loopback, each with its own ports and
 * data dir, and waits until every one serves (reports healthy: the cluster has a leader).
 */
export async function startEtcdCluster(size = 3): Promise<EtcdCluster> {
  const dir = makeDir('trib-etcdc-');
  const ports = await Promise.all(Array.from({ length: size }, async () => ({ client: await freePort(), peer: await freePort() })));
  const names = ports.map((_, i) => `m${i}`);
  const initial = ports.map((p, i) => `${names[i]}=http://127.0.0.1:${p.peer}`).join(',');
  const token = `trib-${process.pid}-${Date.now()}`;
  const members = ports.map((p, i) => {
    const name = names[i] as string;
    const endpoint = `http://127.0.0.1:${p.client}`;
    let child: ChildProcess | undefined;
    let started = false;
    const start = async () => {
      const data = join(dir, name);
      child = launch(
        'etcd',
        [
          ...etcdMemberFlags({ name, data, endpoint, peer: p.peer, cluster: initial }),
          '--initial-cluster-token', token,
          '--initial-cluster-state', started ? 'existing' : 'new',
          '--heartbeat-interval=50',
          '--election-timeout=500',
        ],
        join(dir, `${name}.log`),
      );
      started = true;
      const c = child;
      await waitFor(`etcd member ${name}`, async () => (await fetch(`${endpoint}/health`)).ok, c, 60_000);
    };
    const member: EtcdMember & { start: () => Promise<void> } = {
      name,
      endpoint,
      port: p.client,
      get running() {
        return child !== undefined && child.exitCode === null && child.signalCode === null;
      },
      start,
      kill() {
        child?.kill('SIGKILL');
      },
      async stop() {
        const c = child;
        if (!c || c.exitCode !== null || c.signalCode !== null) return;
        const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
        c.kill('SIGTERM');
        await exited;
      },
      async restart() {
        await member.stop();
        await start();
      },
    };
    return member;
  });
  try {
    await Promise.all(members.map((m) => m.start()));
  } catch (err) {
    for (const m of members) m.kill();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    members,
    url: (prefix = 'tributary') => `etcd://${ports.map((p) => `127.0.0.1:${p.client}`).join(',')}/${prefix}`,
    async stop() {
      await Promise.all(members.map((m) => m.stop()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
