import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { chromium } from 'playwright-core';
import { topics } from '../protocols/mqtt/index.js';
import { boardLoad, publishAt } from './board-load.js';
import { percentile, startCloud } from './common.js';
import type { BenchSection, SectionResult } from './section.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * Section `board` (issue 12 acceptance), in the default run:
 * - load: `--board-rate` (200) movements/s for `--board-seconds` (60) into one site, one SSE client
 *   applying frames and one stalled client that never reads: frames per second seen, the client's
 *   final state vs GET /api/v1/stock, the cloud's RSS (flat = bounded queues work);
 * - latency: `--board-latency-rate` (1000) movements/s for `--board-latency-seconds` (20) while a
 *   probe movement with a new SKU is published 4 times a second as an edge would; a real browser
 *   (headless Chromium) shows the board, and the time from the probe's publish to its row in the
 *   page's DOM is the scan -> board latency (p50/p99; goal p99 <= 400 ms, 250 ms coalescing included).
 */
export const boardSection: BenchSection = {
  name: 'board',
  about: 'live board: frames/s, final state and RSS under 200 movements/s with a stalled client; scan -> browser p50/p99 at 1k/s',
  byDefault: true,
  options: {
    'board-rate': { type: 'string', default: '200' },
    'board-seconds': { type: 'string', default: '60' },
    'board-latency-rate': { type: 'string', default: '1000' },
    'board-latency-seconds': { type: 'string', default: '20' },
  },
  async run(ctx): Promise<SectionResult> {
    const dir = mkdtempSync(join(tmpdir(), 'sg-bench-board-'));
    const cloud = await startCloud(['--data-dir', join(dir, 'cloud')]);
    const mqttUrl = `mqtt://127.0.0.1:${cloud.mqttPort}`;
    try {
      const rate = Number(ctx.flags['board-rate']);
      const seconds = Number(ctx.flags['board-seconds']);
      ctx.log(`board: load ${rate}/s for ${seconds} s with one stalled client`);
      const load = await boardLoad({ url: cloud.url, httpPort: cloud.httpPort, mqttUrl, pid: cloud.pid, site: 'bench-board-load', rate, seconds, log: ctx.log });

      const lrate = Number(ctx.flags['board-latency-rate']);
      const lsec = Number(ctx.flags['board-latency-seconds']);
      ctx.log(`board: browser latency at ${lrate}/s for ${lsec} s`);
      const latency = await browserLatency({ url: cloud.url, mqttUrl, site: 'bench-board-latency', rate: lrate, seconds: lsec });
      const ok = load.finalEqualsRest && latency.missing === 0;
      return {
        figures: { load, latency },
        table: [
          [`board load ${rate}/s x ${load.seconds} s: frames/s (max in a second)`, `${load.framesPerSecond} (${load.maxFramesInASecond})`],
          ['board load: client state = GET /api/v1/stock', load.finalEqualsRest ? 'yes' : `NO: ${load.mismatches.join('; ')}`],
          ['board load: cloud RSS MB start/end/max (one client stalled)', `${load.rssStartMb} / ${load.rssEndMb} / ${load.rssMaxMb}`],
          [`board scan -> browser ms at ${lrate}/s: p50 / p99 (${latency.probes} probes)`, `${latency.p50Ms} / ${latency.p99Ms}`],
        ],
        ok,
      };
    } finally {
      await cloud.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

/** Probe SKUs published at `rate` background load; their first appearance in the page's DOM. */
async function browserLatency(o: { url: string; mqttUrl: string; site: string; rate: number; seconds: number }) {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const probe = await mqtt.connectAsync(o.mqttUrl, { clientId: `${o.site}-probe`, clean: true });
  try {
    const page = await browser.newPage({ viewport: { width: 1920, height: 1080 } });
    await page.goto(`${o.url}/board?site=${o.site}`);
    await page.waitForSelector('#conn.on');
    // In the page: the first time each probe row is in the DOM (checked every animation frame).
    await page.evaluate(() => {
      const g = globalThis as unknown as { __seen: Record<string, number>; document: { querySelectorAll(s: string): ArrayLike<{ getAttribute(n: string): string | null }> }; requestAnimationFrame(f: () => void): void };
      g.__seen = {};
      const tick = () => {
        const rows = g.document.querySelectorAll('#stock tbody tr[data-sku^="PROBE-"]');
        for (let i = 0; i < rows.length; i++) {
          const sku = rows[i]!.getAttribute('data-sku')!;
          g.__seen[sku] ??= Date.now();
        }
        g.requestAnimationFrame(tick);
      };
      tick();
    });
    const sent = new Map<string, number>();
    let n = 0;
    await publishAt({
      mqttUrl: o.mqttUrl, site: o.site, edge: 'load', rate: o.rate, seconds: o.seconds, skus: 50,
      onTick: async (ms) => {
        // A probe every 250 ms, as an edge would publish a scan.
        if (ms < sent.size * 250) return;
        n++;
        const sku = `PROBE-${String(n).padStart(4, '0')}`;
        const m = { v: 1, id: `PROBE${o.site.replace(/[^0-9A-Za-z]/g, '')}${n}`, edge: 'probe', seq: n, ts: new Date().toISOString(), site: o.site, location: 'DOCK', kind: 'receive', sku, qty: 1, uom: 'ea', device: { id: 'scanner', type: 'scanner' }, raw: sku };
        sent.set(sku, Date.now());
        void probe.publishAsync(topics.movements(o.site, 'probe'), JSON.stringify({ v: 1, site: o.site, edge: 'probe', sentAt: new Date().toISOString(), movements: [m] }), { qos: 1 });
      },
    });
    await page.waitForTimeout(3000);
    const seen = (await page.evaluate(() => (globalThis as unknown as { __seen: Record<string, number> }).__seen)) as Record<string, number>;
    const lat = [...sent].filter(([sku]) => seen[sku] !== undefined).map(([sku, t]) => seen[sku]! - t).sort((a, b) => a - b);
    return { probes: sent.size, missing: sent.size - lat.length, p50Ms: percentile(lat, 50), p99Ms: percentile(lat, 99), maxMs: lat[lat.length - 1] ?? 0 };
  } finally {
    await probe.endAsync();
    await browser.close();
  }
}
