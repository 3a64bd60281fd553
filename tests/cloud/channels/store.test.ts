import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { ulid } from 'ulid';
import { describe, expect, it } from 'vitest';
import type { Alert, AlertStore } from '../../../cloud/alerts/alert-store.js';
import { alertEvent, movementEvents } from '../../../cloud/alerts/events.js';
import { PgAlertStore } from '../../../cloud/alerts/postgres.js';
import { alertSqliteMigrations, SqliteAlertStore } from '../../../cloud/alerts/sqlite.js';
import type { ClaimOptions } from '../../../cloud/channels/channel-store.js';
import type { ChannelInput } from '../../../cloud/channels/model.js';
import { SqliteDatabase } from '../../../cloud/db/index.js';

/** The ChannelStore contract, run on both alert-store backends (SQLite file, PostgreSQL schema). */
const PG_URL = process.env.STOCKGATE_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';

interface Harness {
  /** A store on the same database each call (two cloud instances sharing it). */
  open(): Promise<AlertStore>;
  destroy(): Promise<void>;
}

function sqliteHarness(): Harness {
  const dir = mkdtempSync(join(tmpdir(), 'sg-chstore-'));
  const opened: AlertStore[] = [];
  return {
    async open() {
      const s = new SqliteAlertStore(join(dir, 'alerts.db'));
      opened.push(s);
      return s;
    },
    async destroy() {
      for (const s of opened) await s.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

async function pgHarness(): Promise<Harness> {
  const schema = `sg_channels_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  await admin((c) => c.query(`CREATE SCHEMA ${schema}`));
  const opened: AlertStore[] = [];
  return {
    async open() {
      const s = await PgAlertStore.open({ connectionString: PG_URL, schema });
      opened.push(s);
      return s;
    },
    async destroy() {
      for (const s of opened) await s.close();
      await admin((c) => c.query(`DROP SCHEMA ${schema} CASCADE`));
    },
  };
}

// A minute ahead of the real clock, which stamps queued deliveries: they are due on this one. Set per test.
let T0 = 0;
const opts = (now: number, o: Partial<ClaimOptions> = {}): ClaimOptions => ({ now: new Date(now), dueBefore: new Date(now), leaseMs: 25_000, limit: 10, maxItems: 200, ...o });
const chan = (o: Partial<ChannelInput> = {}) => ({ id: ulid(), createdAt: new Date(T0).toISOString(), type: 'dingtalk' as const, url: 'https://robot.test/send?access_token=T', secret: 'S', routes: { types: ['safety-stock' as const] }, lang: 'zh-CN' as const, ...o });
function alert(o: Partial<Alert> = {}): Alert {
  const sku = o.sku ?? `SKU-${ulid().slice(-6)}`;
  return { id: ulid(), type: 'safety-stock', site: 's1', key: sku, sku, value: 1, threshold: 5, state: 'open', raisedAt: new Date(T0 - 120_000).toISOString(), resolvedAt: null, ackedAt: null, ackedBy: null, ...o };
}
const open = (s: AlertStore, a: Alert = alert()) => s.openAlert(a, alertEvent(a, 'opened', ulid()));

function contract(name: string, harness: () => Harness | Promise<Harness>) {
  describe(`ChannelStore on ${name}`, () => {
    const withStore = (fn: (s: AlertStore, h: Harness) => Promise<void>) => async () => {
      T0 = Math.ceil((Date.now() + 60_000) / 1000) * 1000;
      const h = await harness();
      try {
        await fn(await h.open(), h);
      } finally {
        await h.destroy();
      }
    };

    it('an alert transition queues one delivery per matching channel, in its transaction', withStore(async (s) => {
      const all = await s.channels.addChannel(chan({ routes: { types: ['safety-stock', 'reorder'] } }));
      const s2 = await s.channels.addChannel(chan({ type: 'wecom', routes: { types: ['safety-stock'], sites: ['s2'] } }));
      const proj = await s.channels.addChannel(chan({ type: 'feishu', routes: { types: ['safety-stock'], projects: ['P1'] } }));
      const a = alert();
      expect(await open(s, a)).toBe(true);
      // Already open: no second alert, so no second delivery (the insert and the queue are one transaction).
      expect(await open(s, { ...a, id: ulid() })).toBe(false);
      expect(await s.resolveAlert(a.id, new Date(T0).toISOString(), alertEvent({ ...a, state: 'resolved' }, 'resolved', ulid()))).toBe(true);
      await open(s, alert({ site: 's2' }));
      // movements.applied events carry no route: no channel gets them.
      await s.enqueue(movementEvents([], () => ulid()));
      const list = async (id: string) => (await s.channels.listDeliveries({ channelId: id, limit: 10 })).map((d) => JSON.parse(d.body)).map((b) => `${b.site}:${b.event}`);
      expect(await list(all.id)).toEqual(['s2:opened', 's1:resolved', 's1:opened']);
      expect(await list(s2.id)).toEqual(['s2:opened']);
      expect(await list(proj.id)).toEqual([]);
      expect(await s.channels.pendingCount()).toBe(4);
      expect(await s.channels.pendingCount(all.id)).toBe(3);
    }));

    it('lists without secrets; delete removes the channel and its queue', withStore(async (s) => {
      const c = await s.channels.addChannel(chan({ name: 'buyers', link: 'https://board.test/board' }));
      expect(c).toEqual({ id: c.id, type: 'dingtalk', name: 'buyers', url: 'https://robot.test/send?access_token=T', routes: { types: ['safety-stock'] }, lang: 'zh-CN', link: 'https://board.test/board', createdAt: new Date(T0).toISOString() });
      expect(await s.channels.listChannels()).toEqual([c]);
      await open(s);
      expect(await s.channels.deleteChannel(c.id)).toBe(true);
      expect(await s.channels.deleteChannel(c.id)).toBe(false);
      expect(await s.channels.pendingCount()).toBe(0);
      expect(await s.channels.getChannel(c.id)).toBeUndefined();
    }));

    it('a claim takes every pending delivery of the channel in order, with the secret; a lease hides them until it runs out', withStore(async (s) => {
      const c = await s.channels.addChannel(chan());
      for (let i = 0; i < 3; i++) await open(s);
      const [p] = await s.channels.claimPosts(opts(T0));
      expect(p!.channel).toMatchObject({ id: c.id, secret: 'S' });
      expect(p!.items.map((i) => i.id)).toEqual([...p!.items.map((i) => i.id)].sort((a, b) => a - b));
      expect(p!.items).toHaveLength(3);
      // A newer delivery waits behind the leased ones (queue order per channel).
      await open(s);
      expect(await s.channels.claimPosts(opts(T0 + 10_000))).toEqual([]);
      // The sender died: after the lease, the same deliveries (and the new one) are claimed again.
      const again = await s.channels.claimPosts(opts(T0 + 25_000));
      expect(again[0]!.items.map((i) => i.id)).toEqual([...p!.items.map((i) => i.id), again[0]!.items[3]!.id]);
    }));

    it('release and record: attempts, states, error codes', withStore(async (s) => {
      const c = await s.channels.addChannel(chan());
      for (let i = 0; i < 3; i++) await open(s);
      const [p] = await s.channels.claimPosts(opts(T0));
      const ids = p!.items.map((i) => i.id);
      await s.channels.release(ids.slice(2), new Date(T0));
      await s.channels.recordPost(ids.slice(0, 1), { ok: false, at: new Date(T0), code: '130101', error: '130101 send too fast', retryAt: new Date(T0 + 60_000) });
      await s.channels.recordPost(ids.slice(1, 2), { ok: false, at: new Date(T0), code: '310000', error: '310000 sign not match', retryAt: null });
      const ds = await s.channels.listDeliveries({ channelId: c.id, limit: 10 });
      expect(ds.map((d) => [d.id, d.state, d.attempts, d.lastErrorCode, d.nextAttemptAt])).toEqual([
        [ids[2], 'pending', 0, null, new Date(T0).toISOString()],
        [ids[1], 'failed', 1, '310000', null],
        [ids[0], 'pending', 1, '130101', new Date(T0 + 60_000).toISOString()],
      ]);
      // The head (ids[0]) is not due before its retry time: the channel waits, in order.
      expect(await s.channels.claimPosts(opts(T0 + 30_000))).toEqual([]);
      const [q] = await s.channels.claimPosts(opts(T0 + 60_000));
      expect(q!.items.map((i) => i.id)).toEqual([ids[0], ids[2]]);
      await s.channels.recordPost([ids[0]!, ids[2]!], { ok: true, at: new Date(T0 + 61_000) });
      const page = await s.channels.listDeliveries({ channelId: c.id, limit: 2, before: ids[2]! });
      expect(page.map((d) => d.id)).toEqual([ids[1], ids[0]]);
      expect(page[1]).toMatchObject({ state: 'delivered', attempts: 2, lastErrorCode: '130101', deliveredAt: new Date(T0 + 61_000).toISOString() });
    }));

    it('the rate limit is shared by every instance on the database: at most 20 DingTalk posts in any minute', withStore(async (s, h) => {
      const other = await h.open();
      await s.channels.addChannel(chan());
      const times: number[] = [];
      for (let i = 0; i < 60; i++) {
        const t = T0 + i * 1500;
        await open(s);
        // Both instances try at once; each post is recorded as delivered.
        const posts = (await Promise.all([s.channels.claimPosts(opts(t)), other.channels.claimPosts(opts(t))])).flat();
        expect(posts.length).toBeLessThanOrEqual(1);
        for (const p of posts) {
          times.push(t);
          await s.channels.recordPost(p.items.map((x) => x.id), { ok: true, at: new Date(t) });
        }
      }
      expect(times.filter((t) => t < T0 + 60_000)).toHaveLength(20);
      for (const t of times) expect(times.filter((u) => u >= t && u < t + 60_000).length).toBeLessThanOrEqual(20);
      // Nothing lost: whatever was not posted is still pending.
      expect(times.length).toBeGreaterThan(20);
    }));
  });
}

contract('SQLite', sqliteHarness);
contract('PostgreSQL', pgHarness);

describe('on the one SQLite database', () => {
  it('a channel write waits for an open tx() on the shared connection instead of joining it (and being rolled back with it)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sg-chgate-'));
    const db = new SqliteDatabase(join(dir, 'stockgate.db'));
    try {
      T0 = Math.ceil((Date.now() + 60_000) / 1000) * 1000;
      const s = new SqliteAlertStore(db);
      let add: Promise<unknown> | undefined;
      await expect(
        db.tx(async () => {
          add = s.channels.addChannel(chan({ name: 'gated' }));
          await new Promise((r) => setTimeout(r, 20));
          throw new Error('roll back');
        }),
      ).rejects.toThrow('roll back');
      await add;
      expect((await s.channels.listChannels()).map((c) => c.name)).toEqual(['gated']);
      await s.close();
    } finally {
      await db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('SQLite upgrade', () => {
  it('an alerts.db from before channels gains the channel tables, its alerts kept', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sg-chup-'));
    try {
      const path = join(dir, 'alerts.db');
      const old = new SqliteDatabase(path);
      old.migrateSync({ name: 'alerts', migrations: { sqlite: alertSqliteMigrations.filter((m) => m.version === 1), postgres: [] } });
      old.handle.prepare(`INSERT INTO alerts (id, type, site, key, state, raised_at) VALUES ('A1', 'reorder', 's1', 'X', 'open', '2026-01-01T00:00:00.000Z')`).run();
      await old.close();
      const s = new SqliteAlertStore(path);
      expect(await s.getAlert('A1')).toMatchObject({ type: 'reorder', state: 'open' });
      expect(await s.channels.listChannels()).toEqual([]);
      await s.close();
      const db = new Database(path, { readonly: true });
      // Every later migration of the module applied, the channel tables' (version 2) among them.
      const versions = db.prepare("SELECT version FROM db_migrations WHERE module = 'alerts' ORDER BY version").pluck().all();
      expect(versions).toContain(2);
      expect(versions).toEqual(alertSqliteMigrations.map((m) => m.version).sort((a, b) => a - b));
      db.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
