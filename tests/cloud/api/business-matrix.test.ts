import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COST_FIELDS, LANDED_COST_FIELDS } from '../../../cloud/access/index.js';
import { ROLES } from '../../../cloud/auth/auth.js';
import { type ApiCloud, type Backend, startApiCloud } from '../../helpers/api-cloud.js';
import { uniqueId, waitFor } from '../../helpers/procs.js';
import { openSse } from '../../helpers/sse.js';
import { id, receive } from '../../helpers/route-examples.js';

/**
 * The business layer's role matrix (issue 10, acceptance "Role matrix test"), beside the generic
 * site matrix of scope-matrix.test.ts: users of every role on one site with two projects, A
 * (managed by pm-a) and B (managed by pm-b), and every route fastify has that addresses one of
 * A's things. B's manager gets 404 on every one of them (or 403 where the route does not admit
 * the role at all), and A's code never appears in what B's manager may list or stream. An
 * operator sees no cost field anywhere: every GET the operator may call is checked at any depth.
 * The routes are enumerated from fastify itself, so a business route added later is covered.
 */

/** Cost fields in a JSON value, at any depth, with their paths. */
function costFieldsIn(v: unknown, path = ''): string[] {
  if (Array.isArray(v)) return v.flatMap((x, i) => costFieldsIn(x, `${path}[${i}]`));
  if (v === null || typeof v !== 'object') return [];
  return Object.entries(v).flatMap(([k, x]) => [...(COST_FIELDS.has(k) ? [`${path}.${k}`] : []), ...costFieldsIn(x, `${path}.${k}`)]);
}

/**
 * Money by its look, whatever the field is called: a decimal string with 2 places ("4140.00",
 * "-12.50"), the wire form of every amount (cloud/money.ts). An oracle independent of the field
 * names, so a money field missing from COST_FIELDS (a cost report's `plannedValue` was) is found.
 * Approval bands (`minAmount`, `maxAmount`) are the site's policy, which every approver and
 * requester works by, not a price or a cost of anything: they are left out.
 */
const POLICY_AMOUNTS = new Set(['minAmount', 'maxAmount']);
function moneyIn(v: unknown, path = ''): string[] {
  if (typeof v === 'string') return /^-?\d+\.\d{2}$/.test(v) ? [`${path}=${v}`] : [];
  if (Array.isArray(v)) return v.flatMap((x, i) => moneyIn(x, `${path}[${i}]`));
  if (v === null || typeof v !== 'object') return [];
  return Object.entries(v).flatMap(([k, x]) => (POLICY_AMOUNTS.has(k) ? [] : moneyIn(x, `${path}.${k}`)));
}

for (const backend of ['sqlite', 'postgres'] as Backend[]) {
  describe(`business role matrix (${backend})`, () => {
    let api: ApiCloud;
    const site = uniqueId('bmx');
    const A = `PA-${site}`.slice(0, 60);
    const B = `PB-${site}`.slice(0, 60);
    const tok: Record<string, string> = {};
    /** Path parameters of A's things (filled in as they are created). */
    const ofA: Record<string, string> = {};
    let k = 0;

    const ok = async (method: string, path: string, body?: unknown, headers?: Record<string, string>) => {
      const r = await api.call(method, path, { ...(body === undefined ? {} : { body }), ...(headers ? { headers } : {}) });
      if (r.status >= 300) throw new Error(`${method} ${path} -> ${r.status} ${r.text.slice(0, 300)}`);
      return r.body;
    };
    /** Try a setup step; a route that does not exist yet leaves its part of the matrix empty. */
    const tryOk = async (method: string, path: string, body?: unknown) => ok(method, path, body).catch(() => undefined);

    beforeAll(async () => {
      api = await startApiCloud(backend);
      for (const role of ROLES) {
        const user = `${role}-${site}`;
        const sites = role === 'project-manager' || role === 'admin' ? {} : { sites: [site] };
        await ok('POST', '/api/v1/users', { id: user, name: role, roles: [role], ...sites });
        tok[role] = (await ok('POST', '/api/v1/tokens', { user })).token as string;
      }
      await ok('POST', '/api/v1/users', { id: `pm-b-${site}`, name: 'pm b', roles: ['project-manager'] });
      tok['pm-b'] = (await ok('POST', '/api/v1/tokens', { user: `pm-b-${site}` })).token as string;
      tok['pm-a'] = tok['project-manager']!;

      await ok('PUT', '/api/v1/items/CEMENT', { name: 'cement', uom: 'bag', standardCost: '34.50' });
      for (const [code, manager] of [[A, `project-manager-${site}`], [B, `pm-b-${site}`]] as const) {
        await ok('POST', '/api/v1/projects', { code, name: code, site, manager, contractRevenue: '20000.00', budget: '15000.00', stages: [{ code: 'S1', name: 'Foundation', needBy: '2027-01-15' }] });
        await ok('PUT', `/api/v1/projects/${code}/stages/S1/plan`, { lines: [{ sku: 'CEMENT', qty: 120 }] });
      }
      ofA.code = A;
      ofA.stage = 'S1';
      await ok('POST', `/api/v1/projects/${A}/costs`, { category: 'labour', amount: '2160.00', date: '2026-12-05' });
      await ok('POST', '/api/v1/movements', { movements: [receive(site, id(++k), { sku: 'CEMENT', qty: 200, uom: 'bag' }), receive(site, id(++k), { kind: 'issue', sku: 'CEMENT', qty: 120, uom: 'bag', project: A, stage: 'S1' })] });
      await api.cloud.follower.caughtUp();
      // Purchasing documents of A, where the routes exist.
      await tryOk('PUT', '/api/v1/suppliers/SUP-1', { name: 'supplier', leadTimeDays: 3 });
      await tryOk('PUT', `/api/v1/sites/${site}/approval-rules`, { rules: [{ docType: 'requisition', minAmount: '0', maxAmount: '1000000', steps: ['project-manager'] }] });
      const req = await tryOk('POST', '/api/v1/requisitions', { kind: 'purchase', project: A, stage: 'S1', lines: [{ sku: 'CEMENT', qty: 10, unitPrice: '32.00' }] });
      if (req) ofA.requisition = req.id as string;
      const po = await tryOk('POST', '/api/v1/purchase-orders', { supplier: 'SUP-1', site, expectedAt: '2027-01-10', lines: [{ sku: 'CEMENT', qty: 10, unitPrice: '32.00', project: A, stage: 'S1' }] });
      if (po) ofA['purchase-order'] = po.id as string;
      // The other answers that carry money: a landed cost on A's PO (and its audit), a sales order,
      // a count with a valued adjustment, a receipt with no PO for A (a NO_PO_RECEIPT of project A).
      await ok('POST', `/api/v1/purchase-orders/${ofA['purchase-order']}/submit`);
      await ok('POST', `/api/v1/purchase-orders/${ofA['purchase-order']}/landed-costs`, { amount: '20.00', allocate: 'qty' });
      ofA['sales-order'] = (await ok('POST', '/api/v1/sales-orders', { site, customer: 'c', lines: [{ sku: 'CEMENT', qty: 1, unitPrice: '40.00' }], allowPartial: true }, { 'idempotency-key': `bmx-${site}` })).id as string;
      const count = (await ok('POST', '/api/v1/counts', { site, location: 'WH-1', skus: ['CEMENT'] })).id as string;
      await ok('POST', `/api/v1/counts/${count}/lines`, { lines: [{ sku: 'CEMENT', qty: 79 }] });
      await ok('POST', `/api/v1/counts/${count}/submit`);
      ofA.count = count;
      await ok('PUT', '/api/v1/items/SAND', { name: 'sand', uom: 'm3', standardCost: '120.00' });
      ofA.noPoReceipt = id(++k);
      await ok('POST', '/api/v1/movements', { movements: [receive(site, ofA.noPoReceipt, { sku: 'SAND', qty: 3, uom: 'm3', project: A })] });
      await api.cloud.follower.caughtUp();
    }, 120_000);
    afterAll(() => api?.stop());

    /** The route's path with A's things in it, or undefined when the route addresses nothing of A's. */
    const pathOfA = (url: string): string | undefined => {
      if (url.startsWith('/api/v1/projects/:code')) return url.replace(':code', A).replace(':stage', 'S1');
      if (url.startsWith('/api/v1/requisitions/:id')) return ofA.requisition && url.replace(':id', ofA.requisition);
      if (url.startsWith('/api/v1/purchase-orders/:id')) return ofA['purchase-order'] && url.replace(':id', ofA['purchase-order']);
      return undefined;
    };

    it("B's project manager gets 404 on every route that addresses A's things (403 where the role is not admitted)", async () => {
      const failures: string[] = [];
      let calls = 0;
      for (const r of api.cloud.http.stockgateRoutes) {
        const path = pathOfA(r.url);
        if (!path) continue;
        const admitted = r.roles?.includes('project-manager') ?? true;
        const res = await api.call(r.method.toUpperCase(), path, { token: tok['pm-b']!, ...(r.method === 'get' || r.method === 'delete' ? {} : { body: {} }) });
        calls++;
        const want = admitted ? 404 : 403;
        if (res.status !== want) failures.push(`${r.method} ${r.url} as pm-b -> ${res.status} ${res.text.slice(0, 120)} (want ${want})`);
        if (res.text.includes('2160') || res.text.includes('4140')) failures.push(`${r.method} ${r.url} as pm-b shows A's figures`);
        // A's manager, for contrast, is let through the scope (whatever the handler then says of an empty body).
        if (admitted) {
          const mine = await api.call(r.method.toUpperCase(), path, { token: tok['pm-a']!, ...(r.method === 'get' || r.method === 'delete' ? {} : { body: {} }) });
          if (mine.status === 404) failures.push(`${r.method} ${r.url} as pm-a -> 404: A's own manager must see it`);
        }
      }
      console.log(`[business matrix ${backend}] ${calls} routes addressing A's things called as B's manager`);
      expect(calls).toBeGreaterThanOrEqual(5);
      expect(failures).toEqual([]);
    });

    it("lists and the board stream B's manager may read never mention A", async () => {
      const lists = ['/api/v1/projects', `/api/v1/requisitions?site=${site}`, `/api/v1/purchase-orders?site=${site}`, `/api/v1/audit?entity=project&id=${A}`, `/board/events?site=${site}`];
      let read = 0;
      for (const path of lists) {
        const res = await api.call('GET', path, { token: tok['pm-b']!, timeoutMs: 1500 });
        if (res.status === 404 && /^Route /.test(String(res.body?.message))) continue; // not built
        read++;
        expect(res.text, path).not.toContain(A);
      }
      expect(read).toBeGreaterThanOrEqual(2);
      // A's manager sees A in the list: the filter is the scope, not the absence of data.
      expect((await api.call('GET', '/api/v1/projects', { token: tok['pm-a']! })).text).toContain(A);
    });

    /** Every answer that carries money, with A's things in it (the routes enumerated below may not reach them all). */
    const moneyPaths = () => [
      `/api/v1/projects/${A}`,
      '/api/v1/projects',
      `/api/v1/projects/${A}/cost-report`,
      `/api/v1/projects/${A}/cost-report?format=csv`,
      `/api/v1/projects/${A}/stages/S1/plan`,
      `/api/v1/requisitions/${ofA.requisition}`,
      `/api/v1/requisitions?site=${site}`,
      `/api/v1/purchase-orders/${ofA['purchase-order']}`,
      `/api/v1/purchase-orders?site=${site}`,
      '/api/v1/items/CEMENT',
      '/api/v1/items',
      '/api/v1/exports/items.csv',
      `/api/v1/availability?site=${site}&sku=CEMENT`,
      `/api/v1/sales-orders/${ofA['sales-order']}`,
      `/api/v1/sales-orders?site=${site}`,
      `/api/v1/counts/${ofA.count}`,
      `/api/v1/counts/plan?site=${site}`,
      `/api/v1/sites/${site}/approval-rules`,
      `/api/v1/exceptions?site=${site}&state=all`,
      ...['requisition', 'purchase-order', 'landed-cost', 'project', 'item', 'count', 'sales-order', 'cost'].map((e) => `/api/v1/audit?entity=${e}&id=${e === 'requisition' ? ofA.requisition : e === 'purchase-order' ? ofA['purchase-order'] : e === 'project' ? A : e === 'item' ? 'CEMENT' : e === 'count' ? ofA.count : e === 'sales-order' ? ofA['sales-order'] : '1'}`),
    ];
    /** What a caller reads: every GET route it is admitted to (path parameters of A's things) plus `moneyPaths`. */
    const readsOf = (role: string) => {
      const paths = new Set<string>(moneyPaths());
      for (const r of api.cloud.http.stockgateRoutes) {
        if (r.method !== 'get' || !r.roles || !r.roles.includes(role as never)) continue;
        const path = (pathOfA(r.url) ?? r.url)
          .replace(':site', site)
          .replace(':sku', 'CEMENT')
          .replace(':code', r.url.startsWith('/api/v1/suppliers') ? 'SUP-1' : A)
          .replace(':stage', 'S1')
          .replace(/^\/api\/v1\/sales-orders\/:id/, `/api/v1/sales-orders/${ofA['sales-order']}`)
          .replace(/^\/api\/v1\/counts\/:id/, `/api/v1/counts/${ofA.count}`);
        if (path.includes(':')) continue; // an id this matrix does not have (movements, alerts, ...)
        const q = path.includes('?') ? '&' : '?';
        paths.add(`${path}${/\/api\/v1\/(stock|movements|requisitions|purchase-orders|sales-orders|exceptions|alerts)$/.test(path) ? `${q}site=${site}` : ''}`);
      }
      return [...paths];
    };
    /** Cost fields by name and money by its look in an answer (JSON at any depth; CSV header and cells). */
    const moneyOf = (res: { contentType: string; body: unknown; text: string }): string[] => {
      if (res.contentType.startsWith('application/json')) return [...costFieldsIn(res.body), ...moneyIn(res.body)];
      if (res.contentType.startsWith('text/csv')) {
        const rows = res.text.replace(/^\uFEFF/, '').split(/\r?\n/).filter(Boolean).map((l) => l.split(','));
        return [...rows[0]!.filter((h) => COST_FIELDS.has(h)), ...rows.slice(1).flat().filter((c) => /^-?\d+\.\d{2}$/.test(c)).map((c) => `csv cell ${c}`)];
      }
      return [];
    };

    it('operators, maintenance and site managers see no cost field and no amount in any answer they may read (issue 10 §5: only admin, finance, procurement for purchasing, the project manager for its project)', async () => {
      const failures: string[] = [];
      const reads: Record<string, number> = {};
      for (const role of ['operator', 'maintenance', 'site-manager']) {
        reads[role] = 0;
        for (const path of readsOf(role)) {
          const res = await api.call('GET', path, { token: tok[role]!, timeoutMs: 1500 });
          if (res.status !== 200) continue;
          reads[role]!++;
          const found = moneyOf(res);
          if (found.length) failures.push(`${role} GET ${path}: ${found.slice(0, 5).join(', ')}`);
        }
      }
      console.log(`[business matrix ${backend}] answers read and walked for money: ${JSON.stringify(reads)}`);
      expect(reads.operator).toBeGreaterThanOrEqual(15);
      expect(reads['site-manager']).toBeGreaterThanOrEqual(20);
      expect(failures).toEqual([]);
      // The control: admin reads the same answers with their money (the walk can fail).
      const admin: string[] = [];
      for (const path of moneyPaths()) {
        const res = await api.call('GET', path);
        if (res.status === 200 && moneyOf(res).length === 0) admin.push(path);
      }
      // (Answers without any amount even for admin: plans, availability, exceptions, the sales order list and log.)
      expect(admin.filter((p) => !/plan$|availability|approval-rules|exceptions|counts\/plan|entity=cost&|sales-order/.test(p))).toEqual([]);
    });

    it('procurement sees purchasing prices but no project figure nor stock valuation; finance and A\'s manager see A\'s figures', async () => {
      const as = async (who: string, path: string) => (await api.call('GET', path, { token: tok[who]! })).body;
      // Purchasing prices: procurement sees them.
      expect(costFieldsIn(await as('procurement', `/api/v1/purchase-orders/${ofA['purchase-order']}`))).toEqual(expect.arrayContaining([expect.stringContaining('unitPrice')]));
      expect(await as('procurement', '/api/v1/items/CEMENT')).toHaveProperty('standardCost');
      // Project figures and stock valuation: not procurement's.
      expect(moneyIn(await as('procurement', `/api/v1/projects/${A}`))).toEqual([]);
      expect((await api.call('GET', `/api/v1/projects/${A}/cost-report`, { token: tok.procurement! })).status).toBe(403);
      expect([...costFieldsIn(await as('procurement', `/api/v1/counts/${ofA.count}`)), ...moneyIn(await as('procurement', `/api/v1/counts/${ofA.count}`))]).toEqual([]);
      expect(moneyIn(await as('procurement', `/api/v1/sales-orders/${ofA['sales-order']}`))).toEqual([]);
      // A's manager sees A's figures, the stage values included; finance sees all.
      const mine = await as('pm-a', `/api/v1/projects/${A}/cost-report`);
      expect(mine).toMatchObject({ contractRevenue: '20000.00', stages: [{ stage: 'S1', plannedValue: expect.any(String), actualMaterial: expect.any(String) }] });
      expect(await as('finance', `/api/v1/counts/${ofA.count}`)).toMatchObject({ lines: [expect.objectContaining({ value: expect.any(String) })] });
      // The landed cost's split (pending / toStock / variance) is purchasing money: a site manager reading its audit sees none of it.
      const landedAudit = await as('site-manager', `/api/v1/audit?entity=purchase-order&id=${ofA['purchase-order']}`);
      const landed = (landedAudit.items as Array<{ action: string; after: Record<string, unknown> }>).find((i) => i.action === 'landed-cost');
      expect(landed).toBeDefined();
      for (const f of [...LANDED_COST_FIELDS, 'toStock', 'amount']) expect(landed!.after).not.toHaveProperty(f);
      expect((await as('finance', `/api/v1/audit?entity=purchase-order&id=${ofA['purchase-order']}`)).items.find((i: { action: string }) => i.action === 'landed-cost').after).toMatchObject({ amount: '20.00', pending: '20.00' });
    });

    it("a NO_PO_RECEIPT of A's project is in the exception queue of the site and of A's manager, not of B's", async () => {
      const ex = async (who: string) => ((await api.call('GET', `/api/v1/exceptions?site=${site}&state=all`, { token: tok[who]! })).body.items as Array<{ type: string; movementId: string; project: string }>).filter((e) => e.type === 'NO_PO_RECEIPT');
      expect((await ex('site-manager')).map((e) => [e.movementId, e.project])).toEqual([[ofA.noPoReceipt, A]]);
      expect((await ex('pm-a')).map((e) => e.movementId)).toEqual([ofA.noPoReceipt]);
      expect(await ex('pm-b')).toEqual([]);
    });

    it("the board stream of B's manager carries B's movements and never A's", async () => {
      const sse = await openSse(`${api.url}/board/events?site=${site}`, { authorization: `Bearer ${tok['pm-b']!}` });
      try {
        expect(sse.status).toBe(200);
        await sse.next(() => true, 15_000);
        const from = sse.events.length;
        // An issue to A, then one to B: B's manager's stream shows B's (so it is live) and nothing of A.
        await ok('POST', '/api/v1/movements', { movements: [receive(site, id(++k), { kind: 'issue', sku: 'CEMENT', qty: 1, uom: 'bag', project: A, stage: 'S1' })] });
        await ok('POST', '/api/v1/movements', { movements: [receive(site, id(++k), { kind: 'issue', sku: 'CEMENT', qty: 1, uom: 'bag', project: B, stage: 'S1' })] });
        await sse.next((e) => e.data.includes(B), 20_000, from);
        expect(sse.events.filter((e) => e.data.includes(A))).toEqual([]);
      } finally {
        sse.close();
      }
    });

    it("MQTT: a reader of B's alerts may not subscribe to A's topic nor the site's, and gets B's over-issue but not A's", async () => {
      if (api.cloud.mqttPort === undefined) throw new Error('embedded broker expected');
      const creds = (await ok('POST', '/api/v1/mqtt-users', { role: 'alerts', site, project: B })) as { username: string; password: string };
      const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${api.cloud.mqttPort}`, { username: creds.username, password: creds.password, reconnectPeriod: 0 });
      try {
        // MQTT.js rejects a SUBACK with 0x80; the packet still carries every code.
        const denied = await c.subscribeAsync([`stockgate/v1/${site}/alerts/projects/${A}/#`, `stockgate/v1/${site}/alerts/#`, `stockgate/v1/${site}/alerts/projects/+/over-issue`]).then(
          (g) => g.map((x) => x.qos),
          (err: { packet?: { granted?: number[] } }) => err.packet?.granted ?? Promise.reject(err),
        );
        expect(denied).toEqual([128, 128, 128]);
        expect((await c.subscribeAsync(`stockgate/v1/${site}/alerts/projects/${B}/#`, { qos: 1 }))[0]!.qos).toBe(1);
        const got: string[] = [];
        c.on('message', (topic) => got.push(topic));
        // Over-issues of both: A beyond its 120 + 5 % (126), then B beyond its own.
        await ok('POST', '/api/v1/movements', { movements: [receive(site, id(++k), { kind: 'issue', sku: 'CEMENT', qty: 10, uom: 'bag', project: A, stage: 'S1' })] });
        await ok('POST', '/api/v1/movements', { movements: [receive(site, id(++k), { kind: 'issue', sku: 'CEMENT', qty: 130, uom: 'bag', project: B, stage: 'S1' })] });
        await api.cloud.follower.caughtUp();
        await waitFor(() => got.length >= 1, "B's over-issue on MQTT", 20_000);
        // A's over-issue was raised (the control), on a topic this reader never gets.
        const overA = ((await api.call('GET', `/api/v1/exceptions?site=${site}&state=all`)).body.items as Array<{ type: string; project: string }>).filter((e) => e.type === 'OVER_ISSUE' && e.project === A);
        expect(overA.length).toBeGreaterThanOrEqual(1);
        expect(got).toEqual([`stockgate/v1/${site}/alerts/projects/${B}/over-issue`]);
      } finally {
        await c.endAsync();
      }
    });
  });
}
