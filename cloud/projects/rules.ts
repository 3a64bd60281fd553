import { Money } from '../money.js';

/**
 * Projects and stage material plans (工程项目, issue 10, section 1): pure rules. A building
 * contractor plans each project's materials by stage, often as multiples of a reusable BOM
 * ("foundation F × 2"). The plan stores exploded lines, per SKU, and keeps its versions; the
 * plan view compares it with what the ledger issued to that project stage; issues beyond plan +
 * tolerance (超领) are applied - they happened - and open one OVER_ISSUE exception per
 * (project, stage, SKU) for the project's manager (never a refusal: the anchors' over-allocation
 * bugs, InvenTree #7285 and #3236, came from refusing or silently allowing).
 *
 * Quantities are integer thousandths of the item's base uom here, as in the ledger
 * (cloud/ledger/); the routes speak decimals.
 */

export interface BomLine {
  sku: string;
  /** Quantity per one BOM, base uom. */
  qtyPer: number;
  /** Scrap allowance in percent (0-100), added on top: 2 → 2% more. */
  scrapPct?: number;
}

export type PlanInputLine = { sku: string; qty: number; needBy?: string } | { bom: string; multiplier: number };

/** An exploded plan line: one SKU, its quantity in thousandths, where it came from. */
export interface PlanLine {
  sku: string;
  /** Thousandths of the base uom. */
  qtyMilli: number;
  needBy?: string;
  /** The BOMs (with multipliers) and direct entries that make up this line. */
  sources: string[];
}

export class PlanError extends Error {
  readonly code = 'SG_ERR_BAD_PLAN';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

/** A decimal quantity to thousandths, exactly; more than 3 decimals is refused with the field. */
export function toMilli(q: number, field: string): number {
  const m = new Money(q).times(1000);
  if (!m.isInteger()) throw new PlanError(field, `${q} has more than 3 decimals`);
  if (!m.isFinite() || m.abs().greaterThan(1e12)) throw new PlanError(field, `${q} is out of range`);
  return m.toNumber();
}

/**
 * One BOM times a multiplier, per SKU: qtyPer × multiplier × (1 + scrap%), rounded half up to
 * thousandths (the ledger's scale) once per line.
 */
export function explodeBom(lines: readonly BomLine[], multiplier: number): Array<{ sku: string; qtyMilli: number }> {
  return lines.map((l) => ({
    sku: l.sku,
    qtyMilli: new Money(l.qtyPer)
      .times(multiplier)
      .times(new Money(100).plus(l.scrapPct ?? 0).dividedBy(100))
      .times(1000)
      .toDecimalPlaces(0, Money.ROUND_HALF_UP)
      .toNumber(),
  }));
}

/**
 * A stage plan's input (direct lines and BOM multiples) to exploded lines, one per SKU: quantities
 * of the same SKU add up (in thousandths), the earliest needBy of a SKU's direct lines wins, and
 * `sources` says where each came from. Unknown BOMs and bad numbers are refused, naming the line.
 */
export function explodePlan(input: readonly PlanInputLine[], boms: ReadonlyMap<string, readonly BomLine[]>): PlanLine[] {
  const bySku = new Map<string, PlanLine>();
  const add = (sku: string, qtyMilli: number, source: string, needBy?: string) => {
    const cur = bySku.get(sku) ?? { sku, qtyMilli: 0, sources: [] };
    cur.qtyMilli += qtyMilli;
    if (!cur.sources.includes(source)) cur.sources.push(source);
    if (needBy !== undefined && (cur.needBy === undefined || needBy < cur.needBy)) cur.needBy = needBy;
    bySku.set(sku, cur);
  };
  input.forEach((line, i) => {
    if ('bom' in line) {
      const bom = boms.get(line.bom);
      if (!bom) throw new PlanError(`lines[${i}].bom`, `no BOM ${line.bom}`);
      if (!(line.multiplier > 0) || !Number.isFinite(line.multiplier)) throw new PlanError(`lines[${i}].multiplier`, 'must be a positive number');
      for (const e of explodeBom(bom, line.multiplier)) add(e.sku, e.qtyMilli, `${line.bom}×${line.multiplier}`);
    } else {
      if (!(line.qty > 0)) throw new PlanError(`lines[${i}].qty`, 'must be positive');
      add(line.sku, toMilli(line.qty, `lines[${i}].qty`), 'direct', line.needBy);
    }
  });
  return [...bySku.values()].sort((a, b) => a.sku.localeCompare(b.sku));
}

/** Per SKU of a stage: planned, net issued (issues − returns) and remaining (never below 0), in thousandths. */
export function planStatus(
  plan: readonly PlanLine[],
  netIssuedMilli: ReadonlyMap<string, number>,
): Array<{ sku: string; plannedMilli: number; issuedMilli: number; remainingMilli: number }> {
  const skus = new Set([...plan.map((l) => l.sku), ...netIssuedMilli.keys()]);
  const planned = new Map(plan.map((l) => [l.sku, l.qtyMilli]));
  return [...skus].sort().map((sku) => {
    const p = planned.get(sku) ?? 0;
    const issued = netIssuedMilli.get(sku) ?? 0;
    return { sku, plannedMilli: p, issuedMilli: issued, remainingMilli: Math.max(0, p - issued) };
  });
}

/** The default over-issue tolerance, percent (a project may set its own). */
export const DEFAULT_OVER_ISSUE_PCT = 5;

/**
 * Whether net issues to a stage are beyond plan + tolerance: issued > planned × (1 + tol%).
 * A SKU not in the plan at all is over as soon as anything is issued. The caller opens one
 * OVER_ISSUE exception per (project, stage, SKU) while it is open, and none when one is open.
 */
export function isOverIssued(plannedMilli: number, issuedMilli: number, tolerancePct = DEFAULT_OVER_ISSUE_PCT): boolean {
  const limit = new Money(plannedMilli).times(new Money(100).plus(tolerancePct)).dividedBy(100);
  return new Money(issuedMilli).greaterThan(limit);
}

/**
 * The most net issued (integer thousandths) still within plan + tolerance: for an integer
 * `issuedMilli`, `isOverIssued(p, issuedMilli, t)` is `issuedMilli > overIssueLimitMilli(p, t)`.
 * The ledger consumer checks each issue of a batch against it (one decimal computation per
 * stage and SKU, not per movement).
 */
export function overIssueLimitMilli(plannedMilli: number, tolerancePct = DEFAULT_OVER_ISSUE_PCT): number {
  return new Money(plannedMilli).times(new Money(100).plus(tolerancePct)).dividedBy(100).floor().toNumber();
}

/** What changed between two plan versions, per SKU (thousandths), for the plan's history. */
export function planDiff(before: readonly PlanLine[], after: readonly PlanLine[]): Array<{ sku: string; fromMilli: number; toMilli: number }> {
  const a = new Map(before.map((l) => [l.sku, l.qtyMilli]));
  const b = new Map(after.map((l) => [l.sku, l.qtyMilli]));
  return [...new Set([...a.keys(), ...b.keys()])]
    .sort()
    .map((sku) => ({ sku, fromMilli: a.get(sku) ?? 0, toMilli: b.get(sku) ?? 0 }))
    .filter((d) => d.fromMilli !== d.toMilli);
}
