import { Decimal } from 'decimal.js';
import { QTY_DECIMALS } from '../protocols/ledger/quantity.js';

/** What the uom rules need of an item: its master uom and the weight of one unit of it. */
export interface UomItem {
  uom?: string;
  unitWeightKg?: number;
}

/**
 * Weight units a kg quantity converts to exactly, as kg per unit. An item mastered in one of
 * these books a weight in its own unit without needing a unit weight.
 */
const WEIGHT_UNITS: Record<string, string> = { kg: '1', g: '0.001', t: '1000' };

export function isWeightUom(uom: string | undefined): boolean {
  return uom !== undefined && uom in WEIGHT_UNITS;
}

/**
 * Round half up to the ledger's 3 decimals (decimal.js: no binary float drift). The wire refuses
 * a quantity with more (issue 9, exact quantities), so the edge makes only valid ones: a balance
 * reading 0.1 mg or a GS1 label with 5 decimals (AI 3105) is rounded here; `raw` keeps the exact text.
 */
export function roundQty(q: Decimal.Value): number {
  return new Decimal(q).toDecimalPlaces(QTY_DECIMALS, Decimal.ROUND_HALF_UP).toNumber();
}

/** Exact sum of two quantities at the ledger's scale (0.1 + 0.2 is 0.3, not 0.30000000000000004). */
export function addQty(a: number, b: number): number {
  return roundQty(new Decimal(a).plus(b));
}

export type WeightInItemUom =
  /** The weight in the item's uom. `via` says how; `rounded` when the quotient had more than 3 decimals. */
  | { ok: true; qty: number; uom: string; via: 'kg' | 'weight-unit' | 'unit-weight'; rounded: boolean }
  /** The item is mastered in a non-weight uom and has no unit weight: the edge cannot convert. */
  | { ok: false; uom: string; reason: string };

/**
 * A net weight (kg) for an item, in the item's uom (issue 9, C3: the item master's uom wins over
 * the scan's at the edge):
 * - an unknown item, or one without a uom, or one mastered in kg: kg as weighed;
 * - an item mastered in g or t: converted exactly;
 * - an item mastered in anything else (ea, bag, m...) with `unitWeightKg`: kg / unitWeightKg,
 *   rounded half up to 3 decimals (the ledger's scale);
 * - otherwise not convertible here (`ok: false`): the caller decides (a GS1 weight is sent as kg
 *   for the cloud's UOM_MISMATCH exception; a weigh station refuses and asks for a sample).
 */
export function weightInItemUom(kg: number, item: UomItem | undefined): WeightInItemUom {
  const uom = item?.uom;
  if (uom === undefined || uom === 'kg') {
    const qty = roundQty(kg);
    return { ok: true, qty, uom: 'kg', via: 'kg', rounded: qty !== kg };
  }
  const perUnit = WEIGHT_UNITS[uom];
  if (perUnit !== undefined) return quotient(kg, perUnit, uom, 'weight-unit');
  if (item?.unitWeightKg) return quotient(kg, item.unitWeightKg, uom, 'unit-weight');
  return { ok: false, uom, reason: `the item is counted in ${uom} and the edge knows no unitWeightKg for it` };
}

function quotient(kg: number, perUnit: Decimal.Value, uom: string, via: 'weight-unit' | 'unit-weight'): WeightInItemUom {
  const exact = new Decimal(kg).div(perUnit);
  const qty = roundQty(exact);
  return { ok: true, qty, uom, via, rounded: !exact.equals(qty) };
}
