import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { type ApiDeps, Id, Limit, query, READ_ROLES, scopedSite } from '../common.js';
import type { RouteDoc } from '../openapi.js';
import { DeadLetterSchema, LedgerRowSchema, page, SkuTotalSchema, StockRowSchema } from '../schemas.js';

const StockQuery = z.object({ site: Id.optional(), sku: Id.optional(), location: Id.optional() });
const SiteQuery = z.object({ site: Id.optional() });
const MovementsQuery = z.object({ site: Id.optional(), limit: Limit(1000, 100), before: z.coerce.number().int().positive().optional() });
const DeadLettersQuery = z.object({ limit: Limit(1000, 100), before: z.coerce.number().int().positive().optional() });

export const stockDocs: RouteDoc[] = [
  { method: 'get', path: '/api/v1/stock', tag: 'stock', summary: 'Balances per site, location, SKU, batch and project', roles: READ_ROLES, query: StockQuery, response: z.object({ items: z.array(StockRowSchema) }) },
  { method: 'get', path: '/api/v1/stock/totals', tag: 'stock', summary: 'Totals per site and SKU across locations, batches and projects', roles: READ_ROLES, query: SiteQuery, response: z.object({ items: z.array(SkuTotalSchema) }) },
  { method: 'get', path: '/api/v1/movements', tag: 'ledger', summary: 'Ledger rows, newest first (cursor: before=next)', roles: READ_ROLES, query: MovementsQuery, response: page(LedgerRowSchema) },
  { method: 'get', path: '/api/v1/dead-letters', tag: 'ingest', summary: 'Rejected payloads with reason and message, newest first', roles: ['maintenance'], query: DeadLettersQuery, response: page(DeadLetterSchema) },
];

/** Stock, ledger and dead letters. */
export async function stockRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  app.get('/api/v1/stock', { config: { roles: READ_ROLES } }, async (req) => {
    const q = query(StockQuery, req);
    const s = scopedSite(req, q.site);
    return { items: await deps.store.stock({ ...q, ...(s === undefined ? {} : { site: s }) }) };
  });

  app.get('/api/v1/stock/totals', { config: { roles: READ_ROLES } }, async (req) => {
    const q = query(SiteQuery, req);
    const s = scopedSite(req, q.site);
    return { items: await deps.store.totals(s === undefined ? {} : { site: s }) };
  });

  app.get('/api/v1/movements', { config: { roles: READ_ROLES } }, async (req) => {
    const q = query(MovementsQuery, req);
    const s = scopedSite(req, q.site);
    const items = await deps.store.movements({ limit: q.limit, ...(s === undefined ? {} : { site: s }), ...(q.before ? { before: q.before } : {}) });
    const last = items[items.length - 1];
    return { items, next: items.length === q.limit && last ? String(last.pos) : null };
  });

  app.get('/api/v1/dead-letters', { config: { roles: ['maintenance'] } }, async (req) => {
    const q = query(DeadLettersQuery, req);
    const items = await deps.store.deadLetters({ limit: q.limit, ...(q.before ? { before: q.before } : {}) });
    const last = items[items.length - 1];
    return { items, next: items.length === q.limit && last ? String(last.id) : null };
  });
}
