import { parseAsciiLine } from '../../protocols/scale/ascii.js';
import type { DeviceProfile, Reading } from '../driver.js';
import { LineDriver } from '../driver-kit.js';
import { resolveParams } from '../params.js';
import { scaleReading } from '../scale-readings.js';
import type { Transport } from '../transport.js';

export const scaleAsciiProfile: DeviceProfile = {
  driver: 'scale-ascii',
  description: 'ASCII line scales: A&D (ST,NT,+0012.34kg), CAS 22-byte, Ohaus, generic/KERN/Liden ST,GS,..., Yaohua XK3190-A12(E) lines',
  reads: 'weight',
  emits: ['weight', 'status'],
  units: { weight: 'kg' },
  transports: ['serial', 'tcp', 'memory'],
  line: { baudRate: 9600, dataBits: 8, parity: 'none', stopBits: 1 },
  params: {
    poll: {
      type: 'text',
      pattern: '[!-~]{1,16}',
      description: 'command sent (with CR LF) every intervalMs for scales that print on request, e.g. Q (A&D), IP (Ohaus); absent = the scale streams',
    },
    intervalMs: { type: 'int', min: 50, max: 60_000, default: 500, description: 'poll interval in ms (with poll=)' },
  },
  source: 'protocols/scale/README.md (A&D, CAS CI-400 App.1, Ohaus Explorer, KERN, Liden, XK3190-A12(E)); device-protocols.md §1',
};

/**
 * Driver `scale-ascii`: one CR LF line per reading, in any of the formats `parseAsciiLine`
 * recognises (the format is told by the line itself). Most such scales stream; for those that
 * print on request, `?poll=Q&intervalMs=500` sends the request periodically.
 */
export class ScaleAsciiDriver extends LineDriver {
  readonly profile = scaleAsciiProfile;
  private readonly poll: string | undefined;
  private readonly intervalMs: number;

  constructor(params: Record<string, string> = {}) {
    super();
    const p = resolveParams(scaleAsciiProfile, params);
    this.poll = p.poll as string | undefined;
    this.intervalMs = p.intervalMs as number;
  }

  protected override async onStart(transport: Transport): Promise<void> {
    if (!this.poll) return;
    const cmd = Buffer.from(`${this.poll}\r\n`, 'latin1');
    this.poller.every(this.intervalMs, () => transport.write(cmd));
  }

  protected line(line: string, at: number, out: Reading[]): void {
    const frame = parseAsciiLine(line);
    const r = frame && scaleReading(frame, line, at);
    if (frame) this.frames++;
    if (r) out.push(r);
    else this.rejected++;
  }
}
