import { Money, roundFen } from '../money.js';

/**
 * Stock counts (盘点, issue 11, section 4): pure rules. A count session snapshots the system
 * quantity when it opens; stock keeps moving while people count. Odoo re-reads the theoretical
 * quantity (#42997) and msupply's "set to counted" wipes later moves (#638); both lose the
 * movements applied between the snapshot and the moment an item was counted. Here:
 *
 *   variance = counted − (snapshot + movements applied between the snapshot and the count scan)
 *
 * so a count taken while stock moves gives the true difference: snapshot 100, issue 5,
 * counted 93 → −2, not −7. Quantities are integer thousandths, as in the ledger.
 */

const milli = (q: number): number => Math.round(q * 1000);
const unmilli = (m: number): number => m / 1000;

/** A movement's signed effect on the counted key, with when the ledger applied it. */
export interface AppliedEffect {
  appliedAt: string;
  delta: number;
}

/**
 * Variance of one counted key. Only movements applied after the snapshot and up to the count
 * scan (`countedAt`, inclusive) are added to the snapshot: later ones happened after the people
 * counted, so they are already in neither figure.
 */
export function countVariance(input: { snapshot: number; snapshotAt: string; counted: number; countedAt: string; effects: readonly AppliedEffect[] }): {
  expected: number;
  variance: number;
} {
  let expected = milli(input.snapshot);
  for (const e of input.effects) if (e.appliedAt > input.snapshotAt && e.appliedAt <= input.countedAt) expected += milli(e.delta);
  return { expected: unmilli(expected), variance: unmilli(milli(input.counted) - expected) };
}

/**
 * The value of an adjustment: |variance| × average unit cost (fen per base unit), rounded half up
 * to the fen. This is what the `count-adjustment` approval bands compare against.
 */
export function adjustmentValue(variance: number, averageCostFen: number | string): number {
  return roundFen(new Money(variance).abs().times(averageCostFen));
}

export type AbcClass = 'A' | 'B' | 'C';

/** Stated cut-offs: A = the items making the first 80% of consumption value, B the next 15%, C the rest. */
export const ABC_CUTOFFS = { A: 0.8, B: 0.95 } as const;

/** Count frequency per class, in months: A monthly, B quarterly, C yearly. */
export const ABC_INTERVAL_MONTHS: Readonly<Record<AbcClass, number>> = { A: 1, B: 3, C: 12 };

/**
 * ABC classes by consumption value (issued quantity × average cost over the period). An item is
 * in the class where its cumulative share starts: the item that crosses 80% is still A, so A is
 * never empty when there is consumption. Ties in value go by SKU, for a stable plan. Items with no
 * consumption are C.
 */
export function abcClasses(items: ReadonlyArray<{ sku: string; consumptionValue: number }>): Map<string, AbcClass> {
  const sorted = [...items].sort((a, b) => b.consumptionValue - a.consumptionValue || a.sku.localeCompare(b.sku));
  const total = sorted.reduce((a, i) => a + Math.max(0, i.consumptionValue), 0);
  const out = new Map<string, AbcClass>();
  let before = 0;
  for (const i of sorted) {
    const share = total > 0 ? before / total : 1;
    out.set(i.sku, i.consumptionValue <= 0 ? 'C' : share < ABC_CUTOFFS.A ? 'A' : share < ABC_CUTOFFS.B ? 'B' : 'C');
    before += Math.max(0, i.consumptionValue);
  }
  return out;
}

function addMonths(isoDate: string, months: number): string {
  const d = new Date(`${isoDate}T00:00:00Z`);
  const day = d.getUTCDate();
  d.setUTCDate(1);
  d.setUTCMonth(d.getUTCMonth() + months);
  // The 31st plus a month is the last day of the shorter month, never the 1st of the next.
  const last = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0)).getUTCDate();
  d.setUTCDate(Math.min(day, last));
  return d.toISOString().slice(0, 10);
}

export interface CyclePlanRow {
  sku: string;
  class: AbcClass;
  lastCounted: string | null;
  /** ISO date; never-counted items are due today. */
  due: string;
  overdue: boolean;
}

/** The cycle-count plan: each SKU's class and next due date from its last count; most overdue first. */
export function cyclePlan(items: ReadonlyArray<{ sku: string; consumptionValue: number; lastCounted?: string | null }>, today: string): CyclePlanRow[] {
  const classes = abcClasses(items);
  return items
    .map((i) => {
      const cls = classes.get(i.sku)!;
      const last = i.lastCounted ?? null;
      const due = last ? addMonths(last, ABC_INTERVAL_MONTHS[cls]) : today;
      return { sku: i.sku, class: cls, lastCounted: last, due, overdue: due < today };
    })
    .sort((a, b) => a.due.localeCompare(b.due) || a.class.localeCompare(b.class) || a.sku.localeCompare(b.sku));
}
