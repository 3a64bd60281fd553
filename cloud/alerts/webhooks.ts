import { createHmac } from 'node:crypto';
import type { Logger } from 'pino';
import type { Bus } from '../broker/bus.js';
import type { AlertStore, ClaimedDelivery } from './alert-store.js';

export interface DispatcherOptions {
  /** First retry delay, ms; doubled per failed attempt. Default 1000. */
  backoffBaseMs?: number;
  /** Longest retry delay, ms. Default 300000 (5 min). */
  backoffCapMs?: number;
  /** Attempts before a delivery is given up (state `failed`). Default 20. */
  maxAttempts?: number;
  /** Per-attempt timeout (HTTP request or MQTT publish), ms. Default 10000. */
  timeoutMs?: number;
  /** Look for due deliveries at least this often, ms (new ones also wake it). Default 1000. */
  pollMs?: number;
  /** Deliveries in flight at once (to different targets). Default 8. */
  concurrency?: number;
  /** Injected for tests; default the global fetch. */
  fetch?: typeof fetch;
  now?: () => Date;
}

/** Delay before the next try after `failures` failed attempts (1 → base): base·2^(n-1), capped. */
export function backoffMs(failures: number, baseMs: number, capMs: number): number {
  return Math.min(capMs, baseMs * 2 ** Math.max(0, failures - 1));
}

export const SIGNATURE_HEADER = 'x-stockgate-signature';
export const TIMESTAMP_HEADER = 'x-stockgate-timestamp';
export const EVENT_ID_HEADER = 'x-stockgate-event-id';

/** `sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>`. */
export function signature(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/**
 * The headers of one webhook request. The timestamp (Unix seconds) is inside the signed text, so
 * a receiver can refuse old replays; the event id is stable across retries, for deduplication.
 */
export function signedHeaders(secret: string, body: string, eventId: string, now: Date): Record<string, string> {
  const ts = String(Math.floor(now.getTime() / 1000));
  return {
    'content-type': 'application/json',
    'user-agent': 'stockgate-webhooks/1',
    [TIMESTAMP_HEADER]: ts,
    [SIGNATURE_HEADER]: signature(secret, ts, body),
    [EVENT_ID_HEADER]: eventId,
  };
}

/**
 * Drains the delivery queue of the AlertStore: webhooks (signed HTTP POST) and MQTT alert topics.
 * Everything it sends was committed to the queue first, so a crash loses nothing: a delivery in
 * flight keeps its claim (lease) until it runs out, then is sent again. At least once; receivers
 * deduplicate by event id.
 *
 * Per target (one webhook, or MQTT) deliveries go out one at a time in queue order, so a receiver
 * sees an alert's `opened` before its `resolved`, even across retries. A failing target only
 * delays itself.
 */
export class Dispatcher {
  private readonly o: Required<Omit<DispatcherOptions, 'fetch' | 'now'>>;
  private readonly fetch: typeof fetch;
  private readonly now: () => Date;
  private readonly inflight = new Set<Promise<void>>();
  private readonly abort = new AbortController();
  private wake: (() => void) | undefined;
  private kicked = false;
  private loopDone: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly store: AlertStore,
    private readonly bus: Pick<Bus, 'publish'>,
    private readonly log: Logger,
    opts: DispatcherOptions = {},
  ) {
    this.o = { backoffBaseMs: 1000, backoffCapMs: 300_000, maxAttempts: 20, timeoutMs: 10_000, pollMs: 1000, concurrency: 8, ...dropUndefined(opts) };
    this.fetch = opts.fetch ?? globalThis.fetch;
    this.now = opts.now ?? (() => new Date());
  }

  /** A claim outlives the slowest attempt, so it only runs out when its sender died. */
  get leaseMs(): number {
    return 2 * this.o.timeoutMs + 5000;
  }

  start(): void {
    this.loopDone ??= this.loop();
  }

  /** Something was enqueued or finished: look for due deliveries now. */
  kick(): void {
    this.kicked = true;
    this.wake?.();
  }

  /** Stop claiming, abort what is in flight (its claim runs out and it is resent after a restart). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    this.wake?.();
    await this.loopDone;
    await Promise.allSettled([...this.inflight]);
  }

  /** One pass: claim what is due and send it, waiting for the results (tests). Returns how many. */
  async runOnce(): Promise<number> {
    const claimed = await this.store.claimDeliveries(this.now(), this.leaseMs, this.o.concurrency);
    await Promise.all(claimed.map((d) => this.send(d)));
    return claimed.length;
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      this.kicked = false;
      let full = false;
      try {
        const free = this.o.concurrency - this.inflight.size;
        if (free > 0) {
          const claimed = await this.store.claimDeliveries(this.now(), this.leaseMs, free);
          for (const d of claimed) {
            const p: Promise<void> = this.send(d).finally(() => {
              this.inflight.delete(p);
              this.kick();
            });
            this.inflight.add(p);
          }
          full = claimed.length === free;
        }
      } catch (err) {
        if (!this.stopped) this.log.error({ err: (err as Error).message }, 'delivery queue: claim failed');
      }
      if (full || this.kicked || this.stopped) continue;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, this.o.pollMs);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }

  private async send(d: ClaimedDelivery): Promise<void> {
    let status: number | undefined;
    let error: string | undefined;
    try {
      if (d.target.kind === 'mqtt') {
        await withTimeout(this.bus.publish(d.target.topic, d.body, { qos: 1 }), this.o.timeoutMs);
      } else {
        const res = await this.fetch(d.target.url, {
          method: 'POST',
          headers: signedHeaders(d.target.secret, d.body, d.eventId, this.now()),
          body: d.body,
          redirect: 'manual',
          signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(this.o.timeoutMs)]),
        });
        status = res.status;
        await res.body?.cancel().catch(() => undefined);
        if (status < 200 || status > 299) error = `HTTP ${status}`;
      }
    } catch (err) {
      error = (err as Error).name === 'TimeoutError' ? `timeout after ${this.o.timeoutMs} ms` : (err as Error).message;
    }
    // Stopping: leave the claim to run out; the delivery is sent again after the restart.
    if (this.stopped) return;
    const at = this.now();
    try {
      if (error === undefined) {
        await this.store.recordAttempt(d.id, { ok: true, at, ...(status === undefined ? {} : { status }) });
        return;
      }
      const attempts = d.attempts + 1;
      const retryAt = attempts >= this.o.maxAttempts ? null : new Date(at.getTime() + backoffMs(attempts, this.o.backoffBaseMs, this.o.backoffCapMs));
      await this.store.recordAttempt(d.id, { ok: false, at, error, retryAt, ...(status === undefined ? {} : { status }) });
      const where = d.target.kind === 'mqtt' ? { topic: d.target.topic } : { webhook: d.target.webhookId };
      if (retryAt) this.log.warn({ ...where, delivery: d.id, eventId: d.eventId, attempts, error, retryAt: retryAt.toISOString() }, 'delivery failed; will retry');
      else this.log.error({ ...where, delivery: d.id, eventId: d.eventId, attempts, error }, 'delivery failed; giving up');
    } catch (err) {
      this.log.error({ err: (err as Error).message, delivery: d.id }, 'delivery queue: recording the attempt failed');
    }
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      t = setTimeout(() => reject(new Error(`timeout after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(t));
}

function dropUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
