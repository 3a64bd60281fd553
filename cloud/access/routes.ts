import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { SiteId } from '../../protocols/mqtt/index.js';
import { ADMIN_ONLY, type ApiDeps, body, Id } from '../api/common.js';
import type { RouteDoc } from '../api/openapi.js';
import { scope } from '../api/scope.js';
import { actor } from '../audit/index.js';
import { ROLES } from '../auth/auth.js';
import { Errors } from '../errors.js';
import { getUser, listUsers, saveUser } from './service.js';

/** A user id: a name-like value (`pm-li`, `zhang.wei`), the `manager` of projects. */
export const UserId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/, 'expected 1-64 of A-Z a-z 0-9 . _ @ - (starting with a letter or digit)');

const NewUser = z.strictObject({
  id: UserId,
  name: z.string().min(1).max(100),
  roles: z.array(z.enum(ROLES)).min(1).max(ROLES.length),
  sites: z.array(SiteId).min(1).max(1000).optional(),
  projects: z.array(Id).max(1000).optional(),
});

const UserSchema = z.object({
  id: z.string(),
  name: z.string(),
  roles: z.array(z.enum(ROLES)),
  sites: z.array(z.string()).optional(),
  projects: z.array(z.string()).optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
});

export const accessDocs: RouteDoc[] = [
  { method: 'post', path: '/api/v1/users', tag: 'auth', summary: 'Create or replace a user (201 created, 200 replaced); its tokens (POST /api/v1/tokens {"user"}) act with these roles, sites and projects from the next request on', roles: ADMIN_ONLY, body: NewUser, response: UserSchema, status: 201 },
  { method: 'get', path: '/api/v1/users', tag: 'auth', summary: 'Users, by id', roles: ADMIN_ONLY, response: z.object({ items: z.array(UserSchema) }) },
  { method: 'get', path: '/api/v1/users/:id', tag: 'auth', summary: 'One user', roles: ADMIN_ONLY, response: UserSchema },
];

/** Users (admin only; `scope.global()`: a token limited to sites could otherwise widen its own reach). */
export async function accessRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  const config = { roles: ADMIN_ONLY, scope: scope.global() };
  app.post('/api/v1/users', { config }, async (req, reply) => {
    const b = body(NewUser, req);
    const { user, created } = await saveUser(
      deps.db,
      { id: b.id, name: b.name, roles: [...new Set(b.roles)], ...(b.sites ? { sites: [...new Set(b.sites)] } : {}), ...(b.projects ? { projects: [...new Set(b.projects)] } : {}) },
      actor(req.principal),
    );
    return reply.status(created ? 201 : 200).send(user);
  });
  app.get('/api/v1/users', { config }, async () => ({ items: await listUsers(deps.db) }));
  app.get<{ Params: { id: string } }>('/api/v1/users/:id', { config }, async (req) => {
    const id = UserId.safeParse(req.params.id);
    if (!id.success) throw new Errors.BadPath(`id: ${id.error.issues[0]!.message}`);
    const u = await getUser(deps.db, id.data);
    if (!u) throw new Errors.NotFound(`id: no user ${id.data}`);
    return u;
  });
}
