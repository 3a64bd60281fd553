/**
 * Simulated edges for the ingest benches (bench/ingest.ts): `runEdges` (N edges with their own
 * SqliteOutbox, connection and real Publisher, in this thread or spread over worker threads,
 * bench/edge-worker.ts) and `startAckMonitor` (bench/ack-monitor.ts in a worker thread). Apart from
 * common.ts so each file stays one job (CONVENTIONS.md, 400 lines).
 */
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { SqliteOutbox } from '../edge/outbox/sqlite.js';
import { Publisher } from '../edge/publisher.js';
import { draft, percentile, round1, schedOf } from './common.js';

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
      const s0 = schedOf('thread-self');
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
      const s1 = schedOf('thread-self');
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
