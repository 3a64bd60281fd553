import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { EdgeId, SiteId } from '../../../protocols/mqtt/index.js';
import { edgeUsername } from '../../auth/acl.js';
import { CredentialError, type MqttUserRecord, type NewMqttUser } from '../../auth/credential-store.js';
import { limitMqttUserToProject } from '../../access/index.js';
import { Errors } from '../../errors.js';
import { getProject } from '../../projects/index.js';
import { ADMIN_ONLY, type ApiDeps, body } from '../common.js';
import { SafeText } from '../input.js';
import { bodySite, scope } from '../scope.js';
import type { RouteDoc } from '../openapi.js';
import { credentials } from './tokens.js';

const NewEdge = z.strictObject({ site: SiteId, edgeId: EdgeId });
/** `project`: a reader of that project's alerts only (`stockgate/v1/{site}/alerts/projects/{project}/#`, issue 10 §5). */
const NewMqttUserBody = z.strictObject({ role: z.literal('alerts'), site: SiteId, project: z.string().min(1).max(64).optional() });
const EdgeParams = z.object({ site: SiteId, edgeId: EdgeId });
const Creds = z.object({ username: z.string(), password: z.string() });
const EdgeCreds = z.object({ site: z.string(), edgeId: z.string(), username: z.string(), createdAt: z.string(), rotatedAt: z.string().nullable() });
const MqttUser = z.object({ username: z.string(), role: z.enum(['edge', 'alerts']), site: z.string(), createdAt: z.string(), rotatedAt: z.string().nullable() });

export const edgeDocs: RouteDoc[] = [
  { method: 'post', path: '/api/v1/edges', tag: 'auth', summary: 'MQTT credentials of an edge (username `site/edgeId`; password shown once); 409 if it has some', roles: ADMIN_ONLY, body: NewEdge, response: Creds, status: 201 },
  { method: 'get', path: '/api/v1/edges', tag: 'auth', summary: 'Edges with MQTT credentials', roles: ADMIN_ONLY, response: z.object({ items: z.array(EdgeCreds) }) },
  { method: 'post', path: '/api/v1/edges/:site/:edgeId/rotate', tag: 'auth', summary: 'New password for an edge; the old one stops working and live connections are closed', roles: ADMIN_ONLY, response: Creds },
  { method: 'delete', path: '/api/v1/edges/:site/:edgeId', tag: 'auth', summary: 'Revoke an edge\'s MQTT credentials and close its connections (204)', roles: ADMIN_ONLY, status: 204 },
  { method: 'post', path: '/api/v1/mqtt-users', tag: 'auth', summary: 'Read-only MQTT credentials for `stockgate/v1/{site}/alerts/#`, or with `project` for `stockgate/v1/{site}/alerts/projects/{project}/#` only', roles: ADMIN_ONLY, body: NewMqttUserBody, response: Creds.extend({ project: z.string().optional() }), status: 201 },
  { method: 'get', path: '/api/v1/mqtt-users', tag: 'auth', summary: 'All MQTT users (edges and alerts readers)', roles: ADMIN_ONLY, response: z.object({ items: z.array(MqttUser) }) },
  { method: 'delete', path: '/api/v1/mqtt-users/:username', tag: 'auth', summary: 'Revoke an alerts reader (204)', roles: ADMIN_ONLY, status: 204 },
];

/**
 * MQTT credentials (admin only), checked by the embedded broker (with `--broker`, register the
 * same username and password in the external broker: cloud/README.md).
 *
 * - `POST /api/v1/edges {"site","edgeId"}` -> 201 `{"username","password"}` (username `site/edgeId`).
 * - `POST /api/v1/edges/:site/:edgeId/rotate` -> `{"username","password"}`; the old password stops working.
 * - `DELETE /api/v1/edges/:site/:edgeId` -> 204; the edge's live connections are closed.
 * - `POST /api/v1/mqtt-users {"role":"alerts","site"}` -> 201 `{"username","password"}`: read-only,
 *   `stockgate/v1/{site}/alerts/#` only. `DELETE /api/v1/mqtt-users/:username` revokes it.
 */
export async function edgeRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  const create = async (u: NewMqttUser) => {
    try {
      const { username, password } = await credentials(deps).createMqttUser(u);
      return { username, password };
    } catch (err) {
      if (err instanceof CredentialError && err.code === 'SG_ERR_CONFLICT') throw new Errors.Conflict(err.message);
      throw err;
    }
  };
  const params = (p: unknown) => {
    const r = EdgeParams.safeParse(p);
    if (!r.success) throw new Errors.BadPath(`${r.error.issues[0]!.path.join('.')}: ${r.error.issues[0]!.message}`);
    return r.data;
  };

  // Scope: an edge or an alerts reader belongs to its site; lists are filtered by req.scope.
  const bySite = { roles: ADMIN_ONLY, scope: scope.path() };
  app.post('/api/v1/edges', { config: { roles: ADMIN_ONLY, scope: scope.body(bodySite) } }, async (req, reply) => {
    const b = body(NewEdge, req);
    return reply.status(201).send(await create({ role: 'edge', site: b.site, edge: b.edgeId }));
  });

  app.get('/api/v1/edges', { config: { roles: ADMIN_ONLY, scope: scope.query() } }, async (req) => ({
    items: (await credentials(deps).listMqttUsers()).flatMap((u) =>
      u.role === 'edge' && req.scope.allows(u.site) ? [{ site: u.site, edgeId: u.edge, username: u.username, createdAt: u.createdAt, rotatedAt: u.rotatedAt ?? null }] : [],
    ),
  }));

  app.post('/api/v1/edges/:site/:edgeId/rotate', { config: bySite }, async (req) => {
    const p = params(req.params);
    const r = await credentials(deps).rotateMqttUser(edgeUsername(p.site, p.edgeId));
    if (!r) throw new Errors.NotFound(`edge: no credentials for ${p.site}/${p.edgeId}`);
    deps.disconnectMqttUser?.(r.username);
    return r;
  });

  app.delete('/api/v1/edges/:site/:edgeId', { config: bySite }, async (req, reply) => {
    const p = params(req.params);
    const username = edgeUsername(p.site, p.edgeId);
    if (!(await credentials(deps).revokeMqttUser(username))) throw new Errors.NotFound(`edge: no credentials for ${p.site}/${p.edgeId}`);
    deps.disconnectMqttUser?.(username);
    return reply.status(204).send();
  });

  app.post('/api/v1/mqtt-users', { config: { roles: ADMIN_ONLY, scope: scope.body(bodySite) } }, async (req, reply) => {
    const b = body(NewMqttUserBody, req);
    if (b.project !== undefined && (await getProject(deps.db.kysely, b.project))?.site !== b.site) throw new Errors.BadBody(`project: no project ${b.project} at site ${b.site}`);
    const creds = await create({ role: 'alerts', site: b.site });
    if (b.project === undefined) return reply.status(201).send(creds);
    try {
      await limitMqttUserToProject(deps.db, creds.username, b.project);
    } catch (err) {
      await credentials(deps).revokeMqttUser(creds.username);
      throw err;
    }
    return reply.status(201).send({ ...creds, project: b.project });
  });

  app.get('/api/v1/mqtt-users', { config: { roles: ADMIN_ONLY, scope: scope.query() } }, async (req) => ({
    items: req.scope.filter(await credentials(deps).listMqttUsers(), (u) => u.site).map(({ username, role, site, createdAt, rotatedAt }) => ({ username, role, site, createdAt, rotatedAt: rotatedAt ?? null })),
  }));

  const mqttUser = scope.resource('MQTT user', SafeText(200), (d, username) => credentials(d).getMqttUser(username), 'username');
  app.delete<{ Params: { username: string } }>('/api/v1/mqtt-users/:username', { config: { roles: ADMIN_ONLY, scope: mqttUser } }, async (req, reply) => {
    const store = credentials(deps);
    const u = req.resource as MqttUserRecord;
    if (u.role !== 'alerts') throw new Errors.NotFound(`mqtt user: no alerts user ${req.params.username} (edges: DELETE /api/v1/edges/:site/:edgeId)`);
    await store.revokeMqttUser(u.username);
    deps.disconnectMqttUser?.(u.username);
    return reply.status(204).send();
  });
}
