/**
 * Impinj R2000 based modules speaking the "UHF RFID Reader Serial Interface Protocol" (V3.x; sold
 * under many names, e.g. Invelion), 115200 8N1.
 *
 *     A0  Len  Address  Cmd  Data...  Check
 *
 * Len counts Address..Check; Check is the two's complement of the sum of all bytes before it
 * [Serial Interface Protocol §1, "Specification of the data packet"]. Commands and replies share
 * this framing, so the parser is told the direction.
 *
 * cmd_real_time_inventory (0x89) replies, one frame each [Serial Interface Protocol §2.2,
 * cmd_real_time_inventory; layout as implemented by hex-in/pyImpinj `ImpinjProtocolFactory` and
 * russss/rust-invelion `InventoryItem` / `InventoryResult`]:
 * - tag:      `FreqAnt PC(2) EPC(n) RSSI`; FreqAnt = frequency index << 2 | antenna (0-based)
 * - summary:  `AntID ReadRate(u16 BE) TotalRead(u32 BE)` (always Len 0x0A)
 * - failure:  `ErrorCode` (Len 0x04), or `AntID ErrorCode` when an antenna is missing (0x22)
 * Tag data is FreqAnt + PC + whole EPC words + RSSI, always an even length, so it cannot be
 * confused with the 7-byte summary.
 */
import { ProtocolError } from '../errors.js';
import { lrc8 } from './checksums.js';
import { LengthFramer, type LengthFrameSpec } from './length-framer.js';
import { type RfidDirection, type RfidFrame, hexToBytes, isHex, toHex } from './rfid-frame.js';

export const R2000_HEAD = 0xa0;
export const R2000_CMD = {
  REAL_TIME_INVENTORY: 0x89,
  /** cmd_customized_session_target_inventory: same reply layout as 0x89. */
  SESSION_TARGET_INVENTORY: 0x8b,
} as const;

/** Error codes used here [Serial Interface Protocol §3, error codes]. */
export const R2000_ERR = { SUCCESS: 0x10, FAIL: 0x11, ANTENNA_MISSING: 0x22, NO_TAG: 0x36 } as const;

export interface R2000ParserOptions {
  /** Which side of the link the bytes come from. Default `reader`. */
  direction?: RfidDirection;
}

/**
 * RSSI byte to dBm per the manual's RSSI table as read by rust-invelion `convert_rssi`: 98 = -31 dBm
 * down to 90 = -39 dBm, then 89 = -41 dBm (the table skips -40) down to 31 = -99 dBm.
 * pyImpinj uses `raw - 129` throughout, which differs by 1 dB below 90.
 */
export function r2000RssiToDbm(raw: number): number {
  return raw > 89 ? raw - 129 : raw - 130;
}

/** Inverse of {@link r2000RssiToDbm}; -40 dBm, absent from the table, encodes as -41. */
export function r2000DbmToRssi(dbm: number): number {
  return dbm >= -39 ? dbm + 129 : Math.min(dbm + 130, 89);
}

/**
 * Frequency index (FreqAnt >> 2) to MHz: 0..6 = 865.0..868.0 and 7..59 = 902.0..928.0, 0.5 MHz
 * steps [Serial Interface Protocol, frequency parameter table; as in rust-invelion
 * `convert_to_frequency`]. Undefined above 59.
 */
export function r2000FrequencyMhz(index: number): number | undefined {
  if (index < 7) return 865 + index * 0.5;
  if (index <= 59) return 902 + (index - 7) * 0.5;
  return undefined;
}

function decodeReply(frame: Uint8Array): RfidFrame[] {
  const reader = frame[2]!;
  const cmd = frame[3]!;
  const data = frame.subarray(4, frame.length - 1);
  if (cmd === R2000_CMD.REAL_TIME_INVENTORY || cmd === R2000_CMD.SESSION_TARGET_INVENTORY) {
    if (data.length === 1) {
      const code = data[0]!;
      return [{ kind: 'status', status: code === R2000_ERR.NO_TAG ? 'no-tag' : 'error', code, cmd, reader }];
    }
    if (data.length === 2) {
      return [{ kind: 'status', status: 'error', code: data[1]!, cmd, reader, antenna: data[0]! + 1 }];
    }
    if (data.length === 7) {
      return [
        {
          kind: 'status',
          status: 'done',
          cmd,
          reader,
          antenna: data[0]! + 1,
          readRate: (data[1]! << 8) | data[2]!,
          totalRead: ((data[3]! << 24) >>> 0) + ((data[4]! << 16) | (data[5]! << 8) | data[6]!),
        },
      ];
    }
    if (data.length >= 6 && data.length % 2 === 0) {
      const freqAnt = data[0]!;
      const frequencyMhz = r2000FrequencyMhz(freqAnt >> 2);
      return [
        {
          kind: 'tag',
          epc: toHex(data.subarray(3, data.length - 1)),
          antenna: (freqAnt & 0x03) + 1,
          rssi: r2000RssiToDbm(data[data.length - 1]!),
          pc: toHex(data.subarray(1, 3)),
          reader,
          ...(frequencyMhz !== undefined && { frequencyMhz }),
        },
      ];
    }
  }
  return [{ kind: 'response', cmd, data: toHex(data), reader }];
}

function decodeCommand(frame: Uint8Array): RfidFrame[] {
  return [{ kind: 'command', cmd: frame[3]!, data: toHex(frame.subarray(4, frame.length - 1)), reader: frame[2]! }];
}

function spec(direction: RfidDirection): LengthFrameSpec<RfidFrame> {
  return {
    headerLength: 2,
    isStart: (b) => b === R2000_HEAD,
    // Len >= 3: Address, Cmd and Check are always present.
    frameLength: (buf, i) => (buf[i + 1]! >= 3 ? buf[i + 1]! + 2 : -1),
    check: (f) => lrc8(f, 0, f.length - 1) === f[f.length - 1],
    decode: direction === 'host' ? decodeCommand : decodeReply,
  };
}

/** Stream parser for R2000 serial-protocol frames. */
export function createR2000Parser(opts: R2000ParserOptions = {}): LengthFramer<RfidFrame> {
  return new LengthFramer(spec(opts.direction ?? 'reader'));
}

// ---------------------------------------------------------------------------------------------
// Encoders
// ---------------------------------------------------------------------------------------------

function intArg(name: string, v: number, min: number, max: number): number {
  if (!Number.isInteger(v) || v < min || v > max) throw new ProtocolError('SG_ERR_PROTO_ARGUMENT', `${name}: ${v} is not an integer ${min}..${max}`);
  return v;
}

/** Frame `Address Cmd Data` with head, Len and Check. */
export function encodeR2000Frame(address: number, cmd: number, data: Uint8Array | readonly number[] = []): Uint8Array {
  const len = data.length + 3;
  if (len > 0xff) throw new ProtocolError('SG_ERR_PROTO_ARGUMENT', `data: ${data.length} bytes do not fit a frame (max 252)`);
  const f = new Uint8Array(len + 2);
  f[0] = R2000_HEAD;
  f[1] = len;
  f[2] = intArg('address', address, 0, 0xff);
  f[3] = intArg('cmd', cmd, 0, 0xff);
  f.set(data, 4);
  f[f.length - 1] = lrc8(f, 0, f.length - 1);
  return f;
}

/**
 * cmd_real_time_inventory with `repeat` rounds (0xFF = as fast as possible). Address 0xFF is the
 * public address. Address 1, repeat 1 gives `A0 04 01 89 01 D1` (verified).
 */
export function r2000RealTimeInventoryCommand(opts: { address?: number; repeat?: number } = {}): Uint8Array {
  return encodeR2000Frame(opts.address ?? 0xff, R2000_CMD.REAL_TIME_INVENTORY, [intArg('repeat', opts.repeat ?? 1, 0, 0xff)]);
}

export interface R2000TagReplyInput {
  address?: number;
  /** Antenna port 1..4. */
  antenna: number;
  /** Frequency index 0..63 (see {@link r2000FrequencyMhz}). Default 0. */
  frequencyIndex?: number;
  epc: string;
  /** PC word; default EPC words << 11. */
  pc?: number;
  /** RSSI in dBm (-98..-31 is the table's range). */
  rssi: number;
}

/** One real-time inventory tag reply, e.g. for a simulator. */
export function encodeR2000TagReply(input: R2000TagReplyInput): Uint8Array {
  if (!isHex(input.epc) || input.epc.length % 4 !== 0 || input.epc.length > 124) {
    throw new ProtocolError('SG_ERR_PROTO_ARGUMENT', `epc: '${input.epc}' is not 1..31 whole 16-bit words of hex`);
  }
  const epc = hexToBytes(input.epc);
  const pc = intArg('pc', input.pc ?? (epc.length / 2) << 11, 0, 0xffff);
  const freqAnt = (intArg('frequencyIndex', input.frequencyIndex ?? 0, 0, 63) << 2) | (intArg('antenna', input.antenna, 1, 4) - 1);
  const rssi = intArg('rssi raw byte', r2000DbmToRssi(intArg('rssi', input.rssi, -130, 126)), 0, 0xff);
  return encodeR2000Frame(input.address ?? 0xff, R2000_CMD.REAL_TIME_INVENTORY, [freqAnt, pc >> 8, pc & 0xff, ...epc, rssi]);
}

/** The end-of-round summary of a real-time inventory. */
export function encodeR2000InventorySummary(input: { address?: number; antenna: number; readRate: number; totalRead: number }): Uint8Array {
  const rate = intArg('readRate', input.readRate, 0, 0xffff);
  const total = intArg('totalRead', input.totalRead, 0, 0xffffffff);
  return encodeR2000Frame(input.address ?? 0xff, R2000_CMD.REAL_TIME_INVENTORY, [
    intArg('antenna', input.antenna, 1, 4) - 1,
    rate >> 8,
    rate & 0xff,
    (total >>> 24) & 0xff,
    (total >>> 16) & 0xff,
    (total >>> 8) & 0xff,
    total & 0xff,
  ]);
}

/** A failure reply `ErrorCode` (Len 0x04) to `cmd` (default real-time inventory). */
export function encodeR2000Error(input: { address?: number; cmd?: number; code: number }): Uint8Array {
  return encodeR2000Frame(input.address ?? 0xff, input.cmd ?? R2000_CMD.REAL_TIME_INVENTORY, [intArg('code', input.code, 0, 0xff)]);
}
