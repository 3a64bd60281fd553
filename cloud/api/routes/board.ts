import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { BoardCaller } from '../../../protocols/http/board.js';
import type { Principal } from '../../auth/auth.js';
import type { BoardView, StreamGrant } from '../../board/hub.js';
import { packageRoot } from '../../paths.js';
import { type ApiDeps, authorization, query, READ_ROLES } from '../common.js';
import { SiteParam } from '../input.js';
import { Scope, scope } from '../scope.js';

/**
 * `token` is read by the authentication hook (EventSource cannot send headers); `lastEventId` is
 * the `Last-Event-ID` header's twin for clients that cannot set headers either.
 */
const LastEventId = z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const BoardQuery = z.object({ site: SiteParam.optional(), token: z.string().optional(), lastEventId: LastEventId.optional() });

/** What the caller may do on the board, from its roles (the same rules as the REST routes). */
export function boardCaller(p: Principal | undefined, insecure: boolean): BoardCaller {
  const roles: string[] = p ? [...p.roles] : insecure ? ['admin'] : [];
  const has = (...r: string[]) => roles.some((x) => x === 'admin' || r.includes(x));
  return {
    roles,
    ...(p?.sites ? { sites: [...p.sites] } : {}),
    canAck: has('site-manager', 'procurement', 'maintenance'),
    canResolve: has('site-manager'),
    seesCost: has('finance', 'site-manager', 'procurement'),
  };
}

/** The board: a static page (dashboards/board/) fed by /board/events (SSE). */
export async function boardRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  const boardDir = join(packageRoot(), 'dashboards', 'board');
  const asset = (file: string, type: string) => {
    const content = readFileSync(join(boardDir, file));
    return async (_req: FastifyRequest, reply: FastifyReply) => reply.type(type).header('cache-control', 'no-cache').send(content);
  };
  const pub = { config: { scope: scope.public() } };
  app.get('/board', pub, asset('index.html', 'text/html; charset=utf-8'));
  app.get('/board/board.js', pub, asset('board.js', 'text/javascript; charset=utf-8'));
  app.get('/board/board.css', pub, asset('board.css', 'text/css; charset=utf-8'));
  app.get('/', pub, async (_req, reply) => reply.redirect('/board'));
  // The stream: scope.query() checks a named `?site=`; the caller's scope picks the sites; the hub
  // re-checks the credential every 500 ms and ends the stream once it is revoked (issue 8 #5).
  // Everything that can fail (validation, the snapshot query) runs before the response is
  // hijacked, so an error is an ordinary HTTP error and no socket is left hanging (issue 8 #8).
  app.get('/board/events', { config: { roles: READ_ROLES, queryToken: true, scope: scope.query() } }, async (req, reply) => {
    const q = query(BoardQuery, req);
    // A token limited to several sites sees all of them unless it names one.
    const s = req.scope.sitesFor(q.site);
    const view: BoardView = s === undefined ? {} : { sites: s };
    const header = req.headers['last-event-id'];
    const parsed = typeof header === 'string' ? LastEventId.safeParse(header) : undefined;
    const lastId = parsed?.success ? parsed.data : q.lastEventId;
    // `Last-Event-ID` (a reconnecting EventSource) resumes from that ledger position.
    const resumed = lastId !== undefined ? await deps.hub.resume(view, lastId) : undefined;
    const first = resumed ? { frame: resumed } : { snapshot: await deps.hub.snapshot(view, boardCaller(req.principal, deps.auth.insecure)) };
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
