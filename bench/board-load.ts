import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import mqtt from 'mqtt';
import type { BoardFrame, BoardSnapshot } from '../protocols/http/board.js';
import { stockKey } from '../protocols/http/board-keys.js';
import { topics } from '../protocols/mqtt/index.js';

/**
 * The board's load and latency benches (issue 12 acceptance), shared by `npm run bench` (section
 * `board`, bench/board-section.ts) and the short version in tests/cloud/board/load.test.ts.
 */

/** An SSE client that keeps the board's state as the browser's state module would (latest value per key). */
export class SseState {
  readonly stock = new Map<string, { onHand: number; uom: string; site: string; sku: string; location: string; batch: string; project: string }>();
  /** Arrival time (ms) of every frame. */
  readonly frameTimes: number[] = [];
  snapshots = 0;
  resyncs = 0;
  private readonly ac = new AbortController();
  private done: Promise<void> | undefined;

  constructor(private readonly url: string) {}

  async open(): Promise<void> {
    const res = await fetch(this.url, { headers: { accept: 'text/event-stream' }, signal: this.ac.signal });
    if (res.status !== 200 || !res.body) throw new Error(`board stream: HTTP ${res.status}`);
    let first!: () => void;
    const gotFirst = new Promise<void>((r) => (first = r));
    this.done = (async () => {
      const dec = new TextDecoder();
      let buf = '';
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          buf += dec.decode(chunk, { stream: true });
          let i: number;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, i);
            buf = buf.slice(i + 2);
            let event = '';
            let data = '';
            for (const line of block.split('\n')) {
              if (line.startsWith('event: ')) event = line.slice(7);
              else if (line.startsWith('data: ')) data += line.slice(6);
            }
            if (event === 'snapshot') {
              const s = JSON.parse(data) as BoardSnapshot;
              this.snapshots++;
              this.stock.clear();
              for (const r of s.stock) this.stock.set(stockKey(r), r);
              first();
            } else if (event === 'frame') {
              this.frameTimes.push(Date.now());
              for (const r of (JSON.parse(data) as BoardFrame).stock) this.stock.set(stockKey(r), r);
              first();
            } else if (event === 'resync') this.resyncs++;
          }
        }
      } catch {
        /* closed */
      }
    })();
    await gotFirst;
  }

  /** Totals per (sku, uom) of rows with stock. */
  totals(): Map<string, number> {
    const m = new Map<string, number>();
    for (const r of this.stock.values()) m.set(`${r.sku} ${r.uom}`, Math.round(((m.get(`${r.sku} ${r.uom}`) ?? 0) + r.onHand) * 1000) / 1000);
    for (const [k, v] of m) if (v === 0) m.delete(k);
    return m;
  }

  async close(): Promise<void> {
    this.ac.abort();
    await this.done;
  }
}

/** A board client that connects and never reads: its socket buffer fills, the server must not grow. */
export function stalledClient(httpPort: number, path: string): { close(): void } {
  const s = connect(httpPort, '127.0.0.1');
  s.on('error', () => undefined);
  s.write(`GET ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\naccept: text/event-stream\r\n\r\n`);
  s.pause();
  return { close: () => s.destroy() };
}

/** Resident set size of a process, MB (Linux /proc). */
export function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 102.4) / 10 : 0;
}

/** Publishes `rate` movements a second as an edge would (one batch every 50 ms) for `seconds`. */
export async function publishAt(o: { mqttUrl: string; site: string; edge: string; rate: number; seconds: number; skus: number; onTick?: (elapsedMs: number) => void | Promise<void> }): Promise<number> {
  const c = await mqtt.connectAsync(o.mqttUrl, { clientId: `${o.site}-${o.edge}-load`, clean: true });
  const perTick = Math.max(1, Math.round(o.rate / 20));
  const ticks = Math.round(o.seconds * 20);
  let seq = 0;
  const t0 = Date.now();
  try {
    for (let t = 0; t < ticks; t++) {
      const movements = Array.from({ length: perTick }, () => {
        seq++;
        return {
          v: 1, id: `L${o.site.replace(/[^0-9A-Za-z]/g, '')}${o.edge}${seq}`.slice(-64).padStart(10, '0'), edge: o.edge, seq, ts: new Date().toISOString(), site: o.site, location: `BIN-${seq % 7}`,
          kind: seq % 5 === 0 ? 'issue' : 'receive', sku: `SKU-${seq % o.skus}`, qty: 1, uom: seq % 3 === 0 ? 'kg' : 'ea', device: { id: 'load', type: 'scanner' }, raw: 'load', operator: 'bench',
        };
      });
      await c.publishAsync(topics.movements(o.site, o.edge), JSON.stringify({ v: 1, site: o.site, edge: o.edge, sentAt: new Date().toISOString(), movements }), { qos: 1 });
      await o.onTick?.(Date.now() - t0);
      const wait = t0 + (t + 1) * 50 - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  } finally {
    await c.endAsync();
  }
  return seq;
}

export interface BoardLoadResult {
  movements: number;
  seconds: number;
  frames: number;
  framesPerSecond: number;
  /** Most frames in any one-second bucket of the run. */
  maxFramesInASecond: number;
  /** The SSE client's final balances equal GET /api/v1/stock. */
  finalEqualsRest: boolean;
  mismatches: string[];
  rssStartMb: number;
  rssEndMb: number;
  rssMaxMb: number;
  resyncs: number;
}

/**
 * `rate` movements/s for `seconds` into one site, with one SSE client applying frames and one
 * stalled client that never reads. Returns frame rates, whether the client's final state equals
 * the REST stock, and the server's RSS (sampled each second after a warm-up) - the load
 * acceptance.
 */
export async function boardLoad(o: { url: string; httpPort: number; mqttUrl: string; pid: number; site: string; rate: number; seconds: number; log?: (l: string) => void }): Promise<BoardLoadResult> {
  const path = `/board/events?site=${encodeURIComponent(o.site)}`;
  const client = new SseState(`${o.url}${path}`);
  await client.open();
  const stalled = stalledClient(o.httpPort, path);
  const rss: number[] = [];
  const t0 = Date.now();
  let movements = 0;
  try {
    movements = await publishAt({
      mqttUrl: o.mqttUrl, site: o.site, edge: 'load', rate: o.rate, seconds: o.seconds, skus: 50,
      onTick: (ms) => {
        if (ms > rss.length * 1000 + 1000) {
          rss.push(rssMb(o.pid));
          if (rss.length % 10 === 0) o.log?.(`board load: ${Math.round(ms / 1000)} s, RSS ${rss[rss.length - 1]} MB, ${client.frameTimes.length} frames`);
        }
      },
    });
    const tEnd = Date.now();
    // Wait until everything is applied and the client has the final state (or 20 s).
    let rest = new Map<string, number>();
    const deadline = Date.now() + 20_000;
    let mismatches: string[] = [];
    for (;;) {
      const items = ((await (await fetch(`${o.url}/api/v1/stock?site=${encodeURIComponent(o.site)}`)).json()) as { items: Array<{ sku: string; uom: string; onHand: number }> }).items;
      rest = new Map();
      for (const r of items) rest.set(`${r.sku} ${r.uom}`, Math.round(((rest.get(`${r.sku} ${r.uom}`) ?? 0) + r.onHand) * 1000) / 1000);
      for (const [k, v] of rest) if (v === 0) rest.delete(k);
      const mine = client.totals();
      mismatches = [...new Set([...rest.keys(), ...mine.keys()])].filter((k) => rest.get(k) !== mine.get(k)).map((k) => `${k}: rest ${rest.get(k)} board ${mine.get(k)}`);
      const applied = [...rest.values()].length > 0;
      if ((applied && mismatches.length === 0) || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    const during = client.frameTimes.filter((t) => t >= t0 && t <= tEnd);
    const buckets = new Map<number, number>();
    for (const t of during) buckets.set(Math.floor((t - t0) / 1000), (buckets.get(Math.floor((t - t0) / 1000)) ?? 0) + 1);
    const seconds = (tEnd - t0) / 1000;
    // RSS: from after the first 10% (warm-up) to the end.
    const steady = rss.slice(Math.max(1, Math.floor(rss.length / 10)));
    return {
      movements,
      seconds: Math.round(seconds * 10) / 10,
      frames: during.length,
      framesPerSecond: Math.round((during.length / seconds) * 100) / 100,
      maxFramesInASecond: Math.max(0, ...buckets.values()),
      finalEqualsRest: mismatches.length === 0,
      mismatches: mismatches.slice(0, 10),
      rssStartMb: steady[0] ?? 0,
      rssEndMb: steady[steady.length - 1] ?? 0,
      rssMaxMb: Math.max(0, ...steady),
      resyncs: client.resyncs,
    };
  } finally {
    stalled.close();
    await client.close();
  }
}
