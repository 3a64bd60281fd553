import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { READ_ROLES } from '../common.js';
import { SiteParam } from '../input.js';
import { buildOpenApi, renderDocsHtml, type RouteDoc, scopeText } from '../openapi.js';
import { scope } from '../scope.js';
import { boardDocs } from './board.js';

const HealthSchema = z.object({
  status: z.enum(['ok', 'degraded']),
  mqtt: z.string(),
  ingest: z.record(z.string(), z.number()),
  follower: z
    .object({
      consumers: z.array(z.string()),
      batches: z.number().int(),
      rows: z.number().int(),
      failing: z.object({ consumer: z.string(), error: z.string(), attempts: z.number().int(), since: z.string(), retryInMs: z.number().int() }).optional(),
    })
    .optional()
    .describe('the ledger follower of the business layer: its consumers, and the batch that fails while it fails (status is then degraded)'),
  erp: z
    .object({ erp: z.string(), delivered: z.number().int(), retried: z.number().int(), failed: z.number().int(), lastError: z.string().optional() })
    .optional()
    .describe('with --erp-url: the ERP sender since start (deliveries, failed tries retried, events given up after the last attempt, the last error)'),
  chain: z.record(z.string(), z.object({ pos: z.number().int(), hash: z.string() })).describe("each site's hash-chain head (GET /api/v1/ledger/verify)"),
});

export const coreDocs: RouteDoc[] = [
  { method: 'get', path: '/healthz', tag: 'service', summary: "Liveness, broker connection, ingest counters, each site's ledger chain head", response: HealthSchema },
  { method: 'get', path: '/board', tag: 'board', summary: 'The live site board (HTML, dashboards/board/); `?site=` limits it to one site, `?token=` signs a wall screen in' },
  {
    method: 'get',
    path: '/board/events',
    tag: 'board',
    summary: 'Server-Sent Events (protocols/http/board.ts): `snapshot`, then coalesced `frame`s (at most one per 250 ms) with `id:` = ledger position (`Last-Event-ID` resumes), `resync` on overflow; ends within 1 s of its token being revoked',
    roles: READ_ROLES,
    query: z.object({
      site: SiteParam.optional(),
      token: z.string().optional().describe('the Bearer token (EventSource cannot send headers); or the board login cookie'),
      lastEventId: z.coerce.number().int().min(0).optional().describe('as the Last-Event-ID header: resume after this ledger position'),
    }),
  },
  // The board's login and read endpoints (routes/board.ts).
  ...boardDocs,
];

/** `GET /docs` (HTML) and `GET /docs/openapi.json`, from every route plugin's docs. */
export async function docsRoutes(app: FastifyInstance, docs: readonly RouteDoc[], version: string): Promise<void> {
  // Each route's scope declaration, as registered (the routes before this plugin: all of them).
  const scopes = new Map<string, string>();
  for (const r of app.stockgateRoutes) {
    const t = scopeText(r.scope);
    if (t) scopes.set(`${r.method} ${r.url}`, t);
  }
  scopes.set('get /docs', scopeText({ kind: 'public' })!).set('get /docs/openapi.json', scopeText({ kind: 'public' })!);
  const doc = buildOpenApi(docs, version, scopes);
  const html = renderDocsHtml(doc);
  app.get('/docs/openapi.json', { config: { scope: scope.public() } }, async () => doc);
  app.get('/docs', { config: { scope: scope.public() } }, async (_req, reply) => reply.type('text/html; charset=utf-8').send(html));
}
