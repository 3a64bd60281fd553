/** Shared pieces of the benchmarks: cloud processes, raw MQTT reference, simulated edges. */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Worker } from 'node:worker_threads';
import mqtt from 'mqtt';
import { packageRoot } from '../cloud/paths.js';
import type { MovementDraft } from '../edge/outbox/outbox-store.js';
import { SqliteOutbox } from '../edge/outbox/sqlite.js';
import { Publisher } from '../edge/publisher.js';

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export const round1 = (x: number) => Math.round(x * 10) / 10;
export const round3 = (x: number) => Math.round(x * 1000) / 1000;

export interface CloudProcess {
  /** The cloud's process id (its RSS is read from /proc, e.g. by the board section). */
  pid: number;
  mqttPort: number;
  httpPort: number;
  url: string;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** `stockgate cloud --insecure <args>` as its own process; resolves on its ready line. */
export async function startCloud(args: string[]): Promise<CloudProcess> {
  // --cpu-prof DIR (bench/main.ts) profiles the cloud process: one .cpuprofile per cloud on exit.
  const prof = process.env.STOCKGATE_BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.STOCKGATE_BENCH_CPU_PROF] : [];
  const child = spawn(process.execPath, [...prof, join(packageRoot(), 'bin', 'stockgate.js'), 'cloud', '--mqtt-port', '0', '--http-port', '0', '--insecure', ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
    // STOCKGATE_BENCH_LOG_LEVEL=warn shows the clouds' warnings (seq gaps) on stderr.
    env: { ...process.env, STOCKGATE_LOG_LEVEL: process.env.STOCKGATE_BENCH_LOG_LEVEL ?? 'error' },
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ready = await new Promise<{ mqttPort: number; httpPort: number }>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (l) => {
      try {
        const v = JSON.parse(l);
        if (v.event === 'ready') resolve(v);
      } catch {
        /* ignore */
      }
    });
    child.once('exit', (c) => reject(new Error(`cloud exited ${c}`)));
  });
  return {
    ...ready,
    pid: child.pid!,
    url: `http://127.0.0.1:${ready.httpPort}`,
    async kill(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

export interface RawResult {
  msgsPerSec: number;
  messages: number;
  delivered: number;
  payloadBytes: number;
  broker: string;
}

/**
 * Raw MQTT.js QoS 1 publisher -> broker -> subscriber, single messages of a movement's size, at
 * most 1000 in flight end to end. Unique client ids and topic: the broker may be shared (Mosquitto).
 * A broker that drops (Mosquitto's max_queued_messages) ends the run after 3 s without progress;
 * `delivered` says how many arrived.
 */
export async function rawMqtt(url: string, n: number, payload: string): Promise<RawResult> {
  const tag = Math.random().toString(36).slice(2, 8);
  const topic = `bench/raw/${tag}`;
  const sub = await mqtt.connectAsync(url, { clientId: `bench-raw-sub-${tag}` });
  const pub = await mqtt.connectAsync(url, { clientId: `bench-raw-pub-${tag}` });
  await sub.subscribeAsync(topic, { qos: 1 });
  let got = 0;
  let lastAt = performance.now();
  let pump = () => {};
  const t0 = performance.now();
  const done = new Promise<void>((resolve) => {
    sub.on('message', () => {
      lastAt = performance.now();
      if (++got === n) resolve();
      pump();
    });
    const idle = setInterval(() => {
      if (performance.now() - lastAt > 3000) {
        clearInterval(idle);
        resolve();
      }
    }, 250);
    idle.unref();
  });
  let sent = 0;
  await new Promise<void>((resolve) => {
    let inflight = 0;
    // At most 1000 unacked by the broker and 1000 not yet delivered: Mosquitto drops QoS 1
    // messages beyond max_queued_messages (1000) for a subscriber that lags.
    pump = () => {
      while (inflight < 1000 && sent - got < 1000 && sent < n) {
        inflight++;
        sent++;
        pub.publish(topic, payload, { qos: 1 }, () => {
          inflight--;
          if (sent < n) pump();
          else if (inflight === 0) resolve();
        });
      }
    };
    pump();
  });
  await done;
  const secs = ((got === n ? performance.now() : lastAt) - t0) / 1000;
  await pub.endAsync();
  await sub.endAsync();
  return { msgsPerSec: Math.round(got / secs), messages: n, delivered: got, payloadBytes: Buffer.byteLength(payload), broker: url };
}

export function draft(i: number, edge: number): MovementDraft {
  return {
    ts: new Date().toISOString(),
    location: `DOCK-${edge}`,
    kind: 'receive',
    sku: `SKU-${i % 1000}`,
    qty: 1,
    uom: 'ea',
    operator: 'W-1024',
    device: { id: 'dock1', type: 'scanner' },
    raw: `]C0SKU-${i % 1000}`,
  };
}

export interface PhaseResult {
  movementsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  movements: number;
  /** Windows resent by the edges (ack timeout or a reported gap). */
  resends: number;
  /** Publisher errors (connect timeouts, ...) the edges recovered from by reconnecting. */
  connectErrors: number;
  /** Device timestamp (the movement's `ts`, stamped at append) -> application ack at the edge. */
  deviceToAckP50Ms: number;
  deviceToAckP99Ms: number;
  /**
   * Device timestamp -> the batch holding it went out (`published`): the edge's share of the
   * latency (outbox commit with its fsync, waiting for window room, the publish call).
   */
  deviceToPublishP50Ms: number;
  deviceToPublishP99Ms: number;
}

export interface EdgeRun {
  broker: string;
  site: string;
  dir: string;
  tag: string;
  edges: number;
  perEdge: number;
  /** Movements per outbox append when saturated. */
  chunk: number;
  /**
   * 0 = as fast as possible. Otherwise a tick every `paceMs` appends what is due at `ratePerSec`
   * per edge since the start, so the target rate holds whatever an append costs.
   */
  paceMs: number;
  ratePerSec?: number;
  batch: number;
  window: number;
  /** Worker threads the edges are spread over (default 1: all in the calling thread). */
  threads?: number;
}

/** What one thread's edges measured; merged by `runEdges`. */
export interface EdgeSliceResult {
  latencies: number[];
  deviceToAck: number[];
  deviceToPublish: number[];
  resends: number;
  connectErrors: number;
  /** This thread's schedstat over the run (ns on a CPU, ns runnable waiting for one). */
  runNs: number;
  waitNs: number;
}

/** schedstat of the calling thread (Linux; zeros elsewhere): main thread or worker alike. */
export function threadSched(): { runNs: number; waitNs: number } {
  try {
    const [run, wait] = readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ').map(Number);
    return { runNs: run ?? 0, waitNs: wait ?? 0 };
  } catch {
    return { runNs: 0, waitNs: 0 };
  }
}

/**
 * The edges `indexes` of a run, in the calling thread: outboxes opened and publishers connected
 * (subscribed to their acks; at most 30 s, then the run starts anyway and the publishers keep
 * trying); `run()` appends and resolves when every movement is acked.
 */
export async function prepareEdges(o: EdgeRun, indexes: readonly number[]): Promise<{ run(): Promise<EdgeSliceResult> }> {
  const out: EdgeSliceResult = { latencies: [], deviceToAck: [], deviceToPublish: [], resends: 0, connectErrors: 0, runNs: 0, waitNs: 0 };
  const { latencies, deviceToAck, deviceToPublish } = out;
  const edges = indexes.map((e) => {
    const edge = `${o.tag}-${e}`;
    const outbox = new SqliteOutbox({ path: join(o.dir, `${o.site}-${edge}.db`), site: o.site, edge });
    const pub = new Publisher(outbox, { broker: o.broker, site: o.site, edge, batchSize: o.batch, window: o.window, ackTimeoutMs: 30_000 });
    const sentAt = new Map<number, number>();
    const stampedAt = new Map<number, number>();
    let publishedUpTo = 0;
    pub.on('published', (first, last) => {
      sentAt.set(first, performance.now());
      // First sends only: a resent window would count its movements again.
      const wall = Date.now();
      for (let k = Math.max(first, publishedUpTo + 1); k <= last; k++) {
        const ts = stampedAt.get(k);
        if (ts !== undefined) deviceToPublish.push(wall - ts);
      }
      publishedUpTo = Math.max(publishedUpTo, last);
    });
    // A connect that times out (200 edges on a loaded machine) is retried by the publisher itself.
    pub.on('error', () => void out.connectErrors++);
    let acked = 0;
    const finished = new Promise<void>((resolve) => {
      pub.on('acked', (n, ranges) => {
        const now = performance.now();
        for (const [a, b] of ranges) {
          const at = sentAt.get(a);
          if (at === undefined) continue;
          sentAt.delete(a);
          for (let k = a; k <= b; k++) latencies.push(now - at);
        }
        const wall = Date.now();
        for (const [a, b] of ranges) {
          for (let k = a; k <= b; k++) {
            const ts = stampedAt.get(k);
            if (ts === undefined) continue;
            stampedAt.delete(k);
            deviceToAck.push(wall - ts);
          }
        }
        acked += n;
        if (acked >= o.perEdge) resolve();
      });
    });
    const connected = new Promise<void>((resolve) => {
      pub.once('connected', () => resolve());
      setTimeout(resolve, 30_000).unref();
    });
    pub.start();
    return { e, outbox, pub, stampedAt, finished, connected };
  });
  // Real edges are connected long before their movements: the timed span starts after the
  // connects (200 CONNECTs and SUBSCRIBEs took a share of the 200-edge figure before).
  await Promise.all(edges.map((x) => x.connected));
  return {
    async run() {
      const s0 = threadSched();
      await Promise.all(
        edges.map(async ({ e, outbox, pub, stampedAt, finished }) => {
          const start = performance.now();
          for (let i = 0; i < o.perEdge; ) {
            const due = o.paceMs ? Math.min(o.perEdge, Math.floor(((performance.now() - start) / 1000) * o.ratePerSec!)) : o.perEdge;
            const n = Math.min(o.chunk, due - i);
            if (n > 0) {
              const at = Date.now();
              for (const m of outbox.append(Array.from({ length: n }, (_, k) => draft(i + k, e)))) stampedAt.set(m.seq, at);
              pub.kick();
              i += n;
            }
            // Yield so the publisher and socket get their turn, as an agent's event loop would.
            await new Promise((r) => (o.paceMs ? setTimeout(r, o.paceMs) : setImmediate(r)));
          }
          await finished;
          out.resends += pub.stats.resends;
          await pub.stop();
          outbox.close();
        }),
      );
      const s1 = threadSched();
      out.runNs = s1.runNs - s0.runNs;
      out.waitNs = s1.waitNs - s0.waitNs;
      return out;
    },
  };
}

/**
 * N edges, each appending `perEdge` movements in chunks of `chunk` (one outbox transaction each),
 * `paceMs` apart, with the real Publisher draining concurrently. Latency is publish -> application
 * ack per movement; the ack is sent only after the ledger commit, so it bounds publish -> commit.
 *
 * With `threads` > 1 the edges are spread over that many worker threads (bench/edge-worker.ts),
 * so their outbox fsyncs (synchronous=FULL, about 170 µs each here, one thread does about 5,900 a
 * second, 8 threads about 17,000) block only their own thread, as on separate edge machines. Not
 * the default (`--edge-threads`): on this 2-core machine the threads mostly wait for a CPU.
 * Setup (worker start, outboxes, connects) is outside the timed span in both forms.
 */
export async function runEdges(o: EdgeRun): Promise<PhaseResult & { edgesSched: { runNs: number; waitNs: number; threads: number } }> {
  const threads = Math.max(1, Math.min(o.threads ?? 1, o.edges));
  const slices: number[][] = Array.from({ length: threads }, () => []);
  for (let e = 0; e < o.edges; e++) slices[e % threads]!.push(e);
  let results: EdgeSliceResult[];
  let t0: number;
  if (threads === 1) {
    const local = await prepareEdges(o, slices[0]!);
    t0 = performance.now();
    results = [await local.run()];
  } else {
    const workers = slices.map((indexes) => new Worker(new URL('./edge-worker.js', import.meta.url), { workerData: { o, indexes } }));
    try {
      const ready = workers.map(
        (w) =>
          new Promise<void>((resolve, reject) => {
            w.once('message', () => resolve());
            w.once('error', reject);
            w.once('exit', (c) => reject(new Error(`bench edge worker exited ${c} before it was ready`)));
          }),
      );
      await Promise.all(ready);
      const done = workers.map(
        (w) =>
          new Promise<EdgeSliceResult>((resolve, reject) => {
            w.removeAllListeners();
            w.once('message', (r: EdgeSliceResult) => resolve(r));
            w.once('error', reject);
            w.once('exit', (c) => reject(new Error(`bench edge worker exited ${c} before its edges were acked`)));
          }),
      );
      t0 = performance.now();
      for (const w of workers) w.postMessage('go');
      results = await Promise.all(done);
    } finally {
      await Promise.all(workers.map((w) => w.terminate()));
    }
  }
  const secs = (performance.now() - t0) / 1000;
  const all = <K extends 'latencies' | 'deviceToAck' | 'deviceToPublish'>(k: K) => results.flatMap((r) => r[k]).sort((a, b) => a - b);
  const latencies = all('latencies');
  const deviceToAck = all('deviceToAck');
  const deviceToPublish = all('deviceToPublish');
  const sum = (f: (r: EdgeSliceResult) => number) => results.reduce((a, r) => a + f(r), 0);
  return {
    deviceToPublishP50Ms: round1(percentile(deviceToPublish, 50)),
    deviceToPublishP99Ms: round1(percentile(deviceToPublish, 99)),
    deviceToAckP50Ms: round1(percentile(deviceToAck, 50)),
    deviceToAckP99Ms: round1(percentile(deviceToAck, 99)),
    movementsPerSec: Math.round((o.perEdge * o.edges) / secs),
    p50Ms: round1(percentile(latencies, 50)),
    p99Ms: round1(percentile(latencies, 99)),
    movements: o.perEdge * o.edges,
    resends: sum((r) => r.resends),
    connectErrors: sum((r) => r.connectErrors),
    edgesSched: { runNs: sum((r) => r.runNs), waitNs: sum((r) => r.waitNs), threads },
  };
}

/**
 * bench/ack-monitor.ts in a worker thread: every ack of `site` from now until `stop()`, commit ->
 * seen by a subscriber whose event loop does nothing else (ms, ack.at's millisecond resolution).
 */
export async function startAckMonitor(broker: string, site: string): Promise<{ stop(): Promise<{ p50Ms: number; p99Ms: number; acks: number }> }> {
  const w = new Worker(new URL('./ack-monitor.js', import.meta.url), { workerData: { broker, site } });
  await new Promise<void>((resolve, reject) => {
    w.once('message', () => resolve());
    w.once('error', reject);
  });
  return {
    async stop() {
      try {
        const seen = await new Promise<number[]>((resolve, reject) => {
          w.once('message', (x: number[]) => resolve(x));
          w.once('error', reject);
          w.postMessage('stop');
        });
        seen.sort((a, b) => a - b);
        return { p50Ms: round1(percentile(seen, 50)), p99Ms: round1(percentile(seen, 99)), acks: seen.length };
      } finally {
        await w.terminate();
      }
    },
  };
}

/**
 * Write this run's results as `bench-<time>.json` and merge its keys into `latest.json`, so the
 * latest figures of every mode (default, pg, stockQuery) stay side by side.
 */
export function writeResults(outDir: string, result: Record<string, unknown> & { at: string }): string {
  mkdirSync(outDir, { recursive: true });
  const stamp = result.at.replace(/[:.]/g, '-');
  writeFileSync(join(outDir, `bench-${stamp}.json`), `${JSON.stringify(result, null, 2)}\n`);
  const latestPath = join(outDir, 'latest.json');
  let latest: Record<string, unknown> = {};
  if (existsSync(latestPath)) {
    try {
      latest = JSON.parse(readFileSync(latestPath, 'utf8')) as Record<string, unknown>;
    } catch {
      latest = {};
    }
  }
  writeFileSync(latestPath, `${JSON.stringify({ ...latest, ...result }, null, 2)}\n`);
  return latestPath;
}

export function printTable(rows: Array<[string, string]>): void {
  const w = Math.max(...rows.map((r) => r[0].length));
  for (const [k, v] of rows) process.stdout.write(`${k.padEnd(w)}  ${v}\n`);
}
