import { expect } from 'vitest';
import type { Role } from '../../cloud/auth/auth.js';
import mqtt from 'mqtt';
import { topics } from '../../protocols/mqtt/index.js';
import type { ApiCloud } from './api-cloud.js';
import { ROOT, waitFor } from './procs.js';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

/**
 * One example request per HTTP route, for a given site's fixtures: the scope matrix
 * (tests/cloud/api/scope-matrix.test.ts) calls each as every role on its own and another site,
 * and the fuzz suite (tests/cloud/api/fuzz.test.ts) takes it as the valid baseline it mutates.
 * A route without an example here fails both. Keys are `method url` as fastify spells them.
 */

export interface Req {
  method: string;
  path: string;
  body?: unknown;
  /** Extra request headers (e.g. Idempotency-Key). */
  headers?: Record<string, string>;
}
export interface SiteFixture {
  site: string;
  movementId: string;
  exceptionId: number;
  alertId: string;
  webhookId: string;
  channelId: string;
}
export interface Ctx {
  api: ApiCloud;
  f: SiteFixture;
  n: () => number;
}
export interface Example {
  req: (c: Ctx) => Promise<Req> | Req;
  /** Roles the route admits but its handler refuses for this example (not a scope matter). */
  handlerRefuses?: readonly Role[];
  /**
   * The route addresses one project's data: a caller limited to projects (a project-manager token
   * of no user manages none) gets 404 for it, as for another site's (issue 10 §5).
   */
  projectScoped?: true;
}

export const id = (n: number) => `MX${Date.now().toString(36).toUpperCase()}${process.pid}N${n}`.padEnd(16, '0');
export const receive = (site: string, mid: string, over: Record<string, unknown> = {}) => ({
  id: mid,
  ts: new Date().toISOString(),
  site,
  location: 'WH-1',
  kind: 'receive',
  sku: 'SKU-1',
  qty: 10,
  uom: 'ea',
  ...over,
});

/** An alert channel routed to one site. */
export const channel = (site: string) => ({ type: 'wecom', url: 'http://127.0.0.1:9/cgi-bin/webhook/send?key=K', routes: { types: ['safety-stock'], sites: [site] }, lang: 'en' });

/** One example request per route, for site `c.f.site`. A route missing here fails the matrix. */
export const EXAMPLES: Record<string, Example> = {
  'get /healthz': { req: () => ({ method: 'GET', path: '/healthz' }) },
  'get /metrics': { req: () => ({ method: 'GET', path: '/metrics' }) },
  'get /': { req: () => ({ method: 'GET', path: '/' }) },
  'get /board': { req: () => ({ method: 'GET', path: '/board' }) },
  'get /docs': { req: () => ({ method: 'GET', path: '/docs' }) },
  'get /docs/openapi.json': { req: () => ({ method: 'GET', path: '/docs/openapi.json' }) },
  'get /board/events': { req: ({ f }) => ({ method: 'GET', path: `/board/events?site=${f.site}` }) },
  // The board (issue 12): its built assets, login cookie and read endpoints.
  'get /board/assets/*': { req: () => ({ method: 'GET', path: `/board/assets/${readdirSync(join(ROOT, 'dist', 'board-ui', 'assets')).find((f) => f.endsWith('.js'))!}` }) },
  'post /board/login': { req: ({ api }) => ({ method: 'POST', path: '/board/login', body: { token: api.admin } }) },
  'post /board/logout': { req: () => ({ method: 'POST', path: '/board/logout' }) },
  'get /board/api/me': { req: () => ({ method: 'GET', path: '/board/api/me' }) },
  'get /board/api/attention': { req: ({ f }) => ({ method: 'GET', path: `/board/api/attention?site=${f.site}` }) },
  'get /board/api/history': { req: ({ f }) => ({ method: 'GET', path: `/board/api/history?site=${f.site}&sku=SKU-1` }) },
  'get /api/v1/stock': { req: ({ f }) => ({ method: 'GET', path: `/api/v1/stock?site=${f.site}` }) },
  'get /api/v1/stock/totals': { req: ({ f }) => ({ method: 'GET', path: `/api/v1/stock/totals?site=${f.site}` }) },
  'get /api/v1/stock/fefo': { req: ({ f }) => ({ method: 'GET', path: `/api/v1/stock/fefo?site=${f.site}&sku=SKU-1` }) },
  'get /api/v1/movements': { req: ({ f }) => ({ method: 'GET', path: `/api/v1/movements?site=${f.site}` }) },
  'get /api/v1/movements/:id': { req: ({ f }) => ({ method: 'GET', path: `/api/v1/movements/${f.movementId}` }) },
  'get /api/v1/ledger/verify': { req: ({ f }) => ({ method: 'GET', path: `/api/v1/ledger/verify?site=${f.site}` }) },
  // The item master is shared (not per site): the site of the fixture does not matter.
  'put /api/v1/items/:sku': { req: ({ n }) => ({ method: 'PUT', path: `/api/v1/items/MX-${n()}`, body: { name: 'matrix item', uom: 'ea' } }) },
  'get /api/v1/items': { req: () => ({ method: 'GET', path: '/api/v1/items?search=SKU' }) },
  'get /api/v1/items/:sku': {
    req: async ({ api }) => {
      await api.call('PUT', '/api/v1/items/SKU-1', { body: { name: 'matrix item', uom: 'ea' } });
      return { method: 'GET', path: '/api/v1/items/SKU-1' };
    },
  },
  'get /api/v1/exports/items.csv': { req: () => ({ method: 'GET', path: '/api/v1/exports/items.csv' }) },
  'post /api/v1/imports/items': { req: () => ({ method: 'POST', path: '/api/v1/imports/items?dryRun=1', body: 'sku,name,uom\nSKU-1,x,ea\n' }) },
  'post /api/v1/movements': { req: ({ f, n }) => ({ method: 'POST', path: '/api/v1/movements', body: { movements: [receive(f.site, id(n()))] } }) },
  'get /api/v1/dead-letters': { req: ({ f }) => ({ method: 'GET', path: `/api/v1/dead-letters?site=${f.site}` }) },
  'get /api/v1/exceptions': { req: ({ f }) => ({ method: 'GET', path: `/api/v1/exceptions?site=${f.site}&state=all` }) },
  // The fixture's exception is of no project: a project manager's token gets 404 (issue 10 §5).
  'post /api/v1/exceptions/:id/resolve': { req: ({ f }) => ({ method: 'POST', path: `/api/v1/exceptions/${f.exceptionId}/resolve`, body: { resolution: 'counted again' } }), projectScoped: true },
  'put /api/v1/sites/:site/items/:sku/levels': { req: ({ f }) => ({ method: 'PUT', path: `/api/v1/sites/${f.site}/items/SKU-1/levels`, body: { safetyStock: 1000 } }) },
  'get /api/v1/sites/:site/items/:sku/levels': { req: ({ f }) => ({ method: 'GET', path: `/api/v1/sites/${f.site}/items/SKU-1/levels` }) },
  'get /api/v1/alerts': { req: ({ f }) => ({ method: 'GET', path: `/api/v1/alerts?site=${f.site}&state=all` }) },
  // A stock alert is acked by procurement or a site manager, not by maintenance (alerts.ts).
  'post /api/v1/alerts/:id/ack': { req: ({ f }) => ({ method: 'POST', path: `/api/v1/alerts/${f.alertId}/ack` }), handlerRefuses: ['maintenance'] },
  'post /api/v1/webhooks': { req: ({ f }) => ({ method: 'POST', path: '/api/v1/webhooks', body: { url: 'http://127.0.0.1:9/hook', secret: 'sixteen-characters!', role: 'procurement', site: f.site } }) },
  'get /api/v1/webhooks': { req: ({ f }) => ({ method: 'GET', path: `/api/v1/webhooks?site=${f.site}` }) },
  'delete /api/v1/webhooks/:id': {
    req: async ({ api, f }) => {
      const w = await api.call('POST', '/api/v1/webhooks', { body: { url: 'http://127.0.0.1:9/hook', secret: 'sixteen-characters!', role: 'procurement', site: f.site } });
      return { method: 'DELETE', path: `/api/v1/webhooks/${w.body.id as string}` };
    },
  },
  'get /api/v1/webhooks/:id/deliveries': { req: ({ f }) => ({ method: 'GET', path: `/api/v1/webhooks/${f.webhookId}/deliveries` }) },
  'post /api/v1/channels': { req: ({ f }) => ({ method: 'POST', path: '/api/v1/channels', body: channel(f.site) }) },
  'get /api/v1/channels': { req: ({ f }) => ({ method: 'GET', path: `/api/v1/channels?site=${f.site}` }) },
  'delete /api/v1/channels/:id': {
    req: async ({ api, f }) => {
      const c = await api.call('POST', '/api/v1/channels', { body: channel(f.site) });
      return { method: 'DELETE', path: `/api/v1/channels/${c.body.id as string}` };
    },
  },
  'get /api/v1/channels/:id/deliveries': { req: ({ f }) => ({ method: 'GET', path: `/api/v1/channels/${f.channelId}/deliveries` }) },
  'post /api/v1/edges': { req: ({ f, n }) => ({ method: 'POST', path: '/api/v1/edges', body: { site: f.site, edgeId: `e${n()}` } }) },
  'get /api/v1/edges': { req: ({ f }) => ({ method: 'GET', path: `/api/v1/edges?site=${f.site}` }) },
  'post /api/v1/edges/:site/:edgeId/rotate': {
    req: async ({ api, f, n }) => {
      const e = `r${n()}`;
      expect((await api.call('POST', '/api/v1/edges', { body: { site: f.site, edgeId: e } })).status).toBe(201);
      return { method: 'POST', path: `/api/v1/edges/${f.site}/${e}/rotate` };
    },
  },
  'delete /api/v1/edges/:site/:edgeId': {
    req: async ({ api, f, n }) => {
      const e = `d${n()}`;
      expect((await api.call('POST', '/api/v1/edges', { body: { site: f.site, edgeId: e } })).status).toBe(201);
      return { method: 'DELETE', path: `/api/v1/edges/${f.site}/${e}` };
    },
  },
  'post /api/v1/mqtt-users': { req: ({ f }) => ({ method: 'POST', path: '/api/v1/mqtt-users', body: { role: 'alerts', site: f.site } }) },
  'get /api/v1/mqtt-users': { req: ({ f }) => ({ method: 'GET', path: `/api/v1/mqtt-users?site=${f.site}` }) },
  'delete /api/v1/mqtt-users/:username': {
    req: async ({ api, f }) => {
      const u = await api.call('POST', '/api/v1/mqtt-users', { body: { role: 'alerts', site: f.site } });
      return { method: 'DELETE', path: `/api/v1/mqtt-users/${encodeURIComponent(u.body.username as string)}` };
    },
  },
  'post /api/v1/tokens': { req: ({ f, n }) => ({ method: 'POST', path: '/api/v1/tokens', body: { name: `t${n()}`, roles: ['operator'], sites: [f.site] } }) },
  'get /api/v1/tokens': { req: () => ({ method: 'GET', path: '/api/v1/tokens' }) },
  'delete /api/v1/tokens/:id': {
    req: async ({ api, f, n }) => {
      const t = await api.call('POST', '/api/v1/tokens', { body: { name: `d${n()}`, roles: ['operator'], sites: [f.site] } });
      return { method: 'DELETE', path: `/api/v1/tokens/${t.body.id as string}` };
    },
  },

  // --- access and audit (issue 10 §5): users, the audit log ---
  'post /api/v1/users': { req: ({ f, n }) => ({ method: 'POST', path: '/api/v1/users', body: { id: `mx-user-${n()}`, name: 'matrix user', roles: ['operator'], sites: [f.site] } }) },
  'get /api/v1/users': { req: () => ({ method: 'GET', path: '/api/v1/users' }) },
  'get /api/v1/users/:id': {
    req: async ({ api, f, n }) => {
      const u = `mx-user-${n()}`;
      expect((await api.call('POST', '/api/v1/users', { body: { id: u, name: 'matrix user', roles: ['operator'], sites: [f.site] } })).status).toBe(201);
      return { method: 'GET', path: `/api/v1/users/${u}` };
    },
  },
  'get /api/v1/audit': { req: () => ({ method: 'GET', path: '/api/v1/audit?entity=item&id=SKU-1' }) },
  // --- projects (issue 10 §1): projects, BOMs, stage plans ---
  'post /api/v1/projects': { req: ({ f, n }) => ({ method: 'POST', path: '/api/v1/projects', body: { code: `MXP${n()}`, name: 'matrix project', site: f.site, manager: 'mx-pm', contractRevenue: '1000.00', stages: [{ code: 'S1', name: 'stage 1', needBy: '2027-01-01' }] } }) },
  'get /api/v1/projects': { req: ({ f }) => ({ method: 'GET', path: `/api/v1/projects?site=${f.site}` }) },
  'get /api/v1/projects/:code': { req: async ({ api, f }) => ({ method: 'GET', path: `/api/v1/projects/${await matrixProject(api, f.site)}` }), projectScoped: true },
  'put /api/v1/boms/:code': { req: ({ n }) => ({ method: 'PUT', path: `/api/v1/boms/MXB${n()}`, body: { name: 'matrix bom', lines: [{ sku: 'SKU-1', qtyPer: 2, scrapPct: 5 }] } }) },
  'put /api/v1/projects/:code/stages/:stage/plan': {
    req: async ({ api, f }) => ({ method: 'PUT', path: `/api/v1/projects/${await matrixProject(api, f.site)}/stages/S1/plan`, body: { lines: [{ sku: 'SKU-1', qty: 10 }] } }),
    projectScoped: true,
  },
  'get /api/v1/projects/:code/stages/:stage/plan': { req: async ({ api, f }) => ({ method: 'GET', path: `/api/v1/projects/${await matrixProject(api, f.site)}/stages/S1/plan` }), projectScoped: true },
  // --- sales (issue 11 §1): orders and availability ---
  'post /api/v1/sales-orders': { req: ({ f, n }) => ({ method: 'POST', path: '/api/v1/sales-orders', headers: { 'idempotency-key': `mx-so-${n()}` }, body: salesOrder(f.site) }) },
  'get /api/v1/sales-orders': { req: ({ f }) => ({ method: 'GET', path: `/api/v1/sales-orders?site=${f.site}` }) },
  'get /api/v1/sales-orders/:id': { req: async ({ api, f, n }) => ({ method: 'GET', path: `/api/v1/sales-orders/${await newSalesOrder(api, f.site, n())}` }) },
  'post /api/v1/sales-orders/:id/pick': { req: async ({ api, f, n }) => ({ method: 'POST', path: `/api/v1/sales-orders/${await newSalesOrder(api, f.site, n())}/pick`, body: {} }) },
  'post /api/v1/sales-orders/:id/close': { req: async ({ api, f, n }) => ({ method: 'POST', path: `/api/v1/sales-orders/${await shippedSalesOrder(api, f.site, n())}/close`, body: {} }) },
  'post /api/v1/sales-orders/:id/cancel': { req: async ({ api, f, n }) => ({ method: 'POST', path: `/api/v1/sales-orders/${await newSalesOrder(api, f.site, n())}/cancel`, body: {} }) },
  'get /api/v1/availability': { req: ({ f }) => ({ method: 'GET', path: `/api/v1/availability?site=${f.site}&sku=SKU-1` }) },
  // --- counts (issue 11 §4), shortages and ask (§2) ---
  'post /api/v1/counts': { req: ({ f }) => ({ method: 'POST', path: '/api/v1/counts', body: { site: f.site, location: 'WH-1' } }) },
  'get /api/v1/counts/plan': { req: ({ f }) => ({ method: 'GET', path: `/api/v1/counts/plan?site=${f.site}` }) },
  'get /api/v1/counts/:id': { req: async ({ api, f }) => ({ method: 'GET', path: `/api/v1/counts/${await mxCount(api, f.site, 'open')}` }) },
  'post /api/v1/counts/:id/lines': { req: async ({ api, f }) => ({ method: 'POST', path: `/api/v1/counts/${await mxCount(api, f.site, 'open')}/lines`, body: { lines: [{ sku: 'SKU-1', qty: 1 }] } }) },
  'post /api/v1/counts/:id/submit': { req: async ({ api, f }) => ({ method: 'POST', path: `/api/v1/counts/${await mxCount(api, f.site, 'counted')}/submit` }) },
  'post /api/v1/counts/:id/post': { req: async ({ api, f }) => ({ method: 'POST', path: `/api/v1/counts/${await mxCount(api, f.site, 'submitted')}/post` }) },
  'post /api/v1/counts/:id/approve': { req: async ({ api, f }) => ({ method: 'POST', path: `/api/v1/counts/${await mxCount(api, f.site, 'pending')}/approve`, body: {} }), handlerRefuses: ['finance', 'procurement', 'project-manager', 'admin'] },
  'post /api/v1/counts/:id/reject': { req: async ({ api, f }) => ({ method: 'POST', path: `/api/v1/counts/${await mxCount(api, f.site, 'pending')}/reject`, body: { comment: 'recount' } }), handlerRefuses: ['finance', 'procurement', 'project-manager', 'admin'] },
  'get /api/v1/projects/:code/shortages': { req: async ({ api, f }) => ({ method: 'GET', path: `/api/v1/projects/${await matrixProject(api, f.site)}/shortages?all=1` }), projectScoped: true },
  'post /api/v1/ask': { req: () => ({ method: 'POST', path: '/api/v1/ask', body: { q: 'what is project MXP-NONE missing?' } }) },
  // --- forecast (issue 11 §3) ---
  'get /api/v1/forecast': { req: ({ f }) => ({ method: 'GET', path: `/api/v1/forecast?site=${f.site}&sku=SKU-1&period=day&alpha=0.1&beta=0.1` }) },
  'post /api/v1/reorder-suggestions/requisition': { req: async ({ api, f }) => ({ method: 'POST', path: '/api/v1/reorder-suggestions/requisition', body: { site: f.site, project: await matrixProject(api, f.site), stage: 'S1', period: 'day' } }) },
  'get /api/v1/reorder-suggestions': { req: ({ f }) => ({ method: 'GET', path: `/api/v1/reorder-suggestions?site=${f.site}&period=day` }) },
  // --- costing (issue 10 §4): cost lines, the cost report, the month close ---
  'post /api/v1/projects/:code/costs': {
    projectScoped: true,
    req: async ({ api, f }) => ({ method: 'POST', path: `/api/v1/projects/${await costProject(api, f.site)}/costs`, body: { category: 'labour', amount: '10.00', date: '2026-12-05', stage: 'S1' } }),
  },
  'get /api/v1/projects/:code/cost-report': { projectScoped: true, req: async ({ api, f }) => ({ method: 'GET', path: `/api/v1/projects/${await costProject(api, f.site)}/cost-report` }) },
  'post /api/v1/purchase-orders/:id/landed-costs': { req: async ({ api, f }) => ({ method: 'POST', path: `/api/v1/purchase-orders/${await costPo(api, f.site)}/landed-costs`, body: { amount: '1.00', allocate: 'qty' } }) },
  // Each call closes a later month of a long-gone century (months close in order; cost lines of today stay open).
  'post /api/v1/periods/:period/close': { req: ({ n }) => ({ method: 'POST', path: `/api/v1/periods/${oldMonth(n())}/close` }) },
  // --- procurement (issue 10 §2-3): suppliers, approval rules, purchase orders ---
  'put /api/v1/suppliers/:code': { req: ({ n }) => ({ method: 'PUT', path: `/api/v1/suppliers/MX-SUP-${n()}`, body: { name: 'matrix supplier', leadTimeDays: 3 } }) },
  'get /api/v1/suppliers': { req: () => ({ method: 'GET', path: '/api/v1/suppliers' }) },
  'get /api/v1/suppliers/:code': { req: async ({ api }) => (await mxSupplier(api), { method: 'GET', path: '/api/v1/suppliers/MX-SUP' }) },
  'put /api/v1/sites/:site/approval-rules': { req: ({ f }) => ({ method: 'PUT', path: `/api/v1/sites/${f.site}/approval-rules`, body: mxRules }) },
  'get /api/v1/sites/:site/approval-rules': { req: ({ f }) => ({ method: 'GET', path: `/api/v1/sites/${f.site}/approval-rules` }) },
  'post /api/v1/purchase-orders': { req: async ({ api, f }) => (await mxSupplier(api), { method: 'POST', path: '/api/v1/purchase-orders', body: mxPo(f.site) }) },
  'get /api/v1/purchase-orders': { req: ({ f }) => ({ method: 'GET', path: `/api/v1/purchase-orders?site=${f.site}` }) },
  'get /api/v1/purchase-orders/:id': { projectScoped: true, req: async ({ api, f }) => ({ method: 'GET', path: `/api/v1/purchase-orders/${await newPo(api, f.site)}` }) },
  'post /api/v1/purchase-orders/:id/submit': { req: async ({ api, f }) => ({ method: 'POST', path: `/api/v1/purchase-orders/${await newPo(api, f.site)}/submit` }) },
  // Decided by a holder of the step's role (procurement): site managers, finance and admin hold the route role, not the step.
  // A PM sees POs for their projects only (this one is for none: 404).
  'post /api/v1/purchase-orders/:id/approve': { projectScoped: true, req: async ({ api, f }) => ({ method: 'POST', path: `/api/v1/purchase-orders/${await pendingPo(api, f.site)}/approve`, body: { comment: 'ok' } }), handlerRefuses: ['site-manager', 'finance', 'admin'] },
  'post /api/v1/purchase-orders/:id/reject': { projectScoped: true, req: async ({ api, f }) => ({ method: 'POST', path: `/api/v1/purchase-orders/${await pendingPo(api, f.site)}/reject`, body: { comment: 'no' } }), handlerRefuses: ['site-manager', 'finance', 'admin'] },
  'post /api/v1/purchase-orders/:id/cancel': { req: async ({ api, f }) => ({ method: 'POST', path: `/api/v1/purchase-orders/${await newPo(api, f.site)}/cancel` }) },
  'post /api/v1/purchase-orders/:id/close': { req: async ({ api, f }) => ({ method: 'POST', path: `/api/v1/purchase-orders/${await approvedPo(api, f.site)}/close` }) },
  // Requisitions of the site's matrix project (a PM of no user manages none: 404); the procurement step is the site band's.
  'post /api/v1/requisitions': { projectScoped: true, req: async ({ api, f }) => ({ method: 'POST', path: '/api/v1/requisitions', body: await mxReq(api, f.site) }) },
  'get /api/v1/requisitions': { req: ({ f }) => ({ method: 'GET', path: `/api/v1/requisitions?site=${f.site}` }) },
  'get /api/v1/requisitions/:id': { projectScoped: true, req: async ({ api, f }) => ({ method: 'GET', path: `/api/v1/requisitions/${await newReq(api, f.site)}` }) },
  'put /api/v1/requisitions/:id': { projectScoped: true, req: async ({ api, f }) => ({ method: 'PUT', path: `/api/v1/requisitions/${await newReq(api, f.site)}`, body: { lines: [{ sku: 'SKU-1', qty: 2, unitPrice: '1.00' }] } }) },
  'post /api/v1/requisitions/:id/submit': { projectScoped: true, req: async ({ api, f }) => (await mxRulesOn(api, f.site), { method: 'POST', path: `/api/v1/requisitions/${await newReq(api, f.site)}/submit` }) },
  'post /api/v1/requisitions/:id/approve': { projectScoped: true, req: async ({ api, f }) => ({ method: 'POST', path: `/api/v1/requisitions/${await pendingReq(api, f.site)}/approve`, body: {} }), handlerRefuses: ['site-manager', 'finance', 'admin'] },
  'post /api/v1/requisitions/:id/reject': { projectScoped: true, req: async ({ api, f }) => ({ method: 'POST', path: `/api/v1/requisitions/${await pendingReq(api, f.site)}/reject`, body: { comment: 'no' } }), handlerRefuses: ['site-manager', 'finance', 'admin'] },
  'post /api/v1/purchase-orders/from-requisitions': { req: async ({ api, f }) => (await mxSupplier(api), { method: 'POST', path: '/api/v1/purchase-orders/from-requisitions', body: { requisitions: [await approvedReq(api, f.site)], supplier: 'MX-SUP', expectedAt: '2026-12-31' } }) },
};

/** 'yyyy-mm' of the k-th month after 1000-01: increasing with k. */
const oldMonth = (k: number) => `${1000 + Math.floor(k / 12)}-${String((k % 12) + 1).padStart(2, '0')}`;

/** A purchase order of the site for the landed-cost example, created once over the API. */
const costPos = new Map<string, string>();
async function costPo(api: ApiCloud, site: string): Promise<string> {
  const known = costPos.get(site);
  if (known) return known;
  expect((await api.call('PUT', '/api/v1/suppliers/MX-SUP', { body: { name: 'matrix supplier', leadTimeDays: 1 } })).status).toBeLessThan(300);
  const r = await api.call('POST', '/api/v1/purchase-orders', { body: { supplier: 'MX-SUP', site, expectedAt: '2027-01-01', lines: [{ sku: 'SKU-1', qty: 10, unitPrice: '3.00' }] } });
  expect(r.status).toBe(201);
  costPos.set(site, r.body.id as string);
  return r.body.id as string;
}

/** A project of the site for the costing examples (`CX-<site>`, stage S1), created once over the API. */
async function costProject(api: ApiCloud, site: string): Promise<string> {
  const code = `CX-${site}`.slice(0, 64);
  if ((await api.call('GET', `/api/v1/projects/${code}`)).status === 200) return code;
  const r = await api.call('POST', '/api/v1/projects', { body: { code, name: 'matrix project', site, manager: 'mx-pm', contractRevenue: '1000.00', stages: [{ code: 'S1', name: 'stage 1', needBy: '2027-01-01' }] } });
  expect(r.status).toBe(201);
  return code;
}


/** Procurement fixtures: a supplier, the site's PO band (any amount: one procurement step), POs in each state. */
const mxRules = { rules: [{ docType: 'purchase-order', minAmount: '0.00', steps: ['procurement'] }, { docType: 'requisition', minAmount: '0.00', steps: ['procurement'] }] };
const mxPo = (site: string) => ({ supplier: 'MX-SUP', site, expectedAt: '2026-12-31', lines: [{ sku: 'SKU-1', qty: 5, unitPrice: '2.50' }] });
async function mxSupplier(api: ApiCloud): Promise<void> {
  expect((await api.call('PUT', '/api/v1/items/SKU-1', { body: { name: 'matrix item', uom: 'ea' } })).status).toBe(200);
  expect((await api.call('PUT', '/api/v1/suppliers/MX-SUP', { body: { name: 'matrix supplier', leadTimeDays: 2 } })).status).toBe(200);
}
async function newPo(api: ApiCloud, site: string): Promise<string> {
  await mxSupplier(api);
  const r = await api.call('POST', '/api/v1/purchase-orders', { body: mxPo(site) });
  expect(r.status, r.text).toBe(201);
  return r.body.id as string;
}
const mxBuyers = new Map<string, string>();
/** A PO waiting for its procurement step (the site's band is set first). */
async function pendingPo(api: ApiCloud, site: string): Promise<string> {
  expect((await api.call('PUT', `/api/v1/sites/${site}/approval-rules`, { body: mxRules })).status).toBe(200);
  const id = await newPo(api, site);
  const r = await api.call('POST', `/api/v1/purchase-orders/${id}/submit`);
  expect(r.body.status, r.text).toBe('pending');
  return id;
}
async function mxRulesOn(api: ApiCloud, site: string): Promise<void> {
  expect((await api.call('PUT', `/api/v1/sites/${site}/approval-rules`, { body: mxRules })).status).toBe(200);
}
async function mxBuyer(api: ApiCloud, site: string): Promise<string> {
  if (!mxBuyers.has(site)) mxBuyers.set(site, (await api.call('POST', '/api/v1/tokens', { body: { name: `mx-buyer-${site}`, roles: ['procurement'], sites: [site] } })).body.token as string);
  return mxBuyers.get(site)!;
}
const mxReq = async (api: ApiCloud, site: string) => (await mxSupplier(api), { kind: 'purchase', project: await costProject(api, site), stage: 'S1', lines: [{ sku: 'SKU-1', qty: 1, unitPrice: '1.00' }] });
async function newReq(api: ApiCloud, site: string): Promise<string> {
  const r = await api.call('POST', '/api/v1/requisitions', { body: await mxReq(api, site) });
  expect(r.status, r.text).toBe(201);
  return r.body.id as string;
}
/** A requisition waiting for the site band's procurement step. */
async function pendingReq(api: ApiCloud, site: string): Promise<string> {
  await mxRulesOn(api, site);
  const id = await newReq(api, site);
  expect((await api.call('POST', `/api/v1/requisitions/${id}/submit`)).body.status).toBe('pending');
  return id;
}
async function approvedReq(api: ApiCloud, site: string): Promise<string> {
  const id = await pendingReq(api, site);
  const r = await api.call('POST', `/api/v1/requisitions/${id}/approve`, { token: await mxBuyer(api, site), body: {} });
  expect(r.body.status, r.text).toBe('approved');
  return id;
}
/** An approved PO (approved by a buyer of the site when the site has a PO band). */
async function approvedPo(api: ApiCloud, site: string): Promise<string> {
  const id = await newPo(api, site);
  const r = await api.call('POST', `/api/v1/purchase-orders/${id}/submit`);
  if (r.body.status === 'pending') {
    expect((await api.call('POST', `/api/v1/purchase-orders/${id}/approve`, { token: await mxBuyer(api, site), body: {} })).body.status).toBe('approved');
  }
  return id;
}
/** A 1-unit order of SKU-1 that takes what is free (the fixture's stock may be negative). */
export const salesOrder = (site: string) => ({ site, customer: 'matrix', lines: [{ sku: 'SKU-1', qty: 1, unitPrice: '1.00' }], allowPartial: true });
async function newSalesOrder(api: ApiCloud, site: string, n: number): Promise<string> {
  const r = await api.call('POST', '/api/v1/sales-orders', { headers: { 'idempotency-key': `mx-so-new-${n}` }, body: salesOrder(site) });
  expect(r.status).toBe(201);
  return r.body.id as string;
}

/** A count of the site at the stage asked for (opened by the admin token: the approvers are others). */
async function mxCount(api: ApiCloud, site: string, stage: 'open' | 'counted' | 'submitted' | 'pending'): Promise<string> {
  const c = await api.call('POST', '/api/v1/counts', { body: { site, location: 'WH-1', skus: ['SKU-1'] } });
  expect(c.status, c.text).toBe(201);
  const cid = c.body.id as string;
  if (stage === 'open') return cid;
  expect((await api.call('POST', `/api/v1/counts/${cid}/lines`, { body: { lines: [{ sku: 'SKU-1', qty: 1 }] } })).status).toBe(200);
  if (stage === 'counted') return cid;
  expect((await api.call('POST', `/api/v1/counts/${cid}/submit`)).status).toBe(200);
  if (stage === 'submitted') return cid;
  // A count-adjustment band from 0 with one site-manager step, beside the site's other rules.
  const have = (await api.call('GET', `/api/v1/sites/${site}/approval-rules`)).body?.rules ?? [];
  const rules = [...have.filter((r: { docType: string }) => r.docType !== 'count-adjustment'), { docType: 'count-adjustment', minAmount: '0.00', steps: ['site-manager'] }];
  expect((await api.call('PUT', `/api/v1/sites/${site}/approval-rules`, { body: { rules } })).status).toBe(200);
  const p = await api.call('POST', `/api/v1/counts/${cid}/post`);
  expect(p.body.status).toBe('pending-approval');
  return cid;
}

/** An order shipped by an issue carrying `order` (the ledger follower consumes it). */
async function shippedSalesOrder(api: ApiCloud, site: string, n: number): Promise<string> {
  expect((await api.call('POST', '/api/v1/movements', { body: { movements: [receive(site, id(n * 1000 + 1), { sku: 'SKU-SO', qty: 5 })] } })).status).toBe(201);
  const r = await api.call('POST', '/api/v1/sales-orders', { headers: { 'idempotency-key': `mx-so-ship-${n}` }, body: { site, customer: 'matrix', lines: [{ sku: 'SKU-SO', qty: 1, unitPrice: '1.00' }] } });
  expect(r.status).toBe(201);
  const so = r.body.id as string;
  expect((await api.call('POST', '/api/v1/movements', { body: { movements: [receive(site, id(n * 1000 + 2), { sku: 'SKU-SO', kind: 'issue', qty: 1, order: so })] } })).status).toBe(201);
  await waitFor(async () => (await api.call('GET', `/api/v1/sales-orders/${so}`)).body.status === 'shipped', `sales order ${so} shipped`);
  return so;
}

/** The fixture site's project (created once, by the admin), managed by a user the matrix has no token of. */
export async function matrixProject(api: ApiCloud, site: string): Promise<string> {
  const code = `MXP-${site}`;
  const r = await api.call('POST', '/api/v1/projects', { body: { code, name: 'matrix project', site, manager: 'mx-pm', contractRevenue: '1000.00', stages: [{ code: 'S1', name: 'stage 1', needBy: '2027-01-01' }] } });
  expect([201, 409]).toContain(r.status);
  return code;
}

/** Data of one site for the examples: movements, an open exception, a stock alert, a webhook, an edge and a dead letter. */
export async function seedSite(api: ApiCloud, site: string, n: () => number): Promise<SiteFixture> {
  const movementId = id(n());
  const post = await api.call('POST', '/api/v1/movements', { body: { movements: [receive(site, movementId), receive(site, id(n()), { kind: 'issue', qty: 100 })] } });
  expect(post.status).toBe(201);
  expect((await api.call('PUT', `/api/v1/sites/${site}/items/SKU-1/levels`, { body: { safetyStock: 1000 } })).status).toBe(200);
  const exceptionId = (await api.call('GET', `/api/v1/exceptions?site=${site}`)).body.items[0].id as number;
  const alertId = (await api.call('GET', `/api/v1/alerts?site=${site}`)).body.items[0].id as string;
  const webhookId = (await api.call('POST', '/api/v1/webhooks', { body: { url: 'http://127.0.0.1:9/hook', secret: 'sixteen-characters!', role: 'procurement', site } })).body.id as string;

  // A dead letter of this site, through the real door: an edge of the site publishes garbage.
  const creds = (await api.call('POST', '/api/v1/edges', { body: { site, edgeId: 'dl' } })).body as { username: string; password: string };
  const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${api.cloud.mqttPort!}`, { username: creds.username, password: creds.password, reconnectPeriod: 0 });
  await c.publishAsync(topics.movements(site, 'dl'), `not json from ${site}`, { qos: 1 });
  await waitFor(async () => (await api.call('GET', `/api/v1/dead-letters?site=${site}`)).body.items.length > 0, `dead letter of ${site}`);
  await c.endAsync();
  const channelId = (await api.call('POST', '/api/v1/channels', { body: channel(site) })).body.id as string;
  return { site, movementId, exceptionId, alertId, webhookId, channelId };
}

