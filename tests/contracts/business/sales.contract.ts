import { sql } from 'kysely';
import pg from 'pg';
import { afterEach, expect, it } from 'vitest';
import { toMilli } from '../../../protocols/ledger/quantity.js';
import { availability, reservationsOf, reserve, salesConsumer, SalesService } from '../../../cloud/sales/index.js';
import type { Movement } from '../../../protocols/mqtt/index.js';
import type { LedgerEntry } from '../../../cloud/ledger-follower/index.js';
import { movement } from '../../helpers/movements.js';
import { type BusinessDb, type BusinessHarness, PG_URL } from './harness.js';

/**
 * Sales and reservations on both backends (issue 11 §1): the scan-out race (physical reality
 * wins: on hand 7, the newest reservations at risk, an exception each), shipments against an
 * order through the ledger consumer, cancel, the 3 s lock wait as 503, and the invariants
 * (reserved = Σ active reservations, on hand = Σ balances) after every test.
 */
const SITE = 'depot-s';
let seq = 0;

export default function salesContract(h: BusinessHarness): void {
  let b: BusinessDb | undefined;
  // close() checks the invariants (harness.ts) and throws when one breaks.
  afterEach(async () => {
    const open = b;
    b = undefined;
    await open?.close();
  });

  /** Commit movements through the real ingest path, then hand the new ledger rows to the sales consumer (as the follower does). */
  async function setup() {
    b = await h.open();
    const svc = new SalesService(b.db);
    const consumer = salesConsumer(svc);
    let cursor = 0;
    const commit = async (ms: Array<Partial<Movement>>) => {
      const movements = ms.map((m) => movement({ site: SITE, edge: 'e1', seq: ++seq, ...m }));
      await b!.store.commit([{ movements, deadLetters: [] }]);
    };
    const follow = async () => {
      const rows = await b!.db.kysely.selectFrom('ledger').selectAll().where('pos', '>', cursor).orderBy('pos').execute();
      if (!rows.length) return;
      cursor = Number(rows[rows.length - 1]!.pos);
      const entries: LedgerEntry[] = rows.map((r) => ({ pos: Number(r.pos), id: r.id, edge: r.edge, seq: Number(r.seq), ts: r.ts, site: r.site, location: r.location, kind: r.kind, sku: r.sku, qty: Number(r.qty), uom: r.uom, deviceId: r.device_id, status: r.status, appliedAt: r.applied_at, ...(r.base_qty === null ? {} : { baseQty: Number(r.base_qty) }), ...(r.sales_order ? { order: r.sales_order } : {}), ...(r.operator ? { operator: r.operator } : {}) }));
      await b!.db.tx((tx) => consumer.apply(tx, entries));
    };
    const order = (key: string, qty: number, allowPartial = false) =>
      svc.create('clerk', key, { site: SITE, customer: 'C', lines: [{ sku: 'CEM', qty, unitPrice: '1.00' }], allowPartial }, { site: SITE, customer: 'C', allowPartial, lines: [{ sku: 'CEM', qty: toMilli(qty), unitPrice: 100 }] });
    return { svc, commit, follow, order, db: b.db };
  }

  it('scan-out racing 50 orders: on hand 7, reserved never above it, the newest reservations at risk with an exception each', async () => {
    const { commit, follow, order, db } = await setup();
    await commit([{ kind: 'receive', sku: 'CEM', qty: 10 }]);
    await follow();
    const [answers] = await Promise.all([Promise.all(Array.from({ length: 50 }, (_, i) => order(`race-${i}`, 1))), commit([{ kind: 'issue', sku: 'CEM', qty: 3 }])]);
    expect(answers.filter((a) => a.statusCode === 201).length + answers.filter((a) => a.statusCode === 409).length).toBe(50);
    await follow();
    const a = await availability(db.kysely, SITE, 'CEM');
    expect(a.onHand).toBe(7000);
    expect(a.reserved).toBeLessThanOrEqual(7000);
    const reserved = answers.filter((x) => x.statusCode === 201).length;
    const atRisk = await db.kysely.selectFrom('stock_reservations').selectAll().where('status', '=', 'at-risk').orderBy('id').execute();
    expect(atRisk).toHaveLength(Math.max(0, reserved - 7));
    expect(a.reserved).toBe((reserved - atRisk.length) * 1000);
    const active = await db.kysely.selectFrom('stock_reservations').select('id').where('status', '=', 'active').orderBy('id').execute();
    // The newest went at risk: every at-risk reservation is newer than every active one.
    if (atRisk.length && active.length) expect(Number(atRisk[0]!.id)).toBeGreaterThan(Number(active[active.length - 1]!.id));
    const ex = await sql<{ n: number }>`SELECT COUNT(*) AS n FROM exceptions WHERE type = 'RESERVATION_AT_RISK'`.execute(db.kysely);
    expect(Number(ex.rows[0]!.n)).toBe(atRisk.length);
  });

  it('forced: 10 reserved, then an issue of 3 puts the 3 newest at risk (owner named)', async () => {
    const { commit, follow, order, db } = await setup();
    await commit([{ kind: 'receive', sku: 'CEM', qty: 10 }]);
    await follow();
    for (let i = 0; i < 10; i++) expect((await order(`f-${i}`, 1)).statusCode).toBe(201);
    await commit([{ kind: 'issue', sku: 'CEM', qty: 3 }]);
    await follow();
    expect(await availability(db.kysely, SITE, 'CEM')).toEqual({ onHand: 7000, reserved: 7000, available: 0 });
    const ex = await sql<{ message: string }>`SELECT message FROM exceptions WHERE type = 'RESERVATION_AT_RISK' ORDER BY id`.execute(db.kysely);
    expect(ex.rows).toHaveLength(3);
    expect(ex.rows[0]!.message).toMatch(/sales order SO-[0-9A-F]+ line 1: 1 of CEM .* owner clerk/);
  });

  it('an issue carrying the order consumes its reservation: picking, then shipped, with the timeline', async () => {
    const { svc, commit, follow, order, db } = await setup();
    await commit([{ kind: 'receive', sku: 'CEM', qty: 10 }]);
    await follow();
    const o = await order('ship-1', 4);
    const id = o.body.id as string;
    await commit([{ kind: 'issue', sku: 'CEM', qty: 1, order: id, operator: 'op-7' } as Partial<Movement>]);
    await follow();
    let v = (await svc.order(id))!;
    expect(v.status).toBe('picking');
    expect(v.lines[0]).toMatchObject({ shipped: 1, reserved: 4, reservation: 'active' });
    expect(await availability(db.kysely, SITE, 'CEM')).toEqual({ onHand: 9000, reserved: 3000, available: 6000 });
    await commit([{ kind: 'issue', sku: 'CEM', qty: 3, order: id, operator: 'op-7' } as Partial<Movement>]);
    await follow();
    v = (await svc.order(id))!;
    expect(v.status).toBe('shipped');
    expect(v.lines[0]).toMatchObject({ shipped: 4, reservation: 'consumed' });
    expect(v.timeline.map((t) => [t.state, t.by])).toEqual([['reserved', 'clerk'], ['picking', 'op-7'], ['shipped', 'op-7']]);
    expect(await availability(db.kysely, SITE, 'CEM')).toEqual({ onHand: 6000, reserved: 0, available: 6000 });
    // The shipped order is queued for the ERP in the same transaction (cloud/erp).
    const q = await db.kysely.selectFrom('erp_outbox').selectAll().where('kind', '=', 'sales-shipment').execute();
    expect(q.map((r) => [r.event_id, JSON.parse(r.body).lines])).toEqual([[`sales-shipment:${id}`, [{ sku: 'CEM', qty: 4, unitPrice: '1.00' }]]]);
    expect((await svc.act(id, 'close', 'clerk')).status).toBe('closed');
    expect((await reservationsOf(db.kysely, 'sales-order', id)).map((r) => r.status)).toEqual(['consumed']);
  });

  it('a requisition reserves for a project stage inside the caller transaction; all or nothing', async () => {
    const { commit, follow, db } = await setup();
    await commit([{ kind: 'receive', sku: 'CEM', qty: 5 }, { kind: 'receive', sku: 'RB', qty: 2 }]);
    await follow();
    const out = await db.tx((tx) => reserve(tx, { ownerKind: 'requisition', ownerId: 'R-1', site: SITE, partial: false, lines: [{ line: 1, sku: 'CEM', qty: 4000, project: 'A', stage: '1' }, { line: 2, sku: 'RB', qty: 3000, project: 'A', stage: '1' }] }));
    expect(out.ok).toBe(false);
    expect(out.short).toEqual([{ line: 2, sku: 'RB', requested: 3000, available: 2000 }]);
    expect((await availability(db.kysely, SITE, 'CEM')).reserved).toBe(0);
    const ok = await db.tx((tx) => reserve(tx, { ownerKind: 'requisition', ownerId: 'R-1', site: SITE, partial: false, lines: [{ line: 1, sku: 'CEM', qty: 4000, project: 'A', stage: '1' }, { line: 2, sku: 'RB', qty: 2000, project: 'A', stage: '1' }] }));
    expect(ok.ok).toBe(true);
    expect((await reservationsOf(db.kysely, 'requisition', 'R-1')).map((r) => [r.sku, r.qty, r.project, r.stage, r.status])).toEqual([['CEM', 4000, 'A', '1', 'active'], ['RB', 2000, 'A', '1', 'active']]);
    expect(await availability(db.kysely, SITE, 'CEM')).toEqual({ onHand: 5000, reserved: 4000, available: 1000 });
  });

  if (h.name === 'postgres') {
    it('a reservation that waits more than 3 s for a stock row answers SG_ERR_LOCK_TIMEOUT and changes nothing', async () => {
      const { commit, follow, order, db } = await setup();
      await commit([{ kind: 'receive', sku: 'CEM', qty: 10 }]);
      await follow();
      expect((await order('lt-0', 1)).statusCode).toBe(201);
      const schema = (await sql<{ s: string }>`SELECT current_schema() AS s`.execute(db.kysely)).rows[0]!.s;
      const holder = new pg.Client({ connectionString: PG_URL });
      await holder.connect();
      try {
        await holder.query(`SET search_path TO "${schema}"`);
        await holder.query('BEGIN');
        await holder.query(`UPDATE stock_reservation_totals SET reserved = reserved WHERE site = $1 AND sku = 'CEM'`, [SITE]);
        await expect(order('lt-1', 1)).rejects.toMatchObject({ code: 'SG_ERR_LOCK_TIMEOUT', statusCode: 503 });
        await holder.query('ROLLBACK');
      } finally {
        await holder.end();
      }
      expect((await availability(db.kysely, SITE, 'CEM')).reserved).toBe(1000);
      // Not stored under the key: the retry goes through.
      expect((await order('lt-1', 1)).statusCode).toBe(201);
    });
  }
}
