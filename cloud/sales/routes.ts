/**
 * Sales order and availability routes (issue 11 §1), a route plugin with zod schemas (OpenAPI
 * generated from `salesDocs`) and a scope declaration on every route.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { qtyProblem } from '../../protocols/ledger/quantity.js';
import { type ApiDeps, body, Limit, query, READ_ROLES } from '../api/common.js';
import { SiteParam } from '../api/input.js';
import type { RouteDoc } from '../api/openapi.js';
import { bodySite, redactCost, type Scope, scope } from '../api/scope.js';
import { actor } from '../audit/index.js';
import type { Principal, Role } from '../auth/auth.js';
import { Errors } from '../errors.js';
import { MONEY_STRING, MoneyError, parseMoney } from '../money.js';
import { Sku } from '../catalog/model.js';
import { SalesErrors } from './errors.js';
import { incomingOf } from '../procurement/index.js';
import { type OrderView, salesService, toRequest } from './service.js';

/** Who may take orders and move them; everyone who reads stock may read them. */
const WRITE_ROLES: readonly Role[] = ['site-manager', 'operator'];

const Qty = z.number().positive().refine((x) => qtyProblem(x) === undefined, { message: 'at most 3 decimals, at most 1e12' });
const Price = z.string().regex(MONEY_STRING, 'a decimal string with at most 2 decimals, e.g. "12.50"');
export const OrderBody = z.strictObject({
  site: SiteParam,
  customer: z.string().min(1).max(200),
  lines: z.array(z.strictObject({ sku: Sku, qty: Qty, unitPrice: Price })).min(1).max(200),
  allowPartial: z.boolean().optional(),
});
const OrderId = z.string().regex(/^SO-[0-9A-F]{16}$/, 'a sales order id, SO- and 16 hex digits');
const ActBody = z.strictObject({ comment: z.string().max(500).optional() }).optional();
const ListQuery = z.object({ site: SiteParam.optional(), status: z.string().max(32).optional(), limit: Limit(500, 100), before: z.string().max(64).optional() });
const AvailabilityQuery = z.object({ site: SiteParam, sku: Sku });

const Created = z.object({ id: z.string(), status: z.enum(['reserved', 'partially-reserved', 'backordered']), lines: z.array(z.object({ sku: z.string(), qty: z.number(), reserved: z.number() })) });
const OrderSchema = z.object({
  id: z.string(),
  site: z.string(),
  customer: z.string(),
  status: z.string(),
  allowPartial: z.boolean(),
  createdBy: z.string(),
  createdAt: z.string(),
  lines: z.array(z.object({ line: z.number(), sku: z.string(), qty: z.number(), reserved: z.number(), shipped: z.number(), unitPrice: z.string().optional(), reservation: z.string().nullable() })),
  timeline: z.array(z.object({ state: z.string(), at: z.string(), by: z.string(), note: z.string().optional() })),
});
const AvailabilitySchema = z.object({ onHand: z.number(), reserved: z.number(), available: z.number(), incoming: z.array(z.object({ po: z.string(), qty: z.number(), expectedAt: z.string() })) });

export const salesDocs: RouteDoc[] = [
  {
    method: 'post',
    path: '/api/v1/sales-orders',
    tag: 'sales',
    summary: 'Create a sales order and reserve its lines (header Idempotency-Key required; a replay answers the first answer). Without allowPartial, 409 SG_ERR_INSUFFICIENT_STOCK with lines [{sku, requested, available}] reserves nothing',
    roles: WRITE_ROLES,
    body: OrderBody,
    response: Created,
    status: 201,
    errors: { 409: 'SG_ERR_INSUFFICIENT_STOCK (lines), or SG_ERR_IDEMPOTENCY_CONFLICT', 503: 'SG_ERR_LOCK_TIMEOUT: retry' },
  },
  { method: 'get', path: '/api/v1/sales-orders', tag: 'sales', summary: 'Sales orders of the caller\'s sites, newest first (cursor: before=id)', roles: READ_ROLES, query: ListQuery, response: z.object({ items: z.array(z.object({ id: z.string(), site: z.string(), customer: z.string(), status: z.string(), createdAt: z.string() })), next: z.string().nullable() }) },
  { method: 'get', path: '/api/v1/sales-orders/:id', tag: 'sales', summary: 'One sales order with its lines (reserved, shipped) and timeline (every state, when, by whom)', roles: READ_ROLES, response: OrderSchema },
  { method: 'post', path: '/api/v1/sales-orders/:id/pick', tag: 'sales', summary: 'Start picking (reserved | partially-reserved | backordered -> picking)', roles: WRITE_ROLES, body: ActBody, response: OrderSchema, errors: { 409: 'SG_ERR_ILLEGAL_TRANSITION' } },
  { method: 'post', path: '/api/v1/sales-orders/:id/close', tag: 'sales', summary: 'Close a shipped order (shipped -> closed); shipping itself is issues scanned against the order (stockgate:so/ID, or a movement carrying order)', roles: WRITE_ROLES, body: ActBody, response: OrderSchema, errors: { 409: 'SG_ERR_ILLEGAL_TRANSITION' } },
  { method: 'post', path: '/api/v1/sales-orders/:id/cancel', tag: 'sales', summary: 'Cancel an order that has not shipped; its reservations are released', roles: WRITE_ROLES, body: ActBody, response: OrderSchema, errors: { 409: 'SG_ERR_ILLEGAL_TRANSITION' } },
  { method: 'get', path: '/api/v1/availability', tag: 'sales', summary: 'On hand, reserved (active reservations of orders and requisitions), available = onHand - reserved, and incoming PO lines of a SKU at a site', roles: READ_ROLES, query: AvailabilityQuery, response: AvailabilitySchema },
];

/**
 * unitPrice is a cost field (issue 10 §5): a selling price is no purchasing price and belongs to
 * no project, so only admin and finance see it (`inventory` context); omitted, not zeroed.
 */
const redactOrder = (o: OrderView, scope: Scope): OrderView => redactCost(o, scope, { kind: 'inventory' });

const KEY = /^[\x21-\x7e]{1,128}$/;

export async function salesRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  const sales = salesService(deps.db);
  // Availability's `incoming`: procurement's open PO lines (approved or partially received).
  sales.incoming ??= async (site, sku) => (await incomingOf(deps.db.kysely, site, sku)).map((l) => ({ po: l.po, qty: l.qty, expectedAt: l.expectedAt }));
  const orderScope = scope.resource('sales order', OrderId, (_d, id: string) => sales.site(id));
  const who = (p: Principal | undefined) => actor(p);

  app.post('/api/v1/sales-orders', { config: { roles: WRITE_ROLES, scope: scope.body(bodySite) } }, async (req, reply) => {
    const input = body(OrderBody, req);
    const raw = req.headers['idempotency-key'];
    const key = Array.isArray(raw) ? raw[0] : raw;
    if (!key || !KEY.test(key)) throw new SalesErrors.IdempotencyKey('Idempotency-Key: required header, 1-128 printable ASCII characters');
    const parsed = toRequest(input, (v, field) => {
      try {
        return parseMoney(v, field);
      } catch (err) {
        if (err instanceof MoneyError) throw new Errors.BadBody(`${field}: ${err.message}`);
        throw err;
      }
    });
    const a = await sales.create(who(req.principal), key, input, parsed);
    if (a.replayed) reply.header('idempotent-replayed', 'true');
    return reply.status(a.statusCode).send(a.body);
  });

  app.get('/api/v1/sales-orders', { config: { roles: READ_ROLES, scope: scope.query() } }, async (req) => {
    const q = query(ListQuery, req);
    const items = await sales.list({ sites: req.scope.sitesFor(q.site), limit: q.limit, ...(q.status ? { status: q.status } : {}), ...(q.before ? { before: q.before } : {}) });
    return { items, next: items.length === q.limit ? items[items.length - 1]!.id : null };
  });

  app.get('/api/v1/sales-orders/:id', { config: { roles: READ_ROLES, scope: orderScope } }, async (req) => {
    const o = await sales.order((req.params as { id: string }).id);
    if (!o) throw new Errors.NotFound('id: no such sales order');
    return redactOrder(o, req.scope);
  });

  for (const action of ['pick', 'close', 'cancel'] as const) {
    app.post(`/api/v1/sales-orders/:id/${action}`, { config: { roles: WRITE_ROLES, scope: orderScope } }, async (req) => {
      const b = body(ActBody, req);
      return redactOrder(await sales.act((req.params as { id: string }).id, action, who(req.principal), b?.comment), req.scope);
    });
  }

  app.get('/api/v1/availability', { config: { roles: READ_ROLES, scope: scope.query() } }, async (req) => {
    const q = query(AvailabilityQuery, req);
    return sales.availability(req.scope.site(q.site)!, q.sku);
  });
}


