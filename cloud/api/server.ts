import Fastify, { type FastifyInstance } from 'fastify';
import { Errors } from '../errors.js';
import { type ApiDeps, authorization } from './common.js';
import { alertsDocs, alertsRoutes } from './routes/alerts.js';
import { boardRoutes } from './routes/board.js';
import { edgeDocs, edgeRoutes } from './routes/edges.js';
import { ledgerDocs, ledgerRoutes } from './routes/ledger.js';
import { levelsDocs, levelsRoutes } from './routes/levels.js';
import { docsRoutes, coreDocs } from './routes/docs.js';
import { stockDocs, stockRoutes } from './routes/stock.js';
import { tokenDocs, tokenRoutes } from './routes/tokens.js';
import { webhooksDocs, webhooksRoutes } from './routes/webhooks.js';

export type { ApiDeps } from './common.js';

/**
 * The HTTP API and the board. Each resource is a route plugin in `routes/`; routes declare the
 * roles they need (`config.roles`) and one hook here enforces them.
 */
export async function buildApi(deps: ApiDeps, opts: { https?: { cert: string | Buffer; key: string | Buffer } } = {}): Promise<FastifyInstance> {
  // With `https` fastify serves TLS; the instance is typed for http either way (same API here).
  const app = (opts.https ? Fastify({ logger: false, https: opts.https }) : Fastify({ logger: false })) as unknown as FastifyInstance;

  // Every route registered, for the docs-drift check (tests/cloud/api/docs.test.ts).
  const registered: Array<{ method: string; url: string }> = [];
  app.addHook('onRoute', (r) => {
    for (const m of ([] as string[]).concat(r.method)) if (m !== 'HEAD') registered.push({ method: m.toLowerCase(), url: r.url });
  });
  app.decorate('stockgateRoutes', registered);

  app.addHook('onRequest', async (req) => {
    const roles = req.routeOptions.config.roles;
    if (!roles) return;
    const given = authorization(req);
    const p = await deps.auth.http(given);
    if (!p) throw new Errors.Unauthorized(given ? 'authorization: unknown or revoked token' : 'authorization: a Bearer token is required');
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
  await levelsRoutes(app, deps);
  await alertsRoutes(app, deps);
  await webhooksRoutes(app, deps);
  await edgeRoutes(app, deps);
  await tokenRoutes(app, deps);
  await boardRoutes(app, deps);
  await ledgerRoutes(app, deps);
  await docsRoutes(app, [...coreDocs, ...stockDocs, ...ledgerDocs, ...levelsDocs, ...alertsDocs, ...webhooksDocs, ...edgeDocs, ...tokenDocs], '1');
  return app;
}
