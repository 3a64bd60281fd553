import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { packageRoot } from '../../paths.js';
import { type ApiDeps, Id, query, READ_ROLES, scopedSite } from '../common.js';

/** The board: a static page (dashboards/board/) fed by /board/events (SSE). */
export async function boardRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  const boardDir = join(packageRoot(), 'dashboards', 'board');
  const asset = (file: string, type: string) => {
    const content = readFileSync(join(boardDir, file));
    return async (_req: FastifyRequest, reply: FastifyReply) => reply.type(type).header('cache-control', 'no-cache').send(content);
  };
  app.get('/board', asset('index.html', 'text/html; charset=utf-8'));
  app.get('/board/board.js', asset('board.js', 'text/javascript; charset=utf-8'));
  app.get('/board/board.css', asset('board.css', 'text/css; charset=utf-8'));
  app.get('/', async (_req, reply) => reply.redirect('/board'));
  app.get('/board/events', { config: { roles: READ_ROLES, queryToken: true } }, async (req, reply) => {
    const q = query(z.object({ site: Id.optional() }), req);
    const s = scopedSite(req, q.site);
    reply.hijack();
    await deps.hub.attach(reply.raw, s);
  });
}
