/**
 * Section `edgeBacklog` of `npm run bench` (alone: `npm run bench:edge`): the edge agent under a
 * large backlog (issue 4, part 5; issue 14 §6).
 *
 * 1. RSS of an idle `stockgate edge` with an empty outbox (the broker is down).
 * 2. A 1M-movement backlog written into a fresh outbox (the outage), then `stockgate edge` started
 *    on it with the cloud still down: its startup time and RSS.
 * 3. `stockgate cloud` (embedded aedes, SQLite ledger, synchronous=FULL) comes back on the same
 *    ports: the drain rate (movements acked per second, from the edge's reconnect to backlog 0 in
 *    its telemetry) and the peak RSS while draining; afterwards the ledger must hold exactly N.
 * 4. Edge-only ceiling: the same Publisher + SqliteOutbox in this process draining into a fake
 *    cloud that acks every batch at once (no ledger), to separate the edge's hot path from the
 *    cloud's ingest rate.
 *
 * Phases 1-3 run with default process settings; `--tuned yes` runs them again with the edge
 * process tuned for a small PC (`TUNED_ENV`: NODE_OPTIONS=--max-semi-space-size=2). The repeat is
 * off by default so the default `npm run bench` stays within its 10-minute budget (issue 14).
 *
 * Flags: --backlog-movements N (1000000), --edge-only N (500000), --batch N (500), --window N (8),
 * --tuned yes|no (no). Also writes `edge-latest.json`. Goals (issue 14): drain >= 80k/s per edge,
 * RSS <= 80 MB idle and <= 150 MB draining 1M.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import mqtt from 'mqtt';
import { EmbeddedBroker } from '../cloud/broker/aedes.js';
import { packageRoot } from '../cloud/paths.js';
import type { MovementDraft } from '../edge/outbox/outbox-store.js';
import { SqliteOutbox } from '../edge/outbox/sqlite.js';
import { Publisher } from '../edge/publisher.js';
import { Telemetry, topics, toRanges } from '../protocols/mqtt/index.js';
import { benchCloudArgs, healthz } from './common.js';
import type { BenchSection } from './section.js';

const options = {
  'backlog-movements': { type: 'string', default: '1000000' },
  'edge-only': { type: 'string', default: '500000' },
  batch: { type: 'string', default: '500' },
  window: { type: 'string', default: '8' },
  tuned: { type: 'string', default: 'no' },
} as const;
// Set from the flags when the section runs.
let N = 0;
let EDGE_ONLY = 0;
let BATCH = 0;
let WINDOW = 0;
const ROOT = packageRoot();
const BIN = join(ROOT, 'bin', 'stockgate.js');
const SITE = 'bench-edge';
const EDGE = 'dock-1';
const SKUS = 1000;

const mb = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const say = (s: string) => process.stderr.write(`${s}\n`);

/** A realistic scan movement (~240 bytes of JSON once the outbox adds ids). */
function draft(i: number): MovementDraft {
  const sku = `SKU-${String(i % SKUS).padStart(5, '0')}`;
  return { ts: new Date().toISOString(), location: 'DOCK-1', kind: 'receive', sku, qty: 1, uom: 'ea', operator: 'W-1024', device: { id: 'dock1', type: 'scanner' }, raw: `]C0${sku}` };
}

/** VmRSS / VmHWM of a process, bytes. */
function rss(pid: number): { rss: number; hwm: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? 0) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

/** CPU seconds (user + system) a process has used so far. */
function cpuSec(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

interface Proc {
  child: ChildProcess;
  ready: Record<string, unknown>;
  logs: Array<Record<string, unknown>>;
  kill(sig?: NodeJS.Signals): Promise<void>;
}

async function spawnStockgate(argv: string[], env: Record<string, string> = {}): Promise<Proc> {
  // The edge as the bare command (`stockgate edge`, through the launcher's shebang: the V8 limits
  // it sets itself, issue 14 §6); the cloud under this node.
  // --cpu-prof DIR (bench/main.ts) profiles the cloud here too: one .cpuprofile per cloud on exit.
  const prof = process.env.STOCKGATE_BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.STOCKGATE_BENCH_CPU_PROF] : [];
  const [cmd, args] = argv[0] === 'edge' ? [BIN, argv] : [process.execPath, [...prof, BIN, ...argv]];
  const child = spawn(cmd, args, { cwd: ROOT, env: { ...process.env, STOCKGATE_LOG_LEVEL: 'info', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: Array<Record<string, unknown>> = [];
  let err = '';
  createInterface({ input: child.stderr! }).on('line', (l) => {
    err += `${l}\n`;
    try {
      logs.push(JSON.parse(l) as Record<string, unknown>);
    } catch {
      /* not JSON */
    }
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`stockgate ${argv[0]} not ready in 120 s\n${err}`)), 120_000);
    createInterface({ input: child.stdout! }).on('line', (l) => {
      try {
        const v = JSON.parse(l) as Record<string, unknown>;
        if (v.event === 'ready') {
          clearTimeout(timer);
          resolve(v);
        }
      } catch {
        /* human output */
      }
    });
    child.once('exit', (code) => reject(new Error(`stockgate ${argv[0]} exited ${code}\n${err}`)));
  });
  return {
    child,
    ready,
    logs,
    async kill(sig: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(sig);
      await exited;
    },
  };
}

const cloudArgs = (dir: string, mqttPort = 0, httpPort = 0) => ['cloud', '--data-dir', join(dir, 'cloud'), '--mqtt-port', String(mqttPort), '--http-port', String(httpPort), '--insecure', ...benchCloudArgs()];
const edgeArgs = (dataDir: string, mqttPort: number) => [
  'edge',
  '--data-dir', dataDir,
  '--broker', `mqtt://127.0.0.1:${mqttPort}`,
  '--site', SITE,
  '--edge-id', EDGE,
  '--location', 'DOCK-1',
  '--batch-size', String(BATCH),
  '--window', String(WINDOW),
  '--telemetry-ms', '250',
  '--outbox-max-bytes', String(1024 * 1024 * 1024),
  '--backlog-alert', String(N + 1),
];

async function ingestOf(httpPort: number): Promise<{ applied: number; duplicates: number }> {
  return (await healthz(`http://127.0.0.1:${httpPort}`)).ingest;
}

/**
 * Process-level tuning for a memory-tight edge PC, applied only to the edge process: a 2 MB
 * young-generation semi-space (V8's default grows to 16 MB, i.e. 32-48 MB of young generation
 * while draining). MALLOC_ARENA_MAX=2 was measured too and made no difference. Override with
 * BENCH_TUNED_ENV='{"NODE_OPTIONS":"..."}'.
 */
const TUNED_ENV: Record<string, string> = process.env.BENCH_TUNED_ENV
  ? (JSON.parse(process.env.BENCH_TUNED_ENV) as Record<string, string>)
  : { NODE_OPTIONS: '--max-semi-space-size=2' };

/** Phases 1-3 with real processes; `env` is the edge process's extra environment. */
async function realDrain(dir: string, env: Record<string, string> = {}) {
  // Free ports from a first cloud, then the outage.
  const first = await spawnStockgate(cloudArgs(dir));
  const mqttPort = first.ready.mqttPort as number;
  const httpPort = first.ready.httpPort as number;
  await first.kill('SIGKILL');

  // 1. Idle, empty outbox.
  const idle = await spawnStockgate(edgeArgs(join(dir, 'edge-idle'), mqttPort), env);
  await sleep(3000);
  const idleRss = rss(idle.child.pid!);
  await idle.kill();
  say(`idle RSS ${mb(idleRss.rss)} MB`);

  // 2. A 1M backlog written during the outage, then the agent started on it.
  const edgeDir = join(dir, 'edge');
  mkdirSync(edgeDir, { recursive: true });
  const t0 = performance.now();
  const outbox = new SqliteOutbox({ path: join(edgeDir, 'outbox.db'), site: SITE, edge: EDGE, maxBytes: 1024 * 1024 * 1024 });
  const CHUNK = 10_000;
  for (let i = 0; i < N; i += CHUNK) outbox.append(Array.from({ length: Math.min(CHUNK, N - i) }, (_, j) => draft(i + j)));
  const backlog = outbox.backlog();
  outbox.close();
  const prefillSec = (performance.now() - t0) / 1000;
  const dbBytes = statSync(join(edgeDir, 'outbox.db')).size + (existsSync(join(edgeDir, 'outbox.db-wal')) ? statSync(join(edgeDir, 'outbox.db-wal')).size : 0);
  say(`backlog ${backlog.count} movements, ${mb(backlog.bytes)} MB JSON, outbox.db ${mb(dbBytes)} MB, written in ${prefillSec.toFixed(1)} s`);

  const s0 = performance.now();
  const edge = await spawnStockgate(edgeArgs(edgeDir, mqttPort), env);
  const startupMs = Math.round(performance.now() - s0);
  if (edge.ready.backlog !== N) throw new Error(`edge started with backlog ${String(edge.ready.backlog)}, expected ${N}`);
  await sleep(3000);
  const backlogRss = rss(edge.child.pid!);
  say(`with the backlog: startup ${startupMs} ms, RSS ${mb(backlogRss.rss)} MB`);

  // 3. The cloud comes back: drain.
  const cloud = await spawnStockgate(cloudArgs(dir, mqttPort, httpPort));
  const watcher = await mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort}`);
  let drainedAt = 0;
  let lastBacklog = N;
  const series: Array<[number, number]> = [];
  let heap = 0;
  let external = 0;
  watcher.on('message', (_t, p) => {
    const t = Telemetry.parse(JSON.parse(p.toString()));
    lastBacklog = t.metrics['outbox.backlog']!;
    series.push([Date.now(), lastBacklog]);
    heap = Math.max(heap, t.metrics['process.heapTotalBytes'] ?? 0);
    external = Math.max(external, t.metrics['process.externalBytes'] ?? 0);
    if (lastBacklog === 0 && !drainedAt) drainedAt = Date.now();
  });
  await watcher.subscribeAsync(topics.telemetry(SITE, EDGE), { qos: 0 });
  let peak = backlogRss.rss;
  const edgeCpu0 = cpuSec(edge.child.pid!);
  const cloudCpu0 = cpuSec(cloud.child.pid!);
  const deadline = Date.now() + 30 * 60_000;
  while (!drainedAt) {
    if (Date.now() > deadline) throw new Error(`not drained in 30 min (backlog ${lastBacklog})`);
    peak = Math.max(peak, rss(edge.child.pid!).rss);
    await sleep(250);
  }
  // From the edge's reconnect (its log line's pino time) to backlog 0 in its telemetry (±250 ms).
  const connected = edge.logs.find((l) => l.msg === 'connected to broker');
  if (!connected) throw new Error('the edge never logged its reconnect');
  const drainSec = (drainedAt - Number(connected.time)) / 1000;
  say(`edge heapTotal peak ${mb(heap)} MB, external peak ${mb(external)} MB`);
  if (process.env.BENCH_SERIES) say(series.map(([t, b]) => `${((t - Number(connected.time)) / 1000).toFixed(2)}s:${b}`).join(' '));
  const ingest = await ingestOf(httpPort);
  const hwm = rss(edge.child.pid!).hwm;
  const edgeCpu = cpuSec(edge.child.pid!) - edgeCpu0;
  const cloudCpu = cpuSec(cloud.child.pid!) - cloudCpu0;
  await watcher.endAsync();
  await edge.kill();
  await cloud.kill();
  const rate = Math.round(N / drainSec);
  say(`drained ${N} in ${drainSec.toFixed(1)} s = ${rate}/s; peak RSS ${mb(peak)} MB (HWM ${mb(hwm)} MB); cloud applied ${ingest.applied}, duplicates ${ingest.duplicates}; CPU s: edge ${edgeCpu.toFixed(1)}, cloud ${cloudCpu.toFixed(1)}`);
  return {
    idleRssMb: mb(idleRss.rss),
    backlog: { movements: backlog.count, jsonMb: mb(backlog.bytes), outboxDbMb: mb(dbBytes), prefillSec: Math.round(prefillSec * 10) / 10 },
    startupMsWithBacklog: startupMs,
    backlogIdleRssMb: mb(backlogRss.rss),
    drain: { movementsPerSec: rate, seconds: Math.round(drainSec * 10) / 10, peakRssMb: mb(peak), hwmRssMb: mb(hwm), cloudApplied: ingest.applied, cloudDuplicates: ingest.duplicates, exactlyOnce: ingest.applied === N, edgeCpuSec: Math.round(edgeCpu * 10) / 10, cloudCpuSec: Math.round(cloudCpu * 10) / 10, edgeCpuUsPerMovement: Math.round((edgeCpu / N) * 1e7) / 10 },
  };
}

/** Phase 4: the edge's own ceiling, against a cloud that acks at once and stores nothing. */
async function edgeOnly(dir: string) {
  const broker = await EmbeddedBroker.start({ port: 0 });
  const url = `mqtt://127.0.0.1:${broker.port}`;
  const outbox = new SqliteOutbox({ path: join(dir, 'edge-only.db'), site: SITE, edge: 'edge-only', maxBytes: 1024 * 1024 * 1024 });
  for (let i = 0; i < EDGE_ONLY; i += 10_000) outbox.append(Array.from({ length: Math.min(10_000, EDGE_ONLY - i) }, (_, j) => draft(i + j)));
  const cloud = await mqtt.connectAsync(url);
  await cloud.subscribeAsync(topics.movements(SITE, 'edge-only'), { qos: 1 });
  cloud.on('message', (_t, p) => {
    // Seqs without a full parse: the fake cloud must not be the bottleneck.
    const seqs = [...p.toString().matchAll(/"seq":(\d+)/g)].map((m) => Number(m[1]));
    void cloud.publishAsync(topics.acks(SITE, 'edge-only'), JSON.stringify({ v: 1, edge: 'edge-only', ranges: toRanges(seqs), duplicates: 0, at: new Date().toISOString() }), { qos: 1 });
  });
  const pub = new Publisher(outbox, { broker: url, site: SITE, edge: 'edge-only', batchSize: BATCH, window: WINDOW });
  const t0 = performance.now();
  pub.start();
  while (outbox.backlog().count > 0) await sleep(20);
  const sec = (performance.now() - t0) / 1000;
  await pub.stop();
  outbox.close();
  await cloud.endAsync();
  await broker.close();
  const rate = Math.round(EDGE_ONLY / sec);
  say(`edge-only: ${EDGE_ONLY} drained in ${sec.toFixed(1)} s = ${rate}/s`);
  return { movements: EDGE_ONLY, seconds: Math.round(sec * 10) / 10, movementsPerSec: rate };
}

export const edgeBacklogSection: BenchSection = {
  name: 'edgeBacklog',
  about: 'bare `stockgate edge`: RSS idle and with a 1M backlog, drain rate into a real cloud (exactly once), edge-only ceiling',
  byDefault: true,
  options,
  async run(ctx) {
    N = Number(ctx.flags['backlog-movements']);
    EDGE_ONLY = Number(ctx.flags['edge-only']);
    BATCH = Number(ctx.flags.batch);
    WINDOW = Number(ctx.flags.window);
    const dir = mkdtempSync(join(tmpdir(), 'sg-bench-edge-'));
    try {
      say('--- default process settings');
      const real = await realDrain(join(dir, 'default'));
      const tunedOn = ctx.flags.tuned === 'yes';
      if (tunedOn) say(`--- tuned edge process: ${JSON.stringify(TUNED_ENV)}`);
      const tuned = tunedOn ? await realDrain(join(dir, 'tuned'), TUNED_ENV) : undefined;
      const only = EDGE_ONLY > 0 ? await edgeOnly(dir) : undefined;
      const figures = {
        settings: { movements: N, batch: BATCH, window: WINDOW, outbox: 'sqlite (WAL, synchronous=FULL)', cloud: 'stockgate cloud, embedded aedes, SQLite ledger (FULL)' },
        goals: { drainPerSec: 80_000, idleRssMb: 80, drainingRssMb: 150 },
        ...real,
        ...(tuned ? { tuned: { env: TUNED_ENV, ...tuned } } : {}),
        ...(only ? { edgeOnly: only } : {}),
      };
      // Kept beside latest.json for readers of the earlier layout.
      mkdirSync(ctx.out, { recursive: true });
      writeFileSync(join(ctx.out, 'edge-latest.json'), `${JSON.stringify({ at: new Date().toISOString(), machine: ctx.machine, ...figures }, null, 2)}\n`);
      const table: Array<[string, string]> = [
        ['edge: idle RSS MB (bare stockgate edge)', String(real.idleRssMb)],
        ['edge: RSS MB with 1M backlog / peak draining', `${real.backlogIdleRssMb} / ${real.drain.peakRssMb}`],
        ['edge: drain movements/s (into a real cloud)', `${real.drain.movementsPerSec} (exactly once: ${real.drain.exactlyOnce ? 'OK' : 'MISMATCH'})`],
        ...(only ? [['edge: edge-only ceiling movements/s', String(only.movementsPerSec)] as [string, string]] : []),
      ];
      return { figures, table, ok: real.drain.exactlyOnce && (tuned?.drain.exactlyOnce ?? true) };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
