/**
 * Toledo continuous output ("standard continuous", MT 8142 format), sent by Mettler Toledo
 * terminals and by many indicators that emulate it. Source: MT Wildcat manual, chapter 6,
 * tables 6-8 to 6-11 [Toledo T6-9..T6-11], as summarised in device-protocols.md §1.
 *
 *     byte  0    1    2    3    4 .. 9      10 .. 15    16   [17]
 *           STX  SWA  SWB  SWC  weight(6)   tare(6)     CR   [CHK]
 *
 * - Weight and tare are 6 ASCII digits each, no sign, no decimal point (leading blanks allowed).
 * - SWA bits 0-2 place the decimal point; bits 3-4 give the increment ×1/×2/×5 [T6-9].
 * - SWB: b0 net, b1 negative, b2 out of range, b3 motion, b4 kg (else lb) [T6-10].
 * - SWC: b0 grams (overrides SWB b4), b3 print request [T6-11].
 * - CHK (optional) = two's complement of the low 7 bits of the sum of STX..CR.
 *
 * Framed on STX plus fixed length, never on CR: CHK comes after CR and can itself be 0x0D or 0x02.
 * The protocol is 7-bit (usually 7E1); bit 7 of every byte is stripped, so a port opened 8N1 by
 * mistake (parity landing in bit 7) still decodes.
 */
import { newStats } from '../framing/parser.js';
import type { ScaleParser } from './scale-parser.js';
import type { ScaleFrame, WeightFrame } from './scale-frame.js';
import { roundTo, toKg } from './units.js';

const STX = 0x02;
const CR = 0x0d;
/** Bytes STX..CR. */
const BODY = 17;

/** Options of {@link ToledoContinuousParser}. */
export interface ToledoOptions {
  /**
   * Checksum byte after CR: `true` = always present and verified (frames failing it are dropped),
   * `false` = never present, `'auto'` = learn it from the first frames (a byte after CR that
   * matches the checksum means "present", an STX there means "absent"). Default `'auto'`.
   */
  checksum?: 'auto' | boolean;
}

/** The Toledo checksum of bytes STX..CR: two's complement of the low 7 bits of their sum. */
export function toledoChecksum(body: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < body.length; i++) sum += body[i]! & 0x7f;
  return -sum & 0x7f;
}

/** SWA bits 0-2 → decimals (negative = dummy zeros: code 0 is XXXX00, code 1 is XXXXX0) [T6-9]. */
export function toledoDecimals(swa: number): number {
  return (swa & 0x07) - 2;
}

/** SWA bits 3-4 → increment multiplier: 01 ×1, 10 ×2, 11 ×5 [T6-9]; 00 (not in the table) read as ×1. */
export function toledoIncrement(swa: number): 1 | 2 | 5 {
  const code = (swa >> 3) & 0x03;
  return code === 2 ? 2 : code === 3 ? 5 : 1;
}

/** Unit from SWB b4 (kg, else lb) and SWC b0 (grams) [T6-10, T6-11]. */
export function toledoUnit(swb: number, swc: number): 'g' | 'kg' | 'lb' {
  if (swc & 0x01) return 'g';
  return swb & 0x10 ? 'kg' : 'lb';
}

/**
 * Decode one complete 17-byte body (STX..CR, checksum not included). Returns undefined when a
 * byte is out of place. Pure; never throws.
 */
export function decodeToledoBody(body: ArrayLike<number>): ScaleFrame | undefined {
  if (body.length !== BODY || body[0] !== STX || body[16] !== CR) return undefined;
  for (let i = 1; i < 16; i++) if (!validAt(i, body[i]!)) return undefined;
  const swa = body[1]!;
  const swb = body[2]!;
  const swc = body[3]!;
  const negative = (swb & 0x02) !== 0;
  if (swb & 0x04) return { kind: 'status', status: negative ? 'underload' : 'overload' };

  const code = toledoDecimals(swa);
  // The six digit positions are the display pattern of T6-9 (XXXX00 has two dummy zeros among the
  // six), so the digits are the value as shown; only codes >= 3 move the decimal point.
  const decimals = Math.max(0, code);
  const scale = 10 ** decimals;
  const digits = (from: number): number => {
    let v = 0;
    for (let i = from; i < from + 6; i++) v = v * 10 + (body[i] === 0x20 ? 0 : body[i]! - 0x30);
    return v;
  };
  const unit = toledoUnit(swb, swc);
  const weight = roundTo((negative ? -digits(4) : digits(4)) / scale, decimals);
  const tare = roundTo(digits(10) / scale, decimals);
  const division = roundTo(toledoIncrement(swa) * 10 ** -code, decimals);
  const frame: WeightFrame = {
    kind: 'weight',
    weight,
    unit,
    weightKg: toKg(weight, unit, decimals),
    stable: (swb & 0x08) === 0,
    net: (swb & 0x01) !== 0,
    tare,
    tareKg: toKg(tare, unit, decimals),
    division,
  };
  return frame;
}

/** Is `b` acceptable at body position `i` (1..16)? Status words are printable; data digits or blank. */
function validAt(i: number, b: number): boolean {
  if (i <= 3) return b >= 0x20 && b <= 0x7e;
  if (i <= 15) return (b >= 0x30 && b <= 0x39) || b === 0x20;
  return b === CR;
}

/** Byte-stream parser for Toledo continuous output. See the module comment for the frame. */
export class ToledoContinuousParser implements ScaleParser {
  readonly stats = newStats();
  private buf: number[] = [];
  private readonly option: 'auto' | boolean;
  /** What we know about the checksum byte: fixed by the option, or learned in 'auto' mode. */
  private mode: 'unknown' | 'present' | 'absent';

  constructor(opts: ToledoOptions = {}) {
    this.option = opts.checksum ?? 'auto';
    this.mode = this.initialMode();
  }

  push(chunk: Uint8Array): ScaleFrame[] {
    const out: ScaleFrame[] = [];
    for (const raw of chunk) {
      this.buf.push(raw & 0x7f);
      this.scan(out, false);
    }
    return out;
  }

  end(): ScaleFrame[] {
    const out: ScaleFrame[] = [];
    this.scan(out, true);
    this.stats.droppedBytes += this.buf.length;
    this.buf = [];
    return out;
  }

  /** Forget the partial frame and, in 'auto' mode, what was learned about the checksum. */
  reset(): void {
    this.buf = [];
    this.mode = this.initialMode();
  }

  private initialMode(): 'unknown' | 'present' | 'absent' {
    return this.option === 'auto' ? 'unknown' : this.option ? 'present' : 'absent';
  }

  /**
   * Consume as much of the buffer as can be decided. With `final`, nothing more will come, so a
   * frame waiting for its checksum byte (or for the byte that tells whether there is one) is
   * settled now.
   */
  private scan(out: ScaleFrame[], final: boolean): void {
    for (;;) {
      const buf = this.buf;
      if (buf.length === 0) return;
      if (buf[0] !== STX) {
        buf.shift();
        this.stats.droppedBytes++;
        continue;
      }
      // Reject the candidate at the first byte out of place, and hunt again from the byte after
      // its STX: a noise STX must not swallow the real frame that follows it.
      let bad = false;
      for (let i = 1; i < Math.min(buf.length, BODY); i++) {
        if (!validAt(i, buf[i]!)) {
          bad = true;
          break;
        }
      }
      if (bad) {
        buf.shift();
        this.stats.droppedBytes++;
        continue;
      }
      if (buf.length < BODY) {
        if (final) {
          this.stats.droppedBytes += buf.length;
          this.buf = [];
        }
        return;
      }
      if (!this.settle(out, final)) return;
    }
  }

  /** A full body is buffered: decide about the checksum. Returns false to wait for more bytes. */
  private settle(out: ScaleFrame[], final: boolean): boolean {
    const buf = this.buf;
    const chk = toledoChecksum(buf.slice(0, BODY));
    if (this.mode === 'absent') return this.emit(out, BODY);
    if (buf.length < BODY + 1) {
      if (!final) return false;
      if (this.mode === 'present') return this.drop(BODY);
      return this.emit(out, BODY); // 'auto', nothing after CR: accept unverified.
    }
    const next = buf[BODY]!;
    if (this.mode === 'present') return next === chk ? this.emit(out, BODY + 1) : this.drop(BODY);

    // 'auto', still learning.
    if (next === chk && next === STX) {
      // Ambiguous: the checksum happens to be 0x02. If another STX follows, this one was the
      // checksum; if a status word follows, it was the next frame's STX.
      if (buf.length < BODY + 2) {
        if (!final) return false;
        return this.emit(out, BODY + 1);
      }
      if (buf[BODY + 1] === STX) {
        this.mode = 'present';
        return this.emit(out, BODY + 1);
      }
      this.mode = 'absent';
      return this.emit(out, BODY);
    }
    if (next === chk) {
      this.mode = 'present';
      return this.emit(out, BODY + 1);
    }
    if (next === STX) {
      this.mode = 'absent';
      return this.emit(out, BODY);
    }
    // Neither the checksum nor a new frame: a corrupted checksum most likely. Do not trust it.
    return this.drop(BODY);
  }

  private emit(out: ScaleFrame[], length: number): true {
    const frame = decodeToledoBody(this.buf.slice(0, BODY));
    this.buf.splice(0, length);
    if (frame) {
      out.push(frame);
      this.stats.frames++;
    } else {
      this.stats.droppedFrames++;
    }
    return true;
  }

  private drop(length: number): true {
    this.buf.splice(0, length);
    this.stats.droppedFrames++;
    return true;
  }
}
