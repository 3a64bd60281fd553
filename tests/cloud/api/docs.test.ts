import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import pino from 'pino';
import { parseCloudConfig } from '../../../cloud/config.js';
import { startCloud, type RunningCloud } from '../../../cloud/service.js';
import { tempDir } from '../../helpers/procs.js';

/** OpenAPI at /docs, generated from the zod schemas; it must list every route the server has. */
describe('API docs', () => {
  let cloud: RunningCloud;
  let url: string;
  beforeAll(async () => {
    cloud = await startCloud(parseCloudConfig({ dataDir: join(tempDir(), 'c'), mqttPort: 0, httpPort: 0, insecure: true }), pino({ level: 'silent' }));
    url = `http://127.0.0.1:${cloud.httpPort}`;
  });
  afterAll(() => cloud?.stop());

  it('serves an OpenAPI 3.1 document whose parameters and bodies come from the zod schemas', async () => {
    const doc = (await (await fetch(`${url}/docs/openapi.json`)).json()) as any;
    expect(doc.openapi).toBe('3.1.0');
    const stock = doc.paths['/api/v1/stock'].get;
    expect(stock.parameters.map((p: { name: string }) => p.name).sort()).toEqual(['location', 'site', 'sku']);
    expect(stock['x-roles']).toContain('admin');
    const movements = doc.paths['/api/v1/movements'].get.parameters.find((p: { name: string }) => p.name === 'limit');
    expect(movements.schema).toMatchObject({ type: 'integer', minimum: 1, maximum: 1000, default: 100 });
    const post = doc.paths['/api/v1/movements'].post.requestBody.content['application/json'].schema;
    expect(post.properties.movements.items.properties.kind.enum).toEqual(['receive', 'issue', 'return', 'transfer', 'adjust', 'count']);
    expect(doc.paths['/api/v1/movements/{id}'].get.parameters[0]).toMatchObject({ name: 'id', in: 'path', required: true });
  });

  it('documents every route the server registers', async () => {
    const doc = (await (await fetch(`${url}/docs/openapi.json`)).json()) as any;
    const documented = new Set<string>();
    for (const [p, ops] of Object.entries(doc.paths as Record<string, object>)) for (const m of Object.keys(ops)) documented.add(`${m} ${p}`);
    const undocumented = cloud.http.stockgateRoutes
      .filter((r) => !['/', '/docs', '/docs/openapi.json', '/board/assets/*'].includes(r.url))
      .map((r) => `${r.method} ${r.url.replace(/:([A-Za-z]+)/g, '{$1}')}`)
      .filter((k) => !documented.has(k));
    expect(undocumented).toEqual([]);
  });

  it('shows every documented route\'s scope declaration (x-scope), the stream\'s query and the 409 of REST idempotency', async () => {
    const doc = (await (await fetch(`${url}/docs/openapi.json`)).json()) as any;
    const missing: string[] = [];
    for (const [p, ops] of Object.entries(doc.paths as Record<string, Record<string, { 'x-scope'?: string }>>)) {
      for (const [m, op] of Object.entries(ops)) if (!op['x-scope']) missing.push(`${m} ${p}`);
    }
    expect(missing).toEqual([]);
    expect(doc.paths['/api/v1/exceptions/{id}/resolve'].post['x-scope']).toMatch(/^resource: another site's is 404/);
    expect(doc.paths['/api/v1/dead-letters'].get['x-scope']).toMatch(/^sites: `\?site=`/);
    expect(doc.paths['/api/v1/dead-letters'].get.parameters.map((p: { name: string }) => p.name)).toContain('site');
    expect(doc.paths['/board/events'].get.parameters.map((p: { name: string }) => p.name).sort()).toEqual(['lastEventId', 'site', 'token']);
    expect(doc.paths['/api/v1/movements'].post.responses['409'].description).toMatch(/SG_ERR_IDEMPOTENCY_CONFLICT/);
  });

  it('renders the docs page for people', async () => {
    const res = await fetch(`${url}/docs`);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    const html = await res.text();
    expect(html).toContain('/api/v1/stock/fefo');
    expect(html).toContain('/docs/openapi.json');
  });
});
