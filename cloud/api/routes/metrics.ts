import type { FastifyInstance } from 'fastify';
import type { RouteDoc } from '../openapi.js';
import type { ApiDeps } from '../common.js';
import { scope } from '../scope.js';

export const metricsDocs: RouteDoc[] = [
  { method: 'get', path: '/metrics', tag: 'service', summary: 'Prometheus metrics (text exposition format 0.0.4); open unless the cloud runs with --metrics-token (then role maintenance or admin)' },
];

/**
 * `GET /metrics` (issue 13 part 4). Open by default, like /healthz and most Prometheus exporters:
 * it carries counts, latencies and process figures, no label with a site, SKU, edge or id. With
 * `--metrics-token` it needs a Bearer token of role maintenance (or admin), for deployments
 * that expose the HTTP port beyond the scraper's network.
 */
export async function metricsRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  const m = deps.metrics;
  if (!m) return;
  // No per-site data (bounded labels only): public, or `shared` behind the token (scope.ts).
  app.get('/metrics', deps.metricsToken ? { config: { roles: ['maintenance'], scope: scope.shared() } } : { config: { scope: scope.public() } }, async (_req, reply) =>
    reply.type(m.contentType).header('cache-control', 'no-store').send(await m.text()));
}
