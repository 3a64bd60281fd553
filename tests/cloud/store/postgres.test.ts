import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { Movement } from '../../../protocols/mqtt/index.js';
import { SqliteStore } from '../../../cloud/store/sqlite.js';
import { postgresMigrations } from '../../../cloud/store/postgres-migrations.js';
import { PostgresStore } from '../../../cloud/store/postgres.js';
import type { Store } from '../../../cloud/store/store.js';
import { mv, storeContract, type StoreHarness } from '../../contracts/store.contract.js';
import { storeLedgerContract } from '../../contracts/store-ledger.contract.js';
import { storeTruthContract } from '../../contracts/store-truth.contract.js';
import { storeRefsContract } from '../../contracts/store-refs.contract.js';

/** The PostgreSQL on 127.0.0.1:5432 (trust auth), database `test`; each test gets its own schema. */
const URL = process.env.STOCKGATE_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';
const admin = new pg.Pool({ connectionString: URL, max: 2 });
afterAll(() => admin.end());

let n = 0;
/** A fresh schema (created by the store's first open); every store it opened is closed and the schema dropped on destroy. */
function pgHarness(): StoreHarness & { schema: string; sql(q: string): Promise<void> } {
  const schema = `sg_test_${process.pid}_${Date.now().toString(36)}_${n++}`;
  const opened: Store[] = [];
  return {
    schema,
    async sql(q: string) {
      const c = await admin.connect();
      try {
        await c.query(`SET search_path TO "${schema}"`);
        await c.query(q);
      } finally {
        await c.query('RESET search_path').catch(() => undefined);
        c.release();
      }
    },
    async open() {
      const s = await PostgresStore.open({ url: URL, schema, maxConnections: 4 });
      opened.push(s);
      return s;
    },
    async destroy() {
      for (const s of opened) await s.close();
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    },
  };
}

storeContract('PostgresStore (own schema)', pgHarness);
storeLedgerContract('PostgresStore (own schema)', pgHarness);
storeTruthContract('PostgresStore (own schema)', pgHarness);
storeRefsContract('PostgresStore (own schema)', pgHarness);

describe('PostgresStore specifics', () => {
  let h: ReturnType<typeof pgHarness> | undefined;
  afterEach(() => h?.destroy());

  it('records each migration once, also when several stores open the same schema at once', async () => {
    h = pgHarness();
    const stores = await Promise.all(Array.from({ length: 4 }, () => h!.open()));
    await stores[0]!.commit([{ movements: [mv()], deadLetters: [] }]);
    const { rows } = await admin.query(`SELECT version, name FROM "${h.schema}".db_migrations WHERE module = 'ledger' ORDER BY version`);
    expect(rows).toEqual(postgresMigrations.map((m) => ({ version: m.version, name: m.name })));
    expect((await admin.query(`SELECT count(*)::int AS n FROM "${h.schema}".ledger`)).rows[0].n).toBe(1);
  });

  it('rejects a URL that is not postgres:// and a schema that is not an identifier', async () => {
    await expect(PostgresStore.open({ url: 'mysql://x' })).rejects.toThrow(/postgres:\/\//);
    await expect(PostgresStore.open({ url: URL, schema: 'a"; DROP' })).rejects.toThrow(/identifier/);
  });

  it('applies concurrent commits of two stores exactly once, with atomic balances and no hwm regression', async () => {
    h = pgHarness();
    const [a, b] = [await h.open(), await h.open()];
    const site = 'site-C';
    // One edge's batches split over two "ingesters", with overlapping resends, plus a count.
    const ms = Array.from({ length: 2000 }, (_, i) => mv({ site, edge: 'e-1', seq: i + 1, sku: `S-${i % 7}`, qty: 0.1, location: `L-${i % 3}` }));
    const batches = Array.from({ length: 40 }, (_, k) => ms.slice(k * 50, k * 50 + 50));
    const issues = Array.from({ length: 200 }, (_, i) => mv({ site, edge: 'e-2', seq: i + 1, sku: `S-${i % 7}`, kind: 'issue', qty: 0.1, location: `L-${(i + 1) % 3}` }));
    const work = (s: Store, list: typeof batches) => Promise.all(list.map((bt) => s.commit([{ movements: bt, deadLetters: [] }])));
    await Promise.all([
      work(a, batches.filter((_, k) => k % 2 === 0)),
      work(b, batches.filter((_, k) => k % 2 === 1)),
      work(a, batches.slice(10, 20)), // resends
      work(b, [issues.slice(0, 100), issues.slice(100)]),
      work(a, [issues.slice(50, 150)]),
    ]);
    const { rows } = await admin.query(`SELECT count(*)::int AS n, count(DISTINCT id)::int AS d FROM "${h.schema}".ledger`);
    expect(rows[0]).toEqual({ n: 2200, d: 2200 });
    const total = (await a.totals({ site })).reduce((x, r) => x + r.onHand, 0);
    expect(Math.round(total * 1e6) / 1e6).toBe(180);
    // Every seq is in: after one more (contiguous) commit, hwm is the top.
    await a.commit([{ movements: [mv({ site, edge: 'e-1', seq: 2001, sku: 'S-0' })], deadLetters: [] }]);
    expect(await b.edgeSeq(site, 'e-1')).toMatchObject({ hwm: 2001, maxSeq: 2001 });
    expect(await b.edgeSeq(site, 'e-2')).toMatchObject({ maxSeq: 200 });
  });

  it('two stores committing one site interleaved (counts, serials, decreases, new SKUs, resends) end as a serial replay of the chain', async () => {
    // The hazard of locking the chain head last (PostgresStore class comment): a commit whose rules
    // read a balance, an identity or a provisional unit that another ingester is changing must
    // chain after it, or the chain (what an auditor replays) says something else than the
    // balances. Oracle: SqliteStore (one writer, another implementation) fed the ledger's rows in
    // chain order; every status, variance, exception, balance and identity must come out equal.
    h = pgHarness();
    const [a, b] = [await h.open(), await h.open()];
    const site = 'site-R';
    let seed = 20261206;
    const rnd = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) % n;
    const t0 = Date.parse('2026-12-06T08:00:00.000Z');
    const serials = ['s-0', 's-1', 's-2', 's-3'];
    let tick = 0;
    const one = (stream: number, seq: number, round: number): Movement => {
      // Stamped roughly in order, some a little back in time (late counts meet rows stamped after them).
      const ts = new Date(t0 + (tick++ - rnd(40)) * 1000).toISOString();
      const base = { site, edge: `r-${stream}`, seq, ts, location: `L-${rnd(2)}`, sku: `S-${rnd(2)}`, qty: 1 + rnd(4) };
      // Streams 2 and 5 also count and move serials (their commits lock the site exclusive); the
      // others only add and subtract (shared, concurrently with each other).
      switch (stream % 3 === 2 ? rnd(9) : 1 + rnd(8)) {
        case 0:
          return mv({ ...base, kind: 'count', qty: rnd(8), ...(rnd(2) ? { batch: `B-${rnd(2)}` } : {}) });
        case 1:
          return mv({ ...base, kind: 'transfer', toLocation: base.location === 'L-0' ? 'L-1' : 'L-0' });
        case 2:
        case 3:
          return mv({ ...base, kind: 'issue', ...(rnd(3) === 0 ? { batch: `B-${rnd(2)}` } : {}) });
        case 4:
          if (stream % 3 !== 2) return mv({ ...base, kind: 'issue' });
          return mv({ ...base, kind: rnd(3) ? 'receive' : 'issue', sku: 'SER', serial: serials[rnd(serials.length)]!, qty: 1 });
        case 5:
          // A SKU new to the site, first seen in one of two units (the second unit is a mismatch).
          return mv({ ...base, kind: 'receive', sku: `N-${round}`, uom: rnd(2) ? 'ea' : 'box' });
        default:
          return mv({ ...base, kind: 'receive', ...(rnd(2) ? { batch: `B-${rnd(2)}` } : {}) });
      }
    };
    // 6 streams (3 per store, 6 commits in flight), 20 commits each of 2 batches of 6; every 5th
    // commit of store a resends a batch store b is committing.
    const seqs = [0, 0, 0, 0, 0, 0];
    const plans: Array<Array<Movement[][]>> = seqs.map(() => []);
    for (let round = 0; round < 20; round++) {
      for (let st = 0; st < 6; st++) plans[st]!.push([0, 1].map(() => Array.from({ length: 6 }, () => one(st, ++seqs[st]!, round))));
    }
    for (let round = 0; round < 20; round += 5) plans[0]![round]!.push(plans[3]![round]![0]!);
    const sent = new Map(plans.flat(3).map((m) => [m.id, m]));
    await Promise.all(
      plans.map(async (list, st) => {
        for (const commit of list) await (st < 3 ? a : b).commit(commit.map((movements) => ({ movements, deadLetters: [] })));
      }),
    );

    // Exactly once, one linear chain.
    const order = (await admin.query<{ id: string }>(`SELECT id FROM "${h.schema}".ledger WHERE site = $1 ORDER BY chain_n`, [site])).rows.map((r) => r.id);
    expect(order.length).toBe(sent.size);
    expect(new Set(order).size).toBe(sent.size);
    expect(await a.verifyChain(site)).toMatchObject({ ok: true, checked: sent.size });

    const dir = mkdtempSync(join(tmpdir(), 'stockgate-replay-'));
    const replay = new SqliteStore(join(dir, 'ledger.db'));
    try {
      for (const id of order) await replay.commit([{ movements: [{ ...sent.get(id)!, edge: 'replay', seq: 0 }], deadLetters: [] }]);
      const rows = async (s: Store) =>
        new Map((await s.movements({ site, limit: 10_000 })).map((r) => [r.id, { status: r.status, variance: r.variance, baseQty: r.baseQty, baseUom: r.baseUom }]));
      const pgRows = await a.movements({ site, limit: 10_000 });
      expect(pgRows.length).toBe(sent.size);
      expect(await rows(a)).toEqual(await rows(replay));
      const exc = async (s: Store) =>
        (await s.exceptions({ site, state: 'all', limit: 10_000 })).map((e) => `${e.movementId} ${e.type} ${e.onHand ?? ''} ${e.message}`).sort();
      const got = await exc(a);
      // The control: the workload does meet every order-dependent rule.
      for (const t of ['NEGATIVE_STOCK', 'DUPLICATE_IDENTITY', 'IDENTITY_NOT_IN_STOCK', 'UNKNOWN_ITEM', 'UOM_MISMATCH', 'LATE_COUNT']) expect(got.some((e) => e.includes(` ${t} `))).toBe(true);
      expect(got).toEqual(await exc(replay));
      const stock = async (s: Store) => (await s.stock({ site })).map((r) => `${r.location} ${r.sku} ${r.batch} ${r.project} ${r.onHand} ${r.uom}`);
      expect(await stock(a)).toEqual(await stock(replay));
      for (const serial of serials) {
        const id = (s: Store) => s.identity(site, `SER+${serial}`).then((x) => x && { inStock: x.inStock, location: x.location });
        expect(await id(a)).toEqual(await id(replay));
      }
    } finally {
      await replay.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('stores what PostgreSQL text cannot hold (NUL, lone surrogates) instead of failing the commit', async () => {
    h = pgHarness();
    const s = await h.open();
    const m = mv({ raw: 'A\u0000B\ud800C', operator: 'op\u0000' });
    const r = await s.commit([{ movements: [m], deadLetters: [{ topic: 't', reason: 'INVALID_JSON', message: 'payload: not JSON', payload: '{\u0000' }] }]);
    expect(r.batches[0]).toMatchObject({ applied: 1 });
    expect(await s.movement(m.id)).toMatchObject({ raw: 'A\uFFFDB\uFFFDC', operator: 'op\uFFFD' });
    const [d] = await s.deadLetters({ limit: 1 });
    expect(Buffer.from(d!.payload.replace(/^base64:/, ''), 'base64').toString('utf8')).toBe('{\u0000');
  });

  it('with another ingester active, reports a seq hole only once it is 3 s old', async () => {
    h = pgHarness();
    const [a, b] = [await h.open(), await h.open()];
    const site = 'site-G';
    const at = (seq: number, edge = 'g-1') => ({ movements: [mv({ site, edge, seq, sku: 'G' })], deadLetters: [] });
    expect((await a.commit([at(1), at(2), at(3)])).batches.map((x) => x.missing)).toEqual([[], [], []]);
    // 4..6 are still on their way through ingester a: b does not ask for them yet.
    expect((await b.commit([at(7)])).batches[0]!.missing).toEqual([]);
    expect(await b.edgeSeq(site, 'g-1')).toMatchObject({ hwm: 3, maxSeq: 7 });
    await new Promise((r) => setTimeout(r, 2000));
    await a.commit([at(1, 'g-2')]); // a is still alive
    await new Promise((r) => setTimeout(r, 1200));
    // The hole is 3 s old now: lost (a crashed holding it, say); the edge is asked to resend.
    expect((await b.commit([at(8)])).batches[0]!.missing).toEqual([[4, 6]]);
    expect((await a.commit([at(4), at(5), at(6)])).batches.map((x) => x.missing)).toEqual([[], [], []]);
    expect(await a.edgeSeq(site, 'g-1')).toMatchObject({ hwm: 8, maxSeq: 8 });
  });
});
