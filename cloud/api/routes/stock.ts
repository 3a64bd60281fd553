import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { type ApiDeps, Id, Limit, query, READ_ROLES, scopedSite } from '../common.js';

/** Stock, ledger and dead letters. */
export async function stockRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  app.get('/api/v1/stock', { config: { roles: READ_ROLES } }, async (req) => {
    const q = query(z.object({ site: Id.optional(), sku: Id.optional(), location: Id.optional() }), req);
    const s = scopedSite(req, q.site);
    return { items: await deps.store.stock({ ...q, ...(s === undefined ? {} : { site: s }) }) };
  });

  app.get('/api/v1/stock/totals', { config: { roles: READ_ROLES } }, async (req) => {
    const q = query(z.object({ site: Id.optional() }), req);
    const s = scopedSite(req, q.site);
    return { items: await deps.store.totals(s === undefined ? {} : { site: s }) };
  });

  app.get('/api/v1/movements', { config: { roles: READ_ROLES } }, async (req) => {
    const q = query(z.object({ site: Id.optional(), limit: Limit(1000, 100), before: z.coerce.number().int().positive().optional() }), req);
    const s = scopedSite(req, q.site);
    const items = await deps.store.movements({ limit: q.limit, ...(s === undefined ? {} : { site: s }), ...(q.before ? { before: q.before } : {}) });
    const last = items[items.length - 1];
    return { items, next: items.length === q.limit && last ? String(last.pos) : null };
  });

  app.get('/api/v1/dead-letters', { config: { roles: ['maintenance'] } }, async (req) => {
    const q = query(z.object({ limit: Limit(1000, 100), before: z.coerce.number().int().positive().optional() }), req);
    const items = await deps.store.deadLetters({ limit: q.limit, ...(q.before ? { before: q.before } : {}) });
    const last = items[items.length - 1];
    return { items, next: items.length === q.limit && last ? String(last.id) : null };
  });
}
