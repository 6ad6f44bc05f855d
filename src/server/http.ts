import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

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
