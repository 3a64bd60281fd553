import { createHmac, timingSafeEqual } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteAlertStore } from '../../../cloud/alerts/sqlite.js';
import { backoffMs, Dispatcher, signature, signedHeaders } from '../../../cloud/alerts/webhooks.js';
import { EmbeddedBroker } from '../../../cloud/broker/aedes.js';
import { waitFor } from '../../helpers/procs.js';

const log = pino({ level: 'silent' });
const SECRET = 'receiver-secret-0123456789';

/** Independent of the code under test: what a receiver would compute. */
function verify(headers: IncomingHttpHeaders, body: string, secret = SECRET): boolean {
  const ts = headers['x-stockgate-timestamp'] as string;
  const want = Buffer.from(`sha256=${createHmac('sha256', secret).update(`${ts}.${body}`).digest('hex')}`);
  const got = Buffer.from(String(headers['x-stockgate-signature']));
  return got.length === want.length && timingSafeEqual(got, want);
}

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

/** A real HTTP receiver on port 0; `answer` decides each response's status (or hangs when 0). */
async function receiver(answer: (n: number, r: Received) => number = () => 204): Promise<{ url: string; got: Received[]; close(): Promise<void>; server: Server }> {
  const got: Received[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const r = { headers: req.headers, body };
      got.push(r);
      const status = answer(got.length, r);
      if (status === 0) return; // never answer
      if (status >= 300 && status < 400) res.setHeader('location', '/elsewhere');
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    got,
    server,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

describe('backoff', () => {
  it('doubles from the base and stops at the cap', () => {
    expect([1, 2, 3, 4, 5, 9, 10, 20].map((n) => backoffMs(n, 1000, 300_000))).toEqual([1000, 2000, 4000, 8000, 16000, 256000, 300000, 300000]);
    expect(backoffMs(0, 1000, 300_000)).toBe(1000);
    expect(backoffMs(3, 100, 250)).toBe(250);
  });

  it('gives up after 20 attempts with the defaults: about an hour of retrying', () => {
    const total = Array.from({ length: 19 }, (_, i) => backoffMs(i + 1, 1000, 300_000)).reduce((a, b) => a + b, 0);
    expect(total).toBe(511_000 + 10 * 300_000);
  });
});

describe('signing', () => {
  it('is HMAC-SHA256 of timestamp.body, hex, with the sha256= prefix', () => {
    expect(signature('k', '1700000000', '{"a":1}')).toBe(`sha256=${createHmac('sha256', 'k').update('1700000000.{"a":1}').digest('hex')}`);
  });

  it('puts timestamp (Unix seconds), signature and event id in the headers', () => {
    const h = signedHeaders(SECRET, '{"x":1}', 'EV1', new Date('2026-11-22T02:19:00.900Z'));
    expect(h).toMatchObject({ 'content-type': 'application/json', 'x-stockgate-timestamp': '1795313940', 'x-stockgate-event-id': 'EV1' });
    expect(verify(h as unknown as IncomingHttpHeaders, '{"x":1}')).toBe(true);
    expect(verify(h as unknown as IncomingHttpHeaders, '{"x":2}')).toBe(false);
    expect(verify(h as unknown as IncomingHttpHeaders, '{"x":1}', 'another-secret')).toBe(false);
  });
});

describe('Dispatcher (real SQLite queue, real HTTP receiver)', () => {
  let dir: string;
  let store: SqliteAlertStore;
  let clock: number;
  const now = () => new Date(clock);
  let closers: Array<() => Promise<void>> = [];

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'stockgate-dispatch-'));
    store = new SqliteAlertStore(join(dir, 'alerts.db'));
    // A little ahead of the wall clock: what the test enqueues is due at once.
    clock = Date.now() + 500;
    closers = [];
  });
  afterEach(async () => {
    for (const c of closers.reverse()) await c();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const addHook = async (url: string, role: 'procurement' | 'maintenance' = 'procurement') =>
    store.addWebhook({ id: `W${Math.random().toString(36).slice(2)}`, url, secret: SECRET, role, createdAt: new Date().toISOString() });
  const enqueue = (eventId: string, extra: { topic?: string } = {}) =>
    store.enqueue([{ eventId, role: 'procurement', site: 'S', body: JSON.stringify({ eventId, event: 'opened' }), ...extra }]);
  const dispatcher = (o: ConstructorParameters<typeof Dispatcher>[3] = {}) => {
    const d = new Dispatcher(store, { publish: async () => undefined }, log, { now, ...o });
    closers.push(() => d.stop());
    return d;
  };
  const deliveries = async (webhookId: string) => store.listDeliveries({ webhookId, limit: 100 });

  it('POSTs the event signed, with its event id, and records the delivery', async () => {
    const r = await receiver();
    closers.push(r.close);
    const w = await addHook(r.url);
    await enqueue('EV1');
    expect(await dispatcher().runOnce()).toBe(1);
    expect(r.got).toHaveLength(1);
    expect(JSON.parse(r.got[0]!.body)).toEqual({ eventId: 'EV1', event: 'opened' });
    expect(r.got[0]!.headers['x-stockgate-event-id']).toBe('EV1');
    expect(r.got[0]!.headers['content-type']).toBe('application/json');
    expect(verify(r.got[0]!.headers, r.got[0]!.body)).toBe(true);
    expect(Math.abs(Number(r.got[0]!.headers['x-stockgate-timestamp']) - clock / 1000)).toBeLessThan(2);
    expect(await deliveries(w.id)).toMatchObject([{ eventId: 'EV1', state: 'delivered', attempts: 1, lastStatus: 204 }]);
  });

  it('retries a failed delivery after an exponential backoff, same event id', async () => {
    const r = await receiver((n) => (n <= 2 ? 500 : 200));
    closers.push(r.close);
    const w = await addHook(r.url);
    await enqueue('EV1');
    const d = dispatcher({ backoffBaseMs: 1000, backoffCapMs: 60_000 });
    expect(await d.runOnce()).toBe(1);
    let [row] = await deliveries(w.id);
    expect(row).toMatchObject({ state: 'pending', attempts: 1, lastStatus: 500, lastError: 'HTTP 500' });
    expect(Date.parse(row!.nextAttemptAt!)).toBe(clock + 1000);
    clock += 999;
    expect(await d.runOnce()).toBe(0);
    clock += 1;
    expect(await d.runOnce()).toBe(1);
    [row] = await deliveries(w.id);
    expect(row).toMatchObject({ state: 'pending', attempts: 2 });
    expect(Date.parse(row!.nextAttemptAt!)).toBe(clock + 2000);
    clock += 2000;
    expect(await d.runOnce()).toBe(1);
    expect(await deliveries(w.id)).toMatchObject([{ state: 'delivered', attempts: 3, lastStatus: 200, lastError: null }]);
    expect(r.got.map((g) => g.headers['x-stockgate-event-id'])).toEqual(['EV1', 'EV1', 'EV1']);
    for (const g of r.got) expect(verify(g.headers, g.body)).toBe(true);
  });

  it('gives up after maxAttempts (state failed) and then moves on to the next event', async () => {
    const r = await receiver((_n, g) => (JSON.parse(g.body).eventId === 'EV1' ? 503 : 200));
    closers.push(r.close);
    const w = await addHook(r.url);
    await enqueue('EV1');
    await enqueue('EV2');
    const d = dispatcher({ backoffBaseMs: 10, backoffCapMs: 40, maxAttempts: 4 });
    for (let i = 0; i < 4; i++) {
      expect(await d.runOnce()).toBe(1);
      clock += 40;
    }
    expect(r.got.map((g) => JSON.parse(g.body).eventId)).toEqual(['EV1', 'EV1', 'EV1', 'EV1']);
    expect(await d.runOnce()).toBe(1);
    const rows = await deliveries(w.id);
    expect(rows.map((x) => [x.eventId, x.state, x.attempts])).toEqual([
      ['EV2', 'delivered', 1],
      ['EV1', 'failed', 4],
    ]);
    expect(rows[1]!.lastError).toBe('HTTP 503');
  });

  it('keeps order per webhook: the next event waits while the first is retried', async () => {
    const r = await receiver((n) => (n === 1 ? 500 : 204));
    closers.push(r.close);
    await addHook(r.url);
    await enqueue('OPENED');
    await enqueue('RESOLVED');
    const d = dispatcher({ backoffBaseMs: 1000 });
    await d.runOnce();
    expect(await d.runOnce()).toBe(0);
    clock += 1000;
    await d.runOnce();
    await d.runOnce();
    expect(r.got.map((g) => g.headers['x-stockgate-event-id'])).toEqual(['OPENED', 'OPENED', 'RESOLVED']);
  });

  it('a failing webhook does not hold up another one', async () => {
    const bad = await receiver(() => 500);
    const good = await receiver();
    closers.push(bad.close, good.close);
    await addHook(bad.url);
    const w = await addHook(good.url);
    await enqueue('EV1');
    await enqueue('EV2');
    const d = dispatcher();
    await d.runOnce();
    await d.runOnce();
    expect(good.got.map((g) => g.headers['x-stockgate-event-id'])).toEqual(['EV1', 'EV2']);
    expect((await deliveries(w.id)).every((x) => x.state === 'delivered')).toBe(true);
  });

  it('times out a receiver that never answers', async () => {
    const r = await receiver(() => 0);
    closers.push(r.close);
    const w = await addHook(r.url);
    await enqueue('EV1');
    await dispatcher({ timeoutMs: 200 }).runOnce();
    expect(await deliveries(w.id)).toMatchObject([{ state: 'pending', attempts: 1, lastError: 'timeout after 200 ms', lastStatus: null }]);
  });

  it('does not follow redirects; a refused connection is a failed attempt', async () => {
    const r = await receiver(() => 302);
    closers.push(r.close);
    const w = await addHook(r.url);
    const gone = await addHook('http://127.0.0.1:9/closed-port');
    await enqueue('EV1');
    await dispatcher().runOnce();
    expect(await deliveries(w.id)).toMatchObject([{ state: 'pending', lastStatus: 302, lastError: 'HTTP 302' }]);
    expect(r.got).toHaveLength(1);
    const [refused] = await deliveries(gone.id);
    expect(refused).toMatchObject({ state: 'pending', attempts: 1, lastStatus: null });
    expect(refused!.lastError).toBeTruthy();
  });

  it('runs on its own: start() delivers what is queued and kick() what comes later', async () => {
    const r = await receiver();
    closers.push(r.close);
    await addHook(r.url);
    await enqueue('EV1');
    const d = dispatcher({ now: () => new Date(), pollMs: 60_000 });
    d.start();
    await waitFor(() => r.got.length === 1, 'first delivery', 5000, 10);
    await enqueue('EV2');
    d.kick();
    await waitFor(() => r.got.length === 2, 'kicked delivery', 5000, 10);
    await d.stop();
  });

  it('publishes MQTT deliveries with QoS 1 through the bus', async () => {
    const broker = await EmbeddedBroker.start({ port: 0 });
    closers.push(() => broker.close());
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`);
    closers.push(() => client.endAsync());
    const got: Array<{ topic: string; payload: string; qos: number }> = [];
    client.on('message', (topic, payload, packet) => got.push({ topic, payload: payload.toString(), qos: packet.qos }));
    await client.subscribeAsync('stockgate/v1/S/alerts/#', { qos: 1 });
    await enqueue('EV1', { topic: 'stockgate/v1/S/alerts/safety-stock' });
    const d = new Dispatcher(store, broker, log, { now });
    closers.push(() => d.stop());
    expect(await d.runOnce()).toBe(1);
    await waitFor(() => got.length === 1, 'alert on MQTT', 5000, 10);
    expect(got[0]).toEqual({ topic: 'stockgate/v1/S/alerts/safety-stock', payload: JSON.stringify({ eventId: 'EV1', event: 'opened' }), qos: 1 });
  });

  it('after stop, an in-flight delivery keeps its claim and is sent again once it runs out (crash-safe)', async () => {
    const r = await receiver((n) => (n === 1 ? 0 : 204));
    closers.push(r.close);
    const w = await addHook(r.url);
    await enqueue('EV1');
    const d1 = new Dispatcher(store, { publish: async () => undefined }, log, { now, timeoutMs: 60_000 });
    d1.start();
    await waitFor(() => r.got.length === 1, 'first attempt in flight', 5000, 10);
    await d1.stop();
    expect(await deliveries(w.id)).toMatchObject([{ state: 'pending', attempts: 0 }]);
    const d2 = dispatcher({ timeoutMs: 60_000 });
    expect(await d2.runOnce()).toBe(0);
    clock += d2.leaseMs;
    expect(await d2.runOnce()).toBe(1);
    expect(await deliveries(w.id)).toMatchObject([{ state: 'delivered', attempts: 1 }]);
    expect(r.got.map((g) => g.headers['x-stockgate-event-id'])).toEqual(['EV1', 'EV1']);
  });
});
