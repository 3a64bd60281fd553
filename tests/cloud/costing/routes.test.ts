import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiCloud, type Backend, startApiCloud } from '../../helpers/api-cloud.js';
import { id, receive } from '../../helpers/route-examples.js';
import { uniqueId } from '../../helpers/procs.js';

/**
 * The costing routes through the real API and the real follower (issue 10 §4, §5): cost lines,
 * the report as JSON and CSV, who sees it (the project's manager yes, another project's manager
 * 404, an operator 403), the month close and the audit log, on SQLite and PostgreSQL.
 */
for (const backend of ['sqlite', 'postgres'] as Backend[]) {
  describe(`costing routes (${backend})`, () => {
    let api: ApiCloud;
    const site = uniqueId('cost');
    const A = `PA-${site}`;
    const B = `PB-${site}`;
    const tok: Record<string, string> = {};
    let k = 0;

    /** A project over the API (cloud/projects). */
    const project = async (code: string, manager: string) => {
      const r = await api.call('POST', '/api/v1/projects', { body: { code, name: code, site, manager, contractRevenue: '20000.00', stages: [{ code: 'S1', name: 'Foundation', needBy: '2027-01-01' }, { code: 'S2', name: 'Slab', needBy: '2027-02-01' }] } });
      expect(r.status).toBe(201);
    };

    beforeAll(async () => {
      api = await startApiCloud(backend);
      for (const [user, roles] of [['pm-a', ['project-manager']], ['pm-b', ['project-manager']], ['fin', ['finance']], ['op', ['operator']], ['sm', ['site-manager']]] as const) {
        expect((await api.call('POST', '/api/v1/users', { body: { id: `${user}-${site}`, name: user, roles } })).status).toBe(201);
        tok[user] = (await api.call('POST', '/api/v1/tokens', { body: { user: `${user}-${site}` } })).body.token as string;
      }
      await project(A, `pm-a-${site}`);
      await project(B, `pm-b-${site}`);
      // Cement with a standard cost of 34.50: received without a PO (flagged), then 120 issued to A, stage S1.
      expect((await api.call('PUT', '/api/v1/items/CEMENT', { body: { name: 'cement', uom: 'bag', standardCost: '34.50' } })).status).toBe(200);
      const post = await api.call('POST', '/api/v1/movements', {
        body: { movements: [receive(site, id(++k), { sku: 'CEMENT', qty: 200, uom: 'bag' }), receive(site, id(++k), { kind: 'issue', sku: 'CEMENT', qty: 120, uom: 'bag', project: A, stage: 'S1' })] },
      });
      expect(post.status).toBe(201);
      await api.cloud.follower.caughtUp();
    }, 60_000);
    afterAll(() => api?.stop());

    it('cost lines and the report: 4140.00 + 2160.00 + 3600.00 = 9900.00 against 20000.00, margin 10100.00 (50.50%), JSON and CSV', async () => {
      const labour = await api.call('POST', `/api/v1/projects/${A}/costs`, { token: tok['pm-a']!, body: { category: 'labour', amount: '2160.00', date: '2026-12-05', stage: 'S1', note: 'crew C-12' } });
      expect(labour).toMatchObject({ status: 201, body: { project: A, category: 'labour', amount: '2160.00', date: '2026-12-05', stage: 'S1', period: '2026-12' } });
      expect((await api.call('POST', `/api/v1/projects/${A}/costs`, { token: tok.fin!, body: { category: 'equipment', amount: '3600.00', date: '2026-12-05' } })).status).toBe(201);
      const r = await api.call('GET', `/api/v1/projects/${A}/cost-report`, { token: tok['pm-a']! });
      expect(r.body).toEqual({
        contractRevenue: '20000.00',
        cost: { material: '4140.00', labour: '2160.00', equipment: '3600.00', other: '0.00', total: '9900.00' },
        margin: '10100.00',
        marginPct: '50.50',
        stages: [
          { stage: 'S1', plannedValue: '0.00', actualMaterial: '4140.00' },
          { stage: 'S2', plannedValue: '0.00', actualMaterial: '0.00' },
        ],
      });
      const csv = await api.call('GET', `/api/v1/projects/${A}/cost-report?format=csv`, { token: tok.fin! });
      expect(csv.status).toBe(200);
      expect(csv.contentType).toMatch(/^text\/csv/);
      expect(csv.text.replace(/^\uFEFF/, '').split(/\r?\n/).slice(0, 9)).toEqual([
        'project,stage,figure,amount',
        `${A},,contractRevenue,20000.00`,
        `${A},,cost.material,4140.00`,
        `${A},,cost.labour,2160.00`,
        `${A},,cost.equipment,3600.00`,
        `${A},,cost.other,0.00`,
        `${A},,cost.total,9900.00`,
        `${A},,margin,10100.00`,
        `${A},,marginPct,50.50`,
      ]);
    });

    it("another project's manager gets 404 on everything of A's; an operator and a site manager may not read a cost report", async () => {
      expect((await api.call('GET', `/api/v1/projects/${A}/cost-report`, { token: tok['pm-b']! })).status).toBe(404);
      expect((await api.call('GET', `/api/v1/projects/${A}/cost-report?format=csv`, { token: tok['pm-b']! })).status).toBe(404);
      expect((await api.call('POST', `/api/v1/projects/${A}/costs`, { token: tok['pm-b']!, body: { category: 'other', amount: '1.00', date: '2026-12-05' } })).status).toBe(404);
      expect((await api.call('GET', `/api/v1/projects/${B}/cost-report`, { token: tok['pm-b']! })).status).toBe(200);
      expect((await api.call('GET', `/api/v1/projects/NOPE-${site}/cost-report`, { token: tok.fin! })).status).toBe(404);
      for (const who of ['op', 'sm']) expect((await api.call('GET', `/api/v1/projects/${A}/cost-report`, { token: tok[who]! })).status).toBe(403);
    });

    it('bad input is refused with the field named', async () => {
      const post = (body: unknown) => api.call('POST', `/api/v1/projects/${A}/costs`, { token: tok.fin!, body });
      expect((await post({ category: 'labour', amount: 2160, date: '2026-12-05' })).body.message).toMatch(/^amount: /);
      expect((await post({ category: 'labour', amount: '1.005', date: '2026-12-05' })).body.message).toMatch(/^amount: /);
      expect((await post({ category: 'material', amount: '1.00', date: '2026-12-05' })).body.message).toMatch(/^category: /);
      expect((await post({ category: 'labour', amount: '1.00', date: '2026-13-05' })).body.message).toMatch(/^date: /);
      expect(await post({ category: 'labour', amount: '1.00', date: '2026-12-05', stage: 'S9' })).toMatchObject({ status: 400, body: { code: 'SG_ERR_BAD_BODY', message: expect.stringMatching(/^stage: /) } });
      expect((await api.call('GET', `/api/v1/projects/${A}/cost-report?format=xml`, { token: tok.fin! })).body.message).toMatch(/^format: /);
      expect((await api.call('POST', '/api/v1/periods/2026-13/close', { token: tok.fin! })).body.message).toMatch(/^period: /);
    });

    it('month close: 201 once, then 409 SG_ERR_PERIOD_CLOSED for the month and for cost lines dated in it; the snapshot stays; audited', async () => {
      const closed = await api.call('POST', '/api/v1/periods/2026-11/close', { token: tok.fin! });
      expect(closed).toMatchObject({ status: 201, body: { period: '2026-11', closedBy: `fin-${site}` } });
      expect(await api.call('POST', '/api/v1/periods/2026-11/close', { token: tok.fin! })).toMatchObject({ status: 409, body: { code: 'SG_ERR_PERIOD_CLOSED', message: expect.stringMatching(/^period: /) } });
      expect(await api.call('POST', `/api/v1/projects/${A}/costs`, { token: tok.fin!, body: { category: 'other', amount: '5.00', date: '2026-11-30' } })).toMatchObject({ status: 409, body: { code: 'SG_ERR_PERIOD_CLOSED', message: expect.stringMatching(/^date: /) } });
      expect((await api.call('POST', '/api/v1/periods/2026-12/close', { token: tok['pm-a']! })).status).toBe(403);
      const nov = await api.call('GET', `/api/v1/projects/${A}/cost-report?period=2026-11`, { token: tok['pm-a']! });
      expect(nov.body).toMatchObject({ period: '2026-11', closed: true, cost: { total: '0.00' } });
      const log = await api.call('GET', `/api/v1/audit?entity=period&id=2026-11`);
      expect(log.body.items).toEqual([expect.objectContaining({ by: `fin-${site}`, action: 'close' })]);
      const costs = await api.call('GET', `/api/v1/audit?entity=project&id=${A}`);
      expect(costs.body.items.filter((i: { action: string }) => i.action === 'cost').map((i: { after: { amount: string } }) => i.after.amount)).toEqual(['2160.00', '3600.00']);
    });

    it('a standard cost given as "33.5" costs a receipt with no PO at 33.50 a unit: 7 issued to B are 234.50', async () => {
      expect((await api.call('PUT', '/api/v1/items/GRAVEL', { body: { name: 'gravel', uom: 'bag', standardCost: '33.5' } })).body.standardCost).toBe('33.50');
      const post = await api.call('POST', '/api/v1/movements', {
        body: { movements: [receive(site, id(++k), { sku: 'GRAVEL', qty: 10, uom: 'bag' }), receive(site, id(++k), { kind: 'issue', sku: 'GRAVEL', qty: 7, uom: 'bag', project: B, stage: 'S2' })] },
      });
      expect(post.status).toBe(201);
      await api.cloud.follower.caughtUp();
      const r = await api.call('GET', `/api/v1/projects/${B}/cost-report`, { token: tok['pm-b']! });
      expect(r.body).toMatchObject({ cost: { material: '234.50', total: '234.50' }, stages: [{ stage: 'S1', actualMaterial: '0.00' }, { stage: 'S2', actualMaterial: '234.50' }] });
    });
  });
}
