import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiCloud, type Backend, type CallResult, startApiCloud } from '../../helpers/api-cloud.js';
import { uniqueId } from '../../helpers/procs.js';

/**
 * Issue 10 §5: every change to business data and its audit row commit in one transaction. A
 * trigger on `audit_log` refuses every insert; then each audited change is tried over the API:
 * it must fail AND leave every table of the database as it was (the change did not commit
 * without its record). The control: the same call with the trigger dropped succeeds, changes the
 * tables and adds audit rows, so a change committed outside its audit's transaction (the item
 * master before this test, which wrote its audit row in a second transaction) is seen.
 */

/** Tables that change by themselves while the cloud runs (token use, the follower's cursor), not by a business change. */
const MOVING = /^(api_tokens|ledger_follower.*|follower_.*|db_migrations|kysely_.*|sqlite_.*)$/;

for (const backend of ['sqlite', 'postgres'] as Backend[]) {
  describe(`audit rows commit with their change, or nothing does (${backend})`, () => {
    let api: ApiCloud;
    const site = uniqueId('aud');
    const P = `P-${site}`.slice(0, 60);
    let pm = '';
    let tables: string[] = [];

    const refuseAudit = async (on: boolean) => {
      const db = api.cloud.db.kysely;
      if (backend === 'sqlite') {
        await sql.raw(on ? "CREATE TRIGGER audit_refused BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'audit refused by the test'); END" : 'DROP TRIGGER audit_refused').execute(db);
      } else if (on) {
        await sql.raw("CREATE OR REPLACE FUNCTION audit_refused() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit refused by the test'; END $$").execute(db);
        await sql.raw('CREATE TRIGGER audit_refused BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_refused()').execute(db);
      } else {
        await sql.raw('DROP TRIGGER audit_refused ON audit_log').execute(db);
      }
    };
    /** Every table's rows, in a stable order: what a change that committed would alter. */
    const snapshot = async (): Promise<Record<string, string>> => {
      const out: Record<string, string> = {};
      for (const t of tables) {
        const rows = await api.cloud.db.kysely.selectFrom(t).selectAll().execute();
        out[t] = rows.map((r) => JSON.stringify(r)).sort().join('\n');
      }
      return out;
    };
    const auditRows = async () => Number((await api.cloud.db.kysely.selectFrom('audit_log').select(sql<number>`COUNT(*)`.as('n')).executeTakeFirst())?.n ?? 0);
    const ok = async (method: string, path: string, body?: unknown, token?: string) => {
      const r = await api.call(method, path, { ...(body === undefined ? {} : { body }), ...(token ? { token } : {}) });
      if (r.status >= 300) throw new Error(`${method} ${path} -> ${r.status} ${r.text.slice(0, 300)}`);
      return r.body;
    };

    beforeAll(async () => {
      api = await startApiCloud(backend);
      await ok('POST', '/api/v1/users', { id: `pm-${site}`, name: 'pm', roles: ['project-manager'] });
      pm = (await ok('POST', '/api/v1/tokens', { user: `pm-${site}` })).token as string;
      await ok('PUT', '/api/v1/items/CEMENT', { name: 'cement', uom: 'bag', standardCost: '33.00' });
      await ok('PUT', '/api/v1/items/SKU-1', { name: 'bolt', uom: 'ea', standardCost: '1.00' });
      await ok('POST', '/api/v1/movements', { movements: [{ v: 1, id: `${site}-r1`, edge: 'api', seq: 0, ts: '2026-12-05T08:00:00Z', site, location: 'WH-1', kind: 'receive', sku: 'SKU-1', qty: 10, uom: 'ea', device: { id: 'rest', type: 'rest' }, raw: 'seed' }] });
      await api.cloud.follower.caughtUp();
      // The cloud's own schema only: on PostgreSQL, Kysely's introspection lists the tables of every
      // schema, and other test files running beside this one create theirs (a CI run failed on
      // `relation "seen" does not exist`, the ledger follower test's table, dropped meanwhile).
      const own = backend === 'postgres' ? (await sql<{ s: string }>`SELECT current_schema() AS s`.execute(api.cloud.db.kysely)).rows[0]!.s : undefined;
      tables = (await api.cloud.db.kysely.introspection.getTables())
        .filter((t) => own === undefined || t.schema === own)
        .map((t) => t.name)
        .filter((t) => !MOVING.test(t))
        .sort();
    }, 120_000);
    afterAll(() => api?.stop());

    /** Ids made by the successful (control) calls, for the next steps. */
    const ids: Record<string, string> = {};
    /** Each audited change, in an order where each control call prepares the next. */
    const changes: Array<[string, () => Promise<CallResult>, (r: CallResult) => void]> = [
      ['user create', () => api.call('POST', '/api/v1/users', { body: { id: `u2-${site}`, name: 'u2', roles: ['operator'], sites: [site] } }), () => {}],
      ['item create', () => api.call('PUT', '/api/v1/items/NEW-1', { body: { name: 'new', uom: 'ea', standardCost: '2.50' } }), () => {}],
      ['item update', () => api.call('PUT', '/api/v1/items/CEMENT', { body: { name: 'cement 42.5', uom: 'bag', standardCost: '34.50' } }), () => {}],
      ['item import', () => api.call('POST', '/api/v1/imports/items', { body: 'sku,name,uom,standardCost\nNEW-2,imported,ea,1.20\nNEW-1,renamed,ea,2.60\n' }), () => {}],
      ['supplier', () => api.call('PUT', '/api/v1/suppliers/SUP-1', { body: { name: 'supplier', leadTimeDays: 3 } }), () => {}],
      ['project', () => api.call('POST', '/api/v1/projects', { body: { code: P, name: 'P', site, manager: `pm-${site}`, contractRevenue: '20000.00', stages: [{ code: 'S1', name: 'Foundation', needBy: '2027-01-15' }] } }), () => {}],
      ['bom', () => api.call('PUT', '/api/v1/boms/FOOTING', { body: { name: 'footing', lines: [{ sku: 'CEMENT', qtyPer: 6 }] } }), () => {}],
      ['plan', () => api.call('PUT', `/api/v1/projects/${P}/stages/S1/plan`, { body: { lines: [{ bom: 'FOOTING', multiplier: 2 }] } }), () => {}],
      ['approval rules', () => api.call('PUT', `/api/v1/sites/${site}/approval-rules`, { body: { rules: [{ docType: 'requisition', minAmount: '0', maxAmount: '100000', steps: ['project-manager'] }] } }), () => {}],
      ['requisition create', () => api.call('POST', '/api/v1/requisitions', { body: { kind: 'purchase', project: P, stage: 'S1', lines: [{ sku: 'CEMENT', qty: 10, unitPrice: '32.00' }] } }), (r) => (ids.req = r.body.id)],
      ['requisition submit', () => api.call('POST', `/api/v1/requisitions/${ids.req}/submit`), () => {}],
      ['requisition approve', () => api.call('POST', `/api/v1/requisitions/${ids.req}/approve`, { token: pm, body: {} }), () => {}],
      ['purchase order from requisitions', () => api.call('POST', '/api/v1/purchase-orders/from-requisitions', { body: { requisitions: [ids.req], supplier: 'SUP-1', expectedAt: '2027-01-08' } }), (r) => (ids.po = r.body.id)],
      ['purchase order submit', () => api.call('POST', `/api/v1/purchase-orders/${ids.po}/submit`), () => {}],
      ['landed cost', () => api.call('POST', `/api/v1/purchase-orders/${ids.po}/landed-costs`, { body: { amount: '20.00', allocate: 'qty' } }), () => {}],
      ['purchase order create', () => api.call('POST', '/api/v1/purchase-orders', { body: { supplier: 'SUP-1', site, expectedAt: '2027-01-09', lines: [{ sku: 'CEMENT', qty: 5, unitPrice: '33.00' }] } }), (r) => (ids.po2 = r.body.id)],
      ['purchase order cancel', () => api.call('POST', `/api/v1/purchase-orders/${ids.po2}/cancel`, { body: {} }), () => {}],
      ['project cost line', () => api.call('POST', `/api/v1/projects/${P}/costs`, { body: { category: 'labour', amount: '2160.00', date: '2026-12-05' } }), () => {}],
      ['period close', () => api.call('POST', '/api/v1/periods/2026-01/close'), () => {}],
      ['sales order create', () => api.call('POST', '/api/v1/sales-orders', { headers: { 'idempotency-key': `aud-${site}` }, body: { site, customer: 'c', lines: [{ sku: 'SKU-1', qty: 1, unitPrice: '1.00' }], allowPartial: true } }), (r) => (ids.so = r.body.id)],
      ['sales order cancel', () => api.call('POST', `/api/v1/sales-orders/${ids.so}/cancel`, { body: {} }), () => {}],
      ['count open', () => api.call('POST', '/api/v1/counts', { body: { site, location: 'WH-1', skus: ['SKU-1'] } }), (r) => (ids.count = r.body.id)],
      ['count lines', () => api.call('POST', `/api/v1/counts/${ids.count}/lines`, { body: { lines: [{ sku: 'SKU-1', qty: 9 }] } }), () => {}],
      ['count submit', () => api.call('POST', `/api/v1/counts/${ids.count}/submit`), () => {}],
      ['count post', () => api.call('POST', `/api/v1/counts/${ids.count}/post`), () => {}],
    ];

    it('each audited change fails with its audit row refused and leaves every table as it was; without the refusal it commits with its row', async () => {
      expect(tables).toContain('audit_log');
      expect(tables).toContain('items');
      const failures: string[] = [];
      for (const [name, call, then] of changes) {
        const before = await snapshot();
        const rowsBefore = await auditRows();
        await refuseAudit(true);
        let refused: CallResult;
        try {
          refused = await call();
        } finally {
          await refuseAudit(false);
        }
        await api.cloud.follower.caughtUp();
        if (refused.status < 500) failures.push(`${name}: ${refused.status} with its audit row refused (want a failure) ${refused.text.slice(0, 160)}`);
        const after = await snapshot();
        const changed = tables.filter((t) => before[t] !== after[t]);
        if (changed.length) failures.push(`${name}: committed without its audit row: ${changed.join(', ')} changed`);
        // The control: the same call commits, with its audit row(s).
        const done = await call();
        await api.cloud.follower.caughtUp();
        if (done.status >= 300) {
          failures.push(`${name}: the control call failed ${done.status} ${done.text.slice(0, 200)}`);
          break;
        }
        then(done);
        const afterOk = await snapshot();
        if (!tables.some((t) => t !== 'audit_log' && afterOk[t] !== before[t])) failures.push(`${name}: the control call changed no table`);
        if ((await auditRows()) <= rowsBefore) failures.push(`${name}: the control call wrote no audit row`);
      }
      console.log(`[audit atomic ${backend}] ${changes.length} changes tried with the audit refused; ${tables.length} tables compared`);
      expect(failures).toEqual([]);
    }, 180_000);
  });
}
