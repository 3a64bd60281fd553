import { LineFramer } from '../../protocols/framing/line.js';
import { splitAim } from '../../protocols/barcode/aim.js';
import type { DeviceProfile, Driver, DriverCounters, Feedback, Reading } from '../driver.js';
import { resolveParams } from '../params.js';
import type { Transport } from '../transport.js';

export const scannerProfile: DeviceProfile = {
  driver: 'scanner',
  description: 'Line-based serial/USB-CDC barcode scanner: [AIM id]data CR|LF|CRLF',
  reads: 'scan',
  transports: ['serial', 'tcp', 'memory'],
  line: { baudRate: 9600, dataBits: 8, parity: 'none', stopBits: 1 },
  params: {
    beep: {
      type: 'enum',
      values: ['none', 'honeywell', 'datalogic'],
      default: 'none',
      description: "host beep command set for feedback(): 'honeywell' ESC 7 , / ESC 8 , ; 'datalogic' B / F E; 'none' = no feedback",
    },
  },
  source: 'device-protocols.md §2 "USB-CDC / serial"; README.md in this folder for the beep commands',
};

/**
 * Host commands that make a scanner beep, by vendor (see README.md for the manuals):
 * - Honeywell host escape commands: ESC 7 , = "indicate successful decode", ESC 8 , = unsuccessful.
 * - Datalogic RS-232/USB-COM host commands: B = good-read tone; F = not-on-file (long beeps; some
 *   models then disable scanning), so E (enable) follows it.
 */
const BEEPS: Record<string, Record<Feedback, string>> = {
  honeywell: { ok: '\x1b7,', error: '\x1b8,' },
  datalogic: { ok: 'B', error: 'FE' },
};

/**
 * Driver `scanner`: a serial (or USB-CDC, /dev/ttyACM*) barcode scanner that terminates each scan
 * with CR and/or LF and may prefix an AIM symbology identifier such as `]C0`.
 */
export class ScannerDriver implements Driver {
  readonly profile = scannerProfile;
  readonly feedback?: (transport: Transport, kind: Feedback) => Promise<void>;
  private readonly framer = new LineFramer({ maxLength: 4096 });

  constructor(params: Record<string, string> = {}) {
    const p = resolveParams(scannerProfile, params);
    const beeps = BEEPS[p.beep as string];
    if (beeps) this.feedback = (t, kind) => t.write(Buffer.from(beeps[kind], 'latin1'));
  }

  get counters(): DriverCounters {
    return { ...this.framer.stats };
  }

  push(bytes: Uint8Array): Reading[] {
    const at = Date.now();
    return this.framer.push(bytes).map((raw) => {
      const { aim, data } = splitAim(raw);
      const r: Reading = { kind: 'scan', data, raw, at };
      if (aim) r.aim = aim.id;
      return r;
    });
  }

  reset(): void {
    this.framer.reset();
  }
}
