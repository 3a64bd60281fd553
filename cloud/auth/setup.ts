import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { type CloudConfig, CloudConfigError } from '../config.js';
import { AckKeyring } from './ack-keys.js';
import { mqttUserProject } from '../access/index.js';
import type { Db, PostgresDb, SqliteDb } from '../db/index.js';
import type { Authenticator } from './auth.js';
import type { CredentialStore } from './credential-store.js';
import { InsecureAuthenticator } from './insecure.js';
import { MqttAuth, type MqttHooks } from './mqtt-hooks.js';
import { PgCredentialStore } from './postgres.js';
import { SqliteCredentialStore } from './sqlite.js';
import { TokenAuthenticator } from './tokens.js';

export interface Security {
  auth: Authenticator;
  /** The credential store; undefined with --insecure. */
  credentials?: CredentialStore;
  /** Hooks and limits of the embedded broker; undefined with --insecure or an external broker. */
  mqtt?: MqttAuth;
  /** The per-edge keys acks and rejects are signed with (issue 8, finding 6). */
  ackKeys: AckKeyring;
  /** Certificate and key for mqtts and HTTPS, when configured. */
  tls?: { cert: Buffer; key: Buffer };
  /** Options for `EmbeddedBroker.start`. */
  broker: { hooks?: MqttHooks; tls?: { cert: Buffer; key: Buffer } };
  close(): Promise<void>;
}

function readPem(file: string, field: 'tlsCert' | 'tlsKey'): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new CloudConfigError(`${field}: cannot read ${file}: ${(err as Error).message}`);
  }
}

/**
 * Security of the cloud from its configuration: `--insecure` (everything open, loud warning) or
 * authentication on: API tokens and MQTT users from the cloud's one database (the SQLite file of
 * the data dir, or the PostgreSQL schema every ingester shares), the embedded broker's ACL hooks
 * and limits. Plus the TLS material when `--tls-cert/--tls-key` are given.
 */
export async function openSecurity(config: CloudConfig, log: Logger, db: Db): Promise<Security> {
  const tls = config.tlsCert && config.tlsKey ? { cert: readPem(config.tlsCert, 'tlsCert'), key: readPem(config.tlsKey, 'tlsKey') } : undefined;
  if (config.insecure) {
    log.warn('*** --insecure: MQTT and HTTP authentication are OFF. Anyone who can reach these ports can publish movements and read stock. Use only for demos and tests. ***');
    if (config.ackKey === undefined) {
      log.warn('--insecure without --ack-key: acks go unsigned; on a broker without ACLs only the edges\' seq bound stops a forged ack');
    }
    return { auth: new InsecureAuthenticator(), ackKeys: AckKeyring.insecure(log, config.ackKey), ...(tls ? { tls } : {}), broker: tls ? { tls } : {}, close: async () => undefined };
  }

  const credentials: CredentialStore = db.dialect === 'sqlite' ? new SqliteCredentialStore(db as SqliteDb) : await PgCredentialStore.on(db as PostgresDb);
  if (!(await credentials.hasAdminToken())) {
    log.warn(
      { dataDir: config.dataDir },
      `no admin token exists: the API refuses every protected call until you create one with 'stockgate admin init --data-dir ${config.dataDir}${config.store ? ' --store <the same URL>' : ''}' (prints it once; the cloud may keep running)`,
    );
  }
  const ackKeys = AckKeyring.fromStore(log, credentials);
  let mqtt: MqttAuth | undefined;
  if (config.broker) {
    log.info('external broker: MQTT authentication and topic ACLs are the broker\'s job (cloud/README.md, deploy/mosquitto/)');
  } else {
    mqtt = new MqttAuth(
      credentials,
      log,
      {
        ...(config.maxConnPerUser === undefined ? {} : { maxConnPerUser: config.maxConnPerUser }),
        ...(config.maxPublishRate === undefined ? {} : { publishRate: config.maxPublishRate }),
      },
      (p, password) => p.role === 'edge' && ackKeys.learn(p.username, password),
      (username) => mqttUserProject(db, username),
    );
    log.info({ ...mqtt.limits, database: db.describe }, 'authentication on: MQTT users and API tokens from the database');
  }
  return {
    auth: new TokenAuthenticator(credentials),
    credentials,
    ackKeys,
    ...(mqtt ? { mqtt } : {}),
    ...(tls ? { tls } : {}),
    broker: { ...(mqtt ? { hooks: mqtt.hooks } : {}), ...(tls ? { tls } : {}) },
    close: () => credentials.close(),
  };
}
