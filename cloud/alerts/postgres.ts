/*
 * Why one file (over 400 lines): it is one implementation of the `AlertStore` interface
 * (alert-store.ts) for PostgreSQL, method by method beside the SQLite one (sqlite.ts); the row
 * mappers are in rows.ts and the channels' queue in cloud/channels/.
 */
import type pg from 'pg';
import { type PostgresDb, PostgresDatabase } from '../db/index.js';
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
import { alertsModule } from './module.js';
import { toAlert, toDelivery, toLevels, toWebhook } from './rows.js';
import type { ChannelStore } from '../channels/channel-store.js';
import { channelPgMigration, enqueueChannelDeliveries, PgChannelStore } from '../channels/postgres.js';

/**
 * Versioned migrations of the PostgreSQL alert tables. Append only. Recorded in `db_migrations`
 * as the `alerts` module (stockgate 0.1 used its own `alert_migrations` table, adopted on upgrade).
 * Ids sort as bytes (`COLLATE "C"`): the alert id is a ULID and the `before` cursor compares it.
 */
export const alertPgMigrations: Array<{ version: number; name: string; sql: string }> = [
  {
    version: 1,
    name: 'levels, alerts, webhooks, deliveries, cursors',
    sql: `
      CREATE TABLE stock_levels (
        site TEXT NOT NULL,
        sku TEXT NOT NULL,
        safety_stock DOUBLE PRECISION,
        reorder_point DOUBLE PRECISION,
        max_stock DOUBLE PRECISION,
        hysteresis DOUBLE PRECISION NOT NULL DEFAULT 0,
        near_expiry_days INTEGER,
        updated_at TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (site, sku)
      );
      CREATE TABLE alerts (
        id TEXT COLLATE "C" PRIMARY KEY,
        type TEXT NOT NULL,
        site TEXT NOT NULL,
        key TEXT NOT NULL,
        sku TEXT,
        batch TEXT,
        edge TEXT,
        device TEXT,
        value DOUBLE PRECISION,
        threshold DOUBLE PRECISION,
        state TEXT NOT NULL CHECK (state IN ('open', 'resolved')),
        raised_at TIMESTAMPTZ NOT NULL,
        resolved_at TIMESTAMPTZ,
        acked_at TIMESTAMPTZ,
        acked_by TEXT
      );
      CREATE UNIQUE INDEX alerts_one_open ON alerts (type, site, key) WHERE state = 'open';
      CREATE INDEX alerts_site_id ON alerts (site, id);
      CREATE INDEX alerts_open_sku ON alerts (site, sku) WHERE state = 'open';
      CREATE TABLE webhooks (
        id TEXT COLLATE "C" PRIMARY KEY,
        url TEXT NOT NULL,
        secret TEXT NOT NULL,
        role TEXT NOT NULL,
        site TEXT,
        created_at TIMESTAMPTZ NOT NULL
      );
      CREATE TABLE deliveries (
        id BIGSERIAL PRIMARY KEY,
        event_id TEXT NOT NULL,
        target TEXT COLLATE "C" NOT NULL,
        topic TEXT,
        body TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at BIGINT,
        last_status INTEGER,
        last_error TEXT,
        created_at TIMESTAMPTZ NOT NULL,
        delivered_at TIMESTAMPTZ
      );
      CREATE INDEX deliveries_pending ON deliveries (target, id) WHERE state = 'pending';
      CREATE INDEX deliveries_target ON deliveries (target, id);
      CREATE TABLE alert_cursors (name TEXT PRIMARY KEY, value BIGINT NOT NULL);
    `,
  },
  // Alert channels share the alert transaction, so their tables live here (cloud/channels/postgres.ts).
  channelPgMigration,
  // The project an alert concerns (issue 12 #5: a project manager sees its projects' alerts).
  { version: 3, name: 'alerts.project', sql: 'ALTER TABLE alerts ADD COLUMN project TEXT; CREATE INDEX alerts_project_id ON alerts (project, id) WHERE project IS NOT NULL;' },
];

const iso = (v: unknown) => (v instanceof Date ? v.toISOString() : v);
/** timestamptz columns come back as Date: the interface speaks ISO strings. */
function isoRow(r: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(r)) out[k] = iso(v);
  return out;
}

const ALERT_COLS = `id, type, site, key, sku, batch, edge, device, project, value, threshold, state,
  raised_at AS "raisedAt", resolved_at AS "resolvedAt", acked_at AS "ackedAt", acked_by AS "ackedBy"`;
const LEVELS_COLS = `site, sku, safety_stock AS "safetyStock", reorder_point AS "reorderPoint", max_stock AS "maxStock", hysteresis,
  near_expiry_days AS "nearExpiryDays", updated_at AS "updatedAt"`;
const WEBHOOK_COLS = 'id, url, role, site, created_at AS "createdAt"';
const DELIVERY_COLS = `id, event_id AS "eventId", target, topic, body, state, attempts, next_attempt_at AS "nextAttemptAt",
  last_status AS "lastStatus", last_error AS "lastError", created_at AS "createdAt", delivered_at AS "deliveredAt"`;

export interface PgAlertStoreOptions {
  /** postgres://user@host:port/db */
  connectionString: string;
  /** Schema for the tables (tests use a fresh one each); default the server's search_path. */
  schema?: string;
  /** Pool size. Default 4. */
  max?: number;
}

type Queryable = Pick<pg.PoolClient, 'query'>;

/**
 * The AlertStore on PostgreSQL (`--store postgres://...`). Same contract as SQLite; the delivery
 * claim uses `FOR UPDATE SKIP LOCKED`, so several cloud instances can share one queue without
 * sending a delivery twice within its lease.
 */
export class PgAlertStore implements AlertStore {
  readonly channels: ChannelStore;

  private constructor(
    private readonly pool: pg.Pool,
    /** The database this store opened itself (closed with it); undefined on a shared one. */
    private readonly own: PostgresDatabase | undefined,
  ) {
    this.channels = new PgChannelStore(pool);
  }

  /** On a database of its own (tests): the schema is created if missing; the alerts' migrations run. */
  static async open(o: PgAlertStoreOptions): Promise<PgAlertStore> {
    if (o.schema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(o.schema)) throw new TypeError(`schema: ${o.schema} is not a plain identifier`);
    const db = await PostgresDatabase.open({ url: o.connectionString, ...(o.schema ? { schema: o.schema } : {}), maxConnections: o.max ?? 4 });
    try {
      await db.migrate(alertsModule);
    } catch (err) {
      await db.close();
      throw err;
    }
    return new PgAlertStore(db.pool, db);
  }

  /** On the cloud's one database (`cloud/db/`), sharing its pool; applies the alerts' pending migrations. */
  static async on(db: PostgresDb): Promise<PgAlertStore> {
    await db.migrate(alertsModule);
    return new PgAlertStore(db.pool, undefined);
  }

  private async tx<T>(fn: (c: Queryable) => Promise<T>): Promise<T> {
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      const r = await fn(c);
      await c.query('COMMIT');
      return r;
    } catch (err) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      c.release();
    }
  }

  private async enqueueIn(c: Queryable, events: readonly OutgoingEvent[]): Promise<void> {
    const now = new Date();
    for (const e of events) {
      await c.query(
        `INSERT INTO deliveries (event_id, target, topic, body, state, attempts, next_attempt_at, created_at)
         SELECT $1, id, NULL, $2, 'pending', 0, $3, $4 FROM webhooks WHERE role = $5 AND (site IS NULL OR site = $6) ORDER BY id`,
        [e.eventId, e.body, now.getTime(), now, e.role, e.site],
      );
      if (e.topic !== undefined) {
        await c.query(
          `INSERT INTO deliveries (event_id, target, topic, body, state, attempts, next_attempt_at, created_at)
           VALUES ($1, 'mqtt', $2, $3, 'pending', 0, $4, $5)`,
          [e.eventId, e.topic, e.body, now.getTime(), now],
        );
      }
    }
    await enqueueChannelDeliveries(c, events, now);
  }

  async putLevels(l: LevelsInput): Promise<Levels> {
    const r = await this.pool.query(
      `INSERT INTO stock_levels (site, sku, safety_stock, reorder_point, max_stock, hysteresis, near_expiry_days, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, now())
       ON CONFLICT (site, sku) DO UPDATE SET safety_stock = excluded.safety_stock, reorder_point = excluded.reorder_point,
         max_stock = excluded.max_stock, hysteresis = excluded.hysteresis, near_expiry_days = excluded.near_expiry_days,
         updated_at = excluded.updated_at
       RETURNING ${LEVELS_COLS}`,
      [l.site, l.sku, l.safetyStock ?? null, l.reorderPoint ?? null, l.maxStock ?? null, l.hysteresis, l.nearExpiryDays ?? null],
    );
    return toLevels(isoRow(r.rows[0]));
  }

  async getLevels(site: string, sku: string): Promise<Levels | undefined> {
    const r = await this.pool.query(`SELECT ${LEVELS_COLS} FROM stock_levels WHERE site = $1 AND sku = $2`, [site, sku]);
    return r.rows[0] && toLevels(isoRow(r.rows[0]));
  }

  async levelsOf(pairs: ReadonlyArray<{ site: string; sku: string }>): Promise<Levels[]> {
    if (pairs.length === 0) return [];
    // A join with the pairs as two arrays (through the (site, sku) primary key), not `= ANY`.
    const r = await this.pool.query(
      `SELECT ${LEVELS_COLS} FROM stock_levels l
        JOIN (SELECT DISTINCT s, k FROM unnest($1::text[], $2::text[]) AS u(s, k)) p ON l.site = p.s AND l.sku = p.k`,
      [pairs.map((p) => p.site), pairs.map((p) => p.sku)],
    );
    return r.rows.map((row) => toLevels(isoRow(row)));
  }

  async listLevels(q: { site?: string } = {}): Promise<Levels[]> {
    const r =
      q.site === undefined
        ? await this.pool.query(`SELECT ${LEVELS_COLS} FROM stock_levels ORDER BY site COLLATE "C", sku COLLATE "C"`)
        : await this.pool.query(`SELECT ${LEVELS_COLS} FROM stock_levels WHERE site = $1 ORDER BY site COLLATE "C", sku COLLATE "C"`, [q.site]);
    return r.rows.map((x) => toLevels(isoRow(x)));
  }

  async openAlert(a: Alert, event: OutgoingEvent): Promise<boolean> {
    return this.tx(async (c) => {
      const r = await c.query(
        `INSERT INTO alerts (id, type, site, key, sku, batch, edge, device, value, threshold, state, raised_at, project)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'open', $11, $12)
         ON CONFLICT (type, site, key) WHERE state = 'open' DO NOTHING`,
        [a.id, a.type, a.site, a.key, a.sku ?? null, a.batch ?? null, a.edge ?? null, a.device ?? null, a.value ?? null, a.threshold ?? null, a.raisedAt, a.project ?? null],
      );
      if (r.rowCount === 0) return false;
      await this.enqueueIn(c, [event]);
      return true;
    });
  }

  async resolveAlert(id: string, resolvedAt: string, event: OutgoingEvent): Promise<boolean> {
    return this.tx(async (c) => {
      const r = await c.query(`UPDATE alerts SET state = 'resolved', resolved_at = $1 WHERE id = $2 AND state = 'open'`, [resolvedAt, id]);
      if (r.rowCount === 0) return false;
      await this.enqueueIn(c, [event]);
      return true;
    });
  }

  async ackAlert(id: string, by: string, at: string): Promise<Alert | undefined> {
    await this.pool.query('UPDATE alerts SET acked_at = $1, acked_by = $2 WHERE id = $3 AND acked_at IS NULL', [at, by, id]);
    return this.getAlert(id);
  }

  async getAlert(id: string): Promise<Alert | undefined> {
    const r = await this.pool.query(`SELECT ${ALERT_COLS} FROM alerts WHERE id = $1`, [id]);
    return r.rows[0] && toAlert(isoRow(r.rows[0]));
  }

  async listAlerts(q: AlertQuery): Promise<Alert[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    const add = (sql: string, v: unknown) => (args.push(v), where.push(sql.replace('?', `$${args.length}`)));
    const state = q.state ?? 'open';
    if (state !== 'all') add('state = ?', state);
    if (q.site !== undefined) add('site = ?', q.site);
    if (q.type !== undefined) add('type = ?', q.type);
    if (q.projects !== undefined) add('project = ANY(?)', [...q.projects]);
    if (q.before !== undefined) add('id < ?', q.before);
    args.push(q.limit);
    const r = await this.pool.query(
      `SELECT ${ALERT_COLS} FROM alerts ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT $${args.length}`,
      args,
    );
    return r.rows.map((x) => toAlert(isoRow(x)));
  }

  async openAlerts(q: OpenAlertQuery): Promise<Alert[]> {
    const where = ["state = 'open'"];
    const args: unknown[] = [];
    const add = (sql: string, v: unknown) => (args.push(v), where.push(sql.replace('?', `$${args.length}`)));
    if (q.site !== undefined) add('site = ?', q.site);
    if (q.sku !== undefined) add('sku = ?', q.sku);
    if (q.edge !== undefined) add('edge = ?', q.edge);
    if (q.types) {
      if (q.types.length === 0) return [];
      add('type = ANY(?)', [...q.types]);
    }
    const r = await this.pool.query(`SELECT ${ALERT_COLS} FROM alerts WHERE ${where.join(' AND ')} ORDER BY id`, args);
    return r.rows.map((x) => toAlert(isoRow(x)));
  }

  async addWebhook(w: WebhookInput & { id: string; createdAt: string }): Promise<Webhook> {
    const r = await this.pool.query(
      `INSERT INTO webhooks (id, url, secret, role, site, created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${WEBHOOK_COLS}`,
      [w.id, w.url, w.secret, w.role, w.site ?? null, w.createdAt],
    );
    return toWebhook(isoRow(r.rows[0]));
  }

  async getWebhook(id: string): Promise<Webhook | undefined> {
    const r = await this.pool.query(`SELECT ${WEBHOOK_COLS} FROM webhooks WHERE id = $1`, [id]);
    return r.rows[0] && toWebhook(isoRow(r.rows[0]));
  }

  async listWebhooks(q: { role?: WebhookRole } = {}): Promise<Webhook[]> {
    const r = q.role
      ? await this.pool.query(`SELECT ${WEBHOOK_COLS} FROM webhooks WHERE role = $1 ORDER BY id`, [q.role])
      : await this.pool.query(`SELECT ${WEBHOOK_COLS} FROM webhooks ORDER BY id`);
    return r.rows.map((x) => toWebhook(isoRow(x)));
  }

  async deleteWebhook(id: string): Promise<boolean> {
    return this.tx(async (c) => {
      await c.query('DELETE FROM deliveries WHERE target = $1', [id]);
      return ((await c.query('DELETE FROM webhooks WHERE id = $1', [id])).rowCount ?? 0) > 0;
    });
  }

  async enqueue(events: readonly OutgoingEvent[], cursor?: CursorMove): Promise<boolean> {
    return this.tx(async (c) => {
      if (cursor?.expected !== undefined) {
        // Serialise movers of this cursor (the row may not exist yet, so lock its name).
        await c.query("SELECT pg_advisory_xact_lock(hashtext('stockgate.alerts.cursor.' || $1))", [cursor.name]);
        const r = await c.query<{ value: string }>('SELECT value FROM alert_cursors WHERE name = $1', [cursor.name]);
        if ((r.rows[0] ? Number(r.rows[0].value) : null) !== cursor.expected) return false;
      }
      await this.enqueueIn(c, events);
      if (cursor) {
        await c.query('INSERT INTO alert_cursors (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = excluded.value', [cursor.name, cursor.value]);
      }
      return true;
    });
  }

  async cursor(name: string): Promise<number | undefined> {
    const r = await this.pool.query<{ value: string }>('SELECT value FROM alert_cursors WHERE name = $1', [name]);
    return r.rows[0] ? Number(r.rows[0].value) : undefined;
  }

  async claimDeliveries(now: Date, leaseMs: number, limit: number): Promise<ClaimedDelivery[]> {
    const r = await this.pool.query<{
      id: string;
      eventId: string;
      body: string;
      attempts: number;
      target: string;
      topic: string | null;
      url: string | null;
      secret: string | null;
    }>(
      `WITH heads AS (
         SELECT DISTINCT ON (target) id FROM deliveries WHERE state = 'pending' ORDER BY target, id
       ), due AS (
         SELECT d.id, d.target FROM deliveries d JOIN heads h ON h.id = d.id
         WHERE d.state = 'pending' AND d.next_attempt_at <= $1
         ORDER BY d.next_attempt_at, d.id LIMIT $2
         FOR UPDATE OF d SKIP LOCKED
       )
       UPDATE deliveries SET next_attempt_at = $3
       FROM due LEFT JOIN webhooks w ON w.id = due.target
       WHERE deliveries.id = due.id
       RETURNING deliveries.id, deliveries.event_id AS "eventId", deliveries.body, deliveries.attempts, deliveries.target,
         deliveries.topic, w.url, w.secret`,
      [now.getTime(), limit, now.getTime() + leaseMs],
    );
    return r.rows
      .map((x) => ({ ...x, id: Number(x.id) }))
      .sort((a, b) => a.id - b.id)
      .map((x) => ({
        id: x.id,
        eventId: x.eventId,
        body: x.body,
        attempts: x.attempts,
        target: x.target === 'mqtt' ? { kind: 'mqtt' as const, topic: x.topic! } : { kind: 'webhook' as const, webhookId: x.target, url: x.url!, secret: x.secret! },
      }));
  }

  async recordAttempt(id: number, o: AttemptOutcome): Promise<void> {
    if (o.ok) {
      await this.pool.query(
        `UPDATE deliveries SET state = 'delivered', attempts = attempts + 1, next_attempt_at = NULL, last_status = $1, last_error = NULL,
           delivered_at = $2 WHERE id = $3 AND state = 'pending'`,
        [o.status ?? null, o.at, id],
      );
    } else {
      await this.pool.query(
        `UPDATE deliveries SET state = $1, attempts = attempts + 1, next_attempt_at = $2, last_status = $3, last_error = $4
         WHERE id = $5 AND state = 'pending'`,
        [o.retryAt ? 'pending' : 'failed', o.retryAt?.getTime() ?? null, o.status ?? null, o.error, id],
      );
    }
  }

  async listDeliveries(q: { webhookId: string; limit: number; before?: number }): Promise<Delivery[]> {
    const r =
      q.before === undefined
        ? await this.pool.query(`SELECT ${DELIVERY_COLS} FROM deliveries WHERE target = $1 ORDER BY id DESC LIMIT $2`, [q.webhookId, q.limit])
        : await this.pool.query(`SELECT ${DELIVERY_COLS} FROM deliveries WHERE target = $1 AND id < $2 ORDER BY id DESC LIMIT $3`, [q.webhookId, q.before, q.limit]);
    return r.rows.map((x) => toDelivery(isoRow(x)));
  }

  async close(): Promise<void> {
    await this.own?.close();
  }
}
