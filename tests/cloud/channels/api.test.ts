import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authDbPath, SqliteCredentialStore } from '../../../cloud/auth/sqlite.js';
import { parseCloudConfig } from '../../../cloud/config.js';
import { startCloud, type RunningCloud } from '../../../cloud/service.js';
import { type Bot, startBot } from '../../helpers/chat-bots.js';
import { tempDir, waitFor } from '../../helpers/procs.js';

/** The channel routes on a real cloud (authentication on), and one alert from a REST movement to a robot. */
describe('channels API', () => {
  let cloud: RunningCloud;
  let url: string;
  let wecom: Bot;
  const tok: Record<string, string> = {};
  const KEY = 'wecom-key-0123';

  const call = async (who: string | undefined, method: string, path: string, body?: unknown) => {
    const headers: Record<string, string> = {};
    if (who) headers.authorization = `Bearer ${tok[who]}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${url}${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    const text = await res.text();
    return { status: res.status, json: text ? JSON.parse(text) : undefined };
  };

  beforeAll(async () => {
    wecom = await startBot('wecom', KEY);
    const dataDir = join(tempDir(), 'cloud');
    mkdirSync(dataDir, { recursive: true });
    const creds = new SqliteCredentialStore(authDbPath(dataDir));
    tok.admin = (await creds.initAdmin()).token;
    tok.procurement = (await creds.issueToken({ name: 'p', roles: ['procurement'] })).token;
    await creds.close();
    cloud = await startCloud(parseCloudConfig({ dataDir, mqttPort: 0, httpPort: 0 }), pino({ level: 'silent' }));
    url = `http://127.0.0.1:${cloud.httpPort}`;
  });
  afterAll(async () => {
    await cloud?.stop();
    await wecom?.close();
  });

  it('admin only; the secret never comes back; bad bodies are 400 naming the field', async () => {
    const body = { type: 'dingtalk', url: 'https://oapi.dingtalk.com/robot/send?access_token=T', secret: 'SECxyz', routes: { types: ['reorder'] }, lang: 'en' };
    expect((await call(undefined, 'POST', '/api/v1/channels', body)).status).toBe(401);
    expect((await call('procurement', 'POST', '/api/v1/channels', body)).status).toBe(403);
    const made = await call('admin', 'POST', '/api/v1/channels', body);
    expect(made).toMatchObject({ status: 201, json: { type: 'dingtalk', routes: { types: ['reorder'] }, lang: 'en' } });
    expect(made.json.secret).toBeUndefined();
    const list = await call('admin', 'GET', '/api/v1/channels');
    expect(list.json.items.map((c: { id: string }) => c.id)).toContain(made.json.id);
    expect(JSON.stringify(list.json)).not.toContain('SECxyz');
    expect(await call('admin', 'POST', '/api/v1/channels', { ...body, routes: { types: ['nope'] } })).toMatchObject({ status: 400, json: { statusCode: 400, code: 'SG_ERR_BAD_BODY', message: expect.stringMatching(/^routes\.types\.0: /) } });
    expect((await call('admin', 'POST', '/api/v1/channels', { type: 'email', routes: { types: ['reorder'] } })).json).toMatchObject({ message: 'smtp: required for type email' });
    expect((await call('admin', 'GET', `/api/v1/channels/${made.json.id}/deliveries`)).json).toEqual({ items: [], next: null });
    expect((await call('admin', 'GET', `/api/v1/channels/${made.json.id}/deliveries?limit=0`)).status).toBe(400);
    expect((await call('admin', 'DELETE', `/api/v1/channels/${made.json.id}`)).status).toBe(204);
    expect((await call('admin', 'DELETE', `/api/v1/channels/${made.json.id}`)).status).toBe(404);
    expect((await call('admin', 'GET', '/api/v1/channels/NOPE/deliveries')).status).toBe(404);
  });

  it('a REST movement that breaches a level reaches the WeCom robot; the delivery shows as delivered', async () => {
    const ch = await call('admin', 'POST', '/api/v1/channels', { type: 'wecom', url: wecom.url, secret: KEY, routes: { types: ['safety-stock'], sites: ['s1'] }, lang: 'zh-CN' });
    expect(ch.status).toBe(201);
    expect((await call('procurement', 'PUT', '/api/v1/sites/s1/items/钢筋-HRB400/levels', { safetyStock: 10 })).status).toBe(200);
    const mv = { id: 'REST-CH-000001', site: 's1', location: 'WH', kind: 'receive', sku: '钢筋-HRB400', qty: 4, uom: 't', ts: new Date().toISOString() };
    expect((await call('admin', 'POST', '/api/v1/movements', { movements: [mv] })).status).toBe(201);
    const got = await waitFor(async () => wecom.ok()[0], 'wecom post');
    expect(got.text).toContain('低于安全库存');
    expect(got.text).toContain('SKU 钢筋-HRB400 · 现有 4 t，安全库存 10 t');
    const ds = await waitFor(async () => {
      const r = (await call('admin', 'GET', `/api/v1/channels/${ch.json.id}/deliveries`)).json.items;
      return r[0]?.state === 'delivered' ? r : undefined;
    }, 'delivered');
    expect(ds).toMatchObject([{ state: 'delivered', attempts: 1, lastErrorCode: null, alertType: 'safety-stock', event: 'opened' }]);
    // Counted in Prometheus by channel type and result.
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/^stockgate_notifications_total\{channel="wecom",result="delivered"\} 1$/m);
  });
});
