import { m100MultiPollCommand, m100StopCommand } from '../../protocols/rfid/m100.js';
import type { RfidFrame } from '../../protocols/rfid/rfid-frame.js';
import type { DeviceProfile } from '../driver.js';
import { resolveParams } from '../params.js';
import { RfidDriver } from '../rfid-readings.js';

export const rfidM100Profile: DeviceProfile = {
  driver: 'rfid-m100',
  description: 'MagicRF M100 / YRM100 / JRD-100 UHF module: multi-poll inventory, tag notices with RSSI in dBm',
  reads: 'tag',
  emits: ['tag', 'status'],
  units: { rssi: 'dBm' },
  transports: ['serial', 'tcp', 'memory'],
  line: { baudRate: 115200, dataBits: 8, parity: 'none', stopBits: 1 },
  params: {
    pollCount: { type: 'int', min: 1, max: 65_535, default: 10_000, description: 'inventory rounds per multi-poll command' },
    restartMs: { type: 'int', min: 100, max: 600_000, default: 1000, description: 'a multi-poll silent this long has ended: stop and re-issue it' },
  },
  idleFlushMs: 50,
  source: 'MagicRF M100 firmware application programming manual (frame format, 0x22 single poll, 0x27 multi-poll, 0x28 stop, error 0x15); device-protocols.md §3',
};

/**
 * Driver `rfid-m100`: on connect it stops any poll left running and starts a multi-poll of
 * `pollCount` rounds. The module sends tag notices while polling and nothing once the rounds are
 * done, so a multi-poll silent for `restartMs` is taken as ended and re-issued (stop first, in
 * case it was only a quiet field). The module has one antenna port: readings carry `antenna: 1`.
 * No `feedback()`: the M100 command set has no buzzer command (boards that add one wire it to
 * their own MCU).
 */
export class RfidM100Driver extends RfidDriver {
  readonly profile = rfidM100Profile;
  private readonly pollCount: number;
  private readonly restartMs: number;
  private lastRx = 0;
  /** Multi-poll commands sent since start (first one included). */
  polls = 0;

  constructor(params: Record<string, string> = {}) {
    // One antenna port: readings carry antenna 1.
    super('m100', { antenna: 1 });
    const p = resolveParams(rfidM100Profile, params);
    this.pollCount = p.pollCount as number;
    this.restartMs = p.restartMs as number;
  }

  protected override async onStart(): Promise<void> {
    this.polls = 0;
    await this.issue();
    this.poller.every(Math.max(50, Math.floor(this.restartMs / 4)), () => {
      if (Date.now() - this.lastRx >= this.restartMs) return this.issue();
    });
  }

  private async issue(): Promise<void> {
    const t = this.transport;
    if (!t) return;
    this.lastRx = Date.now();
    this.polls++;
    await t.write(Uint8Array.from([...m100StopCommand(), ...m100MultiPollCommand(this.pollCount)]));
  }

  /** Any frame shows the multi-poll is alive. */
  protected override onFrame(_frame: RfidFrame, at: number): void {
    this.lastRx = at;
  }
}
