import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Role } from '../../auth/auth.js';
import { Errors } from '../../errors.js';
import { type ApiDeps, body, Id } from '../common.js';
import { SiteParam } from '../input.js';
import { scope } from '../scope.js';
import type { RouteDoc } from '../openapi.js';

const LEVEL_ROLES: readonly Role[] = ['procurement', 'site-manager'];
const Qty = z.number().finite().nonnegative();

/** PUT replaces the item's levels: a field left out is unset (and its alert resolves). */
const LevelsBody = z
  .strictObject({
    safetyStock: Qty.optional(),
    reorderPoint: Qty.optional(),
    maxStock: Qty.optional(),
    hysteresis: Qty.default(0),
    nearExpiryDays: z.number().int().nonnegative().max(3650).optional(),
  })
  .superRefine((l, ctx) => {
    for (const f of ['safetyStock', 'reorderPoint'] as const) {
      if (l.maxStock !== undefined && l[f] !== undefined && l[f] > l.maxStock) {
        ctx.addIssue({ code: 'custom', path: ['maxStock'], message: `below ${f} (${l[f]})` });
      }
    }
  });

const Params = z.object({ site: SiteParam, sku: Id });

const LevelsSchema = z.object({
  site: z.string(),
  sku: z.string(),
  safetyStock: z.number().optional().describe('safety-stock alert when on-hand < this'),
  reorderPoint: z.number().optional().describe('reorder alert when on-hand <= this'),
  maxStock: z.number().optional().describe('overstock alert when on-hand > this'),
  hysteresis: z.number().describe('an alert resolves only this far back past its threshold'),
  nearExpiryDays: z.number().int().optional().describe("near-expiry window of this item (default: the cloud's --near-expiry-days)"),
  updatedAt: z.string(),
});

const LEVELS_PATH = '/api/v1/sites/:site/items/:sku/levels';
export const levelsDocs: RouteDoc[] = [
  { method: 'put', path: LEVELS_PATH, tag: 'alerts', summary: 'Set (replace) the stock levels of an item at a site; its alerts are re-evaluated', roles: LEVEL_ROLES, body: LevelsBody, response: LevelsSchema },
  { method: 'get', path: LEVELS_PATH, tag: 'alerts', summary: 'The stock levels of an item at a site (404 when none)', roles: LEVEL_ROLES, response: LevelsSchema },
];

function params(raw: unknown): z.infer<typeof Params> {
  const r = Params.safeParse(raw);
  if (!r.success) throw new Errors.BadPath(`${r.error.issues[0]!.path.join('.')}: ${r.error.issues[0]!.message}`);
  return r.data;
}

/** Stock levels per item and site: the thresholds of the stock alerts. */
export async function levelsRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  // scope.path(): the framework checks `:site` against the caller's scope before this runs.
  app.put(LEVELS_PATH, { config: { roles: LEVEL_ROLES, scope: scope.path() } }, async (req) => {
    const p = params(req.params);
    const b = body(LevelsBody, req);
    const saved = await deps.alertStore.putLevels({ ...p, ...b });
    // Evaluated before answering: the alerts already reflect the new levels.
    await deps.alertEngine.levelsChanged(p.site, p.sku);
    return saved;
  });

  app.get(LEVELS_PATH, { config: { roles: LEVEL_ROLES, scope: scope.path() } }, async (req) => {
    const p = params(req.params);
    const l = await deps.alertStore.getLevels(p.site, p.sku);
    if (!l) throw new Errors.NotFound(`levels: none set for ${p.sku} at ${p.site}`);
    return l;
  });
}
