import type { Command } from 'commander';
import { createServer } from 'node:net';
import { randomBytes } from 'node:crypto';
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
import { RfidSimulator, sgtinTags, type SimTag } from '../../devices/simulators/rfid.js';
import { createLogger, failStart, onShutdown } from '../log.js';
import { intFlag, portFlag } from '../usage.js';
import type { Logger } from 'pino';
import { seedBusiness } from './demo-business.js';

/** GTIN of the demo's tagged cases (the SGTINs on the RFID pallet). */
const PALLET_GTIN = '04012345678901';

/**
 * The demo's item master: seeded into the cloud (names and uoms for the board, issue 9) and given
 * to the edge as its local item cache (uom and unit weight for the scans and the weigh station).
 */
export const DEMO_ITEMS: ReadonlyArray<{ sku: string; name: string; uom: string; gtin?: string; unitWeightKg?: number }> = [
  { sku: 'CEM-42.5-50KG', name: 'Cement P.O 42.5, 50 kg bag', uom: 'bag', unitWeightKg: 50 },
  { sku: 'REBAR-HRB400-12', name: 'Rebar HRB400 12 mm, 12 m bar', uom: 'ea' },
  { sku: 'PIPE-PPR-DN25', name: 'PPR pipe DN25, 4 m', uom: 'ea' },
  // Weighed at the weigh station: counted in pieces by its unit weight.
  { sku: 'BOLT-M16x80', name: 'Hex bolt M16x80 8.8', uom: 'ea', unitWeightKg: 0.125 },
  { sku: 'CABLE-YJV-3x95', name: 'Power cable YJV 3x95', uom: 'm' },
  // The RFID-tagged cases on the pallet that leaves through the portal and comes back.
  { sku: 'HELMET-EN397', name: 'Safety helmet EN 397 (tagged case)', uom: 'ea', gtin: PALLET_GTIN },
];

/**
 * Seed the cloud's item master over `PUT /api/v1/items/:sku` (the demo runs --insecure). A 404
 * (or the first item failing otherwise) means a cloud without the item master API: the demo runs
 * on, the board shows skus; said once.
 * Returns how many items were stored.
 */
export async function seedItemMaster(apiBase: string, items: typeof DEMO_ITEMS, log: Logger): Promise<number> {
  let stored = 0;
  for (const i of items) {
    const body: Record<string, unknown> = { name: i.name, uom: i.uom };
    if (i.gtin) body.gtins = [i.gtin];
    if (i.unitWeightKg !== undefined) body.unitWeightKg = i.unitWeightKg;
    let res: Response;
    try {
      res = await fetch(`${apiBase}/api/v1/items/${encodeURIComponent(i.sku)}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'demo: item master not seeded (cloud unreachable)');
      return stored;
    }
    if (res.status === 404) {
      log.warn({ status: 404 }, 'demo: item master not seeded: this cloud has no item master API yet (PUT /api/v1/items/:sku); the board shows skus without names');
      return stored;
    }
    if (!res.ok) {
      const body = (await res.text()).slice(0, 500);
      // The first item failing says the API is not there (or not this contract): say it once and stop.
      if (stored === 0) {
        log.warn({ sku: i.sku, status: res.status, body }, 'demo: item master not seeded: PUT /api/v1/items/:sku failed; the board shows skus without names');
        return stored;
      }
      log.warn({ sku: i.sku, status: res.status, body }, 'demo: item not seeded');
      continue;
    }
    stored++;
  }
  return stored;
}

/** The tags on one antenna only (a pallet seen by one side of the portal). */
const onAntenna = (tags: readonly SimTag[], antenna: number): SimTag[] => tags.map((t) => ({ epc: t.epc, rssi: { [antenna]: -52 } }));


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
    .option('--mqtt-port <port>', 'broker port (default 1883, or a free one if taken)', portFlag('--mqtt-port'))
    .option('--http-port <port>', 'board port (default 8080, or a free one if taken)', portFlag('--http-port'))
    .option('--interval-ms <ms>', 'time between simulated scans', intFlag('--interval-ms', { min: 1 }), 1000)
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
        const ackKey = randomBytes(24).toString('base64url');
        const cloud = await startCloud(
          // The demo's broker is open (--insecure): its acks are signed with a per-run key that
          // only its cloud and edge know, so a forged ack cannot empty the outbox (issue 8).
          parseCloudConfig({ dataDir: join(dataDir, 'cloud'), mqttPort, httpPort, host, insecure: true, ackKey }),
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
        const weighScanner = await link('weigh-scanner', 'ttyWeighScanner');
        const scale = await link('scale', 'ttyScale');
        const rfid = await link('rfid', 'ttyRfid');
        say(
          socat
            ? `devices: two scanners, an MT-SICS scale and a UHF RFID portal simulated on real pseudo-terminals in ${dataDir} (socat + serialport)`
            : 'devices: socat is not installed, so the simulated scanners, scale and RFID reader use the in-process memory transport (apt-get install socat for real ptys)',
        );
        const api = `http://${host}:${cloud.httpPort}`;
        const seeded = await seedItemMaster(api, DEMO_ITEMS, log);
        if (seeded) say(`item master: ${seeded} items with names and units of measure`);
        // The business layer's example (issue 10): a project with stages and a plan, a requisition
        // waiting for its approval, an open purchase order.
        const biz = await seedBusiness(api, 'demo-site', log);
        if (biz) say(`business: project ${biz.project} (stages, plan)${biz.requisition ? `, requisition ${biz.requisition} pending approval` : ''}${biz.purchaseOrder ? `, purchase order ${biz.purchaseOrder} open` : ''}: ${api}/api/v1/projects/${biz.project}/cost-report`);
        const agent = new EdgeAgent(
          parseEdgeConfig({
            ackKey,
            dataDir: join(dataDir, 'edge'),
            broker: `mqtt://${host}:${cloud.mqttPort}`,
            site: 'demo-site',
            edgeId: 'dock-1',
            location: 'DOCK-A',
            devices: [
              `dock1=scanner@${scanner.uri}`,
              `weigh1=scanner@${weighScanner.uri}`,
              `scale1=scale-mt-sics@${scale.uri}${scale.uri.includes('?') ? '&' : '?'}intervalMs=250`,
              `portal1=rfid-uhfreader18@${rfid.uri}${rfid.uri.includes('?') ? '&' : '?'}intervalMs=500`,
            ],
            // The scale is paired with its own scanner into a weigh station (issue 9: it booked nothing before).
            stations: [{ name: 'weigh-1', scanner: 'weigh1', scale: 'scale1' }],
            // The reader is a doorway portal: antenna 1 outside, 2 inside; out is an issue, in a receive.
            rfid: [{ reader: 'portal1', role: 'portal', outsideAntenna: 1, insideAntenna: 2, location: 'DOCK-GATE' }],
            items: DEMO_ITEMS.map((i) => ({ sku: i.sku, uom: i.uom, description: i.name, ...(i.gtin ? { gtin: i.gtin } : {}), ...(i.unitWeightKg !== undefined ? { unitWeightKg: i.unitWeightKg } : {}) })),
            telemetryMs: 5000,
          }),
          // Keep count-by-weight doubts and the like out of a newcomer's terminal (STOCKGATE_LOG_LEVEL=info shows everything).
          createLogger('demo-edge', process.env.STOCKGATE_LOG_LEVEL ?? 'error'),
        );
        agent.start();
        for (const e of simEnds) await e.open();
        const sim = new ScannerSimulator(scanner.end);
        const script = demoScript();
        const timer = setInterval(() => void sim.scan(script.next().value!), o.intervalMs);
        // The weigh station: the operator scans the bolts, puts a tote of 100 on the scale (12.5 kg
        // at 0.125 kg a piece), takes it off, scans again, puts 190 on (23.75 kg); in a loop.
        const load = new LoadModel({ divisionKg: 0.005 });
        const scaleSim = new MtSicsScaleSimulator(scale.end, { load });
        const weighSim = new ScannerSimulator(weighScanner.end);
        const pending = new Set<NodeJS.Timeout>();
        const at = (ms: number, fn: () => void) => {
          const t = setTimeout(() => {
            pending.delete(t);
            fn();
          }, ms);
          pending.add(t);
        };
        // First placement after 3 s: the station counts only after it has seen the empty scale stable.
        const weighCycle = () => {
          at(2500, () => void weighSim.scan({ data: 'BOLT-M16x80', aim: ']C0' }));
          at(3000, () => load.place(12.5));
          at(8000, () => load.place(0));
          at(11_500, () => void weighSim.scan({ data: 'BOLT-M16x80', aim: ']C0' }));
          at(12_000, () => load.place(23.75));
          at(17_000, () => load.place(0));
        };
        weighCycle();
        const weighTimer = setInterval(weighCycle, 18_000);
        // The portal: a pallet of tagged helmet cases comes in (outside antenna, then inside: a
        // receive), later leaves (inside, then outside: an issue), and comes back: booked each time.
        const pallet = sgtinTags(4, PALLET_GTIN);
        const rfidSim = new RfidSimulator(rfid.end, { protocol: 'uhfreader18', tags: [] });
        const pass = (from: number, to: number) => {
          rfidSim.setField(onAntenna(pallet, from));
          at(1500, () => rfidSim.setField(onAntenna(pallet, to)));
          at(3000, () => rfidSim.setField([]));
        };
        const portalCycle = () => {
          pass(1, 2);
          at(8000, () => pass(2, 1));
        };
        portalCycle();
        const portalTimer = setInterval(portalCycle, 16_000);

        say('');
        say(`  stockgate demo is running`);
        say(`  board:  http://${host}:${cloud.httpPort}/board`);
        say(`  API:    http://${host}:${cloud.httpPort}/api/v1/stock?site=demo-site`);
        say(`  MQTT:   mqtt://${host}:${cloud.mqttPort}  (topics stockgate/v1/demo-site/dock-1/#)`);
        say(`  a scan every ${o.intervalMs} ms at the dock; bolts counted by weight at weigh station weigh-1;`);
        say(`  a pallet of tagged helmet cases going out and back through the RFID portal. Ctrl+C stops.`);
        say('');

        onShutdown(async () => {
          clearInterval(timer);
          clearInterval(portalTimer);
          clearInterval(weighTimer);
          for (const t of pending) clearTimeout(t);
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
