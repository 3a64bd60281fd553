import type { FastifyInstance } from 'fastify';
import { ulid } from 'ulid';
import { z } from 'zod';
import { SiteId } from '../../../protocols/mqtt/index.js';
import { WEBHOOK_ROLES } from '../../alerts/alert-store.js';
import { Errors } from '../../errors.js';
import { ADMIN_ONLY, type ApiDeps, body, Id, Limit, query } from '../common.js';
import { Cursor } from '../input.js';
import { bodySite, scope } from '../scope.js';
import type { Webhook } from '../../alerts/alert-store.js';
import type { RouteDoc } from '../openapi.js';
import { page } from '../schemas.js';

const WebhookBody = z.strictObject({
  url: z
    .string()
    .max(2048)
    .refine((u) => /^https?:$/.test(URL.canParse(u) ? new URL(u).protocol : ''), 'expected an http:// or https:// URL'),
  /** The HMAC key: long enough that it cannot be guessed. */
  secret: z.string().min(16, 'at least 16 characters').max(256),
  role: z.enum(WEBHOOK_ROLES),
  site: SiteId.optional(),
});

const DeliveriesQuery = z.object({ limit: Limit(1000, 100), before: Cursor.optional() });

const WebhookSchema = z.object({ id: z.string(), url: z.string(), role: z.enum(WEBHOOK_ROLES), site: z.string().optional(), createdAt: z.string() });
const DeliverySchema = z.object({
  id: z.number().int(),
  eventId: z.string().describe('also in X-Stockgate-Event-Id: deduplicate on it'),
  webhookId: z.string(),
  state: z.enum(['pending', 'delivered', 'failed']),
  attempts: z.number().int(),
  nextAttemptAt: z.string().nullable(),
  lastStatus: z.number().int().nullable(),
  lastError: z.string().nullable(),
  createdAt: z.string(),
  deliveredAt: z.string().nullable(),
  body: z.string().describe('the event JSON as sent'),
});

export const webhooksDocs: RouteDoc[] = [
  { method: 'post', path: '/api/v1/webhooks', tag: 'webhooks', summary: 'Register a webhook: signed deliveries of alerts (procurement, maintenance) or movements.applied', roles: ADMIN_ONLY, body: WebhookBody, response: WebhookSchema, status: 201 },
  { method: 'get', path: '/api/v1/webhooks', tag: 'webhooks', summary: 'Registered webhooks (secrets are never returned)', roles: ADMIN_ONLY, response: z.object({ items: z.array(WebhookSchema) }) },
  { method: 'delete', path: '/api/v1/webhooks/:id', tag: 'webhooks', summary: 'Remove a webhook and its queued deliveries', roles: ADMIN_ONLY, status: 204 },
  { method: 'get', path: '/api/v1/webhooks/:id/deliveries', tag: 'webhooks', summary: 'Deliveries of a webhook, newest first: pending, delivered or failed, with attempts', roles: ADMIN_ONLY, query: DeliveriesQuery, response: page(DeliverySchema) },
];

/**
 * Webhooks (admin): signed, durable, retried deliveries of alerts and applied movements. Scope: a
 * webhook with a `site` belongs to that site; one without gets every site's events, so only an
 * unrestricted admin may create or see it.
 */
export async function webhooksRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  const one = scope.resource('webhook', Id, (d, id) => d.alertStore.getWebhook(id));
  app.post('/api/v1/webhooks', { config: { roles: ADMIN_ONLY, scope: scope.body(bodySite) } }, async (req, reply) => {
    const b = body(WebhookBody, req);
    const w = await deps.alertStore.addWebhook({ ...b, id: ulid(), createdAt: new Date().toISOString() });
    reply.status(201);
    return w;
  });

  app.get('/api/v1/webhooks', { config: { roles: ADMIN_ONLY, scope: scope.query() } }, async (req) => ({
    items: req.scope.filter(await deps.alertStore.listWebhooks(), (w) => w.site),
  }));

  app.delete('/api/v1/webhooks/:id', { config: { roles: ADMIN_ONLY, scope: one } }, async (req, reply) => {
    const { id } = req.resource as Webhook;
    if (!(await deps.alertStore.deleteWebhook(id))) throw new Errors.NotFound(`id: no webhook ${id}`);
    return reply.status(204).send();
  });

  app.get('/api/v1/webhooks/:id/deliveries', { config: { roles: ADMIN_ONLY, scope: one } }, async (req) => {
    const { id } = req.resource as Webhook;
    const q = query(DeliveriesQuery, req);
    const items = await deps.alertStore.listDeliveries({ webhookId: id, limit: q.limit, ...(q.before ? { before: q.before } : {}) });
    const last = items[items.length - 1];
    return { items, next: items.length === q.limit && last ? String(last.id) : null };
  });
}
