/**
 * Document refs on ledger rows (issue 10 §3, issue 11 §1): the optional wire fields `po`, `req`
 * and `order` are kept with the row (so the ledger follower's consumers see them), come back in
 * the wire shape, are covered by the site's hash chain, and rows without them hash as before.
 * Every Store runs it (SQLite and PostgreSQL).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { canonical } from '../../cloud/ledger/chain.js';
import type { Store } from '../../cloud/store/store.js';
import { Movement } from '../../protocols/mqtt/index.js';
import { mv } from './store.contract.js';
import type { SqlStoreHarness } from './store-truth.contract.js';

export function storeRefsContract(name: string, factory: () => SqlStoreHarness | Promise<SqlStoreHarness>): void {
  describe(`Store document refs (po, req, order): ${name}`, () => {
    let h: SqlStoreHarness;
    let s: Store;
    const site = 'site-R';
    beforeEach(async () => {
      h = await factory();
      s = await h.open();
    });
    afterEach(() => h.destroy());

    it('keeps po, req and order with the row, returns them, and chains them', async () => {
      const withPo = mv({ site, sku: 'CEM', po: 'PO-7' });
      const withReq = mv({ site, sku: 'CEM', kind: 'issue', req: '12' });
      const withOrder = mv({ site, sku: 'CEM', kind: 'issue', order: 'SO-3' });
      const plain = mv({ site, sku: 'CEM' });
      await s.commit([{ movements: [withPo, withReq, withOrder, plain], deadLetters: [] }]);
      expect((await s.movement(withPo.id))!.po).toBe('PO-7');
      expect((await s.movement(withReq.id))!.req).toBe('12');
      expect((await s.movement(withOrder.id))!.order).toBe('SO-3');
      const p = (await s.movement(plain.id))!;
      expect([p.po, p.req, p.order]).toEqual([undefined, undefined, undefined]);
      expect(await s.verifyChain(site)).toEqual({ ok: true, checked: 4, brokenAt: null });
      // A ref is hashed: pointing a receipt at another PO afterwards breaks the chain there.
      await h.sql(`UPDATE ledger SET po = 'PO-8' WHERE id = '${withPo.id}'`);
      expect(await s.verifyChain(site)).toMatchObject({ ok: false, brokenAt: { id: withPo.id } });
    });

    it('a row without refs hashes as the 32-column form (earlier chains stay valid)', () => {
      const row = { chain_n: 1, id: 'X', po: null, req: null, sales_order: null };
      expect(JSON.parse(canonical(row).toString())).toHaveLength(32);
      expect(JSON.parse(canonical({ ...row, req: 'R1' }).toString()).slice(32)).toEqual([null, 'R1', null]);
    });

    it('the wire refuses a bad ref naming the field, and an older movement without refs still parses', () => {
      const bad = Movement.safeParse({ ...mv(), po: '' });
      expect(bad.success).toBe(false);
      expect(bad.error!.issues[0]!.path).toEqual(['po']);
      expect(Movement.safeParse({ ...mv(), order: 'x\u0000' }).error!.issues[0]!.path).toEqual(['order']);
      expect(Movement.safeParse(mv()).success).toBe(true);
    });
  });
}
