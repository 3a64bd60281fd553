/** Shared pieces of the benchmarks: cloud processes, raw MQTT reference, simulated edges. */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import mqtt from 'mqtt';
import { packageRoot } from '../cloud/paths.js';
import type { MovementDraft } from '../edge/outbox/outbox-store.js';

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

/**
 * Extra flags for every cloud a section starts, from STOCKGATE_BENCH_CLOUD_ARGS (split on spaces):
 * A/B runs of a cloud option, e.g. `--no-rows-form` (batch version 1 only).
 */
/** The parts of a cloud's `GET /healthz` the bench reads (cloud/service.ts `health`). */
export interface Healthz {
  ingest: { applied: number; duplicates: number; commits: number; exceptions: number; queuedPeak: number; heldBackEdge: number; heldBackAll: number };
  follower?: { rows: number; consumers: string[] };
}

/** `GET /healthz` of the cloud at `url` (http://HOST:PORT). */
export async function healthz(url: string): Promise<Healthz> {
  return (await (await fetch(`${url}/healthz`)).json()) as Healthz;
}

export const benchCloudArgs = (): string[] => (process.env.STOCKGATE_BENCH_CLOUD_ARGS ?? '').split(' ').filter(Boolean);

/** `stockgate cloud --insecure <args>` as its own process; resolves on its ready line. */
export async function startCloud(args: string[]): Promise<CloudProcess> {
  // --cpu-prof DIR (bench/main.ts) profiles the cloud process: one .cpuprofile per cloud on exit.
  const prof = process.env.STOCKGATE_BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.STOCKGATE_BENCH_CPU_PROF] : [];
  const child = spawn(process.execPath, [...prof, join(packageRoot(), 'bin', 'stockgate.js'), 'cloud', '--mqtt-port', '0', '--http-port', '0', '--insecure', ...args, ...benchCloudArgs()], {
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

/**
 * Nanoseconds a process's main thread (the event loop), or with 'thread-self' the calling thread
 * (a worker's loop too), has run on a CPU and waited runnable for one, from /proc/<pid>/schedstat
 * (Linux; zeros elsewhere). On the shared 2-core machine the wait
 * is latency no code of ours can remove: a message that arrives while the loop waits for a CPU is
 * read that much later.
 */
export function schedOf(pid: number | 'self' | 'thread-self'): { runNs: number; waitNs: number } {
  try {
    const [run, wait] = readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ').map(Number);
    return { runNs: run ?? 0, waitNs: wait ?? 0 };
  } catch {
    return { runNs: 0, waitNs: 0 };
  }
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
