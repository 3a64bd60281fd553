import type { RfidFrame } from '../../protocols/rfid/rfid-frame.js';
import { uhfReader18InventoryCommand } from '../../protocols/rfid/uhfreader18.js';
import type { DeviceProfile } from '../driver.js';
import { resolveParams } from '../params.js';
import { RfidDriver } from '../rfid-readings.js';

export const rfidUhfReader18Profile: DeviceProfile = {
  driver: 'rfid-uhfreader18',
  description: 'Chafon UHFReader18 / CF-RU5102 (and UHFReader288 / UR-series replies with antenna and RSSI): inventory polled',
  reads: 'tag',
  emits: ['tag', 'status'],
  units: { rssiRaw: 'reader units 0..255 (no dBm in the manual)' },
  transports: ['serial', 'tcp', 'memory'],
  line: { baudRate: 57600, dataBits: 8, parity: 'none', stopBits: 1 },
  params: {
    intervalMs: { type: 'int', min: 10, max: 60_000, default: 100, description: 'inventory poll interval in ms' },
    address: { type: 'int', min: 0, max: 255, default: 255, description: 'reader address; 255 = broadcast, answered by any reader' },
    replyTimeoutMs: { type: 'int', min: 50, max: 60_000, default: 1000, description: 'an inventory round unanswered this long is given up and re-sent' },
  },
  idleFlushMs: 50,
  source: 'UHFReader18 user manual ("Data block format", EPC C1G2 inventory 0x01); UR-series manual v1.14 (status bytes, Ant mask); device-protocols.md §3',
};

/**
 * Driver `rfid-uhfreader18`: sends the inventory command every `intervalMs` (never more than one
 * round outstanding) and turns each tag of the replies into a TagReading. Tags are emitted every
 * time they are read; de-duplication is the edge workflow's job. The RSSI byte has no documented
 * unit, so it is `rssiRaw`, not `rssi`. No `feedback()`: the manuals followed give no beeper
 * command for this reader family.
 */
export class RfidUhfReader18Driver extends RfidDriver {
  readonly profile = rfidUhfReader18Profile;
  private readonly intervalMs: number;
  private readonly address: number;
  private readonly replyTimeoutMs: number;
  /** When the outstanding inventory round was requested (undefined = none outstanding). */
  private roundSince: number | undefined;

  constructor(params: Record<string, string> = {}) {
    super('uhfreader18');
    const p = resolveParams(rfidUhfReader18Profile, params);
    this.intervalMs = p.intervalMs as number;
    this.address = p.address as number;
    this.replyTimeoutMs = p.replyTimeoutMs as number;
  }

  protected override async onStart(): Promise<void> {
    this.roundSince = undefined;
    this.poller.every(this.intervalMs, () => this.poll());
    await this.poll();
  }

  protected override onReset(): void {
    this.roundSince = undefined;
  }

  private async poll(): Promise<void> {
    const t = this.transport;
    if (!t) return;
    if (this.roundSince !== undefined && Date.now() - this.roundSince < this.replyTimeoutMs) return;
    this.roundSince = Date.now();
    await t.write(uhfReader18InventoryCommand(this.address)).catch(() => undefined);
  }

  protected override onFrame(frame: RfidFrame): void {
    // A status frame ends the inventory round (tags found or none): the next poll may go.
    if (frame.kind === 'status') this.roundSince = undefined;
  }
}
