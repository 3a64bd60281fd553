/**
 * Demand forecasting for reorder suggestions: pure functions over a per-period demand series
 * (issue 11, "Forecast and reorder suggestions").
 *
 * Construction-site demand is intermittent: a SKU is issued in a few periods and not at all in
 * most. Simple exponential smoothing (SES) over such a series chases the zeros; Croston (1972)
 * smooths the demand size and the interval separately, SBA (Syntetos & Boylan 2005) removes
 * Croston's bias, TSB (Teunter, Syntetos & Babai 2011) smooths the demand probability every
 * period so that obsolete items decay. No npm package implements them (see
 * shared/reference/business-domain.md), so they are written here, with these conventions fixed
 * so that results are reproducible (they are the issue's; this folder's README repeats them):
 *
 * - ADI = periods / non-zero periods; CV² = (population standard deviation / mean)² of the
 *   non-zero sizes; class cut-offs ADI 1.32, CV² 0.49 (Syntetos, Boylan & Croston 2005).
 * - SES starts at the first value and updates at every later period.
 * - Croston: z₀ = the first non-zero demand, p₀ = its 1-based position; z and p update only at
 *   later demands, with q = periods since the previous demand; forecast = z/p;
 *   SBA = (1 − β/2)·z/p.
 * - TSB: z₀ = the first non-zero demand, p₀ = the share of non-zero periods; p updates every
 *   period (towards 1 at a demand, towards 0 otherwise), z at each demand after the first;
 *   forecast = p·z.
 * - α smooths the demand size (and the SES level), β the interval (Croston, SBA) or the
 *   probability (TSB).
 */

export type DemandClass = 'smooth' | 'intermittent' | 'erratic' | 'lumpy';
export type ForecastMethod = 'ses' | 'croston' | 'sba' | 'tsb';

/** Syntetos–Boylan cut-offs. */
export const ADI_CUTOFF = 1.32;
export const CV2_CUTOFF = 0.49;

/** Average inter-demand interval: periods per non-zero period (Infinity when there is no demand). */
export function adi(series: readonly number[]): number {
  const nonZero = series.filter((d) => d !== 0).length;
  return nonZero === 0 ? Infinity : series.length / nonZero;
}

/** Squared coefficient of variation of the non-zero demand sizes (population standard deviation). */
export function cv2(series: readonly number[]): number {
  const sizes = series.filter((d) => d !== 0);
  if (sizes.length === 0) return 0;
  const mean = sizes.reduce((a, b) => a + b, 0) / sizes.length;
  const variance = sizes.reduce((a, b) => a + (b - mean) ** 2, 0) / sizes.length;
  return variance / (mean * mean);
}

/** The Syntetos–Boylan quadrant. A cut-off value itself counts as the higher side. */
export function classify(adiValue: number, cv2Value: number): DemandClass {
  const sparse = adiValue >= ADI_CUTOFF;
  const variable = cv2Value >= CV2_CUTOFF;
  if (sparse) return variable ? 'lumpy' : 'intermittent';
  return variable ? 'erratic' : 'smooth';
}

/**
 * The method each class uses: SES for smooth and erratic demand (demand in most periods), SBA for
 * intermittent demand (Croston without its upward bias), TSB for lumpy demand (it follows a
 * falling demand probability, where Croston keeps forecasting an item nobody uses any more).
 */
export const METHOD_OF: Readonly<Record<DemandClass, ForecastMethod>> = {
  smooth: 'ses',
  erratic: 'ses',
  intermittent: 'sba',
  lumpy: 'tsb',
};

/** SES level after the last period; 0 for an empty series. */
export function ses(series: readonly number[], alpha: number): number {
  if (series.length === 0) return 0;
  let level = series[0]!;
  for (let t = 1; t < series.length; t++) level += alpha * (series[t]! - level);
  return level;
}

/** Croston's size and interval estimates after the last period; undefined when there was no demand. */
export function crostonState(series: readonly number[], alpha: number, beta: number): { z: number; p: number } | undefined {
  let z: number | undefined;
  let p = 0;
  let last = -1;
  for (let t = 0; t < series.length; t++) {
    const d = series[t]!;
    if (d === 0) continue;
    if (z === undefined) {
      z = d;
      p = t + 1; // 1-based position of the first demand
    } else {
      z += alpha * (d - z);
      p += beta * (t - last - p);
    }
    last = t;
  }
  return z === undefined ? undefined : { z, p };
}

/** Croston's per-period forecast z/p (0 without demand). */
export function croston(series: readonly number[], alpha: number, beta: number): number {
  const s = crostonState(series, alpha, beta);
  return s ? s.z / s.p : 0;
}

/** Syntetos–Boylan approximation: Croston times (1 − β/2). */
export function sba(series: readonly number[], alpha: number, beta: number): number {
  return (1 - beta / 2) * croston(series, alpha, beta);
}

/** TSB per-period forecast p·z (0 without demand). */
export function tsb(series: readonly number[], alpha: number, beta: number): number {
  const first = series.findIndex((d) => d !== 0);
  if (first < 0) return 0;
  let z = series[first]!;
  let p = series.filter((d) => d !== 0).length / series.length;
  for (let t = 0; t < series.length; t++) {
    const d = series[t]!;
    if (d !== 0) {
      p += beta * (1 - p);
      if (t !== first) z += alpha * (d - z);
    } else {
      p += beta * (0 - p);
    }
  }
  return p * z;
}

export function methodForecast(method: ForecastMethod, series: readonly number[], alpha: number, beta: number): number {
  switch (method) {
    case 'ses':
      return ses(series, alpha);
    case 'croston':
      return croston(series, alpha, beta);
    case 'sba':
      return sba(series, alpha, beta);
    case 'tsb':
      return tsb(series, alpha, beta);
  }
}

/** The grid fitted parameters are searched on: 0.05 to 0.50 in steps of 0.05 (stated, reproducible). */
export const PARAM_GRID: readonly number[] = Array.from({ length: 10 }, (_, i) => (i + 1) * 5 / 100);

/**
 * Mean squared one-step-ahead error of a method over the series: the forecast made from periods
 * [0, t) is compared with period t, for every t from 1 on (the first period has no forecast).
 */
export function oneStepMse(method: ForecastMethod, series: readonly number[], alpha: number, beta: number): number {
  if (series.length < 2) return 0;
  let sum = 0;
  for (let t = 1; t < series.length; t++) {
    const f = methodForecast(method, series.slice(0, t), alpha, beta);
    sum += (series[t]! - f) ** 2;
  }
  return sum / (series.length - 1);
}

/** α (and β) minimising the one-step MSE on PARAM_GRID; ties go to the smaller values (smoother). */
export function fitParams(method: ForecastMethod, series: readonly number[]): { alpha: number; beta: number } {
  let best = { alpha: PARAM_GRID[0]!, beta: PARAM_GRID[0]!, mse: Infinity };
  const betas = method === 'ses' ? [PARAM_GRID[0]!] : PARAM_GRID;
  for (const alpha of PARAM_GRID) {
    for (const beta of betas) {
      const mse = oneStepMse(method, series, alpha, beta);
      if (mse < best.mse - 1e-12) best = { alpha, beta, mse };
    }
  }
  return { alpha: best.alpha, beta: best.beta };
}

export interface ForecastResult {
  class: DemandClass;
  adi: number;
  cv2: number;
  method: ForecastMethod;
  /** The chosen method's forecast per period. */
  perPeriod: number;
  methods: Record<ForecastMethod, number>;
  alpha: number;
  beta: number;
  /** True when α and β were fitted (not stated by the caller). */
  fitted: boolean;
}

/**
 * Classify the series, pick the class's method and forecast with every method. Parameters the
 * caller states are used as they are; missing ones are fitted for the chosen method.
 */
export function forecast(series: readonly number[], stated: { alpha?: number; beta?: number } = {}): ForecastResult {
  const a = adi(series);
  const c = cv2(series);
  const cls = classify(a, c);
  const method = METHOD_OF[cls];
  const fittedParams = stated.alpha === undefined || stated.beta === undefined ? fitParams(method, series) : undefined;
  const alpha = stated.alpha ?? fittedParams!.alpha;
  const beta = stated.beta ?? fittedParams!.beta;
  const methods = {
    ses: ses(series, alpha),
    croston: croston(series, alpha, beta),
    sba: sba(series, alpha, beta),
    tsb: tsb(series, alpha, beta),
  };
  return { class: cls, adi: a, cv2: c, method, perPeriod: methods[method], methods, alpha, beta, fitted: fittedParams !== undefined };
}

/**
 * Inverse of the standard normal CDF (Acklam's rational approximation, relative error < 1.15e-9),
 * for the safety factor z of a service level.
 */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`service level must be in (0, 1), got ${p}`);
  const a = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
  const b = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
  const c = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  const lo = 0.02425;
  if (p < lo) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) / ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1);
  }
  if (p > 1 - lo) return -normalQuantile(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return ((((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q) / (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1);
}

/** Population standard deviation of the per-period demand (the σ of the reorder point). */
export function demandSigma(series: readonly number[]): number {
  if (series.length === 0) return 0;
  const mean = series.reduce((a, b) => a + b, 0) / series.length;
  return Math.sqrt(series.reduce((a, b) => a + (b - mean) ** 2, 0) / series.length);
}

export interface ReorderInput {
  /** Forecast demand per period. */
  perPeriod: number;
  /** σ of the per-period demand. */
  sigma: number;
  /** Supplier lead time in periods. */
  leadTimePeriods: number;
  /** Cycle service level in (0, 1), e.g. 0.95. */
  serviceLevel: number;
  onHand: number;
  /** Open purchase quantity not yet received. */
  onOrder?: number;
}

export interface ReorderSuggestion {
  demandOverLeadTime: number;
  safetyStock: number;
  reorderPoint: number;
  /** 0 when the inventory position is above the reorder point. */
  suggestedQty: number;
}

/**
 * Reorder point = forecast over the lead time + z·σ·√(lead time) (business-domain.md); the
 * suggestion brings the inventory position (on hand + on order) up to the reorder point plus one
 * lead time of demand, so an order covers the next cycle too.
 */
export function reorderSuggestion(i: ReorderInput): ReorderSuggestion {
  const z = normalQuantile(i.serviceLevel);
  const demandOverLeadTime = i.perPeriod * i.leadTimePeriods;
  const safetyStock = Math.max(0, z * i.sigma * Math.sqrt(i.leadTimePeriods));
  const reorderPoint = demandOverLeadTime + safetyStock;
  const position = i.onHand + (i.onOrder ?? 0);
  const suggestedQty = position <= reorderPoint ? Math.max(0, reorderPoint + demandOverLeadTime - position) : 0;
  return { demandOverLeadTime, safetyStock, reorderPoint, suggestedQty };
}

export type Period = 'day' | 'week';

/** Start of the UTC day, or of the ISO week (Monday), holding `ms`. */
export function periodStart(ms: number, period: Period): number {
  const day = Math.floor(ms / 86_400_000) * 86_400_000;
  if (period === 'day') return day;
  const dow = (new Date(day).getUTCDay() + 6) % 7; // Monday = 0
  return day - dow * 86_400_000;
}

/**
 * Demand per period between `from` and `to` (ISO dates, inclusive, UTC), from issue events; a
 * period with no issue counts as 0. Events outside the window are ignored.
 */
export function bucket(events: ReadonlyArray<{ ts: string; qty: number }>, from: string, to: string, period: Period): { starts: string[]; series: number[] } {
  const first = periodStart(Date.parse(`${from}T00:00:00Z`), period);
  const endExclusive = Date.parse(`${to}T00:00:00Z`) + 86_400_000;
  const step = period === 'day' ? 86_400_000 : 7 * 86_400_000;
  const starts: string[] = [];
  for (let t = first; t < endExclusive; t += step) starts.push(new Date(t).toISOString().slice(0, 10));
  // Summed in integer thousandths (quantities have 3 decimals at most) so 0.1 + 0.2 stays 0.3.
  const milli = starts.map(() => 0);
  const lo = Date.parse(`${from}T00:00:00Z`);
  for (const e of events) {
    const t = Date.parse(e.ts);
    if (!(t >= lo && t < endExclusive)) continue;
    const i = Math.floor((periodStart(t, period) - first) / step);
    milli[i]! += Math.round(e.qty * 1000);
  }
  return { starts, series: milli.map((m) => m / 1000) };
}
