import type { Command } from 'commander';
import { createServer } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasSocat, openPtyPair, type PtyPair } from '../../devices/pty-pair.js';
import { SerialTransport } from '../../devices/serial.js';
import { memorySimulatorEnd } from '../../devices/memory.js';
import type { Transport } from '../../devices/transport.js';
import { ScannerSimulator, demoScript } from '../../devices/simulators/scanner.js';
import { LoadModel } from '../../devices/simulators/load.js';
import { MtSicsScaleSimulator } from '../../devices/simulators/scale.js';
import { RfidSimulator, sgtinTags } from '../../devices/simulators/rfid.js';
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
    .description('run the cloud, an edge agent and a simulated scanner, scale and RFID reader (each on its own pty); prints the board URL')
    .option('--mqtt-port <port>', 'broker port (default 1883, or a free one if taken)', int)
    .option('--http-port <port>', 'board port (default 8080, or a free one if taken)', int)
    .option('--interval-ms <ms>', 'time between simulated scans', int, 1000)
    .option('--data-dir <dir>', 'keep data here (default: a temporary folder removed on exit)')
    .action(async (o: { mqttPort?: number; httpPort?: number; intervalMs: number; dataDir?: string }) => {
      const log = createLogger('demo', process.env.STOCKGATE_LOG_LEVEL ?? 'warn');
      const say = (s: string) => process.stdout.write(`${s}\n`);
      try {
        // Loaded here so that other commands never load the cloud and agent modules.
        const { parseCloudConfig } = await import('../../cloud/config.js');
        const { startCloud } = await import('../../cloud/service.js');
        const { EdgeAgent } = await import('../../edge/agent.js');
        const { parseEdgeConfig } = await import('../../edge/config.js');
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

        // The devices: each on a real pty through serialport when socat exists, else in-process.
        const socat = hasSocat();
        const ptys: PtyPair[] = [];
        const simEnds: Transport[] = [];
        const link = async (name: string, tty: string): Promise<{ uri: string; end: Transport }> => {
          if (socat) {
            const pty = await openPtyPair(join(dataDir, tty));
            ptys.push(pty);
            const end = new SerialTransport({ path: pty.peerPath });
            simEnds.push(end);
            return { uri: `serial://${pty.devicePath}`, end };
          }
          const end = memorySimulatorEnd(`demo-${name}`);
          simEnds.push(end);
          return { uri: `memory://demo-${name}`, end };
        };
        const scanner = await link('scanner', 'ttyScanner');
        const scale = await link('scale', 'ttyScale');
        const rfid = await link('rfid', 'ttyRfid');
        say(
          socat
            ? `devices: scanner, MT-SICS scale and UHF RFID reader simulated on real pseudo-terminals in ${dataDir} (socat + serialport)`
            : 'devices: socat is not installed, so the simulated scanner, scale and RFID reader use the in-process memory transport (apt-get install socat for real ptys)',
        );
        const agent = new EdgeAgent(
          parseEdgeConfig({
            dataDir: join(dataDir, 'edge'),
            broker: `mqtt://${host}:${cloud.mqttPort}`,
            site: 'demo-site',
            edgeId: 'dock-1',
            location: 'DOCK-A',
            devices: [
              `dock1=scanner@${scanner.uri}`,
              `scale1=scale-mt-sics@${scale.uri}${scale.uri.includes('?') ? '&' : '?'}intervalMs=250`,
              `portal1=rfid-uhfreader18@${rfid.uri}${rfid.uri.includes('?') ? '&' : '?'}intervalMs=500`,
            ],
            telemetryMs: 5000,
          }),
          // The simulated scale is monitored without a paired scanner; keep its weigh-station
          // warnings out of a newcomer's terminal (STOCKGATE_LOG_LEVEL=info shows everything).
          createLogger('demo-edge', process.env.STOCKGATE_LOG_LEVEL ?? 'error'),
        );
        agent.start();
        for (const e of simEnds) await e.open();
        const sim = new ScannerSimulator(scanner.end);
        const script = demoScript();
        const timer = setInterval(() => void sim.scan(script.next().value!), o.intervalMs);
        // A weigh station: a 12.5 kg carton is put on, taken off, then a 23.75 kg one, in a loop.
        const scaleSim = new MtSicsScaleSimulator(scale.end, {
          load: new LoadModel({
            script: [
              { atMs: 2000, kg: 12.5 },
              { atMs: 7000, kg: 0 },
              { atMs: 10_000, kg: 23.75 },
              { atMs: 15_000, kg: 0 },
            ],
            loopMs: 18_000,
            divisionKg: 0.005,
          }),
        });
        // A dock portal: a pallet of tagged cases passes every 12 s and stays in the field for 6 s.
        const pallet = sgtinTags(4);
        const rfidSim = new RfidSimulator(rfid.end, { protocol: 'uhfreader18', tags: [] });
        let palletIn = false;
        const portalTimer = setInterval(() => rfidSim.setField((palletIn = !palletIn) ? pallet : []), 6000);

        say('');
        say(`  stockgate demo is running`);
        say(`  board:  http://${host}:${cloud.httpPort}/board`);
        say(`  API:    http://${host}:${cloud.httpPort}/api/v1/stock?site=demo-site`);
        say(`  MQTT:   mqtt://${host}:${cloud.mqttPort}  (topics stockgate/v1/demo-site/dock-1/#)`);
        say(`  a scan every ${o.intervalMs} ms; stock changes on the board within seconds. Ctrl+C stops.`);
        say('');

        onShutdown(async () => {
          clearInterval(timer);
          clearInterval(portalTimer);
          scaleSim.stop();
          rfidSim.stop();
          for (const e of simEnds) await e.close();
          await agent.stop();
          for (const p of ptys) await p.close();
          await cloud.stop();
          if (!o.dataDir) rmSync(dataDir, { recursive: true, force: true });
        });
      } catch (err) {
        failStart(err);
      }
    });
}
