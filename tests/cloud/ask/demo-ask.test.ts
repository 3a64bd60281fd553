/**
 * Issue 11 acceptance "Demo": the demo's example project (seeded by `stockgate demo` through
 * cli/commands/demo-business.ts) is answered by POST /api/v1/ask, in Chinese and in English.
 */
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedBusiness } from '../../../cli/commands/demo-business.js';
import { parseCloudConfig } from '../../../cloud/config.js';
import { startCloud, type RunningCloud } from '../../../cloud/service.js';
import { tempDir } from '../../helpers/procs.js';

describe('the demo answers /ask for its example project', () => {
  let cloud: RunningCloud;
  let api: string;
  let project: string;
  beforeAll(async () => {
    const dataDir = join(tempDir('sg-demo-ask-'), 'cloud');
    mkdirSync(dataDir, { recursive: true });
    cloud = await startCloud(parseCloudConfig({ dataDir, mqttPort: 0, httpPort: 0, insecure: true }), pino({ level: 'silent' }));
    api = `http://127.0.0.1:${cloud.httpPort}`;
    for (const [sku, uom] of [['CEM-42.5-50KG', 'bag'], ['REBAR-HRB400-12', 't'], ['PIPE-PPR-DN25', 'm'], ['CABLE-YJV-3x95', 'm']] as const) {
      await fetch(`${api}/api/v1/items/${sku}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: sku, uom }) });
    }
    const seed = await seedBusiness(api, 'demo-site', pino({ level: 'silent' }));
    expect(seed?.project).toBeTruthy();
    project = seed!.project;
  }, 60_000);
  afterAll(() => cloud?.stop());

  const ask = async (q: string) => {
    const r = await fetch(`${api}/api/v1/ask`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ q }) });
    expect(r.status).toBe(200);
    return (await r.json()) as { intent: string; params: Record<string, string>; answer: string; data: { items: Array<{ sku: string; shortage: number }> } };
  };

  it('in Chinese and in English, with the rows of GET /api/v1/projects/:code/shortages', async () => {
    const rows = (await (await fetch(`${api}/api/v1/projects/${project}/shortages`)).json()) as { items: unknown[] };
    expect(rows.items.length).toBeGreaterThan(0);
    const zh = await ask(`${project}项目还缺什么材料?`);
    expect(zh).toMatchObject({ intent: 'shortages', params: { project } });
    expect(zh.data.items).toEqual(rows.items);
    expect(zh.answer).toContain(`${project}项目还缺`);
    const en = await ask(`what is project ${project} missing?`);
    expect(en.data.items).toEqual(rows.items);
    expect(en.answer).toMatch(new RegExp(`^Project ${project} is short of`));
  });
});
