/**
 * The relay follows a source failover by GTID (issue 16) on real MariaDB servers: a primary, a
 * replica that logs what it applies (log_slave_updates, gtid_strict_mode) and a target. One relay
 * given both hosts, one sync reading it (both hosts too). In order: switch-source refused while the
 * replica is behind, accepted once it caught up (and back); an automatic move refused as behind,
 * the relay going on once the primary is back; the promotion under a steady workload (nothing lost
 * or doubled: the target's own binlog and the relay's GTIDs are audited); a restart after the move
 * resumes on the new primary although the revived old one comes first in the URL.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Connection, RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readMeta, RelayReader } from '../../src/relay/index.js';
import { freePort, startMariaDb, type Server } from '../../src/testing/servers.js';
import { auditCommits } from '../helpers/audit.js';
import { inStep } from '../helpers/converge.js';
import { connect, runCli, startCli, tableRows, waitUntil, type CliRun } from '../helpers/mysql.js';
import { promotionWorkload } from '../helpers/workload.js';

let primary: Server;
let replica: Server;
let target: Server;
let p: Connection;
let r: Connection;
let t: Connection;
let dir: string;
let both: string;
let relay: CliRun;
let sync: CliRun;
let http: string;
const running: CliRun[] = [];

interface RelayStatusJson {
  state: string;
  sourceHost: string | null;
  switches: number;
  durableOrdinal: number;
  durablePosition: string;
  lastError: string | null;
  lastErrorCode: string | null;
}

function start(args: readonly string[]): CliRun {
  const run = startCli(args);
  running.push(run);
  return run;
}

async function startRelay(): Promise<void> {
  http = `127.0.0.1:${await freePort()}`;
  relay = start(['relay', '--source', both, '--relay-dir', dir, '--relay-min-age', '0', '--http', http, '--log-format', 'json']);
  await inStep('the relay streaming', async () => (await status().catch(() => undefined))?.state === 'streaming', [relay], 30_000);
}

const status = async (): Promise<RelayStatusJson> => (await (await fetch(`http://${http}/status`)).json()) as RelayStatusJson;
const hostOf = (s: Server) => `127.0.0.1:${s.port}`;
const gtidPos = async (c: Connection) => String((await c.query<RowDataPacket[]>('SELECT @@GLOBAL.gtid_binlog_pos AS g'))[0][0]?.g);

/** The replica has applied everything the primary logged. */
async function caughtUp(): Promise<void> {
  const [[w]] = await r.query<RowDataPacket[]>('SELECT MASTER_GTID_WAIT(?, 30) AS w', [await gtidPos(p)]);
  expect(Number(w?.w)).toBe(0);
}

async function equalTo(source: Connection): Promise<void> {
  let last = '';
  await inStep('the target to equal the source', async () => {
    const a = await tableRows(source, 'live', 't');
    const b = await tableRows(t, 'live', 't').catch(() => []);
    last = `source ${a.length} rows, target ${b.length}`;
    return a.length === b.length && a.every((x, i) => x === b[i]);
  }, [relay, sync], 30_000).catch((err: Error) => {
    throw new Error(`${last}: ${err.message}`);
  });
}

/** The seq_no of a MariaDB GTID position of domain 0 (the only domain here). */
const seqOf = (gtid: string) => Number(/^0-\d+-(\d+)$/.exec(gtid)?.[1] ?? NaN);

beforeAll(async () => {
  [primary, replica, target] = await Promise.all([startMariaDb({ serverId: 91 }), startMariaDb({ serverId: 92, args: ['--log-slave-updates'] }), startMariaDb({ serverId: 93 })]);
  [p, r, t] = await Promise.all([connect(primary.url()), connect(replica.url()), connect(target.url())]);
  await r.query(`RESET MASTER; SET GLOBAL gtid_slave_pos = ''; CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = ${primary.port}, MASTER_USER = 'root', MASTER_USE_GTID = slave_pos; START SLAVE`);
  await p.query('CREATE DATABASE live; CREATE TABLE live.t (id INT PRIMARY KEY, v INT NOT NULL); INSERT INTO live.t SELECT seq, seq FROM live.seq_1_to_100');
  await t.query('CREATE DATABASE live');
  await caughtUp();
  dir = await mkdtemp(join(tmpdir(), 'trib-relayfo-'));
  both = `mysql://root@${hostOf(primary)},${hostOf(replica)}/live`;
  await startRelay();
  sync = start(['sync', '--id', 'rf', '--source', both, '--target', target.url('live'), '--relay-dir', dir, '--flush-interval', '100ms', '--checksum', 'off']);
  await equalTo(p);
}, 60_000);

afterAll(async () => {
  for (const run of running) run.child.kill('SIGKILL');
  await Promise.all([p, r, t].map((c) => c?.end().catch(() => undefined)));
  await Promise.all([primary?.stop(), replica?.stop(), target?.stop()]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the relay follows a source failover by GTID', () => {
  it('switch-source: refused (409) while the replica is behind, the relay staying put; accepted once it caught up, and back', async () => {
    expect((await status()).sourceHost).toBe(hostOf(primary));
    await r.query('STOP SLAVE');
    await p.query('INSERT INTO live.t VALUES (1000, 1)');
    await equalTo(p);
    const refused = await fetch(`http://${http}/switch-source`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ host: hostOf(replica) }) });
    expect(refused.status).toBe(409);
    const body = (await refused.json()) as { code: string; error: string };
    expect(body.code).toBe('TRIB_SOURCE_BEHIND');
    expect(body.error).toContain(`up to GTID ${await gtidPos(p)}`);
    expect(body.error).toContain('server_id=92');
    await p.query('UPDATE live.t SET v = 2 WHERE id = 1000');
    await equalTo(p);
    expect(await status()).toMatchObject({ sourceHost: hostOf(primary), switches: 0, state: 'streaming' });

    await r.query('START SLAVE');
    await caughtUp();
    const cli = await runCli(['switch-source', '--host', hostOf(replica), '--http', http], {}, 60_000);
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stdout).toContain(`moving the relay's source to ${hostOf(replica)}`);
    await inStep('the relay on the replica', async () => (await status()).sourceHost === hostOf(replica), [relay], 30_000);
    await p.query('UPDATE live.t SET v = 3 WHERE id <= 50; DELETE FROM live.t WHERE id = 1000');
    await caughtUp();
    await equalTo(p);
    const meta = await readMeta(dir);
    expect(meta?.server).toMatchObject({ id: 'mariadb server_id=92 gtid_domain_id=0', host: hostOf(replica) });
    expect(meta?.switches?.map((s) => [s.fromHost, s.toHost])).toStrictEqual([[hostOf(primary), hostOf(replica)]]);
    // Back to the primary, which holds every transaction (the replica's came from it).
    const back = await fetch(`http://${http}/switch-source`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ host: hostOf(primary) }) });
    expect(back.status, await back.clone().text()).toBe(202);
    await inStep('the relay back on the primary', async () => (await status()).sourceHost === hostOf(primary), [relay], 30_000);
    expect((await status()).switches).toBe(2);
  }, 60_000);

  it('an automatic move to a replica behind the relay is refused (TRIB_SOURCE_BEHIND), the directory intact; the relay goes on once the primary is back', async () => {
    await r.query('STOP SLAVE');
    await p.query('INSERT INTO live.t VALUES (2000, 1)');
    await equalTo(p);
    const pos = await gtidPos(p);
    const before = await status();
    const metaBefore = await readMeta(dir);
    primary.kill();
    await inStep('the refusal', async () => (await status()).lastErrorCode === 'TRIB_SOURCE_BEHIND', [relay], 30_000);
    const st = await status();
    expect(st.state).toBe('retrying');
    expect(st.lastError).toContain(`up to GTID ${pos}`);
    expect(st.lastError).toContain('server_id=91');
    expect(st.lastError).toContain('server_id=92');
    expect(st.durableOrdinal).toBe(before.durableOrdinal);
    expect(st.sourceHost).toBe(hostOf(primary));
    expect((await readMeta(dir))?.switches).toStrictEqual(metaBefore?.switches);
    // The primary comes back and the replica catches up from it: the relay's next attempt goes on.
    primary = await startMariaDb({ serverId: 91, dir: primary.dir, port: primary.port });
    p = await connect(primary.url());
    await r.query('START SLAVE');
    await caughtUp();
    await p.query('UPDATE live.t SET v = 4 WHERE id = 2000');
    await equalTo(p);
    expect(await status()).toMatchObject({ state: 'streaming', sourceHost: hostOf(primary), switches: 2 });
  }, 60_000);

  it('the replica is promoted under a steady workload: the relay moves to it by itself, nothing lost or doubled', async () => {
    const work = promotionWorkload(p, 'live.t', 10_000);
    await waitUntil('the workload reaches the target', async () => {
      const [[n]] = await t.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM live.t WHERE id >= 10000');
      return Number(n?.n) > 50;
    }, 30_000);
    // Promotion: the primary stops taking writes, the replica catches up, the primary dies.
    await work.promote(async () => {
      await caughtUp();
      primary.kill();
      await r.query('STOP SLAVE; RESET SLAVE ALL; SET GLOBAL read_only = 0');
      return r;
    });
    await waitUntil('writes on the new primary', () => work.inserted() > 200, 30_000);
    await work.stop();
    const inserted = work.inserted();
    await equalTo(r);
    const [[n]] = await t.query<RowDataPacket[]>('SELECT COUNT(*) AS n, MIN(id) AS lo, MAX(id) AS hi FROM live.t WHERE id >= 10000');
    expect([Number(n?.n), Number(n?.lo), Number(n?.hi)]).toStrictEqual([inserted, 10_000, 10_000 + inserted - 1]);
    expect(await status()).toMatchObject({ state: 'streaming', sourceHost: hostOf(replica), switches: 3 });
    expect(relay.stderr()).toContain('relay moved to another server');
    // The target's own binlog: each batch the sync committed saved a stream position whose GTID
    // is past the one before (a batch applied twice would save the same GTID again).
    const stream = auditCommits(target, 'live', 'rf').filter((c) => c.phase === 'stream' && c.dataEvents > 0 && c.position?.gtid);
    expect(stream.length).toBeGreaterThan(10);
    for (let i = 1; i < stream.length; i++) expect(seqOf(stream[i]!.position!.gtid!), `batch ${i}`).toBeGreaterThan(seqOf(stream[i - 1]!.position!.gtid!));
    expect(stream.at(-1)!.position!.gtid).toBe(await gtidPos(r));
  }, 60_000);

  it('a relay restarted after the move resumes on the new primary, though the revived old one comes first in the URL; its GTIDs are contiguous', async () => {
    primary = await startMariaDb({ serverId: 91, dir: primary.dir, port: primary.port });
    p = await connect(primary.url());
    relay.child.kill('SIGTERM');
    expect(await relay.exited, relay.stderr().slice(-2000)).toBe(0);
    await startRelay();
    expect(await status()).toMatchObject({ sourceHost: hostOf(replica), switches: 3 });
    await r.query('INSERT INTO live.t VALUES (999999, 7)');
    await equalTo(r);
    expect(relay.stderr()).not.toContain('TRIB_');
    // The sync restarted on the new primary alone (its checkpoint was taken while its source was
    // the old one): the relay's lineage holds that server, so it reads on.
    sync.child.kill('SIGTERM');
    expect(await sync.exited, sync.stderr().slice(-2000)).toBe(0);
    sync = start(['sync', '--id', 'rf', '--source', replica.url('live'), '--target', target.url('live'), '--relay-dir', dir, '--flush-interval', '100ms', '--checksum', 'off']);
    await r.query('UPDATE live.t SET v = 8 WHERE id = 999999');
    await equalTo(r);
    expect(sync.stderr()).toContain('resuming from checkpoint');
    // Every transaction the relay holds, across three servers' moves: each GTID once, no gap.
    const gtidCompare = (a: string, b: string) => seqOf((JSON.parse(a) as { gtid: string }).gtid) - seqOf((JSON.parse(b) as { gtid: string }).gtid);
    const reader = await RelayReader.open({ dir, compare: gtidCompare, follow: false });
    const seqs: number[] = [];
    const servers = new Set<string>();
    for await (const txn of reader) {
      if (!txn.events.some((e) => e.type === 'commit')) continue;
      const gtid = (JSON.parse(txn.position) as { gtid: string }).gtid;
      seqs.push(seqOf(gtid));
      servers.add(gtid.split('-')[1]!);
    }
    expect(seqs.length).toBeGreaterThan(300);
    for (let i = 1; i < seqs.length; i++) expect(seqs[i], `GTID after ${seqs[i - 1]}`).toBe(seqs[i - 1]! + 1);
    expect(seqs.at(-1)).toBe(seqOf(await gtidPos(r)));
    expect([...servers].sort()).toStrictEqual(['91', '92']);
    for (const run of [sync, relay]) {
      run.child.kill('SIGTERM');
      expect(await run.exited, run.stderr().slice(-2000)).toBe(0);
    }
  }, 60_000);

  it('stays refused on another server: a file+position relay (the message says GTID mode), and a directory of another lineage', async () => {
    const metaBefore = JSON.stringify(await readMeta(dir));
    // The target server is no server of the relay's lineage: its GTIDs do not contain the relay's.
    const unrelated = await runCli(['relay', '--source', target.url('live'), '--relay-dir', dir], {}, 60_000);
    expect(unrelated.code).not.toBe(0);
    expect(unrelated.stderr).toMatch(/TRIB_SOURCE_(BEHIND|DIVERGED)/);
    expect(unrelated.stderr).toContain(`relay ${dir} does not stream from`);
    expect(JSON.stringify(await readMeta(dir))).toBe(metaBefore);
    const fileDir = await mkdtemp(join(tmpdir(), 'trib-relayfo-file-'));
    try {
      http = `127.0.0.1:${await freePort()}`;
      const fileRelay = start(['relay', '--source', replica.url('live'), '--relay-dir', fileDir, '--position-mode', 'file', '--http', http]);
      await inStep('the file+position relay streaming', async () => (await status().catch(() => undefined))?.state === 'streaming', [fileRelay], 30_000);
      await r.query('UPDATE live.t SET v = 9 WHERE id = 999999');
      await inStep('the file+position relay stores it', async () => (await status()).durableOrdinal >= 0, [fileRelay], 30_000);
      fileRelay.child.kill('SIGTERM');
      expect(await fileRelay.exited).toBe(0);
      const refused = await runCli(['relay', '--source', primary.url('live'), '--relay-dir', fileDir, '--position-mode', 'file'], {}, 60_000);
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toContain('TRIB_SOURCE_CHANGED');
      expect(refused.stderr).toContain('run the relay in GTID mode');
    } finally {
      await rm(fileDir, { recursive: true, force: true });
    }
  }, 60_000);
});
