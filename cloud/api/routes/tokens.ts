import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { SiteId } from '../../../protocols/mqtt/index.js';
import { ROLES } from '../../auth/auth.js';
import type { CredentialStore } from '../../auth/credential-store.js';
import { getUser, issueUserToken, UserId } from '../../access/index.js';
import { Errors } from '../../errors.js';
import { ADMIN_ONLY, type ApiDeps, body } from '../common.js';
import { scope } from '../scope.js';
import type { RouteDoc } from '../openapi.js';

/** The credential store, or 503 when authentication is off (`--insecure`). */
export function credentials(deps: ApiDeps): CredentialStore {
  if (!deps.credentials) throw new Errors.Unavailable('credentials: authentication is off (--insecure); no credential store in use');
  return deps.credentials;
}

const NewToken = z.strictObject({
  name: z.string().min(1).max(100),
  roles: z.array(z.enum(ROLES)).min(1).max(ROLES.length),
  sites: z.array(SiteId).min(1).max(1000).optional(),
});

/** A token for a user (issue 10 §5): it acts with the user's roles, sites and projects, read per request. */
const NewUserToken = z.strictObject({ user: UserId });

const TokenSchema = z.object({
  id: z.string(),
  name: z.string(),
  roles: z.array(z.enum(ROLES)),
  sites: z.array(z.string()).optional(),
  createdAt: z.string(),
  revokedAt: z.string().optional(),
  user: z.string().optional(),
});

export const tokenDocs: RouteDoc[] = [
  { method: 'post', path: '/api/v1/tokens', tag: 'auth', summary: 'Issue an API token; `token` is shown only in this response (stored hashed). Either `{"name","roles","sites"?}` or `{"user"}` (a token for that user, acting with its roles, sites and projects)', roles: ADMIN_ONLY, body: z.union([NewToken, NewUserToken]), response: TokenSchema.extend({ token: z.string() }), status: 201 },
  { method: 'get', path: '/api/v1/tokens', tag: 'auth', summary: 'API tokens (never their secrets), revoked ones with `revokedAt`', roles: ADMIN_ONLY, response: z.object({ items: z.array(TokenSchema) }) },
  { method: 'delete', path: '/api/v1/tokens/:id', tag: 'auth', summary: 'Revoke a token at once (204)', roles: ADMIN_ONLY, status: 204 },
];

/**
 * HTTP API tokens (admin only). `POST /api/v1/tokens` returns the token once; only its hash is
 * stored. `DELETE /api/v1/tokens/:id` revokes it at once.
 */
export async function tokenRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  // scope.global(): tokens are not one site's; a token limited to sites could widen its own reach.
  const config = { roles: ADMIN_ONLY, scope: scope.global() };
  app.post('/api/v1/tokens', { config }, async (req, reply) => {
    if (typeof req.body === 'object' && req.body !== null && 'user' in req.body) {
      const u = body(NewUserToken, req);
      const user = await getUser(deps.db, u.user);
      if (!user) throw new Errors.NotFound(`user: no user ${u.user} (create it with POST /api/v1/users)`);
      const { token, record } = await issueUserToken(deps.db, credentials(deps), user);
      return reply.status(201).send({ ...record, token });
    }
    const b = body(NewToken, req);
    const { token, record } = await credentials(deps).issueToken({ name: b.name, roles: [...new Set(b.roles)], ...(b.sites ? { sites: [...new Set(b.sites)] } : {}) });
    return reply.status(201).send({ ...record, token });
  });

  app.get('/api/v1/tokens', { config }, async () => ({ items: await credentials(deps).listTokens() }));

  app.delete<{ Params: { id: string } }>('/api/v1/tokens/:id', { config }, async (req, reply) => {
    const id = req.params.id;
    if (!(await credentials(deps).revokeToken(id))) throw new Errors.NotFound(`token: no active token ${id}`);
    return reply.status(204).send();
  });
}
