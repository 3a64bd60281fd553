import type { Command } from 'commander';
import { createServer } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCloudConfig } from '../../cloud/config.js';
import { startCloud } from '../../cloud/service.js';
import { EdgeAgent } from '../../edge/agent.js';
import { parseEdgeConfig } from '../../edge/config.js';
import { hasSocat, openPtyPair, type PtyPair } from '../../devices/pty-pair.js';
import { SerialTransport } from '../../devices/serial.js';
import { memorySimulatorEnd } from '../../devices/memory.js';
import type { Transport } from '../../devices/transport.js';
import { ScannerSimulator, demoScript } from '../../devices/simulators/scanner.js';
import { createLogger, failStart, onShutdown } from '../log.js';

const int = (v: string) => (/^\d+$/.test(v) ? Number(v) : Number.NaN);

/** The port if it can be bound on host, else 0 (the OS picks a free one). */
async function portOrFree(port: number, host: string): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(0));
    s.listen(port, host, () => s.close(() => resolve(port)));
  });
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('run the cloud, an edge agent and a simulated scanner on a pty; prints the board URL')
    .option('--mqtt-port <port>', 'broker port (default 1883, or a free one if taken)', int)
    .option('--http-port <port>', 'board port (default 8080, or a free one if taken)', int)
    .option('--interval-ms <ms>', 'time between simulated scans', int, 1000)
    .option('--data-dir <dir>', 'keep data here (default: a temporary folder removed on exit)')
    .action(async (o: { mqttPort?: number; httpPort?: number; intervalMs: number; dataDir?: string }) => {
      const log = createLogger('demo', process.env.STOCKGATE_LOG_LEVEL ?? 'warn');
      const say = (s: string) => process.stdout.write(`${s}\n`);
      try {
        const host = '127.0.0.1';
        const dataDir = o.dataDir ?? mkdtempSync(join(tmpdir(), 'stockgate-demo-'));
        const mqttWanted = o.mqttPort ?? 1883;
        const httpWanted = o.httpPort ?? 8080;
        const mqttPort = await portOrFree(mqttWanted, host);
        const httpPort = await portOrFree(httpWanted, host);
        const cloud = await startCloud(
          parseCloudConfig({ dataDir: join(dataDir, 'cloud'), mqttPort, httpPort, host, insecure: true }),
          log,
        );
        if (mqttPort !== mqttWanted) say(`port ${mqttWanted} is taken: broker on ${cloud.mqttPort} instead`);
        if (httpPort !== httpWanted) say(`port ${httpWanted} is taken: board on ${cloud.httpPort} instead`);

        // The scanner: a real pty through serialport when socat exists, else in-process.
        let pty: PtyPair | undefined;
        let deviceUri: string;
        let simEnd: Transport;
        if (hasSocat()) {
          pty = await openPtyPair(join(dataDir, 'ttyScanner'));
          deviceUri = `serial://${pty.devicePath}`;
          simEnd = new SerialTransport({ path: pty.peerPath });
          say(`scanner: simulated on a real pseudo-terminal ${pty.devicePath} (socat + serialport)`);
        } else {
          deviceUri = 'memory://demo-scanner';
          simEnd = memorySimulatorEnd('demo-scanner');
          say('scanner: socat is not installed, so the simulated scanner uses the in-process memory transport (apt-get install socat for a real pty)');
        }
        const agent = new EdgeAgent(
          parseEdgeConfig({
            dataDir: join(dataDir, 'edge'),
            broker: `mqtt://${host}:${cloud.mqttPort}`,
            site: 'demo-site',
            edgeId: 'dock-1',
            location: 'DOCK-A',
            devices: [`dock1=scanner@${deviceUri}`],
            telemetryMs: 5000,
          }),
          log,
        );
        agent.start();
        await simEnd.open();
        const sim = new ScannerSimulator(simEnd);
        const script = demoScript();
        const timer = setInterval(() => void sim.scan(script.next().value!), o.intervalMs);

        say('');
        say(`  stockgate demo is running`);
        say(`  board:  http://${host}:${cloud.httpPort}/board`);
        say(`  API:    http://${host}:${cloud.httpPort}/api/v1/stock?site=demo-site`);
        say(`  MQTT:   mqtt://${host}:${cloud.mqttPort}  (topics stockgate/v1/demo-site/dock-1/#)`);
        say(`  a scan every ${o.intervalMs} ms; stock changes on the board within seconds. Ctrl+C stops.`);
        say('');

        onShutdown(async () => {
          clearInterval(timer);
          await simEnd.close();
          await agent.stop();
          await pty?.close();
          await cloud.stop();
          if (!o.dataDir) rmSync(dataDir, { recursive: true, force: true });
        });
      } catch (err) {
        failStart(err);
      }
    });
}
