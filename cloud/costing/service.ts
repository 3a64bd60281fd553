/*
 * Why one file (over 400 lines): the costing service owns every costing transaction (moving
 * average, landed costs, cost lines, period close) against the same averages table and locks; the
 * pure arithmetic is in rules.ts, and splitting the transactions would spread the one locking order
 * over several files.
 */
import { audit } from '../audit/index.js';
import type { Db } from '../db/index.js';
import { formatMoney, marginPct, Money, type MoneyValue, RoundingCarry, roundFen } from '../money.js';
import { PendingLandedBook } from './pending-landed.js';
import * as repo from './repo.js';
import type { CostCategory, Tx } from './repo.js';
import { type AverageState, allocate, average as averageOf, issue, receive, returnToStock, splitLateLandedCost } from './rules.js';

/**
 * Costing (issue 10, section 4): the ledger-follower consumer that keeps the moving average per
 * (site, SKU) and posts project material cost, landed costs, posted cost lines, the cost report and
 * the month close. The service is the only place a transaction opens (`db.tx`); the consumer runs
 * in the follower's transaction, after procurement's receipt -> PO line match.
 *
 * Rounding rule (stated once, tested in tests/contracts/business/costing.contract.ts): every
 * intermediate amount (stock value, average unit cost, an issue's cost, a landed-cost share per
 * unit) stays an exact decimal in fen; an amount becomes whole fen only when a cost entry is
 * posted, half up, through a RoundingCarry per (project, category). The sum of a project's posted
 * entries is therefore its exact total rounded once, half up: 10,000 issues at 0.333333 post
 * 3333.33, not 3300.00.
 */

/** What the costing consumer reads of a committed ledger row (a structural subset of the follower's `LedgerEntry`). */
export interface CostMovement {
  pos: number;
  id: string;
  /** The edge's ISO instant: its date part (as the edge wrote it) dates the cost entry. */
  ts: string;
  site: string;
  kind: 'receive' | 'issue' | 'return' | 'transfer' | 'adjust' | 'count';
  sku: string;
  /** What the ledger booked, in thousandths of the item's base unit; absent when nothing was booked. */
  baseQty?: number;
  /** For counts: counted minus on hand, thousandths of the base unit. */
  variance?: number;
  project?: string;
  stage?: string;
  status: 'applied' | 'exception';
}

/** What costing reads from the other business modules (wired in index.ts through their index.ts). */
export interface CostingPorts {
  /**
   * The PO lines receipt movements were matched to (procurement's consumer ran first in the same
   * transaction); a receipt split over two lines has two matches. Quantities in thousandths of the
   * base unit, prices in fen per base unit.
   */
  receiptMatches(trx: Tx, movementIds: readonly string[]): Promise<Array<{ movement: string; po: string; line: number; qtyMilli: number; unitPriceFen: number }>>;
  /** A purchase order's site and lines (quantities in thousandths of the base unit, prices in fen per base unit). */
  purchaseOrder(trx: Tx, po: string): Promise<{ id: string; site: string; lines: Array<{ line: number; sku: string; qtyMilli: number; unitPriceFen: number }> } | undefined>;
  /** A project's site, manager, contract revenue and stage codes (in plan order). */
  project(trx: Tx, code: string): Promise<{ code: string; site: string; manager: string; contractRevenueFen: number; stages: string[] } | undefined>;
  /** The current plan of each stage of a project: planned thousandths per SKU. */
  plan(trx: Tx, code: string): Promise<Array<{ stage: string; sku: string; qtyMilli: number }>>;
  /** The item master's standard cost in fen per base unit (receipts with no PO). */
  standardCostFen(trx: Tx, sku: string): Promise<number | undefined>;
  /**
   * A month was closed: each project's frozen figures of that month, in the close's transaction,
   * so the ERP outbound queue (cloud/erp, issue 11 §5 "month-close cost reports") holds them
   * exactly when the close committed.
   */
  periodClosed(trx: Tx, close: { period: string; closedAt: string; closedBy: string; reports: Array<{ project: string; site: string; figures: CostFigures }> }): Promise<void>;
}

export class CostingError extends Error {
  constructor(
    readonly code: 'SG_ERR_PERIOD_CLOSED' | 'SG_ERR_NOT_FOUND' | 'SG_ERR_BAD_BODY' | 'SG_ERR_CONFLICT',
    message: string,
  ) {
    super(message);
  }
}

const MILLI = 1000;
const units = (milli: number): MoneyValue => new Money(milli).dividedBy(MILLI);
const toState = (a: repo.AverageRow | undefined): AverageState =>
  a ? { qty: units(a.qtyMilli), value: new Money(a.valueExact), lastAverage: new Money(a.lastAverage) } : { qty: new Money(0), value: new Money(0), lastAverage: new Money(0) };
const keyOf = (site: string, sku: string) => `${site}\u0000${sku}`;
const monthOf = (date: string) => date.slice(0, 7);
/** The month after 'yyyy-mm'. */
export function nextMonth(p: string): string {
  const [y, m] = p.split('-').map(Number) as [number, number];
  return m === 12 ? `${y + 1}-01` : `${y}-${String(m + 1).padStart(2, '0')}`;
}
/** The period an entry dated `date` goes to: its month, or the first month after the last closed one. */
export function periodFor(date: string, lastClosed: string | undefined): string {
  const m = monthOf(date);
  return lastClosed !== undefined && m <= lastClosed ? nextMonth(lastClosed) : m;
}

export interface CostFigures {
  contractRevenue: string;
  cost: { material: string; labour: string; equipment: string; other: string; total: string };
  margin: string;
  marginPct: string | null;
  stages: Array<{ stage: string; plannedValue: string; actualMaterial: string }>;
}

export class CostingService {
  constructor(
    private readonly db: Db,
    private readonly ports: CostingPorts,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.lock = db.dialect === 'postgres';
  }

  /** Row locks on PostgreSQL (READ COMMITTED); SQLite transactions are serialised already. */
  private readonly lock: boolean;

  /** The ledger-follower consumer: registered after procurement and projects (cloud/ledger-follower). */
  readonly consumer = {
    name: 'costing',
    apply: (trx: Tx, rows: readonly CostMovement[]) => this.apply(trx, rows),
  };

  /**
   * Apply committed ledger rows in ledger order, in the follower's transaction. Exactly once per
   * row is the follower's promise (its cursor moves in this transaction); the unique
   * (movement, source) index on cost entries would refuse a replay anyway.
   */
  async apply(trx: Tx, rows: readonly CostMovement[]): Promise<void> {
    const moving = rows.filter((r) => r.status === 'applied' && r.kind !== 'transfer' && (r.kind === 'count' ? !!r.variance : !!r.baseQty));
    if (moving.length === 0) return;
    const loaded = await repo.loadAverages(trx, moving, this.lock);
    const states = new Map<string, AverageState>();
    const dirty = new Map<string, number>();
    const carries = new Map<string, RoundingCarry>();
    const lastClosed = await repo.lastClosed(trx);
    // The standard costs of the batch's unmatched receipts in one read, when the first one needs
    // them (the follower shares the connection with ingest: few statements per batch).
    let stdCache: Map<string, number> | undefined;
    const matches = new Map<string, Array<{ po: string; line: number; qtyMilli: number; unitPriceFen: number }>>();
    const receipts = moving.filter((r) => r.kind === 'receive').map((r) => r.id);
    if (receipts.length > 0) {
      for (const m of await this.ports.receiptMatches(trx, receipts)) {
        const list = matches.get(m.movement) ?? [];
        list.push(m);
        matches.set(m.movement, list);
      }
    }
    const stateOf = (site: string, sku: string) => {
      const k = keyOf(site, sku);
      let s = states.get(k);
      if (!s) states.set(k, (s = toState(loaded.get(k))));
      return s;
    };
    const carryOf = async (project: string): Promise<RoundingCarry> => {
      let c = carries.get(project);
      if (!c) carries.set(project, (c = new RoundingCarry((await repo.carry(trx, project, 'material')) ?? {})));
      return c;
    };
    const at = this.now().toISOString();
    // The landed costs waiting for the batch's matched PO lines, in one read (locked in (po,
    // line) order on PostgreSQL, after the averages: the order postLandedCost takes them in).
    const waiting = await PendingLandedBook.open(trx, [...matches.values()].flat(), this.lock);
    // Entries are written at the end, in multi-row inserts. A return reads what its project was
    // issued of the item: the table's entries from before this batch (once per item and project)
    // and then this batch's, from `issuedInBatch`, so nothing is flushed to be read back.
    const posted: repo.CostEntry[] = [];
    const issuedBefore = new Map<string, Array<{ qtyMilli: number; exactFen: string }>>();
    const issuedInBatch = new Map<string, Array<{ qtyMilli: number; exactFen: string }>>();
    const post = (e: repo.CostEntry & { project: string; site: string; sku: string; qtyMilli: number }) => {
      posted.push(e);
      const k = `${e.project}\u0000${e.site}\u0000${e.sku}`;
      const list = issuedInBatch.get(k);
      if (list) list.push({ qtyMilli: e.qtyMilli, exactFen: e.exactFen });
      else issuedInBatch.set(k, [{ qtyMilli: e.qtyMilli, exactFen: e.exactFen }]);
    };
    const receiptRows: repo.ReceiptRow[] = [];

    for (const r of moving) {
      const k = keyOf(r.site, r.sku);
      const s = stateOf(r.site, r.sku);
      const date = r.ts.slice(0, 10);
      const project = r.project || null;
      const stage = r.stage || null;
      let next: AverageState;
      switch (r.kind) {
        case 'receive': {
          const qty = units(r.baseQty!);
          const ms = matches.get(r.id) ?? [];
          let unit: MoneyValue;
          let flag: string | null = null;
          let landed = new Money(0);
          if (ms.length > 0) {
            // Each matched part at its line's price plus the landed cost waiting for that line;
            // what is beyond the matches (an over-receipt) at the last line's price.
            let value = new Money(0);
            let matched = 0;
            for (const m of ms) {
              value = value.plus(units(m.qtyMilli).times(m.unitPriceFen));
              landed = landed.plus(waiting.take(m.po, m.line, m.qtyMilli));
              matched += m.qtyMilli;
            }
            if (r.baseQty! > matched) value = value.plus(units(r.baseQty! - matched).times(ms[ms.length - 1]!.unitPriceFen));
            unit = value.dividedBy(qty);
          } else {
            stdCache ??= await repo.standardCostsFen(trx, moving.filter((x) => x.kind === 'receive' && !matches.has(x.id)).map((x) => x.sku));
            const std = stdCache.get(r.sku);
            // A receipt with no PO counts at the item's standard cost and is flagged (issue 10 §4);
            // with no standard cost either, at the current average (flagged as such).
            if (std !== undefined) (unit = new Money(std), (flag = 'no-po'));
            else (unit = averageOf(s), (flag = 'no-po-no-cost'));
          }
          const unitWithLanded = unit.plus(landed.dividedBy(qty));
          next = receive(s, qty, unitWithLanded);
          receiptRows.push({
            movement: r.id,
            pos: r.pos,
            site: r.site,
            sku: r.sku,
            po: ms[0]?.po ?? null,
            poLine: ms[0]?.line ?? null,
            qtyMilli: r.baseQty!,
            unitCost: unit.toString(),
            landedExact: landed.toString(),
            flag,
          });
          break;
        }
        case 'issue': {
          const out = issue(s, units(r.baseQty!));
          next = out.state;
          if (project) {
            const c = await carryOf(project);
            post({
              project,
              stage,
              category: 'material',
              source: 'issue',
              amountFen: c.post(out.cost),
              exactFen: out.cost.toString(),
              date,
              period: periodFor(date, lastClosed),
              site: r.site,
              sku: r.sku,
              qtyMilli: r.baseQty!,
              unitCost: averageOf(s).toString(),
              movement: r.id,
              pos: r.pos,
              ref: null,
              note: null,
              createdBy: null,
              createdAt: at,
            });
          }
          break;
        }
        case 'return': {
          const qty = units(r.baseQty!);
          if (!project) {
            next = receive(s, qty, averageOf(s));
            break;
          }
          // A return comes back at the cost of its original issue: the project's net issues of
          // the item at this site (their average when there were several), else the current average.
          const ik = `${project}\u0000${r.site}\u0000${r.sku}`;
          let before = issuedBefore.get(ik);
          if (!before) issuedBefore.set(ik, (before = await repo.issuedTo(trx, project, r.site, r.sku)));
          const got = [...before, ...(issuedInBatch.get(ik) ?? [])];
          const netMilli = got.reduce((a, g) => a + g.qtyMilli, 0);
          const netExact = got.reduce((a, g) => a.plus(g.exactFen), new Money(0));
          const unit = netMilli > 0 ? netExact.dividedBy(units(netMilli)) : averageOf(s);
          const out = returnToStock(s, qty, unit);
          next = out.state;
          const c = await carryOf(project);
          const credit = out.credit.negated();
          post({
            project,
            stage,
            category: 'material',
            source: 'return',
            amountFen: c.post(credit),
            exactFen: credit.toString(),
            date,
            period: periodFor(date, lastClosed),
            site: r.site,
            sku: r.sku,
            qtyMilli: -r.baseQty!,
            unitCost: unit.toString(),
            movement: r.id,
            pos: r.pos,
            ref: null,
            note: null,
            createdBy: null,
            createdAt: at,
          });
          break;
        }
        case 'adjust':
        case 'count': {
          // Corrections and count variances move stock at the current average: they change the
          // quantity, never the average, and cost no project.
          const delta = r.kind === 'count' ? r.variance! : r.baseQty!;
          next = delta > 0 ? receive(s, units(delta), averageOf(s)) : issue(s, units(-delta)).state;
          break;
        }
        default:
          continue;
      }
      states.set(k, next);
      dirty.set(k, r.pos);
    }
    await repo.insertEntries(trx, posted);
    await repo.insertReceipts(trx, receiptRows);
    await repo.saveAverages(
      trx,
      [...dirty].map(([k, pos]) => {
        const [site, sku] = k.split('\u0000') as [string, string];
        const st = states.get(k)!;
        return { site, sku, qtyMilli: Math.round(st.qty.times(MILLI).toNumber()), valueExact: st.value.toString(), lastAverage: st.lastAverage.toString(), updatedPos: pos };
      }),
    );
    for (const [project, c] of carries) await repo.saveCarry(trx, project, 'material', c.state());
    await waiting.save(trx);
  }

  /** A project as the routes' scope check needs it (site, code). */
  project(code: string) {
    return this.ports.project(this.db.kysely, code);
  }

  /** A purchase order's site, for the routes' scope check. */
  purchaseOrder(id: string) {
    return this.ports.purchaseOrder(this.db.kysely, id);
  }

  /** The moving-average unit cost in fen per base unit (exact), for requisition amounts; undefined before any receipt. */
  async averageCost(site: string, sku: string, trx: Tx = this.db.kysely): Promise<MoneyValue | undefined> {
    const a = await repo.average(trx, site, sku);
    if (!a) return undefined;
    return averageOf(toState(a));
  }

  /**
   * `POST /api/v1/purchase-orders/:id/landed-costs`: allocated over the PO's lines by value
   * (qty × unit price) or by quantity, largest remainder so the shares add up to the fen. For each
   * line, the share of what is not received yet waits for the receipts (they take it as they
   * arrive); the share of what was received goes to stock value for what is still on hand, and
   * as variance to the projects that consumed the rest (issue 10 §4).
   */
  async postLandedCost(poId: string, amountFen: number, by: 'value' | 'qty', user: string): Promise<LandedResult> {
    return this.db.tx(async (trx) => {
      const po = await this.ports.purchaseOrder(trx, poId);
      if (!po) throw new CostingError('SG_ERR_NOT_FOUND', `id: no purchase order ${poId}`);
      if (po.lines.length === 0) throw new CostingError('SG_ERR_CONFLICT', `id: purchase order ${poId} has no lines`);
      const weights = po.lines.map((l) => (by === 'value' ? units(l.qtyMilli).times(l.unitPriceFen) : units(l.qtyMilli)));
      const shares = allocate(amountFen, weights);
      const receipts = await repo.receiptsOf(trx, poId);
      const lastClosed = await repo.lastClosed(trx);
      const at = this.now().toISOString();
      const date = at.slice(0, 10);
      let toStock = 0;
      let pending = 0;
      const variance: Array<{ project: string; stage: string | null; fen: number }> = [];
      const lines: LandedResult['lines'] = [];
      // The averages first, in the follower's order (then the pending landed rows): no deadlock.
      await repo.loadAverages(trx, po.lines.map((l) => ({ site: po.site, sku: l.sku })), this.lock);
      const id = await repo.insertLanded(trx, { po: poId, amountFen, allocate: by, toStockFen: 0, varianceFen: 0, pendingFen: 0, by: user, at });
      for (const [i, l] of po.lines.entries()) {
        const share = shares[i]!;
        const got = receipts.filter((r) => r.poLine === l.line);
        const receivedMilli = Math.min(got.reduce((a, r) => a + r.qtyMilli, 0), l.qtyMilli);
        // Whole fen for the received part (half up), the rest waits for the receipts to come.
        const lateFen = l.qtyMilli > 0 ? roundFen(new Money(share).times(receivedMilli).dividedBy(l.qtyMilli)) : share;
        const waitFen = share - lateFen;
        if (waitFen !== 0) {
          const p = await repo.pendingLanded(trx, poId, l.line, this.lock);
          await repo.savePending(trx, {
            po: poId,
            poLine: l.line,
            site: po.site,
            sku: l.sku,
            remainingMilli: l.qtyMilli - receivedMilli,
            remainingExact: new Money(p?.remainingExact ?? 0).plus(waitFen).toString(),
          });
          pending += waitFen;
        }
        let lineStock = 0;
        const lineVar: Array<{ project: string; stage: string | null; amount: string }> = [];
        if (lateFen !== 0) {
          const st = toState(await repo.average(trx, po.site, l.sku, this.lock));
          const onHand = Money.min(Money.max(st.qty, 0), units(receivedMilli));
          const firstPos = Math.min(...got.map((r) => r.pos));
          const consumed = await repo.consumedAfter(trx, po.site, l.sku, firstPos - 1);
          const consumedTotal = consumed.reduce((a, c) => a + c.qtyMilli, 0);
          // What left stock of this receipt went to the projects in proportion to what each
          // consumed since it arrived (scaled to the quantity no longer on hand).
          const gone = units(receivedMilli).minus(onHand);
          const weightsByProject = consumedTotal > 0 ? consumed.map((c) => ({ project: `${c.project}\u0000${c.stage ?? ''}`, qty: gone.times(c.qtyMilli).dividedBy(consumedTotal) })) : [];
          // Nothing consumed by a project (the rest left by adjustments): it all goes to stock.
          const split = splitLateLandedCost(lateFen, units(receivedMilli), consumedTotal > 0 ? onHand : units(receivedMilli), weightsByProject);
          lineStock = split.toStock;
          if (lineStock !== 0) {
            const row = await repo.average(trx, po.site, l.sku);
            const cur = toState(row);
            await repo.saveAverage(trx, {
              site: po.site,
              sku: l.sku,
              qtyMilli: row?.qtyMilli ?? 0,
              valueExact: cur.value.plus(lineStock).toString(),
              // The average changes with the value while stock is on hand.
              lastAverage: cur.qty.greaterThan(0) ? cur.value.plus(lineStock).dividedBy(cur.qty).toString() : cur.lastAverage.toString(),
              updatedPos: row?.updatedPos ?? 0,
            });
          }
          for (const v of split.variance) {
            if (v.amount === 0) continue;
            const [project, stage] = v.project.split('\u0000') as [string, string];
            await repo.insertEntry(trx, {
              project,
              stage: stage || null,
              category: 'material',
              source: 'landed-variance',
              amountFen: v.amount,
              exactFen: String(v.amount),
              date,
              period: periodFor(date, lastClosed),
              site: po.site,
              sku: l.sku,
              qtyMilli: null,
              unitCost: null,
              movement: null,
              pos: null,
              ref: `landed:${id}`,
              note: `landed cost ${id} of purchase order ${poId}`,
              createdBy: user,
              createdAt: at,
            });
            variance.push({ project, stage: stage || null, fen: v.amount });
            lineVar.push({ project, stage: stage || null, amount: formatMoney(v.amount) });
          }
        }
        toStock += lineStock;
        lines.push({ line: l.line, sku: l.sku, amount: formatMoney(share), pending: formatMoney(waitFen), toStock: formatMoney(lineStock), variance: lineVar });
      }
      const varianceFen = variance.reduce((a, v) => a + v.fen, 0);
      await trx.updateTable('cost_landed').set({ to_stock_fen: toStock, variance_fen: varianceFen, pending_fen: pending }).where('id', '=', id).execute();
      const result: LandedResult = { id, po: poId, amount: formatMoney(amountFen), allocate: by, pending: formatMoney(pending), toStock: formatMoney(toStock), variance: formatMoney(varianceFen), lines };
      await audit(trx, { entity: 'landed-cost', id: String(id), action: 'create', by: user, before: null, after: result, site: po.site });
      await audit(trx, { entity: 'purchase-order', id: poId, action: 'landed-cost', by: user, before: null, after: result, site: po.site });
      return result;
    });
  }

  /** `POST /api/v1/projects/:code/costs`: a labour, equipment or other cost line. */
  async postCost(code: string, c: { category: Exclude<CostCategory, 'material'>; amountFen: number; date: string; stage?: string; note?: string }, user: string) {
    return this.db.tx(async (trx) => {
      const p = await this.ports.project(trx, code);
      if (!p) throw new CostingError('SG_ERR_NOT_FOUND', `code: no project ${code}`);
      if (c.stage !== undefined && !p.stages.includes(c.stage)) throw new CostingError('SG_ERR_BAD_BODY', `stage: project ${code} has no stage ${c.stage}`);
      const lastClosed = await repo.lastClosed(trx);
      if (lastClosed !== undefined && monthOf(c.date) <= lastClosed) {
        throw new CostingError('SG_ERR_PERIOD_CLOSED', `date: ${c.date} is in a closed period (closed up to ${lastClosed}); date it in an open month`);
      }
      const at = this.now().toISOString();
      const id = await repo.insertEntry(trx, {
        project: code,
        stage: c.stage ?? null,
        category: c.category,
        source: 'manual',
        amountFen: c.amountFen,
        exactFen: String(c.amountFen),
        date: c.date,
        period: monthOf(c.date),
        site: p.site,
        sku: null,
        qtyMilli: null,
        unitCost: null,
        movement: null,
        pos: null,
        ref: null,
        note: c.note ?? null,
        createdBy: user,
        createdAt: at,
      });
      const line = { id, project: code, category: c.category, amount: formatMoney(c.amountFen), date: c.date, ...(c.stage ? { stage: c.stage } : {}), ...(c.note ? { note: c.note } : {}), period: monthOf(c.date) };
      await audit(trx, { entity: 'cost', id: String(id), action: 'create', by: user, before: null, after: line, site: p.site, project: code });
      await audit(trx, { entity: 'project', id: code, action: 'cost', by: user, before: null, after: line, site: p.site, project: code });
      return line;
    });
  }

  /** The figures of a project: all entries, or those of one period (a closed one from its snapshot). */
  async report(code: string, period?: string): Promise<(CostFigures & { period?: string; closed?: boolean }) | undefined> {
    const trx = this.db.kysely;
    const p = await this.ports.project(trx, code);
    if (!p) return undefined;
    if (period) {
      const closed = await repo.period(trx, period);
      if (closed) {
        const snap = (await repo.snapshot(trx, period, code)) as { month: CostFigures } | undefined;
        return { ...(snap?.month ?? (await this.figures(trx, p, period, true))), period, closed: true };
      }
      return { ...(await this.figures(trx, p, period, false)), period, closed: false };
    }
    return this.figures(trx, p);
  }

  private async figures(trx: Tx, p: { code: string; site: string; contractRevenueFen: number; stages: string[] }, period?: string, empty = false): Promise<CostFigures> {
    const rows = empty ? [] : await repo.sums(trx, p.code, period);
    const by = (cat: CostCategory) => rows.filter((r) => r.category === cat).reduce((a, r) => a + r.fen, 0);
    const material = by('material');
    const labour = by('labour');
    const equipment = by('equipment');
    const other = by('other');
    const total = material + labour + equipment + other;
    const margin = p.contractRevenueFen - total;
    // Planned value: each plan line at the site's moving average, else the standard cost; exact,
    // rounded once per stage (half up).
    const plan = await this.ports.plan(trx, p.code);
    const stages: CostFigures['stages'] = [];
    const names = [...p.stages, ...new Set(plan.map((l) => l.stage).filter((s) => !p.stages.includes(s)))];
    const unitCache = new Map<string, MoneyValue>();
    for (const stage of names) {
      let planned = new Money(0);
      for (const l of plan.filter((x) => x.stage === stage)) {
        let u = unitCache.get(l.sku);
        if (!u) {
          const a = await repo.average(trx, p.site, l.sku);
          const std = a ? undefined : await this.ports.standardCostFen(trx, l.sku);
          u = a ? averageOf(toState(a)) : new Money(std ?? 0);
          unitCache.set(l.sku, u);
        }
        planned = planned.plus(units(l.qtyMilli).times(u));
      }
      const actual = rows.filter((r) => r.category === 'material' && r.stage === stage).reduce((a, r) => a + r.fen, 0);
      stages.push({ stage, plannedValue: formatMoney(roundFen(planned)), actualMaterial: formatMoney(actual) });
    }
    return {
      contractRevenue: formatMoney(p.contractRevenueFen),
      cost: { material: formatMoney(material), labour: formatMoney(labour), equipment: formatMoney(equipment), other: formatMoney(other), total: formatMoney(total) },
      margin: formatMoney(margin),
      marginPct: marginPct(margin, p.contractRevenueFen),
      stages,
    };
  }

  /**
   * `POST /api/v1/periods/:yyyy-mm/close`: freezes the month's figures of every project with cost
   * entries in it (and its figures to date) in a snapshot. Entries dated in a closed month that
   * arrive later (a late edge event, a back-dated line) go to the next open month: they never
   * change a closed month, and nothing is reposted (ERPNext #53773).
   */
  async closePeriod(period: string, user: string): Promise<{ period: string; closedAt: string; closedBy: string; projects: string[] }> {
    return this.db.tx(async (trx) => {
      const last = await repo.lastClosed(trx);
      if (last !== undefined && period <= last) throw new CostingError('SG_ERR_PERIOD_CLOSED', `period: ${period} is closed already (closed up to ${last})`);
      const at = this.now().toISOString();
      if (!(await repo.insertPeriod(trx, period, at, user))) throw new CostingError('SG_ERR_PERIOD_CLOSED', `period: ${period} is closed already`);
      const projects = await repo.projectsWithEntries(trx);
      const closedNow: string[] = [];
      const reports: Array<{ project: string; site: string; figures: CostFigures }> = [];
      for (const code of projects) {
        const p = await this.ports.project(trx, code);
        if (!p) continue;
        const month = await this.figures(trx, p, period);
        closedNow.push(code);
        reports.push({ project: code, site: p.site, figures: month });
        await repo.insertSnapshot(trx, period, code, { month });
      }
      const closed = { period, closedAt: at, closedBy: user, projects: closedNow };
      await audit(trx, { entity: 'period', id: period, action: 'close', by: user, before: null, after: closed });
      await this.ports.periodClosed(trx, { period, closedAt: at, closedBy: user, reports });
      return closed;
    });
  }
}

export interface LandedResult {
  id: number;
  po: string;
  amount: string;
  allocate: 'value' | 'qty';
  pending: string;
  toStock: string;
  variance: string;
  lines: Array<{ line: number; sku: string; amount: string; pending: string; toStock: string; variance: Array<{ project: string; stage: string | null; amount: string }> }>;
}
