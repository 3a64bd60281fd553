import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topics } from '../../protocols/mqtt/index.js';
import { batch, movement } from '../helpers/movements.js';
import { getJson, spawnStockgate, tempDir, uniqueId, waitFor, type Proc } from '../helpers/procs.js';

const SECRET = 'e2e-webhook-secret-0123456789';

/** What a receiver must do: HMAC-SHA256 over `timestamp.body`, compared in constant time. */
function signatureOk(h: IncomingHttpHeaders, body: string): boolean {
  const want = Buffer.from(`sha256=${createHmac('sha256', SECRET).update(`${h['x-stockgate-timestamp']}.${body}`).digest('hex')}`);
  const got = Buffer.from(String(h['x-stockgate-signature'] ?? ''));
  return got.length === want.length && timingSafeEqual(got, want);
}

interface Delivery {
  path: string;
  eventId: string;
  body: Record<string, any>;
  status: number;
}

/**
 * A webhook receiver as a customer would write one: verifies every signature, answers 500 to the
 * very first attempt (to force a retry), and deduplicates by event id.
 */
class Receiver {
  readonly attempts: Delivery[] = [];
  readonly badSignatures: string[] = [];
  private server: Server | undefined;
  port = 0;

  async listen(port = 0): Promise<void> {
    this.server = createServer((req, res) => {
      let raw = '';
      req.on('data', (c) => (raw += c));
      req.on('end', () => {
        if (!signatureOk(req.headers, raw)) {
          this.badSignatures.push(raw);
          res.writeHead(401).end();
          return;
        }
        const body = JSON.parse(raw) as Record<string, any>;
        const status = this.attempts.length === 0 ? 500 : 204;
        this.attempts.push({ path: req.url!, eventId: String(req.headers['x-stockgate-event-id']), body, status });
        res.writeHead(status).end();
      });
    });
    await new Promise<void>((r) => this.server!.listen(port, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }

  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  /** Accepted events of one path, deduplicated by event id, in arrival order. */
  events(path: string): Array<Record<string, any>> {
    const seen = new Map<string, Record<string, any>>();
    for (const a of this.attempts) if (a.path === path && a.status === 204 && !seen.has(a.eventId)) seen.set(a.eventId, a.body);
    return [...seen.values()];
  }
}

async function send(method: string, url: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(url, { method, ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }) });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}

describe('alerts end to end (real cloud process, MQTT, webhook receiver)', () => {
  const site = uniqueId('alerts');
  const dataDir = join(tempDir(), 'cloud');
  const receiver = new Receiver();
  let cloud: Proc;
  let url: string;
  let client: MqttClient;
  let seq = 0;
  const onMqtt: Array<{ topic: string; body: Record<string, any> }> = [];
  let procurementHook: string;

  const startCloud = async () => {
    cloud = await spawnStockgate([
      'cloud',
      '--data-dir',
      dataDir,
      '--mqtt-port',
      '0',
      '--http-port',
      '0',
      '--insecure',
      '--webhook-backoff-ms',
      '200',
      '--webhook-backoff-cap-ms',
      '1000',
    ]);
    url = `http://127.0.0.1:${cloud.ready.httpPort as number}`;
  };

  const connect = async () => {
    client = await mqtt.connectAsync(`mqtt://127.0.0.1:${cloud.ready.mqttPort as number}`);
    client.on('message', (topic, payload) => {
      if (topic.includes('/alerts/')) onMqtt.push({ topic, body: JSON.parse(payload.toString()) });
    });
    await client.subscribeAsync([topics.acks(site, 'e1'), `stockgate/v1/${site}/alerts/#`], { qos: 1 });
  };

  /** Publish one movement as edge e1 and wait for the cloud's application ack. */
  const publish = async (kind: 'receive' | 'issue', qty: number) => {
    seq++;
    const acked = new Promise<void>((resolve) => {
      const on = (topic: string) => {
        if (topic !== topics.acks(site, 'e1')) return;
        client.off('message', on);
        resolve();
      };
      client.on('message', on);
    });
    await client.publishAsync(topics.movements(site, 'e1'), JSON.stringify(batch(site, 'e1', [movement({ site, edge: 'e1', seq, sku: 'CEMENT-50KG', kind, qty })])), { qos: 1 });
    await acked;
  };

  const alerts = (q = '') => getJson<{ items: Array<Record<string, any>> }>(`${url}/api/v1/alerts?site=${site}${q}`).then((r) => r.items);
  /** Wait for the first alert of a query. */
  const firstAlert = (q: string, what: string) => waitFor(async () => (await alerts(q))[0], what);

  beforeAll(async () => {
    await receiver.listen();
    await startCloud();
    await connect();
  });

  afterAll(async () => {
    await client?.endAsync();
    await cloud?.kill();
    await receiver.close();
  });

  it('one safety-stock alert opens and resolves; signed webhook (retried, deduplicated) and MQTT deliver both events once', async () => {
    const hook = await send('POST', `${url}/api/v1/webhooks`, { url: receiver.url('/procurement'), secret: SECRET, role: 'procurement', site });
    expect(hook.status).toBe(201);
    expect(hook.json).toMatchObject({ id: expect.any(String), url: receiver.url('/procurement'), role: 'procurement', site });
    expect(hook.json).not.toHaveProperty('secret');
    procurementHook = hook.json.id;

    const levelsUrl = `${url}/api/v1/sites/${site}/items/CEMENT-50KG/levels`;
    const put = await send('PUT', levelsUrl, { safetyStock: 10 });
    expect(put.status).toBe(200);
    expect(put.json).toMatchObject({ site, sku: 'CEMENT-50KG', safetyStock: 10, hysteresis: 0 });
    expect(await getJson(levelsUrl)).toEqual(put.json);
    expect((await send('PUT', levelsUrl, { safetyStock: -1 })).status).toBe(400);

    await publish('receive', 15);
    await publish('issue', 8);
    const open = await firstAlert('', 'the safety-stock alert to open');
    expect(open).toMatchObject({ type: 'safety-stock', site, sku: 'CEMENT-50KG', state: 'open', value: 7, threshold: 10, resolvedAt: null, ackedAt: null });

    // Acknowledged, still open.
    const ack = await send('POST', `${url}/api/v1/alerts/${open.id}/ack`);
    expect(ack.status).toBe(200);
    expect(ack.json).toMatchObject({ id: open.id, state: 'open', ackedAt: expect.any(String), ackedBy: expect.any(String) });

    await publish('receive', 5);
    await waitFor(async () => (await alerts('&state=resolved')).length === 1, 'the alert to resolve');
    const all = await alerts('&state=all');
    expect(all).toHaveLength(1);
    expect(all[0]).toMatchObject({ id: open.id, type: 'safety-stock', state: 'resolved', resolvedAt: expect.any(String), ackedAt: ack.json.ackedAt });
    expect(await alerts()).toEqual([]);

    // Webhook: the first attempt got a 500 and was retried with the same event id.
    await waitFor(() => receiver.events('/procurement').length === 2, 'opened and resolved at the receiver', 20_000);
    expect(receiver.badSignatures).toEqual([]);
    const ev = receiver.events('/procurement');
    expect(ev.map((e) => [e.event, e.id, e.type, e.state])).toEqual([
      ['opened', open.id, 'safety-stock', 'open'],
      ['resolved', open.id, 'safety-stock', 'resolved'],
    ]);
    expect(receiver.attempts.filter((a) => a.path === '/procurement').map((a) => [a.body.event, a.status])).toEqual([
      ['opened', 500],
      ['opened', 204],
      ['resolved', 204],
    ]);
    for (const a of receiver.attempts) expect(a.eventId).toBe(a.body.eventId);

    const deliveries = await getJson<{ items: Array<Record<string, any>> }>(`${url}/api/v1/webhooks/${procurementHook}/deliveries`);
    expect(deliveries.items.map((d) => [d.state, d.attempts, d.lastStatus])).toEqual([
      ['delivered', 1, 204],
      ['delivered', 2, 204],
    ]);

    // MQTT: the same two events on stockgate/v1/{site}/alerts/safety-stock.
    await waitFor(() => new Set(onMqtt.map((m) => m.body.eventId)).size === 2, 'both events on MQTT', 10_000);
    const byId = new Map(onMqtt.map((m) => [m.body.eventId, m]));
    expect([...byId.values()].map((m) => [m.topic, m.body.event, m.body.id])).toEqual([
      [`stockgate/v1/${site}/alerts/safety-stock`, 'opened', open.id],
      [`stockgate/v1/${site}/alerts/safety-stock`, 'resolved', open.id],
    ]);
    expect([...byId.keys()]).toEqual(ev.map((e) => e.eventId));
  });

  it('an edge last will raises edge-offline for maintenance; online again resolves it', async () => {
    const hook = await send('POST', `${url}/api/v1/webhooks`, { url: receiver.url('/maintenance'), secret: SECRET, role: 'maintenance' });
    expect(hook.status).toBe(201);
    const listed = await getJson<{ items: Array<{ id: string }> }>(`${url}/api/v1/webhooks`);
    expect(listed.items.map((w) => w.id).sort()).toEqual([procurementHook, hook.json.id].sort());

    const statusTopic = topics.status(site, 'dock-7');
    const status = (state: 'online' | 'offline', reason: string) => JSON.stringify({ v: 1, site, edge: 'dock-7', state, reason, ts: new Date().toISOString() });
    // An edge as the agent connects: retained online status, offline as its last will.
    const edge = await mqtt.connectAsync(`mqtt://127.0.0.1:${cloud.ready.mqttPort as number}`, {
      will: { topic: statusTopic, payload: Buffer.from(status('offline', 'lwt')), qos: 1, retain: true },
      reconnectPeriod: 0,
    });
    await edge.publishAsync(statusTopic, status('online', 'connect'), { qos: 1, retain: true });
    // The edge dies without a DISCONNECT: the broker publishes the will.
    edge.stream.destroy();

    const offline = await firstAlert('&type=edge-offline', 'edge-offline to open');
    expect(offline).toMatchObject({ type: 'edge-offline', site, edge: 'dock-7', state: 'open' });
    expect(offline).not.toHaveProperty('sku');

    const back = await mqtt.connectAsync(`mqtt://127.0.0.1:${cloud.ready.mqttPort as number}`);
    await back.publishAsync(statusTopic, status('online', 'connect'), { qos: 1, retain: true });
    await back.endAsync();
    await waitFor(async () => (await alerts('&type=edge-offline&state=resolved')).length === 1, 'edge-offline to resolve');

    await waitFor(() => receiver.events('/maintenance').length === 2, 'maintenance gets opened and resolved', 20_000);
    expect(receiver.events('/maintenance').map((e) => [e.type, e.event, e.edge])).toEqual([
      ['edge-offline', 'opened', 'dock-7'],
      ['edge-offline', 'resolved', 'dock-7'],
    ]);
    // Routing: procurement never saw a device alert.
    expect(receiver.events('/procurement').every((e) => e.type === 'safety-stock')).toBe(true);
    expect((await send('DELETE', `${url}/api/v1/webhooks/${hook.json.id}`)).status).toBe(204);
    expect((await send('DELETE', `${url}/api/v1/webhooks/${hook.json.id}`)).status).toBe(404);
  });

  it('a delivery pending when the cloud is SIGKILLed is delivered after the restart', async () => {
    const port = receiver.port;
    await receiver.close();
    await publish('issue', 5); // 12 - 5 = 7 < 10: a second safety-stock alert
    const again = await firstAlert('', 'the second alert to open');
    // Queued and tried at least once against the dead receiver.
    await waitFor(async () => {
      const d = await getJson<{ items: Array<Record<string, any>> }>(`${url}/api/v1/webhooks/${procurementHook}/deliveries?limit=1`);
      return d.items[0]?.state === 'pending' && d.items[0].attempts >= 1 && JSON.parse(d.items[0].body).id === again.id;
    }, 'a failed attempt of the pending delivery');

    await cloud.kill('SIGKILL');
    await client.endAsync(true);
    await startCloud();
    await connect();
    await receiver.listen(port);

    await waitFor(() => receiver.events('/procurement').some((e) => e.id === again.id && e.event === 'opened'), 'the pending delivery after the restart', 20_000);
    expect(receiver.events('/procurement').filter((e) => e.id === again.id)).toHaveLength(1);
    const d = await getJson<{ items: Array<Record<string, any>> }>(`${url}/api/v1/webhooks/${procurementHook}/deliveries?limit=1`);
    expect(d.items[0]).toMatchObject({ state: 'delivered', lastStatus: 204 });
    expect(d.items[0]!.attempts).toBeGreaterThanOrEqual(2);
    // The restart did not raise the open alert a second time.
    expect(await alerts()).toHaveLength(1);
  });
});
