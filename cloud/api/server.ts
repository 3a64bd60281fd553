import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Authenticator, Principal, Role } from '../auth/auth.js';
import type { BoardHub } from '../board/hub.js';
import { Errors } from '../errors.js';
import { packageRoot } from '../paths.js';
import type { Store } from '../store/store.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
  interface FastifyContextConfig {
    /** Roles allowed on this route; absent = public. Admin is always allowed. */
    roles?: readonly Role[];
  }
}

export interface ApiDeps {
  store: Store;
  auth: Authenticator;
  hub: BoardHub;
  health: () => { mqtt: string; mqttHealthy: boolean; ingest: Record<string, number> };
}

const READ_ROLES: readonly Role[] = ['site-manager', 'operator', 'procurement', 'maintenance', 'finance'];

/** Parse a query string with zod; a bad value is a 400 naming the parameter. */
function query<T extends z.ZodType>(schema: T, req: FastifyRequest): z.infer<T> {
  const r = schema.safeParse(req.query);
  if (r.success) return r.data;
  const i = r.error.issues[0]!;
  throw new Errors.BadQuery(`${i.path.join('.') || 'query'}: ${i.message}`);
}

const Limit = (max: number, def: number) => z.coerce.number().int().min(1).max(max).default(def);
const Id = z.string().min(1).max(64);

/** The HTTP API and the board. Routes declare roles; one hook enforces them. */
export async function buildApi(deps: ApiDeps): Promise<FastifyInstance> {
  const app = Fastify({ logger: false });

  app.addHook('onRequest', async (req) => {
    const roles = req.routeOptions.config.roles;
    if (!roles) return;
    const p = await deps.auth.http(req.headers.authorization);
    if (!p) throw new Errors.Unauthorized('authorization: a Bearer token is required');
    if (!p.roles.includes('admin') && !p.roles.some((r) => roles.includes(r))) {
      throw new Errors.Forbidden(`role: needs one of ${['admin', ...roles].join(', ')}`);
    }
    req.principal = p;
  });

  // One error handler: coded 4xx pass through; 5xx details stay in the log, not the response.
  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, _req, reply) => {
    const status = err.statusCode ?? 500;
    if (status >= 500) {
      app.log.error(err);
      return reply.status(status).send({ statusCode: status, code: 'SG_ERR_INTERNAL', error: 'Internal Server Error', message: 'internal error' });
    }
    return reply.status(status).send({ statusCode: status, code: err.code ?? 'SG_ERR_BAD_REQUEST', error: err.name, message: err.message });
  });

  app.get('/healthz', async () => {
    const h = deps.health();
    return { status: h.mqttHealthy ? 'ok' : 'degraded', mqtt: h.mqtt, ingest: h.ingest };
  });

  const site = (req: FastifyRequest, s: string | undefined) => {
    const allowed = req.principal?.sites;
    if (allowed && s !== undefined && !allowed.includes(s)) throw new Errors.Forbidden(`site: no access to ${s}`);
    if (allowed && s === undefined && allowed.length !== 1) throw new Errors.BadQuery('site: required for this token');
    return s ?? allowed?.[0];
  };

  app.get('/api/v1/stock', { config: { roles: READ_ROLES } }, async (req) => {
    const q = query(z.object({ site: Id.optional(), sku: Id.optional(), location: Id.optional() }), req);
    const s = site(req, q.site);
    const items = await deps.store.stock({ ...q, ...(s === undefined ? {} : { site: s }) });
    return { items };
  });

  app.get('/api/v1/stock/totals', { config: { roles: READ_ROLES } }, async (req) => {
    const q = query(z.object({ site: Id.optional() }), req);
    const s = site(req, q.site);
    return { items: await deps.store.totals(s === undefined ? {} : { site: s }) };
  });

  app.get('/api/v1/movements', { config: { roles: READ_ROLES } }, async (req) => {
    const q = query(z.object({ site: Id.optional(), limit: Limit(1000, 100), before: z.coerce.number().int().positive().optional() }), req);
    const s = site(req, q.site);
    const items = await deps.store.movements({ limit: q.limit, ...(s === undefined ? {} : { site: s }), ...(q.before ? { before: q.before } : {}) });
    const last = items[items.length - 1];
    return { items, next: items.length === q.limit && last ? String(last.pos) : null };
  });

  app.get('/api/v1/dead-letters', { config: { roles: ['maintenance'] } }, async (req) => {
    const q = query(z.object({ limit: Limit(1000, 100), before: z.coerce.number().int().positive().optional() }), req);
    const items = await deps.store.deadLetters({ limit: q.limit, ...(q.before ? { before: q.before } : {}) });
    const last = items[items.length - 1];
    return { items, next: items.length === q.limit && last ? String(last.id) : null };
  });

  // The board: a static page (dashboards/board/) fed by /board/events.
  const boardDir = join(packageRoot(), 'dashboards', 'board');
  const asset = (file: string, type: string) => {
    const body = readFileSync(join(boardDir, file));
    return async (_req: FastifyRequest, reply: import('fastify').FastifyReply) => reply.type(type).header('cache-control', 'no-cache').send(body);
  };
  app.get('/board', asset('index.html', 'text/html; charset=utf-8'));
  app.get('/board/board.js', asset('board.js', 'text/javascript; charset=utf-8'));
  app.get('/board/board.css', asset('board.css', 'text/css; charset=utf-8'));
  app.get('/', async (_req, reply) => reply.redirect('/board'));
  app.get('/board/events', { config: { roles: READ_ROLES } }, async (req, reply) => {
    const q = query(z.object({ site: Id.optional() }), req);
    const s = site(req, q.site);
    reply.hijack();
    await deps.hub.attach(reply.raw, s);
  });

  return app;
}
