/**
 * A subscriber to every ack of a site, in a worker thread of its own (bench/ingest.ts, paced
 * phases): how long after its commit (`ack.at`, stamped by the ingester right after the ledger
 * commit) an ack reaches a client whose event loop is free. The simulated edges' own figure
 * (device -> ack) also holds their loop's delays: 200 edges in one process at 5,000/s do 5,000
 * outbox fsyncs a second, and their sockets are read late (acks seen 1.4 s after the commit by a
 * subscriber in the edges' thread, 2-20 ms by one in its own thread).
 */
import { parentPort, workerData } from 'node:worker_threads';
import mqtt from 'mqtt';
import { topics } from '../protocols/mqtt/index.js';

const { broker, site } = workerData as { broker: string; site: string };
const seen: number[] = [];
const client = await mqtt.connectAsync(broker, { clientId: `bench-ack-monitor-${process.pid}-${Math.random().toString(36).slice(2, 8)}` });
client.on('message', (_t, p) => {
  try {
    const at = Date.parse((JSON.parse(p.toString()) as { at?: string }).at ?? '');
    if (Number.isFinite(at)) seen.push(Date.now() - at);
  } catch {
    /* not an ack: ignored */
  }
});
await client.subscribeAsync(topics.acks(site, '+'), { qos: 0 });
parentPort!.once('message', () => {
  void client.endAsync().then(() => parentPort!.postMessage(seen));
});
parentPort!.postMessage('ready');
