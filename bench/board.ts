import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { chromium } from 'playwright-core';
import type { BoardFrameTrace } from '../protocols/http/board.js';
import { topics } from '../protocols/mqtt/index.js';
import { publishAt } from './board-load.js';
import { percentile, startCloud } from './common.js';
import type { BenchSection, SectionResult } from './section.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** The probes' site sorts before the load's, so their rows are at the top of the stock table (300 rows shown). */
const PROBE_SITE = 'bench-a-probe';
const LOAD_SITE = 'bench-board-latency';

/**
 * Section `board` (issue 12 acceptance "npm run bench reports scan -> board latency p50/p99 in a
 * real browser at 1k movements/s; goal p99 <= 400 ms, including the coalescing window"):
 * `--board-latency-rate` (1000) movements/s for `--board-latency-seconds` (20) into one site while
 * a probe scan with a new SKU is published every `--board-probe-ms` (100) into another, one
 * movement per message as an edge would, after `--board-warmup-seconds` (3) of the load alone;
 * headless Chromium shows the board of all sites (a wall screen). Latency = publish -> the probe's
 * row in the page's DOM (checked each animation frame).
 *
 * Per-stage split, per probe (all epoch ms on one machine's clock): the ledger row's `appliedAt`
 * and position (GET /api/v1/movements), the hub's `timing` in the frame that carried it (which
 * read took the row, when the frame's window closed, when it was written), and the page's trace
 * (`window.__board.trace`: received, parsed+reduced, Preact rendered, next animation frame).
 * CPU, since the machine is shared: the cloud's CPU seconds (/proc), the page's main-thread task,
 * script and layout time per frame (Chromium's Performance metrics), with the load average;
 * `--cpu-prof DIR` also writes the page's profile (DIR/board-page.cpuprofile).
 */
export const boardSection: BenchSection = {
  name: 'board',
  about: 'live board: scan -> browser latency p50/p99 at 1k movements/s in headless Chromium, split per stage, with CPU per frame',
  byDefault: true,
  options: {
    'board-latency-rate': { type: 'string', default: '1000' },
    'board-latency-seconds': { type: 'string', default: '20' },
    'board-probe-ms': { type: 'string', default: '100' },
    'board-warmup-seconds': { type: 'string', default: '3' },
  },
  async run(ctx): Promise<SectionResult> {
    const dir = mkdtempSync(join(tmpdir(), 'sg-bench-board-'));
    const cloud = await startCloud(['--data-dir', join(dir, 'cloud')]);
    const mqttUrl = `mqtt://127.0.0.1:${cloud.mqttPort}`;
    try {
      const rate = Number(ctx.flags['board-latency-rate']);
      const seconds = Number(ctx.flags['board-latency-seconds']);
      const probeMs = Number(ctx.flags['board-probe-ms']);
      const warmupS = Number(ctx.flags['board-warmup-seconds']);
      ctx.log(`board: browser latency at ${rate}/s for ${seconds} s, a probe every ${probeMs} ms`);
      const r = await browserLatency({ url: cloud.url, mqttUrl, pid: cloud.pid, rate, seconds, probeMs, warmupS });
      const st = r.stages;
      const row = (k: keyof typeof st) => `${st[k].p50} / ${st[k].p99}`;
      return {
        figures: r as unknown as Record<string, unknown>,
        table: [
          [`board scan -> browser ms at ${rate}/s: p50 / p99 / max (${r.probes} probes, ${r.missing} missing)`, `${r.p50Ms} / ${r.p99Ms} / ${r.maxMs}`],
          ['  ingest: publish -> ledger commit (appliedAt)', row('ingest')],
          ['  hub wake + ledger read: commit -> row read', row('hubRead')],
          ['  coalescing window: row read -> frame window closes', row('coalesce')],
          ['  frame build: balances read, serialised, written', row('frameBuild')],
          ['  SSE transport: written -> page handler', row('transport')],
          ['  page: parse + reduce', row('reduce')],
          ['  page: Preact render', row('render')],
          ['  page: rendered -> row seen at an animation frame', row('visible')],
          ['  everything but the coalescing window', row('outsideWindow')],
          ['frames/s; bytes per frame p50', `${r.framesPerSecond}; ${r.frameBytesP50}`],
          ['page CPU per frame ms: task / script / layout+style', `${r.cpu.pageTaskMsPerFrame} / ${r.cpu.pageScriptMsPerFrame} / ${r.cpu.pageLayoutMsPerFrame}`],
          ['cloud CPU: cores busy during the run', String(r.cpu.cloudCores)],
          ['load average at start / end', `${r.load1Start} / ${r.load1End}`],
        ],
        ok: r.missing === 0,
      };
    } finally {
      await cloud.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

type Trace = BoardFrameTrace;

/** CPU seconds (user + system) of a process so far (Linux /proc; clock ticks of 10 ms). */
function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(rest[11]) + Number(rest[12])) / 100;
}

const STAGES = ['ingest', 'hubRead', 'coalesce', 'frameBuild', 'transport', 'reduce', 'render', 'visible', 'outsideWindow', 'total'] as const;
type Stage = (typeof STAGES)[number];

async function browserLatency(o: { url: string; mqttUrl: string; pid: number; rate: number; seconds: number; probeMs: number; warmupS: number }) {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const probe = await mqtt.connectAsync(o.mqttUrl, { clientId: `${PROBE_SITE}-probe`, clean: true });
  try {
    const page = await browser.newPage({ viewport: { width: 1920, height: 1080 } });
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Performance.enable');
    const metrics = async () => Object.fromEntries(((await cdp.send('Performance.getMetrics')) as { metrics: Array<{ name: string; value: number }> }).metrics.map((m) => [m.name, m.value]));
    // All sites, as a wall screen shows them: every frame carries the load too.
    await page.goto(`${o.url}/board`);
    await page.waitForSelector('#conn.on');
    // In the page: the first time each probe row is in the DOM (checked every animation frame).
    await page.evaluate(() => {
      const g = globalThis as unknown as { __seen: Record<string, number>; document: { querySelectorAll(s: string): ArrayLike<{ getAttribute(n: string): string | null }> }; requestAnimationFrame(f: () => void): void; performance: { timeOrigin: number; now(): number } };
      g.__seen = {};
      const tick = () => {
        const rows = g.document.querySelectorAll('#stock tbody tr[data-sku^="PROBE-"]');
        const at = g.performance.timeOrigin + g.performance.now();
        for (let i = 0; i < rows.length; i++) g.__seen[rows[i]!.getAttribute('data-sku')!] ??= at;
        g.requestAnimationFrame(tick);
      };
      tick();
    });
    const sent = new Map<string, number>();
    let n = 0;
    // `npm run bench -- --cpu-prof DIR` profiles the page too (DIR/board-page.cpuprofile, Chrome DevTools format).
    const profDir = process.env.STOCKGATE_BENCH_CPU_PROF;
    if (profDir) {
      await cdp.send('Profiler.enable');
      await cdp.send('Profiler.start');
    }
    let m0: Record<string, number> = {};
    let cpu0 = 0;
    let frames0 = 0;
    let t0 = Date.now();
    const load1Start = Math.round(loadavg()[0]! * 100) / 100;
    await publishAt({
      mqttUrl: o.mqttUrl, site: LOAD_SITE, edge: 'load', rate: o.rate, seconds: o.warmupS + o.seconds, skus: 50,
      onTick: async (ms) => {
        // The load runs alone for the warm-up (the cloud's first seconds: JIT, caches), then probes
        // at their own pace (the load's 50 ms ticks bound it), as an edge publishes a scan.
        if (ms < o.warmupS * 1000) return;
        if (n === 0) {
          m0 = await metrics();
          cpu0 = cpuSeconds(o.pid);
          frames0 = (await page.evaluate(() => (globalThis as unknown as { __board: { frames: number } }).__board.frames)) as number;
          t0 = Date.now();
        }
        while (ms - o.warmupS * 1000 >= sent.size * o.probeMs) {
          n++;
          const sku = `PROBE-${String(n).padStart(4, '0')}`;
          const m = { v: 1, id: `PROBE${n}`.padStart(10, '0'), edge: 'probe', seq: n, ts: new Date().toISOString(), site: PROBE_SITE, location: 'DOCK', kind: 'receive', sku, qty: 1, uom: 'ea', device: { id: 'scanner', type: 'scanner' }, raw: sku };
          sent.set(sku, Date.now());
          void probe.publishAsync(topics.movements(PROBE_SITE, 'probe'), JSON.stringify({ v: 1, site: PROBE_SITE, edge: 'probe', sentAt: new Date().toISOString(), movements: [m] }), { qos: 1 });
        }
      },
    });
    const runS = (Date.now() - t0) / 1000;
    const cpu1 = cpuSeconds(o.pid);
    const m1 = await metrics();
    if (profDir) {
      const { profile } = (await cdp.send('Profiler.stop')) as { profile: unknown };
      mkdirSync(profDir, { recursive: true });
      writeFileSync(join(profDir, 'board-page.cpuprofile'), JSON.stringify(profile));
    }
    const load1End = Math.round(loadavg()[0]! * 100) / 100;
    // Let the last probes arrive.
    const deadline = Date.now() + 15_000;
    for (;;) {
      const seen = (await page.evaluate(() => Object.keys((globalThis as unknown as { __seen: Record<string, number> }).__seen).length)) as number;
      if (seen >= sent.size || Date.now() > deadline) break;
      await page.waitForTimeout(250);
    }
    await page.waitForTimeout(500);
    const { seen, trace, frames1 } = (await page.evaluate(() => {
      const g = globalThis as unknown as { __seen: Record<string, number>; __board: { trace: unknown[]; frames: number } };
      return { seen: g.__seen, trace: g.__board.trace, frames1: g.__board.frames };
    })) as { seen: Record<string, number>; trace: Trace[]; frames1: number };
    // The probes' ledger rows: position and commit time.
    const rows = ((await (await fetch(`${o.url}/api/v1/movements?site=${PROBE_SITE}&limit=1000`)).json()) as { items: Array<{ sku: string; pos: number; appliedAt: string }> }).items;
    const ledger = new Map(rows.map((r) => [r.sku, { pos: r.pos, applied: Date.parse(r.appliedAt) }]));

    const lat: number[] = [];
    const split: Array<Record<string, number | string>> = [];
    const per: Record<Stage, number[]> = Object.fromEntries(STAGES.map((s) => [s, []])) as unknown as Record<Stage, number[]>;
    for (const [sku, pub] of sent) {
      const at = seen[sku];
      if (at === undefined) continue;
      lat.push(at - pub);
      const l = ledger.get(sku);
      const f = l && trace.find((t) => t.pos >= l.pos);
      const read = l && f?.timing?.reads.find(([p]) => p >= l.pos);
      if (!l || !f?.timing || !read || f.rendered === undefined) continue;
      const tm = f.timing;
      per.ingest.push(l.applied - pub);
      per.hubRead.push(read[1] - l.applied);
      per.coalesce.push(tm.flush - read[1]);
      per.frameBuild.push(tm.sent - tm.flush);
      per.transport.push(f.recv - tm.sent);
      per.reduce.push(f.reduced - f.recv);
      per.render.push(f.rendered - f.reduced);
      per.visible.push(at - f.rendered);
      per.outsideWindow.push(at - pub - (tm.flush - read[1]));
      per.total.push(at - pub);
      split.push({ sku, total: Math.round(at - pub), ingest: Math.round(l.applied - pub), hubRead: Math.round(read[1] - l.applied), coalesce: Math.round(tm.flush - read[1]), frameBuild: tm.sent - tm.flush, transport: Math.round(f.recv - tm.sent), reduce: Math.round(f.reduced - f.recv), render: Math.round(f.rendered - f.reduced), visible: Math.round(at - f.rendered) });
    }
    const q = (xs: number[]) => {
      const s = [...xs].sort((a, b) => a - b);
      return { p50: Math.round(percentile(s, 50)), p99: Math.round(percentile(s, 99)), n: s.length };
    };
    const stages = Object.fromEntries(STAGES.map((s) => [s, q(per[s])])) as Record<Stage, { p50: number; p99: number; n: number }>;
    lat.sort((a, b) => a - b);
    const frames = frames1 - frames0;
    const perFrame = (k: string, ks: string[] = [k]) => Math.round((ks.reduce((s, x) => s + ((m1[x] ?? 0) - (m0[x] ?? 0)), 0) * 1000 * 10) / Math.max(1, frames)) / 10;
    const bytes = trace.map((t) => t.bytes).sort((a, b) => a - b);
    return {
      rate: o.rate,
      seconds: Math.round(runS * 10) / 10,
      probes: sent.size,
      missing: sent.size - lat.length,
      p50Ms: Math.round(percentile(lat, 50)),
      p99Ms: Math.round(percentile(lat, 99)),
      maxMs: Math.round(lat[lat.length - 1] ?? 0),
      stages,
      /** The five slowest probes, stage by stage (where the tail comes from). */
      slowest: split.sort((a, b) => Number(b.total) - Number(a.total)).slice(0, 5),
      frames,
      framesPerSecond: Math.round((frames / runS) * 100) / 100,
      frameBytesP50: percentile(bytes, 50),
      cpu: {
        cloudCores: Math.round(((cpu1 - cpu0) / runS) * 100) / 100,
        pageTaskMsPerFrame: perFrame('TaskDuration'),
        pageScriptMsPerFrame: perFrame('ScriptDuration'),
        pageLayoutMsPerFrame: perFrame('LayoutDuration', ['LayoutDuration', 'RecalcStyleDuration']),
      },
      load1Start,
      load1End,
    };
  } finally {
    await probe.endAsync();
    await browser.close();
  }
}
