import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { filters, TOPIC_ROOT } from '../protocols/mqtt/index.js';
import { buildApi } from './api/server.js';
import type { Authenticator } from './auth/auth.js';
import { InsecureAuthenticator } from './auth/insecure.js';
import { BoardHub } from './board/hub.js';
import { EmbeddedBroker } from './broker/aedes.js';
import type { Bus } from './broker/bus.js';
import { ExternalBroker } from './broker/mqtt.js';
import { type CloudConfig, CloudConfigError, defaultClientId } from './config.js';
import { Ingester } from './ingest/ingester.js';
import { SqliteStore } from './store/sqlite.js';
import type { Store } from './store/store.js';

export interface RunningCloud {
  config: CloudConfig;
  bus: Bus;
  store: Store;
  ingester: Ingester;
  http: FastifyInstance;
  /** Actual ports (after port 0 was resolved). mqttPort is undefined with an external broker. */
  mqttPort?: number;
  httpPort: number;
  stop(): Promise<void>;
}

/** Start the cloud service: store, broker (embedded or external), ingestion, HTTP API and board. */
export async function startCloud(config: CloudConfig, log: Logger): Promise<RunningCloud> {
  let auth: Authenticator;
  if (config.insecure) {
    auth = new InsecureAuthenticator();
    log.warn('*** --insecure: MQTT and HTTP authentication are OFF. Anyone who can reach these ports can publish movements and read stock. Use only for demos and tests. ***');
  } else {
    throw new CloudConfigError(
      'insecure: authentication is required but no credential store exists yet (it comes with the cloud-ingestion issue); start with --insecure for now',
    );
  }

  mkdirSync(config.dataDir, { recursive: true });
  const store = new SqliteStore(join(config.dataDir, 'ledger.db'));
  let bus: Bus;
  let mqttPort: number | undefined;
  try {
    if (config.broker) {
      bus = await ExternalBroker.connect({
        url: config.broker,
        clientId: config.clientId ?? defaultClientId(config.dataDir),
        ...(config.brokerUsername ? { username: config.brokerUsername } : {}),
        ...(config.brokerPassword ? { password: config.brokerPassword } : {}),
      });
    } else {
      const embedded = await EmbeddedBroker.start({ port: config.mqttPort, host: config.host });
      bus = embedded;
      mqttPort = embedded.port;
    }
  } catch (err) {
    await store.close();
    throw err;
  }

  const hub = new BoardHub(store);
  const ingester = new Ingester(bus, store, log, { onCommit: (r) => hub.changed(r.changed) });
  const subs = config.sites ? config.sites.map((s) => `${TOPIC_ROOT}/${s}/+/movements`) : [filters.movements];
  await ingester.start(subs);

  const http = await buildApi({
    store,
    auth,
    hub,
    health: () => ({ mqtt: bus.describe, mqttHealthy: bus.healthy, ingest: { ...ingester.stats } }),
  });
  await http.listen({ port: config.httpPort, host: config.host });
  const addr = http.server.address();
  const httpPort = typeof addr === 'object' && addr ? addr.port : config.httpPort;
  log.info({ mqtt: bus.describe, http: `http://${config.host}:${httpPort}`, subscriptions: subs }, 'cloud started');

  let stopped = false;
  return {
    config,
    bus,
    store,
    ingester,
    http,
    ...(mqttPort === undefined ? {} : { mqttPort }),
    httpPort,
    async stop() {
      if (stopped) return;
      stopped = true;
      hub.close();
      await http.close();
      await ingester.drain();
      await bus.close();
      await store.close();
    },
  };
}
