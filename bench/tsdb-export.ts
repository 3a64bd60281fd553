/**
 * `npm run bench -- --only tsdb`: the time-series export under a server crash (issue 13 acceptance).
 *
 * - A child process bulk-seeds `--tsdb-movements` deterministic movements (tsdb-seed.ts, ~2.5M
 *   points by default); later a child (tsdb-writer.ts) commits `--tsdb-live-rate` movements/s
 *   through the store for the live phase.
 * - This process runs the real TsdbExporter (cloud/timeseries/) against a real VictoriaMetrics
 *   (`-dedup.minScrapeInterval=1ms`, own data dir), which is SIGKILLed at `--tsdb-kill-at` s (2) and
 *   restarted on the same data dir at `--tsdb-restart-at` s (12), in each phase.
 * - Once the backlog is 0, /api/v1/export is read back and compared with the ledger: sums of
 *   stockgate_movements_count and _qty, last stockgate_stock_on_hand per series (must be exact).
 * - Reported per phase: points written and lines re-sent, export rate before the kill and during
 *   the catch-up, lag p50/p99 outside [kill, recovered] (sampled every 100 ms from
 *   stockgate_tsdb_export_lag_seconds), CPU per line of the exporter (this process) and of the
 *   server, RSS of this process at the start and at the peak, load average.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { CloudMetrics } from '../cloud/metrics/registry.js';
import { packageRoot } from '../cloud/paths.js';
import { SqliteStore } from '../cloud/store/sqlite.js';
import { TsdbExporter } from '../cloud/timeseries/exporter.js';
import { SqlExportStore } from '../cloud/timeseries/sql-export-store.js';
import { percentile, round1, round3 } from './common.js';
import type { BenchSection, SectionResult } from './section.js';
import { compareTruth, ledgerTruth, serverTruthWhen } from './tsdb-data.js';
import { freePort } from './free-port.js';

class Vm {
  child: ChildProcess | undefined;
  /** CPU seconds of the server processes already gone (killed), for cpuSeconds(). */
  private cpuGone = 0;
  constructor(readonly port: number, readonly dir: string, readonly bin = process.env.STOCKGATE_VM ?? '/usr/bin/victoria-metrics') {}
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }
  async start(): Promise<void> {
    this.child = spawn(this.bin, [`-httpListenAddr=127.0.0.1:${this.port}`, `-storageDataPath=${this.dir}`, '-dedup.minScrapeInterval=1ms', '-retentionPeriod=1', '-loggerLevel=ERROR'], { stdio: 'ignore' });
    for (const until = Date.now() + 30_000; Date.now() < until; ) {
      if (this.child.exitCode !== null) throw new Error(`victoria-metrics exited ${this.child.exitCode}`);
      try {
        if ((await fetch(`${this.url}/health`)).ok) return;
      } catch {
        // not yet
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('victoria-metrics did not start');
  }
  /** CPU seconds (user + system) of the running server process, from /proc (0 when gone). */
  private cpuNow(): number {
    try {
      const f = readFileSync(`/proc/${this.child?.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      return (Number(f[11]) + Number(f[12])) / 100;
    } catch {
      return 0;
    }
  }
  /** CPU seconds of every server process this ran (the ones killed up to their last reading). */
  cpuSeconds(): number {
    return this.cpuGone + this.cpuNow();
  }
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    this.cpuGone += this.cpuNow();
    const exited = new Promise((r) => c.once('exit', r));
    c.kill(signal);
    await exited;
  }
}

export interface TsdbBenchOptions {
  /** Movements in the ledger before the export starts (sized for ~2.5M points). */
  movements: number;
  /** Live phase: movements/s committed while the exporter follows, and for how long. */
  liveRate: number;
  liveSeconds: number;
  killAtS: number;
  restartAtS: number;
  batchRows: number;
}

function runWriter(ledgerPath: string, from: number, to: number, rate: number | 'bulk', baseMs: number, onProgress: () => void): Promise<void> {
  const writer = fork(join(packageRoot(), 'dist', 'bench', 'tsdb-writer.js'), [ledgerPath, String(from), String(to), String(rate), String(baseMs)], { stdio: 'inherit' });
  return new Promise<void>((resolve, reject) => {
    writer.on('message', () => onProgress());
    writer.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`writer exited ${code}`))));
  });
}

interface Sample {
  t: number;
  lag: number;
  backlog: number;
  lines: number;
}

const mib = (b: number) => Math.round(b / 1048576);

/**
 * One phase: start the exporter's clock, SIGKILL the server at killAtS, restart it at restartAtS,
 * run `work` alongside, wait for backlog 0. Returns the rates, the lag outside the outage, the
 * CPU of the exporter (this process) and of the server per line, and this process's RSS.
 */
async function phase(exporter: TsdbExporter, vm: Vm, o: { killAtS: number; restartAtS: number }, work: () => Promise<void>) {
  const t0 = Date.now();
  const el = () => (Date.now() - t0) / 1000;
  const lines0 = exporter.stats.linesWritten;
  const resent0 = exporter.stats.linesResent;
  const samples: Sample[] = [];
  const rssStart = process.memoryUsage().rss;
  let rssPeak = rssStart;
  let heapAtPeak = process.memoryUsage().heapUsed;
  const load0 = loadavg()[0]!;
  const cpu0 = process.cpuUsage();
  const vmCpu0 = vm.cpuSeconds();
  const down: [number, number] = [Infinity, Infinity];
  const sampler = setInterval(() => {
    samples.push({ t: el(), lag: exporter.lagSeconds, backlog: exporter.backlog, lines: exporter.stats.linesWritten - lines0 });
    const m = process.memoryUsage();
    if (m.rss > rssPeak) (rssPeak = m.rss), (heapAtPeak = m.heapUsed);
  }, 100);
  const outage = (async () => {
    await new Promise((r) => setTimeout(r, o.killAtS * 1000));
    await vm.kill();
    down[0] = el();
    await new Promise((r) => setTimeout(r, Math.max(0, o.restartAtS * 1000 - (Date.now() - t0))));
    await vm.start();
    down[1] = el();
  })();
  exporter.kick();
  await work();
  await outage;
  await exporter.idle(900_000);
  const doneAt = el();
  clearInterval(sampler);
  const cpu = process.cpuUsage(cpu0);
  const vmCpu = vm.cpuSeconds() - vmCpu0;
  samples.push({ t: doneAt, lag: 0, backlog: 0, lines: exporter.stats.linesWritten - lines0 });
  const after = samples.filter((s) => s.t >= down[1]);
  // Recovered: the first sample after the restart with the backlog at 0 again.
  const caught = after.find((s) => s.backlog === 0 && s.t > down[1] + 0.2) ?? after[after.length - 1]!;
  const atRestart = after[0] ?? caught;
  const before = samples.filter((s) => s.t < down[0]);
  const lastBefore = before[before.length - 1];
  // Outside the outage: before the SIGKILL and after the recovery; [kill, recovered] excluded.
  const outside = samples.filter((s) => s.t < down[0] || s.t > caught.t);
  const lags = outside.map((s) => s.lag).sort((a, b) => a - b);
  const points = exporter.stats.linesWritten - lines0;
  const sent = points + exporter.stats.linesResent - resent0;
  const cpuS = (cpu.user + cpu.system) / 1e6;
  return {
    points,
    linesResent: sent - points,
    killAtS: round1(down[0]),
    restartAtS: round1(down[1]),
    recoveredAtS: round1(caught.t),
    backlogZeroAtS: round1(doneAt),
    pointsPerSecBeforeKill: lastBefore && lastBefore.t > 0 ? Math.round(lastBefore.lines / lastBefore.t) : 0,
    pointsPerSecCatchUp: Math.round((caught.lines - atRestart.lines) / Math.max(0.001, caught.t - atRestart.t)),
    catchUpSeconds: round1(caught.t - down[1]),
    lagSamplesOutsideOutage: lags.length,
    lagP50OutsideOutageS: round3(percentile(lags, 50)),
    lagP99OutsideOutageS: round3(percentile(lags, 99)),
    lagMaxInOutageS: round1(Math.max(0, ...samples.filter((s) => s.t >= down[0] && s.t <= caught.t).map((s) => s.lag))),
    // CPU per line sent (written + re-sent): the exporter is this process (the writer is a
    // child), the server is VictoriaMetrics. On a shared machine the rates above depend on what
    // else runs; these do much less.
    exporterCpuSeconds: round3(cpuS),
    exporterCpuUsPerLine: round3(sent ? (cpuS * 1e6) / sent : 0),
    serverCpuSeconds: round3(vmCpu),
    serverCpuUsPerLine: round3(sent ? (vmCpu * 1e6) / sent : 0),
    rssStartMiB: mib(rssStart),
    rssPeakMiB: mib(rssPeak),
    heapUsedAtPeakMiB: mib(heapAtPeak),
    loadAvg1: [round1(load0), round1(loadavg()[0]!)],
  };
}

export async function tsdbBench(o: TsdbBenchOptions): Promise<{ ok: boolean; result: Record<string, unknown> }> {
  const dir = mkdtempSync(join(tmpdir(), 'sg-bench-tsdb-'));
  const vm = new Vm(await freePort(), join(dir, 'vm'));
  await vm.start();
  const ledgerPath = join(dir, 'ledger.db');

  // 1. The ledger to export: movementAt's rows bulk-written with the store's schema and rules in a
  // child process (tsdb-seed.ts; the ingest path's own speed is the default bench's job). Event
  // times: 4 movements a millisecond, ending 5 minutes ago.
  const s0 = Date.now();
  await runWriter(ledgerPath, 0, o.movements, 'bulk', Date.now() - 300_000 - Math.ceil(o.movements / 4), () => undefined);
  const seedSeconds = (Date.now() - s0) / 1000;
  const ledger = new SqliteStore(ledgerPath);

  const store = SqlExportStore.sqlite(join(dir, 'timeseries.db'));
  const metrics = new CloudMetrics('bench');
  const exporter = new TsdbExporter(ledger, store, pino({ level: process.env.STOCKGATE_LOG_LEVEL ?? 'silent' }), metrics, { url: vm.url, batchRows: o.batchRows, idleMs: 20 });
  await exporter.start();

  // 2. Throughput under a crash: export the whole ledger; SIGKILL at killAtS, restart at restartAtS.
  const backlogPhase = await phase(exporter, vm, o, async () => undefined);

  // 3. Lag under a crash: a live writer at liveRate; the exporter follows; the same outage.
  const live = o.liveRate * o.liveSeconds;
  const livePhase = await phase(exporter, vm, o, () => runWriter(ledgerPath, o.movements, o.movements + live, o.liveRate, Date.now(), () => exporter.kick()));
  await exporter.stop();

  const truth = await ledgerTruth(ledger);
  const server = await serverTruthWhen(vm.url, (t) => compareTruth(truth, t).length === 0, 60_000);
  const diff = compareTruth(truth, server);
  await store.close();
  await ledger.close();
  await vm.kill('SIGINT');
  rmSync(dir, { recursive: true, force: true });

  const result = {
    movements: truth.count,
    seedSeconds: round1(seedSeconds),
    pointsWritten: exporter.stats.linesWritten,
    samplesStored: server.samples,
    failedWrites: exporter.stats.failures,
    linesResent: exporter.stats.linesResent,
    backlog: backlogPhase,
    live: { ...livePhase, movementsPerSec: o.liveRate },
    readBackMatchesLedger: diff.length === 0,
    ...(diff.length ? { differences: diff } : {}),
  };
  return { ok: diff.length === 0, result: { ...result, options: { movements: o.movements, liveRate: o.liveRate, liveSeconds: o.liveSeconds, batchRows: o.batchRows, killAtS: o.killAtS, restartAtS: o.restartAtS } } };
}

/**
 * The `tsdb` section of `npm run bench` (bench/main.ts; alone: `npm run bench:tsdb`). In the
 * default run: issue 13 asks for these figures in `npm run bench`.
 */
export const tsdbSection: BenchSection = {
  name: 'tsdb',
  about: 'time-series export into a real VictoriaMetrics SIGKILLed mid-export: rate, catch-up, lag, RSS, read-back = ledger (bench/tsdb-export.ts)',
  byDefault: true,
  options: {
    'tsdb-movements': { type: 'string', default: '1200000' },
    'tsdb-live-rate': { type: 'string', default: '5000' },
    'tsdb-live-seconds': { type: 'string', default: '45' },
    'tsdb-kill-at': { type: 'string', default: '2' },
    'tsdb-restart-at': { type: 'string', default: '12' },
    'tsdb-batch': { type: 'string', default: '10000' },
  },
  async run(ctx): Promise<SectionResult> {
    const f = ctx.flags;
    const { ok, result } = await tsdbBench({
      movements: Number(f['tsdb-movements']),
      liveRate: Number(f['tsdb-live-rate']),
      liveSeconds: Number(f['tsdb-live-seconds']),
      killAtS: Number(f['tsdb-kill-at']),
      restartAtS: Number(f['tsdb-restart-at']),
      batchRows: Number(f['tsdb-batch']),
    });
    const b = result.backlog as unknown as Record<string, number>;
    const l = result.live as unknown as Record<string, number>;
    const load = (x: Record<string, unknown>) => (x.loadAvg1 as number[]).join(' -> ');
    return {
      figures: result,
      ok,
      table: [
        ['tsdb points written (backlog phase / all)', `${b.points} / ${String(result.pointsWritten)}`],
        ['tsdb export points/s before the kill (backlog)', String(b.pointsPerSecBeforeKill)],
        ['tsdb export points/s catching up after the restart', String(b.pointsPerSecCatchUp)],
        ['tsdb exporter CPU per line sent (backlog, µs)', `${b.exporterCpuUsPerLine} (server ${b.serverCpuUsPerLine})`],
        ['tsdb lag p50/p99 outside the outage (live, s)', `${l.lagP50OutsideOutageS} / ${l.lagP99OutsideOutageS}`],
        ['tsdb exporter RSS start -> peak (MiB)', `${b.rssStartMiB} -> ${Math.max(b.rssPeakMiB ?? 0, l.rssPeakMiB ?? 0)}`],
        ['tsdb read-back = ledger', String(result.readBackMatchesLedger)],
        ['tsdb load average (backlog; live)', `${load(b)}; ${load(l)}`],
      ],
    };
  },
};
