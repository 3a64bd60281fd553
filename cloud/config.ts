import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { z } from 'zod';
import { SiteId } from '../protocols/mqtt/index.js';

const Port = z.number().int().min(0).max(65535);

/** Cloud service configuration; a bad value stops the service at start with the field named. */
export const CloudConfig = z.strictObject({
  /** Folder for the ledger database. */
  dataDir: z.string().min(1),
  /** Embedded broker port (ignored with `broker`); 0 picks a free port. Default 1883. */
  mqttPort: Port.default(1883),
  /** HTTP API and board port; 0 picks a free port. Default 8080. */
  httpPort: Port.default(8080),
  /** Bind address for both listeners. Default 127.0.0.1. */
  host: z.string().min(1).default('127.0.0.1'),
  /** External broker URL (Mosquitto, EMQX); when absent, aedes is embedded on `mqttPort`. */
  broker: z.string().regex(/^(mqtts?|wss?):\/\/[^\s/]+/, 'broker: expected mqtt://HOST:PORT').optional(),
  brokerUsername: z.string().min(1).optional(),
  brokerPassword: z.string().min(1).optional(),
  /** Ingest only these sites (default: all). Lets one broker serve several ingesters or tests. */
  sites: z.array(SiteId).optional(),
  /** Turn off MQTT and HTTP authentication. Logged loudly. */
  insecure: z.boolean().default(false),
  /**
   * `--insecure` only: shared secret acks and rejects are signed with (edges take the same
   * `--ack-key`). With authentication on, each edge's key derives from its password instead.
   */
  ackKey: z.string().min(8, 'ackKey: at least 8 characters').max(1024).optional(),
  /** PEM certificate (chain) file: serve MQTT as mqtts on `mqttPort` and the API as HTTPS. Needs `tlsKey`. */
  tlsCert: z.string().min(1).optional(),
  /** PEM private key file of `tlsCert`. */
  tlsKey: z.string().min(1).optional(),
  /** Embedded broker, authentication on: live connections per MQTT username. Default 4. */
  maxConnPerUser: z.number().int().min(1).max(10_000).optional(),
  /** Embedded broker, authentication on: publishes/s per connection (burst 2x). Default 200. */
  maxPublishRate: z.number().positive().max(1_000_000).optional(),
  /**
   * Embedded broker: largest MQTT packet from any client, bytes, refused on its fixed header before
   * it is buffered (issue 8). Also the ingester's payload limit. Default 1 MiB.
   */
  maxPacketBytes: z.number().int().min(4096).max(256 * 1024 * 1024).default(1024 * 1024),
  /**
   * Embedded broker: movements of one edge read and waiting for a commit, past which the broker
   * reads no more from that client until its share is down to half (`IngesterOptions`). Default 20,000.
   */
  maxQueuedPerEdge: z.number().int().min(1000).max(10_000_000).default(20_000),
  /** Embedded broker: the same bound on all edges together; past it REST posts of movements get 503 (any broker). Default 400,000. */
  maxQueuedMovements: z.number().int().min(1000).max(100_000_000).default(400_000),
  /** MQTT client id of this ingester on an external broker; default derived from dataDir. */
  clientId: z.string().min(1).max(64).optional(),
  /** PostgreSQL instead of SQLite (postgres://USER@HOST:PORT/DB); absent = SQLite files in dataDir. */
  store: z.string().regex(/^postgres(ql)?:\/\/\S+$/, 'store: expected postgres://USER@HOST:PORT/DB').optional(),
  /**
   * Competing ingesters: subscribe to movements as `$share/<sharedGroup>/...`, so N cloud processes
   * (one PostgreSQL `store`) split the edges' batches. Needs an external broker with shared
   * subscriptions (Mosquitto, EMQX); the embedded aedes has none.
   */
  sharedGroup: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'expected a name of letters, digits, . _ -').optional(),
  /**
   * A NATS cluster instead of an MQTT broker (issue 14 §5): `nats://HOST:PORT` of one or more of
   * its nodes. Edges speak MQTT to the cluster's MQTT listeners; movements go through a replicated
   * JetStream stream and one durable consumer that every ingester shares (`sharedGroup` names it).
   */
  nats: z.array(z.string().regex(/^(nats|tls):\/\/[^\s/,]+$/, 'expected nats://HOST:PORT[,nats://HOST:PORT...]')).min(1).optional(),
  /** JetStream replicas of the movements stream and consumer: 3 on a 3-node cluster. Default 3. */
  natsReplicas: z.number().int().min(1).max(5).default(3),
  // ---- alerts (cloud/alerts/) ----
  /** Near-expiry window, days, for items without their own `nearExpiryDays` level. */
  nearExpiryDays: z.number().int().min(0).max(3650).default(30),
  /** `outbox-backlog` alert above this many unacked movements at an edge. */
  backlogAlert: z.number().int().min(0).default(10_000),
  /** `scale-drift` alert when |scale.<device>.zeroDriftKg| exceeds this, kg. */
  scaleDriftKg: z.number().nonnegative().default(0.05),
  /** Period of the near-expiry sweep, ms. */
  expiryCheckMs: z.number().int().min(10).default(60_000),
  /** Webhook/MQTT delivery retries: first delay and longest delay, ms (exponential between). */
  webhookBackoffMs: z.number().int().min(1).default(1000),
  webhookBackoffCapMs: z.number().int().min(1).default(300_000),
  // ---- time series (cloud/timeseries/, issue 13) ----
  /** InfluxDB v2/v3 or VictoriaMetrics base URL: the exporter runs when set. */
  tsdb: z.string().regex(/^https?:\/\/\S+$/, 'tsdb: expected http(s)://HOST:PORT').optional(),
  tsdbToken: z.string().min(1).optional(),
  tsdbBucket: z.string().min(1).optional(),
  tsdbOrg: z.string().min(1).optional(),
  /** After a failed write, re-send what was acknowledged this many seconds before it. */
  tsdbResendWindowS: z.number().min(0).max(86_400).default(60),
  /**
   * The business layer (`--no-business` turns it off): the ledger follower and its consumers
   * (cloud/ledger-consumers.ts). Off, nothing follows the ledger: no PO receipts, stage issues,
   * costs, reservation upkeep, ERP events or count scans; for measuring what it costs ingest
   * (bench/README.md), not for production. Default on.
   */
  business: z.boolean().default(true),
  /**
   * Read the rows form of a movements batch (version 2, protocols/mqtt/movement-rows.ts) and offer
   * it to the edges that ask (`--no-rows-form` turns it off: every edge then sends version 1).
   * Default on.
   */
  rowsForm: z.boolean().default(true),
  /** /metrics needs a token (role metrics or admin). Default off: see cloud/metrics/README.md. */
  metricsToken: z.boolean().default(false),
  // ---- ERP sync (cloud/erp/, issue 11 §5) ----
  /**
   * Kingdee K3Cloud WebAPI base URL (`http(s)://HOST[:PORT]/k3cloud/`): the ERP sender runs when
   * set, with the four login fields below (LoginByAppSecret). Absent = no sender (events still
   * queue in `erp_outbox`, and go out once an ERP is configured).
   */
  erpUrl: z.string().regex(/^https?:\/\/\S+$/, 'erpUrl: expected http(s)://HOST[:PORT]/k3cloud/').optional(),
  /** K3Cloud data centre (账套) id: LoginByAppSecret `acctid`. */
  erpAcctId: z.string().min(1).max(128).optional(),
  /** K3Cloud user name: LoginByAppSecret `username`. */
  erpUser: z.string().min(1).max(128).optional(),
  /** Third-party application id registered in K3Cloud: LoginByAppSecret `appid`. */
  erpAppId: z.string().min(1).max(256).optional(),
  /** Its secret: LoginByAppSecret `appsecret` (flag or STOCKGATE_ERP_APP_SECRET). */
  erpAppSecret: z.string().min(1).max(1024).optional(),
  /** K3Cloud language id: LoginByAppSecret `lcid`. Default 2052 (Simplified Chinese). */
  erpLcid: z.number().int().min(1).max(65535).default(2052),
  /**
   * HMAC key of the webhook signature headers every ERP request carries (for a gateway in front
   * of the ERP); default the app secret (STOCKGATE_ERP_SIGNING_SECRET).
   */
  erpSigningSecret: z.string().min(16, 'erpSigningSecret: at least 16 characters').max(1024).optional(),
}).refine((c) => (c.tlsCert === undefined) === (c.tlsKey === undefined), { path: ['tlsKey'], message: 'tlsCert and tlsKey go together' })
  .refine((c) => c.ackKey === undefined || c.insecure, {
    path: ['ackKey'],
    message: 'ackKey: only with --insecure (with authentication on, each edge\'s ack key derives from its password)',
  })
  .refine((c) => c.sharedGroup === undefined || c.broker !== undefined || c.nats !== undefined, {
    path: ['sharedGroup'],
    message: 'needs an external broker (--broker mqtt://HOST:PORT, Mosquitto or EMQX, or --nats): the embedded aedes has no shared subscriptions',
  })
  .refine((c) => c.nats === undefined || c.broker === undefined, { path: ['nats'], message: 'use either --broker or --nats, not both' })
  .superRefine((c, ctx) => {
    // The ERP login needs all four fields; without erpUrl none of them means anything.
    const fields = ['erpAcctId', 'erpUser', 'erpAppId', 'erpAppSecret'] as const;
    if (c.erpUrl !== undefined) {
      for (const f of fields) if (c[f] === undefined) ctx.addIssue({ code: 'custom', path: [f], message: `${f}: required with erpUrl (K3Cloud LoginByAppSecret)` });
    } else {
      for (const f of [...fields, 'erpSigningSecret'] as const) if (c[f] !== undefined) ctx.addIssue({ code: 'custom', path: [f], message: `${f}: only with erpUrl (the K3Cloud base URL)` });
    }
  });
export type CloudConfig = z.infer<typeof CloudConfig>;

export class CloudConfigError extends Error {
  readonly code = 'SG_ERR_CONFIG';
  /** The zod issues behind the message, so the CLI can name flags instead of keys. */
  issues?: z.core.$ZodIssue[];
}

export function parseCloudConfig(input: unknown): CloudConfig {
  const r = CloudConfig.safeParse(input);
  if (!r.success) {
    throw Object.assign(new CloudConfigError(`invalid cloud configuration:\n${r.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`).join('\n')}`), { issues: r.error.issues });
  }
  return r.data;
}

/** Stable per data dir, so a restarted ingester resumes its persistent broker session. */
export function defaultClientId(dataDir: string): string {
  return `sg-cloud-${createHash('sha256').update(resolve(dataDir)).digest('hex').slice(0, 12)}`;
}
