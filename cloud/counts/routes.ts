/**
 * Stock count routes (issue 11 §4): open, lines, submit, post, approve/reject, one count, and the
 * ABC cycle-count plan. zod schemas (OpenAPI from `countsDocs`), a scope on every route, cost
 * fields (value, averageCost) through redactCost as stock valuation.
 */
import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { z } from 'zod';
import { qtyProblem, toMilli } from '../../protocols/ledger/quantity.js';
import { type ApiDeps, body, Id, query, READ_ROLES } from '../api/common.js';
import { SiteParam } from '../api/input.js';
import type { RouteDoc } from '../api/openapi.js';
import { bodySite, redactCost, scope } from '../api/scope.js';
import { actor } from '../audit/index.js';
import type { Role } from '../auth/auth.js';
import { Sku } from '../catalog/model.js';
import { averageCost } from '../costing/index.js';
import { cyclePlan } from './rules.js';
import { approvalRules, approvalsOf, decideApproval, submitForApproval } from '../approvals/index.js';
import { countsService, type CountView, setApprovalEngine } from './service.js';

// The count-adjustment bands of cloud/approvals (wired here, where both modules are loaded).
setApprovalEngine({
  bands: (tx, site) => approvalRules(tx, site, 'count-adjustment'),
  submit: (tx, s) => submitForApproval(tx, { docType: 'count-adjustment', docId: s.docId, site: s.site, revision: 1, status: 'draft', requester: s.requester, amount: s.amount }),
  decide: (tx, s, who, action, at, comment) => decideApproval(tx, { docType: 'count-adjustment', docId: s.docId, site: s.site, revision: 1, status: 'pending', requester: s.requester, amount: s.amount }, who, action, at, comment),
  list: (q, docId) => approvalsOf(q, 'count-adjustment', docId, 1),
});

const COUNT_ROLES: readonly Role[] = ['site-manager', 'operator'];
const APPROVER_ROLES: readonly Role[] = ['site-manager', 'finance', 'procurement', 'project-manager'];

const CountId = z.string().regex(/^CNT-[0-9A-F]{12}$/, 'a count id, CNT- and 12 hex digits');
const OpenBody = z.strictObject({ site: SiteParam, location: Id.optional(), skus: z.array(Sku).min(1).max(1000).optional() });
const Qty = z.number().nonnegative().refine((x) => qtyProblem(x) === undefined, { message: 'at most 3 decimals, at most 1e12' });
const LinesBody = z.strictObject({ lines: z.array(z.strictObject({ sku: Sku, location: Id.optional(), batch: Id.optional(), qty: Qty })).min(1).max(5000) });
const DecideBody = z.strictObject({ comment: z.string().max(500).optional() }).optional();
const PlanQuery = z.object({ site: SiteParam, today: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'an ISO date YYYY-MM-DD').optional() });

const LineSchema = z.object({ location: z.string(), sku: z.string(), batch: z.string(), uom: z.string(), snapshot: z.number(), moved: z.number(), counted: z.number(), expected: z.number(), variance: z.number(), booked: z.number(), averageCost: z.string().optional().describe('moving-average unit cost in CNY per base unit ("32.50"; up to 6 decimals when not exact to the fen)'), value: z.string().optional().describe('CNY, 2 decimals') });
const CountSchema = z.object({ id: z.string(), site: z.string(), location: z.string().nullable(), skus: z.array(z.string()).nullable(), status: z.string(), snapshotAt: z.string(), openedBy: z.string(), entries: z.number(), lines: z.array(LineSchema), value: z.string().optional(), approvals: z.array(z.unknown()).optional() });
const PlanSchema = z.object({ site: z.string(), today: z.string(), items: z.array(z.object({ sku: z.string(), class: z.enum(['A', 'B', 'C']), lastCounted: z.string().nullable(), due: z.string(), overdue: z.boolean() })) });

export const countsDocs: RouteDoc[] = [
  { method: 'post', path: '/api/v1/counts', tag: 'counts', summary: 'Open a count session (site, optional location and SKUs): snapshots the system quantity and the ledger position it reflects', roles: COUNT_ROLES, body: OpenBody, response: CountSchema, status: 201 },
  { method: 'get', path: '/api/v1/counts/plan', tag: 'counts', summary: 'ABC cycle-count plan by consumption value over the last 12 months (A monthly, B quarterly, C yearly), most overdue first', roles: READ_ROLES, query: PlanQuery, response: PlanSchema },
  { method: 'get', path: '/api/v1/counts/:id', tag: 'counts', summary: 'A count session with its lines (snapshot, moved, counted, variance, value)', roles: READ_ROLES, response: CountSchema },
  { method: 'post', path: '/api/v1/counts/:id/lines', tag: 'counts', summary: 'Add count entries over REST (edge MODE:COUNT scans attach themselves)', roles: COUNT_ROLES, body: LinesBody, response: CountSchema },
  { method: 'post', path: '/api/v1/counts/:id/submit', tag: 'counts', summary: 'Compute variance = counted - (snapshot + movements applied between the snapshot and the count) and the value at moving-average cost', roles: COUNT_ROLES, response: CountSchema, errors: { 409: 'SG_ERR_ILLEGAL_TRANSITION', 503: 'SG_ERR_UNAVAILABLE: count scans in the ledger not attached yet (the ledger follower is behind); retry' } },
  { method: 'post', path: '/api/v1/counts/:id/post', tag: 'counts', summary: 'Post the adjustments (adjust ledger rows): below every count-adjustment band at once, else pending its band\'s approvals (once the approval engine is wired: setApprovalEngine)', roles: COUNT_ROLES, response: CountSchema, errors: { 409: 'SG_ERR_ILLEGAL_TRANSITION' } },
  { method: 'post', path: '/api/v1/counts/:id/approve', tag: 'counts', summary: 'Approve the waiting step; the last approval books the adjustments', roles: APPROVER_ROLES, body: DecideBody, response: CountSchema, errors: { 403: 'SG_ERR_SELF_APPROVAL / SG_ERR_NOT_APPROVER', 409: 'SG_ERR_ILLEGAL_TRANSITION' } },
  { method: 'post', path: '/api/v1/counts/:id/reject', tag: 'counts', summary: 'Reject the waiting step: nothing is booked', roles: APPROVER_ROLES, body: DecideBody, response: CountSchema, errors: { 403: 'SG_ERR_SELF_APPROVAL / SG_ERR_NOT_APPROVER', 409: 'SG_ERR_ILLEGAL_TRANSITION' } },
];

export async function countsRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  const svc = countsService(deps.db);
  const one = scope.resource('count', CountId, (_d, id: string) => svc.site(id));
  const id = (req: { params: unknown }) => (req.params as { id: string }).id;
  const shown = (v: CountView | undefined, req: { scope: import('../api/scope.js').Scope }) => redactCost(v, req.scope, { kind: 'inventory' });

  app.post('/api/v1/counts', { config: { roles: COUNT_ROLES, scope: scope.body(bodySite) } }, async (req, reply) => {
    const b = body(OpenBody, req);
    return reply.status(201).send(shown(await svc.open(actor(req.principal), { site: b.site, ...(b.location ? { location: b.location } : {}), ...(b.skus ? { skus: b.skus } : {}) }), req));
  });

  app.get('/api/v1/counts/plan', { config: { roles: READ_ROLES, scope: scope.query() } }, async (req) => {
    const q = query(PlanQuery, req);
    const site = req.scope.site(q.site)!;
    const today = q.today ?? new Date().toISOString().slice(0, 10);
    const since = Date.parse(`${today}T00:00:00Z`) - 365 * 86_400_000;
    const issued = await sql<{ sku: string; q: number }>`SELECT sku, SUM(COALESCE(base_qty, qty)) AS q FROM ledger WHERE site = ${site} AND kind = 'issue' AND status = 'applied' AND ts_ms >= ${since} GROUP BY sku ORDER BY sku`.execute(deps.db.kysely);
    const last = await sql<{ sku: string; at: string }>`SELECT l.sku, MAX(s.posted_at) AS at FROM count_lines l JOIN count_sessions s ON s.id = l.session_id WHERE s.site = ${site} AND s.status = 'posted' GROUP BY l.sku`.execute(deps.db.kysely);
    const lastOf = new Map(last.rows.map((r) => [r.sku, r.at.slice(0, 10)]));
    const items = [];
    for (const r of issued.rows) {
      // Consumption value = issued quantity × moving-average cost (fen); quantity alone without a cost.
      const avg = await averageCost(deps.db.kysely as never, site, r.sku);
      const qty = Number(r.q) / 1000;
      items.push({ sku: r.sku, consumptionValue: avg ? avg.times(qty).toNumber() : qty, lastCounted: lastOf.get(r.sku) ?? null });
    }
    return { site, today, items: cyclePlan(items, today) };
  });

  app.get('/api/v1/counts/:id', { config: { roles: READ_ROLES, scope: one } }, async (req) => shown(await svc.view(id(req)), req));

  app.post('/api/v1/counts/:id/lines', { config: { roles: COUNT_ROLES, scope: one } }, async (req) => {
    const b = body(LinesBody, req);
    return shown(await svc.addLines(id(req), actor(req.principal), b.lines.map((l) => ({ sku: l.sku, location: l.location, batch: l.batch, qty: toMilli(l.qty) }))), req);
  });

  app.post('/api/v1/counts/:id/submit', { config: { roles: COUNT_ROLES, scope: one } }, async (req) => shown(await svc.submit(id(req), actor(req.principal)), req));
  app.post('/api/v1/counts/:id/post', { config: { roles: COUNT_ROLES, scope: one } }, async (req) => shown(await svc.post(id(req), actor(req.principal), deps.submit), req));
  for (const action of ['approve', 'reject'] as const) {
    app.post(`/api/v1/counts/:id/${action}`, { config: { roles: APPROVER_ROLES, scope: one } }, async (req) => {
      const b = body(DecideBody, req);
      const p = req.principal;
      return shown(await svc.approve(id(req), { user: actor(p), roles: p?.roles ?? [] }, action, deps.submit, b?.comment), req);
    });
  }
}
