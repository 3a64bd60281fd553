/**
 * Forecast and reorder suggestions (issue 11 §3) over the ledger's issue history: bucketed per
 * UTC day or ISO week (cloud/forecast/rules.ts), classified, forecast with every method; the
 * reorder point per SKU at a stated service level, and draft purchase requisitions from it.
 */
import { fromMilli } from '../../protocols/ledger/quantity.js';
import type { Db } from '../db/index.js';
import { issueHistory, issuedSkus } from './repo.js';
import { bucket, demandSigma, forecast, type Period, reorderSuggestion } from './rules.js';

/** Lead time of a SKU never ordered at the site (no supplier applies; stated in every suggestion as `leadTimeSource`). */
export const DEFAULT_LEAD_TIME_DAYS = 7;
/** Most periods one forecast reads (bounded memory and time). */
export const MAX_PERIODS = 1000;

export interface ForecastQuery {
  site: string;
  sku: string;
  period: Period;
  from: string;
  to: string;
  horizon: number;
  alpha?: number;
  beta?: number;
}

/** Where reorder suggestions get what procurement knows (its index, wired in routes). */
export interface ProcurementSource {
  /** The supplier and lead time of a SKU (the supplier of its latest PO line at the site), if known. */
  supplierOf?(site: string, sku: string): Promise<{ supplier: string; leadTimeDays: number } | undefined>;
  /** Open PO quantity not yet received, thousandths. */
  onOrder?(site: string, sku: string): Promise<number>;
}

const DAY = 86_400_000;
const isoDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** The window when `from`/`to` are not given: the last 26 weeks, or the last 90 days, up to today. */
export function defaultWindow(period: Period, now = Date.now()): { from: string; to: string } {
  const to = isoDay(now);
  return { from: isoDay(now - (period === 'week' ? 26 * 7 - 1 : 89) * DAY), to };
}

export async function forecastOf(db: Db, q: ForecastQuery) {
  const lo = Date.parse(`${q.from}T00:00:00Z`);
  const hi = Date.parse(`${q.to}T00:00:00Z`) + DAY;
  const events = (await issueHistory(db.kysely, q.site, q.sku, lo, hi)).map((e) => ({ ts: e.ts, qty: fromMilli(e.milli) }));
  const { starts, series } = bucket(events, q.from, q.to, q.period);
  const f = forecast(series, { ...(q.alpha !== undefined ? { alpha: q.alpha } : {}), ...(q.beta !== undefined ? { beta: q.beta } : {}) });
  return {
    site: q.site,
    sku: q.sku,
    period: q.period,
    from: q.from,
    to: q.to,
    horizon: q.horizon,
    class: f.class,
    adi: Number.isFinite(f.adi) ? f.adi : null,
    cv2: f.cv2,
    method: f.method,
    perPeriod: f.perPeriod,
    methods: f.methods,
    alpha: f.alpha,
    beta: f.beta,
    fitted: f.fitted,
    total: f.perPeriod * q.horizon,
    sigma: demandSigma(series),
    history: starts.map((start, i) => ({ start, qty: series[i]! })),
  };
}

export interface ReorderQuery {
  site: string;
  period: Period;
  from: string;
  to: string;
  serviceLevel: number;
}

export async function reorderSuggestions(db: Db, q: ReorderQuery, proc: ProcurementSource = {}) {
  const lo = Date.parse(`${q.from}T00:00:00Z`);
  const hi = Date.parse(`${q.to}T00:00:00Z`) + DAY;
  const periodDays = q.period === 'week' ? 7 : 1;
  const items = [];
  for (const { sku, onHand } of await issuedSkus(db.kysely, q.site, lo, hi)) {
    const f = await forecastOf(db, { site: q.site, sku, period: q.period, from: q.from, to: q.to, horizon: 1 });
    const sup = await proc.supplierOf?.(q.site, sku);
    const leadTimeDays = sup?.leadTimeDays ?? DEFAULT_LEAD_TIME_DAYS;
    const onOrder = fromMilli((await proc.onOrder?.(q.site, sku)) ?? 0);
    const s = reorderSuggestion({ perPeriod: f.perPeriod, sigma: f.sigma, leadTimePeriods: leadTimeDays / periodDays, serviceLevel: q.serviceLevel, onHand: fromMilli(onHand), onOrder });
    // Quantities to order are whole thousandths, rounded up (never order less than suggested).
    const up = (x: number) => Math.ceil(x * 1000 - 1e-6) / 1000;
    items.push({
      sku,
      class: f.class,
      method: f.method,
      perPeriod: f.perPeriod,
      sigma: f.sigma,
      ...(sup ? { supplier: sup.supplier } : {}),
      leadTimeDays,
      leadTimeSource: sup ? 'supplier' : 'default',
      serviceLevel: q.serviceLevel,
      onHand: fromMilli(onHand),
      onOrder,
      demandOverLeadTime: s.demandOverLeadTime,
      safetyStock: s.safetyStock,
      reorderPoint: s.reorderPoint,
      suggestedQty: up(s.suggestedQty),
    });
  }
  return { site: q.site, period: q.period, from: q.from, to: q.to, serviceLevel: q.serviceLevel, items };
}
