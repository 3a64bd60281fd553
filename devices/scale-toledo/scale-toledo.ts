import { ToledoContinuousParser } from '../../protocols/scale/toledo.js';
import type { DeviceProfile, Driver, DriverCounters, Reading } from '../driver.js';
import { resolveParams } from '../params.js';
import { RawTracker } from '../raw-tracker.js';
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
export class ScaleToledoDriver implements Driver {
  readonly profile = scaleToledoProfile;
  private readonly tracker: RawTracker<ScaleFrame>;
  private readonly parser: ToledoContinuousParser;
  private dropped = 0;

  constructor(params: Record<string, string> = {}) {
    const p = resolveParams(scaleToledoProfile, params);
    this.parser = new ToledoContinuousParser({ checksum: p.checksum === 'auto' ? 'auto' : p.checksum === 'true' });
    this.tracker = new RawTracker(this.parser);
  }

  get counters(): DriverCounters {
    const s = this.parser.stats;
    return { frames: s.frames, droppedBytes: s.droppedBytes, droppedFrames: s.droppedFrames + this.dropped };
  }

  push(bytes: Uint8Array): Reading[] {
    return trackedScaleReadings(this.tracker.push(bytes), Date.now(), () => this.dropped++);
  }

  flush(): Reading[] {
    return trackedScaleReadings(this.tracker.finish(this.parser.end()), Date.now(), () => this.dropped++);
  }

  reset(): void {
    this.tracker.reset();
  }
}
