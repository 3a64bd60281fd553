/**
 * Persistence of the alerts part of the cloud: stock levels per item, alerts, webhooks and the
 * outgoing delivery queue. SQLite (`sqlite.ts`, the `alerts` module of the one database) is the default;
 * PostgreSQL (`postgres.ts`) is selected with `--store postgres://...`. Both pass the same contract
 * suite (tests/contracts/alert-store.contract.ts).
 *
 * Two guarantees live here rather than in the engine, because only a transaction can give them:
 * - at most one OPEN alert per (type, site, key): `openAlert` is a no-op while one is open, even
 *   when two evaluations race (a partial unique index, not a read-then-write);
 * - an alert transition and the deliveries it causes are written in ONE transaction, before
 *   anything is sent: a crash between the two cannot lose the notification. That includes the
 *   alert channels' queues (`channels`, cloud/channels/), whose tables live in the same database.
 */
import type { ChannelStore } from '../channels/channel-store.js';
import type { RouteKey } from '../channels/model.js';

export const STOCK_ALERT_TYPES = ['safety-stock', 'reorder', 'overstock', 'near-expiry', 'expired'] as const;
/** Alerts about one batch's expiry date (issue 9, C8: expired stock has its own type). */
export const EXPIRY_ALERT_TYPES = ['near-expiry', 'expired'] as const;
/** `outbox-write-error`: the edge's outbox refuses writes (disk full, I/O error), issue 8 finding 11. */
export const DEVICE_ALERT_TYPES = ['edge-offline', 'device-offline', 'outbox-backlog', 'outbox-write-error', 'scale-drift'] as const;
export const ALERT_TYPES = [...STOCK_ALERT_TYPES, ...DEVICE_ALERT_TYPES] as const;
export type StockAlertType = (typeof STOCK_ALERT_TYPES)[number];
export type DeviceAlertType = (typeof DEVICE_ALERT_TYPES)[number];
export type AlertType = (typeof ALERT_TYPES)[number];

/** Who receives what: procurement the stock alerts, maintenance the device alerts. */
export type AlertRole = 'procurement' | 'maintenance';
/** Webhook subscriptions: an alert role, or `movements` for `movements.applied` events. */
export const WEBHOOK_ROLES = ['procurement', 'maintenance', 'movements'] as const;
export type WebhookRole = (typeof WEBHOOK_ROLES)[number];

export function roleOf(type: AlertType): AlertRole {
  return (STOCK_ALERT_TYPES as readonly string[]).includes(type) ? 'procurement' : 'maintenance';
}

/** Stock levels of one item at one site. Thresholds are in the item's unit of measure. */
export interface Levels {
  site: string;
  sku: string;
  /** `safety-stock` opens when on-hand < safetyStock. */
  safetyStock?: number;
  /** `reorder` opens when on-hand <= reorderPoint. */
  reorderPoint?: number;
  /** `overstock` opens when on-hand > maxStock. */
  maxStock?: number;
  /** How far past the threshold stock must come back before an alert resolves. Default 0. */
  hysteresis: number;
  /** Near-expiry window for this item, days; default the cloud's `--near-expiry-days`. */
  nearExpiryDays?: number;
  updatedAt: string;
}

export type LevelsInput = Omit<Levels, 'updatedAt'>;

export interface Alert {
  /** ULID: unique, and sorts by creation time (the `before` cursor). */
  id: string;
  type: AlertType;
  site: string;
  /**
   * Identity of the alerted thing within (type, site): the sku for stock levels, `sku/batch` for
   * near-expiry, the edge, or `edge/device`. At most one open alert per (type, site, key).
   */
  key: string;
  sku?: string;
  batch?: string;
  edge?: string;
  device?: string;
  /**
   * The project the alert concerns, when it concerns one: a near-expiry or expired batch whose
   * stock at the site is all held for that project. A project manager sees the alerts of its
   * projects (board and `GET /api/v1/alerts`, issue 12 #5); other alerts are site-wide.
   */
  project?: string;
  /** The measured value when raised (on-hand, days to expiry, backlog, drift kg). */
  value?: number;
  threshold?: number;
  state: 'open' | 'resolved';
  raisedAt: string;
  resolvedAt: string | null;
  ackedAt: string | null;
  ackedBy: string | null;
}

export interface AlertQuery {
  site?: string;
  /** Default `open`. */
  state?: 'open' | 'resolved' | 'all';
  type?: AlertType;
  /** Only alerts of these projects (a project manager's scope); absent = any, project or not. */
  projects?: readonly string[];
  limit: number;
  /** Alert id cursor: alerts created before it. */
  before?: string;
}

/** Open alerts matching all given fields (the engine's view of what is currently raised). */
export interface OpenAlertQuery {
  types?: readonly AlertType[];
  site?: string;
  sku?: string;
  edge?: string;
}

export interface Webhook {
  id: string;
  url: string;
  role: WebhookRole;
  /** Only events of this site; absent = every site. */
  site?: string;
  createdAt: string;
}

export interface WebhookInput {
  url: string;
  /** HMAC-SHA256 key of the signatures; stored, never returned by the API. */
  secret: string;
  role: WebhookRole;
  site?: string;
}

/**
 * One notification to send. The store turns it into one delivery per matching webhook (same role,
 * and the same site or no site) plus one MQTT delivery when `topic` is set.
 */
export interface OutgoingEvent {
  /** Unique per event; receivers deduplicate on it (`X-Stockgate-Event-Id`). */
  eventId: string;
  role: WebhookRole;
  site: string;
  /** MQTT topic (QoS 1) to publish on as well. */
  topic?: string;
  /** The JSON body, identical on every channel. */
  body: string;
  /** Alert events: what alert channels route on (cloud/channels/); absent = no channel gets it. */
  route?: RouteKey;
}

export type DeliveryState = 'pending' | 'delivered' | 'failed';

export interface Delivery {
  id: number;
  eventId: string;
  /** The webhook, or absent for an MQTT delivery. */
  webhookId?: string;
  /** MQTT topic of an MQTT delivery. */
  topic?: string;
  state: DeliveryState;
  attempts: number;
  /** When the next try is due, while pending (ISO instant). */
  nextAttemptAt: string | null;
  lastStatus: number | null;
  lastError: string | null;
  createdAt: string;
  deliveredAt: string | null;
  /** The event JSON. */
  body: string;
}

/** A delivery handed to the dispatcher, with what it needs to send it. */
export interface ClaimedDelivery {
  id: number;
  eventId: string;
  body: string;
  /** Attempts made before this one. */
  attempts: number;
  target: { kind: 'webhook'; webhookId: string; url: string; secret: string } | { kind: 'mqtt'; topic: string };
}

export type AttemptOutcome =
  | { ok: true; at: Date; status?: number }
  | {
      ok: false;
      at: Date;
      status?: number;
      error: string;
      /** When to try again; null gives up (state `failed`). */
      retryAt: Date | null;
    };

export interface CursorMove {
  name: string;
  value: number;
  expected?: number | null;
}

export interface AlertStore {
  /** Alert channels (DingTalk, Feishu, WeCom, email, webhook) and their queues, in the same database. */
  readonly channels: ChannelStore;

  putLevels(l: LevelsInput): Promise<Levels>;
  getLevels(site: string, sku: string): Promise<Levels | undefined>;
  /**
   * The levels of those of `pairs` that have some, in no particular order: one query per site
   * (SQLite) or one in all (PostgreSQL) instead of one per pair. The alert engine reads them for
   * every SKU a group commit changed (issue 14: about 6,000 single reads per 100k movements).
   */
  levelsOf(pairs: ReadonlyArray<{ site: string; sku: string }>): Promise<Levels[]>;
  /** Every item with levels (startup evaluation, expiry sweep), optionally of one site. */
  listLevels(q?: { site?: string }): Promise<Levels[]>;

  /**
   * Insert `alert` (state open) and enqueue `event`, in one transaction, unless an alert of the
   * same (type, site, key) is open already. True when this call opened it.
   */
  openAlert(alert: Alert, event: OutgoingEvent): Promise<boolean>;
  /** Resolve an open alert and enqueue `event`, in one transaction. False when it was not open. */
  resolveAlert(id: string, resolvedAt: string, event: OutgoingEvent): Promise<boolean>;
  /** Set ackedAt/ackedBy (the first ack stays); does not resolve. Undefined when there is no such alert. */
  ackAlert(id: string, by: string, at: string): Promise<Alert | undefined>;
  getAlert(id: string): Promise<Alert | undefined>;
  /** Newest first. */
  listAlerts(q: AlertQuery): Promise<Alert[]>;
  openAlerts(q: OpenAlertQuery): Promise<Alert[]>;

  addWebhook(w: WebhookInput & { id: string; createdAt: string }): Promise<Webhook>;
  getWebhook(id: string): Promise<Webhook | undefined>;
  listWebhooks(q?: { role?: WebhookRole }): Promise<Webhook[]>;
  /** Removes the webhook and its deliveries. False when there is none. */
  deleteWebhook(id: string): Promise<boolean>;

  /**
   * Enqueue events outside an alert transition (movements.applied). With `cursor`, the named
   * cursor is set in the same transaction, so the events of a ledger range are queued once; with
   * `cursor.expected` (null = not set yet) nothing is written unless the cursor still has that
   * value (another cloud instance sharing the store got there first). False when nothing was written.
   */
  enqueue(events: readonly OutgoingEvent[], cursor?: CursorMove): Promise<boolean>;
  cursor(name: string): Promise<number | undefined>;

  /**
   * Claim up to `limit` due deliveries: for each target (a webhook, or MQTT) only its oldest
   * pending delivery (FIFO per target), and only if due at `now`. A claimed delivery is not due
   * again before `now + leaseMs`, so a crashed sender's claim runs out and it is retried.
   */
  claimDeliveries(now: Date, leaseMs: number, limit: number): Promise<ClaimedDelivery[]>;
  recordAttempt(id: number, outcome: AttemptOutcome): Promise<void>;
  /** Newest first; `before` is a delivery id. */
  listDeliveries(q: { webhookId: string; limit: number; before?: number }): Promise<Delivery[]>;

  close(): Promise<void>;
}
