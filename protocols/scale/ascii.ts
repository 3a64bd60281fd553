/**
 * Plain ASCII line formats (one reading per CR LF line), recognised line by line so one port can
 * carry any of them:
 *
 * - A&D standard format [A&D EJ/GC manuals "Data format"; AD-4329A §12.1.2]:
 *   `ST,+00123.45  g` (balances: header, 9-char data, 3-char unit) and indicators with a second
 *   header `ST,NT,+0012.34kg`. Header 1: ST stable, US unstable, OL out of range, QT stable count.
 *   Header 2: GS/G␣ gross, NT/N␣ net, TR/T␣ tare, PT preset tare, LO/OK/HI/-- comparator result.
 *   The CSV variant `ST,+0001.278, ct` (comma before the unit) is accepted too.
 * - Generic / KERN / Liden `ST,GS,+0012.34kg`, `ST,GS,  18.000kg` (same grammar).
 * - CAS 22-byte format [CAS CI-400 manual, Appendix 1; CI-600D §10-1]:
 *   `ST,GS,<id><lamp>,<8 data>␣kg` where the lamp byte has b7 = 1, b6 stable, b4 hold, b3 print,
 *   b2 gross, b1 tare, b0 zero point.
 * - Ohaus [Explorer "Interface" output format; Defender 3000 §5.2; Ranger RC §5.1.4]:
 *   `<weight, right-justified> <unit> <'?' if unstable> <G|N|NET|T|PT|B/G>`.
 * - Yaohua XK3190-A12(E) and Liden "continuous output A" lines:
 *   `ww0000.000kg` / `wn...` / `wt...` (gross / net / tare, no stability flag), and the A12(E)
 *   15-byte format `WG004.139kg3D` with an XOR check of bytes 1-11 sent as two hex characters,
 *   `␣×9 OL23` overload and `␣×9 LO23` underload [XK3190-A12(E) manual, communication mode].
 *
 * Comma decimal points (A&D CF-010 = 2/3) are not supported: the comma is the field separator.
 */
import { LineScaleParser, type LineScaleParserOptions } from './scale-parser.js';
import type { ScaleFrame, TareFrame, WeightFrame } from './scale-frame.js';
import { isCountUnit, parseDecimal, toKg } from './units.js';
import { xk3190Check } from './xk3190.js';

/** Header 1 (A&D and followers): ST stable, US unstable, OL out of range, QT stable count. */
const HEADER_LINE = /^(ST|US|OL|QT)\s*,\s*(?:(GS|NT|TR|PT|G |N |T |LO|OK|HI|--)\s*,\s*)?(.*)$/;
/** Data and unit after the headers: sign, number, optional comma (CSV variant), unit. */
const DATA_UNIT = /^([+-]?)\s*([\d.]+)\s*,?\s*([A-Za-z%]*)\s*$/;
/** Ohaus: weight, unit, '?' when unstable, legend. */
const OHAUS_LINE = /^\s*([+-]?)\s*([\d.]+)\s+([A-Za-z%]+)(?:\s*(\?))?(?:\s*(GROSS|NET|PT|B\/G|G|N|T))?(?:\s+\d{2}:\d{2}:\d{2})?\s*$/;
/** XK3190-A12 / Liden `ww` lines. */
const W_LINE = /^w([wnt])(-?[\d.]+)(kg|lb)$/;
/** XK3190-A12(E) 15-byte line (CR LF removed): W, G|N, 7-char weight, kg, XOR hex. */
const A12E_LINE = /^W([GN])(.{7})(kg)([0-9A-F]{2})$/;
const A12E_LIMIT = /^ {9}(OL|LO)([0-9A-F]{2})$/;

interface Reading {
  stable: boolean | undefined;
  /** true net, false gross, undefined unknown. */
  net?: boolean;
  tare?: 'weighed' | 'preset';
  sign: string;
  number: string;
  unit: string;
  deviceId?: string;
}

/** Build the frame for one reading; undefined when the number does not parse. */
function readingFrame(r: Reading): ScaleFrame | undefined {
  const num = parseDecimal(`${r.sign}${r.number}`);
  if (!num) return undefined;
  if (isCountUnit(r.unit)) {
    if (num.decimals !== 0) return undefined;
    return { kind: 'count', count: num.value, unit: r.unit, stable: r.stable ?? false };
  }
  const kg = toKg(num.value, r.unit, num.decimals);
  if (r.tare) {
    const frame: TareFrame = { kind: 'tare', tare: num.value, unit: r.unit };
    if (kg !== undefined) frame.tareKg = kg;
    if (r.stable !== undefined) frame.stable = r.stable;
    if (r.tare === 'preset') frame.preset = true;
    if (r.deviceId !== undefined) frame.deviceId = r.deviceId;
    return frame;
  }
  const frame: WeightFrame = { kind: 'weight', weight: num.value, unit: r.unit };
  if (kg !== undefined) frame.weightKg = kg;
  if (r.stable !== undefined) frame.stable = r.stable;
  if (r.net !== undefined) frame.net = r.net;
  if (r.deviceId !== undefined) frame.deviceId = r.deviceId;
  return frame;
}

/** Header 2 → net flag / tare kind. */
function header2(h2: string | undefined): Pick<Reading, 'net' | 'tare'> {
  switch (h2?.trim()) {
    case 'GS':
    case 'G':
      return { net: false };
    case 'NT':
    case 'N':
      return { net: true };
    case 'TR':
    case 'T':
      return { tare: 'weighed' };
    case 'PT':
      return { tare: 'preset' };
    default:
      return {}; // no header 2, or a comparator result (LO/OK/HI/--)
  }
}

/** CAS 22-byte line (20 characters without CR LF). */
export function parseCasLine(line: string): ScaleFrame | undefined {
  if (line.length !== 20 || line[2] !== ',' || line[5] !== ',' || line[8] !== ',' || line[17] !== ' ') return undefined;
  const lamp = line.charCodeAt(7);
  if (!(lamp & 0x80)) return undefined;
  const h1 = line.slice(0, 2);
  const h2 = line.slice(3, 5);
  if (!/^(ST|US|OL)$/.test(h1) || !/^(GS|NT)$/.test(h2)) return undefined;
  const data = line.slice(9, 17);
  if (h1 === 'OL') return { kind: 'status', status: data.includes('-') ? 'underload' : 'overload' };
  const m = /^\s*([+-]?)\s*([\d.]+)$/.exec(data);
  if (!m) return undefined;
  return readingFrame({
    stable: h1 === 'ST',
    ...header2(h2),
    sign: m[1]!,
    number: m[2]!,
    unit: line.slice(18).trim(),
    deviceId: line[6],
  });
}

/** A&D / generic header line: `ST,GS,+0012.34kg`, `ST,+00123.45  g`, `QT,+00001234 PC`, `OL,...`. */
export function parseHeaderLine(line: string): ScaleFrame | undefined {
  const m = HEADER_LINE.exec(line);
  if (!m) return undefined;
  const h1 = m[1]!;
  const rest = m[3]!.trim();
  if (h1 === 'OL') return { kind: 'status', status: rest.startsWith('-') ? 'underload' : 'overload' };
  const d = DATA_UNIT.exec(rest);
  if (!d) return undefined;
  const unit = h1 === 'QT' && d[3] === '' ? 'PC' : d[3]!;
  return readingFrame({ stable: h1 !== 'US', ...header2(m[2]), sign: d[1]!, number: d[2]!, unit });
}

/** Ohaus line: `    192.21 g`, `      0.01 g ?`, `-    12.34 kg ? NET`. */
export function parseOhausLine(line: string): ScaleFrame | undefined {
  const m = OHAUS_LINE.exec(line);
  if (!m) return undefined;
  const legend = m[5];
  const stable = m[4] !== '?';
  let role: Pick<Reading, 'net' | 'tare'> = {};
  if (legend === 'NET' || legend === 'N') role = { net: true };
  else if (legend === 'G' || legend === 'GROSS' || legend === 'B/G') role = { net: false };
  else if (legend === 'T') role = { tare: 'weighed' };
  else if (legend === 'PT') role = { tare: 'preset' };
  return readingFrame({ stable, ...role, sign: m[1]!, number: m[2]!, unit: m[3]! });
}

/** XK3190-A12 / Liden `ww`, `wn`, `wt` lines and the A12(E) checked `WG`/`WN` line. */
export function parseYaohuaLine(line: string): ScaleFrame | undefined {
  const w = W_LINE.exec(line);
  if (w) {
    const role = w[1] === 'w' ? { net: false } : w[1] === 'n' ? { net: true } : { tare: 'weighed' as const };
    return readingFrame({ stable: undefined, ...role, sign: '', number: w[2]!, unit: w[3]! });
  }
  const limit = A12E_LIMIT.exec(line);
  if (limit) {
    if (!checkA12(line)) return undefined;
    return { kind: 'status', status: limit[1] === 'OL' ? 'overload' : 'underload' };
  }
  const a = A12E_LINE.exec(line);
  if (!a || !checkA12(line)) return undefined;
  const d = /^\s*(-?)\s*([\d.]+)\s*$/.exec(a[2]!);
  if (!d) return undefined;
  return readingFrame({ stable: undefined, net: a[1] === 'N', sign: d[1]!, number: d[2]!, unit: a[3]! });
}

/** XK3190-A12(E): XOR of characters 1-11 equals the two hex characters 12-13. */
function checkA12(line: string): boolean {
  const body = Array.from(line.slice(0, 11), (c) => c.charCodeAt(0));
  const [xh, xl] = xk3190Check(body);
  return line.charCodeAt(11) === xh && line.charCodeAt(12) === xl;
}

/**
 * Decode one ASCII scale line (terminator removed, latin1). Tries CAS 22-byte, the A&D header
 * grammar, the Yaohua/Liden `w` lines, then Ohaus. Returns undefined if none fits. Never throws.
 */
export function parseAsciiLine(line: string): ScaleFrame | undefined {
  return parseCasLine(line) ?? parseHeaderLine(line) ?? parseYaohuaLine(line) ?? parseOhausLine(line);
}

/** Byte-stream parser for the ASCII line formats above. */
export class AsciiScaleParser extends LineScaleParser {
  constructor(opts: LineScaleParserOptions = {}) {
    super(opts);
  }

  protected parseLine(line: string): ScaleFrame | undefined {
    return parseAsciiLine(line);
  }
}
