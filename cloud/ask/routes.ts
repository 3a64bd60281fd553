/** `POST /api/v1/ask {"q"}` (issue 11 §2): an answer in the caller's scope (see service.ts). */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { type ApiDeps, body, READ_ROLES } from '../api/common.js';
import type { RouteDoc } from '../api/openapi.js';
import { scope } from '../api/scope.js';
import type { Role } from '../auth/auth.js';
import { ask } from './service.js';

const ASK_ROLES: readonly Role[] = [...READ_ROLES, 'project-manager'];
const AskBody = z.strictObject({ q: z.string().min(1).max(500) });
const AskSchema = z.object({ intent: z.enum(['shortages', 'stock', 'alerts', 'project-cost', 'unknown']), params: z.record(z.string(), z.string()), answer: z.string(), data: z.unknown() });

export const askDocs: RouteDoc[] = [
  { method: 'post', path: '/api/v1/ask', tag: 'ask', summary: 'A plain question in Chinese or English (deterministic patterns, no language model): shortages of a project, stock of a SKU, open alerts, a project\'s cost and margin; answered in the caller\'s scope', roles: ASK_ROLES, body: AskBody, response: AskSchema },
];

export async function askRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  // Shared: the question names its project or SKU; the service applies req.scope to every query.
  app.post('/api/v1/ask', { config: { roles: ASK_ROLES, scope: scope.shared() } }, async (req) => {
    const b = body(AskBody, req);
    return ask(deps.db, deps.alertStore, req.scope, b.q);
  });
}
