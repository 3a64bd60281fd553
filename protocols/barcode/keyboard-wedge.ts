/**
 * Keyboard-wedge scanners: HID boot keyboard input reports decoded back to the scanned text.
 *
 *      0          1          2 .. 7
 *     +----------+----------+-------------------------------+
 *     | modifier | reserved | up to 6 key usage IDs, 0=none |
 *     +----------+----------+-------------------------------+
 *     modifier bits: 0 LCtrl, 1 LShift, 2 LAlt, 3 LGUI, 4 RCtrl, 5 RShift, 6 RAlt, 7 RGUI
 *
 * [USB HID 1.11, Appendix B.1 "Protocol 1 (Keyboard)"; HID Usage Tables, Keyboard/Keypad page 0x07]
 *
 * - A report is a *state*: the keys held now. A key is a new press only when it was not in the
 *   previous report, so a held key (rollover, or a scanner sending the same state twice) types once,
 *   and "aa" only comes out as press, release, press.
 * - All slots = 0x01 (ErrorRollOver) or 0x02/0x03 is a phantom state: ignored, previous state kept.
 * - Enter (0x28) or keypad Enter (0x58) ends a scan; empty scans are not emitted.
 * - Ctrl + `]` is GS (0x1D), the FNC1 separator of GS1 data; generally Ctrl + letter/[\]^_ gives
 *   the ASCII control character, as a terminal would.
 * - Alt + keypad digits (the Alt+keypad emulation many scanners offer because it does not depend
 *   on the keyboard layout) gives the character with that decimal code when Alt is released.
 *
 * The mapping is the US layout: the scanner sends the usage ID of the key that produces the
 * character on the layout it is configured for, so a scanner set to another layout (AZERTY, QWERTZ)
 * must be decoded with that layout, and Ctrl+] may not even exist there (see the README). Caps Lock
 * and Num Lock live in the host, not in the report: keypad keys are read as if Num Lock were on and
 * Caps Lock is assumed off.
 *
 * Reports are 8 bytes; the decoder collects bytes into whole reports, so a report split over
 * several `push` calls decodes the same. A report whose reserved byte is not 0 or whose key slots
 * hold modifier/reserved usages (>= 0xE0) is dropped whole (`droppedFrames`): boot reports carry no
 * sync marker, so there is nothing better to hunt for; HID delivers whole reports anyway.
 */
import { type FrameParser, newStats } from '../framing/parser.js';

/** Options of {@link KeyboardWedgeDecoder}. */
export interface KeyboardWedgeOptions {
  /** Longest scan kept, in characters; a longer one is dropped (`droppedFrames`). Default 4096. */
  maxLength?: number;
}

/** Size of a boot keyboard input report. */
export const BOOT_REPORT_LENGTH = 8;

const CTRL = 0x11;
const SHIFT = 0x22;
const ALT = 0x44;

const ENTER = 0x28;
const KP_ENTER = 0x58;

/** US layout: usage ID -> [unshifted, shifted]. [HID Usage Tables, 10 "Keyboard/Keypad Page"] */
const US: ReadonlyMap<number, readonly [string, string]> = (() => {
  const m = new Map<number, readonly [string, string]>();
  for (let i = 0; i < 26; i++) m.set(0x04 + i, [String.fromCharCode(97 + i), String.fromCharCode(65 + i)]);
  const digits = '1234567890';
  const shifted = '!@#$%^&*()';
  for (let i = 0; i < 10; i++) m.set(0x1e + i, [digits[i]!, shifted[i]!]);
  const rest: Array<[number, string, string]> = [
    [0x2b, '\t', '\t'], [0x2c, ' ', ' '], [0x2d, '-', '_'], [0x2e, '=', '+'], [0x2f, '[', '{'],
    [0x30, ']', '}'], [0x31, '\\', '|'], [0x32, '#', '~'], [0x33, ';', ':'], [0x34, "'", '"'],
    [0x35, '`', '~'], [0x36, ',', '<'], [0x37, '.', '>'], [0x38, '/', '?'],
    // Keypad (Num Lock assumed on)
    [0x54, '/', '/'], [0x55, '*', '*'], [0x56, '-', '-'], [0x57, '+', '+'], [0x63, '.', '.'],
  ];
  for (const [k, a, b] of rest) m.set(k, [a, b]);
  for (let i = 0; i < 9; i++) m.set(0x59 + i, [String(i + 1), String(i + 1)]);
  m.set(0x62, ['0', '0']);
  return m;
})();

/** Keypad digit usage -> digit, for Alt + keypad codes. */
function keypadDigit(k: number): string | undefined {
  if (k >= 0x59 && k <= 0x61) return String(k - 0x58);
  if (k === 0x62) return '0';
  return undefined;
}

/** Ctrl + key -> ASCII control character, as on a terminal (Ctrl+] = GS 0x1D). */
function controlChar(k: number, shift: boolean): string | undefined {
  if (k >= 0x04 && k <= 0x1d) return String.fromCharCode(k - 0x03); // Ctrl+A = 0x01 ... Ctrl+Z = 0x1A
  if (k === 0x2f) return '\u001b'; // Ctrl+[
  if (k === 0x31) return '\u001c'; // Ctrl+\
  if (k === 0x30) return '\u001d'; // Ctrl+]  = GS
  if (k === 0x23 && shift) return '\u001e'; // Ctrl+^ (Shift+6)
  if (k === 0x2d && shift) return '\u001f'; // Ctrl+_ (Shift+-)
  return undefined;
}

/** Decodes boot keyboard reports into scanned lines. Implements FrameParser; never throws. */
export class KeyboardWedgeDecoder implements FrameParser<string> {
  readonly stats = newStats();
  private readonly maxLength: number;
  private report: number[] = [];
  private prevKeys = new Set<number>();
  private prevMods = 0;
  private text = '';
  private overflow = false;
  private altDigits = '';

  constructor(opts: KeyboardWedgeOptions = {}) {
    this.maxLength = opts.maxLength ?? 4096;
  }

  push(chunk: Uint8Array): string[] {
    const out: string[] = [];
    for (const b of chunk) {
      this.report.push(b);
      if (this.report.length === BOOT_REPORT_LENGTH) {
        const r = this.report;
        this.report = [];
        this.onReport(r, out);
      }
    }
    return out;
  }

  reset(): void {
    this.report = [];
    this.prevKeys = new Set();
    this.prevMods = 0;
    this.text = '';
    this.overflow = false;
    this.altDigits = '';
  }

  private onReport(r: number[], out: string[]): void {
    const slots = r.slice(2);
    if (r[1] !== 0 || slots.some((k) => k >= 0xe0)) {
      this.stats.droppedFrames++;
      return;
    }
    // ErrorRollOver / POSTFail / ErrorUndefined: the keyboard cannot tell which keys are down.
    if (slots.some((k) => k >= 0x01 && k <= 0x03)) return;
    const mods = r[0]!;
    if (this.prevMods & ALT && !(mods & ALT)) this.flushAlt();
    const keys = new Set(slots.filter((k) => k !== 0));
    for (const k of slots) {
      if (k === 0 || this.prevKeys.has(k)) continue;
      this.press(k, mods, out);
    }
    this.prevKeys = keys;
    this.prevMods = mods;
  }

  private press(k: number, mods: number, out: string[]): void {
    if (k === ENTER || k === KP_ENTER) {
      this.flushAlt();
      if (this.overflow) this.stats.droppedFrames++;
      else if (this.text !== '') {
        out.push(this.text);
        this.stats.frames++;
      }
      this.text = '';
      this.overflow = false;
      return;
    }
    if (mods & ALT) {
      const d = keypadDigit(k);
      if (d !== undefined) this.altDigits += d;
      return;
    }
    const ch = mods & CTRL ? controlChar(k, (mods & SHIFT) !== 0) : US.get(k)?.[mods & SHIFT ? 1 : 0];
    if (ch !== undefined) this.append(ch);
  }

  private flushAlt(): void {
    if (this.altDigits === '') return;
    const code = Number(this.altDigits) & 0xff;
    this.altDigits = '';
    if (code !== 0) this.append(String.fromCharCode(code));
  }

  private append(ch: string): void {
    if (this.overflow) return;
    if (this.text.length >= this.maxLength) {
      this.overflow = true;
      this.text = '';
      return;
    }
    this.text += ch;
  }
}
