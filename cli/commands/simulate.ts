import type { Command } from 'commander';
import { readFileSync, existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { openPtyPair, hasSocat, type PtyPair } from '../../devices/pty-pair.js';
import { SerialTransport } from '../../devices/serial.js';
import { ScannerSimulator, demoScript } from '../../devices/simulators/scanner.js';
import { LoadModel, parsePlacementScript } from '../../devices/simulators/load.js';
import { ContinuousScaleSimulator, MtSicsScaleSimulator, type ContinuousVariant } from '../../devices/simulators/scale.js';
import { RfidSimulator, sgtinTags, type SimTag } from '../../devices/simulators/rfid.js';
import { emitEvent, failStart, onShutdown } from '../log.js';
import { intFlag, numberFlag } from '../usage.js';

const collect = (v: string, prev: string[]) => [...prev, v];
const configError = (message: string) => Object.assign(new Error(message), { code: 'SG_ERR_CONFIG' });

function requireNumber(flag: string, v: number | undefined, check: (n: number) => boolean = (n) => n >= 0): void {
  if (v !== undefined && !(Number.isFinite(v) && check(v))) throw configError(`${flag}: expected a number in range, got ${v}`);
}

/** A pty pair whose device end is `link`, and the serial transport on its simulator end. */
async function ptyPeer(link: string): Promise<{ pty: PtyPair; port: SerialTransport }> {
  if (!hasSocat()) throw Object.assign(new Error('socat is not installed (Debian: apt-get install socat)'), { code: 'SG_ERR_NO_SOCAT' });
  const pty = await openPtyPair(link);
  const port = new SerialTransport({ path: pty.peerPath });
  await port.open();
  return { pty, port };
}

export function registerSimulate(program: Command): void {
  const simulate = program.command('simulate').description('run a device simulator on a real pseudo-terminal (needs socat)');
  simulate
    .command('scanner')
    .description('a barcode scanner: creates a pty pair, links PATH for the agent to open, and scans into it')
    .requiredOption('--link <path>', 'path of the device end, e.g. /tmp/ttyScanner; open it with --device x=scanner@serial://<path>')
    .option('--protocol <p>', 'lines: [AIM]data CR LF, as USB-CDC/serial scanners send', 'lines')
    .option('--interval-ms <ms>', 'time between scans of the built-in script', intFlag('--interval-ms', { min: 0 }), 1000)
    .option('--count <n>', 'stop after this many scans (default: run until stopped)', intFlag('--count', { min: 0 }))
    .option('--stdin', 'scan each line read from standard input instead of the built-in script', false)
    .action(async (o: { link: string; protocol: string; intervalMs: number; count?: number; stdin: boolean }) => {
      try {
        if (o.protocol !== 'lines') throw configError(`--protocol: '${o.protocol}' is not lines`);
        if (!Number.isFinite(o.intervalMs) || o.intervalMs < 0) throw configError('--interval-ms: expected a whole number of ms');
        if (o.count !== undefined && !Number.isFinite(o.count)) throw configError('--count: expected a whole number');
        const { pty, port } = await ptyPeer(o.link);
        const sim = new ScannerSimulator(port);
        let timer: NodeJS.Timeout | undefined;
        const stop = async () => {
          clearInterval(timer);
          await port.close();
          await pty.close();
        };
        onShutdown(stop);
        emitEvent('ready', { simulator: 'scanner', protocol: o.protocol, link: o.link });
        let sent = 0;
        const done = () => o.count !== undefined && sent >= o.count;
        if (o.stdin) {
          const rl = createInterface({ input: process.stdin });
          for await (const line of rl) {
            await sim.scan(line);
            sent++;
            if (done()) break;
          }
          await new Promise((r) => setTimeout(r, 100));
          await stop();
          return;
        }
        const script = demoScript();
        timer = setInterval(() => {
          const s = script.next().value!;
          void sim.scan(s);
          process.stdout.write(`${JSON.stringify({ event: 'scan', ...s })}\n`);
          if ((++sent, done())) void stop();
        }, o.intervalMs);
      } catch (err) {
        failStart(err);
      }
    });

  simulate
    .command('scale')
    .description('a weighing scale on a pty: answers MT-SICS commands, or streams toledo/ascii/xk3190 frames')
    .requiredOption('--link <path>', 'path of the device end; open it with --device x=scale-<protocol>@serial://<path>')
    .option('--protocol <p>', 'mt-sics | toledo | ascii | xk3190', 'mt-sics')
    .option('--variant <v>', 'ascii: and | generic | cas | ohaus | yaohua-w | a12e (default and); xk3190: stx | reversed (default stx)')
    .option('--weight-kg <kg>', 'load on the platform at the start', numberFlag('--weight-kg'), 0)
    .option('--script <spec>', 'placements: "MS:KG,MS:KG" (e.g. 2000:12.5,8000:0), a JSON array [{"atMs","kg"}], or a file holding either')
    .option('--loop-ms <ms>', 'repeat the script every MS', intFlag('--loop-ms', { min: 0 }), 0)
    .option('--settle-ms <ms>', 'swing time after each change before the reading is stable', intFlag('--settle-ms', { min: 0 }), 800)
    .option('--noise-kg <kg>', 'peak swing right after a change', numberFlag('--noise-kg'), 0.05)
    .option('--division-kg <kg>', 'display division', numberFlag('--division-kg'), 0.001)
    .option('--capacity-kg <kg>', 'capacity (overload above it)', numberFlag('--capacity-kg'), 60)
    .option('--rate-ms <ms>', 'continuous formats: one frame every MS; mt-sics: SIR repeat interval', intFlag('--rate-ms', { min: 0 }), 100)
    .action(
      async (o: {
        link: string;
        protocol: string;
        variant?: string;
        weightKg: number;
        script?: string;
        loopMs: number;
        settleMs: number;
        noiseKg: number;
        divisionKg: number;
        capacityKg: number;
        rateMs: number;
      }) => {
        try {
          if (!['mt-sics', 'toledo', 'ascii', 'xk3190'].includes(o.protocol)) throw configError(`--protocol: '${o.protocol}' is not mt-sics, toledo, ascii or xk3190`);
          requireNumber('--weight-kg', o.weightKg, () => true);
          requireNumber('--loop-ms', o.loopMs);
          requireNumber('--settle-ms', o.settleMs);
          requireNumber('--noise-kg', o.noiseKg);
          requireNumber('--division-kg', o.divisionKg, (n) => n > 0);
          requireNumber('--capacity-kg', o.capacityKg, (n) => n > 0);
          requireNumber('--rate-ms', o.rateMs, (n) => n > 0);
          const scriptText = o.script !== undefined && existsSync(o.script) ? readFileSync(o.script, 'utf8') : o.script;
          const load = new LoadModel({
            weightKg: o.weightKg,
            script: scriptText !== undefined ? parsePlacementScript(scriptText) : [],
            loopMs: o.loopMs,
            settleMs: o.settleMs,
            noiseKg: o.noiseKg,
            divisionKg: o.divisionKg,
            capacityKg: o.capacityKg,
          });
          if (o.protocol === 'mt-sics' && o.variant !== undefined) throw configError('--variant: mt-sics has no variants');
          const { pty, port } = await ptyPeer(o.link);
          const sim =
            o.protocol === 'mt-sics'
              ? new MtSicsScaleSimulator(port, { load, sirRateMs: o.rateMs })
              : new ContinuousScaleSimulator(port, { protocol: o.protocol as 'toledo' | 'ascii' | 'xk3190', variant: o.variant as ContinuousVariant | undefined, load, rateMs: o.rateMs });
          if (sim instanceof ContinuousScaleSimulator) sim.start();
          onShutdown(async () => {
            sim.stop();
            await port.close();
            await pty.close();
          });
          emitEvent('ready', { simulator: 'scale', protocol: o.protocol, ...(o.variant && { variant: o.variant }), link: o.link });
        } catch (err) {
          failStart(err);
        }
      },
    );

  simulate
    .command('rfid')
    .description('a UHF RFID reader on a pty: answers inventory commands (uhfreader18) or streams tag notices (m100)')
    .requiredOption('--link <path>', 'path of the device end; open it with --device x=rfid-<protocol>@serial://<path>')
    .option('--protocol <p>', 'uhfreader18 | m100', 'uhfreader18')
    .option('--epc <hex>', 'a tag in the field (repeatable); default: --tags SGTIN-96 tags of --gtin', collect, [])
    .option('--gtin <gtin>', 'GTIN of the default tags (SGTIN-96, filter 1)', '04012345678901')
    .option('--company-prefix-length <n>', 'GS1 company prefix digits in --gtin', intFlag('--company-prefix-length', { min: 0 }), 7)
    .option('--tags <n>', 'number of default tags (serials 1001...)', intFlag('--tags', { min: 0 }), 3)
    .option('--antennas <list>', 'antennas that see the tags, e.g. 1,2 (the first sees all, the others every second tag, weaker)', '1,2')
    .option('--rssi <dbm>', 'RSSI of --epc tags on the first antenna', numberFlag('--rssi'), -55)
    .option('--repeats <n>', 'm100: notices per tag per round', intFlag('--repeats', { min: 0 }), 1)
    .option('--round-ms <ms>', 'm100: time per inventory round', intFlag('--round-ms', { min: 0 }), 50)
    .action(
      async (o: {
        link: string;
        protocol: string;
        epc: string[];
        gtin: string;
        companyPrefixLength: number;
        tags: number;
        antennas: string;
        rssi: number;
        repeats: number;
        roundMs: number;
      }) => {
        try {
          if (o.protocol !== 'uhfreader18' && o.protocol !== 'm100') throw configError(`--protocol: '${o.protocol}' is not uhfreader18 or m100`);
          const antennas = o.antennas.split(',').map(Number);
          if (antennas.some((a) => !Number.isInteger(a) || a < 1 || a > 8)) throw configError(`--antennas: '${o.antennas}' is not a list of ports 1..8`);
          requireNumber('--tags', o.tags, (n) => n >= 0 && n <= 200);
          requireNumber('--rssi', o.rssi, (n) => n >= -128 && n <= 0);
          requireNumber('--repeats', o.repeats, (n) => n >= 1);
          requireNumber('--round-ms', o.roundMs, (n) => n > 0);
          for (const e of o.epc) if (!/^([0-9A-Fa-f]{4})+$/.test(e)) throw configError(`--epc: '${e}' is not hex in whole 16-bit words`);
          let tags: SimTag[];
          try {
            tags = o.epc.length
              ? o.epc.map((epc, i) => ({ epc: epc.toUpperCase(), rssi: Object.fromEntries(antennas.map((a, k) => [a, o.rssi - 3 * i - 12 * k])) }))
              : sgtinTags(o.tags, o.gtin, o.companyPrefixLength, antennas);
          } catch (err) {
            throw configError(`--gtin: ${(err as Error).message}`);
          }
          const { pty, port } = await ptyPeer(o.link);
          const sim = new RfidSimulator(port, { protocol: o.protocol, tags, repeats: o.repeats, roundMs: o.roundMs });
          onShutdown(async () => {
            sim.stop();
            await port.close();
            await pty.close();
          });
          emitEvent('ready', { simulator: 'rfid', protocol: o.protocol, link: o.link, epcs: tags.map((t) => t.epc) });
        } catch (err) {
          failStart(err);
        }
      },
    );
}
