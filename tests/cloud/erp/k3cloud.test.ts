/**
 * Issue 11 §5: an approved PO goes out through the durable queue to a test server that plays
 * K3Cloud's WebAPI (login, ExecuteBillQuery, Save, Submit, Audit on `.kdsvc` endpoints) and
 * answers Save with 500 twice, then 200: exactly one PO ends up there, submitted and audited,
 * every request signed like the webhooks. On SQLite and on PostgreSQL.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { signature, SIGNATURE_HEADER, TIMESTAMP_HEADER, EVENT_ID_HEADER } from '../../../cloud/alerts/webhooks.js';
import { enqueue, ErpSender, K3CloudAdapter, outbox } from '../../../cloud/erp/index.js';
import { k3Emulator } from '../../helpers/k3cloud.js';
import { type BusinessDb, HARNESSES } from '../../contracts/business/harness.js';

const SECRET = 'erp-signing-secret-16';

/** A K3Cloud stand-in: bills by FBillNo with their status; Save fails `failSaves` times first. */
function k3Server(failSaves: number) {
  const bills = new Map<string, { model: any; status: 'A' | 'B' | 'C' }>();
  const calls: string[] = [];
  let badSignatures = 0;
  const server: Server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      const ep = (req.url ?? '').split('/').pop()!;
      calls.push(ep.replace('Kingdee.BOS.WebApi.ServicesStub.', '').replace('.common.kdsvc', ''));
      const ts = String(req.headers[TIMESTAMP_HEADER]);
      if (req.headers[SIGNATURE_HEADER] !== signature(SECRET, ts, raw) || !req.headers[EVENT_ID_HEADER]) badSignatures++;
      const body = JSON.parse(raw);
      const ok = (extra: object = {}) => res.end(JSON.stringify({ Result: { ResponseStatus: { IsSuccess: true, Errors: [] }, ...extra } }));
      if (ep.includes('LoginByAppSecret')) {
        res.setHeader('set-cookie', 'kdservice-sessionid=S1; path=/');
        return res.end(JSON.stringify({ LoginResultType: 1 }));
      }
      if (req.headers.cookie !== 'kdservice-sessionid=S1') {
        res.statusCode = 401;
        return res.end('{}');
      }
      if (ep.includes('ExecuteBillQuery')) {
        const no = /FBillNo='(.*)'/.exec(body.data.FilterString)![1]!;
        const b = bills.get(no);
        return res.end(JSON.stringify(b ? [[no, b.status]] : []));
      }
      if (ep.includes('.Save.')) {
        if (failSaves-- > 0) {
          res.statusCode = 500;
          return res.end('{"Message":"busy"}');
        }
        bills.set(body.data.Model.FBillNo, { model: body.data.Model, status: 'A' });
        return ok({ Number: body.data.Model.FBillNo });
      }
      const [no] = body.data.Numbers as string[];
      const b = bills.get(no!)!;
      if (ep.includes('.Submit.')) b.status = 'B';
      if (ep.includes('.Audit.')) b.status = 'C';
      return ok();
    });
  });
  return { server, bills, calls, bad: () => badSignatures };
}

for (const h of HARNESSES) {
  describe(`ERP sync to K3Cloud (${h.name})`, () => {
    let b: BusinessDb | undefined;
    let k3: ReturnType<typeof k3Server>;
    beforeAll(async () => {
      k3 = k3Server(2);
      await new Promise<void>((r) => k3.server.listen(0, '127.0.0.1', r));
    });
    afterAll(() => new Promise<void>((r) => k3.server.close(() => r())));
    afterEach(async () => {
      await b?.close();
      b = undefined;
    });

    it('500 twice, then 200: exactly one PO in the ERP, saved, submitted and audited', async () => {
      b = await h.open();
      const url = `http://127.0.0.1:${(k3.server.address() as AddressInfo).port}/k3cloud/`;
      const adapter = new K3CloudAdapter({ url, acctId: 'A1', username: 'sg', appId: 'app', appSecret: 'x', signingSecret: SECRET });
      const sender = new ErpSender(b.db, adapter, pino({ level: 'silent' }), { backoffBaseMs: 1, backoffCapMs: 5 });
      const po = { site: 'depot-1', supplier: 'SUP-1', date: '2026-12-06', lines: [{ sku: 'CEM', qty: 100, unitPrice: '32.00', project: 'A', stage: '1', expectedAt: '2026-12-10' }] };
      await b.db.tx((tx) => enqueue(tx, { kind: 'purchase-order', docId: 'PO-1', site: 'depot-1', body: po }));
      // Enqueued twice (a replayed approval): still one event.
      await b.db.tx((tx) => enqueue(tx, { kind: 'purchase-order', docId: 'PO-1', site: 'depot-1', body: po }));
      let delivered = 0;
      for (let i = 0; i < 50 && delivered === 0; i++) {
        delivered = await sender.runOnce();
        await new Promise((r) => setTimeout(r, 10));
      }
      expect(delivered).toBe(1);
      expect(k3.bills.size).toBe(1);
      const bill = k3.bills.get('PO-1')!;
      expect(bill.status).toBe('C');
      expect(bill.model).toMatchObject({ FBillNo: 'PO-1', FSupplierId: { FNumber: 'SUP-1' }, FPurchaseOrgId: { FNumber: 'depot-1' }, FPOOrderEntry: [{ FMaterialId: { FNumber: 'CEM' }, FQty: 100, FTaxPrice: '32.00', FDeliveryDate: '2026-12-10', FNote: 'A/1' }] });
      expect(k3.calls.filter((c) => c.endsWith('.Save'))).toHaveLength(3);
      expect(k3.calls.filter((c) => c.endsWith('.Submit'))).toHaveLength(1);
      expect(k3.calls.filter((c) => c.endsWith('.Audit'))).toHaveLength(1);
      expect(k3.bad()).toBe(0);
      expect(await outbox(b.db.kysely)).toEqual([expect.objectContaining({ eventId: 'purchase-order:PO-1', state: 'delivered', attempts: 3 })]);
      // Nothing left to send; a re-run sends nothing.
      expect(await sender.runOnce()).toBe(0);
      expect(k3.bills.size).toBe(1);
      k3.calls.length = 0;
      k3.bills.clear();
    });

    it('a lost session (K3Cloud restarted) is logged in again on the next try; each bill still once', async () => {
      b = await h.open();
      const creds = { acctId: 'A1', username: 'sg', appId: 'app', appSecret: 'app-secret-0123456789' };
      const erp = k3Emulator({ ...creds, signingSecret: SECRET, failSaves: 0 });
      await erp.listen();
      try {
        const sender = new ErpSender(b.db, new K3CloudAdapter({ url: erp.url().replace(/\/$/, ''), ...creds, signingSecret: SECRET }), pino({ level: 'silent' }), { backoffBaseMs: 1, backoffCapMs: 5 });
        const po = (id: string) => ({ kind: 'purchase-order' as const, docId: id, site: 'depot-1', body: { site: 'depot-1', supplier: 'SUP-1', lines: [{ sku: 'CEM', qty: 1 }] } });
        await b.db.tx((tx) => enqueue(tx, po('PO-7')));
        expect(await sender.runOnce()).toBe(1);
        erp.dropSessions();
        await b.db.tx((tx) => enqueue(tx, po('PO-8')));
        let n = 0;
        for (let i = 0; i < 50 && n === 0; i++) {
          n = await sender.runOnce();
          await new Promise((r) => setTimeout(r, 10));
        }
        expect(n).toBe(1);
        expect([...erp.bills.keys()].sort()).toEqual(['PO-7', 'PO-8']);
        expect([...erp.bills.values()].map((x) => x.status)).toEqual(['C', 'C']);
        expect(erp.calls.filter((c) => c === 'AuthService.LoginByAppSecret')).toHaveLength(2);
        expect(erp.violations).toEqual([]);
      } finally {
        await erp.close();
      }
    });
  });
}
