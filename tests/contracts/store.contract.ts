/**
 * The abstract contract of the cloud Store (after aedes's abstract persistence suite): the SQLite
 * store runs it now and the PostgreSQL store must run the same suite unchanged; only the factory
 * differs. Nothing here depends on a backend: results whose order the interface does not define
 * (stock, totals) are sorted before comparing.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CommitBatch, DeadLetterInput, StockRow, Store } from '../../cloud/store/store.js';
import type { Movement } from '../../protocols/mqtt/index.js';
import { decodeEpc } from '../../protocols/rfid/epc.js';

/** One test's database; `open` may be called again after `close` to simulate a restart. */
export interface StoreHarness {
  /** Open (or reopen) this test's database, running migrations. */
  open(): Promise<Store>;
  /** Close whatever is still open and drop the database. */
  destroy(): Promise<void>;
}

let nextId = 0;
/** A valid receive of 1 ea of SKU-1 at site-A/DOCK-1 with a fresh id. */
export function mv(over: Partial<Movement> = {}): Movement {
  nextId++;
  return {
    v: 1,
    id: `MV${String(nextId).padStart(12, '0')}`,
    edge: 'edge-1',
    seq: nextId,
    ts: '2026-11-22T02:19:00.000Z',
    site: 'site-A',
    location: 'DOCK-1',
    kind: 'receive',
    sku: 'SKU-1',
    qty: 1,
    uom: 'ea',
    device: { id: 'dock1', type: 'scanner' },
    raw: 'SKU-1',
    ...over,
  };
}

const batch = (...movements: Movement[]): CommitBatch => ({ movements, deadLetters: [] });
const dead = (over: Partial<DeadLetterInput> = {}): DeadLetterInput => ({
  topic: 'stockgate/v1/site-A/edge-1/movements',
  site: 'site-A',
  edge: 'edge-1',
  reason: 'INVALID_SCHEMA',
  message: 'movements.0.qty: must be > 0 for kind receive',
  payload: '{"v":1}',
  ...over,
});

type Key = Pick<StockRow, 'site' | 'location' | 'sku' | 'batch' | 'project'>;
const keyOf = (r: Key) => [r.site, r.location, r.sku, r.batch, r.project].join('|');
const byKey = (a: Key, b: Key) => (keyOf(a) < keyOf(b) ? -1 : keyOf(a) > keyOf(b) ? 1 : 0);
const pairKey = (p: { site: string; sku: string }) => `${p.site}|${p.sku}`;
const byPair = (a: { site: string; sku: string }, b: { site: string; sku: string }) => pairKey(a).localeCompare(pairKey(b));

export function storeContract(name: string, factory: () => StoreHarness | Promise<StoreHarness>): void {
  describe(`Store contract: ${name}`, () => {
    let h: StoreHarness;
    let store: Store;

    beforeEach(async () => {
      h = await factory();
      store = await h.open();
    });
    afterEach(async () => {
      await h.destroy();
    });

    const commit = (...movements: Movement[]) => store.commit([batch(...movements)]);
    /** Balances as `key -> onHand`, optionally filtered. */
    const balances = async (q: Parameters<Store['stock']>[0] = {}) =>
      Object.fromEntries((await store.stock(q)).map((r) => [keyOf(r), r.onHand]));
    const k = (location: string, sku = 'SKU-1', o: { site?: string; batch?: string; project?: string } = {}) =>
      keyOf({ site: o.site ?? 'site-A', location, sku, batch: o.batch ?? '', project: o.project ?? '' });

    describe('empty', () => {
      it('has no stock, totals, movements or dead letters', async () => {
        expect(await store.stock({})).toEqual([]);
        expect(await store.totals({})).toEqual([]);
        expect(await store.movements({ limit: 10 })).toEqual([]);
        expect(await store.deadLetters({ limit: 10 })).toEqual([]);
        expect(await store.commit([])).toEqual({ batches: [], changed: [], heads: [] });
      });
    });

    describe('headPos', () => {
      it('is 0 on an empty ledger, then the newest row\'s position, also across sites and after a resend', async () => {
        expect(await store.headPos()).toBe(0);
        const a = mv({ qty: 1 });
        await commit(a, mv({ qty: 2, site: 'site-B' }));
        expect(await store.headPos()).toBe((await store.movements({ limit: 1 }))[0]!.pos);
        const before = await store.headPos();
        await commit(a);
        expect(await store.headPos()).toBe(before);
        await commit(mv({ qty: 3 }));
        expect(await store.headPos()).toBeGreaterThan(before);
        expect(await store.headPos()).toBe((await store.movements({ limit: 1 }))[0]!.pos);
      });
    });

    describe('ledgerAfter (change feed for exporters)', () => {
      it('returns rows after a position, oldest first, at most limit', async () => {
        expect(await store.ledgerAfter(0, 10)).toEqual([]);
        await commit(mv({ qty: 1 }), mv({ qty: 2 }));
        await commit(mv({ qty: 3 }));
        const all = await store.ledgerAfter(0, 10);
        expect(all.map((r) => r.qty)).toEqual([1, 2, 3]);
        expect(all.map((r) => r.pos)).toEqual([...all.map((r) => r.pos)].sort((a, b) => a - b));
        expect((await store.ledgerAfter(all[0]!.pos, 1)).map((r) => r.qty)).toEqual([2]);
        expect(await store.ledgerAfter(all[2]!.pos, 10)).toEqual([]);
        const full = (await store.movement(all[2]!.id))!;
        expect(all[2]).toMatchObject({ id: full.id, ts: full.ts, site: full.site, location: full.location, kind: full.kind, sku: full.sku, qty: 3, uom: full.uom, status: full.status, appliedAt: full.appliedAt });
      });

      it('ledgerChangeRows: the same feed as arrays, numbers as numbers, quantities in thousandths', async () => {
        await commit(mv({ qty: 1.5 }), mv({ kind: 'transfer', toLocation: 'B', qty: 2, project: 'P1' }));
        const objs = await store.ledgerAfter(0, 10);
        const rows = await store.ledgerChangeRows(0, 10);
        expect(rows).toHaveLength(2);
        rows.forEach((r, i) => {
          const o = objs[i]!;
          expect(r).toEqual([o.pos, Date.parse(o.ts), o.site, o.location, o.toLocation ?? null, o.kind, o.sku, Math.round(o.qty * 1000), o.uom, o.project ?? '', o.status, null, o.appliedAt, Math.round(o.qty * 1000), o.uom]);
        });
        expect(await store.ledgerChangeRows(rows[0]![0], 10)).toEqual([rows[1]]);
      });
    });

    describe('balances per movement kind', () => {
      it('receive adds, issue subtracts, return adds', async () => {
        await commit(mv({ kind: 'receive', qty: 10 }));
        expect(await balances()).toEqual({ [k('DOCK-1')]: 10 });
        await commit(mv({ kind: 'issue', qty: 4 }));
        expect(await balances()).toEqual({ [k('DOCK-1')]: 6 });
        await commit(mv({ kind: 'return', qty: 1.5 }));
        expect(await balances()).toEqual({ [k('DOCK-1')]: 7.5 });
      });

      it('issue from nothing goes negative (the ledger records what happened)', async () => {
        await commit(mv({ kind: 'issue', qty: 3 }));
        expect(await balances()).toEqual({ [k('DOCK-1')]: -3 });
      });

      it('adjust applies a signed correction', async () => {
        await commit(mv({ qty: 10 }), mv({ kind: 'adjust', qty: -2.5 }));
        expect(await balances()).toEqual({ [k('DOCK-1')]: 7.5 });
        await commit(mv({ kind: 'adjust', qty: 0.5 }));
        expect(await balances()).toEqual({ [k('DOCK-1')]: 8 });
      });

      it('transfer moves qty from location to toLocation, keeping batch and project', async () => {
        await commit(mv({ qty: 10, batch: 'L1', project: 'P1' }));
        await commit(mv({ kind: 'transfer', location: 'DOCK-1', toLocation: 'BIN-7', qty: 4, batch: 'L1', project: 'P1' }));
        expect(await balances()).toEqual({
          [k('DOCK-1', 'SKU-1', { batch: 'L1', project: 'P1' })]: 6,
          [k('BIN-7', 'SKU-1', { batch: 'L1', project: 'P1' })]: 4,
        });
        await commit(mv({ kind: 'transfer', location: 'BIN-7', toLocation: 'DOCK-1', qty: 1, batch: 'L1', project: 'P1' }));
        expect(await balances()).toEqual({
          [k('DOCK-1', 'SKU-1', { batch: 'L1', project: 'P1' })]: 7,
          [k('BIN-7', 'SKU-1', { batch: 'L1', project: 'P1' })]: 3,
        });
      });

      it('count sets the stock and records counted minus before as variance', async () => {
        await commit(mv({ qty: 10 }));
        const c1 = mv({ kind: 'count', qty: 7 });
        await commit(c1);
        expect(await balances()).toEqual({ [k('DOCK-1')]: 7 });
        const c2 = mv({ kind: 'count', qty: 9.5 });
        await commit(c2);
        expect(await balances()).toEqual({ [k('DOCK-1')]: 9.5 });
        const c3 = mv({ kind: 'count', qty: 0, location: 'BIN-NEW' });
        const c4 = mv({ kind: 'count', qty: 4, location: 'BIN-EMPTY' });
        await commit(c3, c4);
        expect(await balances()).toEqual({ [k('DOCK-1')]: 9.5, [k('BIN-NEW')]: 0, [k('BIN-EMPTY')]: 4 });

        const rows = Object.fromEntries((await store.movements({ limit: 10 })).map((r) => [r.id, r]));
        expect(rows[c1.id]!.variance).toBe(-3);
        expect(rows[c2.id]!.variance).toBe(2.5);
        expect(rows[c3.id]!.variance).toBe(0);
        expect(rows[c4.id]!.variance).toBe(4);
      });

      it('only counts carry a variance', async () => {
        await commit(mv({ qty: 2 }), mv({ kind: 'issue', qty: 1 }));
        for (const r of await store.movements({ limit: 10 })) expect(r).not.toHaveProperty('variance');
      });

      it('keys balances by site, location, sku, batch and project', async () => {
        await commit(
          mv({ qty: 1 }),
          mv({ qty: 2, batch: 'L1' }),
          mv({ qty: 3, project: 'P1' }),
          mv({ qty: 4, batch: 'L1', project: 'P1' }),
          mv({ qty: 5, location: 'BIN-2' }),
          mv({ qty: 6, sku: 'SKU-2' }),
          mv({ qty: 7, site: 'site-B' }),
          mv({ qty: 10, batch: 'L1' }),
        );
        expect(await balances()).toEqual({
          [k('DOCK-1')]: 1,
          [k('DOCK-1', 'SKU-1', { batch: 'L1' })]: 12,
          [k('DOCK-1', 'SKU-1', { project: 'P1' })]: 3,
          [k('DOCK-1', 'SKU-1', { batch: 'L1', project: 'P1' })]: 4,
          [k('BIN-2')]: 5,
          [k('DOCK-1', 'SKU-2')]: 6,
          [k('DOCK-1', 'SKU-1', { site: 'site-B' })]: 7,
        });
      });

      it('count touches only its own key', async () => {
        await commit(mv({ qty: 5, batch: 'L1' }), mv({ qty: 5, batch: 'L2' }));
        await commit(mv({ kind: 'count', qty: 1, batch: 'L1' }));
        expect(await balances()).toEqual({ [k('DOCK-1', 'SKU-1', { batch: 'L1' })]: 1, [k('DOCK-1', 'SKU-1', { batch: 'L2' })]: 5 });
      });

      it('applies movements of one commit in order', async () => {
        await commit(mv({ qty: 5 }), mv({ kind: 'count', qty: 2 }), mv({ qty: 1 }));
        expect(await balances()).toEqual({ [k('DOCK-1')]: 3 });
      });

      it('returns full stock rows with uom, expiry and updatedAt', async () => {
        const before = Date.now();
        await commit(mv({ sku: 'SKU-KG', qty: 2, uom: 'kg', batch: 'L1', expiry: '2027-03-31', project: 'P1' }), mv({ qty: 1, location: 'BIN-2' }));
        const after = Date.now();
        const rows = (await store.stock({})).sort(byKey);
        expect(rows).toEqual([
          { site: 'site-A', location: 'BIN-2', sku: 'SKU-1', batch: '', project: '', onHand: 1, uom: 'ea', expiry: null, updatedAt: expect.any(String), state: 'ok' },
          { site: 'site-A', location: 'DOCK-1', sku: 'SKU-KG', batch: 'L1', project: 'P1', onHand: 2, uom: 'kg', expiry: '2027-03-31', updatedAt: expect.any(String), state: 'ok' },
        ]);
        for (const r of rows) {
          const t = Date.parse(r.updatedAt);
          expect(t).toBeGreaterThanOrEqual(before - 1000);
          expect(t).toBeLessThanOrEqual(after + 1000);
        }
      });
    });

    describe('item identity', () => {
      it('uses sku, else gtin, else the GTIN of an SGTIN EPC as the balance sku; other EPCs are not booked', async () => {
        const sscc = mv({ sku: undefined, epc: '3114257BF4000000000004D2', qty: 1 });
        await commit(
          mv({ sku: 'OWN-SKU', gtin: '09506000134352', qty: 1 }),
          mv({ sku: undefined, gtin: '09506000134352', epc: '3074257BF7194E4000001A85', qty: 2 }),
          // Another tag: one EPC is one physical item, so the same EPC again would be an exception.
          mv({ sku: undefined, epc: '3074257BF7194E4000001A86', qty: 3 }),
          // An SSCC (a pallet) names no trade item: recorded and queued, not a SKU named by its hex.
          sscc,
        );
        const gtin = (decodeEpc('3074257BF7194E4000001A86') as { gtin: string }).gtin;
        expect(await balances()).toEqual({
          [k('DOCK-1', 'OWN-SKU')]: 1,
          [k('DOCK-1', '09506000134352')]: 2,
          [k('DOCK-1', gtin)]: 3,
        });
        expect(await store.movement(sscc.id)).toMatchObject({ status: 'exception', epc: sscc.epc });
        const ex = await store.exceptions({ state: 'open', limit: 10 });
        expect(ex.filter((e) => e.type === 'UNMAPPED_EPC').map((e) => e.movementId)).toEqual([sscc.id]);
      });

      it('keeps gtin and epc on the ledger row', async () => {
        const m = mv({ sku: undefined, gtin: '09506000134352', epc: '3074257BF7194E4000001A85' });
        await commit(m);
        const [row] = await store.movements({ limit: 1 });
        expect(row).toMatchObject({ id: m.id, sku: '09506000134352', gtin: '09506000134352', epc: '3074257BF7194E4000001A85' });
      });
    });

    describe('exactly once', () => {
      it('applies a movement committed twice in separate commits once, reporting the duplicate', async () => {
        const m = mv({ qty: 5 });
        expect((await commit(m)).batches).toMatchObject([{ applied: 1, duplicates: 0, deadLetterIds: [] }]);
        const again = await commit(m);
        expect(again.batches).toMatchObject([{ applied: 0, duplicates: 1, deadLetterIds: [] }]);
        expect(again.changed).toEqual([]);
        expect(await balances()).toEqual({ [k('DOCK-1')]: 5 });
        expect(await store.movements({ limit: 10 })).toHaveLength(1);
      });

      it('applies a movement twice in one batch once', async () => {
        const m = mv({ qty: 5 });
        const r = await commit(m, m, mv({ qty: 1 }));
        expect(r.batches).toMatchObject([{ applied: 2, duplicates: 1, deadLetterIds: [] }]);
        expect(await balances()).toEqual({ [k('DOCK-1')]: 6 });
      });

      it('applies a movement in two batches of one commit once', async () => {
        const m = mv({ kind: 'issue', qty: 2 });
        const r = await store.commit([batch(m), batch(mv({ qty: 1 }), m)]);
        expect(r.batches).toMatchObject([
          { applied: 1, duplicates: 0, deadLetterIds: [] },
          { applied: 1, duplicates: 1, deadLetterIds: [] },
        ]);
        expect(await balances()).toEqual({ [k('DOCK-1')]: -1 });
      });

      it('keys on the id alone: a resend with other content changes nothing', async () => {
        const m = mv({ qty: 5 });
        await commit(m);
        const r = await commit({ ...m, qty: 50, seq: m.seq + 1000, location: 'ELSEWHERE' });
        expect(r.batches[0]).toMatchObject({ applied: 0, duplicates: 1, deadLetterIds: [] });
        expect(await balances()).toEqual({ [k('DOCK-1')]: 5 });
        const [row] = await store.movements({ limit: 5 });
        expect(row).toMatchObject({ id: m.id, qty: 5, seq: m.seq, location: 'DOCK-1' });
      });

      it('does not treat a reused seq with a new id as a duplicate', async () => {
        await commit(mv({ seq: 1, qty: 1 }));
        const r = await commit(mv({ seq: 1, qty: 2 }));
        expect(r.batches[0]).toMatchObject({ applied: 1, duplicates: 0 });
        expect(await balances()).toEqual({ [k('DOCK-1')]: 3 });
      });

      it('does not re-apply a duplicate count (variance stays the first one)', async () => {
        await commit(mv({ qty: 10 }));
        const c = mv({ kind: 'count', qty: 4 });
        await commit(c);
        await commit(mv({ qty: 1 }));
        await commit(c);
        expect(await balances()).toEqual({ [k('DOCK-1')]: 5 });
        const rows = await store.movements({ limit: 10 });
        expect(rows.find((r) => r.id === c.id)!.variance).toBe(-6);
      });
    });

    describe('decimal quantities', () => {
      it('0.1 + 0.2 gives 0.3 in balances and totals', async () => {
        await commit(mv({ qty: 0.1, uom: 'kg' }));
        await commit(mv({ qty: 0.2, uom: 'kg' }));
        expect((await store.stock({}))[0]!.onHand).toBe(0.3);
        expect((await store.totals({}))[0]!.onHand).toBe(0.3);
      });

      it('sums across locations exactly and comes back to zero', async () => {
        await commit(mv({ qty: 0.1 }), mv({ qty: 0.2, location: 'BIN-2' }), mv({ qty: 0.7, location: 'BIN-3' }));
        expect((await store.totals({}))[0]!.onHand).toBe(1);
        await commit(mv({ kind: 'issue', qty: 0.3 }), mv({ kind: 'return', qty: 0.2 }));
        expect(await balances({ location: 'DOCK-1' })).toEqual({ [k('DOCK-1')]: 0 });
        await commit(mv({ kind: 'transfer', location: 'BIN-3', toLocation: 'BIN-2', qty: 0.1 }));
        expect(await balances({ location: 'BIN-2' })).toEqual({ [k('BIN-2')]: 0.3 });
        expect(await balances({ location: 'BIN-3' })).toEqual({ [k('BIN-3')]: 0.6 });
      });

      it('count variance is exact too', async () => {
        await commit(mv({ qty: 0.1 }), mv({ qty: 0.2 }));
        const c = mv({ kind: 'count', qty: 0.4 });
        await commit(c);
        expect((await store.movements({ limit: 1 }))[0]).toMatchObject({ id: c.id, variance: 0.1 });
      });
    });

    describe('changed pairs', () => {
      it('reports each (site, sku) whose balance changed once, across batches of a commit', async () => {
        const r = await store.commit([
          batch(mv({ sku: 'A' }), mv({ sku: 'A', location: 'BIN-2' }), mv({ sku: 'B' })),
          batch(mv({ sku: 'A', site: 'site-B' }), mv({ sku: 'B' }), mv({ kind: 'transfer', sku: 'C', toLocation: 'BIN-9' })),
        ]);
        expect([...r.changed].sort(byPair)).toEqual([
          { site: 'site-A', sku: 'A' },
          { site: 'site-A', sku: 'B' },
          { site: 'site-A', sku: 'C' },
          { site: 'site-B', sku: 'A' },
        ]);
      });

      it('uses the fallback sku and ignores duplicates', async () => {
        const dup = mv({ sku: 'X' });
        await commit(dup);
        const r = await commit(dup, mv({ sku: undefined, gtin: '09506000134352' }));
        expect(r.changed).toEqual([{ site: 'site-A', sku: '09506000134352' }]);
      });
    });

    describe('dead letters', () => {
      it('stores them with the commit and returns their ids per batch', async () => {
        const before = Date.now();
        const r = await store.commit([
          { movements: [mv()], deadLetters: [dead({ message: 'one' })] },
          { movements: [], deadLetters: [dead({ message: 'two' }), dead({ message: 'three', reason: 'INVALID_JSON', payload: 'not json' })] },
        ]);
        const after = Date.now();
        expect(r.batches.map((b) => b.deadLetterIds.length)).toEqual([1, 2]);
        const ids = r.batches.flatMap((b) => b.deadLetterIds);
        expect(new Set(ids).size).toBe(3);
        for (const id of ids) expect(Number.isInteger(id)).toBe(true);
        expect(r.batches[1]).toMatchObject({ applied: 0, duplicates: 0 });

        const listed = await store.deadLetters({ limit: 10 });
        expect(listed.map((d) => d.message)).toEqual(['three', 'two', 'one']);
        expect(listed.map((d) => d.id)).toEqual([...ids].reverse());
        expect(listed[0]).toEqual({
          id: ids[2],
          receivedAt: expect.any(String),
          topic: 'stockgate/v1/site-A/edge-1/movements',
          site: 'site-A',
          edge: 'edge-1',
          reason: 'INVALID_JSON',
          message: 'three',
          payload: 'not json',
        });
        const t = Date.parse(listed[0]!.receivedAt);
        expect(t).toBeGreaterThanOrEqual(before - 1000);
        expect(t).toBeLessThanOrEqual(after + 1000);
      });

      it('lists newest first across commits, with limit and a before cursor', async () => {
        const ids: number[] = [];
        for (let i = 1; i <= 5; i++) {
          ids.push(...(await store.commit([{ movements: [], deadLetters: [dead({ message: `m${i}` })] }])).batches[0]!.deadLetterIds);
        }
        expect(ids).toEqual([...ids].sort((a, b) => a - b));
        const page1 = await store.deadLetters({ limit: 2 });
        expect(page1.map((d) => d.message)).toEqual(['m5', 'm4']);
        const page2 = await store.deadLetters({ limit: 2, before: page1[1]!.id });
        expect(page2.map((d) => d.message)).toEqual(['m3', 'm2']);
        const page3 = await store.deadLetters({ limit: 2, before: page2[1]!.id });
        expect(page3.map((d) => d.message)).toEqual(['m1']);
      });

      it('filters by site (a site-scoped caller, issue 8 #5), with the cursor', async () => {
        await store.commit([{ movements: [], deadLetters: [dead({ message: 'a1' }), dead({ site: 'site-B', topic: 'stockgate/v1/site-B/edge-1/movements', message: 'b1' }), dead({ message: 'a2' }), dead({ site: undefined, edge: undefined, topic: 'x', message: 'none' })] }]);
        expect((await store.deadLetters({ site: 'site-B', limit: 10 })).map((d) => d.message)).toEqual(['b1']);
        const a = await store.deadLetters({ site: 'site-A', limit: 10 });
        expect(a.map((d) => d.message)).toEqual(['a2', 'a1']);
        expect((await store.deadLetters({ site: 'site-A', limit: 10, before: a[0]!.id })).map((d) => d.message)).toEqual(['a1']);
        expect(await store.deadLetters({ site: 'site-C', limit: 10 })).toEqual([]);
      });

      it('keeps the SHA-256 and size of the bytes received beside the bounded payload prefix', async () => {
        const sha = 'ab'.repeat(32);
        await store.commit([{ movements: [], deadLetters: [dead({ payload: '{"v":1,"mov', sha256: sha, bytes: 123_456_789 })] }]);
        const [d] = await store.deadLetters({ limit: 1 });
        expect(d).toMatchObject({ payload: '{"v":1,"mov', sha256: sha, bytes: 123_456_789 });
      });

      it('prunes a site oldest first beyond a count or a byte budget, and only that site (issue 8, finding 5)', async () => {
        const add = (site: string | undefined, n: number, payload = 'x'.repeat(100)) =>
          store.commit([{ movements: [], deadLetters: Array.from({ length: n }, (_, i) => dead({ site, message: `${site ?? 'none'}-${i}`, payload })) }]);
        await add('site-A', 20);
        await add('site-B', 5);
        await add(undefined, 4);
        // By count: the 10 newest of site A stay.
        expect(await store.pruneDeadLetters({ site: 'site-A', maxCount: 10, maxBytes: 1e9 })).toBe(10);
        let all = await store.deadLetters({ limit: 100 });
        expect(all.filter((d) => d.site === 'site-A').map((d) => d.message)).toEqual(Array.from({ length: 10 }, (_, i) => `site-A-${19 - i}`));
        expect(all.filter((d) => d.site === 'site-B')).toHaveLength(5);
        // By bytes: payload 100 + message 9-10 bytes each; a 450-byte budget keeps the 4 newest.
        expect(await store.pruneDeadLetters({ site: 'site-A', maxCount: 1000, maxBytes: 450 })).toBe(6);
        all = await store.deadLetters({ limit: 100 });
        expect(all.filter((d) => d.site === 'site-A').map((d) => d.message)).toEqual(['site-A-19', 'site-A-18', 'site-A-17', 'site-A-16']);
        // '' = dead letters without a site.
        expect(await store.pruneDeadLetters({ site: '', maxCount: 1, maxBytes: 1e9 })).toBe(3);
        all = await store.deadLetters({ limit: 100 });
        expect(all.filter((d) => d.site === undefined).map((d) => d.message)).toEqual(['none-3']);
        expect(all.filter((d) => d.site === 'site-B')).toHaveLength(5);
        expect(await store.pruneDeadLetters({ site: 'site-B', maxCount: 5, maxBytes: 1e9 })).toBe(0);
      });

      it('keeps a dead letter without site and edge (e.g. a topic that did not parse)', async () => {
        await store.commit([{ movements: [], deadLetters: [dead({ site: undefined, edge: undefined, topic: 'stockgate/v1/bad', reason: 'TOPIC_MISMATCH' })] }]);
        const [d] = await store.deadLetters({ limit: 1 });
        expect(d).toMatchObject({ topic: 'stockgate/v1/bad', reason: 'TOPIC_MISMATCH' });
        // The interface types these as optional strings; absent must not come back as a value.
        expect(d!.site ?? undefined).toBeUndefined();
        expect(d!.edge ?? undefined).toBeUndefined();
      });
    });

    describe('movements', () => {
      it('returns a committed movement in its wire shape plus pos, appliedAt and status', async () => {
        const full = mv({
          kind: 'transfer',
          toLocation: 'BIN-7',
          sku: 'BOLT-M8',
          gtin: '09506000134352',
          epc: '3074257BF7194E4000001A85',
          batch: 'LOT42',
          expiry: '2027-03-31',
          serial: 'SN-1',
          qty: 12.5,
          uom: 'kg',
          project: 'PRJ-7',
          stage: 'foundation',
          operator: 'badge-17',
          crew: 'crew-b',
          raw: ']C1BOLT-M8\r\n',
        });
        const minimal = mv();
        const before = Date.now();
        await commit(full, minimal);
        const after = Date.now();
        const [b, a] = await store.movements({ limit: 10 });
        const chained = { pos: expect.any(Number), appliedAt: expect.any(String), status: 'applied', chainN: expect.any(Number), hash: expect.stringMatching(/^[0-9a-f]{64}$/) };
        expect(a).toEqual({ ...full, ...chained, baseQty: 12.5, baseUom: 'kg' });
        expect(b).toEqual({ ...minimal, ...chained, baseQty: 1, baseUom: 'ea' });
        expect(b!.pos).toBeGreaterThan(a!.pos);
        const t = Date.parse(a!.appliedAt);
        expect(t).toBeGreaterThanOrEqual(before - 1000);
        expect(t).toBeLessThanOrEqual(after + 1000);
      });

      it('lists newest first and pages with the before cursor', async () => {
        const ms = Array.from({ length: 7 }, (_, i) => mv({ raw: `m${i}` }));
        await commit(...ms.slice(0, 3));
        await commit(...ms.slice(3));
        const all = await store.movements({ limit: 100 });
        expect(all.map((r) => r.id)).toEqual([...ms].reverse().map((m) => m.id));
        for (let i = 1; i < all.length; i++) expect(all[i]!.pos).toBeLessThan(all[i - 1]!.pos);

        const seen: string[] = [];
        let before: number | undefined;
        for (;;) {
          const page = await store.movements(before === undefined ? { limit: 3 } : { limit: 3, before });
          if (page.length === 0) break;
          expect(page.length).toBeLessThanOrEqual(3);
          seen.push(...page.map((r) => r.id));
          before = page[page.length - 1]!.pos;
        }
        expect(seen).toEqual(all.map((r) => r.id));
      });

      it('filters by site, also with the cursor', async () => {
        const a1 = mv({ site: 'site-A' });
        const b1 = mv({ site: 'site-B' });
        const a2 = mv({ site: 'site-A' });
        const b2 = mv({ site: 'site-B' });
        await commit(a1, b1, a2, b2);
        expect((await store.movements({ site: 'site-A', limit: 10 })).map((r) => r.id)).toEqual([a2.id, a1.id]);
        const [newestB] = await store.movements({ site: 'site-B', limit: 1 });
        expect(newestB!.id).toBe(b2.id);
        expect((await store.movements({ site: 'site-B', limit: 10, before: newestB!.pos })).map((r) => r.id)).toEqual([b1.id]);
        expect(await store.movements({ site: 'site-C', limit: 10 })).toEqual([]);
      });
    });

    describe('stock filters', () => {
      beforeEach(async () => {
        await commit(
          mv({ sku: 'A', qty: 1 }),
          mv({ sku: 'A', location: 'BIN-2', qty: 2 }),
          mv({ sku: 'B', qty: 3 }),
          mv({ sku: 'A', site: 'site-B', qty: 4 }),
          mv({ sku: 'B', site: 'site-B', location: 'BIN-2', qty: 5 }),
        );
      });

      it.each([
        ['none', {}, [1, 2, 3, 4, 5]],
        ['site', { site: 'site-A' }, [1, 2, 3]],
        ['sku', { sku: 'A' }, [1, 2, 4]],
        ['location', { location: 'BIN-2' }, [2, 5]],
        ['site + sku', { site: 'site-B', sku: 'A' }, [4]],
        ['sku + location', { sku: 'A', location: 'BIN-2' }, [2]],
        ['site + sku + location', { site: 'site-B', sku: 'B', location: 'BIN-2' }, [5]],
        ['nothing matching', { site: 'site-C' }, []],
      ])('by %s', async (_label, q, expected) => {
        const rows = await store.stock(q);
        expect(rows.map((r) => r.onHand).sort()).toEqual(expected);
      });
    });

    describe('totals', () => {
      beforeEach(async () => {
        await commit(
          mv({ sku: 'A', qty: 1 }),
          mv({ sku: 'A', location: 'BIN-2', qty: 2 }),
          mv({ sku: 'A', batch: 'L1', qty: 3 }),
          mv({ sku: 'A', project: 'P1', location: 'BIN-3', qty: 4 }),
          mv({ sku: 'B', qty: 5, uom: 'kg' }),
          mv({ sku: 'A', site: 'site-B', qty: 6 }),
        );
      });

      it('aggregate per site and sku across locations, batches and projects', async () => {
        const rows = (await store.totals({})).sort(byPair);
        expect(rows).toEqual([
          { site: 'site-A', sku: 'A', onHand: 10, uom: 'ea', locations: 3, updatedAt: expect.any(String) },
          { site: 'site-A', sku: 'B', onHand: 5, uom: 'kg', locations: 1, updatedAt: expect.any(String) },
          { site: 'site-B', sku: 'A', onHand: 6, uom: 'ea', locations: 1, updatedAt: expect.any(String) },
        ]);
      });

      it('filter by site', async () => {
        expect((await store.totals({ site: 'site-B' })).map((r) => [r.site, r.sku, r.onHand])).toEqual([['site-B', 'A', 6]]);
        expect(await store.totals({ site: 'site-C' })).toEqual([]);
      });

      it('filter by pairs (unknown pairs give nothing, no pairs give nothing)', async () => {
        const rows = await store.totals({ pairs: [{ site: 'site-B', sku: 'A' }, { site: 'site-A', sku: 'B' }, { site: 'site-A', sku: 'NOPE' }] });
        expect(rows.map((r) => [r.site, r.sku, r.onHand]).sort()).toEqual([
          ['site-A', 'B', 5],
          ['site-B', 'A', 6],
        ]);
        expect(await store.totals({ pairs: [] })).toEqual([]);
      });

      it('follow later commits (the board reads them after `changed`)', async () => {
        const r = await commit(mv({ sku: 'A', kind: 'issue', qty: 2.5 }));
        expect(r.changed).toEqual([{ site: 'site-A', sku: 'A' }]);
        expect((await store.totals({ pairs: r.changed }))[0]).toMatchObject({ site: 'site-A', sku: 'A', onHand: 7.5 });
      });
    });

    describe('restart', () => {
      it('keeps the ledger, balances and dead letters over close and reopen, and still deduplicates', async () => {
        const m = mv({ qty: 5 });
        const c = mv({ kind: 'count', qty: 3, location: 'BIN-2' });
        await store.commit([{ movements: [m, c], deadLetters: [dead({ message: 'kept' })] }]);
        const stock = await store.stock({});
        const movements = await store.movements({ limit: 10 });
        const deadLetters = await store.deadLetters({ limit: 10 });
        const totals = await store.totals({});

        await store.close();
        store = await h.open();
        expect(await store.stock({})).toEqual(stock);
        expect(await store.movements({ limit: 10 })).toEqual(movements);
        expect(await store.deadLetters({ limit: 10 })).toEqual(deadLetters);
        expect(await store.totals({})).toEqual(totals);

        // Migrations ran once: a second reopen is harmless too.
        await store.close();
        store = await h.open();
        const again = await store.commit([{ movements: [m, mv({ qty: 1 })], deadLetters: [dead({ message: 'new' })] }]);
        expect(again.batches[0]).toMatchObject({ applied: 1, duplicates: 1 });
        expect(again.batches[0]!.deadLetterIds[0]).toBeGreaterThan(deadLetters[0]!.id);
        expect(await balances()).toEqual({ [k('DOCK-1')]: 6, [k('BIN-2')]: 3 });
        const [newest] = await store.movements({ limit: 1 });
        expect(newest!.pos).toBeGreaterThan(movements[0]!.pos);
      });
    });
  });
}
