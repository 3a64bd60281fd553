import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { type ApiDeps, Limit, query } from '../api/common.js';
import type { RouteDoc } from '../api/openapi.js';
import { type CostContext, LANDED_COST_FIELDS, redactCost, scope } from '../api/scope.js';
import type { Role } from '../auth/auth.js';
import { SafeText } from '../api/input.js';
import { AUDIT_ENTITIES, auditLog } from './audit.js';

/** Who may read the audit log (admin always): the roles that approve, buy, pay or run a site or project. */
const AUDIT_ROLES: readonly Role[] = ['site-manager', 'procurement', 'finance', 'project-manager'];

/** Entities whose prices are purchasing prices (procurement sees them). */
const PURCHASING: ReadonlySet<string> = new Set(['item', 'supplier', 'requisition', 'purchase-order', 'landed-cost']);

const AuditQuery = z.object({ entity: z.enum(AUDIT_ENTITIES), id: SafeText(128), limit: Limit(1000, 200) });
const AuditItem = z.object({ at: z.string(), by: z.string(), action: z.string(), before: z.unknown(), after: z.unknown() });

export const auditDocs: RouteDoc[] = [
  {
    method: 'get',
    path: '/api/v1/audit',
    tag: 'audit',
    summary: 'Every change of one business entity, oldest first (entity: item, project, requisition, purchase-order, sales-order, count, ...); rows of sites or projects outside the token are left out, cost fields omitted for callers who may not see them',
    roles: AUDIT_ROLES,
    query: AuditQuery,
    response: z.object({ items: z.array(AuditItem) }),
  },
];

export async function auditRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  // scope.shared(): the entity names no site in the request; each row is filtered by the caller's scope.
  app.get('/api/v1/audit', { config: { roles: AUDIT_ROLES, scope: scope.shared() } }, async (req) => {
    const q = query(AuditQuery, req);
    const rows = await auditLog(deps.db.kysely, { entity: q.entity, id: q.id, limit: q.limit });
    const sc = req.scope;
    const items = rows
      .filter((r) => (r.site === null ? sc.projects === undefined || r.project !== null : sc.allows(r.site)) && (r.project === null ? sc.projects === undefined : sc.allowsProject(r.project)))
      .map((r) => {
        const ctx: CostContext = PURCHASING.has(q.entity) ? { kind: 'purchasing', project: r.project } : r.project ? { kind: 'project', project: r.project } : { kind: 'inventory' };
        // A landed cost's split (pending, to stock, variance) is money too (issue 10 §5), in its own entry and the PO's.
        const landed = q.entity === 'landed-cost' || r.action === 'landed-cost';
        return redactCost({ at: r.at, by: r.by, action: r.action, before: r.before, after: r.after }, sc, ctx, landed ? LANDED_COST_FIELDS : undefined);
      });
    return { items };
  });
}
