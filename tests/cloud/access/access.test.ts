import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiCloud, type ApiCloud, type Backend } from '../../helpers/api-cloud.js';
import { uniqueId } from '../../helpers/procs.js';

/** Users, user tokens, cost fields of the item master, and the audit log, through the real API (issue 10 §5). */
for (const backend of ['sqlite', 'postgres'] as Backend[]) {
  describe(`access and audit over the API (${backend})`, () => {
    let api: ApiCloud;
    const site = uniqueId('acc');
    beforeAll(async () => {
      api = await startApiCloud(backend);
    }, 60_000);
    afterAll(() => api?.stop());

    const tokenFor = async (user: string) => {
      const r = await api.call('POST', '/api/v1/tokens', { body: { user } });
      expect(r.status).toBe(201);
      expect(r.body).toMatchObject({ user, name: `user:${user}` });
      return r.body.token as string;
    };

    it('a user token acts with its user\'s roles and sites, read per request; unknown users and bad ids are refused with the field named', async () => {
      const u = await api.call('POST', '/api/v1/users', { body: { id: 'li.wei', name: '李伟', roles: ['operator'], sites: [site] } });
      expect(u.status).toBe(201);
      expect(u.body).toMatchObject({ id: 'li.wei', name: '李伟', roles: ['operator'], sites: [site] });
      const t = await tokenFor('li.wei');
      expect((await api.call('GET', `/api/v1/stock?site=${site}`, { token: t })).status).toBe(200);
      expect((await api.call('GET', '/api/v1/stock?site=elsewhere', { token: t })).status).toBe(403);
      expect((await api.call('GET', '/api/v1/audit?entity=item&id=X', { token: t })).status).toBe(403);
      // Promote the user: the same token has the new role at once.
      expect((await api.call('POST', '/api/v1/users', { body: { id: 'li.wei', name: '李伟', roles: ['finance'], sites: [site] } })).status).toBe(200);
      expect((await api.call('GET', '/api/v1/audit?entity=item&id=X', { token: t })).status).toBe(200);
      expect((await api.call('GET', '/api/v1/users/li.wei')).body.roles).toEqual(['finance']);
      const missing = await api.call('POST', '/api/v1/tokens', { body: { user: 'nobody' } });
      expect(missing.status).toBe(404);
      expect(missing.body.message).toMatch(/^user: /);
      const bad = await api.call('POST', '/api/v1/users', { body: { id: 'has space', name: 'x', roles: ['operator'] } });
      expect(bad.status).toBe(400);
      expect(bad.body.message).toMatch(/^id: /);
      expect((await api.call('POST', '/api/v1/users', { body: { id: 'x', name: 'x', roles: ['wizard'] } })).body.message).toMatch(/^roles\.0: /);
      // Existing token calls keep working.
      const old = await api.call('POST', '/api/v1/tokens', { body: { name: 'plain', roles: ['operator'], sites: [site] } });
      expect(old.status).toBe(201);
      expect((await api.call('GET', `/api/v1/stock?site=${site}`, { token: old.body.token })).status).toBe(200);
      // Users are admin business.
      expect((await api.call('GET', '/api/v1/users', { token: t })).status).toBe(403);
    });

    it('standardCost: procurement and finance see it; an operator and a site manager get it omitted (JSON and CSV)', async () => {
      const sku = `COST-${uniqueId('s')}`;
      expect((await api.call('PUT', `/api/v1/items/${sku}`, { body: { name: 'cement', uom: 'bag', standardCost: '32.00' } })).status).toBe(200);
      const tok: Record<string, string> = {};
      for (const role of ['procurement', 'finance', 'operator', 'site-manager']) {
        tok[role] = (await api.call('POST', '/api/v1/tokens', { body: { name: role, roles: [role], sites: [site] } })).body.token as string;
      }
      for (const role of ['procurement', 'finance']) expect((await api.call('GET', `/api/v1/items/${sku}`, { token: tok[role]! })).body.standardCost).toBe('32.00');
      for (const role of ['operator', 'site-manager']) {
        const one = await api.call('GET', `/api/v1/items/${sku}`, { token: tok[role]! });
        expect(one.status).toBe(200);
        expect(one.body.name).toBe('cement');
        expect('standardCost' in one.body).toBe(false);
        const list = await api.call('GET', `/api/v1/items?search=${sku}`, { token: tok[role]! });
        expect(list.body.items).toHaveLength(1);
        expect('standardCost' in list.body.items[0]).toBe(false);
      }
      const csvOp = (await api.call('GET', '/api/v1/exports/items.csv', { token: tok.operator! })).text;
      const csvProc = (await api.call('GET', '/api/v1/exports/items.csv', { token: tok.procurement! })).text;
      expect(csvOp.split('\n')[0]).not.toContain('standardCost');
      expect(csvOp).not.toContain('32.00');
      expect(csvProc.split('\n')[0]).toContain('standardCost');
      expect(csvProc).toContain(',32.00,');
    });

    it('the audit log keeps every change of an item (create, update, import) with before and after, by whom', async () => {
      const sku = `AUD-${uniqueId('s')}`;
      const pt = (await api.call('POST', '/api/v1/tokens', { body: { name: 'buyer-1', roles: ['procurement'] } })).body.token as string;
      expect((await api.call('PUT', `/api/v1/items/${sku}`, { token: pt, body: { name: 'sand', uom: 'kg', standardCost: '1.00' } })).status).toBe(200);
      expect((await api.call('PUT', `/api/v1/items/${sku}`, { body: { name: 'sand', uom: 'kg', standardCost: '1.20' } })).status).toBe(200);
      const imp = await api.call('POST', '/api/v1/imports/items', { rawBody: JSON.stringify(`sku,name,uom\n${sku},fine sand,kg\n`) });
      expect(imp.status).toBe(200);
      const log = await api.call('GET', `/api/v1/audit?entity=item&id=${sku}`);
      expect(log.status).toBe(200);
      expect(log.body.items.map((i: { action: string; by: string }) => [i.action, i.by])).toEqual([['create', 'buyer-1'], ['update', expect.any(String)], ['import-update', expect.any(String)]]);
      expect(log.body.items[0].before).toBeNull();
      expect(log.body.items[1].before.standardCost).toBe('1.00');
      expect(log.body.items[1].after.standardCost).toBe('1.20');
      expect(log.body.items[2].after.name).toBe('fine sand');
      expect(Date.parse(log.body.items[0].at)).not.toBeNaN();
      // A site manager may read the log, without the prices in it.
      const sm = (await api.call('POST', '/api/v1/tokens', { body: { name: 'sm', roles: ['site-manager'] } })).body.token as string;
      const seen = await api.call('GET', `/api/v1/audit?entity=item&id=${sku}`, { token: sm });
      expect(seen.body.items).toHaveLength(3);
      expect(JSON.stringify(seen.body)).not.toContain('standardCost');
      expect((await api.call('GET', '/api/v1/audit?entity=widget&id=1')).body.message).toMatch(/^entity: /);
      // A large import (the master paged once for the "before"s, multi-row audit inserts).
      const rows = Array.from({ length: 250 }, (_, i) => `BULK-${i}-${sku},bulk ${i},ea`);
      const big = await api.call('POST', '/api/v1/imports/items', { rawBody: JSON.stringify(`sku,name,uom\n${sku},sand again,kg\n${rows.join('\n')}\n`) });
      expect([big.status, big.body.written]).toEqual([200, 251]);
      const after = (await api.call('GET', `/api/v1/audit?entity=item&id=${sku}`)).body.items;
      expect(after.map((i: { action: string }) => i.action)).toEqual(['create', 'update', 'import-update', 'import-update']);
      expect(after[3].before.name).toBe('fine sand');
      expect((await api.call('GET', `/api/v1/audit?entity=item&id=BULK-249-${sku}`)).body.items).toMatchObject([{ action: 'import-create', before: null, after: { name: 'bulk 249' } }]);
    });
  });
}
