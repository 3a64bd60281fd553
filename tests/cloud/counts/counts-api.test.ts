/**
 * Issue 11 §4 through the API of a real cloud (ledger follower, costing, approvals): a count
 * taken while stock moves gives the true variance (snapshot 100, issue 5, counted 93 -> -2, not
 * -7), valued at the moving average; an adjustment in a count-adjustment band waits for its
 * step (no self-approval), one below every band posts at once; posting makes adjust rows.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiCloud, type ApiCloud } from '../../helpers/api-cloud.js';
import { waitFor } from '../../helpers/procs.js';
import { get, move, post } from '../sales/sales-helpers.js';

for (const backend of ['sqlite', 'postgres'] as const) {
  describe(`stock counts (${backend})`, () => {
    let api: ApiCloud;
    let finance: string;
    let clerk: string;
    const onHand = async (site: string, sku: string) => ((await get(api.url, `/api/v1/availability?site=${site}&sku=${sku}`, api.admin)).body.onHand as number);
    beforeAll(async () => {
      api = await startApiCloud(backend);
      for (const sku of ['CEM', 'SAND']) expect((await api.call('PUT', `/api/v1/items/${sku}`, { body: { name: sku, uom: 'ea', standardCost: '32.50' } })).status).toBe(200);
      finance = (await post(api.url, '/api/v1/tokens', { name: 'fin', roles: ['finance'] }, { token: api.admin })).body.token;
      clerk = (await post(api.url, '/api/v1/tokens', { name: 'clerk', roles: ['site-manager'] }, { token: api.admin })).body.token;
      const rules = await api.call('PUT', '/api/v1/sites/K1/approval-rules', { body: { rules: [{ docType: 'count-adjustment', minAmount: '50.00', steps: ['finance'] }] } });
      expect(rules.status, rules.text).toBeLessThan(300);
    }, 60_000);
    afterAll(() => api?.stop());

    it('count during movement: snapshot 100, issue 5, counted 93 -> variance -2; 65.00 is in the band, finance approves, adjust booked', async () => {
      await move(api.url, 'K1', 'receive', 'CEM', 100, api.admin);
      const c = await post(api.url, '/api/v1/counts', { site: 'K1', location: 'WH-1', skus: ['CEM'] }, { token: clerk });
      expect(c.status, JSON.stringify(c.body)).toBe(201);
      await move(api.url, 'K1', 'issue', 'CEM', 5, api.admin);
      expect((await post(api.url, `/api/v1/counts/${c.body.id}/lines`, { lines: [{ sku: 'CEM', qty: 93 }] }, { token: clerk })).status).toBe(200);
      await move(api.url, 'K1', 'issue', 'CEM', 1, api.admin); // after the count: in neither figure
      const s = await post(api.url, `/api/v1/counts/${c.body.id}/submit`, {}, { token: clerk });
      expect(s.status, JSON.stringify(s.body)).toBe(200);
      expect(s.body.lines).toEqual([expect.objectContaining({ location: 'WH-1', sku: 'CEM', snapshot: 100, moved: -5, expected: 95, counted: 93, variance: -2 })]);
      // The value is a cost field: a site manager does not see it, admin and finance do.
      expect(s.body.lines[0]).not.toHaveProperty('value');
      expect((await get(api.url, `/api/v1/counts/${c.body.id}`, finance)).body.lines[0]).toMatchObject({ variance: -2, value: '65.00', averageCost: '32.50' });
      const p = await post(api.url, `/api/v1/counts/${c.body.id}/post`, {}, { token: clerk });
      expect(p.body.status).toBe('pending-approval');
      expect(await onHand('K1', 'CEM')).toBe(94);
      // The opener may not approve; finance may.
      const self = await post(api.url, `/api/v1/counts/${c.body.id}/approve`, {}, { token: clerk });
      expect(self.status).toBe(403);
      const ok = await post(api.url, `/api/v1/counts/${c.body.id}/approve`, {}, { token: finance });
      expect(ok.status, JSON.stringify(ok.body)).toBe(200);
      expect(ok.body.status).toBe('posted');
      expect(await onHand('K1', 'CEM')).toBe(92);
      const adj = (await get(api.url, '/api/v1/movements?site=K1&limit=5', api.admin)).body.items.find((m: { kind: string }) => m.kind === 'adjust');
      expect(adj).toMatchObject({ sku: 'CEM', qty: -2, location: 'WH-1', id: `${c.body.id}-1` });
      const log = await get(api.url, `/api/v1/audit?entity=count&id=${c.body.id}`, api.admin);
      expect(log.body.items.map((i: { action: string }) => i.action)).toEqual(['open', 'count lines', 'submit', 'post', 'approve']);
    }, 60_000);

    it('below every band: posts at once; an operator sees no value', async () => {
      await move(api.url, 'K1', 'receive', 'SAND', 10, api.admin);
      const c = await post(api.url, '/api/v1/counts', { site: 'K1' }, { token: clerk });
      await post(api.url, `/api/v1/counts/${c.body.id}/lines`, { lines: [{ sku: 'SAND', location: 'WH-1', qty: 11 }] }, { token: clerk });
      const s = await post(api.url, `/api/v1/counts/${c.body.id}/submit`, {}, { token: clerk });
      expect(s.body.lines[0]).toMatchObject({ variance: 1 });
      const seenByAdmin = (await get(api.url, `/api/v1/counts/${c.body.id}`, api.admin)).body;
      expect(seenByAdmin.lines[0]).toMatchObject({ value: '32.50' });
      expect(seenByAdmin.value).toBe('32.50');
      const p = await post(api.url, `/api/v1/counts/${c.body.id}/post`, {}, { token: clerk });
      expect(p.body.status).toBe('posted');
      await waitFor(async () => (await onHand('K1', 'SAND')) === 11, 'adjusted');
      const op = (await post(api.url, '/api/v1/tokens', { name: 'op', roles: ['operator'] }, { token: api.admin })).body.token;
      const seen = await get(api.url, `/api/v1/counts/${c.body.id}`, op);
      expect(seen.body.lines[0]).not.toHaveProperty('value');
      expect(seen.body).not.toHaveProperty('value');
      const again = await post(api.url, `/api/v1/counts/${c.body.id}/post`, {}, { token: clerk });
      expect(again.body.code).toBe('SG_ERR_ILLEGAL_TRANSITION');
    }, 60_000);

    it('the ABC plan lists issued SKUs with class and due date', async () => {
      const r = await get(api.url, '/api/v1/counts/plan?site=K1', api.admin);
      expect(r.status).toBe(200);
      expect(r.body.items.map((i: { sku: string }) => i.sku)).toEqual(['CEM']);
      expect(r.body.items[0]).toMatchObject({ class: 'A', lastCounted: new Date().toISOString().slice(0, 10), overdue: false });
    });
  });
}
