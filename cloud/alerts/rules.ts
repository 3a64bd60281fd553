/**
 * The alert rules, as pure functions: given what is measured now and whether an alert is open,
 * open one, resolve it, or do nothing. No I/O, no clock: the engine passes `today` and the values.
 *
 * Every rule reduces to a {@link Condition} of one subject (an item, a batch, an edge, a device):
 * - `breached`: the alert should be open;
 * - `clear`: it should not be (past the hysteresis band);
 * - `hold`: in between (inside the hysteresis band) or not measurable: keep whatever is.
 * {@link decide} turns a condition and the open alert into the action. One mechanism for all
 * types, so "one open alert at a time" and hysteresis behave the same everywhere.
 */
import type { EdgeStatus, Telemetry } from '../../protocols/mqtt/index.js';
import type { AlertType, Levels } from './alert-store.js';

export type Condition =
  | { state: 'breached'; value?: number; threshold?: number }
  | { state: 'clear' }
  | { state: 'hold' };

export type Decision = 'open' | 'resolve' | 'none';

/** Open when breached and nothing is open; resolve when clear and one is open; else nothing. */
export function decide(c: Condition, open: boolean): Decision {
  if (c.state === 'breached') return open ? 'none' : 'open';
  if (c.state === 'clear') return open ? 'resolve' : 'none';
  return 'none';
}

/**
 * When a value breaches a threshold. The clear side lies `hysteresis` further away, so a value
 * wobbling around the threshold does not open and resolve alerts in a loop:
 *
 * ```
 * below:       breached  value <  t     clear  value >= t + h
 * at-or-below: breached  value <= t     clear  value >  t + h
 * above:       breached  value >  t     clear  value <= t - h
 * ```
 */
export type Direction = 'below' | 'at-or-below' | 'above';

export function compare(direction: Direction, value: number, threshold: number, hysteresis = 0): Condition {
  const h = Math.max(0, hysteresis);
  let breached: boolean;
  let clear: boolean;
  switch (direction) {
    case 'below':
      breached = value < threshold;
      clear = value >= threshold + h;
      break;
    case 'at-or-below':
      breached = value <= threshold;
      clear = value > threshold + h;
      break;
    case 'above':
      breached = value > threshold;
      clear = value <= threshold - h;
      break;
  }
  if (breached) return { state: 'breached', value, threshold };
  return clear ? { state: 'clear' } : { state: 'hold' };
}

/** A thing that may have an alert of `type`: what the engine reconciles with the open alerts. */
export interface Subject {
  type: AlertType;
  site: string;
  /** See Alert.key. */
  key: string;
  sku?: string;
  batch?: string;
  edge?: string;
  device?: string;
  /** See Alert.project. */
  project?: string;
  condition: Condition;
}

// ---- stock levels -------------------------------------------------------------------------

export interface StockRule {
  type: 'safety-stock' | 'reorder' | 'overstock';
  field: 'safetyStock' | 'reorderPoint' | 'maxStock';
  direction: Direction;
}

/** The stock-level rules: one row per alert type. */
export const STOCK_RULES: readonly StockRule[] = [
  { type: 'safety-stock', field: 'safetyStock', direction: 'below' },
  { type: 'reorder', field: 'reorderPoint', direction: 'at-or-below' },
  { type: 'overstock', field: 'maxStock', direction: 'above' },
];

/**
 * Condition of one rule for an item.
 * - `onHand` undefined means the item has no balance at the site at all (never received there):
 *   levels are often set before the first delivery, and that is not a shortage yet → hold.
 * - A threshold that is not set → clear (removing a level resolves its alert).
 */
export function stockCondition(rule: StockRule, levels: Pick<Levels, StockRule['field'] | 'hysteresis'> | undefined, onHand: number | undefined): Condition {
  if (onHand === undefined) return { state: 'hold' };
  const t = levels?.[rule.field];
  if (t === undefined) return { state: 'clear' };
  return compare(rule.direction, onHand, t, levels!.hysteresis);
}

/** The three stock-level subjects of an item. */
export function stockSubjects(site: string, sku: string, levels: Levels | undefined, onHand: number | undefined): Subject[] {
  return STOCK_RULES.map((rule) => ({ type: rule.type, site, key: sku, sku, condition: stockCondition(rule, levels, onHand) }));
}

// ---- near expiry --------------------------------------------------------------------------

/** Stock of one batch of an item at a site, summed over locations and projects. */
export interface BatchStock {
  site: string;
  sku: string;
  batch: string;
  onHand: number;
  /** Earliest expiry recorded for the batch (ISO date), or null. */
  expiry: string | null;
  /** The project all of the batch's stock (rows with stock > 0) is held for; absent when none or several. */
  project?: string;
}

/**
 * Sum balance rows per (site, sku, batch); the earliest expiry wins. A batch whose stock is all
 * held for one project carries it, so its expiry alerts reach that project's manager (issue 12 #5).
 */
export function batchesOf(rows: ReadonlyArray<{ site: string; sku: string; batch: string; onHand: number; expiry: string | null; project?: string }>): BatchStock[] {
  const out = new Map<string, BatchStock>();
  const held = new Map<string, Set<string>>();
  for (const r of rows) {
    const k = JSON.stringify([r.site, r.sku, r.batch]);
    const b = out.get(k);
    if (!b) out.set(k, { site: r.site, sku: r.sku, batch: r.batch, onHand: r.onHand, expiry: r.expiry });
    else {
      b.onHand = Math.round((b.onHand + r.onHand) * 1e6) / 1e6;
      if (r.expiry !== null && (b.expiry === null || r.expiry < b.expiry)) b.expiry = r.expiry;
    }
    if (r.onHand > 0) held.set(k, (held.get(k) ?? new Set()).add(r.project ?? ''));
  }
  for (const [k, b] of out) {
    const ps = held.get(k);
    if (ps?.size === 1) {
      const [p] = ps;
      if (p) b.project = p;
    }
  }
  return [...out.values()];
}

/** Whole days from `today` to `date` (both ISO dates); negative when past. */
export function daysUntil(today: string, date: string): number {
  return Math.round((Date.parse(`${date.slice(0, 10)}T00:00:00Z`) - Date.parse(`${today}T00:00:00Z`)) / 86_400_000);
}

/**
 * Breached when the batch has stock (> 0) and expires today or within `windowDays` after it
 * (future dates only: an expired batch is `expired`, issue 9 C8); value = days left, threshold =
 * the window. No stock or no expiry → clear.
 */
export function nearExpiryCondition(b: Pick<BatchStock, 'onHand' | 'expiry'> | undefined, windowDays: number, today: string): Condition {
  if (!b || b.onHand <= 0 || b.expiry === null) return { state: 'clear' };
  const left = daysUntil(today, b.expiry);
  return left >= 0 && left <= windowDays ? { state: 'breached', value: left, threshold: windowDays } : { state: 'clear' };
}

/** Breached when the batch has stock (> 0) and its expiry is before `today`; value = days since (negative). */
export function expiredCondition(b: Pick<BatchStock, 'onHand' | 'expiry'> | undefined, today: string): Condition {
  if (!b || b.onHand <= 0 || b.expiry === null) return { state: 'clear' };
  const left = daysUntil(today, b.expiry);
  return left < 0 ? { state: 'breached', value: left, threshold: 0 } : { state: 'clear' };
}

export const batchKey = (sku: string, batch: string) => JSON.stringify([sku, batch]);

/**
 * Near-expiry and expired subjects of the batches of one scope, plus a clear subject for every
 * batch with an open alert that no longer has a balance row (so its alert resolves).
 */
export function expirySubjects(
  batches: readonly BatchStock[],
  windowDays: (site: string, sku: string) => number,
  today: string,
  openBatches: ReadonlyArray<{ site: string; sku: string; batch: string }> = [],
): Subject[] {
  const seen = new Set<string>();
  const out: Subject[] = [];
  const add = (site: string, sku: string, batch: string, b: BatchStock | undefined) => {
    const key = batchKey(sku, batch);
    if (seen.has(`${site}\u0000${key}`)) return;
    seen.add(`${site}\u0000${key}`);
    const project = b?.project === undefined ? {} : { project: b.project };
    out.push({ type: 'near-expiry', site, key, sku, batch, ...project, condition: nearExpiryCondition(b, windowDays(site, sku), today) });
    out.push({ type: 'expired', site, key, sku, batch, ...project, condition: expiredCondition(b, today) });
  };
  for (const b of batches) add(b.site, b.sku, b.batch, b);
  for (const o of openBatches) add(o.site, o.sku, o.batch, undefined);
  return out;
}

// ---- edge and device health ---------------------------------------------------------------

export interface HealthThresholds {
  /** `outbox-backlog` opens when the unacked outbox exceeds this many movements. */
  backlog: number;
  /** `scale-drift` opens when |zero drift| exceeds this many kg. */
  driftKg: number;
}

/** Telemetry metric the edge publishes per scale: its zero drift in kg (`scale.<device>.zeroDriftKg`). */
export const DRIFT_METRIC = /^scale\.(.+)\.zeroDriftKg$/;
export const BACKLOG_METRIC = 'outbox.backlog';

export const deviceKey = (edge: string, device: string) => JSON.stringify([edge, device]);

function deviceSubjects(site: string, edge: string, devices: EdgeStatus['devices']): Subject[] {
  return (devices ?? []).map((d) => ({
    type: 'device-offline',
    site,
    key: deviceKey(edge, d.id),
    edge,
    device: d.id,
    condition: d.state === 'connected' ? { state: 'clear' } : { state: 'breached' },
  }));
}

const backlogSubject = (site: string, edge: string, backlog: number, t: HealthThresholds): Subject => ({
  type: 'outbox-backlog',
  site,
  key: edge,
  edge,
  condition: compare('above', backlog, t.backlog),
});

/**
 * Subjects of a retained status (or last will): the edge itself, each device it lists, and its
 * backlog. Devices it does not list keep their alerts (absent is not connected).
 */
export function statusSubjects(s: EdgeStatus, t: HealthThresholds): Subject[] {
  const out: Subject[] = [
    { type: 'edge-offline', site: s.site, key: s.edge, edge: s.edge, condition: s.state === 'offline' ? { state: 'breached' } : { state: 'clear' } },
    ...deviceSubjects(s.site, s.edge, s.devices),
  ];
  if (s.backlog !== undefined) out.push(backlogSubject(s.site, s.edge, s.backlog, t));
  // Only an edge that reports its problems can clear the alert (an older edge sends none).
  const problems = (s as { problems?: readonly string[] }).problems;
  if (problems !== undefined) {
    out.push({
      type: 'outbox-write-error',
      site: s.site,
      key: s.edge,
      edge: s.edge,
      condition: problems.includes(OUTBOX_WRITE_ERROR) ? { state: 'breached' } : { state: 'clear' },
    });
  }
  return out;
}

/** The edge status problem of an outbox that refuses writes (disk full, I/O error). */
export const OUTBOX_WRITE_ERROR = 'outbox-write-error';

/** Subjects of a telemetry sample: devices, `outbox.backlog`, and every `scale.<device>.zeroDriftKg`. */
export function telemetrySubjects(m: Telemetry, t: HealthThresholds): Subject[] {
  const out = deviceSubjects(m.site, m.edge, m.devices);
  for (const [name, value] of Object.entries(m.metrics)) {
    if (name === BACKLOG_METRIC) {
      out.push(backlogSubject(m.site, m.edge, value, t));
      continue;
    }
    const drift = DRIFT_METRIC.exec(name);
    if (!drift) continue;
    const c = compare('above', Math.abs(value), t.driftKg);
    out.push({
      type: 'scale-drift',
      site: m.site,
      key: deviceKey(m.edge, drift[1]!),
      edge: m.edge,
      device: drift[1]!,
      // Report the signed drift, not its magnitude.
      condition: c.state === 'breached' ? { state: 'breached', value, threshold: t.driftKg } : c,
    });
  }
  return out;
}
