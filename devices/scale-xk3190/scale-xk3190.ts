import { Xk3190Parser, xk3190Command } from '../../protocols/scale/xk3190.js';
import type { ScaleFrame } from '../../protocols/scale/scale-frame.js';
import type { DeviceProfile, Reading } from '../driver.js';
import { FramedDriver } from '../driver-kit.js';
import { resolveParams } from '../params.js';
import type { Tracked } from '../raw-tracker.js';
import { trackedScaleReadings } from '../scale-readings.js';
import type { Transport } from '../transport.js';

export const scaleXk3190Profile: DeviceProfile = {
  driver: 'scale-xk3190',
  description: 'Shanghai Yaohua XK3190 indicators (A9, A9+, A23P, A26, DS): tF=0 STX frames or the "=" reversed stream; order method (tF=1) polled',
  reads: 'weight',
  emits: ['weight'],
  units: { weight: 'kg' },
  transports: ['serial', 'tcp', 'memory'],
  line: { baudRate: 9600, dataBits: 8, parity: 'none', stopBits: 1 },
  params: {
    mode: { type: 'enum', values: ['stream', 'order'], default: 'stream', description: 'stream = listen (tF=0 or "=" format); order = poll gross weight (command B, tF=1)' },
    address: { type: 'text', pattern: '[A-Z]', default: 'A', description: 'indicator address A..Z (mode=order)' },
    intervalMs: { type: 'int', min: 50, max: 60_000, default: 200, description: 'poll interval in ms (mode=order)' },
    unit: { type: 'enum', values: ['kg', 't', 'g', 'lb'], default: 'kg', description: 'unit the indicator is set to (the frames carry none)' },
  },
  idleFlushMs: 200,
  source: 'XK3190-A9+ manual ch.2 §V (tF=0 continuous, tF=1 order method); XK3190-A26 continuous format 1',
};

/**
 * Driver `scale-xk3190`. The formats carry no stability flag, so readings have no `stable`:
 * judge stability with `StabilityDetector` (protocols/scale) on the edge.
 */
export class ScaleXk3190Driver extends FramedDriver<ScaleFrame> {
  readonly profile = scaleXk3190Profile;
  private readonly mode: 'stream' | 'order';
  private readonly address: string;
  private readonly intervalMs: number;

  constructor(params: Record<string, string> = {}) {
    const p = resolveParams(scaleXk3190Profile, params);
    const parser = new Xk3190Parser({ unit: p.unit as string });
    super(parser, () => parser.end());
    this.mode = p.mode as 'stream' | 'order';
    this.address = p.address as string;
    this.intervalMs = p.intervalMs as number;
  }

  protected override async onStart(transport: Transport): Promise<void> {
    if (this.mode !== 'order') return;
    const cmd = xk3190Command(this.address, 'B');
    this.poller.every(this.intervalMs, () => transport.write(cmd));
  }

  protected readings(tracked: Tracked<ScaleFrame>[], at: number): Reading[] {
    return trackedScaleReadings(tracked, at, () => this.rejected++);
  }
}
