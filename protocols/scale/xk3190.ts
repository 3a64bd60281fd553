/**
 * Shanghai Yaohua XK3190 weighing indicators (A9, A9+, A12, A23P, A26, DS1, DS3 ...), the most
 * common truck-scale indicators on Chinese sites. Sources (English user manuals):
 *
 * - [XK3190-A9+ ch.2 §V] serial interface: "Continuous method (tF=0)", 12 bytes per frame:
 *
 *       STX  sign  d d d d d d  dp  XH XL  ETX        (02 '+'|'-' 6 digits '0'..'4' hex hex 03)
 *
 *   six weight digits high to low, `dp` = number of decimals counted from the right (0-4),
 *   XH/XL = XOR of bytes 2..9 (sign..dp) sent as two ASCII characters: nibble + 0x30 when <= 9,
 *   + 0x37 when > 9, i.e. upper-case hex. Real capture cross-checked: a 1560 kg truck scale sends
 *   `02 2B 30 30 31 35 36 30 30 31 39 03` (public Python reader "read地磅", 1200 baud).
 * - [XK3190-A9+ ch.2 §V (2)] "Order method (tF=1)": the host sends `STX addr cmd XH XL ETX`
 *   (addr 'A'..'Z', cmd 'A' handshake, 'B' gross, 'C' tare, 'D' net, XOR of addr and cmd); the
 *   indicator answers `STX addr cmd [sign 6 digits dp] XH XL ETX` (6 bytes for A, 14 for B/C/D).
 * - [XK3190-A26 "continuous communication format 1"] (also A23P format 2, DS-series), 9 bytes:
 *
 *       '='  w1 .. w7  sign                           e.g. 3.000 -> "=000.3000", -1.00 -> "=00.1000-"
 *
 *   the display value *including its decimal point*, least significant character first, then
 *   '0' (positive) or '-' (negative). No terminator, no checksum, no stability flag.
 *
 * Neither format carries a unit (the indicators are fixed to kg on Chinese sites) or a stability
 * flag, so frames have the configured `unit` and no `stable`: use the stability detector.
 */
import { newStats } from '../framing/parser.js';
import { ProtocolError } from '../errors.js';
import type { ScaleParser } from './scale-parser.js';
import type { ScaleFrame, WeightFrame } from './scale-frame.js';
import { parseDecimal, roundTo, toKg } from './units.js';

const STX = 0x02;
const ETX = 0x03;
const EQ = 0x3d;
/** Longest STX frame we accept (replies to E/F carry free text; keep it bounded). */
const MAX_STX = 32;
/** '=' + 7 characters + sign. */
const EQ_LEN = 9;

/** Options of {@link Xk3190Parser}. */
export interface Xk3190Options {
  /** Unit reported in frames (the formats carry none). Default `'kg'`. */
  unit?: string;
}

/** XOR of the given bytes, as the two ASCII hex characters XK3190 sends (high nibble first). */
export function xk3190Check(bytes: ArrayLike<number>): [number, number] {
  let x = 0;
  for (let i = 0; i < bytes.length; i++) x ^= bytes[i]!;
  const hex = (n: number): number => (n <= 9 ? n + 0x30 : n + 0x37);
  return [hex(x >> 4), hex(x & 0x0f)];
}

/**
 * Build a host command for the order method (tF=1) [XK3190-A9+ ch.2 §V (2)]:
 * `STX addr cmd XH XL ETX`, XOR over addr and cmd.
 * @param address indicator address 'A'..'Z' (address 1..26)
 * @param command 'A' handshake, 'B' gross, 'C' tare, 'D' net, 'E' truck no., 'F' cargo no.
 */
export function xk3190Command(address: string, command: 'A' | 'B' | 'C' | 'D' | 'E' | 'F'): Uint8Array {
  if (!/^[A-Z]$/.test(address)) {
    throw new ProtocolError('SG_ERR_PROTO_ARGUMENT', `address must be one letter A-Z, got '${address}'`);
  }
  if (!/^[A-F]$/.test(command)) {
    throw new ProtocolError('SG_ERR_PROTO_ARGUMENT', `command must be one of A-F, got '${command}'`);
  }
  const body = [address.charCodeAt(0), command.charCodeAt(0)];
  return Uint8Array.from([STX, ...body, ...xk3190Check(body), ETX]);
}

const isDigit = (b: number): boolean => b >= 0x30 && b <= 0x39;
const isHex = (b: number): boolean => isDigit(b) || (b >= 0x41 && b <= 0x46);
const isSign = (b: number): boolean => b === 0x2b || b === 0x2d;
const isUpper = (b: number): boolean => b >= 0x41 && b <= 0x5a;

/** Expected total length of an STX frame from its first bytes, or undefined if not known yet. */
function stxLength(buf: number[]): number | undefined {
  if (buf.length < 2) return undefined;
  if (isSign(buf[1]!)) return 12;
  if (buf.length < 3) return undefined;
  const cmd = buf[2]!;
  if (cmd === 0x41) return 6;
  if (cmd >= 0x42 && cmd <= 0x44) return 14;
  return undefined; // E/F: free length, up to ETX.
}

/** Is byte `b` acceptable at position `i` of an STX frame whose buffer so far is `buf`? */
function stxValidAt(buf: number[], i: number, b: number): boolean {
  if (i === 1) return isSign(b) || isUpper(b);
  const continuous = isSign(buf[1]!);
  if (continuous) {
    if (i <= 7) return isDigit(b) || b === 0x20;
    if (i === 8) return b >= 0x30 && b <= 0x35;
    if (i <= 10) return isHex(b);
    return i === 11 && b === ETX;
  }
  if (i === 2) return b >= 0x41 && b <= 0x46;
  const len = stxLength(buf);
  if (len === undefined) return b !== STX && b !== EQ && (b === ETX || (b >= 0x20 && b <= 0x7e));
  if (i === len - 1) return b === ETX;
  if (i >= len - 3) return isHex(b);
  if (i === 3) return isSign(b);
  if (i <= 9) return isDigit(b) || b === 0x20;
  return b >= 0x30 && b <= 0x35;
}

/** Sign, six digits (blank = 0) and the decimals digit starting at `signAt`. */
function signedValue(bytes: number[], signAt: number): { weight: number; decimals: number } {
  const sign = bytes[signAt] === 0x2d ? -1 : 1;
  let v = 0;
  for (let i = signAt + 1; i < signAt + 7; i++) v = v * 10 + (bytes[i] === 0x20 ? 0 : bytes[i]! - 0x30);
  const decimals = bytes[signAt + 7]! - 0x30;
  return { weight: roundTo((sign * v) / 10 ** decimals, decimals), decimals };
}

/**
 * Decode a complete STX..ETX frame. Returns undefined when the XOR check fails or the layout is
 * not one we know. Pure; never throws.
 */
export function decodeXk3190Stx(bytes: ArrayLike<number>, unit = 'kg'): ScaleFrame | undefined {
  const b = Array.from(bytes);
  const n = b.length;
  if (n < 6 || b[0] !== STX || b[n - 1] !== ETX) return undefined;
  for (let i = 1; i < n; i++) if (!stxValidAt(b.slice(0, i), i, b[i]!)) return undefined;
  const len = stxLength(b);
  if (len !== undefined && len !== n) return undefined;
  const [xh, xl] = xk3190Check(b.slice(1, n - 3));
  if (b[n - 3] !== xh || b[n - 2] !== xl) return undefined;

  if (isSign(b[1]!)) {
    const { weight, decimals } = signedValue(b, 1);
    return weightFrame(weight, decimals, unit);
  }
  const deviceId = String.fromCharCode(b[1]!);
  const cmd = String.fromCharCode(b[2]!);
  if (cmd === 'A') return { kind: 'ack', command: 'A', deviceId };
  if (cmd === 'B' || cmd === 'D') {
    const { weight, decimals } = signedValue(b, 3);
    const frame = weightFrame(weight, decimals, unit);
    frame.net = cmd === 'D';
    frame.deviceId = deviceId;
    return frame;
  }
  if (cmd === 'C') {
    const { weight, decimals } = signedValue(b, 3);
    const frame: ScaleFrame = { kind: 'tare', tare: weight, unit, deviceId };
    const kg = toKg(weight, unit, decimals);
    if (kg !== undefined) frame.tareKg = kg;
    return frame;
  }
  // E (truck no.) / F (cargo no.): free text the manual does not lay out; pass it on raw.
  return { kind: 'reply', command: cmd, status: '', values: [String.fromCharCode(...b.slice(3, n - 3))] };
}

/**
 * Decode a '=' frame (9 bytes): the display string reversed, then the sign character.
 * Returns undefined when a character is out of place. Pure; never throws.
 */
export function decodeXk3190Reversed(bytes: ArrayLike<number>, unit = 'kg'): ScaleFrame | undefined {
  const b = Array.from(bytes);
  if (b.length !== EQ_LEN || b[0] !== EQ) return undefined;
  for (let i = 1; i < EQ_LEN; i++) if (!eqValidAt(b, i, b[i]!)) return undefined;
  const text = String.fromCharCode(...b.slice(1, 8).reverse());
  const num = parseDecimal(text);
  if (!num) return undefined;
  const weight = b[8] === 0x2d ? roundTo(-num.value, num.decimals) : num.value;
  return weightFrame(weight, num.decimals, unit);
}

/** Byte `b` at position `i` (1..8) of a '=' frame held in `buf`. */
function eqValidAt(buf: number[], i: number, b: number): boolean {
  if (i === 8) return b === 0x30 || b === 0x2d || b === 0x2b || b === 0x20;
  if (isDigit(b)) return true;
  if (b !== 0x2e) return false;
  // At most one decimal point.
  for (let j = 1; j < i; j++) if (buf[j] === 0x2e) return false;
  return true;
}

function weightFrame(weight: number, decimals: number, unit: string): WeightFrame {
  const frame: WeightFrame = { kind: 'weight', weight, unit, weightKg: toKg(weight, unit, decimals) };
  if (frame.weightKg === undefined) delete frame.weightKg;
  return frame;
}

/**
 * Byte-stream parser for XK3190 output: STX frames (continuous tF=0 and replies to the order
 * method) and the '=' reversed-digit stream, recognised by their first byte, in any mix.
 */
export class Xk3190Parser implements ScaleParser {
  readonly stats = newStats();
  private buf: number[] = [];
  private readonly unit: string;

  constructor(opts: Xk3190Options = {}) {
    this.unit = opts.unit ?? 'kg';
  }

  push(chunk: Uint8Array): ScaleFrame[] {
    const out: ScaleFrame[] = [];
    for (const b of chunk) {
      this.buf.push(b);
      this.scan(out);
    }
    return out;
  }

  /** Nothing is ever held back once complete; a partial frame at the end is dropped. */
  end(): ScaleFrame[] {
    this.stats.droppedBytes += this.buf.length;
    this.buf = [];
    return [];
  }

  reset(): void {
    this.buf = [];
  }

  private scan(out: ScaleFrame[]): void {
    for (;;) {
      const buf = this.buf;
      if (buf.length === 0) return;
      const start = buf[0]!;
      if (start !== STX && start !== EQ) {
        buf.shift();
        this.stats.droppedBytes++;
        continue;
      }
      const ok = start === STX ? this.checkStx() : this.checkEq();
      if (ok === 'bad') {
        // Hunt again from the byte after this start: a noise STX or '=' must not hide a real frame.
        buf.shift();
        this.stats.droppedBytes++;
        continue;
      }
      if (ok === 'more') return;
      const frame = start === STX ? decodeXk3190Stx(buf, this.unit) : decodeXk3190Reversed(buf, this.unit);
      if (frame) {
        this.buf = [];
        out.push(frame);
        this.stats.frames++;
      } else {
        // Layout fine but the XOR check failed: a damaged frame. Keep hunting after its start.
        buf.shift();
        this.stats.droppedFrames++;
      }
    }
  }

  /** Validate the STX candidate in the buffer: complete ('done'), needs more bytes, or bad. */
  private checkStx(): 'done' | 'more' | 'bad' {
    const buf = this.buf;
    for (let i = 1; i < buf.length; i++) {
      if (!stxValidAt(buf.slice(0, i), i, buf[i]!)) return 'bad';
    }
    const len = stxLength(buf);
    if (len !== undefined) {
      if (buf.length < len) return 'more';
      return buf.length === len ? 'done' : 'bad';
    }
    if (buf.length > MAX_STX) return 'bad';
    return buf.length >= 6 && buf[buf.length - 1] === ETX ? 'done' : 'more';
  }

  private checkEq(): 'done' | 'more' | 'bad' {
    const buf = this.buf;
    for (let i = 1; i < buf.length; i++) if (!eqValidAt(buf, i, buf[i]!)) return 'bad';
    return buf.length < EQ_LEN ? 'more' : 'done';
  }
}
