import { readFileSync } from 'node:fs';
import { get as httpGet, type IncomingMessage } from 'node:http';
import { get as httpsGet } from 'node:https';
import type { Etcd3 } from 'etcd3';
import type { Dsn } from '../../config/dsn.js';
import type { Requirement } from '../../core/check.js';
import { ErrorCode } from '../../core/errors.js';
import type { TableSchema } from '../../core/schema.js';
import { connectError, tlsOf } from './connection.js';
import type { KeyLayout } from './keys.js';

export interface CheckContext {
  readonly client: Etcd3;
  readonly dsn: Dsn;
  readonly layout: KeyLayout;
  readonly syncId: string;
  readonly tables: readonly TableSchema[];
}

/** etcd releases whose transactions, leases and range reads at a revision tributary relies on. */
const MIN_VERSION = [3, 4];

function versionAtLeast(v: string, min: readonly number[]): boolean {
  const parts = v.split('.').map((p) => Number.parseInt(p, 10));
  for (let i = 0; i < min.length; i++) {
    const a = parts[i] ?? 0;
    const b = min[i] ?? 0;
    if (a !== b) return a > b;
  }
  return true;
}

function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}

/**
 * What an etcd target requires (TargetWriter.check), read only: the cluster answers and its
 * version; its database size against its quota (`--quota-backend-bytes`, from the server's
 * /metrics where it can be read) and any alarm raised; that the user may write under the prefix
 * (a transaction whose compare never holds, so its put is checked by the server and never run);
 * and every table the key layout cannot key.
 */
export async function targetRequirements(ctx: CheckContext): Promise<Requirement[]> {
  const reqs: Requirement[] = [];
  let status;
  try {
    status = await ctx.client.maintenance.status();
  } catch (err) {
    const e = connectError(err, ctx.dsn, 'target');
    return [{ name: 'etcd reachable', ok: false, value: e.message, fix: 'start the cluster, or fix the host and port in the URL', severity: 'error', code: e.code }];
  }
  reqs.push({ name: 'etcd version', ok: versionAtLeast(status.version, MIN_VERSION), value: status.version, fix: `etcd ${MIN_VERSION.join('.')} or later`, severity: 'error', code: ErrorCode.SOURCE_SETTING });
  const dbSize = Number(status.dbSize);
  const quota = await quotaBytes(ctx.dsn);
  if (quota !== undefined) {
    const left = quota - dbSize;
    reqs.push({
      name: 'etcd space (--quota-backend-bytes)',
      ok: left > quota * 0.1,
      value: `${mib(dbSize)} used of ${mib(quota)}`,
      fix: left > quota * 0.1 ? '' : 'raise the cluster\u2019s --quota-backend-bytes (etcd refuses every write once it is full), or compact and defragment it',
      severity: 'warning',
      code: ErrorCode.TARGET_WRITE_FAILED,
    });
  } else {
    reqs.push({ name: 'etcd space', ok: true, value: `${mib(dbSize)} in use; quota not readable from /metrics`, fix: 'the default quota is 2 GiB (--quota-backend-bytes)', severity: 'info', code: ErrorCode.TARGET_WRITE_FAILED });
  }
  try {
    const alarms = await ctx.client.maintenance.alarm({ action: 'Get', memberID: 0, alarm: 'None' });
    const raised = alarms.alarms.map((a) => String(a.alarm));
    reqs.push({ name: 'etcd alarms', ok: raised.length === 0, value: raised.length ? raised.join(', ') : 'none', fix: 'clear the cause (NOSPACE: compact, defragment or raise the quota), then etcdctl alarm disarm', severity: 'error', code: ErrorCode.TARGET_WRITE_FAILED });
  } catch {
    // Reading alarms takes the root role when auth is on: not a requirement of the sync.
  }
  const probe = Buffer.from(`${ctx.layout.meta(ctx.syncId)}probe`);
  try {
    await ctx.client.kv.txn({ compare: [{ key: probe, target: 'Version', result: 'Less', version: 0 }], success: [{ request_put: { key: probe, value: Buffer.from('') } }, { request_range: { key: probe } }], failure: [] });
    reqs.push({ name: 'write permission', ok: true, value: `user ${ctx.dsn.user || '(no auth)'} may read and write ${ctx.layout.root || '/'}`, fix: '', severity: 'info', code: ErrorCode.PRIVILEGE_MISSING });
  } catch (err) {
    const e = connectError(err, ctx.dsn, 'target');
    // Only a refused permission is fixed by a grant; any other failure (no space, unreachable) says its own fix.
    const denied = e.code === ErrorCode.PRIVILEGE_MISSING;
    reqs.push({
      name: 'write permission',
      ok: false,
      value: denied ? `user ${ctx.dsn.user || '(no auth)'} may not write ${ctx.layout.root || '/'}` : e.message,
      fix: denied ? `grant the user's role readwrite on the prefix: etcdctl role grant-permission ROLE --prefix=true readwrite ${ctx.layout.root || '/'}` : 'as the message says, then run tributary check again',
      severity: 'error',
      code: e.code,
    });
  }
  for (const t of ctx.tables) {
    const why = ctx.layout.refusal(t, ctx.tables);
    // A refusal reads "<reason>; <fix>": the line shows each once.
    const cut = why?.lastIndexOf('; ') ?? -1;
    const [reason, fix] = why === undefined ? [`keys ${ctx.layout.tablePrefix(t.name)}…`, ''] : cut > 0 ? [why.slice(0, cut), why.slice(cut + 2)] : [why, why];
    reqs.push({ name: `table ${t.name}`, ok: why === undefined, value: reason, fix, severity: why ? 'error' : 'info', code: ErrorCode.TABLE_UNSUPPORTED, table: t.name });
  }
  return reqs;
}

/**
 * The server's --quota-backend-bytes from its Prometheus endpoint (/metrics on the client URL), from
 * the first endpoint that answers (over https with the URL's CA and client certificate).
 */
async function quotaBytes(dsn: Dsn): Promise<number | undefined> {
  let pem: { ca?: Buffer; cert?: Buffer; key?: Buffer } | undefined;
  if (tlsOf(dsn)) {
    try {
      pem = {
        ...(dsn.params.ca !== undefined ? { ca: readFileSync(dsn.params.ca) } : {}),
        ...(dsn.params.cert !== undefined && dsn.params.key !== undefined ? { cert: readFileSync(dsn.params.cert), key: readFileSync(dsn.params.key) } : {}),
      };
    } catch {
      return undefined;
    }
  }
  for (const e of dsn.endpoints) {
    const url = `${pem ? 'https' : 'http'}://${e.host.includes(':') ? `[${e.host}]` : e.host}:${e.port}/metrics`;
    const text = await getText(url, pem);
    const m = text === undefined ? null : /^etcd_server_quota_backend_bytes ([0-9.e+]+)$/m.exec(text);
    if (m) return Number(m[1]);
  }
  return undefined;
}

/** The body of a GET answered 200 within 3 s, or undefined. */
function getText(url: string, pem: { ca?: Buffer; cert?: Buffer; key?: Buffer } | undefined): Promise<string | undefined> {
  return new Promise((resolve) => {
    const done = (res: IncomingMessage): void => {
      if (res.statusCode !== 200) {
        res.resume();
        resolve(undefined);
        return;
      }
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve(body));
      res.on('error', () => resolve(undefined));
    };
    const req = pem ? httpsGet(url, { ...pem, timeout: 3000 }, done) : httpGet(url, { timeout: 3000 }, done);
    req.on('error', () => resolve(undefined));
    req.on('timeout', () => req.destroy());
  });
}
