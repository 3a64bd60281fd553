/**
 * Costing routes (issue 10 §4), a fastify plugin like those in cloud/api/routes/: zod schemas in
 * `costingDocs` keep the OpenAPI document generated; every route declares its roles and scope.
 * A project or purchase order outside the caller's scope is 404 (the framework loads it first).
 */
import { stringify } from 'csv-stringify/sync';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { type ApiDeps, body, Id, query } from '../api/common.js';
import type { RouteDoc } from '../api/openapi.js';
import { redactCost, scope } from '../api/scope.js';
import { actor } from '../audit/index.js';
import type { Role } from '../auth/auth.js';
import { Errors } from '../errors.js';
import { MONEY_STRING, MoneyError, parseMoney } from '../money.js';
import { costingService } from './ports.js';
import { CostingError, type CostingService } from './service.js';

/** Who may post landed costs: purchasing prices are procurement's and finance's business. */
const LANDED_ROLES: readonly Role[] = ['procurement', 'finance'];
/** Who may post cost lines: finance, the project's manager (their projects only: scope), site managers. */
const COST_ROLES: readonly Role[] = ['finance', 'project-manager', 'site-manager'];
/** Who may read a cost report: finance and the project's manager (others see no cost field at all). */
const REPORT_ROLES: readonly Role[] = ['finance', 'project-manager'];
/** Who closes a month: finance. */
const CLOSE_ROLES: readonly Role[] = ['finance'];

const Money = z.string().regex(MONEY_STRING, 'a decimal string with at most 2 decimals, e.g. "4140.00"');
const ProjectCode = Id;
const PoId = Id;
const Period = z.string().regex(/^\d{4}-(0[1-9]|1[0-2])$/, 'yyyy-mm, e.g. 2026-12');

const LandedBody = z.strictObject({ amount: Money.refine((s) => !s.startsWith('-') && Number(s) > 0, 'a positive amount'), allocate: z.enum(['value', 'qty']) });
const CostBody = z.strictObject({
  category: z.enum(['labour', 'equipment', 'other']),
  amount: Money.refine((s) => Number(s) !== 0, 'a non-zero amount (negative for a credit)'),
  date: z.iso.date(),
  stage: Id.optional(),
  note: z.string().max(500).optional(),
});
const ReportQuery = z.object({ format: z.enum(['json', 'csv']).default('json'), period: Period.optional() });

const Figures = z.object({
  contractRevenue: z.string().optional(),
  cost: z.object({ material: z.string(), labour: z.string(), equipment: z.string(), other: z.string(), total: z.string() }).optional(),
  margin: z.string().optional(),
  marginPct: z.string().nullable().optional().describe('margin / contract revenue × 100, 2 places, half up; null without revenue'),
  stages: z.array(z.object({ stage: z.string(), plannedValue: z.string().optional(), actualMaterial: z.string().optional() })),
  period: z.string().optional(),
  closed: z.boolean().optional(),
});
const LandedResponse = z.object({
  id: z.number(),
  po: z.string(),
  amount: z.string(),
  allocate: z.enum(['value', 'qty']),
  pending: z.string().describe('waits for the receipts still to come'),
  toStock: z.string().describe('added to the stock value of what is still on hand'),
  variance: z.string().describe('posted to the projects that consumed the received goods'),
  lines: z.array(z.object({ line: z.number(), sku: z.string(), amount: z.string(), pending: z.string(), toStock: z.string(), variance: z.array(z.object({ project: z.string(), stage: z.string().nullable(), amount: z.string() })) })),
});
const CostResponse = z.object({ id: z.number(), project: z.string(), category: z.string(), amount: z.string(), date: z.string(), stage: z.string().optional(), note: z.string().optional(), period: z.string() });
const CloseResponse = z.object({ period: z.string(), closedAt: z.string(), closedBy: z.string(), projects: z.array(z.string()) });

export const landedCostDocs: RouteDoc[] = [
  {
    method: 'post',
    path: '/api/v1/purchase-orders/:id/landed-costs',
    tag: 'costing',
    summary: 'Add a landed cost (freight, duty) to a PO, allocated over its lines by value or quantity: before the receipts it is added to their cost as they arrive; after, the share still on hand goes to stock value and the rest as variance to the consuming projects',
    roles: LANDED_ROLES,
    body: LandedBody,
    response: LandedResponse,
    status: 201,
  },
];

export const costingDocs: RouteDoc[] = [
  { method: 'post', path: '/api/v1/projects/:code/costs', tag: 'costing', summary: 'Post a labour, equipment or other cost line of a project (a date in a closed month is 409 SG_ERR_PERIOD_CLOSED)', roles: COST_ROLES, body: CostBody, response: CostResponse, status: 201, errors: { 409: 'SG_ERR_PERIOD_CLOSED' } },
  {
    method: 'get',
    path: '/api/v1/projects/:code/cost-report',
    tag: 'costing',
    summary: 'Contract revenue, cost by category (material from the issues at moving average, never twice), margin and margin %, planned value and actual material per stage; ?format=csv; ?period=yyyy-mm for one month (a closed month from its snapshot)',
    roles: REPORT_ROLES,
    query: ReportQuery,
    response: Figures,
  },
  { method: 'post', path: '/api/v1/periods/:period/close', tag: 'costing', summary: "Close a month: freeze every project's figures of that month in a snapshot later movements do not change (they go to the next open month)", roles: CLOSE_ROLES, response: CloseResponse, status: 201, errors: { 409: 'SG_ERR_PERIOD_CLOSED' } },
];

function mapError(err: unknown): never {
  if (err instanceof CostingError) {
    switch (err.code) {
      case 'SG_ERR_PERIOD_CLOSED':
        throw new Errors.PeriodClosed(err.message);
      case 'SG_ERR_NOT_FOUND':
        throw new Errors.NotFound(err.message);
      case 'SG_ERR_BAD_BODY':
        throw new Errors.BadBody(err.message);
      case 'SG_ERR_CONFLICT':
        throw new Errors.Conflict(err.message);
    }
  }
  if (err instanceof MoneyError) throw new Errors.BadBody(err.message);
  throw err;
}

const who = (req: { principal?: Parameters<typeof actor>[0] }) => actor(req.principal);

/** Landed costs, project cost lines, the cost report (JSON, CSV) and the month close. */
export async function costingRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  const svc: CostingService = costingService(deps.db);
  const c = { service: svc };
  // The framework loads the project (or PO) first: another site's, or a project the caller is
  // not on, is 404 before the handler runs (cloud/api/scope.ts).
  const project = scope.resource('project', ProjectCode, async (_d, code: string) => {
    const p = await svc.project(code);
    return p ? { site: p.site, project: p.code } : undefined;
  }, 'code');

  app.post('/api/v1/projects/:code/costs', { config: { roles: COST_ROLES, scope: project } }, async (req, reply) => {
    const code = (req.params as { code: string }).code;
    const b = body(CostBody, req);
    try {
      const r = await c.service.postCost(code, { category: b.category, amountFen: parseMoney(b.amount, 'amount'), date: b.date, ...(b.stage ? { stage: b.stage } : {}), ...(b.note ? { note: b.note } : {}) }, who(req));
      return reply.status(201).send(redactCost(r, req.scope, { kind: 'project', project: code }));
    } catch (err) {
      mapError(err);
    }
  });

  app.get('/api/v1/projects/:code/cost-report', { config: { roles: REPORT_ROLES, scope: project } }, async (req, reply) => {
    const code = (req.params as { code: string }).code;
    const q = query(ReportQuery, req);
    const full = await c.service.report(code, q.period);
    if (!full) throw new Errors.NotFound(`code: no project ${code}`);
    // Every figure of a report is project money: a caller who may not see this project's cost
    // gets the stages' names only (redactCost omits the cost fields; the stage values go too).
    const sees = req.scope.seesCost({ kind: 'project', project: code });
    const r = sees ? full : { ...redactCost(full, req.scope, { kind: 'project', project: code }), stages: full.stages.map((st) => ({ stage: st.stage })) };
    if (q.format === 'csv') {
      return reply.type('text/csv; charset=utf-8').header('content-disposition', `attachment; filename="cost-report-${code}.csv"`).send(reportCsv(code, r));
    }
    return r;
  });

  app.post('/api/v1/periods/:period/close', { config: { roles: CLOSE_ROLES, scope: scope.global() } }, async (req, reply) => {
    const p = Period.safeParse((req.params as { period: string }).period);
    if (!p.success) throw new Errors.BadPath(`period: ${p.error.issues[0]!.message}`);
    try {
      return reply.status(201).send(await c.service.closePeriod(p.data, who(req)));
    } catch (err) {
      mapError(err);
    }
  });
}

/**
 * `POST /api/v1/purchase-orders/:id/landed-costs`: registered with the purchase-order routes of
 * cloud/procurement (the PO is theirs; the cost is ours).
 */
export async function landedCostRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  const svc: CostingService = costingService(deps.db);
  const c = { service: svc };
  const po = scope.resource('purchase-order', PoId, async (_d, id: string) => {
    const o = await svc.purchaseOrder(id);
    return o ? { site: o.site } : undefined;
  });
  app.post('/api/v1/purchase-orders/:id/landed-costs', { config: { roles: LANDED_ROLES, scope: po } }, async (req, reply) => {
    const id = (req.params as { id: string }).id;
    const b = body(LandedBody, req);
    try {
      const r = await c.service.postLandedCost(id, parseMoney(b.amount, 'amount'), b.allocate, who(req));
      return reply.status(201).send(redactCost(r, req.scope, { kind: 'purchasing', project: null }));
    } catch (err) {
      mapError(err);
    }
  });

}

/**
 * The report as CSV (UTF-8 with a BOM so Excel opens it right): one row per figure,
 * `project,stage,figure,amount`; stage rows carry `plannedValue` and `actualMaterial`.
 */
export function reportCsv(code: string, r: z.infer<typeof Figures>): string {
  const rows: string[][] = [['project', 'stage', 'figure', 'amount']];
  if (r.contractRevenue !== undefined) rows.push([code, '', 'contractRevenue', r.contractRevenue]);
  if (r.cost) for (const [k, v] of Object.entries(r.cost)) rows.push([code, '', `cost.${k}`, v]);
  if (r.margin !== undefined) rows.push([code, '', 'margin', r.margin]);
  if (r.marginPct !== undefined) rows.push([code, '', 'marginPct', r.marginPct ?? '']);
  for (const s of r.stages) {
    if (s.plannedValue !== undefined) rows.push([code, s.stage, 'plannedValue', s.plannedValue]);
    if (s.actualMaterial !== undefined) rows.push([code, s.stage, 'actualMaterial', s.actualMaterial]);
  }
  return `\uFEFF${stringify(rows)}`;
}
