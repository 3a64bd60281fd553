/**
 * The frames every UHF RFID reader codec in this folder returns, whatever the wire format.
 * A driver can switch on `kind` without knowing which reader model is attached.
 *
 * Conventions: byte strings (EPC, PC, payloads) are upper-case hex without separators; `reader` is
 * the reader's bus address where the protocol has one (Chafon `Adr`, R2000 `Address`).
 */

/** Wire protocols understood by {@link createRfidParser}. */
export type RfidProtocol = 'uhfreader18' | 'm100' | 'r2000';

export const RFID_PROTOCOLS: readonly RfidProtocol[] = ['uhfreader18', 'm100', 'r2000'];

/** One tag seen by the reader. */
export interface RfidTagFrame {
  kind: 'tag';
  /** The EPC as upper-case hex (not decoded; see `decodeEpc`). */
  epc: string;
  /** Antenna port, 1-based. */
  antenna?: number;
  /** Received signal strength in dBm (negative), when the protocol defines the unit. */
  rssi?: number;
  /**
   * The RSSI byte as sent, for protocols whose manual gives no unit (Chafon: "the reader signal
   * strength", 0..255, larger = stronger). Not converted to dBm because no conversion is documented.
   */
  rssiRaw?: number;
  /** Gen2 protocol-control word as 4 hex digits; PC >> 11 = EPC length in 16-bit words. */
  pc?: string;
  /** Reader bus address. */
  reader?: number;
  /** Carrier frequency of the read in MHz (R2000 frequency index mapped to MHz). */
  frequencyMhz?: number;
}

/**
 * The end or failure of an inventory round.
 * - `no-tag`: the round finished without finding a tag.
 * - `done`: the round finished (tags, if any, came as `tag` frames before this one).
 * - `error`: the reader reported an error; `code` is its error byte.
 */
export interface RfidStatusFrame {
  kind: 'status';
  status: 'no-tag' | 'done' | 'error';
  /** The status / error byte as sent by the reader. */
  code?: number;
  /** Command the status answers. */
  cmd?: number;
  reader?: number;
  /** Antenna port, 1-based (R2000 summary / antenna-missing error). */
  antenna?: number;
  /** R2000 summary: tag reads per second in the round. */
  readRate?: number;
  /** R2000 summary: total tag reads in the round (a tag read twice counts twice). */
  totalRead?: number;
}

/** Any other reply, kept whole so a driver can decode the commands it cares about. */
export interface RfidResponseFrame {
  kind: 'response';
  cmd: number;
  /** Status byte where the protocol puts one in every reply (Chafon); absent otherwise. */
  status?: number;
  /** Payload after the command (and status) byte, upper-case hex. */
  data: string;
  reader?: number;
}

/** A host-to-reader command (M100 type 0x00 frames, or any frame when parsing the host direction). */
export interface RfidCommandFrame {
  kind: 'command';
  cmd: number;
  /** Parameters, upper-case hex. */
  data: string;
  reader?: number;
}

export type RfidFrame = RfidTagFrame | RfidStatusFrame | RfidResponseFrame | RfidCommandFrame;

/**
 * Which side of the link the bytes come from. Chafon and R2000 commands and replies share one
 * framing, so the parser must be told: `reader` (default) decodes replies, `host` decodes commands
 * (what a simulator or a line sniffer on the TX wire sees). M100 frames carry their own type byte
 * and decode the same either way.
 */
export type RfidDirection = 'reader' | 'host';

/** Bytes as upper-case hex without separators. */
export function toHex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += b.toString(16).toUpperCase().padStart(2, '0');
  return s;
}

/** Hex (no separators, even length) to bytes; callers validate first. */
export function hexToBytes(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** True for a non-empty, even-length string of hex digits. */
export function isHex(s: string): boolean {
  return s.length > 0 && s.length % 2 === 0 && /^[0-9a-fA-F]+$/.test(s);
}
