import type Database from 'better-sqlite3';
import type { OutgoingEvent } from '../alerts/alert-store.js';
import type { SqliteMigration } from '../sqlite-db.js';
import type { ChannelStore, ClaimOptions } from './channel-store.js';
import type { Channel, ChannelDelivery, ChannelInput, ClaimedPost, PostOutcome } from './model.js';
import { CHANNEL_COLS, DELIVERY_COLS, toChannel, toChannelDelivery } from './rows.js';
import { longestWindowMs, nextPostAt, RATE_LIMITS, routeMatches } from './rules.js';

/**
 * The channel tables: migration 2 of the `alerts` module (cloud/alerts/module.ts), SQLite; they must share the alert
 * transaction. `next_attempt_at` and post times are epoch ms (compared on every pass).
 */
export const channelSqliteMigration: SqliteMigration = {
  version: 2,
  name: 'alert channels: channels, per-channel delivery queue, post times',
  sql: `
    CREATE TABLE channels (
      id TEXT PRIMARY KEY,
      type TEXT NOT NULL,
      name TEXT,
      url TEXT,
      smtp TEXT,
      secret TEXT,
      routes TEXT NOT NULL,
      lang TEXT NOT NULL,
      link TEXT,
      created_at TEXT NOT NULL
    );
    CREATE TABLE channel_deliveries (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      channel_id TEXT NOT NULL,
      event_id TEXT NOT NULL,
      body TEXT NOT NULL,
      state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
      attempts INTEGER NOT NULL DEFAULT 0,
      next_attempt_at INTEGER,
      last_error_code TEXT,
      last_error TEXT,
      created_at TEXT NOT NULL,
      delivered_at TEXT
    );
    CREATE INDEX channel_deliveries_pending ON channel_deliveries (channel_id, id) WHERE state = 'pending';
    CREATE INDEX channel_deliveries_channel ON channel_deliveries (channel_id, id);
    CREATE TABLE channel_posts (channel_id TEXT NOT NULL, at INTEGER NOT NULL);
    CREATE INDEX channel_posts_channel_at ON channel_posts (channel_id, at);
  `,
};

/**
 * Queue one delivery per matching channel for each alert event, inside the caller's transaction
 * (the alert store's open/resolve). Events without a route (movements.applied) go to no channel.
 * Channels are few, so they are read and matched here (`routeMatches`) rather than in SQL.
 */
export function enqueueChannelDeliveriesSync(db: Database.Database, events: readonly OutgoingEvent[], now: Date): void {
  const routed = events.filter((e) => e.route !== undefined);
  if (routed.length === 0) return;
  const channels = db.prepare('SELECT id, routes FROM channels ORDER BY id').all() as Array<{ id: string; routes: string }>;
  if (channels.length === 0) return;
  const insert = db.prepare(`INSERT INTO channel_deliveries (channel_id, event_id, body, state, attempts, next_attempt_at, created_at)
    VALUES (?, ?, ?, 'pending', 0, ?, ?)`);
  for (const e of routed) {
    for (const c of channels) {
      if (routeMatches(JSON.parse(c.routes), e.route!)) insert.run(c.id, e.eventId, e.body, now.getTime(), now.toISOString());
    }
  }
}

/**
 * The ChannelStore on the alert store's SQLite connection. `idle` (the shared connection's gate)
 * resolves when no asynchronous transaction holds the connection: every write waits for it and
 * then runs synchronously in the same tick, so it never lands inside someone else's transaction.
 */
export class SqliteChannelStore implements ChannelStore {
  private readonly claimTx: Database.Transaction<(o: ClaimOptions) => ClaimedPost[]>;
  private readonly deleteTx: (id: string) => boolean;
  private readonly recordTx: (ids: readonly number[], o: PostOutcome) => void;

  constructor(
    private readonly db: Database.Database,
    private readonly idle: () => Promise<void> | undefined = () => undefined,
  ) {
    const heads = db.prepare(`SELECT h.channel_id AS channelId FROM
        (SELECT channel_id, MIN(id) AS head FROM channel_deliveries WHERE state = 'pending' GROUP BY channel_id) h
        JOIN channel_deliveries d ON d.id = h.head
      WHERE d.next_attempt_at <= ? ORDER BY d.next_attempt_at, d.id`);
    const channel = db.prepare(`SELECT ${CHANNEL_COLS} FROM channels WHERE id = ?`);
    const posts = db.prepare('SELECT at FROM channel_posts WHERE channel_id = ? AND at > ?').pluck();
    const prune = db.prepare('DELETE FROM channel_posts WHERE channel_id = ? AND at <= ?');
    const addPost = db.prepare('INSERT INTO channel_posts (channel_id, at) VALUES (?, ?)');
    const items = db.prepare(`SELECT id, event_id AS eventId, body, attempts FROM channel_deliveries
      WHERE channel_id = ? AND state = 'pending' ORDER BY id LIMIT ?`);
    const lease = db.prepare('UPDATE channel_deliveries SET next_attempt_at = ? WHERE id = ?');
    this.claimTx = db.transaction((o: ClaimOptions) => {
      const now = o.now.getTime();
      const out: ClaimedPost[] = [];
      for (const { channelId } of heads.all(o.dueBefore.getTime()) as Array<{ channelId: string }>) {
        if (out.length >= o.limit) break;
        const row = channel.get(channelId) as Record<string, unknown> | undefined;
        if (!row) continue;
        const c = toChannel(row, true);
        const window = longestWindowMs(c.type);
        prune.run(c.id, now - window);
        if (nextPostAt(RATE_LIMITS[c.type], posts.all(c.id, now - window) as number[], now) > now) continue;
        addPost.run(c.id, now);
        const claimed = items.all(c.id, o.maxItems) as ClaimedPost['items'];
        for (const it of claimed) lease.run(now + o.leaseMs, it.id);
        out.push({ channel: c, items: claimed, at: o.now });
      }
      return out;
    });
    this.deleteTx = db.transaction((id: string) => {
      db.prepare('DELETE FROM channel_deliveries WHERE channel_id = ?').run(id);
      db.prepare('DELETE FROM channel_posts WHERE channel_id = ?').run(id);
      return db.prepare('DELETE FROM channels WHERE id = ?').run(id).changes > 0;
    });
    const ok = db.prepare(`UPDATE channel_deliveries SET state = 'delivered', attempts = attempts + 1, next_attempt_at = NULL, delivered_at = ?
      WHERE id = ? AND state = 'pending'`);
    const failed = db.prepare(`UPDATE channel_deliveries SET state = ?, attempts = attempts + 1, next_attempt_at = ?, last_error_code = ?, last_error = ?
      WHERE id = ? AND state = 'pending'`);
    this.recordTx = db.transaction((ids: readonly number[], o: PostOutcome) => {
      for (const id of ids) {
        if (o.ok) ok.run(o.at.toISOString(), id);
        else failed.run(o.retryAt ? 'pending' : 'failed', o.retryAt?.getTime() ?? null, o.code, o.error.slice(0, 1000), id);
      }
    });
  }

  async addChannel(c: ChannelInput & { id: string; createdAt: string }): Promise<Channel> {
    for (let w = this.idle(); w; w = this.idle()) await w; // then write in the same tick
    this.db
      .prepare('INSERT INTO channels (id, type, name, url, smtp, secret, routes, lang, link, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
      .run(c.id, c.type, c.name ?? null, c.url ?? null, c.smtp ? JSON.stringify(c.smtp) : null, c.secret ?? null, JSON.stringify(c.routes), c.lang, c.link ?? null, c.createdAt);
    return (await this.getChannel(c.id))!;
  }

  async getChannel(id: string): Promise<Channel | undefined> {
    const r = this.db.prepare(`SELECT ${CHANNEL_COLS} FROM channels WHERE id = ?`).get(id) as Record<string, unknown> | undefined;
    return r && toChannel(r);
  }

  async listChannels(): Promise<Channel[]> {
    return (this.db.prepare(`SELECT ${CHANNEL_COLS} FROM channels ORDER BY id`).all() as Array<Record<string, unknown>>).map((r) => toChannel(r));
  }

  async deleteChannel(id: string): Promise<boolean> {
    for (let w = this.idle(); w; w = this.idle()) await w; // then write in the same tick
    return this.deleteTx(id);
  }

  async claimPosts(o: ClaimOptions): Promise<ClaimedPost[]> {
    for (let w = this.idle(); w; w = this.idle()) await w; // then write in the same tick
    // IMMEDIATE: the post-time check and insert are one step even with a second process on the file.
    return this.claimTx.immediate(o);
  }

  async release(ids: readonly number[], at: Date): Promise<void> {
    for (let w = this.idle(); w; w = this.idle()) await w; // then write in the same tick
    const s = this.db.prepare(`UPDATE channel_deliveries SET next_attempt_at = ? WHERE id = ? AND state = 'pending'`);
    this.db.transaction(() => {
      for (const id of ids) s.run(at.getTime(), id);
    })();
  }

  async recordPost(ids: readonly number[], o: PostOutcome): Promise<void> {
    for (let w = this.idle(); w; w = this.idle()) await w; // then write in the same tick
    this.recordTx(ids, o);
  }

  async listDeliveries(q: { channelId: string; limit: number; before?: number }): Promise<ChannelDelivery[]> {
    const rows = this.db
      .prepare(`SELECT ${DELIVERY_COLS} FROM channel_deliveries WHERE channel_id = ? ${q.before !== undefined ? 'AND id < ?' : ''} ORDER BY id DESC LIMIT ?`)
      .all(...(q.before !== undefined ? [q.channelId, q.before, q.limit] : [q.channelId, q.limit])) as Array<Record<string, unknown>>;
    return rows.map(toChannelDelivery);
  }

  async pendingCount(channelId?: string): Promise<number> {
    return (
      channelId === undefined
        ? this.db.prepare(`SELECT COUNT(*) FROM channel_deliveries WHERE state = 'pending'`).pluck().get()
        : this.db.prepare(`SELECT COUNT(*) FROM channel_deliveries WHERE channel_id = ? AND state = 'pending'`).pluck().get(channelId)
    ) as number;
  }
}
