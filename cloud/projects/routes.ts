/**
 * Projects, BOM templates and stage plans (issue 10 §1). Every project answer is scoped by the
 * caller's `Scope`: a project manager sees its projects only (others: 404), and the project's
 * cost fields (contractRevenue, budget) are omitted for callers who may not see them.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { type ApiDeps, body, Limit, query } from '../api/common.js';
import { SiteParam } from '../api/input.js';
import type { RouteDoc } from '../api/openapi.js';
import { bodySite, redactCost, scope } from '../api/scope.js';
import { actor } from '../audit/index.js';
import type { Role } from '../auth/auth.js';
import { Sku } from '../catalog/model.js';
import { Errors } from '../errors.js';
import { MONEY_STRING, MoneyError, parseMoney } from '../money.js';
import { qtyProblem } from '../../protocols/ledger/quantity.js';
import * as repo from './repo.js';
import { createProject, planView, projectView, putBom, putPlan } from './service.js';
import type { PlanInputLine } from './rules.js';

const READ_ROLES: readonly Role[] = ['site-manager', 'operator', 'procurement', 'finance', 'project-manager'];
const CREATE_ROLES: readonly Role[] = ['site-manager'];
const PLAN_ROLES: readonly Role[] = ['site-manager', 'project-manager'];
const BOM_ROLES: readonly Role[] = ['site-manager', 'procurement', 'project-manager'];

/** Project, stage and BOM codes: 1-64 of A-Z a-z 0-9 . _ - (starting with a letter or digit). */
export const Code = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'expected 1-64 of A-Z a-z 0-9 . _ - (starting with a letter or digit)');
/** An ISO date `YYYY-MM-DD` that exists. */
export const IsoDate = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'expected an ISO date YYYY-MM-DD')
  .refine((d) => !Number.isNaN(Date.parse(`${d}T00:00:00Z`)) && new Date(`${d}T00:00:00Z`).toISOString().startsWith(d), 'not a calendar date');
const Money = z.string().regex(MONEY_STRING, 'a decimal string with at most 2 decimals, e.g. "20000.00"');
const Qty = z.number().positive().refine((x) => qtyProblem(x) === undefined, { message: 'at most 3 decimals, at most 1e12' });

const NewProject = z.strictObject({
  code: Code,
  name: z.string().min(1).max(200),
  site: SiteParam,
  manager: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/, 'a user id'),
  contractRevenue: Money,
  budget: Money.optional(),
  start: IsoDate.optional(),
  end: IsoDate.optional(),
  overIssuePct: z.number().min(0).max(1000).optional(),
  stages: z
    .array(z.strictObject({ code: Code, name: z.string().min(1).max(200), needBy: IsoDate }))
    .min(1)
    .max(200)
    .refine((s) => new Set(s.map((x) => x.code)).size === s.length, 'stage codes must be unique'),
});
const StageSchema = z.object({ code: z.string(), name: z.string(), needBy: z.string() });
const ProjectSchema = z.object({
  code: z.string(),
  name: z.string(),
  site: z.string(),
  manager: z.string(),
  contractRevenue: z.string().optional().describe('cost field: omitted for callers who may not see it'),
  budget: z.string().optional(),
  start: z.string().optional(),
  end: z.string().optional(),
  overIssuePct: z.string(),
  stages: z.array(StageSchema),
  createdAt: z.string(),
  updatedAt: z.string(),
});
const ListQuery = z.object({ site: SiteParam.optional(), limit: Limit(1000, 100), after: z.string().max(64).optional() });
const BomBody = z.strictObject({
  name: z.string().min(1).max(200),
  lines: z.array(z.strictObject({ sku: Sku, qtyPer: Qty, scrapPct: z.number().min(0).max(100).optional() })).min(1).max(500),
});
const BomSchema = z.object({ code: z.string(), name: z.string(), lines: z.array(z.object({ sku: z.string(), qtyPer: z.number(), scrapPct: z.number().optional() })), updatedAt: z.string() });
const PlanLineIn = z.strictObject({ sku: Sku.optional(), qty: Qty.optional(), needBy: IsoDate.optional(), bom: Code.optional(), multiplier: z.number().positive().max(1e6).optional() });
const PlanBody = z.strictObject({ lines: z.array(PlanLineIn).min(1).max(1000) });
const PlanPut = z.object({
  project: z.string(),
  stage: z.string(),
  version: z.number().int(),
  createdAt: z.string(),
  createdBy: z.string(),
  lines: z.array(z.object({ sku: z.string(), qty: z.number(), needBy: z.string().optional(), sources: z.array(z.string()) })),
  changes: z.array(z.object({ sku: z.string(), from: z.number(), to: z.number() })),
});
const PlanGet = z.object({
  project: z.string(),
  stage: z.string(),
  needBy: z.string(),
  version: z.number().int().describe('0: no plan yet'),
  createdAt: z.string().optional(),
  createdBy: z.string().optional(),
  lines: z.array(z.object({ sku: z.string(), uom: z.string().optional().describe("the item master's base unit, which the plan is kept in (absent for an item unknown to the master)"), planned: z.number(), issued: z.number().describe('net: issues - returns to this stage, from the ledger'), remaining: z.number(), needBy: z.string() })),
});

export const projectsDocs: RouteDoc[] = [
  { method: 'post', path: '/api/v1/projects', tag: 'projects', summary: 'Create a project with its stages (money as decimal strings; overIssuePct default 5)', roles: CREATE_ROLES, body: NewProject, response: ProjectSchema, status: 201 },
  { method: 'get', path: '/api/v1/projects', tag: 'projects', summary: "Projects the caller may see, by code (a project manager: its own); cost fields omitted for callers who may not see them", roles: READ_ROLES, query: ListQuery, response: z.object({ items: z.array(ProjectSchema), next: z.string().nullable() }) },
  { method: 'get', path: '/api/v1/projects/:code', tag: 'projects', summary: 'One project (404 outside the caller\'s sites or, for a project manager, its projects)', roles: READ_ROLES, response: ProjectSchema },
  { method: 'put', path: '/api/v1/boms/:code', tag: 'projects', summary: 'Create or replace a reusable BOM template (qtyPer in the base unit, scrapPct added on top)', roles: BOM_ROLES, body: BomBody, response: BomSchema },
  { method: 'put', path: '/api/v1/projects/:code/stages/:stage/plan', tag: 'projects', summary: 'A new version of a stage\'s material plan: lines {sku, qty, needBy?} and {bom, multiplier}, stored exploded per SKU; 422 SG_ERR_BAD_PLAN names a bad line', roles: PLAN_ROLES, body: PlanBody, response: PlanPut },
  { method: 'get', path: '/api/v1/projects/:code/stages/:stage/plan', tag: 'projects', summary: 'Planned, net issued (from the ledger) and remaining per SKU of the latest plan version', roles: READ_ROLES, response: PlanGet },
];

const projectCost = (p: { code: string }) => ({ kind: 'project' as const, project: p.code });
/** `:code` of a project; the framework answers 404 outside the caller's sites and projects. */
const projectScope = () => scope.resource('project', Code, (d, code) => repo.getProject(d.db.kysely, code).then((p) => p && { ...p, project: p.code }), 'code');

function planInput(lines: Array<z.infer<typeof PlanLineIn>>): PlanInputLine[] {
  return lines.map((l, i) => {
    if (l.bom !== undefined && l.multiplier !== undefined && l.sku === undefined && l.qty === undefined && l.needBy === undefined) return { bom: l.bom, multiplier: l.multiplier };
    if (l.sku !== undefined && l.qty !== undefined && l.bom === undefined && l.multiplier === undefined) return { sku: l.sku, qty: l.qty, ...(l.needBy ? { needBy: l.needBy } : {}) };
    throw new Errors.BadBody(`lines.${i}: either {sku, qty, needBy?} or {bom, multiplier}`);
  });
}

export async function projectsRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  app.post('/api/v1/projects', { config: { roles: CREATE_ROLES, scope: scope.body(bodySite) } }, async (req, reply) => {
    const b = body(NewProject, req);
    let revenue: number;
    let budget: number | undefined;
    try {
      revenue = parseMoney(b.contractRevenue, 'contractRevenue');
      budget = b.budget === undefined ? undefined : parseMoney(b.budget, 'budget');
    } catch (err) {
      if (err instanceof MoneyError) throw new Errors.BadBody(err.message);
      throw err;
    }
    if (b.start && b.end && b.end < b.start) throw new Errors.BadBody('end: before start');
    const p = await createProject(
      deps.db,
      { code: b.code, name: b.name, site: b.site, manager: b.manager, contractRevenueFen: revenue, ...(budget === undefined ? {} : { budgetFen: budget }), ...(b.start ? { start: b.start } : {}), ...(b.end ? { end: b.end } : {}), ...(b.overIssuePct === undefined ? {} : { overIssuePct: b.overIssuePct }), stages: b.stages },
      actor(req.principal),
    );
    return reply.status(201).send(redactCost(p, req.scope, projectCost(p)));
  });

  app.get('/api/v1/projects', { config: { roles: READ_ROLES, scope: scope.query() } }, async (req) => {
    const q = query(ListQuery, req);
    const sites = req.scope.sitesFor(q.site);
    const codes = req.scope.projectFilter();
    const rows = await repo.listProjects(deps.db.kysely, { limit: q.limit, ...(sites ? { sites } : {}), ...(codes ? { codes } : {}), ...(q.after !== undefined ? { after: q.after } : {}) });
    const last = rows[rows.length - 1];
    return { items: redactCost(rows.map(projectView), req.scope, projectCost), next: rows.length === q.limit && last ? last.code : null };
  });

  app.get('/api/v1/projects/:code', { config: { roles: READ_ROLES, scope: projectScope() } }, async (req) => {
    const p = projectView(req.resource as repo.ProjectRow);
    return redactCost(p, req.scope, projectCost(p));
  });

  app.put<{ Params: { code: string } }>('/api/v1/boms/:code', { config: { roles: BOM_ROLES, scope: scope.shared() } }, async (req) => {
    const code = Code.safeParse(req.params.code);
    if (!code.success) throw new Errors.BadPath(`code: ${code.error.issues[0]!.message}`);
    const b = body(BomBody, req);
    return putBom(deps.db, { code: code.data, name: b.name, lines: b.lines.map((l) => ({ sku: l.sku, qtyPer: l.qtyPer, ...(l.scrapPct === undefined ? {} : { scrapPct: l.scrapPct }) })) }, actor(req.principal));
  });

  const stageOf = (req: { params: unknown }) => {
    const s = Code.safeParse((req.params as { stage?: string }).stage);
    if (!s.success) throw new Errors.BadPath(`stage: ${s.error.issues[0]!.message}`);
    return s.data;
  };

  app.put('/api/v1/projects/:code/stages/:stage/plan', { config: { roles: PLAN_ROLES, scope: projectScope() } }, async (req) => {
    const stage = stageOf(req);
    const b = body(PlanBody, req);
    return putPlan(deps.db, req.resource as repo.ProjectRow, stage, planInput(b.lines), actor(req.principal));
  });

  app.get('/api/v1/projects/:code/stages/:stage/plan', { config: { roles: READ_ROLES, scope: projectScope() } }, async (req) => planView(deps.db, req.resource as repo.ProjectRow, stageOf(req)));
}
