import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Role } from '../../../cloud/auth/auth.js';
import { authDbPath, SqliteCredentialStore } from '../../../cloud/auth/sqlite.js';
import { parseCloudConfig } from '../../../cloud/config.js';
import { startCloud, type RunningCloud } from '../../../cloud/service.js';
import { topics } from '../../../protocols/mqtt/index.js';
import { tempDir, waitFor } from '../../helpers/procs.js';

/** The alert, level and webhook routes with authentication ON: who may do what. */
describe('alerts API with real tokens', () => {
  let cloud: RunningCloud;
  let url: string;
  const tok: Record<string, string> = {};

  const call = async (who: string | undefined, method: string, path: string, body?: unknown) => {
    const headers: Record<string, string> = {};
    if (who) headers.authorization = `Bearer ${tok[who]}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${url}${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    const text = await res.text();
    return { status: res.status, json: text ? JSON.parse(text) : undefined };
  };
  const levels = (site: string, sku: string) => `/api/v1/sites/${site}/items/${sku}/levels`;

  beforeAll(async () => {
    const dataDir = join(tempDir(), 'cloud');
    mkdirSync(dataDir, { recursive: true });
    const creds = new SqliteCredentialStore(authDbPath(dataDir));
    tok.admin = (await creds.initAdmin()).token;
    const issue = async (name: string, roles: Role[], sites?: string[]) => (tok[name] = (await creds.issueToken({ name, roles, ...(sites ? { sites } : {}) })).token);
    await issue('procurement', ['procurement']);
    await issue('maintenance', ['maintenance']);
    await issue('manager', ['site-manager']);
    await issue('manager-s1', ['site-manager'], ['s1']);
    await issue('operator', ['operator']);
    await creds.close();
    cloud = await startCloud(parseCloudConfig({ dataDir, mqttPort: 0, httpPort: 0 }), pino({ level: 'silent' }));
    url = `http://127.0.0.1:${cloud.httpPort}`;
  });
  afterAll(() => cloud?.stop());

  it('levels: procurement and site managers set and read them; others may not', async () => {
    expect((await call(undefined, 'PUT', levels('s1', 'A'), { safetyStock: 1 })).status).toBe(401);
    expect((await call('operator', 'PUT', levels('s1', 'A'), { safetyStock: 1 })).status).toBe(403);
    expect((await call('maintenance', 'GET', levels('s1', 'A'))).status).toBe(403);
    expect((await call('procurement', 'GET', levels('s1', 'A'))).status).toBe(404);
    const put = await call('procurement', 'PUT', levels('s1', 'A'), { safetyStock: 5, reorderPoint: 8, maxStock: 50, hysteresis: 1, nearExpiryDays: 14 });
    expect(put).toMatchObject({ status: 200, json: { site: 's1', sku: 'A', safetyStock: 5, reorderPoint: 8, maxStock: 50, hysteresis: 1, nearExpiryDays: 14 } });
    expect((await call('manager', 'GET', levels('s1', 'A'))).json).toEqual(put.json);
    expect((await call('manager-s1', 'PUT', levels('s1', 'A'), { safetyStock: 6 })).status).toBe(200);
    expect((await call('manager-s1', 'PUT', levels('s2', 'A'), { safetyStock: 6 })).status).toBe(403);
  });

  it('levels: bad bodies are 400 with the field named', async () => {
    const bad = async (b: unknown) => (await call('procurement', 'PUT', levels('s1', 'A'), b)).json;
    expect(await bad({ safetyStock: -1 })).toMatchObject({ code: 'SG_ERR_BAD_BODY', message: expect.stringMatching(/^safetyStock: /) });
    expect(await bad({ safetystock: 1 })).toMatchObject({ code: 'SG_ERR_BAD_BODY' });
    expect(await bad({ safetyStock: 10, maxStock: 5 })).toMatchObject({ message: 'maxStock: below safetyStock (10)' });
    expect(await bad({ nearExpiryDays: 1.5 })).toMatchObject({ message: expect.stringMatching(/^nearExpiryDays: /) });
  });

  it('a REST movement raises the alert; reading is for procurement, maintenance and site managers', async () => {
    await call('procurement', 'PUT', levels('s1', 'PIPE'), { safetyStock: 10 });
    const mv = (id: string, qty: number) => ({ id, site: 's1', location: 'WH', kind: 'receive', sku: 'PIPE', qty, uom: 'm', ts: new Date().toISOString() });
    expect((await call('admin', 'POST', '/api/v1/movements', { movements: [mv('REST-PIPE-000001', 4)] })).status).toBe(201);
    const list = await waitFor(async () => (await call('procurement', 'GET', '/api/v1/alerts?site=s1')).json.items.find((a: { sku?: string }) => a.sku === 'PIPE'), 'alert');
    expect(list).toMatchObject({ type: 'safety-stock', value: 4, threshold: 10, state: 'open' });
    for (const who of ['maintenance', 'manager']) expect((await call(who, 'GET', '/api/v1/alerts')).status).toBe(200);
    expect((await call('operator', 'GET', '/api/v1/alerts')).status).toBe(403);
    expect((await call('manager-s1', 'GET', '/api/v1/alerts?site=s2')).status).toBe(403);
    expect((await call('procurement', 'GET', '/api/v1/alerts?state=maybe')).status).toBe(400);
  });

  it('acks: by the role the alert routes to, or a site manager', async () => {
    const stock = (await call('procurement', 'GET', '/api/v1/alerts?site=s1&type=safety-stock')).json.items[0];
    cloud.bus.publish(topics.status('s1', 'e9'), JSON.stringify({ v: 1, site: 's1', edge: 'e9', state: 'offline', reason: 'lwt', ts: new Date().toISOString() }), { retain: true });
    const device = await waitFor(async () => (await call('maintenance', 'GET', '/api/v1/alerts?site=s1&type=edge-offline')).json.items[0], 'edge-offline');

    expect((await call('maintenance', 'POST', `/api/v1/alerts/${stock.id}/ack`)).status).toBe(403);
    expect((await call('procurement', 'POST', `/api/v1/alerts/${device.id}/ack`)).status).toBe(403);
    const a1 = await call('procurement', 'POST', `/api/v1/alerts/${stock.id}/ack`);
    expect(a1).toMatchObject({ status: 200, json: { id: stock.id, state: 'open', ackedBy: expect.any(String), ackedAt: expect.any(String) } });
    const a2 = await call('manager', 'POST', `/api/v1/alerts/${device.id}/ack`);
    expect(a2).toMatchObject({ status: 200, json: { id: device.id, state: 'open' } });
    expect(a2.json.ackedBy).not.toBe(a1.json.ackedBy);
    expect((await call('manager', 'POST', '/api/v1/alerts/NOPE/ack')).status).toBe(404);
  });

  it('lists newest first with limit and the before cursor', async () => {
    for (const sku of ['P1', 'P2', 'P3']) {
      await call('procurement', 'PUT', levels('s3', sku), { safetyStock: 10 });
      await call('admin', 'POST', '/api/v1/movements', { movements: [{ id: `REST-${sku}-0000001`, site: 's3', location: 'WH', kind: 'receive', sku, qty: 1, uom: 'ea', ts: new Date().toISOString() }] });
    }
    await waitFor(async () => (await call('manager', 'GET', '/api/v1/alerts?site=s3')).json.items.length === 3, 'three alerts');
    const p1 = (await call('manager', 'GET', '/api/v1/alerts?site=s3&limit=2')).json;
    expect(p1.items.map((a: { sku: string }) => a.sku)).toEqual(['P3', 'P2']);
    const p2 = (await call('manager', 'GET', `/api/v1/alerts?site=s3&limit=2&before=${p1.next}`)).json;
    expect(p2).toEqual({ items: [expect.objectContaining({ sku: 'P1' })], next: null });
  });

  it('webhooks are admin-only; secrets never come back; bad input is 400', async () => {
    const hook = { url: 'https://erp.example/hook', secret: 'sixteen-chars-ok', role: 'procurement' };
    expect((await call('manager', 'POST', '/api/v1/webhooks', hook)).status).toBe(403);
    expect((await call('procurement', 'GET', '/api/v1/webhooks')).status).toBe(403);
    const made = await call('admin', 'POST', '/api/v1/webhooks', hook);
    expect(made).toMatchObject({ status: 201, json: { id: expect.any(String), url: hook.url, role: 'procurement' } });
    expect(JSON.stringify((await call('admin', 'GET', '/api/v1/webhooks')).json)).not.toContain(hook.secret);
    expect((await call('admin', 'POST', '/api/v1/webhooks', { ...hook, url: 'ftp://x/y' })).json).toMatchObject({ message: 'url: expected an http:// or https:// URL' });
    expect((await call('admin', 'POST', '/api/v1/webhooks', { ...hook, secret: 'short' })).json).toMatchObject({ message: 'secret: at least 16 characters' });
    expect((await call('admin', 'POST', '/api/v1/webhooks', { ...hook, role: 'finance' })).status).toBe(400);
    expect((await call('admin', 'GET', `/api/v1/webhooks/${made.json.id}/deliveries`)).json).toEqual({ items: [], next: null });
    expect((await call('admin', 'GET', '/api/v1/webhooks/NOPE/deliveries')).status).toBe(404);
    expect((await call('admin', 'DELETE', `/api/v1/webhooks/${made.json.id}`)).status).toBe(204);
    expect((await call('admin', 'DELETE', `/api/v1/webhooks/${made.json.id}`)).status).toBe(404);
  });
});
