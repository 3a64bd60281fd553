import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { Movement, MovementFields, SCHEMA_VERSION } from '../../../protocols/mqtt/index.js';
import { Errors } from '../../errors.js';
import { API_EDGE } from '../../store/store.js';
import { type ApiDeps, body, Id, Limit, query, READ_ROLES, scopedSite } from '../common.js';
import type { RouteDoc } from '../openapi.js';
import { ExceptionRowSchema, LedgerRowSchema, page, StockRowSchema } from '../schemas.js';

/**
 * A movement entered over REST (ERP integration, manual entry): the wire movement without the
 * edge's `v`, `edge` and `seq`. `id` is the client's idempotency key: posting the same id again
 * is answered `duplicate` and not applied twice, exactly as for MQTT.
 */
const RestMovement = MovementFields.omit({ v: true, edge: true, seq: true }).extend({
  device: MovementFields.shape.device.default({ id: 'api', type: 'manual' }),
  raw: z.string().max(4096).default(''),
});

const PostMovements = z.object({ movements: z.array(z.unknown()).min(1).max(1000) });
const ExceptionsQuery = z.object({
  site: Id.optional(),
  state: z.enum(['open', 'resolved', 'all']).default('open'),
  limit: Limit(1000, 100),
  before: z.coerce.number().int().positive().optional(),
});
const ResolveBody = z.object({ resolution: z.string().min(1).max(1000) });
const FefoQuery = z.object({ site: Id, sku: Id });
const EXCEPTION_ROLES = ['site-manager', 'procurement', 'finance', 'operator'] as const;

export const ledgerDocs: RouteDoc[] = [
  { method: 'get', path: '/api/v1/movements/:id', tag: 'ledger', summary: 'One ledger row: the movement, its raw frame, edge, operator and device (audit)', roles: READ_ROLES, response: LedgerRowSchema },
  {
    method: 'post',
    path: '/api/v1/movements',
    tag: 'ledger',
    summary: 'Enter movements over REST (ERP, manual); `id` is the idempotency key; 201 when any was applied',
    roles: ['operator', 'site-manager'],
    body: z.object({ movements: z.array(RestMovement).min(1).max(1000) }),
    response: z.object({
      items: z.array(z.object({ id: z.string(), status: z.enum(['applied', 'duplicate', 'exception']) })),
      applied: z.number().int(),
      duplicates: z.number().int(),
      exceptions: z.number().int(),
    }),
    status: 201,
  },
  { method: 'get', path: '/api/v1/exceptions', tag: 'ledger', summary: 'The exception queue (negative stock, duplicate identities), newest first', roles: EXCEPTION_ROLES, query: ExceptionsQuery, response: page(ExceptionRowSchema) },
  { method: 'post', path: '/api/v1/exceptions/:id/resolve', tag: 'ledger', summary: 'Resolve an open exception', roles: ['site-manager'], body: ResolveBody, response: ExceptionRowSchema },
  { method: 'get', path: '/api/v1/stock/fefo', tag: 'stock', summary: 'Batches with stock, first-expiring first; `suggestion` is the batch to issue', roles: READ_ROLES, query: FefoQuery, response: z.object({ items: z.array(StockRowSchema), suggestion: StockRowSchema.nullable() }) },
];

/** Ledger detail, the exception queue, FEFO, and REST entry of movements. */
export async function ledgerRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  app.get('/api/v1/movements/:id', { config: { roles: READ_ROLES } }, async (req) => {
    const { id } = req.params as { id: string };
    const m = await deps.store.movement(id);
    if (!m) throw new Errors.NotFound(`id: no movement ${id}`);
    scopedSite(req, m.site);
    return m;
  });

  app.post('/api/v1/movements', { config: { roles: ['operator', 'site-manager'] } }, async (req, reply) => {
    const b = body(PostMovements, req);
    const movements: Movement[] = [];
    for (const [i, raw] of b.movements.entries()) {
      const r = RestMovement.safeParse(raw);
      if (!r.success) {
        const issue = r.error.issues[0]!;
        throw new Errors.BadBody(`movements.${i}.${issue.path.join('.')}: ${issue.message}`);
      }
      scopedSite(req, r.data.site);
      // The same cross-field rules as the wire schema (qty signs, transfer locations, one of
      // sku/gtin/epc), checked with stand-in edge fields; stored under the reserved edge `api`
      // with seq 0 (no gap tracking).
      const full = Movement.safeParse({ ...r.data, v: SCHEMA_VERSION, edge: 'rest', seq: 1 });
      if (!full.success) {
        const issue = full.error.issues[0]!;
        throw new Errors.BadBody(`movements.${i}.${issue.path.join('.')}: ${issue.message}`);
      }
      movements.push({ ...full.data, edge: API_EDGE, seq: 0 });
    }
    const result = await deps.submit(movements);
    reply.status(result.applied > 0 ? 201 : 200);
    return {
      items: movements.map((m, i) => ({ id: m.id, status: result.outcomes[i] })),
      applied: result.applied,
      duplicates: result.duplicates,
      exceptions: result.exceptions,
    };
  });

  app.get('/api/v1/exceptions', { config: { roles: EXCEPTION_ROLES } }, async (req) => {
    const q = query(ExceptionsQuery, req);
    const s = scopedSite(req, q.site);
    const items = await deps.store.exceptions({ state: q.state, limit: q.limit, ...(s === undefined ? {} : { site: s }), ...(q.before ? { before: q.before } : {}) });
    const last = items[items.length - 1];
    return { items, next: items.length === q.limit && last ? String(last.id) : null };
  });

  app.post('/api/v1/exceptions/:id/resolve', { config: { roles: ['site-manager'] } }, async (req) => {
    const id = Number((req.params as { id: string }).id);
    if (!Number.isInteger(id) || id <= 0) throw new Errors.BadQuery('id: expected a positive integer');
    const b = body(ResolveBody, req);
    const r = await deps.store.resolveException(id, req.principal?.subject ?? 'unknown', b.resolution);
    if (!r) throw new Errors.NotFound(`id: no exception ${id}`);
    return r;
  });

  app.get('/api/v1/stock/fefo', { config: { roles: READ_ROLES } }, async (req) => {
    const q = query(FefoQuery, req);
    scopedSite(req, q.site);
    const items = await deps.store.fefo({ site: q.site, sku: q.sku });
    // The suggestion: issue from the first-expiring batch that has stock.
    return { items, suggestion: items[0] ?? null };
  });
}
