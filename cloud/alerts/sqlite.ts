import type Database from 'better-sqlite3';
import { type SqliteDb, SqliteDatabase } from '../db/index.js';
import type { SqliteMigration } from '../sqlite-db.js';
import { alertsModule } from './module.js';
import type {
  Alert,
  AlertQuery,
  AlertStore,
  AttemptOutcome,
  ClaimedDelivery,
  CursorMove,
  Delivery,
  Levels,
  LevelsInput,
  OpenAlertQuery,
  OutgoingEvent,
  Webhook,
  WebhookInput,
  WebhookRole,
} from './alert-store.js';
import { toAlert, toDelivery, toLevels, toWebhook } from './rows.js';
import type { ChannelStore } from '../channels/channel-store.js';
import { channelSqliteMigration, enqueueChannelDeliveriesSync, SqliteChannelStore } from '../channels/sqlite.js';

/**
 * Versioned migrations of the alert tables (stockgate 0.1: the file `alerts.db`). Append only: a released migration never changes.
 * Times are ISO text, except `next_attempt_at` (epoch ms, compared on every dispatcher pass).
 */
export const alertSqliteMigrations: SqliteMigration[] = [
  {
    version: 1,
    name: 'levels, alerts, webhooks, deliveries, cursors',
    sql: `
      CREATE TABLE stock_levels (
        site TEXT NOT NULL,
        sku TEXT NOT NULL,
        safety_stock REAL,
        reorder_point REAL,
        max_stock REAL,
        hysteresis REAL NOT NULL DEFAULT 0,
        near_expiry_days INTEGER,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (site, sku)
      ) WITHOUT ROWID;
      CREATE TABLE alerts (
        id TEXT PRIMARY KEY,
        type TEXT NOT NULL,
        site TEXT NOT NULL,
        key TEXT NOT NULL,
        sku TEXT,
        batch TEXT,
        edge TEXT,
        device TEXT,
        value REAL,
        threshold REAL,
        state TEXT NOT NULL CHECK (state IN ('open', 'resolved')),
        raised_at TEXT NOT NULL,
        resolved_at TEXT,
        acked_at TEXT,
        acked_by TEXT
      );
      -- One open alert per subject, whatever races: openAlert inserts ON CONFLICT DO NOTHING.
      CREATE UNIQUE INDEX alerts_one_open ON alerts (type, site, key) WHERE state = 'open';
      CREATE INDEX alerts_site_id ON alerts (site, id);
      CREATE INDEX alerts_open_sku ON alerts (site, sku) WHERE state = 'open';
      CREATE TABLE webhooks (
        id TEXT PRIMARY KEY,
        url TEXT NOT NULL,
        secret TEXT NOT NULL,
        role TEXT NOT NULL,
        site TEXT,
        created_at TEXT NOT NULL
      );
      CREATE TABLE deliveries (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        event_id TEXT NOT NULL,
        -- A webhook id, or 'mqtt'. Deliveries to one target go out in id order.
        target TEXT NOT NULL,
        topic TEXT,
        body TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER,
        last_status INTEGER,
        last_error TEXT,
        created_at TEXT NOT NULL,
        delivered_at TEXT
      );
      CREATE INDEX deliveries_pending ON deliveries (target, id) WHERE state = 'pending';
      CREATE INDEX deliveries_target ON deliveries (target, id);
      CREATE TABLE cursors (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
    `,
  },
  // Alert channels share the alert transaction, so their tables live here (cloud/channels/sqlite.ts).
  channelSqliteMigration,
  // The project an alert concerns (issue 12 #5: a project manager sees its projects' alerts).
  { version: 3, name: 'alerts.project', sql: 'ALTER TABLE alerts ADD COLUMN project TEXT; CREATE INDEX alerts_project_id ON alerts (project, id) WHERE project IS NOT NULL;' },
];

const ALERT_COLS = `id, type, site, key, sku, batch, edge, device, project, value, threshold, state,
  raised_at AS raisedAt, resolved_at AS resolvedAt, acked_at AS ackedAt, acked_by AS ackedBy`;
/** SKUs per statement of `levelsOf`. */
const LEVELS_CHUNK = 500;

const LEVELS_COLS = `site, sku, safety_stock AS safetyStock, reorder_point AS reorderPoint, max_stock AS maxStock, hysteresis,
  near_expiry_days AS nearExpiryDays, updated_at AS updatedAt`;
const DELIVERY_COLS = `id, event_id AS eventId, target, topic, body, state, attempts, next_attempt_at AS nextAttemptAt,
  last_status AS lastStatus, last_error AS lastError, created_at AS createdAt, delivered_at AS deliveredAt`;

const WEBHOOK_COLS = 'id, url, role, site, created_at AS createdAt';

/**
 * The default AlertStore: its tables in the cloud's one SQLite database (WAL, `synchronous=FULL`,
 * so a queued delivery survives a power cut). Writes wait for the connection to be free of
 * Kysely transactions (`SqliteDb.idle`).
 */
export class SqliteAlertStore implements AlertStore {
  private readonly db: Database.Database;
  private readonly s;
  readonly channels: ChannelStore;

  /** The database this store opened itself (closed with it); undefined on a shared one. */
  private readonly own: SqliteDatabase | undefined;
  private readonly database: SqliteDb;

  /** On the cloud's one database (`cloud/db/`), or on a file of its own (tests). Applies the `alerts` module's migrations. */
  constructor(target: string | SqliteDb) {
    this.own = typeof target === 'string' ? new SqliteDatabase(target) : undefined;
    this.database = this.own ?? (target as SqliteDb);
    this.database.migrateSync(alertsModule);
    this.db = this.database.handle;
    const db = this.db;
    // The channel store writes on the same connection: through the same gate.
    this.channels = new SqliteChannelStore(db, () => this.database.idle());
    this.s = {
      putLevels: db.prepare(`INSERT INTO stock_levels (site, sku, safety_stock, reorder_point, max_stock, hysteresis, near_expiry_days, updated_at)
        VALUES (@site, @sku, @safetyStock, @reorderPoint, @maxStock, @hysteresis, @nearExpiryDays, @updatedAt)
        ON CONFLICT (site, sku) DO UPDATE SET safety_stock = excluded.safety_stock, reorder_point = excluded.reorder_point,
          max_stock = excluded.max_stock, hysteresis = excluded.hysteresis, near_expiry_days = excluded.near_expiry_days,
          updated_at = excluded.updated_at`),
      insertAlert: db.prepare(`INSERT INTO alerts (id, type, site, key, sku, batch, edge, device, project, value, threshold, state, raised_at, resolved_at, acked_at, acked_by)
        VALUES (@id, @type, @site, @key, @sku, @batch, @edge, @device, @project, @value, @threshold, 'open', @raisedAt, NULL, NULL, NULL)
        ON CONFLICT DO NOTHING`),
      resolveAlert: db.prepare(`UPDATE alerts SET state = 'resolved', resolved_at = ? WHERE id = ? AND state = 'open'`),
      ackAlert: db.prepare('UPDATE alerts SET acked_at = ?, acked_by = ? WHERE id = ? AND acked_at IS NULL'),
      getAlert: db.prepare(`SELECT ${ALERT_COLS} FROM alerts WHERE id = ?`),
      enqueueWebhooks: db.prepare(`INSERT INTO deliveries (event_id, target, topic, body, state, attempts, next_attempt_at, created_at)
        SELECT ?, id, NULL, ?, 'pending', 0, ?, ? FROM webhooks WHERE role = ? AND (site IS NULL OR site = ?) ORDER BY id`),
      enqueueMqtt: db.prepare(`INSERT INTO deliveries (event_id, target, topic, body, state, attempts, next_attempt_at, created_at)
        VALUES (?, 'mqtt', ?, ?, 'pending', 0, ?, ?)`),
      getLevels: db.prepare(`SELECT ${LEVELS_COLS} FROM stock_levels WHERE site = ? AND sku = ?`),
      levelsIn: db.prepare(`SELECT ${LEVELS_COLS} FROM stock_levels WHERE site = ? AND sku IN (${Array(LEVELS_CHUNK).fill('?').join(', ')})`),
      getCursor: db.prepare('SELECT value FROM cursors WHERE name = ?').pluck(),
      setCursor: db.prepare('INSERT INTO cursors (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value'),
      claim: db.prepare(`SELECT d.id, d.event_id AS eventId, d.body, d.attempts, d.target, d.topic, w.url, w.secret
        FROM deliveries d LEFT JOIN webhooks w ON w.id = d.target
        WHERE d.state = 'pending' AND d.next_attempt_at <= ?
          AND d.id = (SELECT MIN(x.id) FROM deliveries x WHERE x.target = d.target AND x.state = 'pending')
        ORDER BY d.next_attempt_at, d.id LIMIT ?`),
      lease: db.prepare('UPDATE deliveries SET next_attempt_at = ? WHERE id = ?'),
      succeeded: db.prepare(`UPDATE deliveries SET state = 'delivered', attempts = attempts + 1, next_attempt_at = NULL,
        last_status = ?, last_error = NULL, delivered_at = ? WHERE id = ? AND state = 'pending'`),
      failed: db.prepare(`UPDATE deliveries SET state = ?, attempts = attempts + 1, next_attempt_at = ?, last_status = ?, last_error = ?
        WHERE id = ? AND state = 'pending'`),
      // Prepared once: the movement feed asks for the `movements` webhooks after every ingest
      // commit (hundreds a second at a paced rate; a prepare per call was 1% of the cloud's loop).
      webhooks: db.prepare(`SELECT ${WEBHOOK_COLS} FROM webhooks ORDER BY id`),
      webhooksOfRole: db.prepare(`SELECT ${WEBHOOK_COLS} FROM webhooks WHERE role = ? ORDER BY id`),
      webhook: db.prepare(`SELECT ${WEBHOOK_COLS} FROM webhooks WHERE id = ?`),
    };
    this.openTx = db.transaction((a: Alert, e: OutgoingEvent) => {
      const row = { sku: null, batch: null, edge: null, device: null, project: null, value: null, threshold: null, ...a };
      if (this.s.insertAlert.run(row).changes === 0) return false;
      this.enqueueSync([e]);
      return true;
    });
    this.resolveTx = db.transaction((id: string, at: string, e: OutgoingEvent) => {
      if (this.s.resolveAlert.run(at, id).changes === 0) return false;
      this.enqueueSync([e]);
      return true;
    });
    this.enqueueTx = db.transaction((events: readonly OutgoingEvent[], cursor?: CursorMove) => {
      if (cursor?.expected !== undefined && (this.s.getCursor.get(cursor.name) ?? null) !== cursor.expected) return false;
      this.enqueueSync(events);
      if (cursor) this.s.setCursor.run(cursor.name, cursor.value);
      return true;
    });
    this.claimTx = db.transaction((now: Date, leaseMs: number, limit: number) => {
      const rows = this.s.claim.all(now.getTime(), limit) as Array<{
        id: number;
        eventId: string;
        body: string;
        attempts: number;
        target: string;
        topic: string | null;
        url: string | null;
        secret: string | null;
      }>;
      const out: ClaimedDelivery[] = [];
      for (const r of rows) {
        this.s.lease.run(now.getTime() + leaseMs, r.id);
        out.push({
          id: r.id,
          eventId: r.eventId,
          body: r.body,
          attempts: r.attempts,
          target: r.target === 'mqtt' ? { kind: 'mqtt', topic: r.topic! } : { kind: 'webhook', webhookId: r.target, url: r.url!, secret: r.secret! },
        });
      }
      return out;
    });
    this.deleteWebhookTx = db.transaction((id: string) => {
      db.prepare('DELETE FROM deliveries WHERE target = ?').run(id);
      return db.prepare('DELETE FROM webhooks WHERE id = ?').run(id).changes > 0;
    });
  }

  private readonly openTx: (a: Alert, e: OutgoingEvent) => boolean;
  private readonly resolveTx: (id: string, at: string, e: OutgoingEvent) => boolean;
  private readonly enqueueTx: (events: readonly OutgoingEvent[], cursor?: CursorMove) => boolean;
  private readonly claimTx: (now: Date, leaseMs: number, limit: number) => ClaimedDelivery[];
  private readonly deleteWebhookTx: (id: string) => boolean;

  private enqueueSync(events: readonly OutgoingEvent[]): void {
    const now = new Date();
    for (const e of events) {
      this.s.enqueueWebhooks.run(e.eventId, e.body, now.getTime(), now.toISOString(), e.role, e.site);
      if (e.topic !== undefined) this.s.enqueueMqtt.run(e.eventId, e.topic, e.body, now.getTime(), now.toISOString());
    }
    enqueueChannelDeliveriesSync(this.db, events, now);
  }

  async putLevels(l: LevelsInput): Promise<Levels> {
    for (let w = this.database.idle(); w; w = this.database.idle()) await w; // then write in the same tick
    const updatedAt = new Date().toISOString();
    this.s.putLevels.run({ safetyStock: null, reorderPoint: null, maxStock: null, nearExpiryDays: null, ...l, updatedAt });
    return (await this.getLevels(l.site, l.sku))!;
  }

  async getLevels(site: string, sku: string): Promise<Levels | undefined> {
    const r = this.s.getLevels.get(site, sku) as Record<string, unknown> | undefined;
    return r && toLevels(r);
  }

  async levelsOf(pairs: ReadonlyArray<{ site: string; sku: string }>): Promise<Levels[]> {
    const bySite = new Map<string, Set<string>>();
    for (const p of pairs) (bySite.get(p.site) ?? bySite.set(p.site, new Set()).get(p.site)!).add(p.sku);
    const out: Levels[] = [];
    for (const [site, set] of bySite) {
      const skus = [...set];
      // Through the (site, sku) primary key, LEVELS_CHUNK SKUs a statement: one prepared
      // statement, the last chunk padded with its last SKU (a repeat in IN matches nothing twice).
      for (let i = 0; i < skus.length; i += LEVELS_CHUNK) {
        const chunk = skus.slice(i, i + LEVELS_CHUNK);
        while (chunk.length < LEVELS_CHUNK) chunk.push(chunk[chunk.length - 1]!);
        for (const r of this.s.levelsIn.all(site, ...chunk) as Array<Record<string, unknown>>) out.push(toLevels(r));
      }
    }
    return out;
  }

  async listLevels(q: { site?: string } = {}): Promise<Levels[]> {
    const rows =
      q.site === undefined
        ? this.db.prepare(`SELECT ${LEVELS_COLS} FROM stock_levels ORDER BY site, sku`).all()
        : this.db.prepare(`SELECT ${LEVELS_COLS} FROM stock_levels WHERE site = ? ORDER BY site, sku`).all(q.site);
    return (rows as Array<Record<string, unknown>>).map(toLevels);
  }

  async openAlert(alert: Alert, event: OutgoingEvent): Promise<boolean> {
    for (let w = this.database.idle(); w; w = this.database.idle()) await w; // then write in the same tick
    return this.openTx(alert, event);
  }

  async resolveAlert(id: string, resolvedAt: string, event: OutgoingEvent): Promise<boolean> {
    for (let w = this.database.idle(); w; w = this.database.idle()) await w; // then write in the same tick
    return this.resolveTx(id, resolvedAt, event);
  }

  async ackAlert(id: string, by: string, at: string): Promise<Alert | undefined> {
    for (let w = this.database.idle(); w; w = this.database.idle()) await w; // then write in the same tick
    this.s.ackAlert.run(at, by, id);
    return this.getAlert(id);
  }

  async getAlert(id: string): Promise<Alert | undefined> {
    const r = this.s.getAlert.get(id) as Record<string, unknown> | undefined;
    return r && toAlert(r);
  }

  async listAlerts(q: AlertQuery): Promise<Alert[]> {
    const where: string[] = [];
    const args: Array<string | number> = [];
    const state = q.state ?? 'open';
    if (state !== 'all') (where.push('state = ?'), args.push(state));
    if (q.site !== undefined) (where.push('site = ?'), args.push(q.site));
    if (q.type !== undefined) (where.push('type = ?'), args.push(q.type));
    if (q.projects !== undefined) (where.push(`project IN (${q.projects.map(() => '?').join(', ') || 'NULL'})`), args.push(...q.projects));
    if (q.before !== undefined) (where.push('id < ?'), args.push(q.before));
    const rows = this.db
      .prepare(`SELECT ${ALERT_COLS} FROM alerts ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`)
      .all(...args, q.limit) as Array<Record<string, unknown>>;
    return rows.map(toAlert);
  }

  async openAlerts(q: OpenAlertQuery): Promise<Alert[]> {
    const where = ["state = 'open'"];
    const args: string[] = [];
    if (q.site !== undefined) (where.push('site = ?'), args.push(q.site));
    if (q.sku !== undefined) (where.push('sku = ?'), args.push(q.sku));
    if (q.edge !== undefined) (where.push('edge = ?'), args.push(q.edge));
    if (q.types) {
      if (q.types.length === 0) return [];
      where.push(`type IN (${q.types.map(() => '?').join(', ')})`);
      args.push(...q.types);
    }
    const rows = this.db.prepare(`SELECT ${ALERT_COLS} FROM alerts WHERE ${where.join(' AND ')} ORDER BY id`).all(...args) as Array<Record<string, unknown>>;
    return rows.map(toAlert);
  }

  async addWebhook(w: WebhookInput & { id: string; createdAt: string }): Promise<Webhook> {
    for (let w = this.database.idle(); w; w = this.database.idle()) await w; // then write in the same tick
    this.db
      .prepare('INSERT INTO webhooks (id, url, secret, role, site, created_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(w.id, w.url, w.secret, w.role, w.site ?? null, w.createdAt);
    return (await this.getWebhook(w.id))!;
  }

  async getWebhook(id: string): Promise<Webhook | undefined> {
    const r = this.s.webhook.get(id) as Record<string, unknown> | undefined;
    return r && toWebhook(r);
  }

  async listWebhooks(q: { role?: WebhookRole } = {}): Promise<Webhook[]> {
    return ((q.role ? this.s.webhooksOfRole.all(q.role) : this.s.webhooks.all()) as Array<Record<string, unknown>>).map(toWebhook);
  }

  async deleteWebhook(id: string): Promise<boolean> {
    for (let w = this.database.idle(); w; w = this.database.idle()) await w; // then write in the same tick
    return this.deleteWebhookTx(id);
  }

  async enqueue(events: readonly OutgoingEvent[], cursor?: CursorMove): Promise<boolean> {
    for (let w = this.database.idle(); w; w = this.database.idle()) await w; // then write in the same tick
    return this.enqueueTx(events, cursor);
  }

  async cursor(name: string): Promise<number | undefined> {
    return this.s.getCursor.get(name) as number | undefined;
  }

  async claimDeliveries(now: Date, leaseMs: number, limit: number): Promise<ClaimedDelivery[]> {
    for (let w = this.database.idle(); w; w = this.database.idle()) await w; // then write in the same tick
    return this.claimTx(now, leaseMs, limit);
  }

  async recordAttempt(id: number, o: AttemptOutcome): Promise<void> {
    for (let w = this.database.idle(); w; w = this.database.idle()) await w; // then write in the same tick
    if (o.ok) this.s.succeeded.run(o.status ?? null, o.at.toISOString(), id);
    else this.s.failed.run(o.retryAt ? 'pending' : 'failed', o.retryAt?.getTime() ?? null, o.status ?? null, o.error, id);
  }

  async listDeliveries(q: { webhookId: string; limit: number; before?: number }): Promise<Delivery[]> {
    const rows = this.db
      .prepare(`SELECT ${DELIVERY_COLS} FROM deliveries WHERE target = ? ${q.before !== undefined ? 'AND id < ?' : ''} ORDER BY id DESC LIMIT ?`)
      .all(...(q.before !== undefined ? [q.webhookId, q.before, q.limit] : [q.webhookId, q.limit])) as Array<Record<string, unknown>>;
    return rows.map((r) => toDelivery(r));
  }

  async close(): Promise<void> {
    await this.own?.close();
  }
}
