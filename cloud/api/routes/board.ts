import { join } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { BoardAttention, BoardCaller, BoardHistory } from '../../../protocols/http/board.js';
import type { Principal, Role } from '../../auth/auth.js';
import type { BoardView, StreamGrant } from '../../board/hub.js';
import { packageRoot } from '../../paths.js';
import { type ApiDeps, authorization, body, BOARD_COOKIE, Id, query, READ_ROLES } from '../common.js';
import { Errors } from '../../errors.js';
import { attentionView, DEFAULT_ATTENTION, historyView } from '../../board/views.js';
import type { RouteDoc } from '../openapi.js';
import { SiteParam } from '../input.js';
import { Scope, scope } from '../scope.js';

/**
 * `token` is read by the authentication hook (EventSource cannot send headers); `lastEventId` is
 * the `Last-Event-ID` header's twin for clients that cannot set headers either.
 */
const LastEventId = z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const BoardQuery = z.object({ site: SiteParam.optional(), token: z.string().optional(), lastEventId: LastEventId.optional() });

/**
 * Who may open the board: the readers of stock, and project managers, who see only their projects
 * (their `Scope.projects`: stock rows, feed rows and exceptions of those projects; no site-wide
 * alerts), as the REST API shows them only their projects' data.
 */
const BOARD_ROLES: readonly Role[] = [...READ_ROLES, 'project-manager'];

/** What the caller may do on the board, from its roles and scope (the same rules as the REST routes). */
export function boardCaller(p: Principal | undefined, sc: Scope, insecure: boolean): z.infer<typeof BoardCaller> {
  const roles: string[] = p ? [...p.roles] : insecure ? ['admin'] : [];
  const has = (...r: string[]) => roles.some((x) => x === 'admin' || r.includes(x));
  const projects = sc.projectFilter();
  return {
    roles,
    ...(p?.sites ? { sites: [...p.sites] } : {}),
    ...(projects ? { projects } : {}),
    canAck: has('site-manager', 'procurement', 'maintenance'),
    canResolve: has('site-manager'),
    seesCost: sc.seesCost({ kind: 'inventory' }),
  };
}

/** The view of a stream or a board read: the caller's sites (or the one asked) and its projects. */
function viewOf(sc: Scope, site: string | undefined): BoardView {
  const sites = sc.sitesFor(site);
  const projects = sc.projectFilter();
  return { ...(sites === undefined ? {} : { sites }), ...(projects ? { projects } : {}) };
}

const Login = z.strictObject({ token: z.string().min(1).max(512) });
const HistoryQuery = z.object({ site: SiteParam, sku: Id });
const SiteOnly = z.object({ site: SiteParam.optional() });
/** The login cookie lives as long as a wall screen's shift pattern needs; the token may be revoked sooner. */
const COOKIE_MAX_AGE_S = 30 * 86_400;

export const boardDocs: RouteDoc[] = [
  { method: 'post', path: '/board/login', tag: 'board', summary: 'Sign a browser in: sets the HTTP-only board cookie from an API token (204; 401 for an unknown token)', body: Login, status: 204 },
  { method: 'post', path: '/board/logout', tag: 'board', summary: 'Clears the board cookie (204)', status: 204 },
  { method: 'get', path: '/board/api/me', tag: 'board', summary: 'What the caller may do on the board', roles: BOARD_ROLES, response: BoardCaller },
  { method: 'get', path: '/board/api/attention', tag: 'board', summary: 'Stock needing attention: below safety stock / reorder point, days of cover (28-day average issue), stock-out date, near-expiry and expired batches, stale stock', roles: BOARD_ROLES, query: SiteOnly, response: BoardAttention },
  { method: 'get', path: '/board/api/history', tag: 'board', summary: "A SKU's stock level over time per unit, and the site's movements per hour (24 h)", roles: BOARD_ROLES, query: HistoryQuery, response: BoardHistory },
];

/**
 * The board: the Vite-built front end (dashboards/board/, served from dist/board-ui with
 * @fastify/static's `sendFile`: our routes keep their `config.scope`), its stream and its small
 * read endpoints. Every read is filtered by the caller's scope exactly as the REST API is.
 */
export async function boardRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  const ui = join(packageRoot(), 'dist', 'board-ui');
  await app.register(fastifyStatic, { root: ui, serve: false });
  const pub = { config: { scope: scope.public() } };
  app.get('/board', pub, async (_req, reply) => reply.header('cache-control', 'no-cache').sendFile('index.html'));
  app.get<{ Params: { '*': string } }>('/board/assets/*', pub, async (req, reply) => {
    const f = req.params['*'];
    // Hashed names from the build: nothing else is served from here.
    if (!/^[\w.-]+\.(js|css)$/.test(f)) throw new Errors.NotFound(`asset: no ${f}`);
    return reply.header('cache-control', 'public, max-age=31536000, immutable').sendFile(`assets/${f}`);
  });
  app.get('/', pub, async (_req, reply) => reply.redirect('/board'));

  // Login: an API token in, an HTTP-only cookie out (SameSite=Strict; Secure on HTTPS). The token
  // is checked as every request checks it; the cookie carries it, never a new credential.
  app.post('/board/login', pub, async (req, reply) => {
    const b = body(Login, req);
    const p = await deps.auth.http(`Bearer ${b.token}`);
    if (!p) throw new Errors.Unauthorized('token: unknown or revoked token');
    const secure = req.protocol === 'https';
    reply.setCookie(BOARD_COOKIE, b.token, { httpOnly: true, sameSite: 'strict', path: '/', secure, maxAge: COOKIE_MAX_AGE_S });
    return reply.status(204).send();
  });
  app.post('/board/logout', pub, async (_req, reply) => {
    reply.clearCookie(BOARD_COOKIE, { path: '/' });
    return reply.status(204).send();
  });

  const read = { config: { roles: BOARD_ROLES, scope: scope.query() } };
  app.get('/board/api/me', { config: { roles: BOARD_ROLES, scope: scope.shared() } }, async (req) => boardCaller(req.principal, req.scope, deps.auth.insecure));
  app.get('/board/api/attention', read, async (req) => {
    const q = query(SiteOnly, req);
    return attentionView(deps.hub.repo, deps.hub.levels, viewOf(req.scope, q.site), { ...DEFAULT_ATTENTION, nearExpiryDays: deps.hub.nearExpiryDays });
  });
  app.get('/board/api/history', read, async (req) => {
    const q = query(HistoryQuery, req);
    return historyView(deps.hub.repo, req.scope.site(q.site)!, q.sku, req.scope.projectFilter());
  });

  // The stream: scope.query() checks a named `?site=`; the caller's scope picks the sites; the hub
  // re-checks the credential every 500 ms and ends the stream once it is revoked (issue 8 #5).
  // Everything that can fail (validation, the snapshot query) runs before the response is
  // hijacked, so an error is an ordinary HTTP error and no socket is left hanging (issue 8 #8).
  app.get('/board/events', { config: { roles: BOARD_ROLES, queryToken: true, scope: scope.query() } }, async (req, reply) => {
    const q = query(BoardQuery, req);
    // A token limited to several sites sees all of them unless it names one.
    const s = req.scope.sitesFor(q.site);
    const view = viewOf(req.scope, q.site);
    const header = req.headers['last-event-id'];
    const parsed = typeof header === 'string' ? LastEventId.safeParse(header) : undefined;
    const lastId = parsed?.success ? parsed.data : q.lastEventId;
    // `Last-Event-ID` (a reconnecting EventSource) resumes from that ledger position.
    const resumed = lastId !== undefined ? await deps.hub.resume(view, lastId) : undefined;
    const first = resumed ? { frame: resumed } : { snapshot: await deps.hub.snapshot(view, boardCaller(req.principal, req.scope, deps.auth.insecure)) };
    const given = authorization(req);
    const roles = req.routeOptions.config.roles!;
    const grant: StreamGrant | undefined = deps.auth.insecure
      ? undefined
      : {
          key: given ?? '',
          check: async () => {
            const p = await deps.auth.http(given);
            return !!p && (p.roles.includes('admin') || p.roles.some((r) => roles.includes(r))) && Scope.of(p).covers(s);
          },
        };
    reply.hijack();
    deps.hub.attach(reply.raw, view, first, grant);
  });
}
