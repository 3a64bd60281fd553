/**
 * Ledger semantics of the Store contract (issue 5): exceptions, serialised identities, per-edge
 * gap detection, FEFO, audit by id. Backend-agnostic like store.contract.ts; every Store runs it.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CommitBatch, Store } from '../../cloud/store/store.js';
import type { Movement } from '../../protocols/mqtt/index.js';
import { mv, type StoreHarness } from './store.contract.js';

const batch = (...movements: Movement[]): CommitBatch => ({ movements, deadLetters: [] });

export function storeLedgerContract(name: string, factory: () => StoreHarness | Promise<StoreHarness>): void {
  describe(`Store ledger contract: ${name}`, () => {
    let h: StoreHarness;
    let s: Store;
    const site = 'site-L';
    beforeEach(async () => {
      h = await factory();
      s = await h.open();
    });
    afterEach(() => h.destroy());

    const onHand = async (sku: string, location = 'DOCK-1') =>
      (await s.stock({ site, sku, location })).reduce((a, r) => a + r.onHand, 0);

    const item = (sku: string, over: Partial<Parameters<Store['putItem']>[0]> = {}) =>
      s.putItem({ sku, name: sku, uom: 'ea', gtins: [], conversions: [], unitWeightKg: null, tracking: 'none', shelfLifeDays: null, standardCost: null, epcs: [], ...over });

    it('applies a movement that takes stock below zero and queues a NEGATIVE_STOCK exception', async () => {
      await item('N-1');
      await s.commit([batch(mv({ site, sku: 'N-1', qty: 2 }))]);
      const issue = mv({ site, sku: 'N-1', kind: 'issue', qty: 5 });
      const r = await s.commit([batch(issue)]);
      expect(r.batches[0]).toMatchObject({ applied: 1, exceptions: 1, outcomes: ['applied'] });
      expect(await onHand('N-1')).toBe(-3);
      const ex = await s.exceptions({ site, state: 'open', limit: 10 });
      expect(ex).toHaveLength(1);
      expect(ex[0]).toMatchObject({ type: 'NEGATIVE_STOCK', site, movementId: issue.id, sku: 'N-1', location: 'DOCK-1', onHand: -3, state: 'open' });
      // One by id (the API checks its site before acting on it).
      expect(await s.exception(ex[0]!.id)).toEqual(ex[0]);
      expect(await s.exception(999_999)).toBeUndefined();
      // Resolving takes it off the open queue and keeps who and why.
      const res = await s.resolveException(ex[0]!.id, 'manager-1', 'recount found 3 more');
      expect(res).toMatchObject({ state: 'resolved', resolvedBy: 'manager-1', resolution: 'recount found 3 more' });
      expect(await s.exceptions({ site, state: 'open', limit: 10 })).toEqual([]);
      expect(await s.exceptions({ site, state: 'all', limit: 10 })).toHaveLength(1);
      expect(await s.resolveException(999_999, 'x', 'y')).toBeUndefined();
    });

    it('a replayed issue below zero raises its exception once', async () => {
      await item('N-2');
      const issue = mv({ site, sku: 'N-2', kind: 'issue', qty: 1 });
      await s.commit([batch(issue)]);
      await s.commit([batch(issue)]);
      expect(await s.exceptions({ site, state: 'all', limit: 10 })).toHaveLength(1);
    });

    it('tracks serialised identities: a second receive of one in stock is an exception, not stock', async () => {
      const epc = '3074257BF7194E4000001A85';
      const first = mv({ site, sku: 'TAG-SKU', epc });
      const again = mv({ site, sku: 'TAG-SKU', epc });
      const r = await s.commit([batch(first, again)]);
      expect(r.batches[0]!.outcomes).toEqual(['applied', 'exception']);
      expect(await onHand('TAG-SKU')).toBe(1);
      expect(await s.identity(site, `epc:${epc}`)).toMatchObject({ inStock: true, location: 'DOCK-1', lastMovementId: first.id });
      const ex = await s.exceptions({ site, state: 'open', limit: 10 });
      expect(ex[0]).toMatchObject({ type: 'DUPLICATE_IDENTITY', movementId: again.id, identity: `epc:${epc}` });
      const row = await s.movement(again.id);
      expect(row).toMatchObject({ id: again.id, status: 'exception', epc });

      // Issued, then received again: that is stock again.
      await s.commit([batch(mv({ site, sku: 'TAG-SKU', epc, kind: 'issue' }))]);
      expect(await s.identity(site, `epc:${epc}`)).toMatchObject({ inStock: false });
      const back = await s.commit([batch(mv({ site, sku: 'TAG-SKU', epc, kind: 'return' }))]);
      expect(back.batches[0]!.outcomes).toEqual(['applied']);
      expect(await onHand('TAG-SKU')).toBe(1);
      // Another site has its own stock.
      const other = await s.commit([batch(mv({ site: 'site-M', sku: 'TAG-SKU', epc }))]);
      expect(other.batches[0]!.outcomes).toEqual(['applied']);
    });

    it('identifies GS1 serials by GTIN + serial, and flags issuing one not in stock', async () => {
      const gtin = '09506000134352';
      await s.commit([batch(mv({ site, gtin, sku: undefined, serial: 'S-1' }))]);
      const dup = await s.commit([batch(mv({ site, gtin, sku: undefined, serial: 'S-1' }))]);
      expect(dup.batches[0]!.outcomes).toEqual(['exception']);
      const ghost = await s.commit([batch(mv({ site, gtin, sku: undefined, serial: 'S-9', kind: 'issue' }))]);
      expect(ghost.batches[0]).toMatchObject({ outcomes: ['applied'] });
      const types = (await s.exceptions({ site, state: 'open', limit: 10 })).map((e) => e.type).sort();
      // S-9 was never received; the balance (1 from S-1) goes to 0, not below: no NEGATIVE_STOCK.
      // The GTIN is not in the item master: UNKNOWN_ITEM, once for the three movements.
      expect(types).toEqual(['DUPLICATE_IDENTITY', 'IDENTITY_NOT_IN_STOCK', 'UNKNOWN_ITEM']);
    });

    it('detects a per-edge seq gap and reports it until filled', async () => {
      const made = new Map<number, Movement>();
      const at = (seq: number) => made.get(seq) ?? made.set(seq, mv({ site, edge: 'gap-edge', seq, sku: 'G' })).get(seq)!;
      const r1 = await s.commit([batch(at(1), at(2), at(3))]);
      expect(r1.batches[0]!.missing).toEqual([]);
      expect(await s.edgeSeq(site, 'gap-edge')).toMatchObject({ hwm: 3, maxSeq: 3 });
      // 4..6 lost in transit; 7..8 arrive.
      const r2 = await s.commit([batch(at(7), at(8))]);
      expect(r2.batches[0]!.missing).toEqual([[4, 6]]);
      expect(await s.edgeSeq(site, 'gap-edge')).toMatchObject({ hwm: 3, maxSeq: 8 });
      // Partially filled: still missing 6.
      const r3 = await s.commit([batch(at(4), at(5))]);
      expect(r3.batches[0]!.missing).toEqual([[6, 6]]);
      const r4 = await s.commit([batch(at(6))]);
      expect(r4.batches[0]!.missing).toEqual([]);
      expect(await s.edgeSeq(site, 'gap-edge')).toMatchObject({ hwm: 8, maxSeq: 8 });
      // A stale replay changes nothing and reports no gap.
      const r5 = await s.commit([batch(at(2))]);
      expect(r5.batches[0]).toMatchObject({ duplicates: 1, missing: [] });
      expect(await onHand('G')).toBe(8);
    });

    it('counts refused seqs as present: a rejected movement leaves no gap, in a batch with others or refused alone', async () => {
      const edge = 'refuse-edge';
      const at = (seq: number) => mv({ site, edge, seq, sku: 'RF' });
      const refused = (...seqs: number[]) => ({ site, edge, seqs });
      // 1..3 applied, 4 refused in the same message (a malformed movement), 5 applied.
      const r1 = await s.commit([{ ...batch(at(1), at(2), at(3), at(5)), refused: refused(4) }]);
      expect(r1.batches[0]!.missing).toEqual([]);
      expect(await s.edgeSeq(site, edge)).toMatchObject({ hwm: 5, maxSeq: 5 });
      // A whole message refused (6, 7), then 8: no gap either.
      const r2 = await s.commit([{ movements: [], deadLetters: [], refused: refused(6, 7) }]);
      expect(r2.batches[0]!.missing).toEqual([]);
      const r3 = await s.commit([batch(at(8))]);
      expect(r3.batches[0]!.missing).toEqual([]);
      expect(await s.edgeSeq(site, edge)).toMatchObject({ hwm: 8, maxSeq: 8 });
      // Control: a seq neither applied nor refused is still a gap until it comes.
      const r4 = await s.commit([batch(at(10))]);
      expect(r4.batches[0]!.missing).toEqual([[9, 9]]);
      const r5 = await s.commit([{ movements: [], deadLetters: [], refused: refused(9) }]);
      expect(r5.batches[0]!.missing).toEqual([]);
      expect(await s.edgeSeq(site, edge)).toMatchObject({ hwm: 10, maxSeq: 10 });
      expect(await onHand('RF')).toBe(6);
    });

    it('does not track seqs of REST movements (seq 0)', async () => {
      const r = await s.commit([batch(mv({ site, edge: 'api', seq: 0, sku: 'R' }))]);
      expect(r.batches[0]!.missing).toEqual([]);
      expect(await s.edgeSeq(site, 'api')).toBeUndefined();
    });

    it('suggests FEFO: batches with stock, first expiring first, no expiry last, never an expired one (C8)', async () => {
      const day = (d: number) => new Date(Date.now() + d * 86_400_000).toISOString().slice(0, 10);
      await s.commit([
        batch(
          mv({ site, sku: 'F', batch: 'L3', expiry: day(90), qty: 5 }),
          mv({ site, sku: 'F', batch: 'L1', expiry: day(10), qty: 2 }),
          mv({ site, sku: 'F', batch: 'L0', qty: 9 }),
          mv({ site, sku: 'F', batch: 'L2', expiry: day(30), qty: 4 }),
          mv({ site, sku: 'F', batch: 'L2', kind: 'issue', qty: 4 }),
          // Expired 66 days ago: it is stock (the balance keeps it), but never the suggestion.
          mv({ site, sku: 'F', batch: 'LX', expiry: day(-66), qty: 7 }),
          // Expires today: still usable today.
          mv({ site, sku: 'F', batch: 'LT', expiry: day(0), qty: 1 }),
        ),
      ]);
      const rows = await s.fefo({ site, sku: 'F' });
      expect(rows.map((r) => [r.batch, r.expiry, r.onHand])).toEqual([
        ['LT', day(0), 1],
        ['L1', day(10), 2],
        ['L3', day(90), 5],
        ['L0', null, 9],
      ]);
      expect(await onHand('F')).toBe(2 + 5 + 9 + 7 + 1);
      const states = Object.fromEntries((await s.stock({ site, sku: 'F' })).map((r) => [r.batch, r.state]));
      expect(states).toEqual({ L0: 'ok', L1: 'ok', L2: 'ok', L3: 'ok', LT: 'ok', LX: 'expired' });
    });

    it('traces a ledger row back to its raw frame, edge, operator and device', async () => {
      const m = mv({ site, sku: 'AUD', operator: 'W-7', raw: ']C0AUD', device: { id: 'dock9', type: 'scanner' } });
      await s.commit([batch(m)]);
      expect(await s.movement(m.id)).toMatchObject({ id: m.id, edge: m.edge, seq: m.seq, operator: 'W-7', raw: ']C0AUD', device: { id: 'dock9', type: 'scanner' }, status: 'applied' });
      expect(await s.movement('NOPE00000000')).toBeUndefined();
    });
  });
}
