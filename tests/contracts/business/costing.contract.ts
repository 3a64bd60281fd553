import pino from 'pino';
import { afterEach, expect, it } from 'vitest';
import { LedgerFollower } from '../../../cloud/ledger-follower/index.js';
import { mv } from '../store.contract.js';
import { type CostingPorts, CostingService, type CostMovement, defaultPorts } from '../../../cloud/costing/index.js';
import { outbox } from '../../../cloud/erp/index.js';
import * as costRepo from '../../../cloud/costing/repo.js';
import { formatMoney } from '../../../cloud/money.js';
import type { BusinessDb, BusinessHarness } from './harness.js';

/**
 * Costing on both backends (issue 10 §4 and its acceptance figures): moving average in ledger
 * order, landed cost before and after receipts, returns at the original issue cost, negative
 * stock, no-PO receipts at standard cost, exact money with the rule stated, month close.
 *
 * Rounding rule under test: exact decimals in fen everywhere; whole fen only when an entry is
 * posted, half up, carried per (project, category) so a project's total is its exact total
 * rounded once.
 */

/** Projects and purchase orders as the projects and procurement modules hand them to costing. */
class Ports implements CostingPorts {
  readonly matches = new Map<string, { po: string; line: number; qtyMilli: number; unitPriceFen: number }>();
  readonly pos = new Map<string, { id: string; site: string; lines: Array<{ line: number; sku: string; qtyMilli: number; unitPriceFen: number }> }>();
  readonly projects = new Map<string, { code: string; site: string; manager: string; contractRevenueFen: number; stages: string[] }>();
  readonly plans: Array<{ project: string; stage: string; sku: string; qtyMilli: number }> = [];
  async receiptMatches(_t: unknown, ids: readonly string[]) {
    return ids.flatMap((id) => {
      const m = this.matches.get(id);
      return m ? [{ movement: id, ...m }] : [];
    });
  }
  async purchaseOrder(_t: unknown, id: string) {
    return this.pos.get(id);
  }
  async project(_t: unknown, code: string) {
    return this.projects.get(code);
  }
  async plan(_t: unknown, code: string) {
    return this.plans.filter((p) => p.project === code);
  }
  standardCostFen = costRepo.standardCostFen;
  /** The real port: month-close reports into the ERP outbound queue (issue 11 §5). */
  periodClosed = defaultPorts().periodClosed;
}

const SITE = 'depot-1';
let seq = 0;
const mid = () => `MV${Date.now().toString(36)}${(seq++).toString().padStart(8, '0')}`;

export default function costingContract(h: BusinessHarness): void {
  let b: BusinessDb | undefined;
  let follower: LedgerFollower | undefined;
  afterEach(async () => {
    await follower?.stop();
    follower = undefined;
    await b?.close();
    b = undefined;
  });

  /** Rows in ledger order, applied in follower-sized batches. */
  async function setup() {
    b = await h.open();
    const ports = new Ports();
    const svc = new CostingService(b.db, ports, () => new Date('2026-12-06T08:00:00Z'));
    // The real path: movements committed to the ledger by the store, then the ledger follower
    // hands them to the costing consumer in ledger order, in its own transactions.
    follower = new LedgerFollower(b.db, pino({ level: 'silent' }), { pollMs: 0, minGapMs: 0, backoffMs: 10 });
    follower.register(svc.consumer);
    await follower.start();
    const apply = async (rows: Array<{ id?: string; ts?: string; kind: CostMovement['kind']; sku: string; baseQty: number; project?: string; stage?: string }>) => {
      const ms = rows.map((r) => mv({ id: r.id ?? mid(), site: SITE, ts: r.ts ?? '2026-12-05T09:00:00Z', kind: r.kind, sku: r.sku, qty: r.baseQty / 1000, uom: 'ea', ...(r.project ? { project: r.project } : {}), ...(r.stage ? { stage: r.stage } : {}) }));
      for (let i = 0; i < ms.length; i += 500) await b!.store.commit([{ movements: ms.slice(i, i + 500), deadLetters: [] }]);
      await follower!.caughtUp();
      return ms;
    };
    ports.projects.set('A', { code: 'A', site: SITE, manager: 'pm-a', contractRevenueFen: 2_000_000, stages: ['S1', 'S2'] });
    ports.projects.set('B', { code: 'B', site: SITE, manager: 'pm-b', contractRevenueFen: 100_000, stages: ['S1'] });
    return { svc, ports, apply, db: b.db };
  }

  const receipt = (ports: Ports, po: string, line: number, unitPriceFen: number, qty: number) => {
    const id = mid();
    ports.matches.set(id, { po, line, qtyMilli: qty * 1000, unitPriceFen });
    return { id, kind: 'receive' as const, sku: 'CEMENT', baseQty: qty * 1000 };
  };

  it('the acceptance figures: 100 @ 32.00, then 100 @ 35.00 + 200.00 landed -> 34.50; 120 issued cost 4140.00; total 9900.00, margin 10100.00 (50.50%)', async () => {
    const { svc, ports, apply } = await setup();
    ports.pos.set('PO-1', { id: 'PO-1', site: SITE, lines: [{ line: 1, sku: 'CEMENT', qtyMilli: 100_000, unitPriceFen: 3200 }] });
    ports.pos.set('PO-2', { id: 'PO-2', site: SITE, lines: [{ line: 1, sku: 'CEMENT', qtyMilli: 100_000, unitPriceFen: 3500 }] });
    ports.plans.push({ project: 'A', stage: 'S1', sku: 'CEMENT', qtyMilli: 120_000 });
    await apply([receipt(ports, 'PO-1', 1, 3200, 100)]);
    // Landed cost posted before PO-2's receipt: added to its cost as it arrives.
    const landed = await svc.postLandedCost('PO-2', 20_000, 'value', 'finance-1');
    expect(landed).toMatchObject({ amount: '200.00', pending: '200.00', toStock: '0.00', variance: '0.00' });
    await apply([receipt(ports, 'PO-2', 1, 3500, 100)]);
    expect((await svc.averageCost(SITE, 'CEMENT'))!.toFixed(2)).toBe('3450.00'); // fen: 34.50 CNY
    await apply([{ kind: 'issue', sku: 'CEMENT', baseQty: 120_000, project: 'A', stage: 'S1' }]);
    await svc.postCost('A', { category: 'labour', amountFen: 216_000, date: '2026-12-05' }, 'pm-a');
    await svc.postCost('A', { category: 'equipment', amountFen: 360_000, date: '2026-12-05', stage: 'S2' }, 'pm-a');
    expect(await svc.report('A')).toEqual({
      contractRevenue: '20000.00',
      cost: { material: '4140.00', labour: '2160.00', equipment: '3600.00', other: '0.00', total: '9900.00' },
      margin: '10100.00',
      marginPct: '50.50',
      stages: [
        { stage: 'S1', plannedValue: '4140.00', actualMaterial: '4140.00' },
        { stage: 'S2', plannedValue: '0.00', actualMaterial: '0.00' },
      ],
    });
    // The average does not move on an issue: 80 left at 34.50.
    expect((await svc.averageCost(SITE, 'CEMENT'))!.toFixed(2)).toBe('3450.00');
  });

  it('exact money: 10,000 issues at an average of 0.333333 post 3333.33 in total (one rounding, half up, carried), not 3300.00', async () => {
    const { svc, ports, apply, db } = await setup();
    ports.pos.set('PO-X', { id: 'PO-X', site: SITE, lines: [{ line: 1, sku: 'CEMENT', qtyMilli: 20_000_000, unitPriceFen: 33 }] });
    // 20,000 units @ 0.33 + 66.66 landed = 6666.66 for 20,000: 0.333333 each (33.3333 fen), exactly.
    await svc.postLandedCost('PO-X', 6666, 'qty', 'finance-1');
    await apply([receipt(ports, 'PO-X', 1, 33, 20_000)]);
    expect((await svc.averageCost(SITE, 'CEMENT'))!.toString()).toBe('33.3333');
    await apply(Array.from({ length: 10_000 }, () => ({ kind: 'issue' as const, sku: 'CEMENT', baseQty: 1000, project: 'A', stage: 'S1' })));
    const entries = await costRepo.entries(db.kysely, { project: 'A' });
    expect(entries).toHaveLength(10_000);
    expect(entries.every((e) => Number.isInteger(e.amountFen) && (e.amountFen === 33 || e.amountFen === 34))).toBe(true);
    const sum = entries.reduce((a, e) => a + e.amountFen, 0);
    expect(formatMoney(sum)).toBe('3333.33');
    expect((await svc.report('A'))!.cost.material).toBe('3333.33');
    // What rounding each entry on its own would have posted:
    expect(formatMoney(entries.length * 33)).toBe('3300.00');
    // 10,000 left, at the same average.
    expect((await svc.averageCost(SITE, 'CEMENT'))!.toString()).toBe('33.3333');
  });

  it('a return credits the project at its original issue cost, not at the average of the day', async () => {
    const { svc, ports, apply } = await setup();
    await apply([receipt(ports, 'PO-9', 1, 1000, 10), { kind: 'issue', sku: 'CEMENT', baseQty: 5000, project: 'A', stage: 'S1' }, receipt(ports, 'PO-9', 1, 2000, 10)]);
    expect((await svc.averageCost(SITE, 'CEMENT'))!.toDecimalPlaces(4).toString()).toBe('1666.6667');
    await apply([{ kind: 'return', sku: 'CEMENT', baseQty: 2000, project: 'A', stage: 'S1' }]);
    const r = await svc.report('A');
    expect(r!.cost.material).toBe('30.00'); // 50.00 issued - 2 x 10.00 returned
    expect(r!.stages[0]).toEqual({ stage: 'S1', plannedValue: '0.00', actualMaterial: '30.00' });
  });

  it("returns in the batch of their issue credit at its cost: the batch's own entries count, each return after the one before", async () => {
    const { svc, ports, apply } = await setup();
    // One follower batch: 10 @ 10.00, 5 issued to A (50.00), 10 @ 20.00 (average 16.6667), then
    // two returns of A: each at A's net issue cost (10.00), not at the average of the day.
    await apply([
      receipt(ports, 'PO-9', 1, 1000, 10),
      { kind: 'issue', sku: 'CEMENT', baseQty: 5000, project: 'A', stage: 'S1' },
      receipt(ports, 'PO-9', 1, 2000, 10),
      { kind: 'return', sku: 'CEMENT', baseQty: 2000, project: 'A', stage: 'S1' },
      { kind: 'issue', sku: 'CEMENT', baseQty: 3000, project: 'B', stage: 'S1' },
      { kind: 'return', sku: 'CEMENT', baseQty: 1000, project: 'A', stage: 'S1' },
    ]);
    expect((await svc.report('A'))!.cost.material).toBe('20.00'); // 50.00 - 20.00 - 10.00
    expect((await svc.report('B'))!.cost.material).toBe('47.65'); // 3 at 15.8824: 17 on hand worth 270.00 after A's return
    // A later batch sees the table: 2 left net at 10.00.
    await apply([{ kind: 'return', sku: 'CEMENT', baseQty: 2000, project: 'A', stage: 'S1' }]);
    expect((await svc.report('A'))!.cost.material).toBe('0.00');
  });

  it('a landed cost waiting for a line is taken by its receipts in one batch as in several: by quantity, the last takes the rest', async () => {
    const { svc, ports, apply, db } = await setup();
    ports.pos.set('PO-2', { id: 'PO-2', site: SITE, lines: [{ line: 1, sku: 'CEMENT', qtyMilli: 100_000, unitPriceFen: 3500 }] });
    await svc.postLandedCost('PO-2', 20_000, 'value', 'finance-1'); // 200.00 for 100 to come
    // One batch: 40 take 80.00, 60 take the 120.00 left: 100 @ 35.00 + 200.00 = 37.00 each.
    await apply([receipt(ports, 'PO-2', 1, 3500, 40), receipt(ports, 'PO-2', 1, 3500, 60)]);
    expect((await svc.averageCost(SITE, 'CEMENT'))!.toFixed(2)).toBe('3700.00');
    expect(await db.kysely.selectFrom('cost_landed_pending').selectAll().execute()).toEqual([]);
    const rows = await db.kysely.selectFrom('cost_receipts').select(['qty_milli', 'landed_exact']).orderBy('pos').execute();
    expect(rows.map((r) => [Number(r.qty_milli), String(r.landed_exact)])).toEqual([[40_000, '8000'], [60_000, '12000']]);
  });

  it('stock at or below zero before a receipt: the new average is the receipt price (Odoo #41669, #243813)', async () => {
    const { svc, ports, apply } = await setup();
    await apply([receipt(ports, 'PO-1', 1, 500, 1), { kind: 'issue', sku: 'CEMENT', baseQty: 6000, project: 'B' }]);
    // Stock is -5 now; a receipt of 10 @ 3.00 makes the average 3.00, not a blend with the negative value.
    await apply([receipt(ports, 'PO-1', 1, 300, 10)]);
    expect((await svc.averageCost(SITE, 'CEMENT'))!.toString()).toBe('300');
    await apply([{ kind: 'issue', sku: 'CEMENT', baseQty: 5000, project: 'B' }]);
    expect((await svc.report('B'))!.cost.material).toBe('45.00'); // 6 @ 5.00 (the last average) + 5 @ 3.00
  });

  it('a late landed cost: the share still on hand goes to stock value, the rest as variance to the projects that consumed it', async () => {
    const { svc, ports, apply } = await setup();
    ports.pos.set('PO-L', { id: 'PO-L', site: SITE, lines: [{ line: 1, sku: 'CEMENT', qtyMilli: 100_000, unitPriceFen: 1000 }] });
    await apply([
      receipt(ports, 'PO-L', 1, 1000, 100),
      { kind: 'issue', sku: 'CEMENT', baseQty: 60_000, project: 'A', stage: 'S1' },
      { kind: 'issue', sku: 'CEMENT', baseQty: 20_000, project: 'B', stage: 'S1' },
    ]);
    const l = await svc.postLandedCost('PO-L', 10_000, 'qty', 'finance-1');
    expect(l).toMatchObject({ amount: '100.00', pending: '0.00', toStock: '20.00', variance: '80.00' });
    expect(l.lines[0]!.variance).toEqual([
      { project: 'A', stage: 'S1', amount: '60.00' },
      { project: 'B', stage: 'S1', amount: '20.00' },
    ]);
    expect((await svc.report('A'))!.cost.material).toBe('660.00');
    expect((await svc.report('B'))!.cost.material).toBe('220.00');
    // 20 on hand now worth 220.00: 11.00 each.
    expect((await svc.averageCost(SITE, 'CEMENT'))!.toString()).toBe('1100');
  });

  it('a receipt with no PO counts at the standard cost and is flagged; the issue is what costs the project (never twice)', async () => {
    const { svc, apply, db } = await setup();
    await b!.store.putItem({ sku: 'REBAR', name: 'Rebar', uom: 'ea', gtins: [], conversions: [], unitWeightKg: null, tracking: 'none', shelfLifeDays: null, standardCost: '450', epcs: [] });
    await apply([{ kind: 'receive', sku: 'REBAR', baseQty: 1000_000 }]);
    expect((await svc.averageCost(SITE, 'REBAR'))!.toString()).toBe('450');
    const flagged = await costRepo.flaggedReceipts(db.kysely, SITE, 10);
    expect(flagged.map((f) => ({ sku: f.sku, flag: f.flag, unitCost: f.unitCost }))).toEqual([{ sku: 'REBAR', flag: 'no-po', unitCost: '450' }]);
    // A receipt is not project cost; only the issue is.
    expect((await svc.report('A'))!.cost.material).toBe('0.00');
    await apply([{ kind: 'issue', sku: 'REBAR', baseQty: 10_000, project: 'A', stage: 'S2' }]);
    expect((await svc.report('A'))!.cost.material).toBe('45.00');
  });

  it('month close freezes the month: later movements dated in it go to the next open month, cost lines dated in it are refused', async () => {
    const { svc, ports, apply } = await setup();
    await apply([receipt(ports, 'PO-1', 1, 1000, 10), { kind: 'issue', sku: 'CEMENT', baseQty: 2000, project: 'A', stage: 'S1', ts: '2026-11-20T10:00:00Z' }]);
    await svc.postCost('A', { category: 'labour', amountFen: 50_000, date: '2026-11-21' }, 'pm-a');
    const closed = await svc.closePeriod('2026-11', 'finance-1');
    expect(closed.projects).toEqual(['A']);
    const nov = await svc.report('A', '2026-11');
    expect(nov).toMatchObject({ period: '2026-11', closed: true, cost: { material: '20.00', labour: '500.00', total: '520.00' } });
    // Issue 11 §5: the close queued one month-close cost report per project for the ERP, in its transaction.
    const erp = (await outbox(b!.db.kysely)).filter((e) => e.kind === 'cost-report');
    expect(erp).toEqual([expect.objectContaining({ eventId: 'cost-report:CR-2026-11-A', docId: 'CR-2026-11-A', state: 'pending' })]);
    const body = JSON.parse(((await b!.db.kysely.selectFrom('erp_outbox').select('body').where('doc_id', '=', 'CR-2026-11-A').executeTakeFirstOrThrow()) as { body: string }).body);
    expect(body).toMatchObject({ period: '2026-11', project: 'A', closedBy: 'finance-1', cost: { material: '20.00', labour: '500.00', total: '520.00' } });
    // A late edge event of November arrives after the close.
    await apply([{ kind: 'issue', sku: 'CEMENT', baseQty: 1000, project: 'A', stage: 'S1', ts: '2026-11-30T23:00:00Z' }]);
    expect(await svc.report('A', '2026-11')).toEqual(nov);
    expect((await svc.report('A', '2026-12'))!).toMatchObject({ closed: false, cost: { material: '10.00', total: '10.00' } });
    expect((await svc.report('A'))!.cost.total).toBe('530.00');
    await expect(svc.postCost('A', { category: 'other', amountFen: 100, date: '2026-11-30' }, 'pm-a')).rejects.toMatchObject({ code: 'SG_ERR_PERIOD_CLOSED' });
    await expect(svc.closePeriod('2026-11', 'finance-1')).rejects.toMatchObject({ code: 'SG_ERR_PERIOD_CLOSED' });
    await expect(svc.closePeriod('2026-10', 'finance-1')).rejects.toMatchObject({ code: 'SG_ERR_PERIOD_CLOSED' });
    // A refused close queued nothing more.
    expect((await outbox(b!.db.kysely)).filter((e) => e.kind === 'cost-report')).toHaveLength(1);
  });
}
