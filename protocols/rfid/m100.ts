/**
 * M100 / YRM100 / JRD-100 (Magicrf M100 chip) UHF modules, 115200 8N1.
 *
 *     BB  Type  Cmd  PL_H PL_L  Params...  Chk  7E
 *
 * Type 0x00 command, 0x01 response, 0x02 notice; Chk = sum(Type..Params) & 0xFF [MagicRF M100
 * Firmware Application Programming Manual, "Frame format"]. There is no byte stuffing: 0x7E and 0xBB occur inside params (EPCs),
 * so frames are cut by PL, never at the first 0x7E (the M5Stack library's bug).
 */
import { ProtocolError } from '../errors.js';
import { crc16Gen2, sum8 } from './checksums.js';
import { LengthFramer, type LengthFrameSpec } from './length-framer.js';
import { type RfidFrame, hexToBytes, isHex, toHex } from './rfid-frame.js';

export const M100_HEADER = 0xbb;
export const M100_END = 0x7e;
export const M100_TYPE = { COMMAND: 0x00, RESPONSE: 0x01, NOTICE: 0x02 } as const;
export const M100_CMD = {
  /** Single polling (one inventory round); tags come as notices with this command code. */
  SINGLE_POLL: 0x22,
  /** Multiple polling: params 0x22 (reserved) + count (u16 BE). */
  MULTI_POLL: 0x27,
  /** Stop multiple polling. */
  STOP: 0x28,
  /** Set TX power: u16 BE in 0.01 dBm. */
  SET_TX_POWER: 0xb6,
  /** Error response; params[0] is the error code. */
  ERROR: 0xff,
} as const;

/** Error code meaning "inventory found no tag" [MagicRF M100 programming manual, error codes]. */
export const M100_ERR_NO_TAG = 0x15;

export interface M100ParserOptions {
  /**
   * Largest PL accepted, in bytes. A header announcing more is treated as noise. Default 512
   * (a full 62-word EPC notice is 129 bytes; memory reads are shorter than this).
   */
  maxPayload?: number;
}

function decode(frame: Uint8Array): RfidFrame[] {
  const type = frame[1]!;
  const cmd = frame[2]!;
  const params = frame.subarray(5, frame.length - 2);
  if (type === M100_TYPE.COMMAND) return [{ kind: 'command', cmd, data: toHex(params) }];
  if (type === M100_TYPE.NOTICE && cmd === M100_CMD.SINGLE_POLL && params.length >= 6) {
    // RSSI (int8, dBm) | PC (2) | EPC (PL - 5) | EPC CRC (2). The EPC length is taken from PL
    // rather than PC >> 11 so that a tag with an unusual PC still yields what the reader sent.
    const rssi = params[0]! >= 0x80 ? params[0]! - 0x100 : params[0]!;
    return [
      {
        kind: 'tag',
        epc: toHex(params.subarray(3, params.length - 2)),
        rssi,
        pc: toHex(params.subarray(1, 3)),
      },
    ];
  }
  if (type === M100_TYPE.RESPONSE && cmd === M100_CMD.ERROR && params.length >= 1) {
    const code = params[0]!;
    return [{ kind: 'status', status: code === M100_ERR_NO_TAG ? 'no-tag' : 'error', code }];
  }
  return [{ kind: 'response', cmd, data: toHex(params) }];
}

function spec(maxPayload: number): LengthFrameSpec<RfidFrame> {
  return {
    headerLength: 5,
    isStart: (b) => b === M100_HEADER,
    frameLength: (buf, i) => {
      if (buf[i + 1]! > M100_TYPE.NOTICE) return -1;
      const pl = (buf[i + 3]! << 8) | buf[i + 4]!;
      return pl > maxPayload ? -1 : pl + 7;
    },
    check: (f) => f[f.length - 1] === M100_END && sum8(f, 1, f.length - 2) === f[f.length - 2],
    decode,
  };
}

/** Stream parser for M100 frames (commands, responses and notices alike). */
export function createM100Parser(opts: M100ParserOptions = {}): LengthFramer<RfidFrame> {
  return new LengthFramer(spec(opts.maxPayload ?? 512));
}

// ---------------------------------------------------------------------------------------------
// Encoders
// ---------------------------------------------------------------------------------------------

/** Frame `Type Cmd Params` with header, PL, checksum and end byte. */
export function encodeM100Frame(type: number, cmd: number, params: Uint8Array | readonly number[] = []): Uint8Array {
  if (!Number.isInteger(type) || type < 0 || type > M100_TYPE.NOTICE) throw new ProtocolError('SG_ERR_PROTO_ARGUMENT', `type: ${type} is not 0, 1 or 2`);
  if (!Number.isInteger(cmd) || cmd < 0 || cmd > 0xff) throw new ProtocolError('SG_ERR_PROTO_ARGUMENT', `cmd: ${cmd} is not a byte`);
  if (params.length > 0xffff) throw new ProtocolError('SG_ERR_PROTO_ARGUMENT', `params: ${params.length} bytes exceed PL's 16 bits`);
  const f = new Uint8Array(params.length + 7);
  f[0] = M100_HEADER;
  f[1] = type;
  f[2] = cmd;
  f[3] = params.length >> 8;
  f[4] = params.length & 0xff;
  f.set(params, 5);
  f[f.length - 2] = sum8(f, 1, f.length - 2);
  f[f.length - 1] = M100_END;
  return f;
}

/** Single polling: `BB 00 22 00 00 22 7E`. */
export function m100SinglePollCommand(): Uint8Array {
  return encodeM100Frame(M100_TYPE.COMMAND, M100_CMD.SINGLE_POLL);
}

/** Multiple polling `count` times (1..65535): ×10000 = `BB 00 27 00 03 22 27 10 83 7E`. */
export function m100MultiPollCommand(count: number): Uint8Array {
  if (!Number.isInteger(count) || count < 1 || count > 0xffff) throw new ProtocolError('SG_ERR_PROTO_ARGUMENT', `count: ${count} is not 1..65535`);
  return encodeM100Frame(M100_TYPE.COMMAND, M100_CMD.MULTI_POLL, [0x22, count >> 8, count & 0xff]);
}

/** Stop multiple polling: `BB 00 28 00 00 28 7E`. */
export function m100StopCommand(): Uint8Array {
  return encodeM100Frame(M100_TYPE.COMMAND, M100_CMD.STOP);
}

/**
 * Set TX power in dBm, resolution 0.01 dBm: 20 dBm = `BB 00 B6 00 02 07 D0 8F 7E`. Accepts
 * 0..33 dBm (the module clamps to what it can do; 26 dBm for the M100).
 */
export function m100SetTxPowerCommand(dbm: number): Uint8Array {
  if (!Number.isFinite(dbm) || dbm < 0 || dbm > 33) throw new ProtocolError('SG_ERR_PROTO_RANGE', `dbm: ${dbm} is not 0..33`);
  const centi = Math.round(dbm * 100);
  return encodeM100Frame(M100_TYPE.COMMAND, M100_CMD.SET_TX_POWER, [centi >> 8, centi & 0xff]);
}

export interface M100TagNoticeInput {
  /** EPC hex, an even number of bytes (whole 16-bit words). */
  epc: string;
  /** RSSI in dBm, -128..127. */
  rssi: number;
  /** PC word; default (EPC words << 11), i.e. no user memory / XPC flags. */
  pc?: number;
  /** EPC CRC; default the Gen2 CRC-16 over PC+EPC, as a real tag sends. */
  crc?: number;
}

/** A tag notice as the module sends it during polling, e.g. for a simulator. */
export function encodeM100TagNotice(input: M100TagNoticeInput): Uint8Array {
  if (!isHex(input.epc) || input.epc.length % 4 !== 0 || input.epc.length > 124) {
    throw new ProtocolError('SG_ERR_PROTO_ARGUMENT', `epc: '${input.epc}' is not 1..31 whole 16-bit words of hex`);
  }
  if (!Number.isInteger(input.rssi) || input.rssi < -128 || input.rssi > 127) {
    throw new ProtocolError('SG_ERR_PROTO_ARGUMENT', `rssi: ${input.rssi} is not an int8`);
  }
  for (const [name, v] of [['pc', input.pc], ['crc', input.crc]] as const) {
    if (v !== undefined && (!Number.isInteger(v) || v < 0 || v > 0xffff)) throw new ProtocolError('SG_ERR_PROTO_ARGUMENT', `${name}: ${v} is not a 16-bit word`);
  }
  const epc = hexToBytes(input.epc);
  const pc = input.pc ?? (epc.length / 2) << 11;
  const pcEpc = Uint8Array.of(pc >> 8, pc & 0xff, ...epc);
  const crc = input.crc ?? crc16Gen2(pcEpc);
  return encodeM100Frame(M100_TYPE.NOTICE, M100_CMD.SINGLE_POLL, [input.rssi & 0xff, ...pcEpc, crc >> 8, crc & 0xff]);
}

/** The error response for `code`; 0x15 (default) is "no tag": `BB 01 FF 00 01 15 16 7E`. */
export function encodeM100Error(code: number = M100_ERR_NO_TAG): Uint8Array {
  if (!Number.isInteger(code) || code < 0 || code > 0xff) throw new ProtocolError('SG_ERR_PROTO_ARGUMENT', `code: ${code} is not a byte`);
  return encodeM100Frame(M100_TYPE.RESPONSE, M100_CMD.ERROR, [code]);
}

/** Any other response, e.g. `encodeM100Response(0x28, [0x00])` for "stopped". */
export function encodeM100Response(cmd: number, data: Uint8Array | readonly number[] = []): Uint8Array {
  return encodeM100Frame(M100_TYPE.RESPONSE, cmd, data);
}
