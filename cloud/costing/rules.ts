import { Money, type MoneyValue } from '../money.js';

/**
 * Moving-average cost per (site, SKU), applied in ledger order (issue 10, section 4; 移动加权平均,
 * the common Kingdee/Yonyou choice). Pure: the costing service keeps one state per (site, SKU)
 * and feeds it the ledger's movements in the order they were applied - never in event-time
 * order, so a late edge event never triggers a repost storm (ERPNext #53773).
 *
 * Amounts are exact Decimals in fen while they live in the state; they are rounded (half up, to
 * whole fen) only when a cost entry is posted, through money.ts's RoundingCarry, so that a
 * project's posted total is its exact total rounded once.
 */

export interface AverageState {
  /** On hand in the item's base uom, exact (may be negative: a scan-out is a fact). */
  qty: MoneyValue;
  /** Stock value in fen, exact. */
  value: MoneyValue;
  /** The last average unit cost (fen per unit), used while the quantity is <= 0. */
  lastAverage: MoneyValue;
}

export function emptyAverage(): AverageState {
  return { qty: new Money(0), value: new Money(0), lastAverage: new Money(0) };
}

/** The current average unit cost in fen (exact). */
export function average(s: AverageState): MoneyValue {
  return s.qty.greaterThan(0) ? s.value.dividedBy(s.qty) : s.lastAverage;
}

/**
 * A receipt at `unitCost` fen per unit (its PO line price plus any landed cost per unit). When
 * stock is <= 0 before it, the new average is the receipt price (Odoo #41669, #243813: averaging
 * a negative quantity gives nonsense such as a cost of −10).
 */
export function receive(s: AverageState, qty: MoneyValue, unitCost: MoneyValue): AverageState {
  const newQty = s.qty.plus(qty);
  if (s.qty.lessThanOrEqualTo(0)) return { qty: newQty, value: newQty.times(unitCost), lastAverage: unitCost };
  const value = s.value.plus(qty.times(unitCost));
  return { qty: newQty, value, lastAverage: newQty.greaterThan(0) ? value.dividedBy(newQty) : unitCost };
}

/** An issue at the current average: the exact cost (fen) and the state after it. */
export function issue(s: AverageState, qty: MoneyValue): { state: AverageState; cost: MoneyValue } {
  const avg = average(s);
  const newQty = s.qty.minus(qty);
  // The last units take the whole remaining value, so no residue of a division stays in stock.
  const cost = newQty.isZero() && s.qty.greaterThan(0) ? s.value : qty.times(avg);
  const value = newQty.isZero() ? new Money(0) : s.value.minus(cost);
  return { state: { qty: newQty, value, lastAverage: avg }, cost };
}

/** A return to stock at the unit cost of its original issue: the project is credited that much. */
export function returnToStock(s: AverageState, qty: MoneyValue, originalUnitCost: MoneyValue): { state: AverageState; credit: MoneyValue } {
  const credit = qty.times(originalUnitCost);
  const newQty = s.qty.plus(qty);
  if (s.qty.lessThanOrEqualTo(0)) return { state: { qty: newQty, value: newQty.times(originalUnitCost), lastAverage: originalUnitCost }, credit };
  const value = s.value.plus(credit);
  return { state: { qty: newQty, value, lastAverage: value.dividedBy(newQty) }, credit };
}

/**
 * Split an amount (whole fen) over weights so that the shares are whole fen and add up to the
 * amount exactly: largest remainder (Hamilton), ties to the earlier line. Used for landed costs
 * (`allocate: "value" | "qty"`) over PO lines.
 */
export function allocate(amountFen: number, weights: readonly MoneyValue[]): number[] {
  const total = weights.reduce((a, w) => a.plus(w), new Money(0));
  if (total.isZero()) {
    // Nothing to weigh by: split evenly.
    return allocate(amountFen, weights.map(() => new Money(1)));
  }
  const exact = weights.map((w) => new Money(amountFen).times(w).dividedBy(total));
  const floors = exact.map((e) => e.floor().toNumber());
  let left = amountFen - floors.reduce((a, b) => a + b, 0);
  const order = exact.map((e, i) => ({ i, rem: e.minus(e.floor()) })).sort((a, b) => b.rem.comparedTo(a.rem) || a.i - b.i);
  for (const { i } of order) {
    if (left <= 0) break;
    floors[i]! += 1;
    left -= 1;
  }
  return floors;
}

/**
 * A landed cost posted after some of a receipt was issued: the share for what is still on hand
 * goes to stock value; the rest is variance for the projects that consumed the goods, in
 * proportion to what each consumed. Returns whole fen that add up to `amountFen`.
 */
export function splitLateLandedCost(
  amountFen: number,
  received: MoneyValue,
  stillOnHand: MoneyValue,
  consumedByProject: ReadonlyArray<{ project: string; qty: MoneyValue }>,
): { toStock: number; variance: Array<{ project: string; amount: number }> } {
  const onHand = Money.min(Money.max(stillOnHand, 0), received);
  const parts = allocate(amountFen, [onHand, ...consumedByProject.map((c) => c.qty)]);
  return { toStock: parts[0]!, variance: consumedByProject.map((c, i) => ({ project: c.project, amount: parts[i + 1]! })) };
}
