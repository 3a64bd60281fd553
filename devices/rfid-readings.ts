import type { RfidFrame, RfidProtocol } from '../protocols/rfid/rfid-frame.js';
import { createRfidParser } from '../protocols/rfid/rfid-parser.js';
import type { Reading, TagReading } from './driver.js';
import { FramedDriver } from './driver-kit.js';
import { hex, type Tracked } from './raw-tracker.js';

/**
 * An RFID frame as a reading (both RFID drivers): a tag notice becomes a `tag` reading with the
 * fields the frame has (`antenna` defaults to the reader's only port when it has one), an error
 * status a `status` reading; other frames (inventory done, replies) are none. `raw` is the hex of
 * the frame's bytes.
 */
export function rfidReading(frame: RfidFrame, raw: Uint8Array, at: number, o: { antenna?: number } = {}): Reading | undefined {
  if (frame.kind === 'tag') {
    const r: TagReading = { kind: 'tag', epc: frame.epc, raw: hex(raw), at };
    const antenna = frame.antenna ?? o.antenna;
    if (antenna !== undefined) r.antenna = antenna;
    if (frame.rssi !== undefined) r.rssi = frame.rssi;
    if (frame.rssiRaw !== undefined) r.rssiRaw = frame.rssiRaw;
    return r;
  }
  if (frame.kind === 'status' && frame.status === 'error') return { kind: 'status', status: 'error', ...(frame.code !== undefined && { code: frame.code }), raw: hex(raw), at };
  return undefined;
}

/**
 * What both RFID drivers share on top of the kit (issue 15 §2: a driver is its profile and its
 * parser wiring): the family's parser with its idle flush (a frame held back for its length or
 * CRC is released after `idleFlushMs`), and frames -> readings. A driver adds its polling
 * (`onStart`) and, in `onFrame`, what a frame tells its protocol state (a reply arrived, a round
 * ended).
 */
export abstract class RfidDriver extends FramedDriver<RfidFrame> {
  constructor(
    protocol: RfidProtocol,
    /** Readings' defaults: `antenna` for a reader with one port. */
    private readonly defaults: { antenna?: number } = {},
  ) {
    const parser = createRfidParser(protocol);
    super(parser, () => parser.flush());
  }

  /** Every frame, before it becomes a reading (or none). */
  protected onFrame(_frame: RfidFrame, _at: number): void {}

  protected readings(tracked: Tracked<RfidFrame>[], at: number): Reading[] {
    const out: Reading[] = [];
    for (const { frame, raw } of tracked) {
      this.onFrame(frame, at);
      const r = rfidReading(frame, raw, at, this.defaults);
      if (r) out.push(r);
    }
    return out;
  }
}
