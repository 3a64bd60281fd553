/*
 * Why one file (over 400 lines): the alert engine is one state machine over stock levels, expiry,
 * edges and devices (evaluate, open, resolve, enqueue in one transaction); the pure rules already
 * live in rules.ts, and what is left is the one loop that owns the engine's timers and cursors.
 */
import type { Logger } from 'pino';
import { monotonicFactory } from 'ulid';
import { type DeviceHealth, EdgeStatusDetails, Telemetry, parseEdgeTopic } from '../../protocols/mqtt/index.js';
import type { z } from 'zod';
import type { CommitResult, Store } from '../store/store.js';
import { type Alert, type AlertStore, DEVICE_ALERT_TYPES, EXPIRY_ALERT_TYPES, type Levels, STOCK_ALERT_TYPES } from './alert-store.js';
import { alertEvent } from './events.js';
import { MovementFeed } from './movement-feed.js';
import {
  type HealthThresholds,
  type Subject,
  batchesOf,
  decide,
  expirySubjects,
  statusSubjects,
  stockSubjects,
  telemetrySubjects,
  DRIFT_METRIC,
} from './rules.js';

export interface AlertEngineOptions {
  /** Near-expiry window for items without their own `nearExpiryDays`. Default 30. */
  nearExpiryDays?: number;
  /** `outbox-backlog` threshold, movements. Default 10000. */
  backlogThreshold?: number;
  /** `scale-drift` threshold, kg. Default 0.05. */
  driftThresholdKg?: number;
  /** Near-expiry sweep period, ms. Default 60000. */
  expiryIntervalMs?: number;
  /** Commits are collected this long before their (site, sku) pairs are evaluated together, ms. Default 250. */
  coalesceMs?: number;
  /** `movements.applied`: hold back rows applied less than this long ago (competing ingesters). Default 0. */
  movementSettleMs?: number;
  /**
   * Caps per edge (issue 8, finding 5: one status and one telemetry message listing 5,000 fake
   * devices opened 10,000 alerts). Devices an edge may have: learnt from what it reports, up to
   * this many (its configured devices; default 64). Telemetry metrics read per message (default
   * 256). Device alerts open at once per edge (default 100). Excess is counted in `capStats` and
   * logged once per edge as a warning, never turned into alerts.
   */
  maxDevicesPerEdge?: number;
  maxTelemetryKeys?: number;
  maxOpenAlertsPerEdge?: number;
  now?: () => Date;
}

/**
 * A (site, sku) to evaluate. `expiry: false` says no movement behind it carried an expiry date,
 * so its batches need reading only if a near-expiry alert is open (to resolve it); absent means
 * unknown (start-up, levels changed): read them.
 */
type Pair = { site: string; sku: string; expiry?: boolean };
const isExpiryType = (t: string) => (EXPIRY_ALERT_TYPES as readonly string[]).includes(t);
const pairKey = (p: Pair) => `${p.site}\u0000${p.sku}`;

/**
 * Holds the rules (`rules.ts`) and applies their decisions through the AlertStore. Evaluates:
 * - after ledger commits, the (site, sku) pairs they changed (collected for `coalesceMs`, 250 ms);
 * - when levels are PUT;
 * - on start, every item with levels (an alert missed by a crash between commit and evaluation
 *   is raised now), plus the near-expiry sweep, which then repeats on a timer;
 * - on every edge status and telemetry message.
 * All evaluations run one at a time, so two of them never race on the same alert. Every change is
 * queued in the store with its notifications before `notify` wakes the dispatcher.
 */
export class AlertEngine {
  private readonly o: Required<Omit<AlertEngineOptions, 'now'>>;
  private readonly now: () => Date;
  private readonly newId = monotonicFactory();
  private readonly thresholds: HealthThresholds;
  private readonly feed: MovementFeed;
  private tail: Promise<void> = Promise.resolve();
  private pending = new Map<string, Pair>();
  private roundTimer: NodeJS.Timeout | undefined;
  private roundQueued = false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Per edge (`site/edge`): its known devices, and which caps were already reported. */
  private readonly edges = new Map<string, { devices: Set<string>; warned: Set<string> }>();
  /** What the per-edge caps left out (never alerts): devices, telemetry metrics, alerts not opened. */
  readonly capStats = { devicesIgnored: 0, metricsIgnored: 0, alertsNotOpened: 0 };

  constructor(
    private readonly ledger: Store,
    private readonly alerts: AlertStore,
    private readonly log: Logger,
    /** Called after something was queued for delivery (the dispatcher's kick). */
    private readonly notify: () => void,
    opts: AlertEngineOptions = {},
  ) {
    this.o = {
      nearExpiryDays: opts.nearExpiryDays ?? 30,
      backlogThreshold: opts.backlogThreshold ?? 10_000,
      driftThresholdKg: opts.driftThresholdKg ?? 0.05,
      expiryIntervalMs: opts.expiryIntervalMs ?? 60_000,
      movementSettleMs: opts.movementSettleMs ?? 0,
      coalesceMs: opts.coalesceMs ?? 250,
      maxDevicesPerEdge: opts.maxDevicesPerEdge ?? 64,
      maxTelemetryKeys: opts.maxTelemetryKeys ?? 256,
      maxOpenAlertsPerEdge: opts.maxOpenAlertsPerEdge ?? 100,
    };
    this.now = opts.now ?? (() => new Date());
    this.thresholds = { backlog: this.o.backlogThreshold, driftKg: this.o.driftThresholdKg };
    this.feed = new MovementFeed(ledger, alerts, log, notify, () => this.newId(), this.o.movementSettleMs, this.now);
  }

  /** Startup evaluation, then the near-expiry timer. */
  async start(): Promise<void> {
    await this.feed.start();
    await this.run(async () => {
      const items = await this.alerts.listLevels();
      await this.evaluatePairs(items);
      await this.sweepExpiry();
    });
    this.timer = setInterval(() => void this.run(() => this.sweepExpiry()), this.o.expiryIntervalMs);
    this.timer.unref();
  }

  /** The ingester's onCommit: evaluate the changed pairs soon, and feed `movements.applied`. */
  onCommit(result: CommitResult): void {
    if (this.stopped) return;
    if (result.batches.some((b) => b.applied > 0)) this.feed.changed();
    if (result.changed.length === 0) return;
    for (const p of result.changed) {
      const k = pairKey(p);
      // Coalesced pairs keep any expiry seen in this round.
      this.pending.set(k, { site: p.site, sku: p.sku, expiry: p.expiry === true || this.pending.get(k)?.expiry === true });
    }
    if (this.roundTimer || this.roundQueued) return;
    this.roundTimer = setTimeout(() => void this.flushRound(), this.o.coalesceMs);
  }

  /**
   * Queue one evaluation round for the pairs collected so far. At most one round waits while
   * another runs, and pairs keep joining it until it starts: under load the rounds get larger,
   * not more numerous.
   */
  private flushRound(): Promise<void> {
    clearTimeout(this.roundTimer);
    this.roundTimer = undefined;
    this.roundQueued = true;
    return this.run(async () => {
      this.roundQueued = false;
      const pairs = [...this.pending.values()];
      this.pending = new Map();
      await this.evaluatePairs(pairs);
    });
  }

  /** Levels of an item were set: evaluate it now (resolves when done). */
  levelsChanged(site: string, sku: string): Promise<void> {
    return this.run(() => this.evaluatePairs([{ site, sku }]));
  }

  /** Run the near-expiry sweep now (tests; the timer does it every `expiryIntervalMs`). */
  sweep(): Promise<void> {
    return this.run(() => this.sweepExpiry());
  }

  /** Handler for `stockgate/v1/+/+/status`. Invalid messages are logged at debug and ignored. */
  onStatus = (topic: string, payload: Buffer): void => {
    const s = this.parse(topic, payload, 'status', EdgeStatusDetails);
    if (!s) return;
    if (s.devices) s.devices = this.knownDevices(s.site, s.edge, s.devices);
    void this.run(() => this.reconcileHealth(s.site, s.edge, statusSubjects(s, this.thresholds)));
  };

  /** Handler for `stockgate/v1/+/+/telemetry`. */
  onTelemetry = (topic: string, payload: Buffer): void => {
    const m = this.parse(topic, payload, 'telemetry', Telemetry);
    if (!m) return;
    if (m.devices) m.devices = this.knownDevices(m.site, m.edge, m.devices);
    const keys = Object.keys(m.metrics);
    if (keys.length > this.o.maxTelemetryKeys) {
      this.capStats.metricsIgnored += keys.length - this.o.maxTelemetryKeys;
      this.capWarning(m.site, m.edge, 'telemetry-keys', { keys: keys.length, limit: this.o.maxTelemetryKeys });
      m.metrics = Object.fromEntries(keys.slice(0, this.o.maxTelemetryKeys).map((k) => [k, m.metrics[k]!]));
    }
    // A drift metric names a device: only known ones (or new ones within the cap) count.
    for (const k of Object.keys(m.metrics)) {
      const dev = DRIFT_METRIC.exec(k)?.[1];
      if (dev !== undefined && !this.isKnownDevice(m.site, m.edge, dev)) {
        this.capStats.metricsIgnored++;
        delete m.metrics[k];
      }
    }
    void this.run(() => this.reconcileHealth(m.site, m.edge, telemetrySubjects(m, this.thresholds)));
  };

  private edgeState(site: string, edge: string): { devices: Set<string>; warned: Set<string> } {
    const key = `${site}/${edge}`;
    let e = this.edges.get(key);
    if (!e) {
      // Bounded too: with --insecure anyone may invent edges; forgetting one only re-learns it.
      if (this.edges.size >= 100_000) this.edges.clear();
      e = { devices: new Set(), warned: new Set() };
      this.edges.set(key, e);
    }
    return e;
  }

  /** True for a device this edge reported before, or a new one while the edge is under its cap. */
  private isKnownDevice(site: string, edge: string, id: string): boolean {
    const e = this.edgeState(site, edge);
    if (e.devices.has(id)) return true;
    if (e.devices.size >= this.o.maxDevicesPerEdge) {
      this.capStats.devicesIgnored++;
      this.capWarning(site, edge, 'devices', { device: id, limit: this.o.maxDevicesPerEdge });
      return false;
    }
    e.devices.add(id);
    return true;
  }

  private knownDevices(site: string, edge: string, devices: readonly DeviceHealth[]): DeviceHealth[] {
    return devices.filter((d) => this.isKnownDevice(site, edge, d.id));
  }

  /** Once per edge and cap: a warning in the log (the counters keep counting). */
  private capWarning(site: string, edge: string, cap: 'devices' | 'telemetry-keys' | 'open-alerts', details: Record<string, unknown>): void {
    const e = this.edgeState(site, edge);
    if (e.warned.has(cap)) return;
    e.warned.add(cap);
    this.log.warn({ site, edge, cap, ...details, capStats: { ...this.capStats } }, `edge over its ${cap} cap: the excess is counted and ignored, not alerted`);
  }

  /** Wait for what is running, stop the timer and the movement feed. */
  async stop(): Promise<void> {
    // The pairs of commits already made are still evaluated.
    if (this.roundTimer) void this.flushRound();
    this.stopped = true;
    clearInterval(this.timer);
    await this.tail;
    await this.feed.stop();
  }

  /** Wait until every evaluation queued so far is done (tests). */
  async idle(): Promise<void> {
    if (this.roundTimer) await this.flushRound();
    await this.tail;
    await this.feed.idle();
  }

  private run(fn: () => Promise<void>): Promise<void> {
    // After stop, nothing new starts (the store is about to close); what was queued finishes.
    if (this.stopped) return this.tail;
    const p = this.tail.then(async () => {
      try {
        await fn();
      } catch (err) {
        this.log.error({ err: (err as Error).message }, 'alert evaluation failed');
      }
    });
    this.tail = p;
    return p;
  }

  private parse<S extends z.ZodType<{ site: string; edge: string }>>(topic: string, payload: Buffer, channel: 'status' | 'telemetry', schema: S): z.infer<S> | undefined {
    const t = parseEdgeTopic(topic);
    let body: unknown;
    try {
      body = JSON.parse(payload.toString('utf8'));
    } catch {
      this.log.debug({ topic }, `${channel}: not JSON; ignored`);
      return undefined;
    }
    const r = schema.safeParse(body);
    if (!t || t.channel !== channel || !r.success || r.data.site !== t.site || r.data.edge !== t.edge) {
      this.log.debug({ topic, issue: r.success ? 'site/edge differ from the topic' : r.error.issues[0]?.message }, `${channel}: invalid; ignored`);
      return undefined;
    }
    return r.data;
  }

  /**
   * On hand per (site, sku) for the level rules, never adding units (issue 9, C2): the total in
   * the item master's uom; for a SKU unknown to the master, its only uom. A SKU with stock in
   * several units and no master record is not evaluated (its levels have no unit to compare).
   */
  private async stockInBaseUnit(pairs: Array<{ site: string; sku: string }>): Promise<Map<string, number>> {
    const byPair = new Map<string, Array<{ uom: string; onHand: number }>>();
    for (const t of await this.ledger.totals({ pairs })) {
      const k = pairKey(t);
      byPair.set(k, [...(byPair.get(k) ?? []), { uom: t.uom, onHand: t.onHand }]);
    }
    const out = new Map<string, number>();
    for (const [k, rows] of byPair) {
      if (rows.length === 1) {
        out.set(k, rows[0]!.onHand);
        continue;
      }
      const sku = k.slice(k.indexOf('\u0000') + 1);
      const base = (await this.ledger.item(sku))?.uom;
      const row = rows.find((r) => r.uom === base);
      if (row) out.set(k, row.onHand);
    }
    return out;
  }

  private today(): string {
    return this.now().toISOString().slice(0, 10);
  }

  /**
   * Stock-level and near-expiry alerts of the given items. Runs after every commit, so it is
   * batched: open alerts once per site, levels in one read (`levelsOf`), totals once for
   * the items that have levels or an open level alert, and one balance query per item whose
   * batches may matter (near-expiry). It yields to the
   * event loop between chunks, so a commit touching thousands of SKUs does not stall ingestion.
   */
  private async evaluatePairs(pairs: readonly Pair[]): Promise<void> {
    if (pairs.length === 0) return;
    const open = new Map<string, Alert[]>();
    for (const site of new Set(pairs.map((p) => p.site))) {
      for (const a of await this.alerts.openAlerts({ site, types: STOCK_ALERT_TYPES })) {
        const k = pairKey({ site: a.site, sku: a.sku! });
        open.set(k, [...(open.get(k) ?? []), a]);
      }
    }
    const levels = new Map<string, Levels>();
    for (const l of await this.alerts.levelsOf(pairs)) levels.set(pairKey(l), l);
    const ruled = pairs.filter((p) => levels.has(pairKey(p)) || open.get(pairKey(p))?.some((a) => !isExpiryType(a.type)));
    const isRuled = new Set(ruled.map(pairKey));
    const totals = ruled.length ? await this.stockInBaseUnit(ruled) : new Map<string, number>();
    const today = this.today();
    for (const [i, p] of pairs.entries()) {
      if (i > 0 && i % 100 === 0) await new Promise((r) => setImmediate(r));
      const k = pairKey(p);
      const l = levels.get(k);
      const mine = open.get(k) ?? [];
      const window = l?.nearExpiryDays ?? this.o.nearExpiryDays;
      const openExpiry = mine.filter((a) => isExpiryType(a.type)).map((a) => ({ site: a.site, sku: a.sku!, batch: a.batch ?? '' }));
      // The ingest hot path calls this for every changed SKU: read its batches only when an expiry
      // may have entered (a movement carried one) or an open near-expiry alert may resolve.
      const readBatches = p.expiry !== false || openExpiry.length > 0;
      const subjects = [
        ...(isRuled.has(k) ? stockSubjects(p.site, p.sku, l, totals.get(k)) : []),
        ...(readBatches ? expirySubjects(batchesOf(await this.ledger.stock({ site: p.site, sku: p.sku })), () => window, today, openExpiry) : []),
      ];
      await this.reconcile(subjects, mine);
    }
  }

  /** Every batch with an expiry, and every open near-expiry alert, against the window. */
  private async sweepExpiry(): Promise<void> {
    const [rows, levels, open] = await Promise.all([this.ledger.stock({}), this.alerts.listLevels(), this.alerts.openAlerts({ types: EXPIRY_ALERT_TYPES })]);
    const windows = new Map(levels.filter((l) => l.nearExpiryDays !== undefined).map((l) => [pairKey(l), l.nearExpiryDays!]));
    const batches = batchesOf(rows).filter((b) => b.expiry !== null);
    const subjects = expirySubjects(
      batches,
      (site, sku) => windows.get(pairKey({ site, sku })) ?? this.o.nearExpiryDays,
      this.today(),
      open.map((a) => ({ site: a.site, sku: a.sku!, batch: a.batch ?? '' })),
    );
    await this.reconcile(subjects, open);
  }

  private async reconcileHealth(site: string, edge: string, subjects: Subject[]): Promise<void> {
    const open = await this.alerts.openAlerts({ site, edge, types: DEVICE_ALERT_TYPES });
    await this.reconcile(subjects, open, { site, edge, room: this.o.maxOpenAlertsPerEdge - open.length });
  }

  /** Apply each subject's decision against the open alerts. */
  private async reconcile(subjects: readonly Subject[], open: readonly Alert[], edgeCap?: { site: string; edge: string; room: number }): Promise<void> {
    const byKey = new Map(open.map((a) => [`${a.type}\u0000${a.site}\u0000${a.key}`, a]));
    let changed = false;
    let room = edgeCap?.room ?? Infinity;
    for (const s of subjects) {
      const current = byKey.get(`${s.type}\u0000${s.site}\u0000${s.key}`);
      switch (decide(s.condition, current !== undefined)) {
        case 'open': {
          if (room <= 0) {
            this.capStats.alertsNotOpened++;
            this.capWarning(edgeCap!.site, edgeCap!.edge, 'open-alerts', { limit: this.o.maxOpenAlertsPerEdge });
            break;
          }
          room--;
          const at = this.now().toISOString();
          const c = s.condition as { value?: number; threshold?: number };
          const alert: Alert = {
            id: this.newId(),
            type: s.type,
            site: s.site,
            key: s.key,
            ...(s.sku === undefined ? {} : { sku: s.sku }),
            ...(s.batch === undefined ? {} : { batch: s.batch }),
            ...(s.edge === undefined ? {} : { edge: s.edge }),
            ...(s.device === undefined ? {} : { device: s.device }),
            ...(s.project === undefined ? {} : { project: s.project }),
            ...(c.value === undefined ? {} : { value: c.value }),
            ...(c.threshold === undefined ? {} : { threshold: c.threshold }),
            state: 'open',
            raisedAt: at,
            resolvedAt: null,
            ackedAt: null,
            ackedBy: null,
          };
          if (await this.alerts.openAlert(alert, alertEvent(alert, 'opened', this.newId()))) {
            changed = true;
            this.log.info({ alert: alert.id, type: alert.type, site: alert.site, key: alert.key, value: alert.value, threshold: alert.threshold }, 'alert opened');
          }
          break;
        }
        case 'resolve': {
          const a = current!;
          const resolvedAt = this.now().toISOString();
          if (await this.alerts.resolveAlert(a.id, resolvedAt, alertEvent({ ...a, state: 'resolved', resolvedAt }, 'resolved', this.newId()))) {
            changed = true;
            this.log.info({ alert: a.id, type: a.type, site: a.site, key: a.key }, 'alert resolved');
          }
          break;
        }
        case 'none':
          break;
      }
    }
    if (changed) this.notify();
  }
}
