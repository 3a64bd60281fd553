import { STATUS_CODES } from 'node:http';
import fastifyCookie from '@fastify/cookie';
import Fastify, { type FastifyInstance } from 'fastify';
import { Errors } from '../errors.js';
import { type ApiDeps, authorization } from './common.js';
import { frameworkError, houseCode, installInputChecks, markBadSegments, parseQuery } from './input.js';
import { alertsDocs, alertsRoutes } from './routes/alerts.js';
import { boardRoutes } from './routes/board.js';
import { edgeDocs, edgeRoutes } from './routes/edges.js';
import { ledgerDocs, ledgerRoutes } from './routes/ledger.js';
import { levelsDocs, levelsRoutes } from './routes/levels.js';
import { metricsDocs, metricsRoutes } from './routes/metrics.js';
import { docsRoutes, coreDocs } from './routes/docs.js';
import { stockDocs, stockRoutes } from './routes/stock.js';
import { tokenDocs, tokenRoutes } from './routes/tokens.js';
import { webhooksDocs, webhooksRoutes } from './routes/webhooks.js';
import { installScope, Scope, scope } from './scope.js';
import { channelsDocs, channelsRoutes } from '../channels/routes.js';
import { catalogDocs, catalogRoutes } from '../catalog/routes.js';
import { accessDocs, accessRoutes, resolvePrincipal, scopeOf } from '../access/index.js';
import { auditDocs, auditRoutes } from '../audit/index.js';
import { projectsDocs, projectsRoutes } from '../projects/index.js';
import { salesDocs, salesRoutes } from '../sales/index.js';
import { costingDocs, costingRoutes, landedCostDocs, landedCostRoutes } from '../costing/index.js';
import { forecastDocs, forecastRoutes } from '../forecast/index.js';
import { approvalsDocs, approvalsRoutes } from '../approvals/index.js';
import { procurementDocs, procurementRoutes, requisitionDocs, requisitionRoutes } from '../procurement/index.js';
import { countsDocs, countsRoutes } from '../counts/index.js';
import { shortagesDocs, shortagesRoutes } from '../shortages/index.js';
import { askDocs, askRoutes } from '../ask/index.js';

/** The catalog's 503s that are an answer, not a failure: the caller retries (cloud/errors.ts, cloud/sales/errors.ts). */
const RETRYABLE = new Set(['SG_ERR_UNAVAILABLE', 'SG_ERR_LOCK_TIMEOUT']);

export type { ApiDeps } from './common.js';

/**
 * The HTTP API and the board. Each resource is a route plugin in `routes/`; every route declares
 * the roles it needs (`config.roles`) and its scope (`config.scope`, see scope.ts). The hooks
 * here, in order: input checks (path, query: 400 naming the field), authentication and roles
 * (401/403), the caller's `req.scope` (once per request), body checks, then the declared scope
 * (403 for a named site outside it, 404 for a resource outside it) - all before the handler.
 */
export async function buildApi(deps: ApiDeps, opts: { https?: { cert: string | Buffer; key: string | Buffer } } = {}): Promise<FastifyInstance> {
  const base = {
    logger: false,
    routerOptions: { querystringParser: parseQuery },
    rewriteUrl: (req: { url?: string }) => markBadSegments(req.url ?? '/'),
    frameworkErrors: frameworkError,
  } as const;
  // With `https` fastify serves TLS; the instance is typed for http either way (same API here).
  const app = (opts.https ? Fastify({ ...base, https: opts.https }) : Fastify(base)) as unknown as FastifyInstance;

  // Every route registered, for the docs-drift check (tests/cloud/api/docs.test.ts) and the scope
  // matrix (tests/cloud/api/scope-matrix.test.ts).
  const registered: FastifyInstance['stockgateRoutes'] = [];
  app.addHook('onRoute', (r) => {
    for (const m of ([] as string[]).concat(r.method)) {
      if (m !== 'HEAD') registered.push({ method: m.toLowerCase(), url: r.url, ...(r.config?.roles ? { roles: r.config.roles } : {}), ...(r.config?.scope ? { scope: r.config.scope } : {}) });
    }
  });
  app.decorate('stockgateRoutes', registered);

  // Cookies first: the board's HTTP-only login cookie is a credential (common.ts `authorization`).
  await app.register(fastifyCookie);
  installInputChecks(app);
  installScope(app, deps);

  app.addHook('onRequest', async (req) => {
    const roles = req.routeOptions.config.roles;
    if (!roles) {
      req.scope = Scope.none();
      return;
    }
    const given = authorization(req);
    const token = await deps.auth.http(given);
    // A user token acts as its user now (roles, sites, projects read per request, cloud/access/).
    const p = token && (await resolvePrincipal(deps.db, token));
    if (!p) throw new Errors.Unauthorized(given ? 'authorization: unknown or revoked token' : 'authorization: a Bearer token is required');
    if (!p.roles.includes('admin') && !p.roles.some((r) => roles.includes(r))) {
      throw new Errors.Forbidden(`role: needs one of ${['admin', ...roles].join(', ')}`);
    }
    req.principal = p;
    // Once per request, handed to every query: sites, a project manager's projects, cost visibility.
    req.scope = await scopeOf(deps.db, p);
  });

  // One error handler: coded 4xx pass through; 5xx details stay in the log, not the response,
  // except the catalog's retryable 503s (RETRYABLE), worded for the caller: their code and message
  // go out with Retry-After, so a client knows to come back rather than report a bug.
  app.setErrorHandler((err: Error & { statusCode?: number; code?: string; details?: Record<string, unknown> }, req, reply) => {
    const status = err.statusCode ?? 500;
    if (status === 503 && err.code !== undefined && RETRYABLE.has(err.code)) {
      req.log.warn({ code: err.code, msg: err.message }, 'refused for now: retry');
      if (!reply.hasHeader('retry-after')) void reply.header('retry-after', '1');
      return reply.status(503).send({ statusCode: 503, code: err.code, error: STATUS_CODES[503], message: err.message });
    }
    if (status >= 500) {
      req.log.error(err);
      return reply.status(status).send({ statusCode: status, code: 'SG_ERR_INTERNAL', error: 'Internal Server Error', message: 'internal error' });
    }
    const mapped = houseCode(err);
    // Extra fields (`details`) go beside the four, never instead of them.
    return reply.status(status).send({ ...err.details, statusCode: status, code: mapped?.code ?? err.code, error: STATUS_CODES[status] ?? 'Error', message: mapped?.message ?? err.message });
  });

  app.get('/healthz', { config: { scope: scope.public() } }, async (req) => {
    const h = deps.health();
    // Each site's hash-chain head, so an outside party can anchor it (issue 9). The route is
    // public, but site names are not: the heads shown are those of the sites the caller's token
    // (if it presents one) may see; with --insecure, every site; anonymous, none.
    const who = req.headers.authorization !== undefined || deps.auth.insecure ? await deps.auth.http(req.headers.authorization).catch(() => undefined) : undefined;
    const sees = who ? Scope.of(who) : Scope.none();
    const chain = Object.fromEntries((await deps.store.chainHeads()).filter((c) => sees.allows(c.site)).map((c) => [c.site, { pos: c.pos, hash: c.hash }]));
    // A ledger consumer that keeps failing holds the business layer back (cloud/ledger-follower/): degraded.
    const status = h.mqttHealthy && !h.follower?.failing ? 'ok' : 'degraded';
    return { status, mqtt: h.mqtt, ingest: h.ingest, ...(h.broker ? { broker: h.broker } : {}), ...(h.follower ? { follower: h.follower } : {}), ...(h.erp ? { erp: h.erp } : {}), chain };
  });

  await stockRoutes(app, deps);
  await levelsRoutes(app, deps);
  await alertsRoutes(app, deps);
  await webhooksRoutes(app, deps);
  await channelsRoutes(app, deps);
  await edgeRoutes(app, deps);
  await tokenRoutes(app, deps);
  await boardRoutes(app, deps);
  await ledgerRoutes(app, deps);
  await metricsRoutes(app, deps);
  await catalogRoutes(app, deps);
  await accessRoutes(app, deps);
  await auditRoutes(app, deps);
  await projectsRoutes(app, deps);
  await salesRoutes(app, deps);
  await costingRoutes(app, deps);
  await landedCostRoutes(app, deps);
  await forecastRoutes(app, deps);
  await approvalsRoutes(app, deps);
  await procurementRoutes(app, deps);
  await requisitionRoutes(app, deps);
  await countsRoutes(app, deps);
  await shortagesRoutes(app, deps);
  await askRoutes(app, deps);
  await docsRoutes(app, [...coreDocs, ...stockDocs, ...ledgerDocs, ...levelsDocs, ...alertsDocs, ...webhooksDocs, ...channelsDocs, ...edgeDocs, ...tokenDocs, ...accessDocs, ...auditDocs, ...projectsDocs, ...catalogDocs, ...salesDocs, ...costingDocs, ...landedCostDocs, ...forecastDocs, ...approvalsDocs, ...procurementDocs, ...requisitionDocs, ...countsDocs, ...shortagesDocs, ...askDocs, ...(deps.metrics ? metricsDocs : [])], '1');
  return app;
}
