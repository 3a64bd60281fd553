import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import type { BoardFrame, BoardSnapshot } from '../protocols/http/board.js';
import { stockKey } from '../protocols/http/board-keys.js';
import { topics } from '../protocols/mqtt/index.js';
import { startCloud } from './common.js';
import type { BenchSection, SectionResult } from './section.js';

/**
 * The board's load bench (issue 12 acceptance), section `board-load` of `npm run bench`; its
 * pieces are shared with the latency section (bench/board.ts) and the short version in
 * tests/cloud/board/load.test.ts.
 */

/** An SSE client that keeps the board's state as the browser's state module would (latest value per key). */
export class SseState {
  readonly stock = new Map<string, { onHand: number; uom: string; site: string; sku: string; location: string; batch: string; project: string }>();
  /** Arrival time (ms) of every frame. */
  readonly frameTimes: number[] = [];
  /** When the server wrote each frame (its `timing.sent`, ms): the spacing without the client's own delays. */
  readonly frameSent: number[] = [];
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
              const f = JSON.parse(data) as BoardFrame;
              if (f.timing) this.frameSent.push(f.timing.sent);
              for (const r of f.stock) this.stock.set(stockKey(r), r);
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

/**
 * A board client that opens the stream and never reads: its socket buffers fill and the server
 * must bound what it keeps for it (issue 12: "a stalled client never grows server memory").
 * `finish()` then reads what the kernel held and whatever the server still sends, and says how
 * the server dealt with it: `event: resync` (its queue overflowed and it drained again), or the
 * connection ended or was reset (destroyed after the stall limit).
 */
export function stalledClient(httpPort: number, path: string): { finish(waitMs?: number): Promise<StalledReport>; close(): void } {
  const s = connect(httpPort, '127.0.0.1');
  let bytes = 0;
  let tail = '';
  let resync = false;
  let ended: 'end' | 'reset' | undefined;
  s.on('error', () => (ended ??= 'reset'));
  s.on('end', () => (ended ??= 'end'));
  s.on('close', () => (ended ??= 'end'));
  s.on('data', (d: Buffer) => {
    bytes += d.length;
    tail = (tail + d.toString('latin1')).slice(-256 * 1024);
    if (tail.includes('event: resync')) resync = true;
  });
  s.write(`GET ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\naccept: text/event-stream\r\n\r\n`);
  s.pause();
  return {
    async finish(waitMs = 10_000) {
      s.resume();
      const deadline = Date.now() + waitMs;
      while (!ended && !resync && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      return { bytesHeldForIt: bytes, gotResync: resync, ended: ended ?? 'open' };
    },
    close: () => s.destroy(),
  };
}

export interface StalledReport {
  /** Bytes read once it resumed: what the kernel buffers held plus what the server sent after. */
  bytesHeldForIt: number;
  gotResync: boolean;
  /** How the connection was when it looked: ended by the server, reset, or still open. */
  ended: 'end' | 'reset' | 'open';
}

/** Resident set size of a process, MB (Linux /proc); `field` RssAnon is the heap's part (no file pages). */
export function rssMb(pid: number, field: 'VmRSS' | 'RssAnon' = 'VmRSS'): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 102.4) / 10 : 0;
}

/** Most of `times` (sorted ms) in any sliding window of `windowMs`, and the smallest gap. */
function densest(times: readonly number[], windowMs: number): { max: number; minGapMs: number } {
  let max = 0;
  let minGap = Infinity;
  for (let i = 0, j = 0; i < times.length; i++) {
    while (times[i]! - times[j]! >= windowMs) j++;
    max = Math.max(max, i - j + 1);
    if (i > 0) minGap = Math.min(minGap, times[i]! - times[i - 1]!);
  }
  return { max, minGapMs: Number.isFinite(minGap) ? Math.round(minGap) : 0 };
}

/**
 * Publishes `rate` movements a second as an edge would (one batch every 50 ms) for `seconds`: every
 * fifth an issue, each SKU always in its own unit (kg or ea; a SKU scanned in two units would make
 * a UOM_MISMATCH exception of a third of the load).
 */
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
          kind: seq % 5 === 0 ? 'issue' : 'receive', sku: `SKU-${seq % o.skus}`, qty: 1, uom: (seq % o.skus) % 3 === 0 ? 'kg' : 'ea', device: { id: 'load', type: 'scanner' }, raw: 'load', operator: 'bench',
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
  /** Most frames in any sliding one-second window as the client received them (its own delays included). */
  maxFramesInAnyWindow: number;
  /** Smallest gap between two frames as received, ms. */
  minFrameGapMs: number;
  /** The same from the server's write times (`timing.sent`): the acceptance's at most 4 frames a second. */
  serverMaxFramesInAnyWindow: number;
  serverMinFrameGapMs: number;
  /** The SSE client's final balances equal GET /api/v1/stock, row by row (site, location, sku, batch, project, uom). */
  finalEqualsRest: boolean;
  restRows: number;
  mismatches: string[];
  rssStartMb: number;
  rssEndMb: number;
  rssMaxMb: number;
  /** Least-squares slope of the server's RSS after warm-up, MB per minute. */
  rssSlopeMbPerMin: number;
  rssSamples: number[];
  /** The anonymous (heap) part of RSS, start and end of the steady part, MB. */
  rssAnonStartMb: number;
  rssAnonEndMb: number;
  resyncs: number;
  /** Absent when the run had no stalled client (the control run). */
  stalled?: StalledReport;
}

/** Least-squares slope of evenly spaced samples, per sample. */
function slope(ys: number[]): number {
  const n = ys.length;
  if (n < 2) return 0;
  const mx = (n - 1) / 2;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (i - mx) * (ys[i]! - my);
    den += (i - mx) ** 2;
  }
  return num / den;
}

/**
 * `rate` movements/s for `seconds` into one site, with one SSE client applying frames and one
 * stalled client that never reads. Returns frame rates, whether the client's final state equals
 * the REST stock row by row, the server's RSS (sampled each second after a warm-up, with its
 * slope), and what the server did with the stalled client - the issue's load acceptance.
 */
export async function boardLoad(o: { url: string; httpPort: number; mqttUrl: string; pid: number; site: string; rate: number; seconds: number; stall?: boolean; log?: (l: string) => void }): Promise<BoardLoadResult> {
  const path = `/board/events?site=${encodeURIComponent(o.site)}`;
  const client = new SseState(`${o.url}${path}`);
  await client.open();
  const stalled = o.stall === false ? undefined : stalledClient(o.httpPort, path);
  const rss: number[] = [];
  const anon: number[] = [];
  const t0 = Date.now();
  let movements = 0;
  try {
    movements = await publishAt({
      mqttUrl: o.mqttUrl, site: o.site, edge: 'load', rate: o.rate, seconds: o.seconds, skus: 50,
      onTick: (ms) => {
        if (ms > rss.length * 1000 + 1000) {
          rss.push(rssMb(o.pid));
          anon.push(rssMb(o.pid, 'RssAnon'));
          if (rss.length % 10 === 0) o.log?.(`board load: ${Math.round(ms / 1000)} s, RSS ${rss[rss.length - 1]} MB, ${client.frameTimes.length} frames`);
        }
      },
    });
    const tEnd = Date.now();
    // Wait until everything is applied and the client has the final state (or 30 s).
    const deadline = Date.now() + 30_000;
    let mismatches: string[] = [];
    let restRows = 0;
    for (;;) {
      const items = ((await (await fetch(`${o.url}/api/v1/stock?site=${encodeURIComponent(o.site)}`)).json()) as { items: Array<StockKeyed & { onHand: number }> }).items;
      // Balances are keyed without the unit (a unit mismatch is an exception); the unit is compared with the quantity.
      const rest = new Map(items.filter((r) => r.onHand !== 0).map((r) => [stockKey(r), `${r.onHand} ${r.uom}`]));
      const mine = new Map([...client.stock].filter(([, r]) => r.onHand !== 0).map(([k, r]) => [k, `${r.onHand} ${r.uom}`]));
      restRows = rest.size;
      const sum = items.reduce((a, r) => a + Math.abs(r.onHand), 0);
      mismatches = [...new Set([...rest.keys(), ...mine.keys()])].filter((k) => rest.get(k) !== mine.get(k)).map((k) => `${k.replace(/\u0000/g, '/')}: rest ${rest.get(k)} board ${mine.get(k)}`);
      if ((sum > 0 && mismatches.length === 0 && restRows > 0) || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    const during = client.frameTimes.filter((t) => t >= t0 && t <= tEnd);
    const buckets = new Map<number, number>();
    for (const t of during) buckets.set(Math.floor((t - t0) / 1000), (buckets.get(Math.floor((t - t0) / 1000)) ?? 0) + 1);
    const got = densest(during, 1000);
    const sent = densest(client.frameSent.filter((t) => t >= t0 && t <= tEnd), 1000);
    const seconds = (tEnd - t0) / 1000;
    // RSS: from after the first 10% (warm-up) to the end.
    const from = Math.max(1, Math.floor(rss.length / 10));
    const steady = rss.slice(from);
    const steadyAnon = anon.slice(from);
    const stalledReport = await stalled?.finish();
    return {
      movements,
      seconds: Math.round(seconds * 10) / 10,
      frames: during.length,
      framesPerSecond: Math.round((during.length / seconds) * 100) / 100,
      maxFramesInASecond: Math.max(0, ...buckets.values()),
      maxFramesInAnyWindow: got.max,
      minFrameGapMs: got.minGapMs,
      serverMaxFramesInAnyWindow: sent.max,
      serverMinFrameGapMs: sent.minGapMs,
      finalEqualsRest: mismatches.length === 0,
      restRows,
      mismatches: mismatches.slice(0, 10),
      rssStartMb: steady[0] ?? 0,
      rssEndMb: steady[steady.length - 1] ?? 0,
      rssMaxMb: Math.max(0, ...steady),
      // Samples are one second apart.
      rssSlopeMbPerMin: Math.round(slope(steady) * 60 * 10) / 10,
      rssSamples: rss,
      rssAnonStartMb: steadyAnon[0] ?? 0,
      rssAnonEndMb: steadyAnon[steadyAnon.length - 1] ?? 0,
      resyncs: client.resyncs,
      ...(stalledReport ? { stalled: stalledReport } : {}),
    };
  } finally {
    stalled?.close();
    await client.close();
  }
}

type StockKeyed = { site: string; location: string; sku: string; batch: string; project: string; uom: string };

/**
 * Section `board-load` (issue 12 acceptance "200 movements/s for 60 s: the SSE client sees at most
 * 4 frames/s, its final state equals GET /api/v1/stock, and server RSS stays flat with one client
 * stalled"): `--board-rate` (200) movements/s for `--board-seconds` (60) with one client stalled,
 * then (unless `--board-control 0`) the same run on a fresh cloud with no stalled client: what
 * the RSS does there is what the cloud does anyway (heap growth, caches), so the difference is
 * what the stalled client costs.
 */
export const boardLoadSection: BenchSection = {
  name: 'board-load',
  about: 'live board under 200 movements/s for 60 s: frames/s, client state = GET /api/v1/stock row by row, cloud RSS with one client stalled vs a control run without',
  byDefault: true,
  options: {
    'board-rate': { type: 'string', default: '200' },
    'board-seconds': { type: 'string', default: '60' },
    'board-control': { type: 'string', default: '1' },
  },
  async run(ctx): Promise<SectionResult> {
    const rate = Number(ctx.flags['board-rate']);
    const seconds = Number(ctx.flags['board-seconds']);
    const once = async (stall: boolean) => {
      const dir = mkdtempSync(join(tmpdir(), 'sg-bench-board-load-'));
      const cloud = await startCloud(['--data-dir', join(dir, 'cloud')]);
      try {
        ctx.log(`board-load: ${rate}/s for ${seconds} s ${stall ? 'with one stalled client' : 'without a stalled client (control)'}`);
        const load1Start = Math.round(loadavg()[0]! * 100) / 100;
        const r = await boardLoad({ url: cloud.url, httpPort: cloud.httpPort, mqttUrl: `mqtt://127.0.0.1:${cloud.mqttPort}`, pid: cloud.pid, site: 'bench-board-load', rate, seconds, stall, log: ctx.log });
        return { ...r, load1Start, load1End: Math.round(loadavg()[0]! * 100) / 100 };
      } finally {
        await cloud.kill();
        rmSync(dir, { recursive: true, force: true });
      }
    };
    const r = await once(true);
    const control = ctx.flags['board-control'] === '0' ? undefined : await once(false);
    const st = r.stalled!;
    const rssLine = (x: BoardLoadResult) => `${x.rssStartMb} / ${x.rssEndMb} / ${x.rssMaxMb}, ${x.rssSlopeMbPerMin} (heap ${x.rssAnonStartMb} -> ${x.rssAnonEndMb})`;
    return {
      figures: { ...r, ...(control ? { control } : {}) },
      table: [
        [`board load ${rate}/s x ${r.seconds} s: ${r.movements} movements, frames/s`, String(r.framesPerSecond)],
        ['board load: most frames in any 1 s window, smallest gap ms: as written / as received', `${r.serverMaxFramesInAnyWindow}, ${r.serverMinFrameGapMs} / ${r.maxFramesInAnyWindow}, ${r.minFrameGapMs}`],
        [`board load: client state = GET /api/v1/stock (${r.restRows} rows)`, r.finalEqualsRest ? 'yes' : `NO: ${r.mismatches.join('; ')}`],
        ['board load: cloud RSS MB start / end / max, slope MB/min, one client stalled', rssLine(r)],
        ...(control ? ([['board load: the same, no stalled client (control)', rssLine(control)]] as Array<[string, string]>) : []),
        ['board load: stalled client: bytes it could still read; resync; connection', `${st.bytesHeldForIt}; ${st.gotResync ? 'yes' : 'no'}; ${st.ended}`],
        ['load average at start / end', `${r.load1Start} / ${r.load1End}${control ? ` (control ${control.load1Start} / ${control.load1End})` : ''}`],
      ],
      ok: r.finalEqualsRest && r.serverMaxFramesInAnyWindow <= 4 && r.resyncs === 0 && (!control || control.finalEqualsRest),
    };
  },
};
