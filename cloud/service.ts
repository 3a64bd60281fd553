import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { filters, TOPIC_ROOT } from '../protocols/mqtt/index.js';
import { type Alerts, openAlerts } from './alerts/index.js';
import { buildApi } from './api/server.js';
import { openSecurity } from './auth/setup.js';
import { BoardHub } from './board/hub.js';
import { BoardRepo } from './board/repo.js';
import { EmbeddedBroker } from './broker/aedes.js';
import type { Bus } from './broker/bus.js';
import { ExternalBroker } from './broker/mqtt.js';
import { NatsBus } from './broker/nats.js';
import { type CloudConfig, defaultClientId } from './config.js';
import { type Db, openDatabase, type PostgresDb, type SqliteDb } from './db/index.js';
import { ErpSender, K3CloudAdapter } from './erp/index.js';
import { Ingester } from './ingest/ingester.js';
import { ledgerConsumers } from './ledger-consumers.js';
import { LedgerFollower } from './ledger-follower/index.js';
import { CloudMetrics } from './metrics/registry.js';
import { observeCommit } from './metrics/observe.js';
import { openTimeseries, type Timeseries } from './timeseries/index.js';
import { packageVersion } from './paths.js';
import { cloudModules } from './modules.js';
import { PostgresStore } from './store/postgres.js';
import { SqliteStore } from './store/sqlite.js';
import type { Store } from './store/store.js';

export interface RunningCloud {
  config: CloudConfig;
  bus: Bus;
  /** The one database (business modules open their transactions on it). */
  db: Db;
  store: Store;
  ingester: Ingester;
  /** Runs the business layer's ledger consumers after each commit (cloud/ledger-follower/). */
  follower: LedgerFollower;
  http: FastifyInstance;
  metrics: CloudMetrics;
  /** The time-series exporter, with --tsdb. */
  timeseries?: Timeseries;
  /** The ERP sender (cloud/erp/), with --erp-url. */
  erp?: ErpSender;
  /** Actual ports (after port 0 was resolved). mqttPort is undefined with an external broker. */
  mqttPort?: number;
  httpPort: number;
  stop(): Promise<void>;
}

/** Start the cloud service: store, broker (embedded or external), ingestion, HTTP API and board. */
export async function startCloud(config: CloudConfig, log: Logger): Promise<RunningCloud> {
  // Each resource opened pushes its closer; a failure at any step closes what was opened, in
  // reverse order (in-process users such as the demo must not leak a port or a database).
  const closers: Array<() => Promise<void>> = [];
  const closeAll = async () => {
    for (const c of closers.splice(0).reverse()) await c().catch(() => undefined);
  };
  try {
    return await start(config, log, closers, closeAll);
  } catch (err) {
    await closeAll();
    throw err;
  }
}

async function start(config: CloudConfig, log: Logger, closers: Array<() => Promise<void>>, closeAll: () => Promise<void>): Promise<RunningCloud> {
  // The one database: PostgreSQL when --store names one (several ingesters may share it), else
  // the SQLite file in dataDir; a 0.1 data dir is upgraded here, every module migrated.
  const db: Db = await openDatabase({ dataDir: config.dataDir, ...(config.store ? { store: config.store, maxConnections: 12 } : {}), modules: cloudModules, log: log.child({ part: 'db' }) });
  closers.push(() => db.close());
  log.info({ database: db.describe }, 'database open');

  // Authentication (credentials in the database) unless --insecure; broker hooks and limits; TLS material.
  const sec = await openSecurity(config, log, db);
  closers.push(() => sec.close());
  const auth = sec.auth;

  const store: Store = db.dialect === 'postgres' ? await PostgresStore.on(db as PostgresDb) : new SqliteStore(db as SqliteDb);
  closers.push(() => store.close());
  let bus: Bus;
  let mqttPort: number | undefined;
  if (config.nats) {
    // Issue 14 §5: a NATS cluster; every ingester pulls from one durable JetStream consumer.
    bus = await NatsBus.connect({
      servers: config.nats,
      durable: config.sharedGroup ?? 'stockgate-ingest',
      replicas: config.natsReplicas,
      ...(config.sites ? { sites: config.sites } : {}),
      name: config.clientId ?? defaultClientId(config.dataDir),
    });
  } else if (config.broker) {
    bus = await ExternalBroker.connect({
      url: config.broker,
      clientId: config.clientId ?? defaultClientId(config.dataDir),
      // A shared-group member must not keep a session the broker would go on feeding after a crash.
      ...(config.sharedGroup ? { clean: true, keepalive: 15 } : {}),
      ...(config.brokerUsername ? { username: config.brokerUsername } : {}),
      ...(config.brokerPassword ? { password: config.brokerPassword } : {}),
    });
  } else {
    const embedded = await EmbeddedBroker.start({ port: config.mqttPort, host: config.host, maxPacketBytes: config.maxPacketBytes, ...sec.broker });
    bus = embedded;
    mqttPort = embedded.port;
  }
  closers.push(() => bus.close());

  const metrics = new CloudMetrics(packageVersion());
  let ts: Timeseries | undefined;
  let hubRef: BoardHub | undefined;
  const alerts: Alerts = await openAlerts(config, {
    ledger: store,
    bus,
    log,
    channels: { onResult: (type, result, n) => metrics.notifications.inc({ channel: type, result }, n) },
    onChanged: () => {
      ts?.capture.alertsChanged(alerts.store);
      hubRef?.alertsChanged();
    },
    db,
  });
  closers.push(() => alerts.stop());
  ts = await openTimeseries(config, { ledger: store, bus, alerts: alerts.store, log, metrics, db });
  if (ts) closers.push(() => ts!.stop());

  // The business layer follows the committed ledger in its own transactions (never in the ingest
  // one): woken by the local commit hook below, and polled for what other ingesters commit.
  // It yields to a saturating ingest burst (1% of the time while the event loop is 80% busy without
  // it, until it has been under that for 250 ms), up to 30 s behind the ledger: past that it runs
  // flat out until caught up (issue 10; /healthz follower.lagMs, follower.yielding). On SQLite a
  // batch blocks ingest to its COMMIT: while ingest is active, batches of about 1 ms (at least 8 rows)
  // two loop turns apart (issue 14 §2, the paced latency; cloud/ledger-follower/README.md).
  const follower = new LedgerFollower(db, log.child({ part: 'follower' }), {
    pollMs: db.dialect === 'postgres' ? 500 : 5000,
    busyShare: 0.01,
    busyLoopShare: 0.8,
    maxLagMs: 30_000,
    sliceMs: 1,
  });
  // Consumers publish only after their batch committed (afterCommit); a failed publish is logged.
  const publish = (topic: string, payload: string) => void bus.publish(topic, payload, { qos: 1 }).catch((err: Error) => log.warn({ topic, err: err.message }, 'ledger consumer: publish failed'));
  // --no-business: a follower with no consumers runs nothing (its /healthz shows `consumers: []`).
  if (config.business) {
    for (const make of ledgerConsumers) {
      const c = make({ db, log, publish, erp: !!config.erpUrl });
      if (c) follower.register(c);
    }
  }
  else log.warn('business layer off (--no-business): nothing follows the ledger');
  closers.push(() => follower.stop());

  // The board follows the ledger by position (not this ingester's commits): local commits wake it
  // at once, a position poll brings other ingesters' commits on a shared PostgreSQL (issue 12 #4).
  const hub = new BoardHub({ repo: new BoardRepo(db.kysely), store, alerts: alerts.store }, { pollMs: db.dialect === 'postgres' ? 100 : 1000, nearExpiryDays: config.nearExpiryDays });
  hubRef = hub;
  await hub.start();
  closers.push(async () => hub.close());
  metrics.onScrape.push(() => metrics.sseClients.set(hub.size));
  const ingester = new Ingester(bus, store, log, {
    ackKey: (site, edge) => sec.ackKeys.key(site, edge),
    maxPayloadBytes: config.maxPacketBytes,
    maxQueuedPerEdge: config.maxQueuedPerEdge,
    maxQueuedMovements: config.maxQueuedMovements,
    readRows: config.rowsForm,
    onCommit: (r, info) => {
      observeCommit(metrics, info, r);
      hub.kick();
      alerts.engine.onCommit(r);
      ts?.exporter.kick();
      follower.wake();
    },
  });
  // The queue's bounds on /metrics, read from the ingester's own counts at each scrape.
  metrics.onScrape.push(() => {
    metrics.ingestQueued.set(ingester.queuedMovements);
    metrics.ingestBackpressure.reset();
    metrics.ingestBackpressure.inc({ door: 'mqtt_edge' }, ingester.stats.heldBackEdge);
    metrics.ingestBackpressure.inc({ door: 'mqtt_all' }, ingester.stats.heldBackAll);
    metrics.ingestBackpressure.inc({ door: 'rest' }, ingester.stats.refusedQueueFull);
  });
  const own = config.sites ? config.sites.map((s) => `${TOPIC_ROOT}/${s}/+/movements`) : [filters.movements];
  // Competing consumers: the broker hands each movements message to one member of the group
  // (on NATS the durable consumer does that, whatever the filter says).
  const subs = config.sharedGroup && !config.nats ? own.map((f) => `$share/${config.sharedGroup}/${f}`) : own;
  closers.push(() => ingester.drain());
  await ingester.start(subs);
  await alerts.start();
  // Device health for the board: every ingester reads every edge's status and telemetry.
  for (const channel of ['status', 'telemetry'] as const) {
    const on = channel === 'status' ? hub.health.onStatus : hub.health.onTelemetry;
    for (const f of config.sites ? config.sites.map((s) => `${TOPIC_ROOT}/${s}/+/${channel}`) : [filters[channel]]) {
      await bus.subscribe(f, (t, p, settle) => (on(t, p), settle(true)));
    }
  }
  await ts?.start();
  await follower.start();
  // ERP sync (issue 11 §5): drain the outbound queue the business modules fill in their
  // transactions, with the webhooks' backoff and signing; several ingesters may run one each
  // (a row is claimed with a lease).
  let erp: ErpSender | undefined;
  if (config.erpUrl) {
    const adapter = new K3CloudAdapter({ url: config.erpUrl, acctId: config.erpAcctId!, username: config.erpUser!, appId: config.erpAppId!, appSecret: config.erpAppSecret!, lcid: config.erpLcid, signingSecret: config.erpSigningSecret ?? config.erpAppSecret! });
    erp = new ErpSender(db, adapter, log.child({ part: 'erp' }), { backoffBaseMs: config.webhookBackoffMs, backoffCapMs: config.webhookBackoffCapMs });
    erp.start();
    closers.push(() => erp!.stop());
    log.info({ erp: adapter.name, url: config.erpUrl }, 'ERP sync on');
  }
  // Every subscription is in place: what the session delivered that nobody handles is acked now.
  if (bus instanceof ExternalBroker) bus.ready();

  const http = await buildApi({
    db,
    store,
    auth,
    hub,
    health: () => ({
      mqtt: bus.describe,
      mqttHealthy: bus.healthy,
      ingest: { ...ingester.stats },
      follower: follower.status(),
      ...(erp ? { erp: { ...erp.stats } } : {}),
      ...(bus instanceof EmbeddedBroker ? { broker: { ...bus.packetStats } } : bus instanceof ExternalBroker || bus instanceof NatsBus ? { broker: { ...bus.stats } } : {}),
    }),
    submit: (movements, postedBy) => ingester.submit(movements, postedBy),
    alertStore: alerts.store,
    alertEngine: alerts.engine,
    metrics,
    metricsToken: config.metricsToken,
    ...(sec.credentials ? { credentials: sec.credentials } : {}),
    ...(sec.mqtt ? { disconnectMqttUser: (u: string) => void sec.mqtt!.disconnect(u) } : {}),
  }, sec.tls ? { https: sec.tls } : {});
  closers.push(() => http.close());
  await http.listen({ port: config.httpPort, host: config.host });
  const addr = http.server.address();
  const httpPort = typeof addr === 'object' && addr ? addr.port : config.httpPort;
  log.info({ mqtt: bus.describe, http: `${sec.tls ? 'https' : 'http'}://${config.host}:${httpPort}`, subscriptions: subs }, 'cloud started');

  let stopped = false;
  return {
    config,
    bus,
    db,
    store,
    ingester,
    follower,
    http,
    metrics,
    ...(ts ? { timeseries: ts } : {}),
    ...(erp ? { erp } : {}),
    ...(mqttPort === undefined ? {} : { mqttPort }),
    httpPort,
    async stop() {
      if (stopped) return;
      stopped = true;
      hub.close();
      // Reverse of opening: HTTP, drain the ingester, alerts, bus, store, security, database.
      await closeAll();
    },
  };
}
