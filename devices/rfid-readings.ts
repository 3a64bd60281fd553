import type { RfidFrame } from '../protocols/rfid/rfid-frame.js';
import type { Reading, TagReading } from './driver.js';
import { hex } from './raw-tracker.js';

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
