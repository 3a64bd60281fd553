import type { Command } from 'commander';
import { parseCloudConfig } from '../../cloud/config.js';
import { startCloud } from '../../cloud/service.js';
import { createLogger, emitEvent, failStart, onShutdown } from '../log.js';

const int = (v: string) => (/^-?\d+$/.test(v) ? Number(v) : Number.NaN);

export function registerCloud(program: Command): void {
  program
    .command('cloud')
    .description('run the cloud service: broker (embedded aedes or --broker), ingestion, ledger, HTTP API and board')
    .requiredOption('--data-dir <dir>', 'folder for the ledger database')
    .option('--mqtt-port <port>', 'embedded broker port, 0 = any free port', int, 1883)
    .option('--http-port <port>', 'HTTP API and board port, 0 = any free port', int, 8080)
    .option('--host <addr>', 'bind address', '127.0.0.1')
    .option('--broker <url>', 'use an external broker (mqtt://HOST:PORT) instead of the embedded one')
    .option('--broker-username <name>', 'username on the external broker')
    .option('--site <site...>', 'ingest only these sites (default: all)')
    .option('--client-id <id>', 'MQTT client id on the external broker (default: derived from --data-dir)')
    .option('--insecure', 'turn off MQTT and HTTP authentication (demos and tests only)', false)
    .addHelpText('after', '\nPrints {"event":"ready","mqttPort":N,"httpPort":N} on stdout when listening. Logs go to stderr.\nEnvironment: STOCKGATE_BROKER_PASSWORD, STOCKGATE_LOG_LEVEL.')
    .action(async (o: Record<string, unknown>) => {
      const log = createLogger('cloud');
      try {
        const config = parseCloudConfig({
          dataDir: o.dataDir,
          mqttPort: o.mqttPort,
          httpPort: o.httpPort,
          host: o.host,
          insecure: o.insecure,
          ...(o.broker ? { broker: o.broker } : {}),
          ...(o.brokerUsername ? { brokerUsername: o.brokerUsername } : {}),
          ...(process.env.STOCKGATE_BROKER_PASSWORD ? { brokerPassword: process.env.STOCKGATE_BROKER_PASSWORD } : {}),
          ...(o.site ? { sites: o.site } : {}),
          ...(o.clientId ? { clientId: o.clientId } : {}),
        });
        const cloud = await startCloud(config, log);
        onShutdown(() => cloud.stop());
        emitEvent('ready', { service: 'cloud', mqttPort: cloud.mqttPort ?? null, httpPort: cloud.httpPort, broker: cloud.bus.describe });
      } catch (err) {
        failStart(err);
      }
    });
}
