import type { Command } from 'commander';
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { Device } from '../../devices/device.js';
import { listDevices } from '../../devices/discovery.js';
import type { Reading } from '../../devices/driver.js';
import { createDevice, createDriver, createTransport, parseDeviceSpec, profiles } from '../../devices/registry.js';
import { tapTransport } from '../../devices/tap.js';
import { formatHexCapture, parseHexCapture } from '../../protocols/framing/capture.js';
import { emitEvent, failStart, onShutdown } from '../log.js';
import { failFromError, printJson } from '../output.js';
import { flagError, shown, UsageError } from '../usage.js';

/** Parse `--device` values; a bad one is a usage error naming the flag and the value. */
function deviceSpecs(values: string[]) {
  return values.map((v) => {
    try {
      return parseDeviceSpec(v);
    } catch (err) {
      throw flagError(`--device '${v}'`, err);
    }
  });
}

const collect = (v: string, prev: string[]) => [...prev, v];
const num = (flag: string) => (v: string) => {
  const n = Number(v);
  if (!/^\d+(\.\d+)?$/.test(v) || !(n > 0)) throw Object.assign(new Error(`${flag}: expected a positive number, got ${shown(v)}`), { code: 'SG_ERR_CONFIG' });
  return n;
};

/** Run `stop` after `seconds` (when given) and on SIGINT/SIGTERM. */
function stopAfter(seconds: number | undefined, stop: () => Promise<void>): void {
  onShutdown(stop);
  if (seconds !== undefined) setTimeout(() => void stop().then(() => process.exit(0)), seconds * 1000);
}

const hexBytes = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).toUpperCase().padStart(2, '0')).join(' ');

export function registerDevices(program: Command): void {
  const devices = program.command('devices').description('find, watch, record and replay devices (field debugging)');

  devices
    .command('list')
    .description('list serial ports and HID devices as JSON {"serial":[...],"hid":[...]}; never fails for want of udev or libusb')
    .action(async () => {
      printJson(await listDevices());
    });

  devices
    .command('drivers')
    .description('print every driver profile as JSON: what it reads, units, line settings, URI parameters')
    .action(() => {
      printJson(profiles);
    });

  devices
    .command('sniff')
    .description('print decoded readings live as JSON lines (one object per reading, with "device")')
    .requiredOption('--device <spec>', 'NAME=DRIVER@URI, repeatable', collect, [])
    .option('--count <n>', 'exit after this many readings', num('--count'))
    .option('--seconds <n>', 'exit after this many seconds', num('--seconds'))
    .action(async (o: { device: string[]; count?: number; seconds?: number }) => {
      try {
        if (o.device.length === 0) throw new UsageError('--device is required');
        const specs = deviceSpecs(o.device);
        let devs: Device[];
        try {
          devs = specs.map((s) => createDevice(s, { reopenMaxMs: 2000 }));
        } catch (err) {
          throw flagError('--device', err);
        }
        let seen = 0;
        const stop = async () => {
          await Promise.all(devs.map((d) => d.stop()));
        };
        for (const d of devs) {
          d.on('state', (state, err) => emitEvent('state', { device: d.name, state, ...(err && { error: err.message }) }));
          d.on('reading', (r: Reading) => {
            printJson({ device: d.name, ...r });
            if (o.count !== undefined && ++seen >= o.count) void stop().then(() => process.exit(0));
          });
        }
        stopAfter(o.seconds, stop);
        emitEvent('ready', { command: 'sniff', devices: specs.map((s) => ({ name: s.name, driver: s.driver, uri: s.uri })) });
        for (const d of devs) d.start();
      } catch (err) {
        failStart(err);
      }
    });

  devices
    .command('record')
    .description('save the raw bytes a device sends as a hex capture (# comments: timestamps, bytes sent to it)')
    .requiredOption('--device <spec>', 'NAME=DRIVER@URI (the driver runs, so polled devices are polled)')
    .requiredOption('--out <file>', 'capture file to write (replay it with `devices replay`)')
    .option('--seconds <n>', 'stop after this many seconds (default: until Ctrl+C)', num('--seconds'))
    .action(async (o: { device: string; out: string; seconds?: number }) => {
      try {
        const [spec] = deviceSpecs([o.device]);
        let driver: ReturnType<typeof createDriver>;
        try {
          driver = createDriver(spec!);
        } catch (err) {
          throw flagError('--device', err);
        }
        let fd: number;
        try {
          fd = openSync(o.out, 'w');
        } catch (err) {
          throw flagError('--out', err);
        }
        const t0 = Date.now();
        let bytes = 0;
        let chunks = 0;
        const put = (text: string) => writeSync(fd, text);
        put(formatHexCapture(new Uint8Array(0), `stockgate devices record\ndevice: ${o.device}\ndriver: ${spec.driver}\nstarted: ${new Date(t0).toISOString()}`));
        const stamp = () => `+${Date.now() - t0} ms ${new Date().toISOString()}`;
        const transport = tapTransport(createTransport(spec.transportUri, driver.profile.line, { strict: true }), {
          rx: (b) => {
            bytes += b.length;
            chunks++;
            put(formatHexCapture(b, stamp()));
          },
          tx: (b) => put(`# tx ${stamp()}: ${hexBytes(b)}\n`),
        });
        const dev = new Device(spec.name, driver, transport, { reopenMaxMs: 2000 });
        dev.on('state', (state, err) => {
          put(`# state ${stamp()}: ${state}${err ? ` (${err.message.replace(/\n/g, ' ')})` : ''}\n`);
          emitEvent('state', { device: spec.name, state, ...(err && { error: err.message }) });
        });
        let done = false;
        stopAfter(o.seconds, async () => {
          if (done) return;
          done = true;
          await dev.stop();
          closeSync(fd);
          emitEvent('recorded', { file: o.out, bytes, chunks });
        });
        emitEvent('ready', { command: 'record', device: spec.name, driver: spec.driver, uri: spec.uri, file: o.out });
        dev.start();
      } catch (err) {
        failStart(err);
      }
    });

  devices
    .command('replay')
    .description('feed a hex capture through a driver and print its readings as JSON lines, then a summary line')
    .requiredOption('--file <file>', 'hex capture (from `devices record` or tests/fixtures/captures)')
    .requiredOption('--driver <driver>', 'driver name, optionally with its URI parameters: scale-xk3190?unit=t')
    .action((o: { file: string; driver: string }) => {
      try {
        const q = o.driver.indexOf('?');
        const name = q < 0 ? o.driver : o.driver.slice(0, q);
        const params = Object.fromEntries(new URLSearchParams(q < 0 ? '' : o.driver.slice(q + 1)));
        const driver = createDriver({ driver: name, params });
        let text: string;
        try {
          text = readFileSync(o.file, 'utf8');
        } catch (err) {
          throw Object.assign(new Error(`--file: cannot read ${o.file}: ${(err as Error).message}`), { code: 'SG_ERR_USAGE' });
        }
        const bytes = parseHexCapture(text);
        const readings = [...driver.push(bytes), ...(driver.flush?.() ?? [])];
        for (const r of readings) printJson(r);
        printJson({ event: 'done', readings: readings.length, ...driver.counters });
      } catch (err) {
        failFromError(err);
      }
    });
}
