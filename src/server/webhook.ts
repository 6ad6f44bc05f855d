import type { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { redactUrl } from '../config/dsn.js';
import { ErrorCode, TributaryError } from '../core/errors.js';
import { buildStatus, type StatusJson, type StatusSource } from './status.js';

/** Why a post was sent: every `interval`, at a phase change, at the run's end (clean or failed). */
export type WebhookEvent = 'interval' | 'phase' | 'stopped' | 'error';

/** The JSON body of every post: GET /status's document, with the event and the time it was sent. */
export type WebhookBody = StatusJson & { readonly event: WebhookEvent; readonly sentAt: string };

export interface ProgressWebhookOptions {
  readonly runner: StatusSource & Pick<EventEmitter, 'on' | 'off'>;
  /** http:// or https:// URL the status is POSTed to. */
  readonly url: string;
  readonly intervalMs: number;
  /** Sent as `Authorization: Bearer <token>` when given; else the URL's user and password, if any, as basic authentication. */
  readonly token?: string;
  readonly readyMaxLagSeconds: number;
  readonly logger: Logger;
  /** Attempts per post (the first included), and the wait before the second, doubled after each. */
  readonly attempts?: number;
  readonly backoffMs?: number;
  /** How long one attempt may take. */
  readonly timeoutMs?: number;
}

/**
 * Ghostferry's progress callback: POSTs the sync's status (server/status.ts, as GET /status serves
 * it) to `--progress-webhook` every `--progress-interval`, at every phase change, and once at the
 * end with the error's code and message (`exit`) when the run failed.
 *
 * It never holds the sync back: posts go out on their own, one at a time; a post due while one is
 * still being sent replaces any other waiting (the receiver gets the newest status, not a backlog),
 * except that an interval post never replaces a waiting phase change or final post: that one goes,
 * with the newest status (its body is built when it is sent).
 * Each post is tried `attempts` times with doubling backoff, on a network error, a timeout or a 5xx
 * / 429 answer; a 4xx answer is not retried, nor is a redirect followed. A failed post is logged
 * (warn), never fatal, naming the URL by its origin only: its path, query, password and the token
 * appear in no log line.
 */
export class ProgressWebhook {
  private timer: NodeJS.Timeout | undefined;
  private sending: Promise<void> | undefined;
  private waiting: (() => Promise<WebhookBody>) | undefined;
  private waitingEvent: WebhookEvent | undefined;
  private stopped = false;
  private readonly shown: string;
  /** The URL without user and password (fetch refuses them in a URL), and the headers of every post. */
  private target = '';
  private headers: Record<string, string> = {};
  private readonly onPhase = () => this.post('phase');

  constructor(private readonly opts: ProgressWebhookOptions) {
    this.shown = shownUrl(opts.url);
  }

  /** Checks the URL (CONFIG_INVALID for anything but http(s) with a host), then posts now and every interval. */
  start(): void {
    let u: URL;
    try {
      u = new URL(this.opts.url);
    } catch {
      throw new TributaryError(ErrorCode.CONFIG_INVALID, `--progress-webhook is not a URL; give http(s)://host[:port]/path`);
    }
    if ((u.protocol !== 'http:' && u.protocol !== 'https:') || !u.hostname) {
      throw new TributaryError(ErrorCode.CONFIG_INVALID, `--progress-webhook is not an http(s) URL (it is ${u.protocol}); give http(s)://host[:port]/path`);
    }
    // user:password in the URL go as basic authentication; a token, when given, as bearer instead.
    const basic = u.username || u.password ? Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64') : undefined;
    u.username = '';
    u.password = '';
    this.target = u.toString();
    this.headers = { 'content-type': 'application/json', 'user-agent': 'tributary', ...(this.opts.token ? { authorization: `Bearer ${this.opts.token}` } : basic ? { authorization: `Basic ${basic}` } : {}) };
    this.opts.runner.on('phase', this.onPhase);
    this.timer = setInterval(() => this.post('interval'), this.opts.intervalMs);
    this.timer.unref();
    this.post('interval');
  }

  /**
   * The run ended: stops the timer and sends the last post (`stopped`, or `error` with the error's
   * code and message), waiting for it (and one in flight) at most `waitMs`.
   */
  async finish(error?: unknown, waitMs = 5_000): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.opts.runner.off('phase', this.onPhase);
    if (this.stopped || !this.target) return;
    const exit =
      error === undefined
        ? null
        : { at: new Date().toISOString(), code: error instanceof TributaryError ? error.code : ErrorCode.INTERNAL, message: redactUrl(error instanceof Error ? error.message : String(error)) };
    this.post(error === undefined ? 'stopped' : 'error', exit);
    this.stopped = true;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.drained(), new Promise<void>((resolve) => (timer = setTimeout(resolve, waitMs)))]);
    clearTimeout(timer);
  }

  private async drained(): Promise<void> {
    while (this.sending) await this.sending;
  }

  private post(event: WebhookEvent, exit: StatusJson['exit'] = null): void {
    if (this.stopped) return;
    if (event === 'interval' && this.waiting && this.waitingEvent !== 'interval') return;
    // The body is built when the post goes out, so a post that waited sends the newest status.
    this.waitingEvent = event;
    this.waiting = async () => ({ ...(await buildStatus(this.opts.runner, this.opts.readyMaxLagSeconds, exit)), event, sentAt: new Date().toISOString() });
    if (!this.sending) this.sending = this.pump();
  }

  private async pump(): Promise<void> {
    try {
      while (this.waiting) {
        const body = this.waiting;
        this.waiting = undefined;
        try {
          await this.send(await body());
        } catch (err) {
          // One post lost; the next one waiting (the final one, say) still goes.
          this.opts.logger.warn({ webhook: this.shown, err: redactUrl((err as Error).message) }, 'progress webhook: the status could not be built');
        }
      }
    } finally {
      this.sending = undefined;
    }
  }

  /** One post with its bounded retries; resolves whatever the outcome. */
  private async send(body: WebhookBody): Promise<void> {
    const attempts = this.opts.attempts ?? 4;
    let wait = this.opts.backoffMs ?? 500;
    let last = '';
    for (let attempt = 1; attempt <= attempts; attempt++) {
      try {
        const res = await fetch(this.target, {
          method: 'POST',
          headers: this.headers,
          body: JSON.stringify(body),
          // Credentials never follow a redirect: a 3xx is an answer like any other (not ok).
          redirect: 'manual',
          signal: AbortSignal.timeout(this.opts.timeoutMs ?? 5_000),
        });
        await res.arrayBuffer().catch(() => undefined);
        if (res.ok) return;
        last = `HTTP ${res.status}`;
        if (res.status < 500 && res.status !== 429) break;
      } catch (err) {
        last = redactUrl((err as Error).message);
      }
      if (attempt < attempts) {
        await new Promise((resolve) => setTimeout(resolve, wait).unref());
        wait *= 2;
      }
    }
    this.opts.logger.warn({ webhook: this.shown, event: body.event, error: last }, `progress webhook: ${this.shown} did not take the ${body.event} post (${last}); the sync goes on, and the next post carries the newest status`);
  }
}

/**
 * The webhook as logs show it: its origin only. Hook URLs carry their secret in the path or the
 * query (Slack's /services/…/XXXX, Discord's /api/webhooks/<id>/<token>, ?token=), not only as a
 * password, so neither is ever logged.
 */
function shownUrl(url: string): string {
  try {
    const u = new URL(url);
    return u.pathname.length > 1 || u.search ? `${u.origin}/…` : u.origin;
  } catch {
    return '(the --progress-webhook URL)';
  }
}
