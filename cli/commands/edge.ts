import type { Command } from 'commander';
import { EdgeAgent } from '../../edge/agent.js';
import { parseEdgeConfig, readConfigFile } from '../../edge/config.js';
import { createLogger, emitEvent, failStart, onShutdown } from '../log.js';

const num = (v: string) => (/^-?\d+(\.\d+)?$/.test(v) ? Number(v) : Number.NaN);
const collect = (v: string, prev: string[] = []) => [...prev, v];

/** Flag name -> config key. Only flags actually given override the config file. */
const FLAG_KEYS: Array<[string, string]> = [
  ['dataDir', 'dataDir'],
  ['broker', 'broker'],
  ['site', 'site'],
  ['edgeId', 'edgeId'],
  ['location', 'location'],
  ['mode', 'mode'],
  ['uom', 'uom'],
  ['device', 'devices'],
  ['username', 'username'],
  ['password', 'password'],
  ['batchSize', 'batchSize'],
  ['window', 'window'],
  ['ackTimeoutMs', 'ackTimeoutMs'],
  ['telemetryMs', 'telemetryMs'],
];

export function registerEdge(program: Command): void {
  program
    .command('edge')
    .description('run an edge agent: devices -> scan session -> durable outbox -> MQTT')
    .option('--config <file>', 'JSON config file (same keys as the flags, camelCase; flags win)')
    .option('--data-dir <dir>', 'folder for the outbox database')
    .option('--broker <url>', 'broker URL, e.g. mqtt://127.0.0.1:1883')
    .option('--site <site>', 'site id')
    .option('--edge-id <id>', 'this edge agent\'s id (unique within the site)')
    .option('--location <loc>', 'default location of movements')
    .option('--mode <mode>', 'default movement kind: receive|issue|return|count')
    .option('--uom <uom>', 'unit of measure of scanned items (default ea)')
    .option('--device <spec>', 'NAME=DRIVER@URI, repeatable, e.g. dock1=scanner@serial:///dev/ttyACM0?baudRate=9600', collect)
    .option('--username <name>', 'MQTT username')
    .option('--password <pw>', 'MQTT password (prefer STOCKGATE_MQTT_PASSWORD)')
    .option('--batch-size <n>', 'movements per published batch (default 500)', num)
    .option('--window <n>', 'batches awaiting ack at once (default 8)', num)
    .option('--ack-timeout-ms <ms>', 'resend a batch not acked within this time (default 10000)', num)
    .option('--telemetry-ms <ms>', 'telemetry interval, 0 = off (default 10000)', num)
    .addHelpText('after', '\nPrints {"event":"ready",...} on stdout once started. Logs go to stderr.\nEnvironment: STOCKGATE_MQTT_PASSWORD, STOCKGATE_LOG_LEVEL.')
    .action(async (o: Record<string, unknown>) => {
      const log = createLogger('edge');
      try {
        const input: Record<string, unknown> = o.config ? readConfigFile(String(o.config)) : {};
        if (process.env.STOCKGATE_MQTT_PASSWORD) input.password = process.env.STOCKGATE_MQTT_PASSWORD;
        for (const [flag, key] of FLAG_KEYS) if (o[flag] !== undefined) input[key] = o[flag];
        const config = parseEdgeConfig(input);
        const agent = new EdgeAgent(config, log);
        agent.start();
        onShutdown(() => agent.stop());
        emitEvent('ready', {
          service: 'edge',
          site: config.site,
          edge: config.edgeId,
          devices: config.devices,
          backlog: agent.outbox.backlog().count,
          lastSeq: agent.outbox.lastSeq(),
        });
      } catch (err) {
        failStart(err);
      }
    });
}
