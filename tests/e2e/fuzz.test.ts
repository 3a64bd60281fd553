import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from 'node:net';
import { join } from 'node:path';
import fc from 'fast-check';
import mqtt, { type MqttClient } from 'mqtt';
import { RejectReason, topics } from '../../protocols/mqtt/index.js';
import { batch, movement } from '../helpers/movements.js';
import { spawnSync } from 'node:child_process';
import { BIN, spawnStockgate, tempDir, uniqueId, waitFor, type Proc } from '../helpers/procs.js';

const N = 100_000;

/** Payloads that are almost right: a valid batch with one field broken, truncated or retyped. */
function mutants(site: string, edge: string): fc.Arbitrary<string> {
  const valid = JSON.stringify(batch(site, edge, [movement({ site, edge, seq: 1 })]));
  const fields = ['v', 'site', 'edge', 'sentAt', 'movements', 'id', 'seq', 'ts', 'kind', 'qty', 'uom', 'sku', 'device', 'raw', 'location'];
  const weird = fc.oneof(
    fc.constant(null),
    fc.constant(-1),
    fc.constant(1e308),
    fc.constant(''),
    fc.constant('x'.repeat(5000)),
    fc.constant([]),
    fc.constant({}),
    fc.string(),
    fc.integer(),
    fc.double(),
  );
  return fc.oneof(
    // Truncated JSON.
    fc.nat(valid.length - 1).map((n) => valid.slice(0, n)),
    // One field replaced, at the envelope or inside the movement.
    fc.tuple(fc.constantFrom(...fields), weird, fc.boolean()).map(([f, w, inner]) => {
      const b = JSON.parse(valid);
      if (inner) b.movements[0][f] = w;
      else b[f] = w;
      return JSON.stringify(b);
    }),
    // Random JSON values and random text.
    fc.json({ maxDepth: 4 }),
    fc.string({ maxLength: 200 }),
    // Byte flips in the valid payload (may produce invalid UTF-8 too).
    fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })).map(([i, b]) => Buffer.from(valid).fill(b, i, i + 1).toString('latin1')),
  );
}

/**
 * The cloud (authentication on) under 100k malformed payloads from one authenticated edge: it stays
 * up, dead-letters them with a reason, rejects them to the edge, and still applies the next valid
 * movement.
 */
describe('fuzzing the ingest path', () => {
  let cloud: Proc & { url: string; mqttPort: number };
  let client: MqttClient;
  let admin: string;
  const site = uniqueId('fuzz');
  const edge = 'fuzzer';
  const getJson = async (url: string) => {
    const res = await fetch(url, { headers: { authorization: `Bearer ${admin}` } });
    if (!res.ok) throw new Error(`GET ${url}: ${res.status}`);
    return (await res.json()) as any;
  };

  beforeAll(async () => {
    const dataDir = join(tempDir(), 'cloud');
    const init = spawnSync(process.execPath, [BIN, 'admin', 'init', '--data-dir', dataDir], { encoding: 'utf8' });
    admin = (JSON.parse(init.stdout) as { token: string }).token;
    // The publish limit is lifted: this edge floods on purpose, and the limit has its own tests.
    const p = await spawnStockgate(['cloud', '--data-dir', dataDir, '--mqtt-port', '0', '--http-port', '0', '--max-publish-rate', '1000000']);
    cloud = Object.assign(p, { url: `http://127.0.0.1:${p.ready.httpPort as number}`, mqttPort: p.ready.mqttPort as number });
    const res = await fetch(`${cloud.url}/api/v1/edges`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ site, edgeId: edge }),
    });
    const creds = (await res.json()) as { username: string; password: string };
    client = await mqtt.connectAsync(`mqtt://127.0.0.1:${cloud.mqttPort}`, { clientId: `sg-edge-${site}-${edge}`, username: creds.username, password: creds.password });
  });
  afterAll(async () => {
    await client?.endAsync();
    await cloud?.kill();
  });

  it(`survives ${N} fuzzed payloads and keeps applying valid ones`, async () => {
    const rejects: Array<{ reason: string }> = [];
    await client.subscribeAsync(topics.rejects(site, edge), { qos: 0 });
    client.on('message', (_t, p) => rejects.push(JSON.parse(p.toString())));
    const payloads = fc.sample(mutants(site, edge), { numRuns: N, seed: 20261122 });
    const topic = topics.movements(site, edge);
    // QoS 0, yielding now and then so the socket drains: as fast as the broker takes them.
    for (let i = 0; i < payloads.length; i++) {
      client.publish(topic, payloads[i]!, { qos: 0 });
      if (i % 2000 === 0) await new Promise((r) => setImmediate(r));
    }
    await waitFor(async () => (await getJson(`${cloud.url}/healthz`)).ingest.messages >= N * 0.99, 'cloud consumed the fuzz', 120_000, 250);

    // Still up, and still correct for a valid batch from the same edge.
    // Acks of valid fuzz mutants may still be arriving: wait for the one covering our seq.
    await client.subscribeAsync(topics.acks(site, edge), { qos: 1 });
    const ack = new Promise<void>((resolve) => {
      client.on('message', (t, p) => {
        if (!t.endsWith('/acks')) return;
        const a = JSON.parse(p.toString()) as { ranges: Array<[number, number]> };
        if (a.ranges.some(([x, y]) => x <= 424242 && 424242 <= y)) resolve();
      });
    });
    await client.publishAsync(topic, JSON.stringify(batch(site, edge, [movement({ site, edge, seq: 424242, sku: 'AFTER-FUZZ', qty: 3 })])), { qos: 1 });
    await ack;
    const stock = await getJson(`${cloud.url}/api/v1/stock?site=${site}&sku=AFTER-FUZZ`);
    expect(stock.items).toMatchObject([{ sku: 'AFTER-FUZZ', onHand: 3 }]);

    const health = await getJson(`${cloud.url}/healthz`);
    expect(health.status).toBe('ok');
    expect(health.ingest.deadLetters).toBeGreaterThan(N / 2);
    const dl = await getJson(`${cloud.url}/api/v1/dead-letters?limit=1000`);
    expect(dl.items.length).toBe(1000);
    for (const d of dl.items) {
      expect(RejectReason.options).toContain(d.reason);
      expect(d.message.length).toBeGreaterThan(0);
    }
    expect(rejects.length).toBeGreaterThan(0);
    for (const r of rejects.slice(0, 1000)) expect(RejectReason.options).toContain(r.reason);
  }, 300_000);

  it('survives malformed MQTT packets on the raw socket', async () => {
    const garbage = fc.sample(fc.uint8Array({ minLength: 1, maxLength: 300 }), { numRuns: 500, seed: 7 });
    for (const bytes of garbage) {
      await new Promise<void>((resolve) => {
        const s = connect(cloud.mqttPort, '127.0.0.1', () => s.end(Buffer.from(bytes)));
        s.on('error', () => resolve());
        s.on('close', () => resolve());
        s.setTimeout(2000, () => s.destroy());
      });
    }
    expect((await getJson(`${cloud.url}/healthz`)).status).toBe('ok');
    // A proper client still connects.
    // An authenticated client still connects; an anonymous one is still refused.
    expect(client.connected).toBe(true);
    await expect(mqtt.connectAsync(`mqtt://127.0.0.1:${cloud.mqttPort}`, { reconnectPeriod: 0 })).rejects.toThrow();
  });
});
