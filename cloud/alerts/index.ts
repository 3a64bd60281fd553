import type { Logger } from 'pino';
import { filters, TOPIC_ROOT } from '../../protocols/mqtt/index.js';
import type { Bus } from '../broker/bus.js';
import type { CloudConfig } from '../config.js';
import type { Db, PostgresDb, SqliteDb } from '../db/index.js';
import type { Store } from '../store/store.js';
import type { AlertStore } from './alert-store.js';
import { AlertEngine } from './engine.js';
import { PgAlertStore } from './postgres.js';
import { SqliteAlertStore } from './sqlite.js';
import { Dispatcher } from './webhooks.js';
import { ChannelDispatcher, type ChannelDispatcherOptions } from '../channels/service.js';

export interface Alerts {
  store: AlertStore;
  engine: AlertEngine;
  dispatcher: Dispatcher;
  /** Alert channels (DingTalk, Feishu, WeCom, email, webhook): cloud/channels/. */
  channels: ChannelDispatcher;
  /** Subscribe to edge status and telemetry, run the startup evaluation, start delivering. */
  start(): Promise<void>;
  /** Stop evaluating and delivering, then close the store. */
  stop(): Promise<void>;
}

/** The alerts part of the cloud, wired from its configuration (the service's one call). */
export async function openAlerts(
  config: CloudConfig,
  deps: { ledger: Store; bus: Bus; log: Logger; channels?: Pick<ChannelDispatcherOptions, 'onResult'>; onChanged?: () => void; db: Db },
): Promise<Alerts> {
  const log = deps.log.child({ part: 'alerts' });
  // The alert tables live in the cloud's one database, beside the ledger.
  const store: AlertStore = deps.db.dialect === 'postgres' ? await PgAlertStore.on(deps.db as PostgresDb) : new SqliteAlertStore(deps.db as SqliteDb);
  const dispatcher = new Dispatcher(store, deps.bus, log, { backoffBaseMs: config.webhookBackoffMs, backoffCapMs: config.webhookBackoffCapMs });
  const channels = new ChannelDispatcher(store.channels, log.child({ part: 'channels' }), {
    backoffBaseMs: config.webhookBackoffMs,
    backoffCapMs: config.webhookBackoffCapMs,
    // Stock alerts carry numbers; the ledger knows their unit.
    uomOf: async (site, sku) => (await deps.ledger.totals({ pairs: [{ site, sku }] }))[0]?.uom,
    ...deps.channels,
  });
  const notify = () => {
    dispatcher.kick();
    channels.kick();
    deps.onChanged?.();
  };
  const engine = new AlertEngine(deps.ledger, store, log, notify, {
    nearExpiryDays: config.nearExpiryDays,
    backlogThreshold: config.backlogAlert,
    driftThresholdKg: config.scaleDriftKg,
    expiryIntervalMs: config.expiryCheckMs,
    // Competing ingesters commit concurrently: let positions settle before feeding them.
    movementSettleMs: config.sharedGroup ? 10_000 : 0,
  });
  const scoped = (channel: 'status' | 'telemetry') => (config.sites ? config.sites.map((s) => `${TOPIC_ROOT}/${s}/+/${channel}`) : [filters[channel]]);
  return {
    store,
    engine,
    dispatcher,
    channels,
    async start() {
      dispatcher.start();
      channels.start();
      await engine.start();
      // Status and telemetry are settled (PUBACKed on an external broker) as soon as read: an alert
      // state lost to a crash is re-derived from the next retained status or sample.
      for (const f of scoped('status')) await deps.bus.subscribe(f, (t, p, settle) => (engine.onStatus(t, p), settle(true)));
      for (const f of scoped('telemetry')) await deps.bus.subscribe(f, (t, p, settle) => (engine.onTelemetry(t, p), settle(true)));
    },
    async stop() {
      await engine.stop();
      await dispatcher.stop();
      await channels.stop();
      await store.close();
    },
  };
}

/** For the business modules: an alert raised in their own transaction (MQTT alert topic and channels). */
export { type BusinessAlert, enqueueBusinessAlert } from './business-alerts.js';
