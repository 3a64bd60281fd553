import Fastify, { type FastifyInstance } from 'fastify';
import { Errors } from '../errors.js';
import type { ApiDeps } from './common.js';
import { boardRoutes } from './routes/board.js';
import { stockRoutes } from './routes/stock.js';

export type { ApiDeps } from './common.js';

/**
 * The HTTP API and the board. Each resource is a route plugin in `routes/`; routes declare the
 * roles they need (`config.roles`) and one hook here enforces them.
 */
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

  await stockRoutes(app, deps);
  await boardRoutes(app, deps);
  return app;
}
