import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { EmbeddedBroker } from '../../../cloud/broker/aedes.js';
import { Ingester } from '../../../cloud/ingest/ingester.js';
import { SqliteStore } from '../../../cloud/store/sqlite.js';
import { topics } from '../../../protocols/mqtt/index.js';
import { batch, movement } from '../../helpers/movements.js';

/**
 * The ingester's queue is bounded (`maxQueuedMovements`) behind the embedded broker: one client
 * publishing QoS 1 batches without waiting for acks (MQTT.js does not wait for PUBACKs) is held in
 * its socket once the queue is over the bound, instead of growing the cloud's memory with
 * everything it sent; every movement is still applied once. Real aedes, real SQLite, real MQTT.js
 * over TCP. The same flood without the bound shows what the bound prevents.
 */
const SITE = 'site-BP';
const EDGE = 'edge-flood';
const BATCHES = 100;
const PER = 200;

describe('ingest backpressure behind the embedded broker', () => {
  let cleanup: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const f of cleanup.reverse()) await f();
    cleanup = [];
  });

  async function flood(maxQueuedMovements: number): Promise<{ peak: number; heldBack: number; applied: number; duplicates: number; onHand: number; payloadBytes: number }> {
    const dir = mkdtempSync(join(tmpdir(), 'sg-bp-'));
    const store = new SqliteStore(join(dir, 'ledger.db'));
    const broker = await EmbeddedBroker.start({ port: 0 });
    // Small groups: the commits are slower than the flood, so the queue is what fills.
    const ing = new Ingester(broker, store, pino({ level: 'silent' }), { maxGroup: 400, maxQueuedMovements });
    await ing.start([topics.movements(SITE, '+')]);
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, { clientId: 'flood', reconnectPeriod: 0 });
    cleanup.push(async () => {
      await client.endAsync(true);
      await broker.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    });
    let seq = 0;
    let payloadBytes = 0;
    for (let b = 0; b < BATCHES; b++) {
      const movements = Array.from({ length: PER }, () => movement({ site: SITE, edge: EDGE, seq: ++seq, sku: 'SKU-BP', qty: 1 }));
      const payload = JSON.stringify(batch(SITE, EDGE, movements));
      payloadBytes = Math.max(payloadBytes, Buffer.byteLength(payload));
      client.publish(topics.movements(SITE, EDGE), payload, { qos: 1 });
    }
    const deadline = Date.now() + 60_000;
    while (ing.stats.applied + ing.stats.duplicates < BATCHES * PER && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await ing.drain();
    const onHand = (await store.stock({ site: SITE, sku: 'SKU-BP' })).reduce((a, r) => a + r.onHand, 0);
    return { peak: ing.stats.queuedPeak, heldBack: ing.stats.heldBack, applied: ing.stats.applied, duplicates: ing.stats.duplicates, onHand, payloadBytes };
  }

  it('holds a flooding client in its socket past the bound; every movement applied once', async () => {
    const bound = 1000;
    const r = await flood(bound);
    expect(r.applied).toBe(BATCHES * PER);
    expect(r.duplicates).toBe(0);
    expect(r.onHand).toBe(BATCHES * PER);
    expect(r.heldBack).toBeGreaterThan(0);
    // The bound, plus what aedes parsed from the socket in the read that crossed it: it parses all
    // it read at once (lib/client.js nextBatch reads the stream's whole buffer), here up to 512 KiB.
    const perRead = PER * Math.ceil((512 * 1024) / r.payloadBytes);
    expect(r.peak).toBeLessThanOrEqual(bound + perRead);

    // Without the bound the same flood queues far more (what the bound is for).
    const free = await flood(1e9);
    expect(free.applied).toBe(BATCHES * PER);
    expect(free.heldBack).toBe(0);
    expect(free.peak).toBeGreaterThan(2 * (bound + perRead));
  });
});
