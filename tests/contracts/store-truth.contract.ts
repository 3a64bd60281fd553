/**
 * The ledger's truth (issue 9): exact quantities, the item master and units of measure, counts
 * that respect time and batches, expiry, and the tamper-evident append-only trail. Every Store
 * runs it (SQLite and PostgreSQL); each C-numbered case failed on the code before issue 9.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CommitBatch, ItemMaster, Store } from '../../cloud/store/store.js';
import type { Movement } from '../../protocols/mqtt/index.js';
import { mv, type StoreHarness } from './store.contract.js';

/** A harness that can also run SQL on the store's database (to tamper with it). */
export interface SqlStoreHarness extends StoreHarness {
  sql(query: string): Promise<void>;
}

const batch = (...movements: Movement[]): CommitBatch => ({ movements, deadLetters: [] });

export function storeTruthContract(name: string, factory: () => SqlStoreHarness | Promise<SqlStoreHarness>): void {
  describe(`Store truth contract (issue 9): ${name}`, () => {
    let h: SqlStoreHarness;
    let s: Store;
    const site = 'site-T';
    beforeEach(async () => {
      h = await factory();
      s = await h.open();
    });
    afterEach(() => h.destroy());

    const item = (sku: string, over: Partial<Omit<ItemMaster, 'updatedAt'>> = {}) =>
      s.putItem({ sku, name: sku, uom: 'ea', gtins: [], conversions: [], unitWeightKg: null, tracking: 'none', shelfLifeDays: null, standardCost: null, epcs: [], ...over });
    const m = (over: Partial<Movement>) => mv({ site, ...over });
    const rows = async (sku: string) => (await s.stock({ site, sku })).map((r) => [r.location, r.batch, r.onHand, r.uom]);
    const onHand = async (sku: string) => (await s.stock({ site, sku })).reduce((a, r) => a + Math.round(r.onHand * 1000), 0) / 1000;
    const exceptions = async (type?: string) => (await s.exceptions({ site, state: 'all', limit: 1000 })).filter((e) => type === undefined || e.type === type);
    /** Sum of the ledger's booked effects (base units), in thousandths: what the balances must equal. */
    const ledgerSum = async (sku: string) => {
      let sum = 0;
      let before: number | undefined;
      for (;;) {
        const page = await s.movements(before === undefined ? { site, limit: 1000 } : { site, limit: 1000, before });
        if (page.length === 0) break;
        for (const r of page) {
          if (r.sku !== sku || r.status !== 'applied' || r.baseQty === undefined) continue;
          const q = Math.round(r.baseQty * 1000);
          sum += r.kind === 'issue' ? -q : r.kind === 'count' ? Math.round(r.variance! * 1000) : r.kind === 'transfer' ? 0 : q;
        }
        before = page[page.length - 1]!.pos;
      }
      return sum / 1000;
    };

    describe('exact quantities (C7)', () => {
      it('10,000 receipts of 0.001 give exactly 10 and 10,000 of 0.1 kg exactly 1000; balance = ledger sum', async () => {
        await item('DUST', { uom: 'kg' });
        for (let b = 0; b < 10; b++) {
          await s.commit([batch(...Array.from({ length: 1000 }, () => m({ sku: 'MICRO', qty: 0.001, edge: 'x-1', seq: 0 })))]);
          await s.commit([batch(...Array.from({ length: 1000 }, () => m({ sku: 'DUST', qty: 0.1, uom: 'kg', edge: 'x-1', seq: 0 })))]);
        }
        expect(await onHand('MICRO')).toBe(10);
        expect(await onHand('DUST')).toBe(1000);
        const totals = await s.totals({ site });
        expect(totals.find((t) => t.sku === 'DUST')).toMatchObject({ onHand: 1000, uom: 'kg' });
        expect(totals.find((t) => t.sku === 'MICRO')).toMatchObject({ onHand: 10 });
        expect(await ledgerSum('DUST')).toBe(1000);
        expect(await ledgerSum('MICRO')).toBe(10);
        // Issues of 0.3 from 1000: 1000 - 3333 * 0.3 = 0.1 exactly.
        await s.commit([batch(...Array.from({ length: 1000 }, () => m({ sku: 'DUST', kind: 'issue', qty: 0.3, uom: 'kg' })))]);
        await s.commit([batch(...Array.from({ length: 1000 }, () => m({ sku: 'DUST', kind: 'issue', qty: 0.3, uom: 'kg' })))]);
        await s.commit([batch(...Array.from({ length: 1000 }, () => m({ sku: 'DUST', kind: 'issue', qty: 0.3, uom: 'kg' })))]);
        await s.commit([batch(...Array.from({ length: 333 }, () => m({ sku: 'DUST', kind: 'issue', qty: 0.3, uom: 'kg' })))]);
        expect(await onHand('DUST')).toBe(0.1);
        expect(await ledgerSum('DUST')).toBe(0.1);
      });
    });

    describe('units of measure (C1, C2)', () => {
      it('C1: a uom without a conversion is recorded with UOM_MISMATCH and never added to the bag balance', async () => {
        await item('CEM', { uom: 'bag' });
        const kg = m({ sku: 'CEM', qty: 2.5, uom: 'kg' });
        const r = await s.commit([batch(m({ sku: 'CEM', qty: 10, uom: 'bag' }), kg)]);
        expect(r.batches[0]!.outcomes).toEqual(['applied', 'exception']);
        expect(await rows('CEM')).toEqual([['DOCK-1', '', 10, 'bag']]);
        expect(await s.movement(kg.id)).toMatchObject({ status: 'exception', qty: 2.5, uom: 'kg' });
        expect((await s.movement(kg.id))!.baseQty).toBeUndefined();
        expect((await exceptions('UOM_MISMATCH')).map((e) => e.movementId)).toEqual([kg.id]);
      });

      it('C1: a conversion converts to the base uom; the row keeps the original qty and uom and records the rounding', async () => {
        await item('SCREW', { uom: 'ea', conversions: [{ uom: 'box', factor: 50 }, { uom: 'pack', factor: 0.3333 }] });
        const box = m({ sku: 'SCREW', qty: 2, uom: 'box' });
        const pack = m({ sku: 'SCREW', qty: 1, uom: 'pack' });
        await s.commit([batch(m({ sku: 'SCREW', qty: 7 }), box, pack)]);
        expect(await rows('SCREW')).toEqual([['DOCK-1', '', 107.333, 'ea']]);
        expect(await s.movement(box.id)).toMatchObject({ qty: 2, uom: 'box', baseQty: 100, baseUom: 'ea' });
        expect((await s.movement(box.id))!.rounding).toBeUndefined();
        // 1 pack = 0.3333 ea, booked 0.333 (half up to 3 decimals), 0.0003 kept as the rounding.
        expect(await s.movement(pack.id)).toMatchObject({ qty: 1, uom: 'pack', baseQty: 0.333, rounding: '0.0003' });
      });

      it('C3 (cloud side): a weight in kg on an item mastered in pieces converts through unitWeightKg, else UOM_MISMATCH', async () => {
        await item('PIPE', { uom: 'ea', unitWeightKg: 2.5 });
        await item('VALVE', { uom: 'ea' });
        const w = m({ sku: 'PIPE', qty: 25, uom: 'kg' });
        const v = m({ sku: 'VALVE', qty: 25, uom: 'kg' });
        await s.commit([batch(w, v)]);
        expect(await rows('PIPE')).toEqual([['DOCK-1', '', 10, 'ea']]);
        expect(await rows('VALVE')).toEqual([]);
        expect((await exceptions('UOM_MISMATCH')).map((e) => e.movementId)).toEqual([v.id]);
      });

      it('an unknown SKU is applied in its first uom, raises UNKNOWN_ITEM once, and keeps that uom', async () => {
        const first = m({ sku: 'NEW-1', qty: 3, uom: 'm' });
        await s.commit([batch(first, m({ sku: 'NEW-1', qty: 2, uom: 'm' }))]);
        await s.commit([batch(m({ sku: 'NEW-1', qty: 1, uom: 'm', location: 'BIN-2' }))]);
        const other = m({ sku: 'NEW-1', qty: 5, uom: 'kg' });
        await s.commit([batch(other)]);
        expect(await onHand('NEW-1')).toBe(6);
        expect((await exceptions('UNKNOWN_ITEM')).map((e) => e.movementId)).toEqual([first.id]);
        expect((await exceptions('UOM_MISMATCH')).map((e) => e.movementId)).toEqual([other.id]);
      });

      it('maps a GTIN and a mapped EPC to the master SKU; an unmapped SSCC is not booked', async () => {
        await item('PALLET-A', { uom: 'ea', gtins: ['09506000134352'], epcs: ['3114257BF4000000000004D2'] });
        const sscc = m({ sku: undefined, epc: '3114257BF4000000000004D3', qty: 1 });
        await s.commit([batch(m({ sku: undefined, gtin: '09506000134352', qty: 2 }), m({ sku: undefined, epc: '3114257BF4000000000004D2', qty: 1 }), sscc)]);
        expect(await onHand('PALLET-A')).toBe(3);
        expect((await s.stock({ site })).map((r) => r.sku)).toEqual(['PALLET-A']);
        expect((await exceptions('UNMAPPED_EPC')).map((e) => e.movementId)).toEqual([sscc.id]);
      });

      it('refuses a GTIN that already belongs to another SKU', async () => {
        await item('A-1', { gtins: ['09506000134352'] });
        await expect(item('B-1', { gtins: ['09506000134352'] })).rejects.toThrow(/gtins: 09506000134352 already belongs to A-1/);
        expect(await s.item('B-1')).toBeUndefined();
      });

      it('C2: totals are per (site, sku, uom): different units are never added', async () => {
        // Old data or an unknown SKU can hold rows in several units (here two SKUs unknown in each other's unit).
        await s.commit([batch(m({ sku: 'BOLT', qty: 11, uom: 'ea' }))]);
        await item('BOLT', { uom: 'kg' }); // re-mastered in kg: new receipts in kg, the 11 ea stay as they were
        await s.commit([batch(m({ sku: 'BOLT', qty: 20, uom: 'kg', location: 'BIN-2' }))]);
        await s.commit([batch(m({ sku: 'BOLT', kind: 'issue', qty: 5, uom: 'kg', location: 'BIN-2' }))]);
        const t = (await s.totals({ site })).filter((x) => x.sku === 'BOLT').map((x) => [x.uom, x.onHand]);
        expect(t).toEqual([
          ['ea', 11],
          ['kg', 15],
        ]);
        expect((await s.totals({ pairs: [{ site, sku: 'BOLT' }] })).map((x) => [x.uom, x.onHand])).toEqual(t);
      });
    });

    describe('counts that respect time (C4, C5)', () => {
      it('C4: a late count of 10 stamped 10:00 after a receive of 5 stamped 10:05 ends at 15 with variance 0', async () => {
        await s.commit([batch(m({ sku: 'C4', qty: 10, ts: '2026-11-22T09:00:00.000Z' }))]);
        await s.commit([batch(m({ sku: 'C4', qty: 5, ts: '2026-11-22T10:05:00.000Z' }))]);
        const count = m({ sku: 'C4', kind: 'count', qty: 10, ts: '2026-11-22T10:00:00.000Z' });
        await s.commit([batch(count)]);
        expect(await onHand('C4')).toBe(15);
        expect(await s.movement(count.id)).toMatchObject({ variance: 0, status: 'applied' });
        // Its result (10 at 10:00) differs from the live figure (15): LATE_COUNT.
        expect((await exceptions('LATE_COUNT')).map((e) => e.movementId)).toEqual([count.id]);
      });

      it('C4: a late count that finds a loss keeps the later movements in effect; a count with nothing later raises nothing', async () => {
        await s.commit([batch(m({ sku: 'C4B', qty: 10, ts: '2026-11-22T09:00:00.000Z' }))]);
        await s.commit([batch(m({ sku: 'C4B', kind: 'issue', qty: 3, ts: '2026-11-22T10:05:00.000Z' }))]);
        // Counted 8 at 10:00 (2 missing then); the issue of 3 at 10:05 still happened: 5.
        const late = m({ sku: 'C4B', kind: 'count', qty: 8, ts: '2026-11-22T10:00:00.000Z' });
        await s.commit([batch(late)]);
        expect(await onHand('C4B')).toBe(5);
        expect(await s.movement(late.id)).toMatchObject({ variance: -2 });
        const now = m({ sku: 'C4B', kind: 'count', qty: 4, ts: '2026-11-22T11:00:00.000Z' });
        await s.commit([batch(now)]);
        expect(await onHand('C4B')).toBe(4);
        expect(await s.movement(now.id)).toMatchObject({ variance: -1 });
        expect((await exceptions('LATE_COUNT')).map((e) => e.movementId)).toEqual([late.id]);
        expect(await ledgerSum('C4B')).toBe(4);
      });

      it('C4 within one commit: the later receive applied before the count stays in effect', async () => {
        const count = m({ sku: 'C4C', kind: 'count', qty: 10, ts: '2026-11-22T10:00:00.000Z' });
        await s.commit([batch(m({ sku: 'C4C', qty: 10, ts: '2026-11-22T09:00:00.000Z' }), m({ sku: 'C4C', qty: 5, ts: '2026-11-22T10:05:00.000Z' }), count)]);
        expect(await onHand('C4C')).toBe(15);
        expect(await s.movement(count.id)).toMatchObject({ variance: 0 });
      });

      it('C5: a count without a batch of an untracked item replaces the location total (12, not 26)', async () => {
        await s.commit([batch(m({ sku: 'C5', qty: 10, batch: 'L1' }), m({ sku: 'C5', qty: 4, batch: 'L2' }), m({ sku: 'C5', qty: 3, location: 'BIN-9', batch: 'L1' }))]);
        const count = m({ sku: 'C5', kind: 'count', qty: 12 });
        await s.commit([batch(count)]);
        expect(await s.movement(count.id)).toMatchObject({ variance: -2 });
        expect((await s.stock({ site, sku: 'C5', location: 'DOCK-1' })).reduce((a, r) => a + r.onHand, 0)).toBe(12);
        expect(await onHand('C5')).toBe(15); // BIN-9 untouched
        expect(await ledgerSum('C5')).toBe(15);
      });

      it('C5: a count without a batch of a batch-tracked item is an exception, not a new row', async () => {
        await item('C5B', { tracking: 'batch' });
        await s.commit([batch(m({ sku: 'C5B', qty: 10, batch: 'L1' }), m({ sku: 'C5B', qty: 4, batch: 'L2' }))]);
        const count = m({ sku: 'C5B', kind: 'count', qty: 12 });
        const r = await s.commit([batch(count)]);
        expect(r.batches[0]!.outcomes).toEqual(['exception']);
        expect(await rows('C5B')).toEqual([
          ['DOCK-1', 'L1', 10, 'ea'],
          ['DOCK-1', 'L2', 4, 'ea'],
        ]);
        expect((await exceptions('COUNT_WITHOUT_BATCH')).map((e) => e.movementId)).toEqual([count.id]);
        // With its batch it is a count of that batch.
        await s.commit([batch(m({ sku: 'C5B', kind: 'count', qty: 7, batch: 'L1' }))]);
        expect(await onHand('C5B')).toBe(11);
      });
    });

    describe('tamper-evident, append-only ledger', () => {
      it('chains every site, reports the heads, and verify finds an edited row at its position', async () => {
        const ms = Array.from({ length: 6 }, (_, i) => m({ sku: 'H', qty: i + 1 }));
        const r1 = await s.commit([batch(...ms.slice(0, 3))]);
        expect(r1.heads).toEqual([{ site, n: 3, pos: expect.any(Number), hash: expect.stringMatching(/^[0-9a-f]{64}$/) }]);
        await s.commit([batch(...ms.slice(3), mv({ site: 'site-U', sku: 'H' }))]);
        expect(await s.verifyChain(site)).toEqual({ ok: true, checked: 6, brokenAt: null });
        expect(await s.verifyChain('site-U')).toEqual({ ok: true, checked: 1, brokenAt: null });
        const heads = await s.chainHeads();
        const row4 = (await s.movement(ms[3]!.id))!;
        const row6 = (await s.movement(ms[5]!.id))!;
        expect(heads.find((x) => x.site === site)).toEqual({ site, n: 6, pos: row6.pos, hash: row6.hash });
        // A duplicate does not extend the chain.
        await s.commit([batch(ms[0]!)]);
        expect((await s.verifyChain(site)).checked).toBe(6);

        await h.sql(`UPDATE ledger SET qty = qty + 1000 WHERE id = '${ms[3]!.id}'`);
        expect(await s.verifyChain(site)).toEqual({ ok: false, checked: 4, brokenAt: { pos: row4.pos, id: ms[3]!.id } });
        expect((await s.verifyChain('site-U')).ok).toBe(true);
      });

      it('verify finds a deleted row at the row after it', async () => {
        const ms = Array.from({ length: 4 }, (_, i) => m({ sku: 'D', qty: i + 1 }));
        await s.commit([batch(...ms)]);
        await h.sql(`DELETE FROM ledger WHERE id = '${ms[1]!.id}'`);
        const row3 = (await s.movement(ms[2]!.id))!;
        expect(await s.verifyChain(site)).toMatchObject({ ok: false, brokenAt: { pos: row3.pos, id: ms[2]!.id } });
      });

      it('never updates a row: status and variance are final at insert', async () => {
        await s.commit([batch(m({ sku: 'V', qty: 10 }))]);
        const c = m({ sku: 'V', kind: 'count', qty: 7 });
        await s.commit([batch(c)]);
        const before = await s.movement(c.id);
        await s.commit([batch(m({ sku: 'V', qty: 1 }), c)]);
        expect(await s.movement(c.id)).toEqual(before);
        expect((await s.verifyChain(site)).ok).toBe(true);
      });

      it('records who posted a REST entry', async () => {
        const e = m({ edge: 'api', seq: 0, sku: 'R' });
        await s.commit([{ movements: [e], deadLetters: [], postedBy: { tokenId: 'tok1', user: 'erp-sync' } }]);
        expect(await s.movement(e.id)).toMatchObject({ postedBy: { tokenId: 'tok1', user: 'erp-sync' } });
        expect((await s.verifyChain(site)).ok).toBe(true);
      });
    });
  });
}
