/**
 * Drains the ERP outbound queue through one adapter, with the webhooks' retry policy (`backoffMs`:
 * base·2^(n−1), capped; given up after `maxAttempts` as `failed`, visible in the outbox). At least
 * once: a row is claimed with a lease, and a sender that dies mid-delivery leaves it to be claimed
 * again; the adapter makes the retry harmless (the event id / bill number).
 */
import type { Logger } from 'pino';
import { backoffMs } from '../alerts/webhooks.js';
import type { Db } from '../db/index.js';
import type { ErpAdapter } from './erp-adapter.js';
import { claim, delivered, failed } from './queue.js';

export interface ErpSenderOptions {
  backoffBaseMs?: number;
  backoffCapMs?: number;
  maxAttempts?: number;
  timeoutMs?: number;
  pollMs?: number;
  leaseMs?: number;
}

/** What /healthz shows of the sender: deliveries made, failed tries (retried), events given up. */
export interface ErpSenderStats {
  erp: string;
  delivered: number;
  retried: number;
  failed: number;
  lastError?: string;
}

export class ErpSender {
  private readonly o: Required<ErpSenderOptions>;
  readonly stats: ErpSenderStats;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;
  private stopped = false;
  private readonly abort = new AbortController();

  constructor(private readonly db: Db, private readonly adapter: ErpAdapter, private readonly log: Pick<Logger, 'warn' | 'info'>, opts: ErpSenderOptions = {}) {
    this.o = { backoffBaseMs: 1000, backoffCapMs: 300_000, maxAttempts: 20, timeoutMs: 10_000, pollMs: 1000, leaseMs: 60_000, ...opts };
    this.stats = { erp: adapter.name, delivered: 0, retried: 0, failed: 0 };
  }

  /** One pass: every due row once. Returns how many were delivered. */
  async runOnce(): Promise<number> {
    let n = 0;
    const now = Date.now();
    for (const c of await claim(this.db.kysely, now, this.o.leaseMs, 50)) {
      try {
        await this.adapter.deliver(c, AbortSignal.any([this.abort.signal, AbortSignal.timeout(this.o.timeoutMs)]));
        await delivered(this.db.kysely, c.id, Date.now());
        this.stats.delivered++;
        n++;
      } catch (err) {
        const attempts = c.attempts + 1;
        const next = attempts >= this.o.maxAttempts ? undefined : Date.now() + backoffMs(attempts, this.o.backoffBaseMs, this.o.backoffCapMs);
        this.log.warn({ code: 'SG_ERR_ERP_DELIVERY', erp: this.adapter.name, event: c.eventId, attempts, err: (err as Error).message }, next === undefined ? 'ERP delivery given up' : 'ERP delivery failed; will retry');
        await failed(this.db.kysely, c.id, (err as Error).message, next);
        if (next === undefined) this.stats.failed++;
        else this.stats.retried++;
        this.stats.lastError = `${c.eventId}: ${(err as Error).message}`.slice(0, 300);
      }
    }
    return n;
  }

  start(): void {
    const tick = async () => {
      if (this.stopped) return;
      this.running = this.runOnce().catch(() => 0);
      await this.running;
      if (!this.stopped) this.timer = setTimeout(tick, this.o.pollMs);
    };
    this.timer = setTimeout(tick, 0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.abort.abort();
    await this.running;
  }
}
