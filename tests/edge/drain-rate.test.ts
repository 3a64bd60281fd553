import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { EmbeddedBroker } from '../../cloud/broker/aedes.js';
import { SqliteOutbox } from '../../edge/outbox/sqlite.js';
import { Publisher } from '../../edge/publisher.js';
import { TokenBucket } from '../../edge/token-bucket.js';
import { MovementBatch, topics, toRanges } from '../../protocols/mqtt/index.js';
import { draft } from '../contracts/outbox-store.contract.js';
import { tempDir, waitFor } from '../helpers/procs.js';

describe('TokenBucket', () => {
  it('starts full (one second of burst), refills at the rate, caps at the burst', () => {
    const b = new TokenBucket(100, 0);
    expect(b.available(0)).toBe(100);
    b.take(100, 0);
    expect(b.available(0)).toBe(0);
    expect(b.waitMs(50, 0)).toBe(500);
    expect(b.available(250)).toBe(25);
    expect(b.available(10_000)).toBe(100);
    expect(b.waitMs(1, 10_000)).toBe(0);
  });

  it('has a burst of at least one token and refuses a non-positive rate', () => {
    expect(new TokenBucket(0.5, 0).burst).toBe(1);
    expect(new TokenBucket(10, 0, 3).available(0)).toBe(3);
    expect(() => new TokenBucket(0, 0)).toThrow(TypeError);
    expect(() => new TokenBucket(Number.POSITIVE_INFINITY, 0)).toThrow(TypeError);
  });
});

/** The publisher's drain limit against a real broker, with the test acking every batch at once. */
describe('Publisher drain rate limit', () => {
  let broker: EmbeddedBroker | undefined;
  let cloud: MqttClient | undefined;
  let pub: Publisher | undefined;
  let outbox: SqliteOutbox | undefined;
  afterEach(async () => {
    await pub?.stop();
    // The broker first: a QoS 1 message still arriving at a client that is ending makes MQTT.js
    // write its PUBACK after the end (an uncaught "write after end").
    await broker?.close();
    await cloud?.endAsync(true);
    outbox?.close();
  });

  async function setup(drainRatePerSec: number) {
    broker = await EmbeddedBroker.start({ port: 0 });
    outbox = new SqliteOutbox({ path: join(tempDir(), 'o.db'), site: 's1', edge: 'e1' });
    cloud = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`);
    const arrivals: Array<{ at: number; n: number }> = [];
    // QoS 0: this test client sends no PUBACKs, so none can be written after it ends.
    await cloud.subscribeAsync(topics.movements('s1', 'e1'), { qos: 0 });
    cloud.on('message', (_t, p) => {
      const b = MovementBatch.parse(JSON.parse(p.toString()));
      const seqs = (b.movements as Array<{ seq: number }>).map((m) => m.seq);
      arrivals.push({ at: Date.now(), n: seqs.length });
      void cloud!.publishAsync(topics.acks('s1', 'e1'), JSON.stringify({ v: 1, edge: 'e1', ranges: toRanges(seqs), duplicates: 0, at: new Date().toISOString() }), { qos: 1 });
    });
    pub = new Publisher(outbox, { broker: `mqtt://127.0.0.1:${broker.port}`, site: 's1', edge: 'e1', batchSize: 100, window: 8, drainRatePerSec });
    return arrivals;
  }

  it('drains a backlog no faster than drainRatePerSec (plus one second of burst)', async () => {
    const arrivals = await setup(200);
    outbox!.append(Array.from({ length: 2000 }, (_, i) => draft(i + 1)));
    pub!.start();
    await waitFor(() => arrivals.length > 0, 'first batch');
    const t0 = arrivals[0]!.at;
    await new Promise((r) => setTimeout(r, 2000));
    const sent = arrivals.filter((a) => a.at - t0 <= 2000).reduce((s, a) => s + a.n, 0);
    // 200 burst + 200/s × 2 s = 600 at most; and it does keep draining.
    expect(sent).toBeLessThanOrEqual(600);
    expect(sent).toBeGreaterThanOrEqual(350);
    expect(pub!.drainRatePerSec).toBe(200);
    // Lifting the limit (remote config) drains the rest at once.
    pub!.setDrainRate(0);
    await waitFor(() => outbox!.backlog().count === 0, 'drained after the limit is lifted', 10_000);
    expect(pub!.drainRatePerSec).toBe(0);
  });

  it('a limit below the batch size sends smaller batches', async () => {
    const arrivals = await setup(20);
    outbox!.append(Array.from({ length: 100 }, (_, i) => draft(i + 1)));
    pub!.start();
    await waitFor(() => arrivals.length >= 2, 'two batches', 5000);
    expect(Math.max(...arrivals.map((a) => a.n))).toBeLessThanOrEqual(20);
    expect(() => pub!.setDrainRate(-1)).toThrow(TypeError);
  });
});
