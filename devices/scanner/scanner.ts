import { LineFramer } from '../../protocols/framing/line.js';
import { splitAim } from '../../protocols/barcode/aim.js';
import type { DeviceProfile, Driver, DriverCounters, Reading } from '../driver.js';

export const scannerProfile: DeviceProfile = {
  driver: 'scanner',
  description: 'Line-based serial/USB-CDC barcode scanner: [AIM id]data CR|LF|CRLF',
  reads: 'scan',
  line: { baudRate: 9600, dataBits: 8, parity: 'none', stopBits: 1 },
};

/**
 * Driver `scanner`: a serial (or USB-CDC, /dev/ttyACM*) barcode scanner that terminates each scan
 * with CR and/or LF and may prefix an AIM symbology identifier such as `]C0`.
 */
export class ScannerDriver implements Driver {
  readonly profile = scannerProfile;
  private readonly framer = new LineFramer({ maxLength: 4096 });

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
