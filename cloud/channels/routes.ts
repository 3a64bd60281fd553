import type { FastifyInstance } from 'fastify';
import { ulid } from 'ulid';
import { z } from 'zod';
import { ADMIN_ONLY, type ApiDeps, body, Id, Limit, query } from '../api/common.js';
import { Cursor, SiteParam } from '../api/input.js';
import type { RouteDoc } from '../api/openapi.js';
import { scope, type Scope } from '../api/scope.js';
import { page } from '../api/schemas.js';
import { Errors } from '../errors.js';
import { type Channel, CHANNEL_LANGS, CHANNEL_TYPES, type ChannelDelivery, ChannelInput, ChannelRoutes, SmtpConfig } from './model.js';

const ChannelSchema = z.object({
  id: z.string(),
  type: z.enum(CHANNEL_TYPES),
  name: z.string().optional(),
  url: z.string().optional(),
  smtp: SmtpConfig.optional(),
  routes: ChannelRoutes,
  lang: z.enum(CHANNEL_LANGS),
  link: z.string().optional(),
  createdAt: z.string(),
});

const DeliverySchema = z.object({
  id: z.number().int(),
  eventId: z.string(),
  alertId: z.string().optional(),
  alertType: z.string().optional(),
  event: z.enum(['opened', 'resolved']).optional(),
  state: z.enum(['delivered', 'retrying', 'failed']).describe('retrying: queued, not delivered yet (attempts 0 = not tried yet)'),
  attempts: z.number().int(),
  nextAttemptAt: z.string().nullable(),
  lastErrorCode: z.string().nullable().describe("the service's body error code (130101, 45009, 11232, 310000, ...), HTTP_<status>, SMTP_<reply>, or a network error (ECONNREFUSED, TIMEOUT)"),
  lastError: z.string().nullable(),
  createdAt: z.string(),
  deliveredAt: z.string().nullable(),
});

/** Most channels (all sites together). */
export const MAX_CHANNELS = 200;

const DeliveriesQuery = z.object({ limit: Limit(1000, 100), before: Cursor.optional() });
const ListQuery = z.object({ site: SiteParam.optional().describe('channels that receive this site\'s alerts') });

export const channelsDocs: RouteDoc[] = [
  { method: 'post', path: '/api/v1/channels', tag: 'channels', summary: 'Add an alert channel: DingTalk, Feishu/Lark, WeCom robot, email (SMTP) or webhook, with its routes and language', roles: ADMIN_ONLY, body: ChannelInput, response: ChannelSchema, status: 201 },
  { method: 'get', path: '/api/v1/channels', tag: 'channels', summary: 'Alert channels (secrets are never returned)', roles: ADMIN_ONLY, query: ListQuery, response: z.object({ items: z.array(ChannelSchema) }) },
  { method: 'delete', path: '/api/v1/channels/:id', tag: 'channels', summary: 'Remove a channel and its queue', roles: ADMIN_ONLY, status: 204 },
  { method: 'get', path: '/api/v1/channels/:id/deliveries', tag: 'channels', summary: 'Deliveries of a channel, newest first: delivered, retrying or failed, with attempts and the last error code', roles: ADMIN_ONLY, query: DeliveriesQuery, response: page(DeliverySchema) },
];

/** A stored delivery as the API shows it: `pending` is `retrying`; the alert named from its event. */
function deliveryJson(d: ChannelDelivery): z.infer<typeof DeliverySchema> {
  let a: { id?: unknown; type?: unknown; event?: unknown } = {};
  try {
    a = JSON.parse(d.body) as typeof a;
  } catch {
    // Bodies are written by the alert store as JSON; an unreadable one still lists.
  }
  return {
    id: d.id,
    eventId: d.eventId,
    ...(typeof a.id === 'string' ? { alertId: a.id } : {}),
    ...(typeof a.type === 'string' ? { alertType: a.type } : {}),
    ...(a.event === 'opened' || a.event === 'resolved' ? { event: a.event } : {}),
    state: d.state === 'pending' ? 'retrying' : d.state,
    attempts: d.attempts,
    nextAttemptAt: d.nextAttemptAt,
    lastErrorCode: d.lastErrorCode,
    lastError: d.lastError,
    createdAt: d.createdAt,
    deliveredAt: d.deliveredAt,
  };
}

/**
 * The sites a channel belongs to (scope): its `routes.sites`; none = every site (`null`), which
 * only a caller unrestricted by site may create or see.
 */
const sitesOfBody = (b: unknown): Array<string | null> => {
  const s = (b as { routes?: { sites?: unknown } } | null)?.routes?.sites;
  const named = Array.isArray(s) ? s.filter((x): x is string => typeof x === 'string') : [];
  return named.length ? named : [null];
};
const visible = (sc: Scope, c: Channel) => sc.unrestricted || (c.routes.sites !== undefined && c.routes.sites.every((x) => sc.allows(x)));

/**
 * Alert channels (admin): where people read alerts. A fastify plugin over the alert store's
 * ChannelStore. Scope: a channel belongs to the sites of its routes; one routed to a single site
 * is that site's (`scope.resource`), one routed to several or to all sites is managed by an
 * unrestricted admin (a token limited to sites gets 404 on it and does not list it).
 */
export async function channelsRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  const store = deps.alertStore.channels;
  const one = scope.resource('channel', Id, async (d, id) => {
    const c = await d.alertStore.channels.getChannel(id);
    return c && { ...c, site: c.routes.sites?.length === 1 ? c.routes.sites[0]! : null };
  });

  app.post('/api/v1/channels', { config: { roles: ADMIN_ONLY, scope: scope.body(sitesOfBody) } }, async (req, reply) => {
    const b = body(ChannelInput, req);
    // Every alert transition reads the channels inside its transaction: keep them bounded.
    if ((await store.listChannels()).length >= MAX_CHANNELS) throw new Errors.Conflict(`channels: at most ${MAX_CHANNELS}; delete one first`);
    const c = await store.addChannel({ ...b, id: ulid(), createdAt: new Date().toISOString() });
    reply.status(201);
    return c;
  });

  app.get('/api/v1/channels', { config: { roles: ADMIN_ONLY, scope: scope.query() } }, async (req) => {
    const q = query(ListQuery, req);
    const site = req.scope.site(q.site);
    const all = await store.listChannels();
    return { items: all.filter((c) => visible(req.scope, c) && (site === undefined || !c.routes.sites || c.routes.sites.includes(site))) };
  });

  app.delete('/api/v1/channels/:id', { config: { roles: ADMIN_ONLY, scope: one } }, async (req, reply) => {
    const { id } = req.resource as Channel;
    if (!(await store.deleteChannel(id))) throw new Errors.NotFound(`id: no channel ${id}`);
    return reply.status(204).send();
  });

  app.get('/api/v1/channels/:id/deliveries', { config: { roles: ADMIN_ONLY, scope: one } }, async (req) => {
    const { id } = req.resource as Channel;
    const q = query(DeliveriesQuery, req);
    const items = await store.listDeliveries({ channelId: id, limit: q.limit, ...(q.before ? { before: q.before } : {}) });
    const last = items[items.length - 1];
    return { items: items.map(deliveryJson), next: items.length === q.limit && last ? String(last.id) : null };
  });
}
