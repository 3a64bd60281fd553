import { HidPosAssembler, type HidPosLayout } from '../../protocols/barcode/hid-pos.js';
import { KeyboardWedgeDecoder } from '../../protocols/barcode/keyboard-wedge.js';
import { splitAim } from '../../protocols/barcode/aim.js';
import type { DeviceProfile, Driver, DriverCounters, Reading, ScanReading } from '../driver.js';
import { resolveParams } from '../params.js';
import type { Transport } from '../transport.js';

export const scannerHidProfile: DeviceProfile = {
  driver: 'scanner-hid',
  description: 'USB HID barcode scanner: HID-POS reports (usage page 0x8C; Honeywell or Newland layout) or keyboard-wedge boot reports',
  reads: 'scan',
  transports: ['hid', 'memory'],
  params: {
    mode: { type: 'enum', values: ['pos', 'wedge'], default: 'pos', description: 'pos = HID-POS scanned-data reports; wedge = boot keyboard reports (US layout)' },
    layout: { type: 'enum', values: ['honeywell', 'newland'], default: 'honeywell', description: 'HID-POS report layout (mode=pos only)' },
  },
  source: 'device-protocols.md §2 "HID POS", "Keyboard wedge"; protocols/barcode/README.md (HID-POS, keyboard wedge)',
};

/** Honeywell feature report 0xFE [1]: switch the scanner to send HID-POS reports (device-protocols.md §2). */
const HONEYWELL_POS_ON = Uint8Array.of(0xfe, 0x01);

/**
 * Driver `scanner-hid` (`hid://VID:PID?mode=pos|wedge&layout=honeywell|newland`): reports from
 * the thin HID seam (`devices/hid.ts`) are reassembled by `protocols/barcode` into scans.
 * `raw` is the scan as text with its AIM id (HID-POS) or as typed (wedge).
 *
 * No `feedback()`: neither layout's documentation here gives an output report for the beeper.
 */
export class ScannerHidDriver implements Driver {
  readonly profile = scannerHidProfile;
  readonly mode: 'pos' | 'wedge';
  readonly layout: HidPosLayout;
  private readonly pos: HidPosAssembler | undefined;
  private readonly wedge: KeyboardWedgeDecoder | undefined;

  constructor(params: Record<string, string> = {}) {
    const p = resolveParams(scannerHidProfile, params);
    this.mode = p.mode as 'pos' | 'wedge';
    this.layout = p.layout as HidPosLayout;
    if (this.mode === 'pos') this.pos = new HidPosAssembler({ layout: this.layout });
    else this.wedge = new KeyboardWedgeDecoder();
  }

  get counters(): DriverCounters {
    return { ...(this.pos ?? this.wedge)!.stats };
  }

  async start(transport: Transport): Promise<void> {
    if (this.mode === 'pos' && this.layout === 'honeywell' && transport.sendFeatureReport) {
      // Best effort: a scanner already configured for HID-POS may refuse it, and still works.
      await transport.sendFeatureReport(HONEYWELL_POS_ON).catch(() => undefined);
    }
  }

  push(bytes: Uint8Array): Reading[] {
    const at = Date.now();
    if (this.pos) {
      return this.pos.push(bytes).map((s) => {
        const r: ScanReading = { kind: 'scan', data: s.text, raw: `${s.aim?.id ?? ''}${s.text}`, at };
        if (s.aim) r.aim = s.aim.id;
        return r;
      });
    }
    return this.wedge!.push(bytes).map((text) => {
      const { aim, data } = splitAim(text);
      const r: ScanReading = { kind: 'scan', data, raw: text, at };
      if (aim) r.aim = aim.id;
      return r;
    });
  }

  reset(): void {
    (this.pos ?? this.wedge)!.reset();
  }
}
