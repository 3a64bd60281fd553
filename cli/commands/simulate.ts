import type { Command } from 'commander';
import { createInterface } from 'node:readline';
import { openPtyPair, hasSocat } from '../../devices/pty-pair.js';
import { SerialTransport } from '../../devices/serial.js';
import { ScannerSimulator, demoScript } from '../../devices/simulators/scanner.js';
import { emitEvent, failStart, onShutdown } from '../log.js';

const int = (v: string) => (/^\d+$/.test(v) ? Number(v) : Number.NaN);

export function registerSimulate(program: Command): void {
  const simulate = program.command('simulate').description('run a device simulator on a real pseudo-terminal (needs socat)');
  simulate
    .command('scanner')
    .description('a barcode scanner: creates a pty pair, links PATH for the agent to open, and scans into it')
    .requiredOption('--link <path>', 'path of the device end, e.g. /tmp/ttyScanner; open it with --device x=scanner@serial://<path>')
    .option('--interval-ms <ms>', 'time between scans of the built-in script', int, 1000)
    .option('--count <n>', 'stop after this many scans (default: run until stopped)', int)
    .option('--stdin', 'scan each line read from standard input instead of the built-in script', false)
    .action(async (o: { link: string; intervalMs: number; count?: number; stdin: boolean }) => {
      try {
        if (!Number.isFinite(o.intervalMs) || o.intervalMs < 0) throw Object.assign(new Error('--interval-ms: expected a whole number of ms'), { code: 'SG_ERR_CONFIG' });
        if (o.count !== undefined && !Number.isFinite(o.count)) throw Object.assign(new Error('--count: expected a whole number'), { code: 'SG_ERR_CONFIG' });
        if (!hasSocat()) throw Object.assign(new Error('socat is not installed (Debian: apt-get install socat)'), { code: 'SG_ERR_NO_SOCAT' });
        const pty = await openPtyPair(o.link);
        const port = new SerialTransport({ path: pty.peerPath });
        await port.open();
        const sim = new ScannerSimulator(port);
        let timer: NodeJS.Timeout | undefined;
        const stop = async () => {
          clearInterval(timer);
          await port.close();
          await pty.close();
        };
        onShutdown(stop);
        emitEvent('ready', { simulator: 'scanner', link: o.link });
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
          if (++sent, done()) void stop();
        }, o.intervalMs);
      } catch (err) {
        failStart(err);
      }
    });
}
