import type { ServerResponse } from 'node:http';
import type { SkuTotal, Store } from '../store/store.js';

/**
 * Live board fan-out over Server-Sent Events. Commits report which (site, sku) pairs changed; the
 * hub coalesces them for `intervalMs` and sends one `totals` event with just those rows, so a
 * burst of 20k movements/s costs the browsers a few small events a second, not 20k.
 */
export class BoardHub {
  private readonly clients = new Set<{ res: ServerResponse; site?: string }>();
  private pending = new Map<string, { site: string; sku: string }>();
  private timer: NodeJS.Timeout | undefined;
  private readonly keepalive: NodeJS.Timeout;

  constructor(
    private readonly store: Store,
    /** Coalescing window, ms. Default 250. */
    private readonly intervalMs = 250,
  ) {
    // Comment lines keep proxies from closing idle streams.
    this.keepalive = setInterval(() => {
      for (const c of this.clients) c.res.write(': keepalive\n\n');
    }, 15_000);
    this.keepalive.unref();
  }

  get size(): number {
    return this.clients.size;
  }

  /** Attach an SSE response; the first event is a full snapshot. */
  async attach(res: ServerResponse, site?: string): Promise<void> {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    const client = site === undefined ? { res } : { res, site };
    this.clients.add(client);
    res.on('close', () => this.clients.delete(client));
    const rows = await this.store.totals(site === undefined ? {} : { site });
    send(res, 'snapshot', rows);
  }

  changed(pairs: Array<{ site: string; sku: string }>): void {
    if (this.clients.size === 0) return;
    for (const p of pairs) this.pending.set(`${p.site}\u0000${p.sku}`, p);
    if (!this.timer) this.timer = setTimeout(() => void this.flush(), this.intervalMs);
  }

  close(): void {
    clearInterval(this.keepalive);
    clearTimeout(this.timer);
    for (const c of this.clients) c.res.end();
    this.clients.clear();
  }

  private async flush(): Promise<void> {
    this.timer = undefined;
    const pairs = [...this.pending.values()];
    this.pending = new Map();
    const rows = await this.store.totals({ pairs });
    for (const c of this.clients) {
      const mine: SkuTotal[] = c.site === undefined ? rows : rows.filter((r) => r.site === c.site);
      if (mine.length) send(c.res, 'totals', mine);
    }
  }
}

function send(res: ServerResponse, event: string, data: unknown): void {
  res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}
