import type { Command } from 'commander';
import { createLogger, emitEvent, failStart, onShutdown } from '../log.js';
import { describeConfigIssues, intFlag, numberFlag, portFlag, type ConfigIssue } from '../usage.js';

/** Config keys whose flag or source is not simply the kebab-case key. */
const SPECIAL_FLAGS: Record<string, string> = { sites: '--site', brokerPassword: 'STOCKGATE_BROKER_PASSWORD', ackKey: '--ack-key (or STOCKGATE_ACK_KEY)', store: '--store', maxQueuedMovements: '--max-queued', erpAppSecret: '--erp-app-secret (or STOCKGATE_ERP_APP_SECRET)', erpSigningSecret: '--erp-signing-secret (or STOCKGATE_ERP_SIGNING_SECRET)' };

export function registerCloud(program: Command): void {
  program
    .command('cloud')
    .description('run the cloud service: broker (embedded aedes or --broker), ingestion, ledger, HTTP API and board')
    .requiredOption('--data-dir <dir>', 'folder for the ledger database')
    .option('--mqtt-port <port>', 'embedded broker port, 0 = any free port', portFlag('--mqtt-port'), 1883)
    .option('--http-port <port>', 'HTTP API and board port, 0 = any free port', portFlag('--http-port'), 8080)
    .option('--host <addr>', 'bind address', '127.0.0.1')
    .option('--broker <url>', 'use an external broker (mqtt://HOST:PORT) instead of the embedded one')
    .option('--broker-username <name>', 'username on the external broker')
    .option('--site <site...>', 'ingest only these sites (default: all)')
    .option('--client-id <id>', 'MQTT client id on the external broker (default: derived from --data-dir)')
    .option('--insecure', 'turn off MQTT and HTTP authentication (demos and tests only)', false)
    .option('--ack-key <secret>', 'with --insecure: sign acks with this shared secret; edges take the same --ack-key (prefer STOCKGATE_ACK_KEY)')
    .option('--store <url>', 'PostgreSQL (postgres://USER@HOST:PORT/DB) instead of the SQLite files in --data-dir')
    .option('--shared-group <group>', 'competing ingesters: subscribe as $share/<group>/... (needs --broker: Mosquitto or EMQX); with --nats: the durable consumer they share')
    .option('--nats <urls>', 'a NATS cluster (JetStream + MQTT) instead of an MQTT broker: nats://HOST:PORT[,nats://HOST:PORT...]; edges speak MQTT to its nodes')
    .option('--nats-replicas <n>', 'with --nats: replicas of the movements stream (default 3; 1 on a single server)', intFlag('--nats-replicas'))
    .option('--near-expiry-days <n>', 'alerts: near-expiry window in days for items without their own (default 30)', intFlag('--near-expiry-days'))
    .option('--backlog-alert <n>', 'alerts: outbox-backlog above this many unacked movements (default 10000)', intFlag('--backlog-alert'))
    .option('--scale-drift-kg <kg>', 'alerts: scale-drift when |zero drift| exceeds this (default 0.05)', numberFlag('--scale-drift-kg'))
    .option('--expiry-check-ms <ms>', 'alerts: near-expiry sweep period (default 60000)', intFlag('--expiry-check-ms'))
    .option('--webhook-backoff-ms <ms>', 'alerts: first retry delay of a failed delivery (default 1000)', intFlag('--webhook-backoff-ms'))
    .option('--webhook-backoff-cap-ms <ms>', 'alerts: longest retry delay (default 300000)', intFlag('--webhook-backoff-cap-ms'))
    .option('--tls-cert <file>', 'PEM certificate (chain): MQTT over TLS (mqtts) on the MQTT port and HTTPS')
    .option('--tls-key <file>', 'PEM private key of --tls-cert')
    .option('--max-conn-per-user <n>', 'embedded broker: live connections per MQTT username (default 4)', intFlag('--max-conn-per-user'))
    .option('--max-publish-rate <n>', 'embedded broker: publishes/s per client, burst 2x (default 200)', numberFlag('--max-publish-rate'))
    .option('--max-packet-bytes <n>', 'embedded broker: largest MQTT packet, refused on its header before buffering; also the ingest payload limit (default 1048576)', intFlag('--max-packet-bytes'))
    .option('--max-queued-per-edge <n>', 'embedded broker: movements of one edge read and waiting for a commit; past it the broker reads no more from that client until half (default 20000)', intFlag('--max-queued-per-edge'))
    .option('--max-queued <n>', 'embedded broker: the same bound on all edges together; past it POST /api/v1/movements answers 503 (default 400000)', intFlag('--max-queued'))
    .option('--tsdb <url>', 'export the ledger, telemetry and alerts as time series to this InfluxDB v2/v3 or VictoriaMetrics (/api/v2/write)')
    .option('--tsdb-token <token>', 'time series: API token, for servers that need one (or env STOCKGATE_TSDB_TOKEN)')
    .option('--tsdb-bucket <bucket>', 'time series: bucket (default stockgate)')
    .option('--tsdb-org <org>', 'time series: organisation')
    .option('--tsdb-resend-window <seconds>', 'time series: after a failed write, re-send what was acknowledged this long before it (default 60)', numberFlag('--tsdb-resend-window'))
    .option('--no-business', 'run without the business layer: the ledger follower and its consumers (procurement, projects, costing, sales, ERP, counts) stay off; ingest, ledger, alerts and board as usual (the bench A/B of what the business layer costs ingest)')
    .option('--no-rows-form', 'read movement batches only as version 1 (one JSON object per movement) and do not offer the edges the rows form (batch version 2)')
    .option('--metrics-token', 'require a Bearer token with the metrics or admin role on /metrics (default: open, like Prometheus exporters)', false)
    .option('--erp-url <url>', 'ERP sync: Kingdee K3Cloud WebAPI base URL (http(s)://HOST/k3cloud/); approved POs, receipts, project issues, shipments and month-close reports go out to it (off when absent)')
    .option('--erp-acct-id <id>', 'ERP sync: K3Cloud data centre id (LoginByAppSecret acctid)')
    .option('--erp-user <name>', 'ERP sync: K3Cloud user name (LoginByAppSecret username)')
    .option('--erp-app-id <id>', 'ERP sync: K3Cloud third-party application id (LoginByAppSecret appid)')
    .option('--erp-app-secret <secret>', 'ERP sync: its application secret (prefer STOCKGATE_ERP_APP_SECRET)')
    .option('--erp-lcid <n>', 'ERP sync: K3Cloud language id (default 2052, Simplified Chinese)', intFlag('--erp-lcid'))
    .option('--erp-signing-secret <secret>', 'ERP sync: HMAC key of the signature headers on every ERP request, at least 16 characters (default: the app secret; or STOCKGATE_ERP_SIGNING_SECRET)')
    .addHelpText('after', '\nAuthentication is on unless --insecure: create the first admin token with: stockgate admin init --data-dir DIR\nPrints {"event":"ready","mqttPort":N,"httpPort":N} on stdout when listening. Logs go to stderr.\nERP sync retries with --webhook-backoff-ms / --webhook-backoff-cap-ms, like the webhooks.\nEnvironment: STOCKGATE_BROKER_PASSWORD, STOCKGATE_ACK_KEY, STOCKGATE_TSDB_TOKEN, STOCKGATE_ERP_APP_SECRET, STOCKGATE_ERP_SIGNING_SECRET, STOCKGATE_LOG_LEVEL.')
    .action(async (o: Record<string, unknown>) => {
      const log = createLogger('cloud');
      try {
        // Loaded here, not at the top: `stockgate edge` and `decode` never load the cloud's modules.
        const { parseCloudConfig } = await import('../../cloud/config.js');
        const { startCloud } = await import('../../cloud/service.js');
        const input = {
          dataDir: o.dataDir,
          mqttPort: o.mqttPort,
          httpPort: o.httpPort,
          host: o.host,
          insecure: o.insecure,
          ...(o.broker ? { broker: o.broker } : {}),
          ...(o.ackKey ?? process.env.STOCKGATE_ACK_KEY ? { ackKey: o.ackKey ?? process.env.STOCKGATE_ACK_KEY } : {}),
          ...(o.brokerUsername ? { brokerUsername: o.brokerUsername } : {}),
          ...(process.env.STOCKGATE_BROKER_PASSWORD ? { brokerPassword: process.env.STOCKGATE_BROKER_PASSWORD } : {}),
          ...(o.site ? { sites: o.site } : {}),
          ...(o.clientId ? { clientId: o.clientId } : {}),
          ...(o.store ? { store: o.store } : {}),
          ...(o.sharedGroup ? { sharedGroup: o.sharedGroup } : {}),
          ...(o.nats ? { nats: String(o.nats).split(',').map((u) => u.trim()).filter(Boolean) } : {}),
          ...(o.natsReplicas !== undefined ? { natsReplicas: o.natsReplicas } : {}),
          ...Object.fromEntries(
            ['nearExpiryDays', 'backlogAlert', 'scaleDriftKg', 'expiryCheckMs', 'webhookBackoffMs', 'webhookBackoffCapMs'].filter((k) => o[k] !== undefined).map((k) => [k, o[k]]),
          ),
          ...(o.tsdb ? { tsdb: o.tsdb } : {}),
          ...(o.tsdbToken || process.env.STOCKGATE_TSDB_TOKEN ? { tsdbToken: o.tsdbToken ?? process.env.STOCKGATE_TSDB_TOKEN } : {}),
          ...(o.tsdbBucket ? { tsdbBucket: o.tsdbBucket } : {}),
          ...(o.tsdbOrg ? { tsdbOrg: o.tsdbOrg } : {}),
          ...(o.tsdbResendWindow !== undefined ? { tsdbResendWindowS: o.tsdbResendWindow } : {}),
          ...(o.metricsToken ? { metricsToken: true } : {}),
          ...(o.business === false ? { business: false } : {}),
          ...(o.rowsForm === false ? { rowsForm: false } : {}),
          ...(o.tlsCert ? { tlsCert: o.tlsCert } : {}),
          ...(o.tlsKey ? { tlsKey: o.tlsKey } : {}),
          ...(o.maxConnPerUser !== undefined ? { maxConnPerUser: o.maxConnPerUser } : {}),
          ...(o.maxPublishRate !== undefined ? { maxPublishRate: o.maxPublishRate } : {}),
          ...(o.maxPacketBytes !== undefined ? { maxPacketBytes: o.maxPacketBytes } : {}),
          ...(o.maxQueuedPerEdge !== undefined ? { maxQueuedPerEdge: o.maxQueuedPerEdge } : {}),
          ...(o.maxQueued !== undefined ? { maxQueuedMovements: o.maxQueued } : {}),
          ...(o.erpUrl ? { erpUrl: o.erpUrl } : {}),
          ...(o.erpAcctId ? { erpAcctId: o.erpAcctId } : {}),
          ...(o.erpUser ? { erpUser: o.erpUser } : {}),
          ...(o.erpAppId ? { erpAppId: o.erpAppId } : {}),
          ...(o.erpAppSecret ?? process.env.STOCKGATE_ERP_APP_SECRET ? { erpAppSecret: o.erpAppSecret ?? process.env.STOCKGATE_ERP_APP_SECRET } : {}),
          ...(o.erpLcid !== undefined ? { erpLcid: o.erpLcid } : {}),
          ...(o.erpSigningSecret ?? process.env.STOCKGATE_ERP_SIGNING_SECRET ? { erpSigningSecret: o.erpSigningSecret ?? process.env.STOCKGATE_ERP_SIGNING_SECRET } : {}),
        };
        let config;
        try {
          config = parseCloudConfig(input);
        } catch (err) {
          const issues = (err as { issues?: ConfigIssue[] }).issues;
          if (!issues) throw err;
          const lines = describeConfigIssues(issues, { flagOf: SPECIAL_FLAGS, input });
          throw Object.assign(new Error(lines.length === 1 ? lines[0]! : `invalid cloud configuration:\n  ${lines.join('\n  ')}`), { code: 'SG_ERR_CONFIG' });
        }
        const cloud = await startCloud(config, log);
        onShutdown(() => cloud.stop());
        emitEvent('ready', { service: 'cloud', mqttPort: cloud.mqttPort ?? null, httpPort: cloud.httpPort, broker: cloud.bus.describe });
      } catch (err) {
        failStart(err);
      }
    });
}
