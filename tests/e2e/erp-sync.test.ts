import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PG_URL } from '../helpers/api-cloud.js';
import { k3Emulator, type K3Emulator } from '../helpers/k3cloud.js';
import { BIN, requireBuild, spawnStockgate, tempDir, uniqueId, waitFor, type Proc } from '../helpers/procs.js';

/**
 * Issue 11 §5, "ERP retry", through the real `stockgate cloud` process and its `--erp-*` flags:
 * a PO approved over the REST API (its last approval step) goes out through the durable queue to
 * a local server that plays Kingdee K3Cloud's WebAPI and checks every request's documented shape
 * (tests/helpers/k3cloud.ts). The server answers Save with HTTP 500 twice, then 200: exactly one
 * PO ends up there, saved, submitted and audited, every request signed. A second PO at a site
 * without purchase-order rules (submit approves it at once) goes out too. The app secret comes
 * from the environment. On SQLite and on PostgreSQL.
 */
const CREDS = { acctId: '6530e0b2c1a4f7', username: 'stockgate-sync', appId: '298765_x1b7SDsJ6ql+4bTu2+7BU/Ws2gRcxN', appSecret: 'b6c9f2a1e8d34f7a9c0e1d2b3a4f5e6d' };

interface Res {
  status: number;
  body: any;
}

for (const backend of ['sqlite', 'postgres'] as const) {
  describe(`e2e: ERP sync to K3Cloud from stockgate cloud --erp-url (${backend})`, () => {
    const dir = tempDir('sg-erp-e2e-');
    const site = uniqueId('erp');
    const site2 = uniqueId('erp2');
    let cloud: Proc;
    let k3: K3Emulator;
    let api = '';
    let admin = '';
    let schema: string | undefined;
    const tokens: Record<string, string> = {};

    const call = async (who: string, method: string, path: string, body?: unknown): Promise<Res> => {
      const res = await fetch(`${api}${path}`, {
        method,
        headers: { authorization: `Bearer ${who === 'admin' ? admin : tokens[who]!}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined };
    };
    const ok = async (who: string, method: string, path: string, body?: unknown): Promise<any> => {
      const r = await call(who, method, path, body);
      if (r.status >= 300) throw new Error(`${who} ${method} ${path} -> ${r.status} ${JSON.stringify(r.body).slice(0, 400)}`);
      return r.body;
    };

    beforeAll(async () => {
      requireBuild();
      k3 = k3Emulator({ ...CREDS, signingSecret: CREDS.appSecret, failSaves: 2 });
      await k3.listen();
      const store: string[] = [];
      if (backend === 'postgres') {
        schema = `sg_erp_${process.pid}_${Date.now().toString(36)}`;
        const c = new pg.Client({ connectionString: PG_URL });
        await c.connect();
        await c.query(`CREATE SCHEMA "${schema}"`);
        await c.end();
        store.push('--store', `${PG_URL}${PG_URL.includes('?') ? '&' : '?'}options=-csearch_path%3D${schema}`);
      }
      const init = spawnSync(process.execPath, [BIN, 'admin', 'init', '--data-dir', join(dir, 'cloud'), ...store], { encoding: 'utf8', timeout: 30_000 });
      expect(init.status, init.stderr).toBe(0);
      admin = (JSON.parse(init.stdout) as { token: string }).token;
      cloud = await spawnStockgate(
        ['cloud', '--data-dir', join(dir, 'cloud'), '--mqtt-port', '0', '--http-port', '0', ...store,
          '--erp-url', k3.url(), '--erp-acct-id', CREDS.acctId, '--erp-user', CREDS.username, '--erp-app-id', CREDS.appId,
          // Retries quickly (the webhooks' backoff flags), so the test does not wait out the defaults.
          '--webhook-backoff-ms', '50', '--webhook-backoff-cap-ms', '200'],
        { env: { STOCKGATE_ERP_APP_SECRET: CREDS.appSecret } },
      );
      api = `http://127.0.0.1:${cloud.ready.httpPort as number}`;
      for (const [id, roles] of [['buyer', ['procurement']], ['fin', ['finance']]] as const) {
        await ok('admin', 'POST', '/api/v1/users', { id, name: id, roles });
        tokens[id] = ((await ok('admin', 'POST', '/api/v1/tokens', { user: id })) as { token: string }).token;
      }
      await ok('buyer', 'PUT', '/api/v1/items/CEMENT', { name: 'Cement P.O 42.5, 50 kg', uom: 'bag', standardCost: '33.00' });
      await ok('buyer', 'PUT', '/api/v1/suppliers/SUP-1', { name: 'Huaxin Cement', leadTimeDays: 3 });
      // The first site's POs need finance's approval; the second site has no purchase-order rule.
      await ok('admin', 'PUT', `/api/v1/sites/${site}/approval-rules`, { rules: [{ docType: 'purchase-order', minAmount: '0', steps: ['finance'] }] });
    });

    afterAll(async () => {
      await cloud?.kill();
      await k3?.close();
      if (schema) {
        const c = new pg.Client({ connectionString: PG_URL });
        await c.connect();
        await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await c.end();
      }
    });

    it('a PO approved over the API ends up exactly once in K3Cloud although Save answered 500 twice', async () => {
      const po = (await ok('buyer', 'POST', '/api/v1/purchase-orders', { supplier: 'SUP-1', site, expectedAt: '2026-12-20', lines: [{ sku: 'CEMENT', qty: 100, unitPrice: '32.50' }] })) as { id: string };
      expect((await ok('buyer', 'POST', `/api/v1/purchase-orders/${po.id}/submit`)).status).toBe('pending');
      // Pending is not approved: nothing may have gone to the ERP (the event is queued by the approval).
      expect(k3.calls.filter((c) => c.endsWith('.Save'))).toEqual([]);
      expect((await ok('fin', 'POST', `/api/v1/purchase-orders/${po.id}/approve`, {})).status).toBe('approved');
      const bill = await waitFor(() => (k3.bills.get(po.id)?.status === 'C' ? k3.bills.get(po.id) : undefined), `${po.id} audited in the ERP`, 60_000);
      expect(bill!.formid).toBe('PUR_PurchaseOrder');
      expect(bill!.model).toMatchObject({
        FBillNo: po.id,
        FSupplierId: { FNumber: 'SUP-1' },
        FPurchaseOrgId: { FNumber: site },
        FPOOrderEntry: [{ FMaterialId: { FNumber: 'CEMENT' }, FQty: 100, FTaxPrice: '32.50', FDeliveryDate: '2026-12-20' }],
      });
      expect(k3.bills.size).toBe(1);
      // 500, 500, then 200: three Saves, one Submit, one Audit, all after a login.
      expect(k3.calls.filter((c) => c.endsWith('.Save'))).toHaveLength(3);
      expect(k3.calls.filter((c) => c.endsWith('.Submit'))).toHaveLength(1);
      expect(k3.calls.filter((c) => c.endsWith('.Audit'))).toHaveLength(1);
      expect(k3.calls[0]).toBe('AuthService.LoginByAppSecret');
      expect(k3.violations).toEqual([]);
      // Approving again changes nothing.
      expect((await call('fin', 'POST', `/api/v1/purchase-orders/${po.id}/approve`, {})).status).toBe(409);
      // /healthz shows the sender: one delivery, two failed tries retried, nothing given up.
      const health = (await (await fetch(`${api}/healthz`)).json()) as { erp?: Record<string, unknown> };
      expect(health.erp).toMatchObject({ erp: 'k3cloud', delivered: 1, retried: 2, failed: 0 });
      expect(String(health.erp!.lastError)).toContain('HTTP 500');
    });

    it('a PO that submit approves at once (no purchase-order rule at its site) goes out too, once', async () => {
      const po = (await ok('buyer', 'POST', '/api/v1/purchase-orders', { supplier: 'SUP-1', site: site2, expectedAt: '2026-12-22', lines: [{ sku: 'CEMENT', qty: 40, unitPrice: '33.00' }] })) as { id: string };
      expect((await ok('buyer', 'POST', `/api/v1/purchase-orders/${po.id}/submit`)).status).toBe('approved');
      await waitFor(() => k3.bills.get(po.id)?.status === 'C', `${po.id} audited in the ERP`, 60_000);
      expect(k3.bills.get(po.id)!.model).toMatchObject({ FBillNo: po.id, FPurchaseOrgId: { FNumber: site2 }, FPOOrderEntry: [{ FQty: 40, FTaxPrice: '33.00' }] });
      expect(k3.bills.size).toBe(2);
      expect(k3.calls.filter((c) => c.endsWith('.Save'))).toHaveLength(4);
      expect(k3.violations).toEqual([]);
    });
  });
}
