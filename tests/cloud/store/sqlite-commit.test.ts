/**
 * The SQLite group commit gathers its writes (ledger rows many per statement, one balance write
 * per key and commit, duplicates found by the failing insert, issue 14 §1). Held here to the
 * ledger rules played one movement at a time: a model that runs `plan` on in-memory state and
 * applies each op at once, as the per-row store did (an upsert per op, its RETURNING for
 * NEGATIVE_STOCK). Random commits of receives, issues, transfers, counts (late, per batch and
 * per location), adjusts below zero, unit conversions and mismatches, serialised identities,
 * expiries, and movements sent again (in an earlier commit, the same commit or the same batch).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { effectAt, type ItemMaster, type Key, type LedgerReader, negative, plan } from '../../../cloud/ledger/rules.js';
import { SqliteStore } from '../../../cloud/store/sqlite.js';
import type { CommitBatch, CommitBatchResult } from '../../../cloud/store/store.js';
import type { Movement } from '../../../protocols/mqtt/index.js';

const ITEMS: Array<Omit<ItemMaster, 'updatedAt'>> = [
  { sku: 'E', name: 'E', uom: 'ea', gtins: [], conversions: [{ uom: 'box', factor: 12 }], unitWeightKg: null, tracking: 'none', shelfLifeDays: null, standardCost: null, epcs: [] },
  { sku: 'K', name: 'K', uom: 'kg', gtins: [], conversions: [], unitWeightKg: null, tracking: 'batch', shelfLifeDays: null, standardCost: null, epcs: [] },
];

const keyStr = (k: Key) => [k.site, k.location, k.sku, k.batch, k.project].join('\u0000');

/** The rules applied one movement and one op at a time. */
class Model {
  readonly items = new Map(ITEMS.map((i) => [i.sku, { ...i, updatedAt: '' }]));
  readonly unknown = new Map<string, string>();
  readonly identities = new Map<string, { site: string; identity: string; sku: string; inStock: number; location: string; movementId: string }>();
  readonly balances = new Map<string, { key: Key; onHand: number; uom: string; expiry: string | null }>();
  readonly ledger: Array<{ id: string; site: string; sku: string; project: string; batch: string; location: string; toLocation: string | null; kind: string; status: string; baseQty: number | null; variance: number | null; tsMs: number }> = [];
  readonly exceptions: unknown[][] = [];
  readonly ids = new Set<string>();
  /** Ids of the batch being played; how often a count met a later row of its own batch (not written yet, in the store). */
  private batchIds = new Set<string>();
  laterInBatch = 0;
  readonly reader: LedgerReader = {
    item: (sku) => this.items.get(sku),
    itemByGtin: () => undefined,
    itemByEpc: () => undefined,
    provisionalUom: (sku) => this.unknown.get(sku),
    identity: (site, identity) => {
      const r = this.identities.get(`${site}\u0000${identity}`);
      return r ? { inStock: r.inStock === 1, location: r.location } : undefined;
    },
    balance: (k) => this.balances.get(keyStr(k))?.onHand,
    locationBatches: (site, location, sku, project) =>
      [...this.balances.values()]
        .filter((b) => b.key.site === site && b.key.location === location && b.key.sku === sku && b.key.project === project)
        .map((b) => ({ batch: b.key.batch, onHand: b.onHand }))
        .sort((a, b) => (a.batch < b.batch ? -1 : a.batch > b.batch ? 1 : 0)),
    laterEffect: (q, ts) => {
      let effect = 0;
      let rows = 0;
      for (const r of this.ledger) {
        if (r.status !== 'applied' || r.tsMs <= ts || r.site !== q.site || r.sku !== q.sku || r.project !== q.project) continue;
        if (q.batch !== undefined && r.batch !== q.batch) continue;
        if (r.location !== q.location && r.toLocation !== q.location) continue;
        effect += effectAt({ ...r, baseQty: r.baseQty! }, q.location);
        rows++;
        if (this.batchIds.has(r.id)) this.laterInBatch++;
      }
      return { effect, rows };
    },
  };

  commit(batches: readonly CommitBatch[]): Array<Omit<CommitBatchResult, 'deadLetterIds' | 'missing'>> {
    return batches.map((b) => {
      const r = { applied: 0, duplicates: 0, exceptions: 0, outcomes: [] as CommitBatchResult['outcomes'] };
      this.batchIds = new Set(b.movements.map((m) => m.id));
      for (const m of b.movements) {
        if (this.ids.has(m.id)) {
          r.duplicates++;
          r.outcomes.push('duplicate');
          continue;
        }
        this.ids.add(m.id);
        const p = plan(m, this.reader);
        this.ledger.push({ id: m.id, site: m.site, sku: p.sku, project: p.key.project, batch: p.key.batch, location: m.location, toLocation: m.toLocation ?? null, kind: m.kind, status: p.status, baseQty: p.baseQty, variance: p.variance, tsMs: p.tsMs });
        if (p.newUnknown) this.unknown.set(p.newUnknown.sku, p.newUnknown.uom);
        if (p.identity) {
          this.identities.set(`${m.site}\u0000${p.identity.identity}`, { site: m.site, identity: p.identity.identity, sku: p.sku, inStock: p.identity.inStock ? 1 : 0, location: p.identity.location, movementId: m.id });
        }
        const raised = p.raised.slice();
        for (const op of p.ops) {
          // The upsert: a new row takes the op's unit and expiry, an existing one adds and keeps the last expiry given.
          const ks = keyStr(op.key);
          const bal = this.balances.get(ks);
          if (!bal) this.balances.set(ks, { key: op.key, onHand: op.delta, uom: op.uom, expiry: op.expiry });
          else {
            bal.onHand += op.delta;
            if (op.expiry !== null) bal.expiry = op.expiry;
          }
          const neg = negative(m, op, this.balances.get(ks)!.onHand);
          if (neg) raised.push(neg);
        }
        for (const e of raised) this.exceptions.push([e.type, m.id, e.key.site, e.key.sku, e.key.location, e.key.batch, e.key.project, e.identity ?? null, e.onHand ?? null, e.message]);
        r.exceptions += raised.length;
        if (p.status === 'exception') r.outcomes.push('exception');
        else (r.applied++, r.outcomes.push('applied'));
      }
      return r;
    });
  }
}

const T0 = Date.UTC(2026, 11, 6, 8, 0, 0);
const movementArb = fc.record({
  // Few keys, so movements of one batch meet the same balances (and counts their later rows).
  site: fc.constantFrom('S1', 'S1', 'S1', 'S2'),
  location: fc.constantFrom('A', 'A', 'A', 'B'),
  toLocation: fc.constantFrom('A', 'B', 'C'),
  kind: fc.constantFrom('receive', 'receive', 'issue', 'issue', 'transfer', 'count', 'count', 'adjust', 'return'),
  sku: fc.constantFrom('E', 'K', 'P', 'Q'),
  uom: fc.constantFrom('ea', 'ea', 'box', 'kg'),
  qtyMilli: fc.integer({ min: 1, max: 9000 }),
  negative: fc.boolean(),
  batch: fc.constantFrom(undefined, undefined, 'B1', 'B2'),
  project: fc.constantFrom(undefined, undefined, 'PR'),
  serial: fc.constantFrom(undefined, undefined, undefined, 'X1', 'X2'),
  expiry: fc.constantFrom(undefined, undefined, '2027-01-01', '2027-02-01'),
  minutes: fc.integer({ min: 0, max: 120 }),
  // A movement sent again: an earlier one, by how far back.
  again: fc.option(fc.nat({ max: 40 }), { freq: 6 }),
});

type Generated = typeof movementArb extends fc.Arbitrary<infer T> ? T : never;

let nextId = 0;
function toMovement(g: Generated, seen: Movement[]): Movement {
  if (g.again !== null && seen.length > 0) return seen[Math.max(0, seen.length - 1 - g.again)]!;
  const kind = g.kind as Movement['kind'];
  const qty = (kind === 'adjust' && g.negative ? -g.qtyMilli : g.qtyMilli) / 1000;
  const m: Movement = {
    v: 1,
    id: `M${String(++nextId).padStart(10, '0')}`,
    edge: 'edge-1',
    seq: 0,
    ts: new Date(T0 + g.minutes * 60_000).toISOString(),
    site: g.site,
    location: g.location,
    kind,
    sku: g.sku,
    qty,
    uom: g.uom,
    device: { id: 'd1', type: 'scanner' },
    raw: g.sku,
  };
  if (kind === 'transfer') m.toLocation = g.toLocation === g.location ? 'C' : g.toLocation;
  if (g.batch !== undefined) m.batch = g.batch;
  if (g.project !== undefined) m.project = g.project;
  if (g.serial !== undefined) m.serial = g.serial;
  if (g.expiry !== undefined) m.expiry = g.expiry;
  seen.push(m);
  return m;
}

/** Commits of 1-3 batches of movements; some batches long enough for several chunks of ledger rows. */
const commitsArb = fc.array(
  fc.array(fc.oneof({ arbitrary: fc.array(movementArb, { minLength: 1, maxLength: 8 }), weight: 5 }, { arbitrary: fc.array(movementArb, { minLength: 30, maxLength: 140 }), weight: 1 }), {
    minLength: 1,
    maxLength: 3,
  }),
  { minLength: 1, maxLength: 6 },
);

describe('SqliteStore group commit = the rules played one movement at a time', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('same outcomes, ledger rows, balances, exceptions, identities and unknown units; chains verify; pos runs on', async () => {
    /** What the runs covered (asserted below, so a generator that stops producing a case is seen). */
    const met = new Map<string, number>();
    const tally = (what: string) => met.set(what, (met.get(what) ?? 0) + 1);
    await fc.assert(
      fc.asyncProperty(commitsArb, async (commits) => {
        if (dir) rmSync(dir, { recursive: true, force: true });
        dir = mkdtempSync(join(tmpdir(), 'stockgate-commit-'));
        const path = join(dir, 'ledger.db');
        const store = new SqliteStore(path);
        const model = new Model();
        const seen: Movement[] = [];
        try {
          await store.putItems(ITEMS);
          for (const c of commits) {
            const batches: CommitBatch[] = c.map((b) => ({ movements: b.map((g) => toMovement(g, seen)), deadLetters: [] }));
            const got = await store.commit(batches);
            const want = model.commit(batches);
            const ids = batches.flatMap((b) => b.movements.map((m) => m.id));
            if (new Set(ids).size < ids.length) tally('sent twice in one commit');
            if (want.some((b) => b.duplicates > 0)) tally('commit with a duplicate');
            expect(got.batches.map(({ applied, duplicates, exceptions, outcomes }) => ({ applied, duplicates, exceptions, outcomes }))).toEqual(want);
          }
          const db = new Database(path, { readonly: true });
          try {
            const ledger = db.prepare('SELECT pos, id, site, sku, project, batch, status, base_qty, variance, chain_n FROM ledger ORDER BY pos').all() as Array<Record<string, unknown>>;
            expect(ledger.map((r) => [r.id, r.status, r.base_qty, r.variance])).toEqual(model.ledger.map((r) => [r.id, r.status, r.baseQty, r.variance]));
            expect(ledger.map((r) => r.pos)).toEqual(ledger.map((_, i) => i + 1));
            const balances = db.prepare('SELECT site, location, sku, batch, project, on_hand, uom, expiry FROM balances').all() as Array<Record<string, unknown>>;
            const byKey = (a: unknown[], b: unknown[]) => (a.join('|') < b.join('|') ? -1 : 1);
            expect(balances.map((b) => [b.site, b.location, b.sku, b.batch, b.project, b.on_hand, b.uom, b.expiry]).sort(byKey)).toEqual(
              [...model.balances.values()].map((b) => [b.key.site, b.key.location, b.key.sku, b.key.batch, b.key.project, b.onHand, b.uom, b.expiry]).sort(byKey),
            );
            const exceptions = db.prepare('SELECT type, movement_id, site, sku, location, batch, project, identity, on_hand, message FROM exceptions ORDER BY id').raw(true).all();
            expect(exceptions).toEqual(model.exceptions);
            for (const e of model.exceptions) tally(e[0] as string);
            if (model.ledger.some((r) => r.kind === 'count' && r.status === 'applied')) tally('count applied');
            if (model.laterInBatch > 0) tally('count after a later row of its batch');
            const identities = db.prepare('SELECT site, identity, sku, in_stock AS inStock, location, last_movement_id AS movementId FROM identities').all() as Array<Record<string, unknown>>;
            expect(identities.sort((a, b) => (`${a.site}${a.identity}` < `${b.site}${b.identity}` ? -1 : 1))).toEqual(
              [...model.identities.values()].sort((a, b) => (`${a.site}${a.identity}` < `${b.site}${b.identity}` ? -1 : 1)),
            );
            const unknown = db.prepare('SELECT sku, uom FROM unknown_items ORDER BY sku').raw(true).all();
            expect(unknown).toEqual([...model.unknown.entries()].sort());
            for (const site of ['S1', 'S2']) {
              const rows = ledger.filter((r) => r.site === site);
              expect(rows.map((r) => r.chain_n)).toEqual(rows.map((_, i) => i + 1));
              expect(await store.verifyChain(site)).toEqual({ ok: true, checked: rows.length, brokenAt: null });
            }
          } finally {
            db.close();
          }
        } finally {
          await store.close();
        }
      }),
      { numRuns: 150 },
    );
    for (const what of ['NEGATIVE_STOCK', 'LATE_COUNT', 'DUPLICATE_IDENTITY', 'IDENTITY_NOT_IN_STOCK', 'UOM_MISMATCH', 'COUNT_WITHOUT_BATCH', 'UNKNOWN_ITEM', 'count applied', 'count after a later row of its batch', 'sent twice in one commit', 'commit with a duplicate']) {
      if (process.env.SHOW_MET) console.log(what, met.get(what));
      expect(met.get(what) ?? 0, what).toBeGreaterThan(0);
    }
  });
});
