/**
 * Issue 11 §1 acceptance, through the HTTP API of real clouds: 50 concurrent 1-unit orders
 * against 10 on hand reserve exactly 10 (40 × 409, available 0) on SQLite and on PostgreSQL with
 * two `stockgate cloud` processes on one schema; replaying the 50 keys changes nothing;
 * allowPartial 50 × 3 against 10 gives 3 full, 1 partial of 1 and 46 backordered. After every
 * scenario the invariants hold (reserved = Σ active reservations; on hand = Σ balances).
 */
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../../../cloud/db/index.js';
import { invariantBreaks } from '../../../cloud/sales/index.js';
import { PG_URL, startApiCloud, type ApiCloud } from '../../helpers/api-cloud.js';
import { type CloudProc, requireBuild, startCloudProc, tempDir, waitFor } from '../../helpers/procs.js';
import { get, move, openSide, post } from './sales-helpers.js';

const order = (site: string, sku: string, qty: number, allowPartial?: boolean) => ({ site, customer: 'C-1', lines: [{ sku, qty, unitPrice: '12.50' }], ...(allowPartial ? { allowPartial } : {}) });

/** Fire 50 orders at once (round robin over the given API URLs); answers in key order. */
async function fifty(urls: string[], token: string | undefined, prefix: string, body: (i: number) => unknown) {
  return Promise.all(Array.from({ length: 50 }, (_, i) => post(urls[i % urls.length]!, '/api/v1/sales-orders', body(i), { ...(token ? { token } : {}), key: `${prefix}-${i}` })));
}

async function oversellScenario(urls: string[], token: string | undefined, side: Db, site: string) {
  await move(urls[0]!, site, 'receive', 'CEM', 10, token);
  const first = await fifty(urls, token, `${site}-k`, () => order(site, 'CEM', 1));
  const ok = first.filter((a) => a.status === 201);
  const refused = first.filter((a) => a.status === 409);
  expect(ok).toHaveLength(10);
  expect(refused).toHaveLength(40);
  for (const a of ok) expect(a.body).toMatchObject({ status: 'reserved', lines: [{ sku: 'CEM', qty: 1, reserved: 1 }] });
  for (const a of refused) expect(a.body).toMatchObject({ statusCode: 409, code: 'SG_ERR_INSUFFICIENT_STOCK', lines: [{ sku: 'CEM', requested: 1, available: 0 }] });
  const av = await get(urls[0]!, `/api/v1/availability?site=${site}&sku=CEM`, token);
  expect(av.body).toMatchObject({ onHand: 10, reserved: 10, available: 0 });

  // Replaying the 50 keys: the same answers, nothing created.
  const again = await fifty(urls, token, `${site}-k`, () => order(site, 'CEM', 1));
  expect(again.map((a) => [a.status, a.body])).toEqual(first.map((a) => [a.status, a.body]));
  const list = await get(urls[0]!, `/api/v1/sales-orders?site=${site}&limit=500`, token);
  expect(list.body.items).toHaveLength(10);
  expect((await get(urls[1 % urls.length]!, `/api/v1/availability?site=${site}&sku=CEM`, token)).body).toMatchObject({ onHand: 10, reserved: 10, available: 0 });
  expect(await invariantBreaks(side.kysely)).toEqual([]);

  // The same key with another body is refused.
  const clash = await post(urls[0]!, '/api/v1/sales-orders', order(site, 'CEM', 2), { ...(token ? { token } : {}), key: `${site}-k-0` });
  expect(clash.status).toBe(409);
  expect(clash.body.code).toBe('SG_ERR_IDEMPOTENCY_CONFLICT');
}

async function partialScenario(urls: string[], token: string | undefined, side: Db, site: string) {
  await move(urls[0]!, site, 'receive', 'RB', 10, token);
  const all = await fifty(urls, token, `${site}-p`, () => order(site, 'RB', 3, true));
  expect(all.every((a) => a.status === 201)).toBe(true);
  const by = (s: string) => all.filter((a) => a.body.status === s);
  expect(by('reserved')).toHaveLength(3);
  expect(by('partially-reserved')).toHaveLength(1);
  expect(by('partially-reserved')[0]!.body.lines[0].reserved).toBe(1);
  expect(by('backordered')).toHaveLength(46);
  expect((await get(urls[0]!, `/api/v1/availability?site=${site}&sku=RB`, token)).body).toMatchObject({ onHand: 10, reserved: 10, available: 0 });
  expect(await invariantBreaks(side.kysely)).toEqual([]);
}

describe('reservations on SQLite (one cloud, authentication on)', () => {
  let api: ApiCloud;
  let side: Db;
  beforeAll(async () => {
    api = await startApiCloud('sqlite');
    side = await openSide({ dataDir: api.cloud.config.dataDir });
  }, 60_000);
  afterAll(async () => {
    await side?.close();
    await api?.stop();
  });

  it('50 concurrent 1-unit orders against 10 on hand: 10 reserved, 40 × 409, available 0; replay changes nothing', async () => {
    await oversellScenario([api.url], api.admin, side, 'S1');
  }, 60_000);

  it('allowPartial: 50 × 3 against 10 gives 3 full, 1 partial of 1, 46 backordered', async () => {
    await partialScenario([api.url], api.admin, side, 'S2');
  }, 60_000);

  it('needs an Idempotency-Key; cancel releases; the timeline names every state', async () => {
    await move(api.url, 'S3', 'receive', 'FW', 5, api.admin);
    const none = await post(api.url, '/api/v1/sales-orders', order('S3', 'FW', 1), { token: api.admin });
    expect(none.status).toBe(400);
    expect(none.body.code).toBe('SG_ERR_IDEMPOTENCY_KEY');
    const a = await post(api.url, '/api/v1/sales-orders', order('S3', 'FW', 4), { token: api.admin, key: 'c-1' });
    expect(a.status).toBe(201);
    expect((await get(api.url, '/api/v1/availability?site=S3&sku=FW', api.admin)).body).toMatchObject({ onHand: 5, reserved: 4, available: 1, incoming: [] });
    const c = await post(api.url, `/api/v1/sales-orders/${a.body.id}/cancel`, {}, { token: api.admin });
    expect(c.status).toBe(200);
    expect(c.body.status).toBe('cancelled');
    expect(c.body.lines[0]).toMatchObject({ sku: 'FW', qty: 4, reservation: 'released', unitPrice: '12.50' });
    expect(c.body.timeline.map((t: { state: string }) => t.state)).toEqual(['reserved', 'cancelled']);
    expect(typeof c.body.timeline[1].at).toBe('string');
    expect((await get(api.url, '/api/v1/availability?site=S3&sku=FW', api.admin)).body).toMatchObject({ reserved: 0, available: 5 });
    const twice = await post(api.url, `/api/v1/sales-orders/${a.body.id}/cancel`, {}, { token: api.admin });
    expect(twice.status).toBe(409);
    expect(twice.body.code).toBe('SG_ERR_ILLEGAL_TRANSITION');
    // Audited in the same transaction; the selling price is a cost field an operator does not see.
    const log = await get(api.url, `/api/v1/audit?entity=sales-order&id=${a.body.id}`, api.admin);
    expect(log.body.items.map((i: { action: string }) => i.action)).toEqual(['create', 'cancel']);
    const op = (await post(api.url, '/api/v1/tokens', { name: 'clerk', roles: ['operator'] }, { token: api.admin })).body.token as string;
    const seen = await get(api.url, `/api/v1/sales-orders/${a.body.id}`, op);
    expect(seen.status).toBe(200);
    expect(seen.body.lines[0]).not.toHaveProperty('unitPrice');
    expect(seen.body.lines[0]).toMatchObject({ sku: 'FW', qty: 4 });
    expect(await invariantBreaks(side.kysely)).toEqual([]);
  }, 60_000);
});

describe('physical reality wins, through the API and the ledger follower (SQLite)', () => {
  let api: ApiCloud;
  let side: Db;
  beforeAll(async () => {
    api = await startApiCloud('sqlite');
    side = await openSide({ dataDir: api.cloud.config.dataDir });
  }, 60_000);
  afterAll(async () => {
    await side?.close();
    await api?.stop();
  });

  it('a scan-out of 3 racing 50 orders: on hand 7, at-risk reservations flagged, invariants hold', async () => {
    await move(api.url, 'R1', 'receive', 'CEM', 10, api.admin);
    const [answers] = await Promise.all([fifty([api.url], api.admin, 'R1-k', () => order('R1', 'CEM', 1)), move(api.url, 'R1', 'issue', 'CEM', 3, api.admin)]);
    const reserved = answers.filter((a) => a.status === 201).length;
    expect(reserved + answers.filter((a) => a.status === 409).length).toBe(50);
    // The follower catches up: on hand 7, reserved at most 7, the rest flagged at risk.
    const av = await waitFor(async () => {
      const r = (await get(api.url, '/api/v1/availability?site=R1&sku=CEM', api.admin)).body;
      return r.onHand === 7 && r.reserved <= 7 && (await invariantBreaks(side.kysely)).length === 0 ? r : undefined;
    }, 'follower caught up');
    expect(av.available).toBe(7 - av.reserved);
    const ex = (await get(api.url, '/api/v1/exceptions?site=R1&state=open', api.admin)).body.items.filter((e: { type: string }) => e.type === 'RESERVATION_AT_RISK');
    expect(ex).toHaveLength(reserved - av.reserved);
  }, 60_000);

  it('shipping: an issue carrying the order consumes it; close after shipped; 409 before', async () => {
    await move(api.url, 'R2', 'receive', 'CEM', 10, api.admin);
    const o = await post(api.url, '/api/v1/sales-orders', order('R2', 'CEM', 2), { token: api.admin, key: 'ship-1' });
    expect(o.status).toBe(201);
    const early = await post(api.url, `/api/v1/sales-orders/${o.body.id}/close`, {}, { token: api.admin });
    expect(early.body.code).toBe('SG_ERR_ILLEGAL_TRANSITION');
    await move(api.url, 'R2', 'issue', 'CEM', 2, api.admin, { order: o.body.id });
    await waitFor(async () => (await get(api.url, `/api/v1/sales-orders/${o.body.id}`, api.admin)).body.status === 'shipped', 'shipped');
    const c = await post(api.url, `/api/v1/sales-orders/${o.body.id}/close`, {}, { token: api.admin });
    expect(c.body.status).toBe('closed');
    expect(c.body.timeline.map((t: { state: string }) => t.state)).toEqual(['reserved', 'picking', 'shipped', 'closed']);
    expect((await get(api.url, '/api/v1/availability?site=R2&sku=CEM', api.admin)).body).toMatchObject({ onHand: 8, reserved: 0, available: 8 });
    expect(await invariantBreaks(side.kysely)).toEqual([]);
  }, 60_000);
});

describe('reservations on PostgreSQL with two `stockgate cloud` processes on one schema', () => {
  const schema = `sg_sales_${process.pid}_${Date.now().toString(36)}`;
  const store = `${PG_URL}${PG_URL.includes('?') ? '&' : '?'}options=-csearch_path%3D${schema}`;
  let a: CloudProc | undefined;
  let b: CloudProc | undefined;
  let side: Db;
  beforeAll(async () => {
    requireBuild();
    const c = new pg.Client({ connectionString: PG_URL });
    await c.connect();
    await c.query(`CREATE SCHEMA "${schema}"`);
    await c.end();
    a = await startCloudProc({ dataDir: join(tempDir('sg-sales-a-'), 'cloud'), store });
    b = await startCloudProc({ dataDir: join(tempDir('sg-sales-b-'), 'cloud'), store });
    side = await openSide({ dataDir: tempDir('sg-sales-side-'), store });
  }, 90_000);
  afterAll(async () => {
    await side?.close();
    await a?.kill();
    await b?.kill();
    const c = new pg.Client({ connectionString: PG_URL });
    await c.connect();
    await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await c.end();
  });

  it('50 concurrent 1-unit orders over both processes: 10 reserved, 40 × 409, available 0; replay changes nothing', async () => {
    await oversellScenario([a!.url, b!.url], undefined, side, 'P1');
  }, 90_000);

  it('allowPartial over both processes: 3 full, 1 partial of 1, 46 backordered', async () => {
    await partialScenario([a!.url, b!.url], undefined, side, 'P2');
  }, 90_000);

  it('an order that waits more than 3 s for a stock row answers 503 SG_ERR_LOCK_TIMEOUT over HTTP with Retry-After, reserves nothing, and its retry goes through', async () => {
    await move(a!.url, 'P3', 'receive', 'CEM', 10);
    expect((await post(a!.url, '/api/v1/sales-orders', order('P3', 'CEM', 1), { key: 'P3-k-0' })).status).toBe(201);
    const holder = new pg.Client({ connectionString: PG_URL });
    await holder.connect();
    try {
      await holder.query(`SET search_path TO "${schema}"`);
      await holder.query('BEGIN');
      await holder.query(`UPDATE stock_reservation_totals SET reserved = reserved WHERE site = 'P3' AND sku = 'CEM'`);
      const res = await fetch(`${a!.url}/api/v1/sales-orders`, { method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': 'P3-k-1' }, body: JSON.stringify(order('P3', 'CEM', 1)) });
      const body = (await res.json()) as { code: string; message: string };
      expect(res.status).toBe(503);
      // The catalog's code and message, not the masked SG_ERR_INTERNAL of other 5xx.
      expect(body.code).toBe('SG_ERR_LOCK_TIMEOUT');
      expect(body.message).toMatch(/^stock: waited more than 3 s for a stock row/);
      expect(res.headers.get('retry-after')).toBe('1');
      await holder.query('ROLLBACK');
    } finally {
      await holder.end();
    }
    expect((await get(a!.url, '/api/v1/availability?site=P3&sku=CEM')).body).toMatchObject({ reserved: 1 });
    expect((await post(b!.url, '/api/v1/sales-orders', order('P3', 'CEM', 1), { key: 'P3-k-1' })).status).toBe(201);
    expect(await invariantBreaks(side.kysely)).toEqual([]);
  }, 90_000);
});
