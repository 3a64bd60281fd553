import { ToledoContinuousParser } from '../../protocols/scale/toledo.js';
import type { DeviceProfile, Reading } from '../driver.js';
import { FramedDriver } from '../driver-kit.js';
import { resolveParams } from '../params.js';
import type { Tracked } from '../raw-tracker.js';
import { trackedScaleReadings } from '../scale-readings.js';
import type { ScaleFrame } from '../../protocols/scale/scale-frame.js';

export const scaleToledoProfile: DeviceProfile = {
  driver: 'scale-toledo',
  description: 'Toledo continuous output (MT terminals and indicators emulating it): STX SWA SWB SWC weight tare CR [CHK], streamed',
  reads: 'weight',
  emits: ['weight', 'status'],
  units: { weight: 'kg' },
  transports: ['serial', 'tcp', 'memory'],
  line: { baudRate: 9600, dataBits: 7, parity: 'even', stopBits: 1 },
  params: {
    checksum: { type: 'enum', values: ['auto', 'true', 'false'], default: 'auto', description: 'checksum byte after CR: learned (auto), always, never' },
  },
  idleFlushMs: 200,
  source: 'MT Wildcat manual ch.6 tables 6-8..6-11 (Toledo continuous); device-protocols.md §1',
};

/**
 * Driver `scale-toledo`: the indicator streams continuously, so the driver only listens. Net,
 * motion (→ `stable: false`), tare, division and out-of-range (→ overload/underload status) come
 * from the status words. The line is usually 7E1; the parser strips bit 7, so 8N1 works too.
 */
export class ScaleToledoDriver extends FramedDriver<ScaleFrame> {
  readonly profile = scaleToledoProfile;

  constructor(params: Record<string, string> = {}) {
    const p = resolveParams(scaleToledoProfile, params);
    const parser = new ToledoContinuousParser({ checksum: p.checksum === 'auto' ? 'auto' : p.checksum === 'true' });
    super(parser, () => parser.end());
  }

  protected readings(tracked: Tracked<ScaleFrame>[], at: number): Reading[] {
    return trackedScaleReadings(tracked, at, () => this.rejected++);
  }
}
