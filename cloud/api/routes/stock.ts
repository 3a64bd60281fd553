import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { type ApiDeps, Id, Limit, query, READ_ROLES } from '../common.js';
import { Cursor, SiteParam } from '../input.js';
import { scope } from '../scope.js';
import type { RouteDoc } from '../openapi.js';
import { DeadLetterSchema, LedgerRowSchema, page, SkuTotalSchema, StockRowSchema } from '../schemas.js';

const StockQuery = z.object({ site: SiteParam.optional(), sku: Id.optional(), location: Id.optional() });
const SiteQuery = z.object({ site: SiteParam.optional() });
const MovementsQuery = z.object({ site: SiteParam.optional(), limit: Limit(1000, 100), before: Cursor.optional() });
const DeadLettersQuery = z.object({ site: SiteParam.optional(), limit: Limit(1000, 100), before: Cursor.optional() });

export const stockDocs: RouteDoc[] = [
  { method: 'get', path: '/api/v1/stock', tag: 'stock', summary: 'Balances per site, location, SKU, batch and project', roles: READ_ROLES, query: StockQuery, response: z.object({ items: z.array(StockRowSchema) }) },
  { method: 'get', path: '/api/v1/stock/totals', tag: 'stock', summary: 'Totals per site and SKU across locations, batches and projects', roles: READ_ROLES, query: SiteQuery, response: z.object({ items: z.array(SkuTotalSchema) }) },
  { method: 'get', path: '/api/v1/movements', tag: 'ledger', summary: 'Ledger rows, newest first (cursor: before=next)', roles: READ_ROLES, query: MovementsQuery, response: page(LedgerRowSchema) },
  { method: 'get', path: '/api/v1/dead-letters', tag: 'ingest', summary: 'Rejected payloads with reason and message, newest first (a token limited to sites sees only theirs)', roles: ['maintenance'], query: DeadLettersQuery, response: page(DeadLetterSchema) },
];

/**
 * Stock, ledger and dead letters. Scope: each route declares `scope.query()` - the framework
 * checks a named `?site=`, and the handler filters by `req.scope.site(...)`, so a token limited
 * to site A never reads site B (issue 8 #5).
 */
export async function stockRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  app.get('/api/v1/stock', { config: { roles: READ_ROLES, scope: scope.query() } }, async (req) => {
    const q = query(StockQuery, req);
    const s = req.scope.site(q.site);
    return { items: await deps.store.stock({ ...q, ...(s === undefined ? {} : { site: s }) }) };
  });

  app.get('/api/v1/stock/totals', { config: { roles: READ_ROLES, scope: scope.query() } }, async (req) => {
    const q = query(SiteQuery, req);
    const s = req.scope.site(q.site);
    return { items: await deps.store.totals(s === undefined ? {} : { site: s }) };
  });

  app.get('/api/v1/movements', { config: { roles: READ_ROLES, scope: scope.query() } }, async (req) => {
    const q = query(MovementsQuery, req);
    const s = req.scope.site(q.site);
    const items = await deps.store.movements({ limit: q.limit, ...(s === undefined ? {} : { site: s }), ...(q.before ? { before: q.before } : {}) });
    const last = items[items.length - 1];
    return { items, next: items.length === q.limit && last ? String(last.pos) : null };
  });

  app.get('/api/v1/dead-letters', { config: { roles: ['maintenance'], scope: scope.query() } }, async (req) => {
    const q = query(DeadLettersQuery, req);
    const s = req.scope.site(q.site);
    const items = await deps.store.deadLetters({ limit: q.limit, ...(s === undefined ? {} : { site: s }), ...(q.before ? { before: q.before } : {}) });
    const last = items[items.length - 1];
    return { items, next: items.length === q.limit && last ? String(last.id) : null };
  });
}
