/**
 * Issue 11 §1 "Physical reality wins ... An exception is raised and the order's owner is
 * alerted", through the API of a real cloud (authentication on, embedded broker) on SQLite and on
 * PostgreSQL: a seller's order reserves 8 of 10; a scan-out of 5 puts it at risk. The
 * RESERVATION_AT_RISK alert names the order and its owner, and is addressed to the owner and the
 * site's managers (not another site's): it reaches the owner's channel (`routes.users`), the
 * site's channel, not a channel of another user, and the site's MQTT alert topic.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiCloud, startApiCloud } from '../../helpers/api-cloud.js';
import { uniqueId, waitFor } from '../../helpers/procs.js';
import { get, move, post } from './sales-helpers.js';

interface Posted {
  path: string;
  body: { title: string; text: string; alerts: Array<Record<string, unknown>> };
}

for (const backend of ['sqlite', 'postgres'] as const) {
  describe(`a reservation put at risk alerts the order's owner (${backend})`, () => {
    let api: ApiCloud;
    let hooks: Server;
    const posted: Posted[] = [];
    const site = uniqueId('risk');
    const tokens: Record<string, string> = {};
    let mqttMessages: Array<{ topic: string; body: Record<string, unknown> }> = [];
    let client: mqtt.MqttClient | undefined;
    const channel = async (path: string, routes: Record<string, unknown>) => {
      const port = (hooks.address() as AddressInfo).port;
      const r = await api.call('POST', '/api/v1/channels', { body: { type: 'webhook', url: `http://127.0.0.1:${port}${path}`, routes, lang: 'en' } });
      expect(r.status, r.text).toBe(201);
      return (r.body as { id: string }).id;
    };

    beforeAll(async () => {
      api = await startApiCloud(backend);
      hooks = createServer((req, res) => {
        let raw = '';
        req.on('data', (c) => (raw += c));
        req.on('end', () => {
          posted.push({ path: req.url ?? '', body: JSON.parse(raw) });
          res.end('{}');
        });
      });
      await new Promise<void>((r) => hooks.listen(0, '127.0.0.1', r));
      for (const [id, roles, sites] of [['seller', ['operator'], [site]], ['sm', ['site-manager'], [site]], ['sm-other', ['site-manager'], ['elsewhere']]] as const) {
        expect((await api.call('POST', '/api/v1/users', { body: { id, name: id, roles, sites } })).status).toBe(201);
        tokens[id] = ((await api.call('POST', '/api/v1/tokens', { body: { user: id } })).body as { token: string }).token;
      }
      // The site's alert reader on MQTT (its managers' board or phone).
      const creds = (await api.call('POST', '/api/v1/mqtt-users', { body: { role: 'alerts', site } })).body as { username: string; password: string };
      client = await mqtt.connectAsync(`mqtt://127.0.0.1:${api.cloud.mqttPort}`, { username: creds.username, password: creds.password, reconnectPeriod: 0 });
      client.on('message', (topic, payload) => mqttMessages.push({ topic, body: JSON.parse(payload.toString('utf8')) }));
      await client.subscribeAsync(`stockgate/v1/${site}/alerts/#`, { qos: 1 });
    }, 60_000);
    afterAll(async () => {
      await client?.endAsync();
      await api?.stop();
      await new Promise<void>((r) => hooks?.close(() => r()));
    });

    it('the alert names the order and goes to its owner, the site managers and the site topic; nobody else', async () => {
      const owner = await channel('/seller', { types: ['RESERVATION_AT_RISK'], users: ['seller'] });
      const siteManagers = await channel('/site', { types: ['RESERVATION_AT_RISK'], sites: [site] });
      const stranger = await channel('/stranger', { types: ['RESERVATION_AT_RISK'], users: ['sm-other'] });
      await move(api.url, site, 'receive', 'CEM', 10, api.admin);
      const so = await post(api.url, '/api/v1/sales-orders', { site, customer: 'C-1', lines: [{ sku: 'CEM', qty: 8, unitPrice: '40.00' }] }, { token: tokens.seller!, key: uniqueId('k') });
      expect(so.status, JSON.stringify(so.body)).toBe(201);
      expect(so.body.status).toBe('reserved');
      mqttMessages = [];
      // Physical reality wins: the scan-out of 5 is applied, the order's 8 are no longer covered.
      await move(api.url, site, 'issue', 'CEM', 5, api.admin);
      const seen = await waitFor(() => posted.find((p) => p.path === '/seller'), 'the owner channel got the alert', 30_000);
      const alert = seen!.body.alerts[0]!;
      expect(alert).toMatchObject({ type: 'RESERVATION_AT_RISK', site, event: 'opened', sku: 'CEM', order: so.body.id, owner: 'seller', value: 8, threshold: 5 });
      expect(new Set(alert.users as string[])).toEqual(new Set(['seller', 'sm']));
      expect(seen!.body.text).toContain(so.body.id);
      expect(seen!.body.text).toContain('seller');
      await waitFor(() => posted.some((p) => p.path === '/site'), 'the site channel got the alert', 30_000);
      const onMqtt = await waitFor(() => mqttMessages.find((m) => m.topic === `stockgate/v1/${site}/alerts/reservation-at-risk`), 'the alert on the site alert topic', 30_000);
      expect(onMqtt!.body).toMatchObject({ type: 'RESERVATION_AT_RISK', order: so.body.id, owner: 'seller', eventId: alert.eventId });
      // The exception is there too, and the channel of a user the alert is not addressed to got nothing.
      const ex = await get(api.url, `/api/v1/exceptions?site=${site}`, api.admin);
      expect(ex.body.items.filter((e: { type: string }) => e.type === 'RESERVATION_AT_RISK')).toHaveLength(1);
      expect(posted.filter((p) => p.path === '/stranger')).toEqual([]);
      const d = await api.call('GET', `/api/v1/channels/${stranger}/deliveries`);
      expect((d.body as { items: unknown[] }).items).toEqual([]);
      for (const id of [owner, siteManagers]) expect(((await api.call('GET', `/api/v1/channels/${id}/deliveries`)).body as { items: Array<{ state: string }> }).items.map((x) => x.state)).toEqual(['delivered']);
    });
  });
}
