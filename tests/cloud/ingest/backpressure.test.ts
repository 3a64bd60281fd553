import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { EmbeddedBroker } from '../../../cloud/broker/aedes.js';
import { filterToRegExp } from '../../../cloud/broker/topic-filter.js';
import { Ingester, type IngesterOptions } from '../../../cloud/ingest/ingester.js';
import { SqliteStore } from '../../../cloud/store/sqlite.js';
import type { Store } from '../../../cloud/store/store.js';
import { topics } from '../../../protocols/mqtt/index.js';
import { startApiCloud } from '../../helpers/api-cloud.js';
import { batch, movement } from '../../helpers/movements.js';

/**
 * The ingester's queue is bounded behind the embedded broker, per edge (`maxQueuedPerEdge`) and in
 * all (`maxQueuedMovements`): a client publishing QoS 1 batches without waiting for acks (MQTT.js
 * does not wait for PUBACKs) is held in its socket once over the bound, instead of growing the
 * cloud's memory with everything it sent, and reads on once the queue is down to half; every
 * movement is still applied once. Real aedes, real SQLite, real MQTT.js over TCP. The same flood
 * without the bounds shows what they prevent.
 */
const SITE = 'site-BP';
const BATCHES = 100;
const PER = 200;
/**
 * Long enough for the flood's commits on a slow machine, far shorter than a client that stopped
 * reading would take to come back (MQTT.js keepalive 60 s, aedes closes it at 1.5 x that).
 */
const DEADLINE_MS = 40_000;

interface Flood {
  peak: number;
  heldBackEdge: number;
  heldBackAll: number;
  applied: number;
  duplicates: number;
  onHand: Record<string, number>;
  payloadBytes: number;
  /** ms from the first publish until every movement was applied, per edge. */
  doneMs: Record<string, number>;
}

/** Hold the store's commits until the returned function is called (the real store behind a gate). */
function holdCommits(store: Store): () => void {
  const commit = store.commit.bind(store);
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  store.commit = async (batches) => {
    await gate;
    return commit(batches);
  };
  return open;
}

describe('ingest backpressure behind the embedded broker', () => {
  let cleanup: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const f of cleanup.reverse()) await f();
    cleanup = [];
  });

  /** Each of `edges` publishes `batches[i]` batches of PER movements at once, from its own client. */
  async function flood(opts: IngesterOptions, edges: string[], batches: number[]): Promise<Flood> {
    const dir = mkdtempSync(join(tmpdir(), 'sg-bp-'));
    const store = new SqliteStore(join(dir, 'ledger.db'));
    const broker = await EmbeddedBroker.start({ port: 0 });
    // Small groups: the commits are slower than the flood, so the queue is what fills.
    const ing = new Ingester(broker, store, pino({ level: 'silent' }), { maxGroup: 400, ...opts });
    await ing.start([topics.movements(SITE, '+')]);
    const clients = await Promise.all(edges.map((e) => mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, { clientId: e, reconnectPeriod: 0 })));
    cleanup.push(async () => {
      for (const c of clients) await c.endAsync(true);
      await broker.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    });
    let payloadBytes = 0;
    const t0 = Date.now();
    edges.forEach((edge, e) => {
      let seq = 0;
      for (let b = 0; b < batches[e]!; b++) {
        const movements = Array.from({ length: PER }, () => movement({ site: SITE, edge, seq: ++seq, sku: `SKU-${edge}`, qty: 1 }));
        const payload = JSON.stringify(batch(SITE, edge, movements));
        payloadBytes = Math.max(payloadBytes, Buffer.byteLength(payload));
        clients[e]!.publish(topics.movements(SITE, edge), payload, { qos: 1 });
      }
    });
    const doneMs: Record<string, number> = {};
    const onHand: Record<string, number> = {};
    const total = batches.reduce((a, b) => a + b, 0) * PER;
    const deadline = t0 + DEADLINE_MS;
    while (Date.now() < deadline && Object.keys(doneMs).length < edges.length) {
      for (const [e, edge] of edges.entries()) {
        if (doneMs[edge] !== undefined) continue;
        const n = (await store.stock({ site: SITE, sku: `SKU-${edge}` })).reduce((a, r) => a + r.onHand, 0);
        if (n >= batches[e]! * PER) doneMs[edge] = Date.now() - t0;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    await ing.drain();
    for (const edge of edges) onHand[edge] = (await store.stock({ site: SITE, sku: `SKU-${edge}` })).reduce((a, r) => a + r.onHand, 0);
    expect(ing.stats.applied + ing.stats.duplicates).toBeLessThanOrEqual(total);
    return { peak: ing.stats.queuedPeak, heldBackEdge: ing.stats.heldBackEdge, heldBackAll: ing.stats.heldBackAll, applied: ing.stats.applied, duplicates: ing.stats.duplicates, onHand, payloadBytes, doneMs };
  }

  /** What aedes parses in the read that crossed a bound: it parses all it read at once (lib/client.js nextBatch), up to 512 KiB here. */
  const perRead = (r: Flood) => PER * Math.ceil((512 * 1024) / r.payloadBytes);

  it('holds an edge flooding past its bound in its socket, reads on at half, and applies every movement once', async () => {
    const bound = 1000;
    const r = await flood({ maxQueuedPerEdge: bound }, ['edge-flood'], [BATCHES]);
    // Every movement applied once, well before a stalled client would have been dropped.
    expect(r.doneMs['edge-flood']).toBeDefined();
    expect(r.applied).toBe(BATCHES * PER);
    expect(r.duplicates).toBe(0);
    expect(r.onHand).toEqual({ 'edge-flood': BATCHES * PER });
    expect(r.heldBackEdge).toBeGreaterThan(0);
    expect(r.heldBackAll).toBe(0);
    expect(r.peak).toBeLessThanOrEqual(bound + perRead(r));

    // Without a bound the same flood queues far more (what the bound is for).
    const free = await flood({ maxQueuedPerEdge: 1e9, maxQueuedMovements: 1e9 }, ['edge-flood'], [BATCHES]);
    expect(free.applied).toBe(BATCHES * PER);
    expect(free.heldBackEdge + free.heldBackAll).toBe(0);
    expect(free.peak).toBeGreaterThan(2 * (bound + perRead(r)));
  });

  it('holds only the edge over its bound: another edge publishing at the same time goes through while it is held', async () => {
    const bound = 1000;
    // The flooder sends 100 batches, the quiet edge 2 (400 movements, under the bound).
    const r = await flood({ maxQueuedPerEdge: bound }, ['edge-flood', 'edge-quiet'], [BATCHES, 2]);
    expect(r.onHand).toEqual({ 'edge-flood': BATCHES * PER, 'edge-quiet': 2 * PER });
    expect(r.applied).toBe((BATCHES + 2) * PER);
    expect(r.heldBackEdge).toBeGreaterThan(0);
    // The quiet edge's movements did not wait for the flood: they were applied first.
    expect(r.doneMs['edge-quiet']!).toBeLessThan(r.doneMs['edge-flood']!);
  });

  it('the per-edge bound asks to hold only the topic over it: a second edge publishing while the first is held is delivered at once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sg-bp-'));
    const store = new SqliteStore(join(dir, 'ledger.db'));
    // The commits held, so the flooder's queue stays over its bound.
    const open = holdCommits(store);
    const broker = await EmbeddedBroker.start({ port: 0 });
    // Which topics the ingester asked the broker to hold (its real hook, observed on the way).
    const held = new Set<string>();
    const subscribe = broker.subscribe.bind(broker);
    broker.subscribe = (filter, handler, o) =>
      subscribe(
        filter,
        handler,
        o?.backpressure
          ? {
              backpressure: (t) => {
                const wait = o.backpressure!(t);
                if (wait) held.add(t);
                return wait;
              },
            }
          : o,
      );
    const ing = new Ingester(broker, store, pino({ level: 'silent' }), { maxGroup: 400, maxQueuedPerEdge: 1000 });
    await ing.start([topics.movements(SITE, '+')]);
    const [flooder, quiet] = await Promise.all(['edge-flood', 'edge-quiet'].map((e) => mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, { clientId: e, reconnectPeriod: 0 })));
    cleanup.push(async () => {
      open();
      await flooder!.endAsync(true);
      await quiet!.endAsync(true);
      await broker.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    });
    const send = (client: mqtt.MqttClient, edge: string, n: number) => {
      let seq = 0;
      for (let b = 0; b < n; b++) client.publish(topics.movements(SITE, edge), JSON.stringify(batch(SITE, edge, Array.from({ length: PER }, () => movement({ site: SITE, edge, seq: ++seq, sku: `SKU-${edge}`, qty: 1 })))), { qos: 1 });
    };
    const until = async (ok: () => boolean) => {
      const deadline = Date.now() + 10_000;
      while (!ok() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      expect(ok()).toBe(true);
    };
    send(flooder!, 'edge-flood', 20);
    await until(() => ing.stats.heldBackEdge > 0);
    const before = ing.stats.messages;
    // The flooder is held with its queue over the bound; the quiet edge's 2 batches are read at once.
    send(quiet!, 'edge-quiet', 2);
    await until(() => ing.stats.messages >= before + 2);
    expect([...held]).toEqual([topics.movements(SITE, 'edge-flood')]);
    open();
    await until(() => ing.stats.applied === 22 * PER);
    expect(ing.stats.duplicates).toBe(0);
  });

  it('holds every publisher while the whole queue is over its bound', async () => {
    const bound = 1000;
    const r = await flood({ maxQueuedPerEdge: 1e9, maxQueuedMovements: bound }, ['edge-a', 'edge-b'], [BATCHES / 2, BATCHES / 2]);
    expect(r.onHand).toEqual({ 'edge-a': (BATCHES / 2) * PER, 'edge-b': (BATCHES / 2) * PER });
    expect(r.duplicates).toBe(0);
    expect(r.heldBackAll).toBeGreaterThan(0);
    expect(r.heldBackEdge).toBe(0);
    // Each client may have one read in hand when the other crosses the bound.
    expect(r.peak).toBeLessThanOrEqual(bound + 2 * perRead(r));
  });

  it('the REST door: past the whole queue bound, POST /api/v1/movements is 503 SG_ERR_UNAVAILABLE with Retry-After, nothing applied; accepted again once it drains', async () => {
    const api = await startApiCloud('sqlite', { maxQueuedMovements: 1000 });
    cleanup.push(() => api.stop());
    const { ingester, store } = api.cloud;
    // Hold the commits (the real store behind a gate), so what is submitted stays queued.
    const open = holdCommits(store);
    const site = 'site-REST';
    const post = (id: string) => api.call('POST', '/api/v1/movements', { body: { movements: [{ id, ts: '2026-12-07T08:00:00.000Z', site, location: 'WH-1', kind: 'receive', sku: 'REBAR', qty: 1, uom: 'ea' }] } });
    // The first submission goes into the held commit; the next 1,000 fill the queue to its bound.
    const first = ingester.submit([movement({ site, edge: 'e1', seq: 1, sku: 'FILL' })]);
    await new Promise((r) => setTimeout(r, 50));
    const fill = ingester.submit(Array.from({ length: 1000 }, (_, i) => movement({ site, edge: 'e1', seq: i + 2, sku: 'FILL' })));
    const refused = await post('RESTFULL0000001');
    expect(refused.status).toBe(503);
    expect(refused.body).toMatchObject({ code: 'SG_ERR_UNAVAILABLE' });
    expect(refused.body.message).toMatch(/^movements: the ingest queue is full \(1000 movements waiting for a commit, bound 1000: --max-queued\)/);
    expect(refused.headers?.get('retry-after')).toBe('1');
    expect(ingester.stats.refusedQueueFull).toBe(1);
    // On /metrics: the queue at its bound, one REST refusal, no MQTT publisher held back.
    const metrics = (await api.call('GET', '/metrics')).text;
    expect(metrics).toMatch(/^stockgate_ingest_queued_movements 1000$/m);
    expect(metrics).toMatch(/^stockgate_ingest_backpressure_total\{door="rest"\} 1$/m);
    expect(metrics).toMatch(/^stockgate_ingest_backpressure_total\{door="mqtt_all"\} 0$/m);
    // A second scrape counts nothing twice.
    expect((await api.call('GET', '/metrics')).text).toMatch(/^stockgate_ingest_backpressure_total\{door="rest"\} 1$/m);
    open();
    await Promise.all([first, fill]);
    const again = await post('RESTFULL0000001');
    expect(again.status).toBe(201);
    expect(again.body).toMatchObject({ applied: 1, duplicates: 0 });
    const onHand = (await store.stock({ site, sku: 'REBAR' })).reduce((a, r) => a + r.onHand, 0);
    expect(onHand).toBe(1);
  });

  it('matches topic filters as MQTT 3.1.1 §4.7.1 does (cloud/broker/topic-filter.ts, shared with the external broker)', () => {
    const m = (f: string, t: string) => filterToRegExp(f).test(t);
    expect(m('stockgate/v1/+/+/movements', 'stockgate/v1/s1/e1/movements')).toBe(true);
    expect(m('stockgate/v1/+/+/movements', 'stockgate/v1/s1/e1/telemetry')).toBe(false);
    expect(m('stockgate/v1/+/+/movements', 'stockgate/v1/s1/movements')).toBe(false);
    expect(m('stockgate/v1/+/+/movements', 'stockgate/v1/s1/e1/movements/x')).toBe(false);
    expect(m('stockgate/#', 'stockgate/v1/s1')).toBe(true);
    expect(m('stockgate/v1/s1/+/movements', 'stockgate/v1/s2/e1/movements')).toBe(false);
    // §4.7.1.2: a trailing # also matches its parent level; §4.7.1.3: + matches an empty level.
    expect(m('stockgate/#', 'stockgate')).toBe(true);
    expect(m('stockgate/#', 'stockgatex/v1')).toBe(false);
    expect(m('#', 'any/topic')).toBe(true);
    expect(m('a/+/c', 'a//c')).toBe(true);
    // A shared subscription's prefix is not part of the topic; regex characters are literal.
    expect(m('$share/g/stockgate/v1/+/+/movements', 'stockgate/v1/s1/e1/movements')).toBe(true);
    expect(m('s.1/+', 'sX1/e')).toBe(false);
  });
});
