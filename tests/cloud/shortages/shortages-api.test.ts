/**
 * Issue 11 §2 acceptance through the API of a real cloud (projects, procurement, the ledger
 * follower): project A, stage 1 (needBy D1) = F × 2 with F = {cement 50, rebar 1.5}, stage 2
 * (needBy D2) = S × 3 with S = {cement 40, rebar 2, formwork 10}; on hand cement 150, rebar 4;
 * issued to stage 1 cement 60, rebar 3; open POs rebar 5 at D2 − 5, formwork 20 at D2 + 3.
 * Shortages: cement 70 and formwork 30 in stage 2 (the 20 listed late), rebar not listed; /ask
 * answers the same rows in Chinese and English; a sales order reserving 30 cement makes it 100.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiCloud, type ApiCloud } from '../../helpers/api-cloud.js';
import { waitFor } from '../../helpers/procs.js';
import { get, move, post } from '../sales/sales-helpers.js';

const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
const D1 = day(20);
const D2 = day(40);

for (const backend of ['sqlite', 'postgres'] as const) {
  describe(`shortages and ask (${backend})`, () => {
    let api: ApiCloud;
    const put = async (path: string, body: unknown) => {
      const r = await api.call('PUT', path, { body });
      expect(r.status, `${path} ${r.text}`).toBeLessThan(300);
      return r.body;
    };
    const ok = async (path: string, body: unknown) => {
      const r = await post(api.url, path, body, { token: api.admin });
      expect(r.status, `${path} ${JSON.stringify(r.body)}`).toBeLessThan(300);
      return r.body;
    };
    beforeAll(async () => {
      api = await startApiCloud(backend);
      await put('/api/v1/items/cement', { name: 'cement', uom: 'bag' });
      await put('/api/v1/items/rebar', { name: 'rebar', uom: 't' });
      await put('/api/v1/items/formwork', { name: 'formwork', uom: 'ea' });
      await put('/api/v1/suppliers/SUP', { name: 'supplier', leadTimeDays: 10 });
      await ok('/api/v1/projects', { code: 'A', name: 'Project A', site: 'S1', manager: 'pm-a', contractRevenue: '20000.00', stages: [{ code: '1', name: 'foundation', needBy: D1 }, { code: '2', name: 'structure', needBy: D2 }] });
      await put('/api/v1/projects/A/stages/1/plan', { lines: [{ sku: 'cement', qty: 100 }, { sku: 'rebar', qty: 3 }] });
      await put('/api/v1/projects/A/stages/2/plan', { lines: [{ sku: 'cement', qty: 120 }, { sku: 'rebar', qty: 6 }, { sku: 'formwork', qty: 30 }] });
      await move(api.url, 'S1', 'receive', 'cement', 150, api.admin, { uom: 'bag' });
      await move(api.url, 'S1', 'receive', 'rebar', 4, api.admin, { uom: 't' });
      await move(api.url, 'S1', 'issue', 'cement', 60, api.admin, { uom: 'bag', project: 'A', stage: '1' });
      await move(api.url, 'S1', 'issue', 'rebar', 3, api.admin, { uom: 't', project: 'A', stage: '1' });
      // The ledger follower has applied the receipts and issues (the projects consumer booked the
      // issues to stage 1) before the POs exist: a receipt it applied later would be matched to them.
      await waitFor(async () => (await get(api.url, '/api/v1/projects/A/stages/1/plan', api.admin)).body?.lines?.find((l: { sku: string }) => l.sku === 'rebar')?.issued === 3, 'issues booked to stage 1');
      for (const [sku, qty, expectedAt] of [['rebar', 5, day(35)], ['formwork', 20, day(43)]] as const) {
        const po = await ok('/api/v1/purchase-orders', { supplier: 'SUP', site: 'S1', expectedAt, lines: [{ sku, qty, unitPrice: '10.00' }] });
        const sub = await ok(`/api/v1/purchase-orders/${po.id}/submit`, {});
        expect(sub.status).toBe('approved');
      }
    }, 90_000);
    afterAll(() => api?.stop());

    it('cement 70 and formwork 30 (20 incoming, late) in stage 2; rebar not listed', async () => {
      const r = await get(api.url, '/api/v1/projects/A/shortages', api.admin);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      const rows = r.body.items.map((i: any) => [i.stage, i.sku, i.shortage]);
      expect(rows).toEqual([['2', 'cement', 70], ['2', 'formwork', 30]]);
      const fw = r.body.items.find((i: any) => i.sku === 'formwork');
      expect(fw).toMatchObject({ planned: 30, issued: 0, need: 30, needBy: D2, coveredFromStock: 0, incoming: [{ qty: 20, expectedAt: day(43), late: true }] });
      expect(fw.suggestOrder.qty).toBe(30);
      // Formwork was ordered from SUP (leadTimeDays 10): order by D2 − 10. Cement was never
      // ordered at the site: the stated default of 7 days.
      expect(fw.suggestOrder).toEqual({ qty: 30, orderBy: day(30), supplier: 'SUP', leadTimeDays: 10, leadTimeSource: 'supplier' });
      const cem = r.body.items.find((i: any) => i.sku === 'cement');
      expect(cem).toMatchObject({ planned: 120, need: 120, coveredFromStock: 50 });
      expect(cem.suggestOrder).toEqual({ qty: 70, orderBy: day(33), leadTimeDays: 7, leadTimeSource: 'default' });
      const all = await get(api.url, '/api/v1/projects/A/shortages?all=1', api.admin);
      expect(all.body.items.find((i: any) => i.stage === '2' && i.sku === 'rebar')).toMatchObject({ need: 6, coveredFromStock: 1, shortage: 0, incoming: [{ qty: 5, late: false }] });
    });

    it('/ask gives the same rows, in Chinese and in English', async () => {
      const rows = (await get(api.url, '/api/v1/projects/A/shortages', api.admin)).body.items;
      const zh = await post(api.url, '/api/v1/ask', { q: 'A项目还缺什么材料?' }, { token: api.admin });
      expect(zh.status).toBe(200);
      expect(zh.body).toMatchObject({ intent: 'shortages', params: { project: 'A' } });
      expect(zh.body.data.items).toEqual(rows);
      expect(zh.body.answer).toContain('cement 缺 70');
      const en = await post(api.url, '/api/v1/ask', { q: 'what is project A missing?' }, { token: api.admin });
      expect(en.body.data.items).toEqual(rows);
      expect(en.body.answer).toMatch(/^Project A is short of 2 material/);
      const other = await post(api.url, '/api/v1/ask', { q: '今天天气怎么样' }, { token: api.admin });
      expect(other.body.intent).toBe('unknown');
      expect(other.body.answer).toContain('A项目还缺什么材料');
      const stock = await post(api.url, '/api/v1/ask', { q: 'stock of cement' }, { token: api.admin });
      expect(stock.body.data.sites).toEqual([{ site: 'S1', onHand: 90, uom: 'bag' }]);
    });

    it('a sales order reserving 30 cement makes the cement shortage 100', async () => {
      const so = await post(api.url, '/api/v1/sales-orders', { site: 'S1', customer: 'C', lines: [{ sku: 'cement', qty: 30, unitPrice: '40.00' }] }, { token: api.admin, key: 'short-30' });
      expect(so.status).toBe(201);
      const r = await get(api.url, '/api/v1/projects/A/shortages', api.admin);
      expect(r.body.items.find((i: any) => i.sku === 'cement').shortage).toBe(100);
    });

    it("a SKU's latest PO line names its supplier, whose leadTimeDays gives the latest order date", async () => {
      await put('/api/v1/suppliers/SUP-FAST', { name: 'fast supplier', leadTimeDays: 2 });
      // A draft PO (not incoming: the shortage stays) for cement from SUP-FAST.
      await ok('/api/v1/purchase-orders', { supplier: 'SUP-FAST', site: 'S1', expectedAt: day(50), lines: [{ sku: 'cement', qty: 1, unitPrice: '10.00' }] });
      const cem = (await get(api.url, '/api/v1/projects/A/shortages', api.admin)).body.items.find((i: any) => i.sku === 'cement');
      expect(cem.shortage).toBe(100);
      expect(cem.suggestOrder).toEqual({ qty: 100, orderBy: day(38), supplier: 'SUP-FAST', leadTimeDays: 2, leadTimeSource: 'supplier' });
      // A supplier's new lead time applies at once.
      await put('/api/v1/suppliers/SUP-FAST', { name: 'fast supplier', leadTimeDays: 5 });
      expect((await get(api.url, '/api/v1/projects/A/shortages', api.admin)).body.items.find((i: any) => i.sku === 'cement').suggestOrder).toMatchObject({ orderBy: day(35), leadTimeDays: 5 });
    });
  });
}
