import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertLine, title, type AlertEventJson } from '../../../cloud/channels/formats.js';
import { startApiCloud, type ApiCloud, type Backend } from '../../helpers/api-cloud.js';
import { uniqueId, waitFor } from '../../helpers/procs.js';
import { id, receive } from '../../helpers/route-examples.js';

/**
 * Issue 13 §3 with issue 10 §1: a project's OVER_ISSUE reaches the channels routed to that project
 * (its manager's robot), queued in the ledger follower's transaction, and the message names the
 * project. A channel of another project, or of another alert type, gets nothing.
 */
for (const backend of ['sqlite', 'postgres'] as Backend[]) {
  describe(`project alerts to channels (${backend})`, () => {
    let api: ApiCloud;
    const site = uniqueId('pa');
    const A = `A-${site}`;
    const B = `B-${site}`;
    let k = 0;
    beforeAll(async () => {
      api = await startApiCloud(backend);
      expect((await api.call('PUT', '/api/v1/items/CEMENT', { body: { name: 'cement', uom: 'bag' } })).status).toBe(200);
      const stages = [{ code: 'S1', name: 'foundation', needBy: '2027-03-01' }];
      for (const code of [A, B]) expect((await api.call('POST', '/api/v1/projects', { body: { code, name: code, site, manager: `pm-${code}`, contractRevenue: '1.00', stages } })).status).toBe(201);
    }, 60_000);
    afterAll(() => api?.stop());

    it('OVER_ISSUE goes to the project\'s channel only, naming the project', async () => {
      const channel = async (routes: Record<string, unknown>) => {
        const r = await api.call('POST', '/api/v1/channels', { body: { type: 'webhook', url: 'http://127.0.0.1:9/hook', routes, lang: 'zh-CN' } });
        expect(r.status).toBe(201);
        return r.body.id as string;
      };
      const forA = await channel({ types: ['OVER_ISSUE'], projects: [A] });
      const forB = await channel({ types: ['OVER_ISSUE'], projects: [B] });
      const stockOnly = await channel({ types: ['reorder'], sites: [site] });
      // No plan for S1 of A: any issue to it is over.
      const r = await api.call('POST', '/api/v1/movements', { body: { movements: [receive(site, id(++k + (backend === 'sqlite' ? 7000 : 8000)), { kind: 'issue', sku: 'CEMENT', qty: 2, uom: 'bag', project: A, stage: 'S1' })] } });
      expect(r.status).toBe(201);
      const deliveries = async (ch: string) => (await api.call('GET', `/api/v1/channels/${ch}/deliveries`)).body.items as Array<{ eventId: string }>;
      await waitFor(async () => (await deliveries(forA)).length > 0, 'a delivery on project A\'s channel');
      const overs = ((await api.call('GET', `/api/v1/exceptions?site=${site}&state=all`)).body.items as Array<{ id: number; type: string; project: string }>).filter((e) => e.type === 'OVER_ISSUE');
      expect(overs.map((e) => e.project)).toEqual([A]);
      expect((await deliveries(forA)).map((d) => d.eventId)).toEqual([`exception-${overs[0]!.id}-opened`]);
      expect(await deliveries(forB)).toEqual([]);
      expect(await deliveries(stockOnly)).toEqual([]);
    }, 60_000);
  });
}

describe('project alert messages', () => {
  const a: AlertEventJson = { id: 'exception-7', type: 'OVER_ISSUE', site: 'depot-1', event: 'opened', eventId: 'exception-7-opened', sku: 'CEMENT', project: 'P-东区', stage: 'S2', value: 13, threshold: 10, uom: 'bag', raisedAt: '2026-12-06T03:00:05.000Z' };
  it('name the project, the stage and issued against plan, in both languages', () => {
    expect(title([a], 'zh-CN')).toBe('[stockgate] 超领 depot-1 P-东区 CEMENT');
    expect(alertLine(a, 'zh-CN')).toBe('- 🔴 **超领** · 站点 depot-1 · SKU CEMENT · 项目 P-东区 · 阶段 S2 · 已领 13 bag（计划 10 bag） · 2026-12-06 03:00:05 UTC');
    expect(alertLine(a, 'en')).toContain('project P-东区 · stage S2 · issued 13 bag (plan 10 bag)');
  });
});
