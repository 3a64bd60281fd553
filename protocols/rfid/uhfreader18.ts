/**
 * Chafon UHFReader18 / CF-RU5102 (and the UHFReader288 / UR-series replies with antenna and RSSI),
 * 57600 8N1.
 *
 *     command:  Len Adr Cmd   Data...        CRC_L CRC_H
 *     reply:    Len Adr reCmd Status Data... CRC_L CRC_H
 *
 * Len counts every byte after itself; the CRC is CRC-16/MCRF4XX over Len..Data, low byte first
 * [UHFReader18 user manual, "Data block format"]. There is no start byte and no escaping, so the
 * stream is framed by trying every byte as a Len and keeping what passes the CRC.
 */
import { ProtocolError } from '../errors.js';
import { crc16Chafon } from './checksums.js';
import { LengthFramer, type LengthFrameSpec } from './length-framer.js';
import { type RfidDirection, type RfidFrame, hexToBytes, isHex, toHex } from './rfid-frame.js';

/** Command codes used here [UHFReader18 manual, EPC C1G2 commands; UR-series manual 8.2]. */
export const UHFREADER18_CMD = {
  /** Inventory (EPC C1G2). The request has no data on the UHFReader18; the 288 adds parameters. */
  INVENTORY: 0x01,
  /** Unsolicited tag report in real-time (auto) inventory mode [UR-series manual, real-time mode]. */
  REALTIME_REPORT: 0xee,
} as const;

/**
 * Inventory reply status bytes: 0x01 done, 0x02 inventory time-out (tags so far reported),
 * 0x03 more frames follow, 0x04 reader memory full; all four carry tags. 0xFB = no tag.
 * (Do not require 0x00 as some drivers do: inventory never answers 0x00.)
 */
export const UHFREADER18_STATUS = { DONE: 0x01, TIMEOUT: 0x02, MORE: 0x03, MEMORY_FULL: 0x04, NO_TAG: 0xfb } as const;

/** Real-time report statuses [UR-series manual, real-time inventory mode]: tag, or heartbeat. */
const REALTIME_TAG = 0x00;

export interface UhfReader18ParserOptions {
  /** Which side of the link the bytes come from. Default `reader`. */
  direction?: RfidDirection;
}

interface ParsedTag {
  epc: Uint8Array;
  rssiRaw?: number;
}

/**
 * The antenna byte is a bit mask, one bit per port (0x04 = antenna 3) [UR-series manual, "Ant"].
 * Returns the 1-based port when exactly one bit is set.
 */
function antennaFromMask(mask: number): number | undefined {
  if (mask === 0 || (mask & (mask - 1)) !== 0) return undefined;
  return Math.log2(mask) + 1;
}

/**
 * Inventory data, both layouts; each must consume the data exactly:
 * - UHFReader18: `Num (Len EPC)*Num`
 * - UHFReader288 / UR-series: `Ant Num (Len EPC RSSI)*Num`
 * The antenna+RSSI layout is tried first (the reference example uses it); a reply that fits both
 * would need byte patterns no reader we know of sends.
 */
function parseInventoryData(data: Uint8Array): { antennaMask?: number; tags: ParsedTag[] } | undefined {
  const walk = (start: number, count: number, withRssi: boolean): ParsedTag[] | undefined => {
    const tags: ParsedTag[] = [];
    let i = start;
    for (let n = 0; n < count; n++) {
      if (i >= data.length) return undefined;
      const len = data[i]!;
      const end = i + 1 + len + (withRssi ? 1 : 0);
      if (len === 0 || end > data.length) return undefined;
      const tag: ParsedTag = { epc: data.subarray(i + 1, i + 1 + len) };
      if (withRssi) tag.rssiRaw = data[i + 1 + len]!;
      tags.push(tag);
      i = end;
    }
    return i === data.length ? tags : undefined;
  };
  if (data.length >= 2) {
    const tags = walk(2, data[1]!, true);
    if (tags) return { antennaMask: data[0]!, tags };
  }
  if (data.length >= 1) {
    const tags = walk(1, data[0]!, false);
    if (tags) return { tags };
  }
  return undefined;
}

function decodeReply(frame: Uint8Array): RfidFrame[] {
  const reader = frame[1]!;
  const cmd = frame[2]!;
  const status = frame[3]!;
  const data = frame.subarray(4, frame.length - 2);
  const response: RfidFrame = { kind: 'response', cmd, status, data: toHex(data), reader };
  if (cmd === UHFREADER18_CMD.INVENTORY) {
    if (status === UHFREADER18_STATUS.NO_TAG) return [{ kind: 'status', status: 'no-tag', code: status, cmd, reader }];
    if (status < UHFREADER18_STATUS.DONE || status > UHFREADER18_STATUS.MEMORY_FULL) {
      return [{ kind: 'status', status: 'error', code: status, cmd, reader }];
    }
    const parsed = data.length === 0 ? { tags: [] } : parseInventoryData(data);
    if (!parsed) return [response];
    const antenna = parsed.antennaMask === undefined ? undefined : antennaFromMask(parsed.antennaMask);
    const out: RfidFrame[] = parsed.tags.map((t) => ({
      kind: 'tag' as const,
      epc: toHex(t.epc),
      ...(antenna !== undefined && { antenna }),
      ...(t.rssiRaw !== undefined && { rssiRaw: t.rssiRaw }),
      reader,
    }));
    // 0x03 promises more frames; anything else ends the round.
    if (status !== UHFREADER18_STATUS.MORE) out.push({ kind: 'status', status: 'done', code: status, cmd, reader });
    return out;
  }
  if (cmd === UHFREADER18_CMD.REALTIME_REPORT && status === REALTIME_TAG) {
    // Data: Ant Len EPC RSSI
    if (data.length >= 3 && data[1]! > 0 && data.length === data[1]! + 3) {
      const antenna = antennaFromMask(data[0]!);
      return [
        {
          kind: 'tag',
          epc: toHex(data.subarray(2, 2 + data[1]!)),
          ...(antenna !== undefined && { antenna }),
          rssiRaw: data[data.length - 1]!,
          reader,
        },
      ];
    }
  }
  return [response];
}

function decodeCommand(frame: Uint8Array): RfidFrame[] {
  return [{ kind: 'command', cmd: frame[2]!, data: toHex(frame.subarray(3, frame.length - 2)), reader: frame[1]! }];
}

function spec(direction: RfidDirection): LengthFrameSpec<RfidFrame> {
  // Smallest frames: a command is Len Adr Cmd CRC CRC (Len 4); a reply adds Status (Len 5).
  const minLen = direction === 'host' ? 4 : 5;
  return {
    headerLength: 1,
    isStart: (b) => b >= minLen,
    frameLength: (buf, i) => buf[i]! + 1,
    check: (f) => crc16Chafon(f, 0, f.length - 2) === (f[f.length - 2]! | (f[f.length - 1]! << 8)),
    decode: direction === 'host' ? decodeCommand : decodeReply,
  };
}

/** Stream parser for Chafon UHFReader18-family frames. */
export function createUhfReader18Parser(opts: UhfReader18ParserOptions = {}): LengthFramer<RfidFrame> {
  return new LengthFramer(spec(opts.direction ?? 'reader'));
}

// ---------------------------------------------------------------------------------------------
// Encoders (commands for the edge driver, replies for simulators)
// ---------------------------------------------------------------------------------------------

function byteArg(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xff) throw new ProtocolError('SG_ERR_PROTO_ARGUMENT', `${name}: ${v} is not a byte 0..255`);
  return v;
}

function epcArg(epc: string): Uint8Array {
  if (!isHex(epc)) throw new ProtocolError('SG_ERR_PROTO_ARGUMENT', `epc: '${epc}' is not non-empty even-length hex`);
  return hexToBytes(epc);
}

/**
 * Frame `Adr Cmd Data` with Len and CRC. For a reply, pass the status as the first data byte.
 * Throws `SG_ERR_PROTO_ARGUMENT` for a non-byte address/command or a frame over 255 bytes.
 */
export function encodeUhfReader18Frame(address: number, cmd: number, data: Uint8Array | readonly number[] = []): Uint8Array {
  const len = data.length + 4;
  if (len > 0xff) throw new ProtocolError('SG_ERR_PROTO_ARGUMENT', `data: ${data.length} bytes do not fit a frame (max 251)`);
  const f = new Uint8Array(len + 1);
  f[0] = len;
  f[1] = byteArg('address', address);
  f[2] = byteArg('cmd', cmd);
  f.set(data, 3);
  const crc = crc16Chafon(f, 0, len - 1);
  f[len - 1] = crc & 0xff;
  f[len] = crc >> 8;
  return f;
}

/**
 * UHFReader18 inventory command. Address 0xFF (default) is the broadcast address every reader
 * answers: `04 FF 01 1B B4`; address 0 gives `04 00 01 DB 4B` (both verified).
 */
export function uhfReader18InventoryCommand(address = 0xff): Uint8Array {
  return encodeUhfReader18Frame(address, UHFREADER18_CMD.INVENTORY);
}

/** A reply frame `Len Adr reCmd Status Data CRC`. */
export function encodeUhfReader18Reply(address: number, cmd: number, status: number, data: Uint8Array | readonly number[] = []): Uint8Array {
  return encodeUhfReader18Frame(address, cmd, [byteArg('status', status), ...data]);
}

export interface UhfReader18InventoryReplyInput {
  /** Reader address. Default 0. */
  address?: number;
  /** Status byte. Default 0x01 (done); 0x03 = more frames follow. */
  status?: number;
  /**
   * Antenna port 1..8. When given, the UHFReader288 layout `Ant Num (Len EPC RSSI)*` is used;
   * otherwise the UHFReader18 layout `Num (Len EPC)*`.
   */
  antenna?: number;
  /** Tags: EPC hex, and the raw RSSI byte (288 layout only, default 0). */
  tags: ReadonlyArray<{ epc: string; rssiRaw?: number }>;
}

/** An inventory reply as a reader sends it, e.g. for a simulator. */
export function encodeUhfReader18InventoryReply(input: UhfReader18InventoryReplyInput): Uint8Array {
  const data: number[] = [];
  if (input.antenna !== undefined) {
    if (!Number.isInteger(input.antenna) || input.antenna < 1 || input.antenna > 8) {
      throw new ProtocolError('SG_ERR_PROTO_ARGUMENT', `antenna: ${input.antenna} is not a port 1..8`);
    }
    data.push(1 << (input.antenna - 1));
  }
  data.push(byteArg('tags.length', input.tags.length));
  for (const t of input.tags) {
    const epc = epcArg(t.epc);
    data.push(byteArg('epc length', epc.length), ...epc);
    if (input.antenna !== undefined) data.push(byteArg('rssiRaw', t.rssiRaw ?? 0));
  }
  return encodeUhfReader18Reply(input.address ?? 0, UHFREADER18_CMD.INVENTORY, input.status ?? UHFREADER18_STATUS.DONE, data);
}

/** The "no tag" inventory reply (status 0xFB). */
export function encodeUhfReader18NoTag(address = 0): Uint8Array {
  return encodeUhfReader18Reply(address, UHFREADER18_CMD.INVENTORY, UHFREADER18_STATUS.NO_TAG);
}
