import type { Command } from 'commander';
import { createLogger, emitEvent, failStart, onShutdown } from '../log.js';
import { describeConfigIssues, flagOf, intFlag, numberFlag, portFlag, type ConfigIssue } from '../usage.js';

const collect = (v: string, prev: string[] = []) => [...prev, v];
const list = (v: string) => v.split(',').map((s) => s.trim()).filter(Boolean);
/** `--station SCANNER+SCALE` -> a weigh station entry (a bad value is left for the schema to name). */
const station = (v: string, prev: unknown[] = []) => {
  const m = /^([^+]+)\+([^+]+)$/.exec(v);
  return [...prev, m ? { scanner: m[1], scale: m[2] } : v];
};

/** Config keys whose flag is not simply the kebab-case key. */
const SPECIAL_FLAGS: Record<string, string> = { devices: '--device', itemsFile: '--items', stations: '--station', remoteConfig: '--no-remote-config', password: '--password (or STOCKGATE_MQTT_PASSWORD)' };

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
  ['ca', 'ca'],
  ['ackKey', 'ackKey'],
  ['batchSize', 'batchSize'],
  ['window', 'window'],
  ['ackTimeoutMs', 'ackTimeoutMs'],
  ['telemetryMs', 'telemetryMs'],
  ['items', 'itemsFile'],
  ['outboxMaxBytes', 'outboxMaxBytes'],
  ['backlogAlert', 'backlogAlert'],
  ['drainRatePerSec', 'drainRatePerSec'],
  ['station', 'stations'],
  ['issueRequires', 'issueRequires'],
  ['unknownItems', 'unknownItems'],
  ['remoteConfig', 'remoteConfig'],
  ['rowsForm', 'rowsForm'],
  ['sessionIdleMin', 'sessionIdleMin'],
];

export function registerEdge(program: Command): void {
  program
    .command('edge')
    .description('run an edge agent: devices -> scan session -> durable outbox -> MQTT')
    .option('--config <file>', 'JSON config file (same keys as the flags, camelCase; flags win)')
    .option('--data-dir <dir>', 'folder for the outbox database (required, here or in --config)')
    .option('--broker <url>', 'broker URL, e.g. mqtt://127.0.0.1:1883 (required, here or in --config)')
    .option('--site <site>', 'site id (required, here or in --config)')
    .option('--edge-id <id>', 'this edge agent\'s id, unique within the site (required, here or in --config)')
    .option('--location <loc>', 'default location of movements (required, here or in --config)')
    .option('--mode <mode>', 'default movement kind: receive|issue|return|count')
    .option('--uom <uom>', 'unit of measure of scanned items (default ea)')
    .option('--device <spec>', 'NAME=DRIVER@URI, repeatable, e.g. dock1=scanner@serial:///dev/ttyACM0?baudRate=9600', collect)
    .option('--username <name>', 'MQTT username')
    .option('--password <pw>', 'MQTT password (prefer STOCKGATE_MQTT_PASSWORD)')
    .option('--ack-key <secret>', 'for an --insecure cloud started with the same --ack-key: accept only acks signed with it (prefer STOCKGATE_ACK_KEY)')
    .option('--ca <file>', 'PEM CA certificate(s) to trust for an mqtts:// broker (default: the system CAs)')
    .option('--batch-size <n>', 'movements per published batch (default 500)', intFlag('--batch-size'))
    .option('--window <n>', 'batches awaiting ack at once (default 8)', intFlag('--window'))
    .option('--ack-timeout-ms <ms>', 'resend a batch not acked within this time (default 10000)', intFlag('--ack-timeout-ms'))
    .option('--telemetry-ms <ms>', 'telemetry interval, 0 = off (default 10000)', intFlag('--telemetry-ms'))
    .option('--items <file>', 'item master JSON (array of {sku, gtin?, uom?, unitWeightKg?, serialised?}) for offline validation')
    .option('--station <scanner+scale>', 'weigh station: a scanner and a scale paired, e.g. dock1+scale1 (repeatable)', station)
    .option('--issue-requires <fields>', 'context an issue needs, comma-separated: project,crew,operator,stage', list)
    .option('--unknown-items <policy>', 'accept|reject items the item cache does not know (default accept)')
    .option('--outbox-max-bytes <n>', 'outbox bound in bytes of unacked movements; when full new movements are refused (default 268435456)', intFlag('--outbox-max-bytes'))
    .option('--backlog-alert <n>', 'backlog (movements) above which status reports outbox-backlog (default 10000)', intFlag('--backlog-alert'))
    .option('--drain-rate-per-sec <n>', 'drain limit after an outage, movements/s; 0 = unlimited (default 0)', numberFlag('--drain-rate-per-sec'))
    .option('--session-idle-min <min>', 'operator, crew and project bindings of a scanner expire after this many minutes without a scan; 0 = never (default 30)', numberFlag('--session-idle-min'))
    .option('--metrics-port <port>', 'serve Prometheus GET /metrics on this port, 0 = any free port (default: off)', portFlag('--metrics-port'))
    .option('--metrics-host <addr>', 'bind address of --metrics-port (default 127.0.0.1)')
    .option('--no-remote-config', 'ignore the retained remote config on .../config')
    .option('--no-rows-form', 'publish batches only as version 1 (one JSON object per movement), even to a cloud that offers the rows form (batch version 2)')
    .addHelpText(
      'after',
      '\nPrints {"event":"ready",...} on stdout once started. Logs go to stderr.\n' +
        'Precedence: defaults < --config file < remote config (.../config) < flags. A flag pins its key:\n' +
        'the remote config does not change it, and the status lists it in configShadowed.\n' +
        'Environment: STOCKGATE_MQTT_PASSWORD, STOCKGATE_ACK_KEY, STOCKGATE_LOG_LEVEL.',
    )
    .action(async (o: Record<string, unknown>) => {
      const log = createLogger('edge');
      try {
        // Loaded here, not at the top: other commands never load the agent.
        const { EdgeAgent } = await import('../../edge/agent.js');
        const { parseEdgeConfig, readConfigFile } = await import('../../edge/config.js');
        const input: Record<string, unknown> = o.config ? readConfigFile(String(o.config)) : {};
        if (process.env.STOCKGATE_MQTT_PASSWORD) input.password = process.env.STOCKGATE_MQTT_PASSWORD;
        if (process.env.STOCKGATE_ACK_KEY) input.ackKey = process.env.STOCKGATE_ACK_KEY;
        const pinned: string[] = [];
        for (const [flag, key] of FLAG_KEYS) {
          // commander sets remoteConfig=true (rowsForm=true) by default for --no-remote-config
          // (--no-rows-form): only `false` was given.
          if (o[flag] === undefined || ((flag === 'remoteConfig' || flag === 'rowsForm') && o[flag] === true)) continue;
          input[key] = o[flag];
          pinned.push(key);
        }
        let config;
        try {
          config = parseEdgeConfig(input);
        } catch (err) {
          throw withFlagNames(err, input, new Set(pinned), o.config ? String(o.config) : undefined);
        }
        const agent = new EdgeAgent(config, log, { pinned });
        agent.start();
        onShutdown(() => agent.stop());
        let metricsPort: number | undefined;
        if (o.metricsPort !== undefined) {
          if (!Number.isInteger(o.metricsPort) || (o.metricsPort as number) < 0 || (o.metricsPort as number) > 65535) throw new Error('--metrics-port: expected 0-65535');
          const { EdgeMetrics } = await import('../../edge/metrics.js');
          const { readFileSync } = await import('node:fs');
          const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
          const server = await new EdgeMetrics(agent, pkg.version).listen(o.metricsPort as number, String(o.metricsHost ?? '127.0.0.1'));
          // Closed by the process exit that follows the agent's stop (cli/log.ts onShutdown).
          const a = server.address();
          metricsPort = typeof a === 'object' && a ? a.port : undefined;
        }
        emitEvent('ready', {
          service: 'edge',
          site: config.site,
          edge: config.edgeId,
          devices: config.devices,
          backlog: agent.outbox.backlog().count,
          lastSeq: agent.outbox.lastSeq(),
          configVersion: agent.remote.version,
          items: agent.items.size(),
          itemMasterVersion: agent.itemMaster.version,
          ...(metricsPort === undefined ? {} : { metricsPort }),
        });
      } catch (err) {
        failStart(err);
      }
    });
}

/** A config error re-worded with flag names (`--data-dir is required`), keys from the file as keys. */
function withFlagNames(err: unknown, input: Record<string, unknown>, fromFlags: Set<string>, file: string | undefined): unknown {
  const issues = (err as { issues?: ConfigIssue[] }).issues;
  if (!issues) return err;
  const flags: Record<string, string> = {};
  for (const [attr, key] of FLAG_KEYS) flags[key] = SPECIAL_FLAGS[key] ?? flagOf(attr);
  const lines = describeConfigIssues(issues, { flagOf: flags, fromFlags, input, ...(file ? { file } : {}), knownKeys: [...FLAG_KEYS.map(([, k]) => k), 'items', 'rfid'] });
  return Object.assign(new Error(lines.length === 1 ? lines[0]! : `invalid edge configuration:\n  ${lines.join('\n  ')}`), { code: 'SG_ERR_CONFIG' });
}
