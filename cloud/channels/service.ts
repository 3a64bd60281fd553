import nodemailer from 'nodemailer';
import type { Logger } from 'pino';
import type { ChannelStore } from './channel-store.js';
import { type AlertEventJson, type MailMessage, MAX_ITEMS_PER_POST, render } from './formats.js';
import type { ChannelType, ChannelWithSecret, ClaimedPost } from './model.js';
import { classifyNetworkError, classifyResponse, classifySmtpError, type RetryPolicy, retryAt, type Verdict } from './rules.js';

/** Result of one post, per delivery it carried (the metrics' `result` label). */
export type NotificationResult = 'delivered' | 'retrying' | 'failed';

/** Sends an email; the default goes over SMTP with nodemailer. Injected for tests of failures. */
export type Mailer = (channel: ChannelWithSecret, m: MailMessage, timeoutMs: number) => Promise<void>;

export interface ChannelDispatcherOptions {
  /** The clock (rate limiter, signing timestamps, backoff). Injected so tests need not wait. */
  now?: () => Date;
  /** A new alert waits this long for others to join its post (a burst becomes one digest), ms. Default 500. */
  gatherMs?: number;
  /** Look for due posts at least this often, ms (new alerts also wake it). Default 1000. */
  pollMs?: number;
  /** Per-request timeout, ms. Default 10000. */
  timeoutMs?: number;
  /** Backoff: first delay and cap, ms. Defaults 1000 and 300000. */
  backoffBaseMs?: number;
  backoffCapMs?: number;
  /** Attempts before an undocumented error code gives up. Default 20. */
  maxUnknownAttempts?: number;
  /** Posts in flight at once (to different channels). Default 4. */
  concurrency?: number;
  fetch?: typeof fetch;
  mailer?: Mailer;
  /** The unit of a stock alert's quantities (the ledger's uom of the sku at the site). */
  uomOf?: (site: string, sku: string) => Promise<string | undefined>;
  /** Counted per delivery: notifications by channel type and result (Prometheus, when present). */
  onResult?: (type: ChannelType, result: NotificationResult, n: number) => void;
}

/** SMTP through nodemailer: one connection per post (posts are rate-limited, so no pool is needed). */
export const smtpMailer: Mailer = async (c, m, timeoutMs) => {
  const s = c.smtp!;
  const t = nodemailer.createTransport({
    host: s.host,
    port: s.port,
    secure: s.secure,
    ...(s.user ? { auth: { user: s.user, pass: c.secret ?? '' } } : {}),
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
  });
  try {
    await t.sendMail({ from: s.from, to: s.to, subject: m.subject, text: m.text });
  } finally {
    t.close();
  }
};

/** Most bytes of an answer read (the robots answer a few dozen). */
const MAX_ANSWER_BYTES = 64 * 1024;

/**
 * Drains the channel queues. Like the webhook Dispatcher (cloud/alerts/webhooks.ts): everything it
 * sends was committed first, a claim is a lease that runs out if the sender dies, and per channel
 * posts go one at a time in queue order (an alert's `opened` before its `resolved`). Unlike it, a
 * post carries every pending delivery of its channel that fits (a digest), and is only claimed
 * when the channel's rate limit has a token, so a burst of alerts becomes a few digests at the
 * service's documented rate instead of a ban, and none is dropped.
 */
export class ChannelDispatcher {
  private readonly o: Required<Omit<ChannelDispatcherOptions, 'fetch' | 'mailer' | 'uomOf' | 'onResult' | 'now'>>;
  private readonly policy: RetryPolicy;
  private readonly fetch: typeof fetch;
  private readonly mailer: Mailer;
  private readonly now: () => Date;
  private readonly inflight = new Set<Promise<void>>();
  private readonly abort = new AbortController();
  private wake: (() => void) | undefined;
  private kicked = false;
  private loopDone: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly store: ChannelStore,
    private readonly log: Logger,
    private readonly opts: ChannelDispatcherOptions = {},
  ) {
    this.o = {
      gatherMs: opts.gatherMs ?? 500,
      pollMs: opts.pollMs ?? 1000,
      timeoutMs: opts.timeoutMs ?? 10_000,
      backoffBaseMs: opts.backoffBaseMs ?? 1000,
      backoffCapMs: opts.backoffCapMs ?? 300_000,
      maxUnknownAttempts: opts.maxUnknownAttempts ?? 20,
      concurrency: opts.concurrency ?? 4,
    };
    this.policy = { baseMs: this.o.backoffBaseMs, capMs: this.o.backoffCapMs, maxUnknownAttempts: this.o.maxUnknownAttempts };
    this.fetch = opts.fetch ?? globalThis.fetch;
    this.mailer = opts.mailer ?? smtpMailer;
    this.now = opts.now ?? (() => new Date());
  }

  /** A claim outlives the slowest post (a digest email included). */
  get leaseMs(): number {
    return 2 * this.o.timeoutMs + 5000;
  }

  start(): void {
    this.loopDone ??= this.loop();
  }

  kick(): void {
    this.kicked = true;
    this.wake?.();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    this.wake?.();
    await this.loopDone;
    await Promise.allSettled([...this.inflight]);
  }

  /** One pass at the injected clock: claim what is due and admitted, send it, wait (tests). Returns the posts made. */
  async runOnce(): Promise<number> {
    const posts = await this.claim(this.o.concurrency);
    await Promise.all(posts.map((p) => this.send(p)));
    return posts.length;
  }

  private claim(limit: number): Promise<ClaimedPost[]> {
    const now = this.now();
    return this.store.claimPosts({ now, dueBefore: new Date(now.getTime() - this.o.gatherMs), leaseMs: this.leaseMs, limit, maxItems: MAX_ITEMS_PER_POST });
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      this.kicked = false;
      let full = false;
      try {
        const free = this.o.concurrency - this.inflight.size;
        if (free > 0) {
          const posts = await this.claim(free);
          for (const post of posts) {
            const p: Promise<void> = this.send(post).finally(() => {
              this.inflight.delete(p);
              this.kick();
            });
            this.inflight.add(p);
          }
          full = posts.length === free;
        }
      } catch (err) {
        if (!this.stopped) this.log.error({ err: (err as Error).message }, 'channels: claim failed');
      }
      if (full || this.stopped) continue;
      // Something was queued meanwhile: it is due once the gather window (what lets a burst join one post) has passed.
      const wait = this.kicked ? Math.min(this.o.pollMs, this.o.gatherMs + 10) : this.o.pollMs;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, wait);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }

  private async events(post: ClaimedPost): Promise<AlertEventJson[]> {
    const uoms = new Map<string, string | undefined>();
    const out: AlertEventJson[] = [];
    for (const it of post.items) {
      const a = JSON.parse(it.body) as AlertEventJson;
      if (a.uom === undefined && a.sku !== undefined && a.value !== undefined && this.opts.uomOf) {
        const k = `${a.site}\u0000${a.sku}`;
        if (!uoms.has(k)) uoms.set(k, await this.opts.uomOf(a.site, a.sku).catch(() => undefined));
        const u = uoms.get(k);
        if (u !== undefined && ['safety-stock', 'reorder', 'overstock'].includes(a.type)) a.uom = u;
      }
      out.push(a);
    }
    return out;
  }

  private async send(post: ClaimedPost): Promise<void> {
    const ch = post.channel;
    let ids = post.items.map((i) => i.id);
    let verdict: Verdict;
    try {
      const { message, included } = render(ch, await this.events(post), post.at);
      if (included < post.items.length) {
        await this.store.release(ids.slice(included), post.at);
        ids = ids.slice(0, included);
      }
      verdict = message.kind === 'mail' ? await this.sendMail(ch, message) : await this.post(ch.type, message.url, message.headers, message.body);
    } catch (err) {
      verdict = { kind: 'retry', code: 'INTERNAL', error: (err as Error).message };
    }
    if (this.stopped) return; // the lease runs out; sent again after the restart
    const at = this.now();
    const carried = post.items.slice(0, ids.length);
    try {
      if (verdict.kind === 'ok') {
        await this.store.recordPost(ids, { ok: true, at });
        this.opts.onResult?.(ch.type, 'delivered', ids.length);
        this.log.debug({ channel: ch.id, type: ch.type, alerts: ids.length }, 'channel post delivered');
        return;
      }
      const attempts = Math.max(...carried.map((i) => i.attempts)) + 1;
      const next = retryAt(verdict, attempts, at.getTime(), this.policy);
      await this.store.recordPost(ids, { ok: false, at, code: verdict.code, error: verdict.error, retryAt: next === null ? null : new Date(next) });
      this.opts.onResult?.(ch.type, next === null ? 'failed' : 'retrying', ids.length);
      const ctx = { channel: ch.id, type: ch.type, alerts: ids.length, attempts, code: verdict.code, error: verdict.error };
      if (next === null) this.log.error(ctx, 'channel post failed; deliveries marked failed');
      else this.log.warn({ ...ctx, retryAt: new Date(next).toISOString() }, 'channel post failed; will retry');
    } catch (err) {
      this.log.error({ err: (err as Error).message, channel: ch.id }, 'channels: recording the post failed');
    }
  }

  private async post(type: ChannelType, url: string, headers: Record<string, string>, body: string): Promise<Verdict> {
    try {
      const res = await this.fetch(url, {
        method: 'POST',
        headers,
        body,
        redirect: 'manual',
        signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(this.o.timeoutMs)]),
      });
      const text = await readBounded(res, MAX_ANSWER_BYTES);
      return classifyResponse(type, res.status, text);
    } catch (err) {
      return classifyNetworkError(err as Error);
    }
  }

  private async sendMail(ch: ChannelWithSecret, m: MailMessage): Promise<Verdict> {
    let t: NodeJS.Timeout | undefined;
    try {
      // nodemailer's timeouts are per phase (connect, greeting, socket idle); the whole exchange
      // must end within the lease (2 x timeout + 5 s), or the post could be claimed twice.
      await Promise.race([
        this.mailer(ch, m, this.o.timeoutMs),
        new Promise<never>((_, reject) => {
          t = setTimeout(() => reject(Object.assign(new Error(`SMTP exchange over ${2 * this.o.timeoutMs} ms`), { code: 'TIMEOUT' })), 2 * this.o.timeoutMs);
        }),
      ]);
      return { kind: 'ok' };
    } catch (err) {
      return classifySmtpError(err as Error);
    } finally {
      clearTimeout(t);
    }
  }
}

/** The answer's text, at most `max` bytes (a misbehaving endpoint cannot fill memory). */
async function readBounded(res: Response, max: number): Promise<string> {
  if (!res.body) return '';
  const chunks: Uint8Array[] = [];
  let n = 0;
  const reader = res.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      n += value.length;
      if (n >= max) break;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return Buffer.concat(chunks).subarray(0, max).toString('utf8');
}
