/**
 * `PUT /api/v1/sites/:site/approval-rules` and its GET (issue 10 §2): a site's approval bands per
 * document type, replaced as a whole. Amounts are CNY decimal strings ("5000.00"; a JSON number
 * with at most 2 decimals is taken too), stored as integer fen; bands are [min, max).
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { type ApiDeps, body, READ_ROLES } from '../api/common.js';
import type { RouteDoc } from '../api/openapi.js';
import { scope } from '../api/scope.js';
import type { Role } from '../auth/auth.js';
import { actor, audit } from '../audit/index.js';
import { formatMoney, MoneyError, parseMoney } from '../money.js';
import * as repo from './repo.js';
import { replaceApprovalRules } from './engine.js';
import type { ApprovalRule } from './rules.js';

/** Who sets a site's approval chain: its manager and finance (admin always). */
const WRITE_ROLES: readonly Role[] = ['site-manager', 'finance'];
const VIEW_ROLES: readonly Role[] = [...READ_ROLES, 'project-manager'];

/** A money amount of a body: decimal string (or a number with at most 2 decimals) -> fen. */
const MoneyIn = z.union([z.string().max(40), z.number()]).transform((v, ctx) => {
  try {
    return parseMoney(typeof v === 'number' ? String(v) : v, 'amount');
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: e instanceof MoneyError ? e.message.replace(/^amount: /, '') : 'not an amount' });
    return z.NEVER;
  }
});

const Step = z.enum(['project-manager', 'procurement', 'finance', 'site-manager']);
const RuleIn = z.object({
  docType: z.enum(['requisition', 'purchase-order', 'count-adjustment']),
  minAmount: MoneyIn,
  maxAmount: MoneyIn.optional(),
  steps: z.array(Step).min(1).max(8),
});
export const RulesBody = z.object({ rules: z.array(RuleIn).max(100) });
const RuleOut = z.object({ docType: z.string(), minAmount: z.string(), maxAmount: z.string().optional(), steps: z.array(z.string()) });
const RulesOut = z.object({ site: z.string(), rules: z.array(RuleOut) });

export const approvalsDocs: RouteDoc[] = [
  {
    method: 'put',
    path: '/api/v1/sites/:site/approval-rules',
    tag: 'approvals',
    summary: "Replace a site's approval bands: per document type (requisition, purchase-order, count-adjustment), amounts [min, max) in CNY, the steps decided in order; overlapping bands are refused",
    roles: WRITE_ROLES,
    body: RulesBody,
    response: RulesOut,
  },
  { method: 'get', path: '/api/v1/sites/:site/approval-rules', tag: 'approvals', summary: "A site's approval bands", roles: VIEW_ROLES, response: RulesOut },
];

const view = (site: string, rules: readonly ApprovalRule[]) => ({
  site,
  rules: rules.map((r) => ({ docType: r.docType, minAmount: formatMoney(r.minAmount), ...(r.maxAmount !== undefined ? { maxAmount: formatMoney(r.maxAmount) } : {}), steps: r.steps })),
});

/** Who records a change of the rules (the business layer's audit trail, cloud/audit). */
export type AuditFn = (tx: import('kysely').Transaction<any>, e: { entity: string; id: string; action: string; by: string; before: unknown; after: unknown }) => Promise<void>;

export async function approvalsRoutes(app: FastifyInstance, deps: ApiDeps, auditHook: AuditFn = (tx, e) => audit(tx, { ...e, entity: 'approval-rules', site: e.id })): Promise<void> {
  app.put('/api/v1/sites/:site/approval-rules', { config: { roles: WRITE_ROLES, scope: scope.path() } }, async (req) => {
    const site = (req.params as { site: string }).site;
    const b = body(RulesBody, req);
    const rules: ApprovalRule[] = b.rules.map((r) => ({ docType: r.docType, minAmount: r.minAmount, ...(r.maxAmount !== undefined ? { maxAmount: r.maxAmount } : {}), steps: r.steps }));
    const by = actor(req.principal);
    await deps.db.tx(async (tx) => {
      const before = await replaceApprovalRules(tx, site, rules, by, new Date().toISOString());
      await auditHook(tx, { entity: 'approval-rules', id: site, action: 'replace', by, before: view(site, before), after: view(site, rules) });
    });
    return view(site, rules);
  });

  app.get('/api/v1/sites/:site/approval-rules', { config: { roles: VIEW_ROLES, scope: scope.path() } }, async (req) => {
    const site = (req.params as { site: string }).site;
    return view(site, await repo.rulesOf(deps.db.kysely, site));
  });
}

