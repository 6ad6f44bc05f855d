import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { redactUrl } from '../config/dsn.js';
import { ErrorCode, TributaryError } from '../core/errors.js';

/**
 * The request rules and the JSON answer both HTTP APIs (the sync's, server.ts; the relay's,
 * relay.ts) share: bearer tokens compared in constant time, control calls only from their own
 * origin, JSON bodies that are never cached.
 */

/** The digest a bearer token is kept and compared as (digests first, so lengths leak nothing); undefined without a token. */
export function tokenDigest(token: string | undefined): Buffer | undefined {
  return token ? digest(token) : undefined;
}

/** Whether the request carries the bearer token of `expected` (any request, when no token is set). */
export function bearerMatches(req: IncomingMessage, expected: Buffer | undefined): boolean {
  if (!expected) return true;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
  return timingSafeEqual(digest(m?.[1] ?? ''), expected) && m !== null;
}

/** No Origin header (curl, programs), or one naming the host the request was sent to. */
export function sameOrigin(req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  if (!origin) return true;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}

/** Answers `body` as pretty JSON (no body for HEAD), never cached. */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body, null, 2) + '\n';
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', 'Content-Length': Buffer.byteLength(text) });
  res.end(res.req.method === 'HEAD' ? undefined : text);
}

/** A request's body as text, refused beyond `limit` bytes. */
export function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      text += chunk;
      if (text.length > limit) {
        req.resume();
        reject(new Error(`body over ${limit} bytes`));
      }
    });
    req.on('end', () => resolve(text));
    req.on('error', reject);
  });
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/**
 * POST /switch-source of a sync's or a relay's API: reads `{"host": "h2:3306"}`, asks `switchTo`
 * (which runs the failover checks), answers 202 with the host moved to, or 409 with the refusal's
 * message and code (the process stays where it was), or 400 for a body without a host. `extra` is
 * added to both answers; `who` names the process in the log ("the sync", "the relay").
 */
export async function switchSourceRoute(
  req: IncomingMessage,
  res: ServerResponse,
  switchTo: (host: string) => Promise<string>,
  opts: { readonly who: string; readonly logger?: Logger; readonly extra?: Record<string, unknown> },
): Promise<void> {
  let host: unknown;
  try {
    host = (JSON.parse(await readBody(req, 4096)) as { host?: unknown }).host;
  } catch (err) {
    return sendJson(res, 400, { error: `POST /switch-source takes a JSON body {"host": "h2:3306"} (${(err as Error).message})` });
  }
  if (typeof host !== 'string' || !host) return sendJson(res, 400, { error: 'POST /switch-source takes a JSON body {"host": "h2:3306"}: the source host to move to' });
  try {
    const to = await switchTo(host);
    return sendJson(res, 202, { switching: true, host: to, ...opts.extra });
  } catch (err) {
    const code = err instanceof TributaryError ? err.code : ErrorCode.INTERNAL;
    opts.logger?.warn({ host, err: redactUrl((err as Error).message) }, `switch-source refused; ${opts.who} stays where it is`);
    return sendJson(res, 409, { error: redactUrl((err as Error).message), code, ...opts.extra });
  }
}
