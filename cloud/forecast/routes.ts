/**
 * `GET /api/v1/forecast` and `GET /api/v1/reorder-suggestions` (issue 11 §3), with zod schemas
 * (OpenAPI from `forecastDocs`) and site scope from the query.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { type ApiDeps, query, READ_ROLES } from '../api/common.js';
import { SiteParam } from '../api/input.js';
import type { RouteDoc } from '../api/openapi.js';
import { scope } from '../api/scope.js';
import { Sku } from '../catalog/model.js';
import { Errors } from '../errors.js';
import { toMilli } from '../../protocols/ledger/quantity.js';
import { actor } from '../audit/index.js';
import type { Role } from '../auth/auth.js';
import { body } from '../api/common.js';
import { bodySite } from '../api/scope.js';
import { incomingOf, procurementService, reqId, supplierOfSku } from '../procurement/index.js';
import { defaultWindow, forecastOf, MAX_PERIODS, type ProcurementSource, reorderSuggestions } from './service.js';

const IsoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'an ISO date YYYY-MM-DD').refine((d) => !Number.isNaN(Date.parse(`${d}T00:00:00Z`)) && new Date(`${d}T00:00:00Z`).toISOString().startsWith(d), { message: 'not a calendar date' });
const Param = z.coerce.number().gt(0).max(1);
const Window = { period: z.enum(['day', 'week']).default('week'), from: IsoDate.optional(), to: IsoDate.optional() };
const ForecastQuery = z.object({ site: SiteParam, sku: Sku, horizon: z.coerce.number().int().min(1).max(366).default(4), ...Window, alpha: Param.optional(), beta: Param.optional() });
const ReorderQuery = z.object({ site: SiteParam, ...Window, serviceLevel: z.coerce.number().gt(0.5).lt(1).default(0.95) });
const ProjectCodeIn = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, '1-64 of [A-Za-z0-9._-]');
const ToRequisitionBody = z.strictObject({
  site: SiteParam,
  project: ProjectCodeIn.describe('the project (and stage) the purchase requisition is raised for, as requisitions require'),
  stage: ProjectCodeIn,
  period: z.enum(['day', 'week']).default('week'),
  from: IsoDate.optional(),
  to: IsoDate.optional(),
  serviceLevel: z.number().gt(0.5).lt(1).default(0.95),
  skus: z.array(Sku).min(1).max(500).optional(),
});
const REQ_ROLES: readonly Role[] = ['procurement', 'site-manager'];

const Methods = z.object({ ses: z.number(), croston: z.number(), sba: z.number(), tsb: z.number() });
const ForecastSchema = z.object({
  site: z.string(),
  sku: z.string(),
  period: z.enum(['day', 'week']),
  from: z.string(),
  to: z.string(),
  horizon: z.number(),
  class: z.enum(['smooth', 'intermittent', 'erratic', 'lumpy']),
  adi: z.number().nullable().describe('periods / non-zero periods (null without demand)'),
  cv2: z.number().describe('(population sd / mean)^2 of the non-zero sizes'),
  method: z.enum(['ses', 'croston', 'sba', 'tsb']),
  perPeriod: z.number(),
  methods: Methods,
  alpha: z.number(),
  beta: z.number(),
  fitted: z.boolean().describe('alpha/beta fitted on the grid 0.05..0.50 (not stated)'),
  total: z.number().describe('perPeriod x horizon'),
  sigma: z.number(),
  history: z.array(z.object({ start: z.string(), qty: z.number() })),
});
const SuggestionSchema = z.object({
  sku: z.string(),
  class: z.string(),
  method: z.string(),
  perPeriod: z.number(),
  sigma: z.number(),
  supplier: z.string().optional(),
  leadTimeDays: z.number(),
  leadTimeSource: z.enum(['supplier', 'default']),
  serviceLevel: z.number(),
  onHand: z.number(),
  onOrder: z.number(),
  demandOverLeadTime: z.number(),
  safetyStock: z.number(),
  reorderPoint: z.number(),
  suggestedQty: z.number(),
});

export const forecastDocs: RouteDoc[] = [
  { method: 'get', path: '/api/v1/forecast', tag: 'forecast', summary: 'Demand forecast of a SKU at a site from its issue history (from/to inclusive, by ts): class by ADI/CV² (Syntetos–Boylan), SES/Croston/SBA/TSB, alpha/beta stated or fitted', roles: READ_ROLES, query: ForecastQuery, response: ForecastSchema },
  { method: 'post', path: '/api/v1/reorder-suggestions/requisition', tag: 'forecast', summary: 'Turn the site\'s reorder suggestions with a quantity to order into one draft purchase requisition for a project stage (then submitted and approved as any requisition)', roles: REQ_ROLES, body: ToRequisitionBody, response: z.object({ requisitions: z.array(z.object({ id: z.string(), status: z.string(), lines: z.array(z.object({ sku: z.string(), qty: z.number() })) })), suggestions: z.number() }), status: 201 },
  { method: 'get', path: '/api/v1/reorder-suggestions', tag: 'forecast', summary: 'Per SKU issued at the site: reorder point = forecast over the lead time + z·σ·√(lead time) at the service level, and the quantity to order', roles: READ_ROLES, query: ReorderQuery, response: z.object({ site: z.string(), period: z.string(), from: z.string(), to: z.string(), serviceLevel: z.number(), items: z.array(SuggestionSchema) }) },
];

function windowOf(q: { period: 'day' | 'week'; from?: string | undefined; to?: string | undefined }): { from: string; to: string } {
  const d = defaultWindow(q.period);
  const to = q.to ?? d.to;
  const from = q.from ?? (q.to ? defaultWindow(q.period, Date.parse(`${q.to}T00:00:00Z`)).from : d.from);
  if (from > to) throw new Errors.BadQuery(`from: ${from} is after to (${to})`);
  const days = (Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86_400_000 + 1;
  if (days / (q.period === 'week' ? 7 : 1) > MAX_PERIODS) throw new Errors.BadQuery(`from: more than ${MAX_PERIODS} ${q.period}s between from and to`);
  return { from, to };
}

/**
 * What procurement knows of a pair: the supplier of the SKU's latest PO line at the site and its
 * `leadTimeDays` (else the stated default), and the open PO quantity, thousandths (`onOrder`).
 */
const procurementSource = (deps: ApiDeps): ProcurementSource => ({
  supplierOf: (site, sku) => supplierOfSku(deps.db.kysely, site, sku),
  onOrder: async (site, sku) => (await incomingOf(deps.db.kysely, site, sku)).reduce((a, l) => a + toMilli(l.qty), 0),
});

export async function forecastRoutes(app: FastifyInstance, deps: ApiDeps, proc: () => ProcurementSource = () => procurementSource(deps)): Promise<void> {
  app.get('/api/v1/forecast', { config: { roles: READ_ROLES, scope: scope.query() } }, async (req) => {
    const q = query(ForecastQuery, req);
    const w = windowOf(q);
    return forecastOf(deps.db, { site: req.scope.site(q.site)!, sku: q.sku, period: q.period, horizon: q.horizon, ...w, ...(q.alpha !== undefined ? { alpha: q.alpha } : {}), ...(q.beta !== undefined ? { beta: q.beta } : {}) });
  });

  app.get('/api/v1/reorder-suggestions', { config: { roles: READ_ROLES, scope: scope.query() } }, async (req) => {
    const q = query(ReorderQuery, req);
    return reorderSuggestions(deps.db, { site: req.scope.site(q.site)!, period: q.period, serviceLevel: q.serviceLevel, ...windowOf(q) }, proc());
  });

  // The suggestions with a quantity to order become ONE draft purchase requisition for the
  // project stage (requisitions are per project stage, issue 10 §2); it then goes through the
  // approval chain like any other. Nothing to order: 200 with no requisition.
  app.post('/api/v1/reorder-suggestions/requisition', { config: { roles: REQ_ROLES, scope: scope.body(bodySite) } }, async (req, reply) => {
    const b = body(ToRequisitionBody, req);
    const s = await reorderSuggestions(deps.db, { site: b.site, period: b.period, serviceLevel: b.serviceLevel, ...windowOf(b) }, proc());
    const lines = s.items.filter((i) => i.suggestedQty > 0 && (!b.skus || b.skus.includes(i.sku))).map((i) => ({ sku: i.sku, qty: toMilli(i.suggestedQty) }));
    if (!lines.length) return { requisitions: [], suggestions: s.items.length };
    const r = await procurementService(deps.db).createRequisition({ kind: 'purchase', project: b.project, stage: b.stage, lines, note: `reorder suggestions ${s.from}..${s.to} at service level ${b.serviceLevel}` }, actor(req.principal), (site, project) => site === b.site && req.scope.allowsProject(project, site));
    return reply.status(201).send({ requisitions: [{ id: reqId(r.id), status: r.status, lines: lines.map((l) => ({ sku: l.sku, qty: l.qty / 1000 })) }], suggestions: s.items.length });
  });
}
