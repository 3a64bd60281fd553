import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Webhook } from '../../../cloud/alerts/alert-store.js';
import { AlertEngine, type AlertEngineOptions } from '../../../cloud/alerts/engine.js';
import { MOVEMENTS_CURSOR, MovementFeed } from '../../../cloud/alerts/movement-feed.js';
import { SqliteAlertStore } from '../../../cloud/alerts/sqlite.js';
import { SqliteStore } from '../../../cloud/store/sqlite.js';
import type { Movement } from '../../../protocols/mqtt/index.js';
import { mv } from '../../contracts/store.contract.js';

const log = pino({ level: 'silent' });

/** The engine on a real SQLite ledger and alert store; events inspected in the delivery queue. */
describe('AlertEngine', () => {
  let dir: string;
  let ledger: SqliteStore;
  let alerts: SqliteAlertStore;
  let engine: AlertEngine;
  let hooks: Record<'procurement' | 'maintenance' | 'movements', Webhook>;
  let notified = 0;
  let clock: Date;

  const start = async (o: AlertEngineOptions = {}) => {
    engine = new AlertEngine(ledger, alerts, log, () => notified++, { now: () => clock, ...o });
    await engine.start();
    return engine;
  };
  /** Commit and hand the result to the engine, as the ingester's onCommit does. */
  const commit = async (...ms: Movement[]) => {
    const r = await ledger.commit([{ movements: ms, deadLetters: [] }]);
    engine.onCommit(r);
    await engine.idle();
    return r;
  };
  const all = () => alerts.listAlerts({ state: 'all', limit: 100 });
  const events = async (role: keyof typeof hooks) =>
    (await alerts.listDeliveries({ webhookId: hooks[role].id, limit: 1000 })).reverse().map((d) => JSON.parse(d.body) as Record<string, any>);

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'stockgate-engine-'));
    ledger = new SqliteStore(join(dir, 'ledger.db'));
    alerts = new SqliteAlertStore(join(dir, 'alerts.db'));
    clock = new Date('2026-11-22T08:00:00.000Z');
    notified = 0;
    const add = (role: 'procurement' | 'maintenance' | 'movements') =>
      alerts.addWebhook({ id: `W-${role}`, url: `http://127.0.0.1:9/${role}`, secret: 'a-secret-of-16-chars', role, createdAt: clock.toISOString() });
    hooks = { procurement: await add('procurement'), maintenance: await add('maintenance'), movements: await add('movements') };
  });
  afterEach(async () => {
    await engine?.stop();
    await alerts.close();
    await ledger.close();
    rmSync(dir, { recursive: true, force: true });
  });

  describe('stock levels', () => {
    it('safety stock 10: receive 15, issue 8, receive 5 → one alert, opened then resolved, one event each', async () => {
      await start();
      await alerts.putLevels({ site: 'site-A', sku: 'SKU-1', safetyStock: 10, hysteresis: 0 });
      await engine.levelsChanged('site-A', 'SKU-1');
      expect(await all()).toEqual([]);
      await commit(mv({ qty: 15 }));
      await commit(mv({ kind: 'issue', qty: 8 }));
      await commit(mv({ kind: 'issue', qty: 1 }));
      const [open] = await all();
      expect(open).toMatchObject({ type: 'safety-stock', site: 'site-A', sku: 'SKU-1', state: 'open', value: 7, threshold: 10, resolvedAt: null });
      await commit(mv({ qty: 5 }));
      const list = await all();
      expect(list).toHaveLength(1);
      expect(list[0]).toMatchObject({ id: open!.id, state: 'resolved', resolvedAt: clock.toISOString() });

      const ev = await events('procurement');
      expect(ev.map((e) => [e.event, e.id, e.type, e.state])).toEqual([
        ['opened', open!.id, 'safety-stock', 'open'],
        ['resolved', open!.id, 'safety-stock', 'resolved'],
      ]);
      expect(new Set(ev.map((e) => e.eventId)).size).toBe(2);
      expect(ev[0]).not.toHaveProperty('key');
      expect(await events('maintenance')).toEqual([]);
      expect(notified).toBeGreaterThan(0);
    });

    it('waits for threshold + hysteresis before resolving', async () => {
      await start();
      await alerts.putLevels({ site: 'site-A', sku: 'SKU-1', safetyStock: 10, hysteresis: 5 });
      await commit(mv({ qty: 7 }));
      await commit(mv({ qty: 7 }));
      expect((await all())[0]!.state).toBe('open');
      await commit(mv({ qty: 1 }));
      expect((await all())[0]!.state).toBe('resolved');
    });

    it('totals across locations, batches and projects', async () => {
      await start();
      await alerts.putLevels({ site: 'site-A', sku: 'SKU-1', safetyStock: 10, hysteresis: 0 });
      await commit(mv({ qty: 4 }), mv({ qty: 3, location: 'BIN-2', batch: 'L1' }), mv({ qty: 3, project: 'P1' }));
      expect(await all()).toEqual([]);
      await commit(mv({ kind: 'issue', qty: 0.5, location: 'BIN-2', batch: 'L1' }));
      expect(await all()).toMatchObject([{ type: 'safety-stock', value: 9.5 }]);
    });

    it('raises reorder and overstock from the same rule table', async () => {
      await start();
      await alerts.putLevels({ site: 'site-A', sku: 'SKU-1', reorderPoint: 20, maxStock: 50, hysteresis: 0 });
      await commit(mv({ qty: 20 }));
      expect((await all()).map((a) => [a.type, a.state])).toEqual([['reorder', 'open']]);
      await commit(mv({ qty: 40 }));
      expect((await all()).map((a) => [a.type, a.state])).toEqual([
        ['overstock', 'open'],
        ['reorder', 'resolved'],
      ]);
    });

    it('evaluates when levels are set, and resolves when a level is removed', async () => {
      await start();
      await commit(mv({ qty: 5 }));
      await alerts.putLevels({ site: 'site-A', sku: 'SKU-1', safetyStock: 10, hysteresis: 0 });
      await engine.levelsChanged('site-A', 'SKU-1');
      expect(await all()).toMatchObject([{ type: 'safety-stock', state: 'open' }]);
      await alerts.putLevels({ site: 'site-A', sku: 'SKU-1', hysteresis: 0 });
      await engine.levelsChanged('site-A', 'SKU-1');
      expect(await all()).toMatchObject([{ type: 'safety-stock', state: 'resolved' }]);
    });

    it('ignores items without levels and other sites', async () => {
      await start();
      await alerts.putLevels({ site: 'site-B', sku: 'SKU-1', safetyStock: 10, hysteresis: 0 });
      await commit(mv({ qty: 1 }), mv({ qty: 1, sku: 'OTHER' }));
      expect(await all()).toEqual([]);
    });

    it('on start, raises what a crash between commit and evaluation missed', async () => {
      await alerts.putLevels({ site: 'site-A', sku: 'SKU-1', safetyStock: 10, hysteresis: 0 });
      await ledger.commit([{ movements: [mv({ qty: 3 })], deadLetters: [] }]);
      await start();
      expect(await all()).toMatchObject([{ type: 'safety-stock', state: 'open', value: 3 }]);
      // A second start (another restart) does not raise it again.
      await engine.stop();
      await start();
      expect(await all()).toHaveLength(1);
      expect(await events('procurement')).toHaveLength(1);
    });

    it('coalesces commits that arrive while an evaluation runs, and still opens only once', async () => {
      await start();
      await alerts.putLevels({ site: 'site-A', sku: 'SKU-1', safetyStock: 10, hysteresis: 0 });
      await commit(mv({ qty: 15 }));
      for (let i = 0; i < 20; i++) engine.onCommit(await ledger.commit([{ movements: [mv({ kind: 'issue', qty: 1 })], deadLetters: [] }]));
      await engine.idle();
      expect(await all()).toMatchObject([{ type: 'safety-stock', state: 'open' }]);
      expect((await events('procurement')).map((e) => e.event)).toEqual(['opened']);
    });
  });

  describe('near expiry', () => {
    it('opens per batch within the window and resolves when the batch is used up', async () => {
      await start();
      await commit(mv({ qty: 5, batch: 'L1', expiry: '2026-12-10' }), mv({ qty: 5, batch: 'L2', expiry: '2027-06-01' }), mv({ qty: 2, batch: 'L3', expiry: '2026-12-01', location: 'BIN-2' }));
      const open = await alerts.listAlerts({ type: 'near-expiry', limit: 10 });
      expect(open.map((a) => [a.batch, a.value, a.threshold]).sort()).toEqual([
        ['L1', 18, 30],
        ['L3', 9, 30],
      ]);
      await commit(mv({ kind: 'issue', qty: 2, batch: 'L3', location: 'BIN-2' }));
      const after = await alerts.listAlerts({ type: 'near-expiry', state: 'all', limit: 10 });
      expect(after.map((a) => [a.batch, a.state]).sort()).toEqual([
        ['L1', 'open'],
        ['L3', 'resolved'],
      ]);
      expect((await events('procurement')).map((e) => [e.type, e.batch, e.event])).toEqual([
        ['near-expiry', expect.any(String), 'opened'],
        ['near-expiry', expect.any(String), 'opened'],
        ['near-expiry', 'L3', 'resolved'],
      ]);
    });

    it('C8: an expired batch raises `expired`, not near-expiry, and resolves when it is used up', async () => {
      await start();
      await commit(mv({ qty: 3, batch: 'OLD', expiry: '2026-09-17' }), mv({ qty: 3, batch: 'NEW', expiry: '2026-12-01' }));
      const open = await alerts.listAlerts({ state: 'open', limit: 10 });
      expect(open.map((a) => [a.type, a.batch, a.value]).sort()).toEqual([
        ['expired', 'OLD', -66],
        ['near-expiry', 'NEW', 9],
      ]);
      await commit(mv({ kind: 'issue', qty: 3, batch: 'OLD' }));
      expect((await alerts.listAlerts({ type: 'expired', state: 'all', limit: 10 })).map((a) => a.state)).toEqual(['resolved']);
    });

    it('reads batches after a commit only when a movement carried an expiry or an alert is open', async () => {
      let reads = 0;
      const stock = ledger.stock.bind(ledger);
      ledger.stock = (q) => (reads++, stock(q));
      await start();
      reads = 0;
      await commit(mv({ qty: 4, sku: 'PLAIN' }), mv({ kind: 'issue', qty: 1, sku: 'PLAIN' }));
      expect(reads).toBe(0);
      await commit(mv({ qty: 1, sku: 'DATED', batch: 'B', expiry: '2026-12-01' }));
      expect(reads).toBe(1);
      // No expiry on the issue, but the open near-expiry alert must be able to resolve.
      await commit(mv({ kind: 'issue', qty: 1, sku: 'DATED', batch: 'B' }));
      expect(reads).toBe(2);
      expect(await all()).toMatchObject([{ type: 'near-expiry', sku: 'DATED', state: 'resolved' }]);
    });

    it('uses the item window over the cloud default', async () => {
      await start({ nearExpiryDays: 5 });
      await alerts.putLevels({ site: 'site-A', sku: 'LONG', hysteresis: 0, nearExpiryDays: 60 });
      await commit(mv({ qty: 1, sku: 'LONG', batch: 'B', expiry: '2027-01-10' }), mv({ qty: 1, sku: 'SHORT', batch: 'B', expiry: '2026-12-01' }), mv({ qty: 1, sku: 'SOON', batch: 'B', expiry: '2026-11-25' }));
      expect((await all()).map((a) => a.sku).sort()).toEqual(['LONG', 'SOON']);
    });

    it('the timer sweep opens as time passes and resolves when the expiry moves out', async () => {
      await start({ expiryIntervalMs: 60_000 });
      await commit(mv({ qty: 3, batch: 'L1', expiry: '2027-01-15' }));
      expect(await all()).toEqual([]);
      clock = new Date('2026-12-20T00:00:00.000Z');
      await engine.sweep();
      expect(await all()).toMatchObject([{ type: 'near-expiry', batch: 'L1', value: 26, state: 'open' }]);
      // A relabel: the batch's expiry is corrected to a later date.
      await ledger.commit([{ movements: [mv({ kind: 'adjust', qty: 1, batch: 'L1', expiry: '2027-06-30' })], deadLetters: [] }]);
      await engine.sweep();
      expect(await all()).toMatchObject([{ type: 'near-expiry', state: 'resolved' }]);
    });

    it('sweeps on a timer', async () => {
      clock = new Date('2026-12-20T00:00:00.000Z');
      await ledger.commit([{ movements: [mv({ qty: 3, batch: 'L1', expiry: '2026-12-25' })], deadLetters: [] }]);
      await start({ expiryIntervalMs: 20 });
      expect(await all()).toHaveLength(1);
      await ledger.commit([{ movements: [mv({ qty: 3, batch: 'L2', expiry: '2026-12-26' })], deadLetters: [] }]);
      await new Promise((r) => setTimeout(r, 200));
      await engine.idle();
      expect((await all()).map((a) => a.batch).sort()).toEqual(['L1', 'L2']);
    });
  });

  describe('edge and device health', () => {
    const status = (o: Record<string, unknown> = {}) => Buffer.from(JSON.stringify({ v: 1, site: 'site-A', edge: 'e1', state: 'online', ts: clock.toISOString(), ...o }));
    const topic = (ch: string, edge = 'e1') => `stockgate/v1/site-A/${edge}/${ch}`;

    it('edge-offline from the last will, resolved when online; routed to maintenance', async () => {
      await start();
      engine.onStatus(topic('status'), status({ state: 'offline', reason: 'lwt' }));
      await engine.idle();
      expect(await all()).toMatchObject([{ type: 'edge-offline', site: 'site-A', edge: 'e1', state: 'open' }]);
      expect((await all())[0]).not.toHaveProperty('sku');
      engine.onStatus(topic('status'), status({ state: 'offline', reason: 'lwt' }));
      engine.onStatus(topic('status'), status({ state: 'online', reason: 'connect' }));
      await engine.idle();
      expect(await all()).toMatchObject([{ type: 'edge-offline', state: 'resolved' }]);
      expect((await events('maintenance')).map((e) => e.event)).toEqual(['opened', 'resolved']);
      expect(await events('procurement')).toEqual([]);
    });

    it('device-offline per device, outbox-backlog and scale-drift from status and telemetry', async () => {
      await start({ backlogThreshold: 100 });
      const dev = (id: string, state: string) => ({ id, type: 'scanner', state });
      engine.onStatus(topic('status'), status({ backlog: 150, devices: [dev('dock1', 'disconnected'), dev('dock2', 'connected')] }));
      engine.onTelemetry(topic('telemetry'), Buffer.from(JSON.stringify({ v: 1, site: 'site-A', edge: 'e1', ts: clock.toISOString(), metrics: { 'scale.bench.zeroDriftKg': -0.2 } })));
      await engine.idle();
      expect((await all()).map((a) => [a.type, a.device ?? null, a.value ?? null]).sort()).toEqual([
        ['device-offline', 'dock1', null],
        ['outbox-backlog', null, 150],
        ['scale-drift', 'bench', -0.2],
      ]);
      engine.onTelemetry(
        topic('telemetry'),
        Buffer.from(JSON.stringify({ v: 1, site: 'site-A', edge: 'e1', ts: clock.toISOString(), metrics: { 'outbox.backlog': 3, 'scale.bench.zeroDriftKg': 0.01 }, devices: [dev('dock1', 'connected')] })),
      );
      await engine.idle();
      expect((await all()).every((a) => a.state === 'resolved')).toBe(true);
    });

    it('caps devices, telemetry keys and open alerts per edge: 5,000 fake devices open no more than the cap (issue 8, finding 5)', async () => {
      const lines: Array<Record<string, unknown>> = [];
      const warnLog = pino({ level: 'warn' }, { write: (l: string) => void lines.push(JSON.parse(l)) });
      engine = new AlertEngine(ledger, alerts, warnLog, () => notified++, { now: () => clock, maxDevicesPerEdge: 8, maxTelemetryKeys: 16, maxOpenAlertsPerEdge: 5 });
      await engine.start();
      const fake = Array.from({ length: 5000 }, (_, i) => ({ id: `fake-${i}`, type: 'scanner', state: 'disconnected' }));
      engine.onStatus(topic('status'), status({ devices: fake }));
      const metrics = Object.fromEntries(fake.map((d) => [`scale.${d.id}.zeroDriftKg`, 9]));
      engine.onTelemetry(topic('telemetry'), Buffer.from(JSON.stringify({ v: 1, site: 'site-A', edge: 'e1', ts: clock.toISOString(), metrics, devices: fake })));
      await engine.idle();
      const open = await all();
      // Without caps this was 10,000 alerts (5,000 device-offline + 5,000 scale-drift).
      expect(open).toHaveLength(5);
      expect(engine.capStats.devicesIgnored).toBeGreaterThanOrEqual(2 * (5000 - 8));
      expect(engine.capStats.metricsIgnored).toBeGreaterThanOrEqual(5000 - 16);
      expect(engine.capStats.alertsNotOpened).toBeGreaterThan(0);
      // Reported once per cap as a warning, whatever the volume.
      const caps = lines.filter((l) => l.cap).map((l) => l.cap);
      expect(caps.sort()).toEqual(['devices', 'open-alerts', 'telemetry-keys']);
      // A second flood adds no alert and no warning.
      engine.onStatus(topic('status'), status({ devices: fake }));
      await engine.idle();
      expect(await all()).toHaveLength(5);
      expect(lines.filter((l) => l.cap)).toHaveLength(3);
      // Another edge has its own caps.
      engine.onStatus(topic('status', 'e2'), Buffer.from(JSON.stringify({ v: 1, site: 'site-A', edge: 'e2', state: 'online', ts: clock.toISOString(), devices: fake.slice(0, 2) })));
      await engine.idle();
      expect((await all()).filter((a) => a.edge === 'e2')).toHaveLength(2);
    });

    it('outbox-write-error from the edge status problems opens an alert for maintenance and resolves (issue 8, finding 11)', async () => {
      await start();
      engine.onStatus(topic('status'), status({ problems: [] }));
      await engine.idle();
      expect(await all()).toEqual([]);
      engine.onStatus(topic('status'), status({ problems: ['outbox-write-error'], outbox: { count: 3, bytes: 900, maxBytes: 65536, oldestAgeMs: 5, refused: 7 } }));
      await engine.idle();
      expect(await all()).toMatchObject([{ type: 'outbox-write-error', site: 'site-A', edge: 'e1', state: 'open' }]);
      expect((await events('maintenance')).map((e) => [e.event, e.alert?.type ?? e.type])).toHaveLength(1);
      engine.onStatus(topic('status'), status({ problems: ['outbox-backlog'] }));
      await engine.idle();
      expect(await all()).toMatchObject([{ type: 'outbox-write-error', state: 'resolved' }]);
    });

    it('ignores invalid messages without throwing', async () => {
      await start();
      const bad: Array<[string, Buffer]> = [
        [topic('status'), Buffer.from('not json')],
        [topic('status'), Buffer.from('')],
        [topic('status'), Buffer.from(JSON.stringify({ v: 2, site: 'site-A', edge: 'e1', state: 'offline', ts: clock.toISOString() }))],
        [topic('status'), status({ state: 'gone' })],
        // Payload names another edge than the topic.
        [topic('status', 'e2'), status({ state: 'offline' })],
        ['stockgate/v1/site-A/alerts/status', status({ state: 'offline' })],
        [topic('telemetry'), Buffer.from(JSON.stringify({ v: 1, site: 'site-A', edge: 'e1', ts: 'yesterday', metrics: {} }))],
        [topic('telemetry'), status({ state: 'offline' })],
      ];
      for (const [t, p] of bad) {
        expect(() => (t.endsWith('telemetry') ? engine.onTelemetry(t, p) : engine.onStatus(t, p))).not.toThrow();
      }
      await engine.idle();
      expect(await all()).toEqual([]);
    });
  });

  describe('movements.applied', () => {
    it('starts at the ledger head, then sends one event per commit with the applied movements', async () => {
      await ledger.commit([{ movements: [mv({ qty: 1 })], deadLetters: [] }]);
      await start();
      expect(await events('movements')).toEqual([]);
      const a = mv({ qty: 2, sku: 'A', batch: 'L1' });
      const b = mv({ kind: 'issue', qty: 1, sku: 'B' });
      await commit(a, b, a);
      const [e] = await events('movements');
      expect(e).toEqual({
        event: 'movements.applied',
        eventId: expect.any(String),
        site: 'site-A',
        appliedAt: expect.any(String),
        movements: [
          { pos: expect.any(Number), id: a.id, edge: a.edge, seq: a.seq, site: 'site-A', location: 'DOCK-1', kind: 'receive', sku: 'A', batch: 'L1', qty: 2, uom: 'ea' },
          { pos: expect.any(Number), id: b.id, edge: b.edge, seq: b.seq, site: 'site-A', location: 'DOCK-1', kind: 'issue', sku: 'B', qty: 1, uom: 'ea' },
        ],
        // The site's hash-chain head after the commit (issue 9): what an outside party anchors.
        chain: { pos: e!.movements[1]!.pos, hash: (await ledger.movement(b.id))!.hash },
      });
      expect(e!.chain).toEqual({ pos: (await ledger.chainHeads())[0]!.pos, hash: (await ledger.chainHeads())[0]!.hash });
      await commit(a);
      expect(await events('movements')).toHaveLength(1);
    });

    it('splits by site and caps events at 1000 movements', async () => {
      await start();
      const many = Array.from({ length: 1500 }, () => mv({ qty: 1 }));
      await commit(...many, mv({ site: 'site-B' }));
      const ev = await events('movements');
      expect(ev.map((e) => [e.site, e.movements.length])).toEqual([
        ['site-A', 1000],
        ['site-A', 500],
        ['site-B', 1],
      ]);
      expect(ev.flatMap((e) => e.movements.map((m: { id: string }) => m.id)).slice(0, 1500)).toEqual(many.map((m) => m.id));
    });

    it('catches up after a restart what was committed while it was down, exactly once', async () => {
      await start();
      await engine.stop();
      const missed = mv({ qty: 4 });
      await ledger.commit([{ movements: [missed], deadLetters: [] }]);
      await start();
      await engine.idle();
      await engine.stop();
      await start();
      await engine.idle();
      const ev = await events('movements');
      expect(ev.flatMap((e) => e.movements.map((m: { id: string }) => m.id))).toEqual([missed.id]);
      expect(await alerts.cursor(MOVEMENTS_CURSOR)).toBe((await ledger.movements({ limit: 1 }))[0]!.pos);
    });

    it('two instances sharing the store queue each range once', async () => {
      await start();
      const other = new AlertEngine(ledger, alerts, log, () => undefined, { now: () => clock });
      await other.start();
      try {
        const r = await ledger.commit([{ movements: [mv({ qty: 1 }), mv({ qty: 2 })], deadLetters: [] }]);
        engine.onCommit(r);
        other.onCommit(r);
        await Promise.all([engine.idle(), other.idle()]);
        expect((await events('movements')).map((e) => e.movements.length)).toEqual([2]);
      } finally {
        await other.stop();
      }
    });

    it('with settleMs, holds back rows applied too recently and sends them once settled', async () => {
      engine = new AlertEngine(ledger, alerts, log, () => undefined, { now: () => clock, movementSettleMs: 300 });
      await engine.start();
      clock = new Date();
      await commit(mv({ qty: 1 }));
      expect(await events('movements')).toEqual([]);
      clock = new Date(Date.now() + 300);
      await new Promise((r) => setTimeout(r, 400));
      await engine.idle();
      expect((await events('movements')).map((e) => e.movements.length)).toEqual([1]);
    });

    it('without a movements webhook, the followed head is written at most once a second, and a webhook added later gets exactly the rows after it', async () => {
      await alerts.deleteWebhook(hooks.movements.id);
      let ids = 0;
      // The test's clock stands still: after the first write, nothing is written until stop.
      const feed = new MovementFeed(ledger, alerts, log, () => undefined, () => `E${String(++ids).padStart(25, '0')}`, 0, () => clock);
      const head = async () => (await ledger.movements({ limit: 1 }))[0]!.pos;
      try {
        await feed.start();
        const step = async (m: Movement) => {
          await ledger.commit([{ movements: [m], deadLetters: [] }]);
          feed.changed();
          await feed.caughtUp();
        };
        await step(mv({ qty: 1 }));
        const written = await head();
        expect(await alerts.cursor(MOVEMENTS_CURSOR)).toBe(written);
        const before = mv({ qty: 2 });
        await step(before);
        // Not written (within the second of the last write)...
        expect(await alerts.cursor(MOVEMENTS_CURSOR)).toBe(written);
        // ...yet a webhook added now does not get `before`: it was committed while none existed.
        hooks.movements = await alerts.addWebhook({ id: 'W-movements-2', url: 'http://127.0.0.1:9/m2', secret: 'a-secret-of-16-chars', role: 'movements', createdAt: clock.toISOString() });
        const after = mv({ qty: 3 });
        await step(after);
        expect((await events('movements')).flatMap((e) => e.movements.map((m: { id: string }) => m.id))).toEqual([after.id]);
        expect(await alerts.cursor(MOVEMENTS_CURSOR)).toBe(await head());
        // Without webhooks again: stop writes what it followed.
        await alerts.deleteWebhook('W-movements-2');
        await step(mv({ qty: 4 }));
        await step(mv({ qty: 5 }));
        await feed.stop();
        expect(await alerts.cursor(MOVEMENTS_CURSOR)).toBe(await head());
      } finally {
        await feed.stop();
      }
    });

    it('without a movements webhook, only the cursor moves', async () => {
      await alerts.deleteWebhook(hooks.movements.id);
      await start();
      await commit(mv({ qty: 1 }));
      expect(await alerts.cursor(MOVEMENTS_CURSOR)).toBe((await ledger.movements({ limit: 1 }))[0]!.pos);
      expect(await alerts.claimDeliveries(new Date(Date.now() + 60_000), 1000, 100)).toEqual([]);
    });
  });
});
