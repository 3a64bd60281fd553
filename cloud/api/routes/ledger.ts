import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { Movement, MovementFields, SCHEMA_VERSION } from '../../../protocols/mqtt/index.js';
import { Errors } from '../../errors.js';
import { API_EDGE, type ExceptionRow, type LedgerRow } from '../../store/store.js';
import { exceptionRow } from '../../store/rows.js';
import { type ApiDeps, body, Id, Limit, query, READ_ROLES } from '../common.js';
import { canonicalJson, contentHash, storedContentHash } from '../idempotency.js';
import { Cursor, PositiveId, SiteParam } from '../input.js';
import { scope } from '../scope.js';
import type { RouteDoc } from '../openapi.js';
import { ExceptionRowSchema, LedgerRowSchema, page, StockRowSchema } from '../schemas.js';

/** Largest |qty| of one movement, in its uom (issue 8 #1). */
const MAX_QTY = 1e9;

/**
 * A movement entered over REST (ERP integration, manual entry): the wire movement without the
 * edge's `v`, `edge` and `seq`. `id` is the client's idempotency key: posting the same id again
 * is answered `duplicate` and not applied twice, exactly as for MQTT.
 */
const RestMovement = MovementFields.omit({ v: true, edge: true, seq: true }).extend({
  device: MovementFields.shape.device.default({ id: 'api', type: 'manual' }),
  raw: z.string().max(4096).default(''),
  // Bounded at the door like at the MQTT door (issue 8 #1, finding 7): 1e308 twice is +Infinity.
  qty: MovementFields.shape.qty.refine((q) => Math.abs(q) <= MAX_QTY, `|qty| must be at most ${MAX_QTY}`),
});

const PostMovements = z.object({ movements: z.array(z.unknown()).min(1).max(1000) });
const MovementId = MovementFields.shape.id;
const ExceptionsQuery = z.object({
  site: SiteParam.optional(),
  state: z.enum(['open', 'resolved', 'all']).default('open'),
  limit: Limit(1000, 100),
  before: Cursor.optional(),
});
const ResolveBody = z.object({ resolution: z.string().min(1).max(1000).refine((t) => !t.includes('\u0000'), 'NUL is not allowed') });
const FefoQuery = z.object({ site: SiteParam, sku: Id });
const VerifyQuery = z.object({ site: SiteParam });
const VerifySchema = z.object({
  ok: z.boolean(),
  checked: z.number().int().describe('rows recomputed'),
  brokenAt: z.object({ pos: z.number().int(), id: z.string() }).nullable().describe('the first row whose hash (or chain number) does not follow; pos as in GET /api/v1/movements'),
});

/** The sites a POST /movements body names (checked against the caller's scope by the framework). */
function movementSites(b: unknown): Array<string | null> {
  const ms = (b as { movements?: unknown } | null)?.movements;
  if (!Array.isArray(ms)) return [];
  return ms.flatMap((m) => {
    const s = (m as { site?: unknown } | null)?.site;
    return typeof s === 'string' ? [s] : [];
  });
}

/** 409 SG_ERR_IDEMPOTENCY_CONFLICT with `conflicts` (and, after a race, `items`) beside the message. */
class IdempotencyConflictError extends Errors.IdempotencyConflict {
  constructor(
    message: string,
    readonly details: Record<string, unknown>,
  ) {
    super(message);
  }
}
/** project-manager: the exceptions of its projects only (OVER_ISSUE is routed to it, issue 10 §1). */
const EXCEPTION_ROLES = ['site-manager', 'procurement', 'finance', 'operator', 'project-manager'] as const;

export const ledgerDocs: RouteDoc[] = [
  { method: 'get', path: '/api/v1/movements/:id', tag: 'ledger', summary: 'One ledger row: the movement, its raw frame, edge, operator and device (audit)', roles: READ_ROLES, response: LedgerRowSchema },
  {
    method: 'post',
    path: '/api/v1/movements',
    tag: 'ledger',
    summary: 'Enter movements over REST (ERP, manual); `id` is the idempotency key: the same content again is `duplicate`, other content 409 SG_ERR_IDEMPOTENCY_CONFLICT with the original\'s hash; 201 when any was applied',
    roles: ['operator', 'site-manager'],
    body: z.object({ movements: z.array(RestMovement).min(1).max(1000) }),
    response: z.object({
      items: z.array(z.object({ id: z.string(), status: z.enum(['applied', 'duplicate', 'exception']) })),
      applied: z.number().int(),
      duplicates: z.number().int(),
      exceptions: z.number().int(),
    }),
    status: 201,
    errors: { 409: 'SG_ERR_IDEMPOTENCY_CONFLICT: an id already posted with other content; `conflicts` lists `{index,id,hash,originalHash}`, nothing was applied', 503: 'SG_ERR_UNAVAILABLE: the ingest queue is over its bound (--max-queued); nothing was applied, retry after Retry-After' },
  },
  { method: 'get', path: '/api/v1/exceptions', tag: 'ledger', summary: 'The exception queue (negative stock, duplicate identities, over-issues, ...), newest first; a project manager sees its projects\' only', roles: EXCEPTION_ROLES, query: ExceptionsQuery, response: page(ExceptionRowSchema) },
  { method: 'post', path: '/api/v1/exceptions/:id/resolve', tag: 'ledger', summary: 'Resolve an open exception (a project manager: its projects\' only)', roles: ['site-manager', 'project-manager'], body: ResolveBody, response: ExceptionRowSchema },
  {
    method: 'get',
    path: '/api/v1/ledger/verify',
    tag: 'ledger',
    summary: "Recompute the site's hash chain (SHA-256 of the previous hash and each row's canonical bytes, cloud/ledger/chain.ts)",
    roles: READ_ROLES,
    query: VerifyQuery,
    response: VerifySchema,
  },
  { method: 'get', path: '/api/v1/stock/fefo', tag: 'stock', summary: 'Batches with stock, first-expiring first; `suggestion` is the batch to issue', roles: READ_ROLES, query: FefoQuery, response: z.object({ items: z.array(StockRowSchema), suggestion: StockRowSchema.nullable() }) },
];

/**
 * Ledger detail, the exception queue, FEFO, and REST entry of movements.
 *
 * Scope (issue 8 #5): every route declares `config.scope`. Lists (`scope.query()`) filter by
 * `req.scope.site(...)`; one thing by id (`scope.resource(...)`) is loaded and checked by the
 * framework, which answers 404 for another site's, and hands it over in `req.resource`.
 */
export async function ledgerRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  app.get(
    '/api/v1/movements/:id',
    { config: { roles: READ_ROLES, scope: scope.resource('movement', MovementId, (d, id) => d.store.movement(id)) } },
    async (req) => req.resource as LedgerRow,
  );

  app.post('/api/v1/movements', { config: { roles: ['operator', 'site-manager'], scope: scope.body(movementSites) } }, async (req, reply) => {
    const b = body(PostMovements, req);
    const movements: Movement[] = [];
    const hashes: string[] = [];
    for (const [i, raw] of b.movements.entries()) {
      const r = RestMovement.safeParse(raw);
      if (!r.success) {
        const issue = r.error.issues[0]!;
        throw new Errors.BadBody(`movements.${i}.${issue.path.join('.')}: ${issue.message}`);
      }
      // The same cross-field rules as the wire schema (qty signs, transfer locations, one of
      // sku/gtin/epc), checked with stand-in edge fields; stored under the reserved edge `api`
      // with seq 0 (no gap tracking).
      const full = Movement.safeParse({ ...r.data, v: SCHEMA_VERSION, edge: 'rest', seq: 1 });
      if (!full.success) {
        const issue = full.error.issues[0]!;
        throw new Errors.BadBody(`movements.${i}.${issue.path.join('.')}: ${issue.message}`);
      }
      // The ledger keeps the canonical posted movement as `raw`: the original content of an id,
      // whatever the storage does to its numbers (idempotency.ts).
      const canonical = canonicalJson(r.data);
      hashes.push(contentHash(canonical));
      movements.push({ ...full.data, raw: canonical, edge: API_EDGE, seq: 0 });
    }

    // Ids already in the ledger with other content: refused before anything is applied.
    const conflicts = async (indexes: number[]) => {
      const out: Array<{ index: number; id: string; hash: string; originalHash?: string }> = [];
      // Looked up concurrently (a PostgreSQL pool serves them in parallel), in chunks.
      const found: Array<LedgerRow | undefined> = [];
      for (let k = 0; k < indexes.length; k += 64) {
        found.push(...(await Promise.all(indexes.slice(k, k + 64).map((i) => deps.store.movement(movements[i]!.id)))));
      }
      for (const [j, i] of indexes.entries()) {
        const m = movements[i]!;
        const orig = found[j];
        if (!orig) continue;
        const originalHash = storedContentHash(orig);
        // The original's hash only to a caller who may see its site (nothing else leaks).
        if (originalHash !== hashes[i]) out.push({ index: i, id: m.id, hash: hashes[i]!, ...(req.scope.allows(orig.site) ? { originalHash } : {}) });
      }
      return out;
    };
    const refuse = (found: Awaited<ReturnType<typeof conflicts>>, extra: Record<string, unknown> = {}) => {
      const c = found[0]!;
      throw new IdempotencyConflictError(
        `movements.${c.index}.id: ${c.id} was already posted with other content (original ${c.originalHash ?? 'hash not shown: another site'}, this ${c.hash})` +
          (found.length > 1 ? `; ${found.length - 1} more in conflicts` : ''),
        { conflicts: found, ...extra },
      );
    };
    const before = await conflicts(movements.map((_, i) => i));
    if (before.length) refuse(before);

    // Who posted them: kept on each ledger row (`postedBy`, issue 9); none with --insecure.
    const tok = req.principal?.token;
    // Past the ingest queue's bound (--max-queued) this is 503 SG_ERR_UNAVAILABLE, nothing applied.
    const result = await deps.submit(movements, tok ? { tokenId: tok.id, user: tok.name } : undefined);
    const items = movements.map((m, i) => ({ id: m.id, status: result.outcomes[i]! }));
    // A concurrent post of the same id (or the same id twice in this body) with other content
    // lands here as `duplicate`: still a conflict, reported beside what was applied.
    const after = await conflicts(items.flatMap((it, i) => (it.status === 'duplicate' ? [i] : [])));
    if (after.length) refuse(after, { items, applied: result.applied });
    reply.status(result.applied > 0 ? 201 : 200);
    return { items, applied: result.applied, duplicates: result.duplicates, exceptions: result.exceptions };
  });

  app.get('/api/v1/exceptions', { config: { roles: EXCEPTION_ROLES, scope: scope.query() } }, async (req) => {
    const q = query(ExceptionsQuery, req);
    const s = req.scope.site(q.site);
    const projects = req.scope.projectFilter();
    const items = projects
      ? await projectExceptions(deps, { projects, state: q.state, limit: q.limit, ...(s === undefined ? {} : { site: s }), ...(q.before ? { before: q.before } : {}) })
      : await deps.store.exceptions({ state: q.state, limit: q.limit, ...(s === undefined ? {} : { site: s }), ...(q.before ? { before: q.before } : {}) });
    const last = items[items.length - 1];
    return { items, next: items.length === q.limit && last ? String(last.id) : null };
  });

  app.post(
    '/api/v1/exceptions/:id/resolve',
    // A project manager resolves its projects' exceptions (OVER_ISSUE is routed to it); the
    // loaded row's `project` makes any other one 404 for it (scope.ts).
    { config: { roles: ['site-manager', 'project-manager'], scope: scope.resource('exception', PositiveId, (d, id) => d.store.exception(id)) } },
    async (req) => {
      const ex = req.resource as ExceptionRow;
      const b = body(ResolveBody, req);
      const r = await deps.store.resolveException(ex.id, req.principal?.subject ?? 'unknown', b.resolution);
      if (!r) throw new Errors.NotFound(`id: no exception ${ex.id}`);
      return r;
    },
  );

  app.get('/api/v1/ledger/verify', { config: { roles: READ_ROLES, scope: scope.query() } }, async (req) => {
    const q = query(VerifyQuery, req);
    return deps.store.verifyChain(q.site);
  });

  app.get('/api/v1/stock/fefo', { config: { roles: READ_ROLES, scope: scope.query() } }, async (req) => {
    const q = query(FefoQuery, req);
    const items = await deps.store.fefo({ site: q.site, sku: q.sku });
    // The suggestion: issue from the first-expiring batch that has stock.
    return { items, suggestion: items[0] ?? null };
  });
}

/** The exception queue of a project manager's projects (the store's query knows no projects). */
async function projectExceptions(deps: ApiDeps, q: { projects: string[]; site?: string; state: 'open' | 'resolved' | 'all'; limit: number; before?: number }): Promise<ExceptionRow[]> {
  if (q.projects.length === 0) return [];
  let sel = deps.db.kysely.selectFrom('exceptions').selectAll().where('project', 'in', q.projects);
  if (q.site !== undefined) sel = sel.where('site', '=', q.site);
  if (q.state !== 'all') sel = sel.where('state', '=', q.state);
  if (q.before !== undefined) sel = sel.where('id', '<', q.before);
  return (await sel.orderBy('id', 'desc').limit(q.limit).execute()).map(exceptionRow);
}
