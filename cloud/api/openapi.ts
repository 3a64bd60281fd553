import { z } from 'zod';
import type { Role } from '../auth/auth.js';

/** One documented route; route plugins export a list of these beside their handlers. */
export interface RouteDoc {
  method: 'get' | 'post' | 'put' | 'delete';
  /** Fastify form, e.g. `/api/v1/movements/:id`. */
  path: string;
  summary: string;
  tag: string;
  /** Roles allowed (admin always); absent = public. */
  roles?: readonly Role[];
  query?: z.ZodObject;
  body?: z.ZodType;
  /** The 200/201 body. */
  response?: z.ZodType;
  /** Status of a successful call. Default 200. */
  status?: number;
  /** Route-specific error answers beside 400/401/403, e.g. `{ 409: 'id reused with other content' }`. */
  errors?: Record<number, string>;
}

/** What a route's scope declaration means for a caller, for the docs (`x-scope`). */
const SCOPE_TEXT: Record<string, string> = {
  public: 'public: no token, no per-site data',
  global: 'global: tokens limited to sites get 403',
  shared: 'shared: not per-site data',
  query: 'sites: `?site=` must be one of the token\'s sites (403); results hold only the token\'s sites',
  path: 'sites: `:site` must be one of the token\'s sites (403)',
  body: 'sites: every site in the body must be one of the token\'s sites (403)',
  resource: 'resource: another site\'s is 404, as if it did not exist',
};

/** The `x-scope` text of a route's declaration (`config.scope`). */
export function scopeText(s: { kind: string; from?: string } | undefined): string | undefined {
  if (!s) return undefined;
  return SCOPE_TEXT[s.kind === 'sites' ? s.from! : s.kind];
}

const json = (s: z.ZodType, io: 'input' | 'output') => {
  const { $schema: _drop, ...rest } = z.toJSONSchema(s, { io, unrepresentable: 'any' }) as Record<string, unknown>;
  return rest;
};

/**
 * The OpenAPI 3.1 document, generated from the same zod schemas the routes validate with, so the
 * docs cannot drift from what the server accepts.
 */
export function buildOpenApi(docs: readonly RouteDoc[], version: string, scopes: ReadonlyMap<string, string> = new Map()): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const d of docs) {
    const oaPath = d.path.replace(/:([A-Za-z]+)/g, '{$1}');
    const params: unknown[] = [...d.path.matchAll(/:([A-Za-z]+)/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
    if (d.query) {
      const shape = json(d.query, 'input') as { properties?: Record<string, unknown>; required?: string[] };
      for (const [name, schema] of Object.entries(shape.properties ?? {})) {
        params.push({ name, in: 'query', required: shape.required?.includes(name) ?? false, schema });
      }
    }
    const op: Record<string, unknown> = {
      summary: d.summary,
      tags: [d.tag],
      parameters: params,
      responses: {
        [String(d.status ?? 200)]: {
          description: 'OK',
          ...(d.response ? { content: { 'application/json': { schema: json(d.response, 'output') } } } : {}),
        },
        ...(d.roles ? { '401': { description: 'No or unknown token' }, '403': { description: `Needs role: admin${d.roles.length ? `, ${d.roles.join(', ')}` : ''}` } } : {}),
        '400': { description: 'Invalid input; `message` names the field' },
        ...Object.fromEntries(Object.entries(d.errors ?? {}).map(([k, v]) => [k, { description: v }])),
      },
    };
    const sc = scopes.get(`${d.method} ${d.path}`);
    if (sc) op['x-scope'] = sc;
    if (d.roles) {
      op.security = [{ bearer: [] }];
      op['x-roles'] = ['admin', ...d.roles];
    }
    if (d.body) op.requestBody = { required: true, content: { 'application/json': { schema: json(d.body, 'input') } } };
    (paths[oaPath] ??= {})[d.method] = op;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'stockgate API',
      version,
      description: 'Inventory ledger, stock, exceptions and alerts. Errors: `{"statusCode","code","error","message"}` with `SG_ERR_*` codes.',
    },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    paths,
  };
}

/** A small, dependency-free HTML rendering of the document for people. */
export function renderDocsHtml(doc: Record<string, unknown>): string {
  const esc = (s: unknown) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
  const paths = doc.paths as Record<string, Record<string, Record<string, unknown>>>;
  const rows = Object.entries(paths)
    .flatMap(([p, ops]) => Object.entries(ops).map(([m, op]) => ({ p, m, op })))
    .map(({ p, m, op }) => {
      const params = (op.parameters as Array<{ name: string; in: string; required: boolean }>).map((x) => `${x.name}${x.required ? '' : '?'} <small>(${x.in})</small>`).join(', ');
      const roles = (op['x-roles'] as string[] | undefined)?.join(', ') ?? 'public';
      const body = (op.requestBody as { content: Record<string, { schema: unknown }> } | undefined)?.content['application/json']?.schema;
      const resp = Object.values(op.responses as Record<string, { content?: Record<string, { schema: unknown }> }>)[0]?.content?.['application/json']?.schema;
      return `<section><h2><span class="m ${m}">${m.toUpperCase()}</span> <code>${esc(p)}</code></h2><p>${esc(op.summary)}</p>
<p><b>roles:</b> ${esc(roles)}${op['x-scope'] ? ` &nbsp; <b>scope:</b> ${esc(op['x-scope'])}` : ''}${params ? ` &nbsp; <b>parameters:</b> ${params}` : ''}</p>
${body ? `<details><summary>request body</summary><pre>${esc(JSON.stringify(body, null, 2))}</pre></details>` : ''}
${resp ? `<details><summary>response</summary><pre>${esc(JSON.stringify(resp, null, 2))}</pre></details>` : ''}</section>`;
    })
    .join('\n');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>stockgate API</title>
<style>body{font:15px/1.45 system-ui,sans-serif;max-width:1000px;margin:24px auto;padding:0 16px;color:#1f2328}
h1{margin-bottom:4px}section{border-top:1px solid #d0d7de;padding:8px 0}h2{font-size:16px;margin:6px 0}
.m{display:inline-block;min-width:58px;text-align:center;border-radius:4px;color:#fff;font-size:12px;padding:2px 6px}
.get{background:#0969da}.post{background:#1a7f37}.put{background:#9a6700}.delete{background:#cf222e}pre{background:#f6f8fa;padding:8px;overflow:auto}</style>
</head><body><h1>stockgate API</h1><p>Machine-readable: <a href="/docs/openapi.json">/docs/openapi.json</a> (OpenAPI 3.1, generated from the zod schemas).</p>
${rows}</body></html>`;
}
