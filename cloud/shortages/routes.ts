/**
 * `GET /api/v1/projects/:code/shortages` (issue 11 §2): rows with shortage > 0 (`?all=1`: every
 * plan line). Project-scoped: another site's project, or for a project manager another PM's
 * project, answers 404.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { type ApiDeps, query, READ_ROLES } from '../api/common.js';
import type { RouteDoc } from '../api/openapi.js';
import { scope } from '../api/scope.js';
import type { Role } from '../auth/auth.js';
import { Errors } from '../errors.js';
import { getProject, ProjectCode } from '../projects/index.js';
import { incomingOf, supplierOfSku } from '../procurement/index.js';
import { projectShortages, setIncomingSource, setSupplierSource } from './service.js';

// Open PO lines and a SKU's supplier come from cloud/procurement (wired here, where both modules are loaded).
setIncomingSource((q, site, sku) => incomingOf(q, site, sku));
setSupplierSource((q, site, sku) => supplierOfSku(q, site, sku));

export const SHORTAGE_ROLES: readonly Role[] = [...READ_ROLES, 'project-manager'];
const ShortageQuery = z.object({ all: z.enum(['0', '1', 'true', 'false']).optional() });
const Incoming = z.object({ po: z.string(), qty: z.number(), expectedAt: z.string(), late: z.boolean() });
export const ShortageItem = z.object({
  stage: z.string(),
  sku: z.string(),
  planned: z.number(),
  issued: z.number(),
  reserved: z.number(),
  need: z.number(),
  needBy: z.string(),
  coveredFromStock: z.number(),
  incoming: z.array(Incoming),
  shortage: z.number(),
  suggestOrder: z
    .object({ qty: z.number(), orderBy: z.string().nullable(), supplier: z.string().optional(), leadTimeDays: z.number(), leadTimeSource: z.enum(['supplier', 'default']) })
    .nullable()
    .describe('orderBy = needBy − leadTimeDays: the lead time of the supplier of the SKU\'s latest PO line at the site, else the default 7 days'),
});

export const shortagesDocs: RouteDoc[] = [
  {
    method: 'get',
    path: '/api/v1/projects/:code/shortages',
    tag: 'projects',
    summary: 'What the project still misses per stage and SKU: need = planned - net issued, covered by its stage reservation, then free stock, then PO lines arriving by needBy (shared cover in needBy order across the site\'s projects); late POs listed, not counted',
    roles: SHORTAGE_ROLES,
    query: ShortageQuery,
    response: z.object({ items: z.array(ShortageItem) }),
  },
];

export async function shortagesRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  const one = scope.resource('project', ProjectCode, async (d, code: string) => {
    const p = await getProject(d.db.kysely, code);
    return p ? { site: p.site, project: p.code } : undefined;
  }, 'code');
  app.get('/api/v1/projects/:code/shortages', { config: { roles: SHORTAGE_ROLES, scope: one } }, async (req) => {
    const q = query(ShortageQuery, req);
    const code = (req.params as { code: string }).code;
    const s = await projectShortages(deps.db, code, { all: q.all === '1' || q.all === 'true' });
    if (!s) throw new Errors.NotFound(`code: no project ${code}`);
    return { items: s.items };
  });
}
