/**
 * Issue 11 §3 through the API of a real cloud: the worked example's demand issued as ledger
 * movements (by their ts, weekly buckets, a quiet week counting 0) gives ADI 4.00, CV² 0.018519,
 * intermittent, Croston 1.708738, SBA 1.623301, TSB 1.316824 at α = β = 0.1; reorder suggestions
 * use that forecast with a stated service level.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { normalQuantile } from '../../../cloud/forecast/index.js';
import { startApiCloud, type ApiCloud } from '../../helpers/api-cloud.js';
import { get, move } from '../sales/sales-helpers.js';

for (const backend of ['sqlite', 'postgres'] as const) {
  describe(`forecast and reorder suggestions over the ledger (${backend})`, () => {
    let api: ApiCloud;
    beforeAll(async () => {
      api = await startApiCloud(backend);
      const t = api.admin;
      await move(api.url, 'F1', 'receive', 'CEM', 100, t, { ts: '2026-01-01T08:00:00Z' });
      // Weeks from Monday 2026-01-05: week 3 issues 5, week 7 issues 3 + 4, week 10 issues 6.
      await move(api.url, 'F1', 'issue', 'CEM', 5, t, { ts: '2026-01-21T10:00:00Z' });
      await move(api.url, 'F1', 'issue', 'CEM', 3, t, { ts: '2026-02-16T00:00:00Z' });
      await move(api.url, 'F1', 'issue', 'CEM', 4, t, { ts: '2026-02-22T23:59:59Z' });
      await move(api.url, 'F1', 'issue', 'CEM', 6, t, { ts: '2026-03-12T10:00:00Z' });
      // Outside the window, and not an issue: neither counts.
      await move(api.url, 'F1', 'issue', 'CEM', 9, t, { ts: '2026-03-30T00:00:00Z' });
      await move(api.url, 'F1', 'receive', 'CEM', 50, t, { ts: '2026-02-03T00:00:00Z' });
    }, 60_000);
    afterAll(() => api?.stop());

    it('the worked example, to 1e-6', async () => {
      const r = await get(api.url, '/api/v1/forecast?site=F1&sku=CEM&period=week&from=2026-01-05&to=2026-03-29&alpha=0.1&beta=0.1&horizon=4', api.admin);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      const f = r.body;
      expect(f.history.map((h: { qty: number }) => h.qty)).toEqual([0, 0, 5, 0, 0, 0, 7, 0, 0, 6, 0, 0]);
      expect(f.history[0].start).toBe('2026-01-05');
      expect(f.class).toBe('intermittent');
      expect(f.method).toBe('sba');
      expect(f.adi).toBeCloseTo(4, 6);
      expect(f.cv2).toBeCloseTo(0.018519, 6);
      expect(f.methods.croston).toBeCloseTo(1.708738, 6);
      expect(f.methods.sba).toBeCloseTo(1.623301, 6);
      expect(f.methods.tsb).toBeCloseTo(1.316824, 6);
      expect(f.perPeriod).toBe(f.methods.sba);
      expect(f.total).toBeCloseTo(4 * 1.623301, 5);
      expect(f.fitted).toBe(false);
    });

    it('daily buckets, fitted parameters, and bad windows are refused naming the parameter', async () => {
      const d = await get(api.url, '/api/v1/forecast?site=F1&sku=CEM&period=day&from=2026-01-05&to=2026-03-29', api.admin);
      expect(d.status).toBe(200);
      expect(d.body.history).toHaveLength(84);
      expect(d.body.history.reduce((a: number, h: { qty: number }) => a + h.qty, 0)).toBe(18);
      expect(d.body.fitted).toBe(true);
      expect(d.body.class).toBe('intermittent'); // 4 demand days of 84 (ADI 21), sizes 5, 3, 4, 6 (CV² 0.069)
      expect(d.body.adi).toBe(21);
      const bad = await get(api.url, '/api/v1/forecast?site=F1&sku=CEM&from=2026-03-01&to=2026-01-01', api.admin);
      expect(bad.status).toBe(400);
      expect(bad.body.message).toMatch(/^from:/);
      expect((await get(api.url, '/api/v1/forecast?site=F1&sku=CEM&alpha=1.5', api.admin)).body.message).toMatch(/^alpha:/);
    });

    it('reorder suggestions: forecast over the lead time + z·σ·√(lead time), the default lead time stated', async () => {
      const r = await get(api.url, '/api/v1/reorder-suggestions?site=F1&period=week&from=2026-01-05&to=2026-03-29&serviceLevel=0.95', api.admin);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      const [s] = r.body.items;
      expect(s).toMatchObject({ sku: 'CEM', class: 'intermittent', method: 'sba', leadTimeDays: 7, leadTimeSource: 'default', onHand: 100 + 50 - 5 - 3 - 4 - 6 - 9, onOrder: 0 });
      // One week of lead time: reorder point = perPeriod + 1.645 σ.
      const series = [0, 0, 5, 0, 0, 0, 7, 0, 0, 6, 0, 0];
      const mean = 18 / 12;
      const sigma = Math.sqrt(series.reduce((a, x) => a + (x - mean) ** 2, 0) / 12);
      expect(s.sigma).toBeCloseTo(sigma, 9);
      expect(s.reorderPoint).toBeCloseTo(s.perPeriod + normalQuantile(0.95) * sigma, 9);
      expect(s.suggestedQty).toBe(0); // 123 on hand is far above it
    });

    it('suggestions to order become one draft purchase requisition for a project stage', async () => {
      const t = api.admin;
      expect((await api.call('PUT', '/api/v1/items/SAND', { body: { name: 'sand', uom: 'ea', standardCost: '5.00' } })).status).toBe(200);
      await move(api.url, 'F1', 'receive', 'SAND', 40, t, { ts: '2026-01-02T08:00:00Z' });
      for (const d of ['2026-01-06', '2026-01-13', '2026-01-20', '2026-01-27', '2026-02-03', '2026-02-10', '2026-02-17', '2026-02-24']) await move(api.url, 'F1', 'issue', 'SAND', 4.5, t, { ts: `${d}T09:00:00Z` });
      const p = await api.call('POST', '/api/v1/projects', { body: { code: 'RP', name: 'reorder', site: 'F1', manager: 'pm', contractRevenue: '100.00', stages: [{ code: 'S1', name: 'one', needBy: '2027-01-01' }] } });
      expect(p.status, p.text).toBe(201);
      const r = await api.call('POST', '/api/v1/reorder-suggestions/requisition', { body: { site: 'F1', project: 'RP', stage: 'S1', from: '2026-01-05', to: '2026-03-01' } });
      expect(r.status, r.text).toBe(201);
      const sug = (await get(api.url, '/api/v1/reorder-suggestions?site=F1&period=week&from=2026-01-05&to=2026-03-01', t)).body.items.find((i: { sku: string }) => i.sku === 'SAND');
      expect(sug.suggestedQty).toBeGreaterThan(0);
      expect(r.body.requisitions).toEqual([{ id: expect.stringMatching(/^REQ-/), status: 'draft', lines: [{ sku: 'SAND', qty: sug.suggestedQty }] }]);
      const req = await get(api.url, `/api/v1/requisitions/${r.body.requisitions[0].id}`, t);
      expect(req.body).toMatchObject({ status: 'draft' });
    });

    it("the lead time is the supplier's leadTimeDays (the supplier of the SKU's latest PO line at the site), not the default", async () => {
      const put = async (path: string, body: unknown) => expect((await api.call('PUT', path, { body })).status).toBeLessThan(300);
      await put('/api/v1/items/CEM', { name: 'cement', uom: 'ea' });
      await put('/api/v1/suppliers/SLOW', { name: 'slow', leadTimeDays: 14 });
      await put('/api/v1/suppliers/FAST', { name: 'fast', leadTimeDays: 3 });
      const po = async (supplier: string, qty: number) => {
        const r = await api.call('POST', '/api/v1/purchase-orders', { body: { supplier, site: 'F1', expectedAt: '2026-04-20', lines: [{ sku: 'CEM', qty, unitPrice: '30.00' }] } });
        expect(r.status, r.text).toBe(201);
        return (r.body as { id: string }).id;
      };
      const first = await po('FAST', 10);
      expect((await api.call('POST', `/api/v1/purchase-orders/${first}/submit`)).status).toBe(200);
      await po('SLOW', 20);
      const sug = async () => (await get(api.url, '/api/v1/reorder-suggestions?site=F1&period=week&from=2026-01-05&to=2026-03-29&serviceLevel=0.95', api.admin)).body.items.find((i: { sku: string }) => i.sku === 'CEM');
      // The latest PO line (SLOW, a draft) names the supplier: two weeks of lead time.
      const s = await sug();
      expect(s).toMatchObject({ supplier: 'SLOW', leadTimeDays: 14, leadTimeSource: 'supplier', onOrder: 10 });
      expect(s.reorderPoint).toBeCloseTo(2 * s.perPeriod + normalQuantile(0.95) * s.sigma * Math.SQRT2, 9);
      // A cancelled PO does not count: the earlier supplier applies again.
      const latest = (await api.call('GET', '/api/v1/purchase-orders?site=F1')).body as { items: Array<{ id: string; supplier: string }> };
      const slow = latest.items.find((p) => p.supplier === 'SLOW')!;
      expect((await api.call('POST', `/api/v1/purchase-orders/${slow.id}/cancel`)).status).toBe(200);
      expect(await sug()).toMatchObject({ supplier: 'FAST', leadTimeDays: 3, leadTimeSource: 'supplier' });
      // Another site never ordered CEM: the stated default.
      expect((await get(api.url, '/api/v1/reorder-suggestions?site=F2&period=week&from=2026-01-05&to=2026-03-29', api.admin)).body.items).toEqual([]);
    });
  });
}
