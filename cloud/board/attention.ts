import type { AttentionReason, BoardAttentionRow } from '../../protocols/http/board.js';

/** Inputs of the attention view for one (site, sku, uom), read by `BoardRepo` and the alert store. */
export interface AttentionInput {
  site: string;
  sku: string;
  uom: string;
  /** On hand, thousandths of `uom`. */
  onHandMilli: number;
  safetyStock?: number;
  reorderPoint?: number;
  /** Issued over the window, thousandths of `uom` (the item's base unit). */
  issuedMilli: number;
  lastMovementAt: string | null;
  batches: ReadonlyArray<{ location: string; batch: string; expiry: string | null; onHandMilli: number }>;
}

export interface AttentionOptions {
  /** Today, YYYY-MM-DD (UTC). */
  today: string;
  /** Average daily issue window, days. Default 28 (issue 12). */
  windowDays: number;
  /** No movement for this many days is stale. */
  staleDays: number;
  nearExpiryDays: number;
  /** Fewer days of cover than this is `stockout-soon`. */
  coverDays: number;
}

const DAY_MS = 86_400_000;
const dayNumber = (d: string) => Math.floor(Date.parse(`${d.slice(0, 10)}T00:00:00Z`) / DAY_MS);
const dateOf = (day: number) => new Date(day * DAY_MS).toISOString().slice(0, 10);

/**
 * Why a stock line needs attention (pure; issue 12, after ERPNext #3201, BHIMA #4856, InvenTree
 * #140 and PR #1202): below safety stock or the reorder point, days of cover = on hand ÷ average
 * daily issue over the last `windowDays` with the projected stock-out date, batches expired or
 * within `nearExpiryDays`, and stale stock (no movement in `staleDays`). Quantities are summed in
 * integer thousandths of one unit only; lines in different units are never added. Returns
 * undefined when nothing needs attention.
 */
export function attentionOf(i: AttentionInput, o: AttentionOptions): BoardAttentionRow | undefined {
  const reasons: AttentionReason[] = [];
  const onHand = i.onHandMilli / 1000;
  if (i.safetyStock !== undefined && onHand < i.safetyStock) reasons.push('below-safety');
  else if (i.reorderPoint !== undefined && onHand <= i.reorderPoint) reasons.push('below-reorder');
  const avgDailyIssue = i.issuedMilli / 1000 / o.windowDays;
  const daysOfCover = avgDailyIssue > 0 ? Math.max(0, onHand) / avgDailyIssue : null;
  const today = dayNumber(o.today);
  const stockoutDate = daysOfCover === null ? null : dateOf(today + Math.floor(daysOfCover));
  if (daysOfCover !== null && daysOfCover < o.coverDays) reasons.push('stockout-soon');
  const expiring = i.batches
    .filter((b) => b.expiry !== null && b.onHandMilli > 0)
    .map((b) => ({ location: b.location, batch: b.batch, expiry: b.expiry!, onHand: b.onHandMilli / 1000, days: dayNumber(b.expiry!) - today }))
    .filter((b) => b.days <= o.nearExpiryDays)
    .sort((a, b) => a.days - b.days);
  if (expiring.some((b) => b.days < 0)) reasons.push('expired');
  if (expiring.some((b) => b.days >= 0)) reasons.push('near-expiry');
  if (i.onHandMilli > 0 && (i.lastMovementAt === null || dayNumber(i.lastMovementAt) <= today - o.staleDays)) reasons.push('stale');
  if (reasons.length === 0) return undefined;
  return {
    site: i.site,
    sku: i.sku,
    uom: i.uom,
    onHand,
    ...(i.safetyStock !== undefined ? { safetyStock: i.safetyStock } : {}),
    ...(i.reorderPoint !== undefined ? { reorderPoint: i.reorderPoint } : {}),
    avgDailyIssue: Math.round(avgDailyIssue * 1000) / 1000,
    daysOfCover: daysOfCover === null ? null : Math.round(daysOfCover * 10) / 10,
    stockoutDate,
    lastMovementAt: i.lastMovementAt,
    reasons,
    expiring,
  };
}
