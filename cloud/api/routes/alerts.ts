import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Role } from '../../auth/auth.js';
import { ALERT_TYPES, roleOf } from '../../alerts/alert-store.js';
import { alertJson } from '../../alerts/events.js';
import { Errors } from '../../errors.js';
import { type ApiDeps, Id, Limit, query } from '../common.js';
import { SiteParam } from '../input.js';
import { scope } from '../scope.js';
import type { Alert } from '../../alerts/alert-store.js';
import type { RouteDoc } from '../openapi.js';
import { page } from '../schemas.js';

const ALERT_ROLES: readonly Role[] = ['procurement', 'maintenance', 'site-manager'];
/**
 * Who may list alerts: those it is routed to, and project managers, who see only the alerts of
 * their projects (`Alert.project`: expiry of stock held for the project), as on the board (issue 12 #5).
 */
const LIST_ROLES: readonly Role[] = [...ALERT_ROLES, 'project-manager'];

const AlertsQuery = z.object({
  site: SiteParam.optional(),
  state: z.enum(['open', 'resolved', 'all']).default('open'),
  type: z.enum(ALERT_TYPES).optional(),
  limit: Limit(1000, 100),
  before: Id.optional().describe('alert id cursor: the `next` of the previous page'),
});

export const AlertSchema = z.object({
  id: z.string(),
  type: z.enum(ALERT_TYPES),
  site: z.string(),
  sku: z.string().optional().describe('stock alerts'),
  batch: z.string().optional().describe('near-expiry'),
  edge: z.string().optional().describe('device alerts'),
  device: z.string().optional(),
  project: z.string().optional().describe('the project it concerns: near-expiry/expired of a batch all held for that project'),
  value: z.number().optional().describe('measured when raised: on-hand, days to expiry, backlog, drift kg'),
  threshold: z.number().optional(),
  state: z.enum(['open', 'resolved']),
  raisedAt: z.string(),
  resolvedAt: z.string().nullable(),
  ackedAt: z.string().nullable(),
  ackedBy: z.string().nullable(),
});

export const alertsDocs: RouteDoc[] = [
  { method: 'get', path: '/api/v1/alerts', tag: 'alerts', summary: "Alerts, newest first (state default open; cursor: before=next); a project manager's: those of its projects", roles: LIST_ROLES, query: AlertsQuery, response: page(AlertSchema) },
  { method: 'post', path: '/api/v1/alerts/:id/ack', tag: 'alerts', summary: 'Acknowledge an alert (does not resolve it); by its routed role or a site manager', roles: ALERT_ROLES, response: AlertSchema },
];

/** Alerts: list, and acknowledge (acking does not resolve; the condition does). */
export async function alertsRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  app.get('/api/v1/alerts', { config: { roles: LIST_ROLES, scope: scope.query() } }, async (req) => {
    const q = query(AlertsQuery, req);
    const s = req.scope.site(q.site);
    const projects = req.scope.projectFilter();
    const items = await deps.alertStore.listAlerts({
      state: q.state,
      limit: q.limit,
      ...(s === undefined ? {} : { site: s }),
      ...(q.type ? { type: q.type } : {}),
      ...(projects ? { projects } : {}),
      ...(q.before ? { before: q.before } : {}),
    });
    const last = items[items.length - 1];
    return { items: items.map(alertJson), next: items.length === q.limit && last ? last.id : null };
  });

  app.post('/api/v1/alerts/:id/ack', { config: { roles: ALERT_ROLES, scope: scope.resource('alert', Id, (d, id) => d.alertStore.getAlert(id)) } }, async (req) => {
    const a = req.resource as Alert;
    const id = a.id;
    // Acked by whom it is routed to (procurement: stock, maintenance: devices), or a site manager.
    const roles = req.principal?.roles ?? [];
    const may: readonly Role[] = ['admin', 'site-manager', roleOf(a.type)];
    if (!roles.some((r) => may.includes(r))) throw new Errors.Forbidden(`role: a ${a.type} alert is acked by ${may.join(', ')}`);
    const acked = await deps.alertStore.ackAlert(id, req.principal?.subject ?? 'unknown', new Date().toISOString());
    return alertJson(acked!);
  });
}
