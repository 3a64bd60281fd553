import type { ServerResponse } from 'node:http';
import type { SkuTotal, Store } from '../store/store.js';

/** Re-checks that a stream's caller may still watch (token not revoked, scope unchanged). */
export interface StreamGrant {
  /** Streams opened with one credential share one check per sweep. */
  key: string;
  check: () => Promise<boolean>;
}

interface Client {
  res: ServerResponse;
  /** The sites it shows; undefined = all. */
  sites?: ReadonlySet<string>;
  grant?: StreamGrant;
}

/**
 * Live board fan-out over Server-Sent Events. Commits report which (site, sku) pairs changed; the
 * hub coalesces them for `intervalMs` and sends one `totals` event with just those rows, so a
 * burst of 20k movements/s costs the browsers a few small events a second, not 20k.
 *
 * Streams outlive the request that authorised them, so every `recheckMs` (default 500) the hub
 * re-checks each distinct credential once and ends the streams of a revoked one: a revoked
 * token's board stops within 1 s (issue 8 #5). A check that fails to run ends them too (closed,
 * not open: the board reconnects and is authorised afresh).
 */
export class BoardHub {
  private readonly clients = new Set<Client>();
  private pending = new Map<string, { site: string; sku: string }>();
  private timer: NodeJS.Timeout | undefined;
  private readonly keepalive: NodeJS.Timeout;
  private readonly recheck: NodeJS.Timeout;
  private checking = false;

  constructor(
    private readonly store: Store,
    /** Coalescing window, ms. Default 250. */
    private readonly intervalMs = 250,
    recheckMs = 500,
  ) {
    // Comment lines keep proxies from closing idle streams.
    this.keepalive = setInterval(() => {
      for (const c of this.clients) c.res.write(': keepalive\n\n');
    }, 15_000);
    this.keepalive.unref();
    this.recheck = setInterval(() => void this.sweep(), recheckMs);
    this.recheck.unref();
  }

  get size(): number {
    return this.clients.size;
  }

  /**
   * The first event of a stream (these sites, or all when undefined), read BEFORE the response
   * is committed: a failure is still an HTTP error.
   */
  async snapshot(sites?: readonly string[]): Promise<SkuTotal[]> {
    if (sites === undefined) return this.store.totals({});
    return (await Promise.all(sites.map((site) => this.store.totals({ site })))).flat();
  }

  /** Attach an SSE response showing `sites` (undefined = all) and send it `snapshot` (from `snapshot()`). */
  attach(res: ServerResponse, sites: readonly string[] | undefined, snapshot: SkuTotal[], grant?: StreamGrant): void {
    if (res.destroyed) return;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    const client: Client = { res, ...(sites === undefined ? {} : { sites: new Set(sites) }), ...(grant ? { grant } : {}) };
    this.clients.add(client);
    res.on('close', () => this.clients.delete(client));
    send(res, 'snapshot', snapshot);
  }

  changed(pairs: Array<{ site: string; sku: string }>): void {
    if (this.clients.size === 0) return;
    for (const p of pairs) this.pending.set(`${p.site}\u0000${p.sku}`, p);
    if (!this.timer) this.timer = setTimeout(() => void this.flush(), this.intervalMs);
  }

  close(): void {
    clearInterval(this.keepalive);
    clearInterval(this.recheck);
    clearTimeout(this.timer);
    for (const c of this.clients) c.res.end();
    this.clients.clear();
  }

  /** Ends the streams whose credential no longer passes its check. */
  private async sweep(): Promise<void> {
    if (this.checking) return;
    this.checking = true;
    try {
      const byKey = new Map<string, Client[]>();
      for (const c of this.clients) if (c.grant) byKey.set(c.grant.key, [...(byKey.get(c.grant.key) ?? []), c]);
      await Promise.all(
        [...byKey.values()].map(async (cs) => {
          const ok = await cs[0]!.grant!.check().catch(() => false);
          if (ok) return;
          for (const c of cs) {
            this.clients.delete(c);
            c.res.end();
          }
        }),
      );
    } finally {
      this.checking = false;
    }
  }

  private async flush(): Promise<void> {
    this.timer = undefined;
    const pairs = [...this.pending.values()];
    this.pending = new Map();
    const rows = await this.store.totals({ pairs }).catch(() => undefined);
    if (!rows) return;
    for (const c of this.clients) {
      const mine: SkuTotal[] = c.sites === undefined ? rows : rows.filter((r) => c.sites!.has(r.site));
      if (mine.length) send(c.res, 'totals', mine);
    }
  }
}

function send(res: ServerResponse, event: string, data: unknown): void {
  res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}
