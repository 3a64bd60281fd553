import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiCloud, type ApiCloud, type Backend } from '../../helpers/api-cloud.js';
import { uniqueId, waitFor } from '../../helpers/procs.js';
import { id, receive } from '../../helpers/route-examples.js';

/**
 * Projects, BOMs, versioned stage plans, issued quantities from the ledger (the projects consumer
 * of the ledger follower) and over-issue exceptions, through the real API, with project-manager
 * scope (issue 10 §1, §5), on SQLite and PostgreSQL.
 */
for (const backend of ['sqlite', 'postgres'] as Backend[]) {
  describe(`projects over the API (${backend})`, () => {
    let api: ApiCloud;
    const site = uniqueId('prj');
    const A = `A-${site}`;
    const B = `B-${site}`;
    const tok: Record<string, string> = {};
    let k = 0;
    const move = async (over: Record<string, unknown>) => {
      const r = await api.call('POST', '/api/v1/movements', { body: { movements: [receive(site, id(++k + 1000 * (backend === 'sqlite' ? 1 : 2)), over)] } });
      expect(r.status).toBe(201);
    };
    const plan = (code: string, stage: string, token?: string) => api.call('GET', `/api/v1/projects/${code}/stages/${stage}/plan`, token ? { token } : {});

    beforeAll(async () => {
      api = await startApiCloud(backend);
      for (const [u, roles] of [['pm-a', ['project-manager']], ['pm-b', ['project-manager']]] as const) {
        expect((await api.call('POST', '/api/v1/users', { body: { id: `${u}-${site}`, name: u, roles, sites: [site] } })).status).toBe(201);
        tok[u] = (await api.call('POST', '/api/v1/tokens', { body: { user: `${u}-${site}` } })).body.token as string;
      }
      tok.operator = (await api.call('POST', '/api/v1/tokens', { body: { name: 'op', roles: ['operator'], sites: [site] } })).body.token as string;
      for (const [sku, uom] of [['CEMENT', 'bag'], ['SAND', 't'], ['REBAR', 'kg']]) expect((await api.call('PUT', `/api/v1/items/${sku}`, { body: { name: sku, uom } })).status).toBe(200);
      const stages = [{ code: 'S1', name: 'foundation', needBy: '2027-03-01' }, { code: 'S2', name: 'frame', needBy: '2027-05-01' }];
      const a = await api.call('POST', '/api/v1/projects', { body: { code: A, name: 'Project A', site, manager: `pm-a-${site}`, contractRevenue: '20000.00', budget: '15000.50', start: '2027-01-01', stages } });
      expect(a.status).toBe(201);
      expect(a.body).toMatchObject({ code: A, contractRevenue: '20000.00', budget: '15000.50', overIssuePct: '5', stages });
      expect((await api.call('POST', '/api/v1/projects', { body: { code: B, name: 'Project B', site, manager: `pm-b-${site}`, contractRevenue: '1.00', stages } })).status).toBe(201);
      expect((await api.call('PUT', '/api/v1/boms/FOUNDATION', { body: { name: 'foundation F', lines: [{ sku: 'CEMENT', qtyPer: 10, scrapPct: 2 }, { sku: 'SAND', qtyPer: 1.5 }] } })).status).toBe(200);
    }, 60_000);
    afterAll(() => api?.stop());

    it('refuses bad input with the field named: existing code, money, dates, stage codes, plan lines, unknown BOM', async () => {
      const base = { code: A, name: 'x', site, manager: 'm', contractRevenue: '1.00', stages: [{ code: 'S1', name: 's', needBy: '2027-01-01' }] };
      const dup = await api.call('POST', '/api/v1/projects', { body: base });
      expect([dup.status, dup.body.code]).toEqual([409, 'SG_ERR_CONFLICT']);
      expect((await api.call('POST', '/api/v1/projects', { body: { ...base, code: 'N1', contractRevenue: 20000 } })).body.message).toMatch(/^contractRevenue: /);
      expect((await api.call('POST', '/api/v1/projects', { body: { ...base, code: 'N1', contractRevenue: '1.001' } })).body.message).toMatch(/^contractRevenue: /);
      expect((await api.call('POST', '/api/v1/projects', { body: { ...base, code: 'N1', stages: [{ code: 'S1', name: 's', needBy: '2027-02-30' }] } })).body.message).toMatch(/^stages\.0\.needBy: /);
      expect((await api.call('POST', '/api/v1/projects', { body: { ...base, code: 'N1', stages: [base.stages[0], base.stages[0]] } })).body.message).toMatch(/^stages: .*unique/);
      const both = await api.call('PUT', `/api/v1/projects/${A}/stages/S1/plan`, { body: { lines: [{ sku: 'CEMENT', qty: 1, bom: 'FOUNDATION', multiplier: 1 }] } });
      expect([both.status, both.body.message]).toEqual([400, expect.stringMatching(/^lines\.0: /)]);
      const nobom = await api.call('PUT', `/api/v1/projects/${A}/stages/S1/plan`, { body: { lines: [{ sku: 'CEMENT', qty: 1 }, { bom: 'NOPE', multiplier: 1 }] } });
      expect([nobom.status, nobom.body.code, nobom.body.message]).toEqual([422, 'SG_ERR_BAD_PLAN', 'lines[1].bom: no BOM NOPE']);
      expect((await api.call('PUT', `/api/v1/projects/${A}/stages/S9/plan`, { body: { lines: [{ sku: 'CEMENT', qty: 1 }] } })).status).toBe(404);
      expect((await api.call('PUT', `/api/v1/projects/${A}/stages/S1/plan`, { body: { lines: [{ sku: 'CEMENT', qty: 1.0001 }] } })).body.message).toMatch(/^lines\.0\.qty: /);
    });

    it('plans store exploded lines and keep their versions; GET plan gives planned, net issued from the ledger, remaining', async () => {
      const v1 = await api.call('PUT', `/api/v1/projects/${A}/stages/S1/plan`, { token: tok['pm-a']!, body: { lines: [{ bom: 'FOUNDATION', multiplier: 2 }, { sku: 'REBAR', qty: 100, needBy: '2027-02-15' }] } });
      expect(v1.status).toBe(200);
      // 10 × 2 × 1.02 = 20.4 bags; 1.5 × 2 = 3 t.
      expect(v1.body).toMatchObject({ version: 1, lines: [{ sku: 'CEMENT', qty: 20.4, sources: ['FOUNDATION×2'] }, { sku: 'REBAR', qty: 100, needBy: '2027-02-15' }, { sku: 'SAND', qty: 3 }] });
      const v2 = await api.call('PUT', `/api/v1/projects/${A}/stages/S1/plan`, { body: { lines: [{ bom: 'FOUNDATION', multiplier: 2 }, { sku: 'REBAR', qty: 120 }] } });
      expect(v2.body).toMatchObject({ version: 2, changes: [{ sku: 'REBAR', from: 100, to: 120 }] });
      await move({ kind: 'receive', sku: 'CEMENT', qty: 100, uom: 'bag' });
      await move({ kind: 'issue', sku: 'CEMENT', qty: 15, uom: 'bag', project: A, stage: 'S1' });
      await move({ kind: 'return', sku: 'CEMENT', qty: 1.5, uom: 'bag', project: A, stage: 'S1' });
      await move({ kind: 'issue', sku: 'CEMENT', qty: 5, uom: 'bag', project: B, stage: 'S1' });
      await waitFor(async () => (await plan(A, 'S1')).body.lines.find((l: { sku: string }) => l.sku === 'CEMENT')?.issued === 13.5, 'issued to A/S1');
      const p = await plan(A, 'S1');
      expect(p.body).toMatchObject({ project: A, stage: 'S1', needBy: '2027-03-01', version: 2 });
      expect(p.body.lines).toEqual([
        { sku: 'CEMENT', uom: 'bag', planned: 20.4, issued: 13.5, remaining: 6.9, needBy: '2027-03-01' },
        { sku: 'REBAR', uom: 'kg', planned: 120, issued: 0, remaining: 120, needBy: '2027-03-01' },
        { sku: 'SAND', uom: 't', planned: 3, issued: 0, remaining: 3, needBy: '2027-03-01' },
      ]);
      const log = await api.call('GET', `/api/v1/audit?entity=plan&id=${A}/S1`);
      expect(log.body.items.map((i: { action: string; by: string }) => [i.action, i.by])).toEqual([['create', `pm-a-${site}`], ['revise', expect.any(String)]]);
      expect(log.body.items[1].before.version).toBe(1);
      expect((await api.call('GET', `/api/v1/audit?entity=project&id=${A}`)).body.items[0]).toMatchObject({ action: 'create', before: null, after: { code: A, contractRevenue: '20000.00' } });
    });

    it('over-issue: applied, one OVER_ISSUE per (project, stage, sku) while open, routed to the project manager; a new one after it is resolved', async () => {
      // Plan S2: 10 bags; tolerance 5% -> over beyond 10.5.
      expect((await api.call('PUT', `/api/v1/projects/${A}/stages/S2/plan`, { body: { lines: [{ sku: 'CEMENT', qty: 10 }] } })).status).toBe(200);
      const overs = async (token?: string) => ((await api.call('GET', `/api/v1/exceptions?site=${site}&state=all`, token ? { token } : {})).body.items as Array<{ id: number; type: string; project: string; state: string; message: string; sku: string }>).filter((e) => e.type === 'OVER_ISSUE' && e.project === A);
      await move({ kind: 'issue', sku: 'CEMENT', qty: 10.5, uom: 'bag', project: A, stage: 'S2' });
      await waitFor(async () => (await plan(A, 'S2')).body.lines[0]?.issued === 10.5, 'issued to A/S2');
      expect(await overs()).toEqual([]); // exactly plan + tolerance is not over
      await move({ kind: 'issue', sku: 'CEMENT', qty: 0.5, uom: 'bag', project: A, stage: 'S2' });
      await move({ kind: 'issue', sku: 'CEMENT', qty: 2, uom: 'bag', project: A, stage: 'S2' });
      await waitFor(async () => (await plan(A, 'S2')).body.lines[0]?.issued === 13, 'issued to A/S2');
      const open = await overs();
      expect(open).toHaveLength(1);
      expect(open[0]).toMatchObject({ project: A, sku: 'CEMENT', state: 'open' });
      expect(open[0]!.message).toContain(`pm-a-${site}`);
      expect(open[0]!.message).toContain('stage S2');
      // Routed to A's manager: pm-a sees it, pm-b does not.
      expect((await overs(tok['pm-a'])).map((e) => e.id)).toEqual([open[0]!.id]);
      expect(await overs(tok['pm-b'])).toEqual([]);
      // B has no plan for S1: its 5 bags were over at once, and that one is pm-b's.
      const bs = (await api.call('GET', `/api/v1/exceptions?site=${site}&state=all`, { token: tok['pm-b']! })).body.items as Array<{ type: string; project: string }>;
      expect(bs.filter((e) => e.type === 'OVER_ISSUE').map((e) => e.project)).toEqual([B]);
      expect(bs.every((e) => e.project === B)).toBe(true);
      // Its manager resolves it; the other PM cannot even see it.
      expect((await api.call('POST', `/api/v1/exceptions/${open[0]!.id}/resolve`, { token: tok['pm-b']!, body: { resolution: 'no' } })).status).toBe(404);
      const res = await api.call('POST', `/api/v1/exceptions/${open[0]!.id}/resolve`, { token: tok['pm-a']!, body: { resolution: 'approved extra' } });
      expect([res.status, res.body.state]).toEqual([200, 'resolved']);
      await move({ kind: 'issue', sku: 'CEMENT', qty: 1, uom: 'bag', project: A, stage: 'S2' });
      await waitFor(async () => (await overs()).length === 2, 'a second OVER_ISSUE');
      expect((await overs()).filter((e) => e.state === 'open')).toHaveLength(1);
      expect((await plan(A, 'S2')).body.lines[0]).toMatchObject({ planned: 10, issued: 14, remaining: 0 });
    });

    it("over-issue is held against the stage's latest plan version, SKU by SKU", async () => {
      // B/S2: v1 plans 1 t of sand; v2 (the latest) 40 t of sand and 5 kg of rebar.
      expect((await api.call('PUT', `/api/v1/projects/${B}/stages/S2/plan`, { body: { lines: [{ sku: 'SAND', qty: 1 }] } })).status).toBe(200);
      expect((await api.call('PUT', `/api/v1/projects/${B}/stages/S2/plan`, { body: { lines: [{ sku: 'SAND', qty: 40 }, { sku: 'REBAR', qty: 5 }] } })).body).toMatchObject({ version: 2 });
      await move({ kind: 'receive', sku: 'SAND', qty: 20, uom: 't' });
      await move({ kind: 'receive', sku: 'REBAR', qty: 10, uom: 'kg' });
      await move({ kind: 'issue', sku: 'SAND', qty: 10, uom: 't', project: B, stage: 'S2' }); // over v1, within v2
      await move({ kind: 'issue', sku: 'REBAR', qty: 6, uom: 'kg', project: B, stage: 'S2' }); // over v2's 5 + 5%
      await waitFor(async () => (await plan(B, 'S2')).body.lines.find((l: { sku: string }) => l.sku === 'REBAR')?.issued === 6, 'issued to B/S2');
      const lines = (await plan(B, 'S2')).body.lines as Array<{ sku: string; planned: number; issued: number }>;
      expect(lines.map((l) => [l.sku, l.planned, l.issued])).toEqual([['REBAR', 5, 6], ['SAND', 40, 10]]);
      const items = (await api.call('GET', `/api/v1/exceptions?site=${site}&state=all`)).body.items as Array<{ type: string; project: string; sku: string; message: string }>;
      const overs = items.filter((e) => e.type === 'OVER_ISSUE' && e.project === B && e.message.includes('stage S2'));
      expect(overs.map((e) => e.sku)).toEqual(['REBAR']);
      expect(overs[0]!.message).toContain('against a plan of 5 + 5% tolerance');
    });

    it('MQTT: a reader of project A gets A\'s over-issues on its topic and may subscribe nowhere else', async () => {
      const bad = await api.call('POST', '/api/v1/mqtt-users', { body: { role: 'alerts', site, project: 'NOPE' } });
      expect([bad.status, bad.body.message]).toEqual([400, expect.stringMatching(/^project: /)]);
      const creds = await api.call('POST', '/api/v1/mqtt-users', { body: { role: 'alerts', site, project: A } });
      expect(creds.status).toBe(201);
      expect(creds.body.project).toBe(A);
      const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${api.cloud.mqttPort!}`, { username: creds.body.username, password: creds.body.password, reconnectPeriod: 0 });
      try {
        // MQTT.js rejects a SUBACK with 0x80; the packet still carries every code.
        const denied = await c.subscribeAsync([`stockgate/v1/${site}/alerts/#`, `stockgate/v1/${site}/alerts/projects/${B}/#`, `stockgate/v1/${site}/alerts/projects/+/over-issue`]).then(
          (g) => g.map((x) => x.qos),
          (err: { packet?: { granted?: number[] } }) => err.packet?.granted ?? Promise.reject(err),
        );
        expect(denied).toEqual([128, 128, 128]);
        const ok = await c.subscribeAsync(`stockgate/v1/${site}/alerts/projects/${A}/#`, { qos: 1 });
        expect(ok.map((g) => g.qos)).toEqual([1]);
        const got: Array<{ topic: string; body: Record<string, unknown> }> = [];
        c.on('message', (topic, payload) => got.push({ topic, body: JSON.parse(payload.toString()) }));
        // A stage of A with no plan for REBAR: any issue is over. B's over-issue must not arrive.
        await move({ kind: 'issue', sku: 'REBAR', qty: 1, uom: 'kg', project: B, stage: 'S2' });
        await move({ kind: 'issue', sku: 'REBAR', qty: 2, uom: 'kg', project: A, stage: 'S2' });
        await waitFor(async () => got.length > 0, 'the over-issue on MQTT');
        await new Promise((r) => setTimeout(r, 300));
        expect(got).toHaveLength(1);
        expect(got[0]!.topic).toBe(`stockgate/v1/${site}/alerts/projects/${A}/over-issue`);
        expect(got[0]!.body).toMatchObject({ type: 'OVER_ISSUE', site, project: A, stage: 'S2', sku: 'REBAR', planned: 0, issued: 2, manager: `pm-a-${site}` });
      } finally {
        await c.endAsync();
      }
    });

    it('a project manager sees its projects only (others 404, not 403), with their cost fields; an operator sees projects without cost fields', async () => {
      const listA = await api.call('GET', `/api/v1/projects?site=${site}`, { token: tok['pm-a']! });
      expect(listA.body.items.map((p: { code: string }) => p.code)).toEqual([A]);
      expect(listA.body.items[0]).toMatchObject({ contractRevenue: '20000.00', budget: '15000.50' });
      for (const path of [`/api/v1/projects/${A}`, `/api/v1/projects/${A}/stages/S1/plan`]) {
        const r = await api.call('GET', path, { token: tok['pm-b']! });
        expect([r.status, r.body.code], path).toEqual([404, 'SG_ERR_NOT_FOUND']);
        expect(r.text).not.toContain('Project A');
      }
      expect((await api.call('PUT', `/api/v1/projects/${A}/stages/S1/plan`, { token: tok['pm-b']!, body: { lines: [{ sku: 'CEMENT', qty: 1 }] } })).status).toBe(404);
      expect((await api.call('GET', `/api/v1/projects/${B}`, { token: tok['pm-b']! })).status).toBe(200);
      expect((await api.call('GET', `/api/v1/audit?entity=project&id=${A}`, { token: tok['pm-b']! })).body.items).toEqual([]);
      // Listing A on a user makes it visible to that PM at once.
      expect((await api.call('POST', '/api/v1/users', { body: { id: `pm-b-${site}`, name: 'pm-b', roles: ['project-manager'], sites: [site], projects: [A] } })).status).toBe(200);
      expect((await api.call('GET', `/api/v1/projects/${A}`, { token: tok['pm-b']! })).body.contractRevenue).toBe('20000.00');
      const op = await api.call('GET', `/api/v1/projects?site=${site}`, { token: tok.operator! });
      expect(op.body.items.map((p: { code: string }) => p.code)).toEqual([A, B]);
      for (const p of op.body.items) {
        expect('contractRevenue' in p).toBe(false);
        expect('budget' in p).toBe(false);
      }
      expect((await api.call('GET', `/api/v1/projects?site=elsewhere`, { token: tok.operator! })).status).toBe(403);
    });
  });
}
