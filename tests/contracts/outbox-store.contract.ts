/**
 * The abstract contract of the edge outbox (after MQTT.js's abstract store tests): every
 * `OutboxStore` implementation runs all of it, so the reliability protocol's step 2 (commit before
 * publish, gapless seqs that survive restarts, free only on the application-level ack) holds for
 * each backend. An implementation's test file supplies only the factory.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { MovementDraft, OutboxStore } from '../../edge/outbox/outbox-store.js';
import { Movement, type MovementKind } from '../../protocols/mqtt/index.js';

export interface OutboxIdentity {
  site: string;
  edge: string;
}

/** One test's backing storage; `open` may be called again after `close` to simulate a restart. */
export interface OutboxHarness {
  /** Open (or reopen) this test's outbox as the given edge (default site-A / edge-1). */
  open(identity?: OutboxIdentity): OutboxStore;
  /** Close whatever is still open and remove the storage. */
  destroy(): void | Promise<void>;
}

export const DEFAULT_IDENTITY: OutboxIdentity = { site: 'site-A', edge: 'edge-1' };

const ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/;

/** A valid draft (what the scan session produces); `n` varies the sku. */
export function draft(n = 1, over: Partial<MovementDraft> = {}): MovementDraft {
  return {
    ts: '2026-11-22T02:19:00.000Z',
    location: 'DOCK-1',
    kind: 'receive',
    sku: `SKU-${n}`,
    qty: n,
    uom: 'ea',
    device: { id: 'dock1', type: 'scanner' },
    raw: `SKU-${n}`,
    ...over,
  };
}

const drafts = (count: number, from = 1) => Array.from({ length: count }, (_, i) => draft(from + i));
const seqsOf = (store: OutboxStore) => store.read(0, 1_000_000).map((e) => e.seq);
const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function outboxStoreContract(name: string, factory: () => OutboxHarness | Promise<OutboxHarness>): void {
  describe(`OutboxStore contract: ${name}`, () => {
    let h: OutboxHarness;
    let store: OutboxStore;

    beforeEach(async () => {
      h = await factory();
      store = h.open();
    });
    afterEach(async () => {
      await h.destroy();
    });

    /** Close the current store and open the same storage again. */
    const restart = (identity?: OutboxIdentity) => {
      store.close();
      store = h.open(identity);
      return store;
    };

    describe('empty', () => {
      it('has no entries, no backlog and lastSeq 0', () => {
        expect(store.lastSeq()).toBe(0);
        expect(store.read(0, 100)).toEqual([]);
        expect(store.backlog()).toEqual({ count: 0, bytes: 0 });
        expect(store.hasAny(1, Number.MAX_SAFE_INTEGER)).toBe(false);
        expect(store.rejected(10)).toEqual([]);
        expect(store.ack([[1, 10]])).toBe(0);
        expect(store.reject([[1, 10]], 'INVALID_SCHEMA', 'x')).toBe(0);
      });

      it('append([]) stores nothing and assigns no seq', () => {
        expect(store.append([])).toEqual([]);
        expect(store.lastSeq()).toBe(0);
        expect(store.append([draft()])[0]!.seq).toBe(1);
      });
    });

    describe('append', () => {
      it('assigns v, a ULID id, the edge identity and seq 1 to the first draft, keeping the draft fields', () => {
        const d = draft(7, { project: 'PRJ-1', operator: 'badge-3', batch: 'LOT9', expiry: '2027-01-31' });
        const [m] = store.append([d]);
        expect(m).toEqual({ v: 1, id: expect.stringMatching(ULID), edge: 'edge-1', seq: 1, site: 'site-A', ...d });
        expect(store.lastSeq()).toBe(1);
      });

      it('assigns gapless seqs from 1 across calls and unique ids', () => {
        const out = [...store.append(drafts(3)), ...store.append(drafts(1, 4)), ...store.append(drafts(5, 5))];
        expect(out.map((m) => m.seq)).toEqual(range(1, 9));
        expect(new Set(out.map((m) => m.id)).size).toBe(9);
        for (const m of out) expect(m.id).toMatch(ULID);
        expect(store.lastSeq()).toBe(9);
        expect(seqsOf(store)).toEqual(range(1, 9));
      });

      it('appends many drafts in one call, in order', () => {
        const out = store.append(drafts(1000));
        expect(out).toHaveLength(1000);
        expect(out.map((m) => m.seq)).toEqual(range(1, 1000));
        expect(out.map((m) => m.sku)).toEqual(range(1, 1000).map((n) => `SKU-${n}`));
        expect(new Set(out.map((m) => m.id)).size).toBe(1000);
        expect(store.backlog().count).toBe(1000);
        expect(store.lastSeq()).toBe(1000);
      });

      it('stores JSON that parses into a Movement passing the wire schema, equal to the returned movement', () => {
        const kinds: Array<[MovementKind, Partial<MovementDraft>]> = [
          ['receive', { gtin: '09506000134352', batch: 'LOT42', expiry: '2027-03-31' }],
          ['issue', { project: 'PRJ-7', stage: 'foundation', operator: 'badge-1', crew: 'crew-b' }],
          ['return', { serial: 'SN-1' }],
          ['transfer', { toLocation: 'BIN-7' }],
          ['adjust', { qty: -2.5, uom: 'kg' }],
          ['count', { qty: 0 }],
          ['receive', { sku: undefined, epc: '3074257BF7194E4000001A85' }],
        ];
        const out = store.append(kinds.map(([kind, over], i) => {
          const d = draft(i + 1, { kind, ...over });
          if (d.sku === undefined) delete d.sku;
          return d;
        }));
        const entries = store.read(0, 100);
        expect(entries).toHaveLength(kinds.length);
        entries.forEach((e, i) => {
          const parsed = Movement.safeParse(JSON.parse(e.json));
          expect(parsed.success, parsed.success ? '' : parsed.error.message).toBe(true);
          expect(parsed.data).toEqual(out[i]);
          expect(JSON.parse(e.json)).toEqual(out[i]);
          expect(e.id).toBe(out[i]!.id);
          expect(e.seq).toBe(out[i]!.seq);
        });
      });
    });

    describe('read', () => {
      it('returns entries after afterSeq, ascending, at most limit', () => {
        const out = store.append(drafts(25));
        expect(store.read(0, 5).map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
        expect(store.read(20, 100).map((e) => e.seq)).toEqual([21, 22, 23, 24, 25]);
        expect(store.read(25, 100)).toEqual([]);
        expect(store.read(3, 1)).toEqual([{ seq: 4, id: out[3]!.id, json: JSON.stringify(out[3]) }]);
      });

      it('pages through every entry exactly once', () => {
        store.append(drafts(25));
        const seen: number[] = [];
        let after = 0;
        let pages = 0;
        for (;;) {
          const page = store.read(after, 10);
          if (page.length === 0) break;
          pages++;
          seen.push(...page.map((e) => e.seq));
          after = page[page.length - 1]!.seq;
        }
        expect(pages).toBe(3);
        expect(seen).toEqual(range(1, 25));
      });

      it('skips acked and rejected entries', () => {
        store.append(drafts(6));
        store.ack([[2, 3]]);
        store.reject([[5, 5]], 'INVALID_SCHEMA', 'bad');
        expect(store.read(0, 10).map((e) => e.seq)).toEqual([1, 4, 6]);
        expect(store.read(1, 1).map((e) => e.seq)).toEqual([4]);
      });
    });

    describe('ack', () => {
      it('deletes exactly the seqs in the ranges and returns how many', () => {
        store.append(drafts(10));
        expect(store.ack([[2, 3], [5, 5], [8, 20]])).toBe(6);
        expect(seqsOf(store)).toEqual([1, 4, 6, 7]);
        expect(store.backlog().count).toBe(4);
      });

      it('is idempotent: acking again removes nothing', () => {
        store.append(drafts(4));
        expect(store.ack([[1, 2]])).toBe(2);
        expect(store.ack([[1, 2]])).toBe(0);
        expect(store.ack([])).toBe(0);
        expect(seqsOf(store)).toEqual([3, 4]);
      });

      it('does not change lastSeq', () => {
        store.append(drafts(4));
        store.ack([[1, 4]]);
        expect(store.lastSeq()).toBe(4);
        expect(store.backlog()).toEqual({ count: 0, bytes: 0 });
      });
    });

    describe('reject', () => {
      it('moves the seqs to rejected() with reason and message, out of the outbox', () => {
        const out = store.append(drafts(5));
        const before = Date.now();
        expect(store.reject([[2, 3]], 'INVALID_SCHEMA', 'qty: must be > 0 for kind receive')).toBe(2);
        const after = Date.now();
        expect(seqsOf(store)).toEqual([1, 4, 5]);
        const rej = store.rejected(10);
        expect(rej.map((r) => r.seq).sort()).toEqual([2, 3]);
        for (const r of rej) {
          const m = out[r.seq - 1]!;
          expect(r).toEqual({
            seq: m.seq,
            id: m.id,
            json: JSON.stringify(m),
            reason: 'INVALID_SCHEMA',
            message: 'qty: must be > 0 for kind receive',
            rejectedAt: expect.any(Number),
          });
          expect(r.rejectedAt).toBeGreaterThanOrEqual(before);
          expect(r.rejectedAt).toBeLessThanOrEqual(after);
        }
      });

      it('lists rejected entries newest first, at most limit', async () => {
        store.append(drafts(6));
        store.reject([[4, 4]], 'TOO_LARGE', 'first');
        await sleep(5);
        store.reject([[1, 1]], 'INVALID_SCHEMA', 'second');
        await sleep(5);
        store.reject([[6, 6]], 'TOPIC_MISMATCH', 'third');
        expect(store.rejected(10).map((r) => [r.seq, r.message])).toEqual([
          [6, 'third'],
          [1, 'second'],
          [4, 'first'],
        ]);
        expect(store.rejected(2).map((r) => r.seq)).toEqual([6, 1]);
      });

      it('ignores seqs that are no longer in the outbox', () => {
        store.append(drafts(3));
        store.ack([[1, 1]]);
        expect(store.reject([[1, 1]], 'INVALID_SCHEMA', 'late')).toBe(0);
        expect(store.reject([], 'INVALID_SCHEMA', 'none')).toBe(0);
        expect(store.rejected(10)).toEqual([]);
        expect(seqsOf(store)).toEqual([2, 3]);
      });

      it('keeps lastSeq and the next seq', () => {
        store.append(drafts(3));
        store.reject([[1, 3]], 'INVALID_SCHEMA', 'all');
        expect(store.lastSeq()).toBe(3);
        expect(store.append([draft()])[0]!.seq).toBe(4);
      });
    });

    describe('hasAny', () => {
      it('is true when any seq in [from, to] is unacked', () => {
        store.append(drafts(10));
        store.ack([[3, 7]]);
        expect(store.hasAny(1, 10)).toBe(true);
        expect(store.hasAny(3, 7)).toBe(false);
        expect(store.hasAny(2, 3)).toBe(true);
        expect(store.hasAny(7, 8)).toBe(true);
        expect(store.hasAny(5, 5)).toBe(false);
        expect(store.hasAny(8, 8)).toBe(true);
        expect(store.hasAny(11, 100)).toBe(false);
        store.reject([[8, 10]], 'INVALID_SCHEMA', 'x');
        expect(store.hasAny(8, 10)).toBe(false);
      });
    });

    describe('backlog', () => {
      it('counts unacked entries and the bytes of their JSON', () => {
        const out = store.append(drafts(12));
        const bytes = (ms: Movement[]) => ms.reduce((n, m) => n + Buffer.byteLength(JSON.stringify(m)), 0);
        expect(store.backlog()).toMatchObject({ count: 12, bytes: bytes(out), oldestSeq: 1 });
        store.ack([[1, 4]]);
        expect(store.backlog()).toMatchObject({ count: 8, bytes: bytes(out.slice(4)), oldestSeq: 5 });
      });

      it('reports the oldest unacked seq and its append time', async () => {
        const t0 = Date.now();
        store.append(drafts(3));
        const t1 = Date.now();
        await sleep(20);
        const t2 = Date.now();
        store.append(drafts(2, 4));
        const t3 = Date.now();

        const b1 = store.backlog();
        expect(b1.oldestSeq).toBe(1);
        expect(b1.oldestAt).toBeGreaterThanOrEqual(t0);
        expect(b1.oldestAt).toBeLessThanOrEqual(t1);

        store.ack([[1, 3]]);
        const b2 = store.backlog();
        expect(b2.oldestSeq).toBe(4);
        expect(b2.oldestAt).toBeGreaterThanOrEqual(t2);
        expect(b2.oldestAt).toBeLessThanOrEqual(t3);

        store.ack([[4, 5]]);
        expect(store.backlog()).toEqual({ count: 0, bytes: 0 });
      });
    });

    describe('restarts', () => {
      it('keeps entries and continues seqs after close and reopen', () => {
        const out = store.append(drafts(3));
        restart();
        expect(store.lastSeq()).toBe(3);
        expect(store.read(0, 10)).toEqual(out.map((m) => ({ seq: m.seq, id: m.id, json: JSON.stringify(m) })));
        const next = store.append(drafts(2, 4));
        expect(next.map((m) => m.seq)).toEqual([4, 5]);
        expect(new Set([...out, ...next].map((m) => m.id)).size).toBe(5);
      });

      it('never restarts the counter after everything was acked (not MAX(seq))', () => {
        store.append(drafts(5));
        expect(store.ack([[1, 5]])).toBe(5);
        expect(store.append([draft()])[0]!.seq).toBe(6);
        store.ack([[6, 6]]);
        restart();
        expect(store.backlog().count).toBe(0);
        expect(store.lastSeq()).toBe(6);
        expect(store.append([draft()])[0]!.seq).toBe(7);
      });

      it('never restarts the counter after everything was rejected', () => {
        store.append(drafts(4));
        store.reject([[1, 4]], 'INVALID_SCHEMA', 'x');
        restart();
        expect(store.lastSeq()).toBe(4);
        expect(store.append([draft()])[0]!.seq).toBe(5);
        expect(store.rejected(10)).toHaveLength(4);
      });

      it('keeps seqs gapless over several restarts', () => {
        const all: number[] = [];
        for (let i = 0; i < 4; i++) {
          all.push(...store.append(drafts(3)).map((m) => m.seq));
          if (i % 2) store.ack([[all[0]!, all[all.length - 1]!]]);
          restart();
        }
        expect(all).toEqual(range(1, 12));
        expect(store.lastSeq()).toBe(12);
      });
    });

    describe('owner', () => {
      it.each([
        ['another edge', { site: 'site-A', edge: 'edge-2' }],
        ['another site', { site: 'site-B', edge: 'edge-1' }],
      ])('refuses to open as %s with SG_ERR_OUTBOX_OWNER, and stays usable by its owner', (_label, other) => {
        const out = store.append(drafts(2));
        store.close();
        let err: unknown;
        try {
          h.open(other).close();
        } catch (e) {
          err = e;
        }
        expect(err).toBeInstanceOf(Error);
        expect((err as { code?: string }).code).toBe('SG_ERR_OUTBOX_OWNER');
        expect((err as Error).message).toContain('site-A/edge-1');
        store = h.open(DEFAULT_IDENTITY);
        expect(store.read(0, 10).map((e) => e.id)).toEqual(out.map((m) => m.id));
        expect(store.append([draft()])[0]).toMatchObject({ seq: 3, site: 'site-A', edge: 'edge-1' });
      });

      it('claims ownership even before the first append', () => {
        store.close();
        expect(() => h.open({ site: 'site-A', edge: 'edge-9' })).toThrow(expect.objectContaining({ code: 'SG_ERR_OUTBOX_OWNER' }));
        store = h.open();
      });
    });

    it('close can be called twice', () => {
      store.close();
      expect(() => store.close()).not.toThrow();
    });
  });
}
