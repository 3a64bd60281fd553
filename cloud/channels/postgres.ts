import type pg from 'pg';
import type { OutgoingEvent } from '../alerts/alert-store.js';
import type { ChannelStore, ClaimOptions } from './channel-store.js';
import type { Channel, ChannelDelivery, ChannelInput, ClaimedPost, PostOutcome } from './model.js';
import { CHANNEL_COLS, DELIVERY_COLS, toChannel, toChannelDelivery } from './rows.js';
import { longestWindowMs, nextPostAt, RATE_LIMITS, routeMatches } from './rules.js';

/** The channel tables: migration 2 of the `alerts` module (cloud/alerts/module.ts), PostgreSQL. */
export const channelPgMigration = {
  version: 2,
  name: 'alert channels: channels, per-channel delivery queue, post times',
  sql: `
    CREATE TABLE channels (
      id TEXT COLLATE "C" PRIMARY KEY,
      type TEXT NOT NULL,
      name TEXT,
      url TEXT,
      smtp TEXT,
      secret TEXT,
      routes TEXT NOT NULL,
      lang TEXT NOT NULL,
      link TEXT,
      created_at TIMESTAMPTZ NOT NULL
    );
    CREATE TABLE channel_deliveries (
      id BIGSERIAL PRIMARY KEY,
      channel_id TEXT COLLATE "C" NOT NULL,
      event_id TEXT NOT NULL,
      body TEXT NOT NULL,
      state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
      attempts INTEGER NOT NULL DEFAULT 0,
      next_attempt_at BIGINT,
      last_error_code TEXT,
      last_error TEXT,
      created_at TIMESTAMPTZ NOT NULL,
      delivered_at TIMESTAMPTZ
    );
    CREATE INDEX channel_deliveries_pending ON channel_deliveries (channel_id, id) WHERE state = 'pending';
    CREATE INDEX channel_deliveries_channel ON channel_deliveries (channel_id, id);
    CREATE TABLE channel_posts (channel_id TEXT COLLATE "C" NOT NULL, at BIGINT NOT NULL);
    CREATE INDEX channel_posts_channel_at ON channel_posts (channel_id, at);
  `,
};

type Queryable = Pick<pg.PoolClient, 'query'>;

/** As the SQLite one: queue per matching channel inside the alert transaction (`c` is its client). */
export async function enqueueChannelDeliveries(c: Queryable, events: readonly OutgoingEvent[], now: Date): Promise<void> {
  const routed = events.filter((e) => e.route !== undefined);
  if (routed.length === 0) return;
  const channels = (await c.query<{ id: string; routes: string }>('SELECT id, routes FROM channels ORDER BY id')).rows;
  for (const e of routed) {
    for (const ch of channels) {
      if (!routeMatches(JSON.parse(ch.routes), e.route!)) continue;
      await c.query(
        `INSERT INTO channel_deliveries (channel_id, event_id, body, state, attempts, next_attempt_at, created_at)
         VALUES ($1, $2, $3, 'pending', 0, $4, $5)`,
        [ch.id, e.eventId, e.body, now.getTime(), now],
      );
    }
  }
}

/**
 * The ChannelStore on the alert store's pool. A claim locks the channel row (`FOR UPDATE SKIP
 * LOCKED`), so cloud instances sharing the schema take turns per channel and share its post
 * times: the rate limit holds for all of them together.
 */
export class PgChannelStore implements ChannelStore {
  constructor(private readonly pool: pg.Pool) {}

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

  async addChannel(c: ChannelInput & { id: string; createdAt: string }): Promise<Channel> {
    const r = await this.pool.query(
      `INSERT INTO channels (id, type, name, url, smtp, secret, routes, lang, link, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
       RETURNING ${CHANNEL_COLS}`,
      [c.id, c.type, c.name ?? null, c.url ?? null, c.smtp ? JSON.stringify(c.smtp) : null, c.secret ?? null, JSON.stringify(c.routes), c.lang, c.link ?? null, c.createdAt],
    );
    return toChannel(r.rows[0]);
  }

  async getChannel(id: string): Promise<Channel | undefined> {
    const r = await this.pool.query(`SELECT ${CHANNEL_COLS} FROM channels WHERE id = $1`, [id]);
    return r.rows[0] && toChannel(r.rows[0]);
  }

  async listChannels(): Promise<Channel[]> {
    return (await this.pool.query(`SELECT ${CHANNEL_COLS} FROM channels ORDER BY id`)).rows.map((r) => toChannel(r));
  }

  async deleteChannel(id: string): Promise<boolean> {
    return this.tx(async (c) => {
      await c.query('DELETE FROM channel_deliveries WHERE channel_id = $1', [id]);
      await c.query('DELETE FROM channel_posts WHERE channel_id = $1', [id]);
      return ((await c.query('DELETE FROM channels WHERE id = $1', [id])).rowCount ?? 0) > 0;
    });
  }

  async claimPosts(o: ClaimOptions): Promise<ClaimedPost[]> {
    const now = o.now.getTime();
    const heads = await this.pool.query<{ channel_id: string }>(
      `WITH heads AS (
         SELECT DISTINCT ON (channel_id) channel_id, next_attempt_at, id FROM channel_deliveries WHERE state = 'pending' ORDER BY channel_id, id
       ) SELECT channel_id FROM heads WHERE next_attempt_at <= $1 ORDER BY next_attempt_at, id`,
      [o.dueBefore.getTime()],
    );
    const out: ClaimedPost[] = [];
    for (const { channel_id: id } of heads.rows) {
      if (out.length >= o.limit) break;
      const post = await this.tx(async (c): Promise<ClaimedPost | undefined> => {
        const row = (await c.query(`SELECT ${CHANNEL_COLS} FROM channels WHERE id = $1 FOR UPDATE SKIP LOCKED`, [id])).rows[0];
        if (!row) return undefined; // deleted, or another instance is claiming it
        const ch = toChannel(row, true);
        // Under the lock: still due? (another instance may have leased it since the heads query)
        const head = await c.query<{ next_attempt_at: string }>(
          `SELECT next_attempt_at FROM channel_deliveries WHERE channel_id = $1 AND state = 'pending' ORDER BY id LIMIT 1`,
          [id],
        );
        if (!head.rows[0] || Number(head.rows[0].next_attempt_at) > o.dueBefore.getTime()) return undefined;
        const window = longestWindowMs(ch.type);
        await c.query('DELETE FROM channel_posts WHERE channel_id = $1 AND at <= $2', [id, now - window]);
        const posts = (await c.query<{ at: string }>('SELECT at FROM channel_posts WHERE channel_id = $1', [id])).rows.map((r) => Number(r.at));
        if (nextPostAt(RATE_LIMITS[ch.type], posts, now) > now) return undefined;
        await c.query('INSERT INTO channel_posts (channel_id, at) VALUES ($1, $2)', [id, now]);
        const items = await c.query<{ id: string; eventId: string; body: string; attempts: number }>(
          `UPDATE channel_deliveries SET next_attempt_at = $3 WHERE id IN (
             SELECT id FROM channel_deliveries WHERE channel_id = $1 AND state = 'pending' ORDER BY id LIMIT $2
           ) RETURNING id, event_id AS "eventId", body, attempts`,
          [id, o.maxItems, now + o.leaseMs],
        );
        const sorted = items.rows.map((r) => ({ ...r, id: Number(r.id) })).sort((a, b) => a.id - b.id);
        return { channel: ch, items: sorted, at: o.now };
      });
      if (post) out.push(post);
    }
    return out;
  }

  async release(ids: readonly number[], at: Date): Promise<void> {
    if (ids.length === 0) return;
    await this.pool.query(`UPDATE channel_deliveries SET next_attempt_at = $1 WHERE id = ANY($2::bigint[]) AND state = 'pending'`, [at.getTime(), [...ids]]);
  }

  async recordPost(ids: readonly number[], o: PostOutcome): Promise<void> {
    if (ids.length === 0) return;
    if (o.ok) {
      await this.pool.query(
        `UPDATE channel_deliveries SET state = 'delivered', attempts = attempts + 1, next_attempt_at = NULL, delivered_at = $1
         WHERE id = ANY($2::bigint[]) AND state = 'pending'`,
        [o.at, [...ids]],
      );
    } else {
      await this.pool.query(
        `UPDATE channel_deliveries SET state = $1, attempts = attempts + 1, next_attempt_at = $2, last_error_code = $3, last_error = $4
         WHERE id = ANY($5::bigint[]) AND state = 'pending'`,
        [o.retryAt ? 'pending' : 'failed', o.retryAt?.getTime() ?? null, o.code, o.error.slice(0, 1000), [...ids]],
      );
    }
  }

  async listDeliveries(q: { channelId: string; limit: number; before?: number }): Promise<ChannelDelivery[]> {
    const r =
      q.before === undefined
        ? await this.pool.query(`SELECT ${DELIVERY_COLS} FROM channel_deliveries WHERE channel_id = $1 ORDER BY id DESC LIMIT $2`, [q.channelId, q.limit])
        : await this.pool.query(`SELECT ${DELIVERY_COLS} FROM channel_deliveries WHERE channel_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3`, [q.channelId, q.before, q.limit]);
    return r.rows.map(toChannelDelivery);
  }

  async pendingCount(channelId?: string): Promise<number> {
    const r =
      channelId === undefined
        ? await this.pool.query<{ n: string }>(`SELECT COUNT(*) AS n FROM channel_deliveries WHERE state = 'pending'`)
        : await this.pool.query<{ n: string }>(`SELECT COUNT(*) AS n FROM channel_deliveries WHERE channel_id = $1 AND state = 'pending'`, [channelId]);
    return Number(r.rows[0]!.n);
  }
}
