/**
 * The abstract contract of the AlertStore (levels, alerts, webhooks, delivery queue). SQLite and
 * PostgreSQL run it unchanged; only the harness differs. Results whose order the interface does
 * not define are sorted before comparing.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Alert, AlertStore, ClaimedDelivery, OutgoingEvent } from '../../cloud/alerts/alert-store.js';

/** One test's database; `open` may be called again after closing, to simulate a restart. */
export interface AlertStoreHarness {
  open(): Promise<AlertStore>;
  /** Close whatever is still open and drop the database. */
  destroy(): Promise<void>;
}

let n = 0;
/** Alert ids must sort by creation: zero-padded counters do. */
const nextId = (prefix = 'A') => `${prefix}${String(++n).padStart(10, '0')}`;

export function alert(over: Partial<Alert> = {}): Alert {
  return {
    id: nextId(),
    type: 'safety-stock',
    site: 'site-A',
    key: 'SKU-1',
    sku: 'SKU-1',
    value: 7,
    threshold: 10,
    state: 'open',
    raisedAt: '2026-11-22T02:19:00.000Z',
    resolvedAt: null,
    ackedAt: null,
    ackedBy: null,
    ...over,
  };
}

export function event(over: Partial<OutgoingEvent> = {}): OutgoingEvent {
  const eventId = nextId('E');
  return { eventId, role: 'procurement', site: 'site-A', body: JSON.stringify({ eventId }), ...over };
}

const T0 = new Date('2026-11-22T02:19:00.000Z');
/** Far enough ahead that everything enqueued "now" is due. */
const LATER = () => new Date(Date.now() + 60_000);

export function alertStoreContract(name: string, factory: () => AlertStoreHarness | Promise<AlertStoreHarness>): void {
  describe(`AlertStore contract: ${name}`, () => {
    let h: AlertStoreHarness;
    let s: AlertStore;

    beforeEach(async () => {
      h = await factory();
      s = await h.open();
    });
    afterEach(async () => {
      await h.destroy();
    });

    const hook = (role: 'procurement' | 'maintenance' | 'movements' = 'procurement', site?: string) =>
      s.addWebhook({ id: nextId('W'), url: `http://127.0.0.1:9/${role}`, secret: 'a-secret-of-16-chars', role, ...(site ? { site } : {}), createdAt: T0.toISOString() });
    /** Claim everything due far in the future, one claim per call (FIFO heads only). */
    const claimAll = (limit = 100) => s.claimDeliveries(LATER(), 1000, limit);
    const targetOf = (d: ClaimedDelivery) => (d.target.kind === 'mqtt' ? `mqtt:${d.target.topic}` : d.target.webhookId);

    describe('levels', () => {
      it('stores, returns and replaces levels; unset fields are absent', async () => {
        expect(await s.getLevels('site-A', 'SKU-1')).toBeUndefined();
        const saved = await s.putLevels({ site: 'site-A', sku: 'SKU-1', safetyStock: 10, reorderPoint: 20.5, maxStock: 100, hysteresis: 2, nearExpiryDays: 14 });
        expect(saved).toEqual({ site: 'site-A', sku: 'SKU-1', safetyStock: 10, reorderPoint: 20.5, maxStock: 100, hysteresis: 2, nearExpiryDays: 14, updatedAt: expect.any(String) });
        expect(Number.isNaN(Date.parse(saved.updatedAt))).toBe(false);
        expect(await s.getLevels('site-A', 'SKU-1')).toEqual(saved);

        const replaced = await s.putLevels({ site: 'site-A', sku: 'SKU-1', safetyStock: 0, hysteresis: 0 });
        expect(replaced).toEqual({ site: 'site-A', sku: 'SKU-1', safetyStock: 0, hysteresis: 0, updatedAt: expect.any(String) });
        expect(await s.getLevels('site-A', 'SKU-1')).toEqual(replaced);
      });

      it('lists every item with levels, or one site', async () => {
        await s.putLevels({ site: 'site-B', sku: 'X', safetyStock: 1, hysteresis: 0 });
        await s.putLevels({ site: 'site-A', sku: 'Y', maxStock: 5, hysteresis: 0 });
        await s.putLevels({ site: 'site-A', sku: 'X', reorderPoint: 3, hysteresis: 1 });
        const all = (await s.listLevels()).map((l) => `${l.site}/${l.sku}`).sort();
        expect(all).toEqual(['site-A/X', 'site-A/Y', 'site-B/X']);
        expect((await s.listLevels({ site: 'site-A' })).map((l) => l.sku).sort()).toEqual(['X', 'Y']);
        expect(await s.listLevels({ site: 'nowhere' })).toEqual([]);
      });

      it('levelsOf: the levels of the asked pairs that have some, each once, exactly as getLevels gives them, over chunks of many SKUs', async () => {
        await s.putLevels({ site: 'site-A', sku: 'X', safetyStock: 1, hysteresis: 0 });
        await s.putLevels({ site: 'site-A', sku: 'K-700', reorderPoint: 7, hysteresis: 1, nearExpiryDays: 3 });
        await s.putLevels({ site: 'site-B', sku: 'X', maxStock: 9, hysteresis: 0 });
        await s.putLevels({ site: 'site-B', sku: 'Y', safetyStock: 2, hysteresis: 0 });
        expect(await s.levelsOf([])).toEqual([]);
        // Site A asks 1,200 SKUs (more than one statement's worth), X twice; site B only X; Y of B is not asked.
        const many = Array.from({ length: 1200 }, (_, i) => ({ site: 'site-A', sku: `K-${i}` }));
        const got = await s.levelsOf([{ site: 'site-A', sku: 'X' }, ...many, { site: 'site-B', sku: 'X' }, { site: 'site-A', sku: 'X' }, { site: 'nowhere', sku: 'X' }]);
        const key = (l: { site: string; sku: string }) => `${l.site}/${l.sku}`;
        expect(got.map(key).sort()).toEqual(['site-A/K-700', 'site-A/X', 'site-B/X']);
        for (const l of got) expect(l).toEqual(await s.getLevels(l.site, l.sku));
      });
    });

    describe('alerts', () => {
      it('opens an alert and returns it whole', async () => {
        const a = alert();
        expect(await s.openAlert(a, event())).toBe(true);
        expect(await s.getAlert(a.id)).toEqual(a);
        expect(await s.getAlert('nope')).toBeUndefined();
      });

      it('keeps optional fields absent and device fields when set', async () => {
        const d = alert({ type: 'device-offline', key: '["e1","dock1"]', sku: undefined, value: undefined, threshold: undefined, edge: 'e1', device: 'dock1' });
        delete d.sku;
        delete d.value;
        delete d.threshold;
        await s.openAlert(d, event({ role: 'maintenance' }));
        const got = await s.getAlert(d.id);
        expect(got).toEqual(d);
        expect(got).not.toHaveProperty('sku');
        expect(got).not.toHaveProperty('batch');
      });

      it('keeps the project an alert concerns and lists by projects (issue 12 #5)', async () => {
        const mine = alert({ type: 'near-expiry', key: '["SKU-1","B1"]', batch: 'B1', project: 'P-1' });
        const other = alert({ type: 'near-expiry', key: '["SKU-1","B2"]', batch: 'B2', project: 'P-2' });
        const siteWide = alert({ key: 'SKU-2', sku: 'SKU-2' });
        for (const a of [mine, other, siteWide]) await s.openAlert(a, event());
        expect(await s.getAlert(mine.id)).toEqual(mine);
        expect(await s.getAlert(siteWide.id)).not.toHaveProperty('project');
        const list = (q: Parameters<AlertStore['listAlerts']>[0]) => s.listAlerts(q).then((r) => r.map((a) => a.id));
        expect(await list({ projects: ['P-1'], limit: 100 })).toEqual([mine.id]);
        expect(await list({ projects: ['P-1', 'P-2'], limit: 100 })).toEqual([other.id, mine.id]);
        expect(await list({ projects: [], limit: 100 })).toEqual([]);
        expect(await list({ limit: 100 })).toEqual([siteWide.id, other.id, mine.id]);
      });

      it('opens at most one alert per (type, site, key) at a time', async () => {
        const first = alert();
        expect(await s.openAlert(first, event())).toBe(true);
        expect(await s.openAlert(alert(), event())).toBe(false);
        // Another type, site or key is another subject.
        expect(await s.openAlert(alert({ type: 'reorder' }), event())).toBe(true);
        expect(await s.openAlert(alert({ site: 'site-B' }), event())).toBe(true);
        expect(await s.openAlert(alert({ key: 'SKU-2', sku: 'SKU-2' }), event())).toBe(true);
        expect((await s.listAlerts({ state: 'all', limit: 100 })).length).toBe(4);
        // Once resolved, the subject may open again.
        expect(await s.resolveAlert(first.id, '2026-11-22T03:00:00.000Z', event())).toBe(true);
        expect(await s.openAlert(alert(), event())).toBe(true);
      });

      it('lets exactly one of many concurrent opens of a subject win', async () => {
        const results = await Promise.all(Array.from({ length: 8 }, () => s.openAlert(alert({ key: 'RACE', sku: 'RACE' }), event())));
        expect(results.filter(Boolean)).toHaveLength(1);
        expect(await s.openAlerts({ sku: 'RACE' })).toHaveLength(1);
        // ...and only the winner's event was queued.
        expect(await claimAll()).toHaveLength(0);
      });

      it('resolves only an open alert, once', async () => {
        const a = alert();
        await s.openAlert(a, event());
        expect(await s.resolveAlert(a.id, '2026-11-22T03:00:00.000Z', event())).toBe(true);
        expect(await s.getAlert(a.id)).toEqual({ ...a, state: 'resolved', resolvedAt: '2026-11-22T03:00:00.000Z' });
        expect(await s.resolveAlert(a.id, '2026-11-22T04:00:00.000Z', event())).toBe(false);
        expect((await s.getAlert(a.id))!.resolvedAt).toBe('2026-11-22T03:00:00.000Z');
        expect(await s.resolveAlert('unknown', '2026-11-22T04:00:00.000Z', event())).toBe(false);
      });

      it('acks without resolving; the first ack stays', async () => {
        const a = alert();
        await s.openAlert(a, event());
        const acked = await s.ackAlert(a.id, 'alice', '2026-11-22T02:30:00.000Z');
        expect(acked).toEqual({ ...a, ackedAt: '2026-11-22T02:30:00.000Z', ackedBy: 'alice' });
        expect((await s.ackAlert(a.id, 'bob', '2026-11-22T02:40:00.000Z'))!.ackedBy).toBe('alice');
        expect((await s.getAlert(a.id))!.state).toBe('open');
        expect(await s.ackAlert('unknown', 'bob', '2026-11-22T02:40:00.000Z')).toBeUndefined();
      });

      it('lists newest first by state, site and type, with limit and a before cursor', async () => {
        const ids: string[] = [];
        for (let i = 0; i < 5; i++) {
          const a = alert({ key: `K${i}`, sku: `K${i}`, site: i % 2 ? 'site-B' : 'site-A', type: i === 4 ? 'overstock' : 'safety-stock' });
          ids.push(a.id);
          await s.openAlert(a, event());
        }
        await s.resolveAlert(ids[1]!, '2026-11-22T03:00:00.000Z', event());
        const list = (q: Parameters<AlertStore['listAlerts']>[0]) => s.listAlerts(q).then((r) => r.map((a) => a.id));
        expect(await list({ limit: 100 })).toEqual([ids[4], ids[3], ids[2], ids[0]]);
        expect(await list({ state: 'open', limit: 100 })).toEqual([ids[4], ids[3], ids[2], ids[0]]);
        expect(await list({ state: 'resolved', limit: 100 })).toEqual([ids[1]]);
        expect(await list({ state: 'all', limit: 100 })).toEqual([...ids].reverse());
        expect(await list({ state: 'all', site: 'site-B', limit: 100 })).toEqual([ids[3], ids[1]]);
        expect(await list({ state: 'all', type: 'overstock', limit: 100 })).toEqual([ids[4]]);
        expect(await list({ state: 'all', limit: 2 })).toEqual([ids[4], ids[3]]);
        expect(await list({ state: 'all', limit: 2, before: ids[3] })).toEqual([ids[2], ids[1]]);
        expect(await list({ state: 'all', limit: 2, before: ids[1] })).toEqual([ids[0]]);
      });

      it('finds open alerts by types, site, sku and edge', async () => {
        const a1 = alert({ key: 'S1', sku: 'S1' });
        const a2 = alert({ type: 'near-expiry', key: '["S1","L1"]', sku: 'S1', batch: 'L1' });
        const a3 = alert({ type: 'edge-offline', key: 'e1', sku: undefined, edge: 'e1' });
        const a4 = alert({ key: 'S1', sku: 'S1', site: 'site-B' });
        const closed = alert({ key: 'S2', sku: 'S1', type: 'reorder' });
        for (const a of [a1, a2, a3, a4, closed]) await s.openAlert(a, event());
        await s.resolveAlert(closed.id, '2026-11-22T03:00:00.000Z', event());
        const ids = async (q: Parameters<AlertStore['openAlerts']>[0]) => (await s.openAlerts(q)).map((a) => a.id).sort();
        expect(await ids({})).toEqual([a1.id, a2.id, a3.id, a4.id].sort());
        expect(await ids({ site: 'site-A', sku: 'S1' })).toEqual([a1.id, a2.id].sort());
        expect(await ids({ site: 'site-A', sku: 'S1', types: ['near-expiry'] })).toEqual([a2.id]);
        expect(await ids({ types: ['safety-stock', 'edge-offline'] })).toEqual([a1.id, a3.id, a4.id].sort());
        expect(await ids({ edge: 'e1' })).toEqual([a3.id]);
        expect(await ids({ types: [] })).toEqual([]);
      });
    });

    describe('webhooks', () => {
      it('adds, gets, lists (by role) and deletes; the secret never comes back', async () => {
        const w1 = await hook('procurement');
        const w2 = await hook('maintenance', 'site-B');
        expect(w1).toEqual({ id: w1.id, url: 'http://127.0.0.1:9/procurement', role: 'procurement', createdAt: T0.toISOString() });
        expect(w2).toMatchObject({ role: 'maintenance', site: 'site-B' });
        expect(await s.getWebhook(w2.id)).toEqual(w2);
        expect(JSON.stringify(await s.listWebhooks())).not.toContain('a-secret');
        expect((await s.listWebhooks()).map((w) => w.id).sort()).toEqual([w1.id, w2.id].sort());
        expect(await s.listWebhooks({ role: 'maintenance' })).toEqual([w2]);
        expect(await s.deleteWebhook(w1.id)).toBe(true);
        expect(await s.deleteWebhook(w1.id)).toBe(false);
        expect(await s.getWebhook(w1.id)).toBeUndefined();
        expect(await s.listWebhooks()).toEqual([w2]);
      });
    });

    describe('delivery queue', () => {
      it('fans an event out to the webhooks of its role and site, and to MQTT', async () => {
        const all = await hook('procurement');
        const mine = await hook('procurement', 'site-A');
        await hook('procurement', 'site-B');
        await hook('maintenance');
        await hook('movements');
        const e = event({ topic: 'stockgate/v1/site-A/alerts/safety-stock' });
        await s.openAlert(alert(), e);
        const claimed = await claimAll();
        expect(claimed.map(targetOf).sort()).toEqual([all.id, mine.id, 'mqtt:stockgate/v1/site-A/alerts/safety-stock'].sort());
        for (const d of claimed) expect(d).toMatchObject({ eventId: e.eventId, body: e.body, attempts: 0 });
        const wh = claimed.find((d) => d.target.kind === 'webhook')!;
        expect(wh.target).toMatchObject({ url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:9\//), secret: 'a-secret-of-16-chars' });
      });

      it('queues nothing when a transition does not happen', async () => {
        await hook('procurement');
        const a = alert();
        await s.openAlert(a, event());
        await s.openAlert(alert(), event());
        await s.resolveAlert('unknown', '2026-11-22T03:00:00.000Z', event());
        expect(await claimAll()).toHaveLength(1);
      });

      it('enqueues events with a cursor, in one step', async () => {
        const w = await hook('movements');
        expect(await s.cursor('feed')).toBeUndefined();
        await s.enqueue([], { name: 'feed', value: 0 });
        expect(await s.cursor('feed')).toBe(0);
        await s.enqueue([event({ role: 'movements' }), event({ role: 'movements', site: 'site-B' })], { name: 'feed', value: 42 });
        expect(await s.cursor('feed')).toBe(42);
        await s.enqueue([event({ role: 'movements' })]);
        expect(await s.cursor('feed')).toBe(42);
        expect(await s.cursor('other')).toBeUndefined();
        const d = await s.listDeliveries({ webhookId: w.id, limit: 10 });
        expect(d).toHaveLength(3);
      });

      it('moves a cursor only from the expected value (null: not set), events included', async () => {
        const w = await hook('movements');
        const mvEvent = () => event({ role: 'movements' });
        expect(await s.enqueue([mvEvent()], { name: 'c', value: 5, expected: 3 })).toBe(false);
        expect(await s.cursor('c')).toBeUndefined();
        expect(await s.enqueue([], { name: 'c', value: 5, expected: null })).toBe(true);
        expect(await s.enqueue([], { name: 'c', value: 9, expected: null })).toBe(false);
        expect(await s.cursor('c')).toBe(5);
        expect(await s.enqueue([mvEvent()], { name: 'c', value: 7, expected: 4 })).toBe(false);
        expect(await s.listDeliveries({ webhookId: w.id, limit: 10 })).toEqual([]);
        expect(await s.enqueue([mvEvent()], { name: 'c', value: 7, expected: 5 })).toBe(true);
        expect(await s.cursor('c')).toBe(7);
        // Racing instances: exactly one moves it, and only its events are queued.
        const raced = await Promise.all(Array.from({ length: 6 }, (_, i) => s.enqueue([mvEvent()], { name: 'c', value: 8 + i, expected: 7 })));
        expect(raced.filter(Boolean)).toHaveLength(1);
        expect(await s.listDeliveries({ webhookId: w.id, limit: 10 })).toHaveLength(2);
        expect(await s.enqueue([mvEvent()], { name: 'c', value: 100 })).toBe(true);
        expect(await s.cursor('c')).toBe(100);
      });

      it('hands out one delivery per target at a time, oldest first, and only when due', async () => {
        const w1 = await hook('procurement');
        const w2 = await hook('procurement', 'site-A');
        const e1 = event();
        const e2 = event();
        await s.enqueue([e1, e2]);
        const now = new Date(Date.now() + 1000);
        const first = await s.claimDeliveries(now, 5000, 10);
        expect(first.map((d) => [targetOf(d), d.eventId]).sort()).toEqual([[w1.id, e1.eventId], [w2.id, e1.eventId]].sort());
        // Claimed: leased; the next of each target waits for the head.
        expect(await s.claimDeliveries(now, 5000, 10)).toEqual([]);
        await s.recordAttempt(first[0]!.id, { ok: true, at: now, status: 204 });
        const next = await s.claimDeliveries(now, 5000, 10);
        expect(next.map((d) => [targetOf(d), d.eventId])).toEqual([[targetOf(first[0]!), e2.eventId]]);
        // Leases run out (a sender died): the unrecorded heads are handed out again, same attempt count.
        const again = await s.claimDeliveries(new Date(now.getTime() + 5001), 5000, 10);
        expect(again.map((d) => d.id).sort((a, b) => a - b)).toEqual([first[1]!.id, next[0]!.id].sort((a, b) => a - b));
        expect(again.map((d) => d.attempts)).toEqual([0, 0]);
      });

      it('respects the limit', async () => {
        for (let i = 0; i < 3; i++) await hook('procurement');
        await s.enqueue([event()]);
        expect(await s.claimDeliveries(LATER(), 1000, 2)).toHaveLength(2);
        expect(await s.claimDeliveries(LATER(), 1000, 2)).toHaveLength(1);
      });

      it('never hands the same delivery to two concurrent claims', async () => {
        for (let i = 0; i < 4; i++) await hook('procurement');
        for (let i = 0; i < 3; i++) await s.enqueue([event()]);
        const claims = await Promise.all(Array.from({ length: 6 }, () => s.claimDeliveries(LATER(), 60_000, 2)));
        const ids = claims.flat().map((d) => d.id);
        expect(new Set(ids).size).toBe(ids.length);
        expect(ids).toHaveLength(4);
      });

      it('records success, retry and failure; lists deliveries newest first with a cursor', async () => {
        const w = await hook('procurement');
        const e1 = event();
        const e2 = event();
        const e3 = event();
        await s.enqueue([e1, e2, e3]);
        const now = LATER();
        const [d1] = await s.claimDeliveries(now, 1000, 10);
        await s.recordAttempt(d1!.id, { ok: false, at: now, status: 500, error: 'HTTP 500', retryAt: new Date(now.getTime() + 10_000) });
        let [row] = await s.listDeliveries({ webhookId: w.id, limit: 1, before: d1!.id + 1 });
        expect(row).toMatchObject({ id: d1!.id, eventId: e1.eventId, webhookId: w.id, state: 'pending', attempts: 1, lastStatus: 500, lastError: 'HTTP 500', deliveredAt: null, body: e1.body });
        expect(Date.parse(row!.nextAttemptAt!)).toBe(now.getTime() + 10_000);
        // Not due before retryAt, due after.
        expect(await s.claimDeliveries(new Date(now.getTime() + 9_999), 1000, 10)).toEqual([]);
        const [retry] = await s.claimDeliveries(new Date(now.getTime() + 10_000), 1000, 10);
        expect(retry).toMatchObject({ id: d1!.id, attempts: 1 });
        await s.recordAttempt(d1!.id, { ok: true, at: now, status: 200 });
        [row] = await s.listDeliveries({ webhookId: w.id, limit: 1, before: d1!.id + 1 });
        expect(row).toMatchObject({ state: 'delivered', attempts: 2, lastStatus: 200, lastError: null, nextAttemptAt: null, deliveredAt: now.toISOString() });

        const [d2] = await s.claimDeliveries(new Date(now.getTime() + 20_000), 1000, 10);
        expect(d2!.eventId).toBe(e2.eventId);
        await s.recordAttempt(d2!.id, { ok: false, at: now, error: 'connect ECONNREFUSED', retryAt: null });
        // Given up: it no longer blocks its target.
        const [d3] = await s.claimDeliveries(new Date(now.getTime() + 20_000), 1000, 10);
        expect(d3!.eventId).toBe(e3.eventId);

        const listed = await s.listDeliveries({ webhookId: w.id, limit: 10 });
        expect(listed.map((d) => d.eventId)).toEqual([e3.eventId, e2.eventId, e1.eventId]);
        expect(listed[1]).toMatchObject({ state: 'failed', attempts: 1, lastStatus: null, lastError: 'connect ECONNREFUSED', nextAttemptAt: null });
        expect((await s.listDeliveries({ webhookId: w.id, limit: 2 })).map((d) => d.eventId)).toEqual([e3.eventId, e2.eventId]);
        expect((await s.listDeliveries({ webhookId: w.id, limit: 2, before: listed[1]!.id })).map((d) => d.eventId)).toEqual([e1.eventId]);
        expect(Number.isNaN(Date.parse(listed[0]!.createdAt))).toBe(false);
      });

      it('lists MQTT deliveries under no webhook', async () => {
        const w = await hook('procurement');
        await s.enqueue([event({ topic: 'stockgate/v1/site-A/alerts/reorder' })]);
        expect(await s.listDeliveries({ webhookId: w.id, limit: 10 })).toHaveLength(1);
        const [m] = (await claimAll()).filter((d) => d.target.kind === 'mqtt');
        expect(m!.target).toEqual({ kind: 'mqtt', topic: 'stockgate/v1/site-A/alerts/reorder' });
      });

      it('drops the deliveries of a deleted webhook', async () => {
        const w = await hook('procurement');
        await s.enqueue([event(), event()]);
        await s.deleteWebhook(w.id);
        expect(await claimAll()).toEqual([]);
        expect(await s.listDeliveries({ webhookId: w.id, limit: 10 })).toEqual([]);
      });
    });

    describe('durability', () => {
      it('keeps levels, alerts, webhooks, pending deliveries and cursors across a reopen', async () => {
        await s.putLevels({ site: 'site-A', sku: 'SKU-1', safetyStock: 10, hysteresis: 1 });
        const a = alert();
        const w = await hook('procurement');
        await s.openAlert(a, event());
        await s.enqueue([], { name: 'feed', value: 7 });
        await s.close();
        s = await h.open();
        expect(await s.getLevels('site-A', 'SKU-1')).toMatchObject({ safetyStock: 10, hysteresis: 1 });
        expect(await s.getAlert(a.id)).toEqual(a);
        expect(await s.getWebhook(w.id)).toEqual(w);
        expect(await s.cursor('feed')).toBe(7);
        expect((await claimAll()).map(targetOf)).toEqual([w.id]);
      });
    });
  });
}
