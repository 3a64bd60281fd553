/**
 * Encoders: the inverse of the parsers, for simulators and round-trip tests. Each takes the same
 * {@link ScaleFrame} a parser returns, plus what the frame does not say (decimals, format
 * variant), and produces the bytes a real device sends. Frame layouts and sources are in the
 * parser modules (mt-sics.ts, toledo.ts, ascii.ts, xk3190.ts).
 *
 * Encoders throw ProtocolError (SG_ERR_PROTO_RANGE / SG_ERR_PROTO_ARGUMENT) when a value cannot
 * be represented (7 digits for a 6-digit field, a unit Toledo cannot flag, ...).
 */
import { ProtocolError } from '../errors.js';
import type { ScaleFrame, StatusFrame, TareFrame, WeightFrame, AckFrame } from './scale-frame.js';
import { toledoChecksum } from './toledo.js';
import { xk3190Check } from './xk3190.js';
import { decimalsOf } from './units.js';

const latin1 = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'latin1'));
const line = (s: string): Uint8Array => latin1(`${s}\r\n`);

/** The value as text with `decimals` places (negative = dummy zeros, printed as an integer). */
function fixed(value: number, decimals: number): string {
  return Math.abs(value).toFixed(Math.max(0, decimals));
}

function requireDecimals(decimals: number, max: number, what: string): void {
  if (!Number.isInteger(decimals) || decimals < 0 || decimals > max) {
    throw new ProtocolError('SG_ERR_PROTO_RANGE', `${what}: decimals must be an integer 0..${max}, got ${decimals}`);
  }
}

/** Decimals from the option, else from the number itself. */
function decimalsFor(value: number, opt: number | undefined): number {
  return opt ?? decimalsOf(value);
}

// ---------------------------------------------------------------- MT-SICS

/** Options of {@link encodeMtSics}. */
export interface MtSicsEncodeOptions {
  /** Decimals of the weight/tare value. Default: as many as the number has. */
  decimals?: number;
}

const MT_STATUS_CHAR: Partial<Record<StatusFrame['status'], string>> = {
  overload: '+',
  underload: '-',
  'not-executable': 'I',
  'logic-error': 'L',
};

const MT_GENERAL: Partial<Record<StatusFrame['status'], string>> = {
  'syntax-error': 'ES',
  'transmission-error': 'ET',
  'logic-error': 'EL',
};

const quote = (v: string): string => `"${v}"`;

/** One MT-SICS reply line with CR LF [MT-SICS 2.1.2]; the weight is right-aligned in 10 characters. */
export function encodeMtSics(frame: ScaleFrame, opts: MtSicsEncodeOptions = {}): Uint8Array {
  switch (frame.kind) {
    case 'weight': {
      const text = (frame.weight < 0 ? '-' : '') + fixed(frame.weight, decimalsFor(frame.weight, opts.decimals));
      return line(`S ${frame.stable === false ? 'D' : 'S'} ${text.padStart(10)} ${frame.unit}`);
    }
    case 'count':
      return line(`S ${frame.stable ? 'S' : 'D'} ${String(frame.count).padStart(10)} ${frame.unit}`);
    case 'tare': {
      const text = (frame.tare < 0 ? '-' : '') + fixed(frame.tare, decimalsFor(frame.tare, opts.decimals));
      const head = frame.preset ? 'TA A' : frame.stable === false ? 'TI D' : 'T S';
      return line(`${head} ${text.padStart(10)} ${frame.unit}`);
    }
    case 'status': {
      const general = MT_GENERAL[frame.status];
      if (general && (frame.command === undefined || frame.status !== 'logic-error')) return line(general);
      return line(`${frame.command ?? 'S'} ${MT_STATUS_CHAR[frame.status]}`);
    }
    case 'ack':
      if (frame.stable !== undefined) return line(`${frame.command} ${frame.stable ? 'S' : 'D'}`);
      return line(`${frame.command} A`);
    case 'info':
      return line([frame.command, frame.more ? 'B' : 'A', ...frame.values.map(quote)].join(' '));
    case 'reply':
      return line([frame.command, frame.status, ...frame.values.map((v) => (/^[^\s"]+$/.test(v) ? v : quote(v)))].join(' '));
  }
}

// ---------------------------------------------------------------- Toledo continuous

/** Options of {@link encodeToledo}. */
export interface ToledoEncodeOptions {
  /**
   * Decimals -2..5 (-2 = XXXX00, -1 = XXXXX0 dummy zeros). Default: from `frame.division` when
   * present, else the decimals of the weight.
   */
  decimals?: number;
  /** Increment multiplier (SWA bits 3-4). Default: from `frame.division`, else 1. */
  increment?: 1 | 2 | 5;
  /** Append the checksum byte. Default true. */
  checksum?: boolean;
  /** Set SWC bit 3 (print request). Default false. */
  printRequest?: boolean;
}

/** Split a division into increment × 10^-decimals (0.05 -> 5 and 2; 20 -> 2 and -1). */
export function splitDivision(division: number): { increment: 1 | 2 | 5; decimals: number } | undefined {
  for (let decimals = -2; decimals <= 5; decimals++) {
    for (const increment of [1, 2, 5] as const) {
      if (Math.abs(increment * 10 ** -decimals - division) < 1e-9 * Math.max(1, division)) return { increment, decimals };
    }
  }
  return undefined;
}

/** One Toledo continuous frame: STX SWA SWB SWC weight(6) tare(6) CR [CHK] [Toledo T6-9..T6-11]. */
export function encodeToledo(frame: WeightFrame | StatusFrame, opts: ToledoEncodeOptions = {}): Uint8Array {
  let swb = 0x20;
  let swa = 0x20;
  let swc = 0x20 | (opts.printRequest ? 0x08 : 0);
  let weightDigits = '000000';
  let tareDigits = '000000';
  if (frame.kind === 'status') {
    if (frame.status !== 'overload' && frame.status !== 'underload') {
      throw new ProtocolError('SG_ERR_PROTO_ARGUMENT', `Toledo continuous output cannot carry status '${frame.status}'`);
    }
    swa |= 0x08 | 0x02;
    swb |= 0x10 | 0x04 | (frame.status === 'underload' ? 0x02 : 0);
  } else {
    const fromDivision = frame.division !== undefined ? splitDivision(frame.division) : undefined;
    const decimals = opts.decimals ?? fromDivision?.decimals ?? decimalsOf(frame.weight);
    const increment = opts.increment ?? fromDivision?.increment ?? 1;
    if (!Number.isInteger(decimals) || decimals < -2 || decimals > 5) {
      throw new ProtocolError('SG_ERR_PROTO_RANGE', `Toledo: decimals must be an integer -2..5, got ${decimals}`);
    }
    const unit = frame.unit;
    if (unit !== 'kg' && unit !== 'lb' && unit !== 'g') {
      throw new ProtocolError('SG_ERR_PROTO_ARGUMENT', `Toledo status words flag only kg, lb or g, not '${unit}'`);
    }
    const digits = (v: number, field: string): string => {
      const n = Math.round(Math.abs(v) * 10 ** Math.max(0, decimals));
      if (n > 999999) throw new ProtocolError('SG_ERR_PROTO_RANGE', `Toledo: ${field} ${v} does not fit 6 digits at ${decimals} decimals`);
      return String(n).padStart(6, '0');
    };
    weightDigits = digits(frame.weight, 'weight');
    tareDigits = digits(frame.tare ?? 0, 'tare');
    swa |= (decimals + 2) | ((increment === 1 ? 1 : increment === 2 ? 2 : 3) << 3);
    swb |= (frame.net ? 0x01 : 0) | (frame.weight < 0 ? 0x02 : 0) | (frame.stable === false ? 0x08 : 0) | (unit === 'kg' ? 0x10 : 0);
    swc |= unit === 'g' ? 0x01 : 0;
  }
  const body = [0x02, swa, swb, swc, ...latin1(weightDigits + tareDigits), 0x0d];
  if (opts.checksum ?? true) body.push(toledoChecksum(body));
  return Uint8Array.from(body);
}

// ---------------------------------------------------------------- ASCII line formats

/** The ASCII line variants {@link encodeAscii} writes (see ascii.ts for each layout). */
export type AsciiFormat = 'and' | 'generic' | 'cas' | 'ohaus' | 'yaohua-w' | 'a12e';

/** Options of {@link encodeAscii}. */
export interface AsciiEncodeOptions {
  /** Decimals of the value. Default: as many as the number has. */
  decimals?: number;
  /** CAS device ID character. Default: `frame.deviceId`, else '1'. */
  deviceId?: string;
}

function signed(value: number, decimals: number, width: number, plus = '+'): string {
  const body = fixed(value, decimals);
  return (value < 0 ? '-' : plus) + body.padStart(width - 1, '0');
}

function asciiHeaders(frame: WeightFrame | TareFrame): { h1: string; h2: string | undefined } {
  const h1 = frame.stable === false ? 'US' : 'ST';
  if (frame.kind === 'tare') return { h1, h2: frame.preset ? 'PT' : 'TR' };
  return { h1, h2: frame.net === undefined ? undefined : frame.net ? 'NT' : 'GS' };
}

/** One ASCII line with CR LF in the chosen format. */
export function encodeAscii(frame: ScaleFrame, format: AsciiFormat, opts: AsciiEncodeOptions = {}): Uint8Array {
  if (frame.kind === 'ack' || frame.kind === 'info' || frame.kind === 'reply') {
    throw new ProtocolError('SG_ERR_PROTO_ARGUMENT', `ASCII scale formats carry no '${frame.kind}' frames`);
  }
  switch (format) {
    case 'and':
    case 'generic':
      return line(encodeHeaderLine(frame, format, opts));
    case 'cas':
      return line(encodeCasLine(frame, opts));
    case 'ohaus':
      return line(encodeOhausLine(frame, opts));
    case 'yaohua-w':
      return line(encodeWLine(frame, opts));
    case 'a12e':
      return line(encodeA12eLine(frame, opts));
  }
}

function encodeHeaderLine(frame: Exclude<ScaleFrame, AckFrame | { kind: 'info' } | { kind: 'reply' }>, format: 'and' | 'generic', opts: AsciiEncodeOptions): string {
  const and = format === 'and';
  if (frame.kind === 'status') {
    if (frame.status !== 'overload' && frame.status !== 'underload') {
      throw new ProtocolError('SG_ERR_PROTO_ARGUMENT', `A&D format cannot carry status '${frame.status}'`);
    }
    // [A&D CSV example] `OL,+9999999E+19`: only the header and the sign matter.
    return `OL,${frame.status === 'underload' ? '-' : '+'}9999999E+19`;
  }
  if (frame.kind === 'count') {
    return `${frame.stable ? 'QT' : 'US'},${signed(frame.count, 0, 9)}${frame.unit.padStart(3)}`;
  }
  const value = frame.kind === 'tare' ? frame.tare : frame.weight;
  const d = decimalsFor(value, opts.decimals);
  const { h1, h2 } = asciiHeaders(frame);
  if (and) return `${h1},${h2 ? `${h2},` : ''}${signed(value, d, 9)}${frame.unit.padStart(3)}`;
  return `${h1},${h2 ?? 'GS'},${signed(value, d, 8)}${frame.unit}`;
}

function encodeCasLine(frame: ScaleFrame, opts: AsciiEncodeOptions): string {
  const id = opts.deviceId ?? ('deviceId' in frame ? frame.deviceId : undefined) ?? '1';
  if (id.length !== 1) throw new ProtocolError('SG_ERR_PROTO_ARGUMENT', `CAS device ID must be one character, got '${id}'`);
  if (frame.kind === 'status') {
    if (frame.status !== 'overload' && frame.status !== 'underload') {
      throw new ProtocolError('SG_ERR_PROTO_ARGUMENT', `CAS format cannot carry status '${frame.status}'`);
    }
    return `OL,GS,${id}${String.fromCharCode(0xa0)},${frame.status === 'underload' ? '-9999999' : '99999999'} kg`;
  }
  if (frame.kind !== 'weight') throw new ProtocolError('SG_ERR_PROTO_ARGUMENT', `CAS format carries weights only, not '${frame.kind}'`);
  const d = decimalsFor(frame.weight, opts.decimals);
  const data = frame.weight < 0 ? `-${fixed(frame.weight, d).padStart(7, '0')}` : fixed(frame.weight, d).padStart(8, '0');
  if (data.length !== 8) throw new ProtocolError('SG_ERR_PROTO_RANGE', `CAS: weight ${frame.weight} does not fit 8 characters`);
  // [CAS CI-400 App. 1] lamp byte: b7 = 1, b6 stable, b5 = 1, b2 gross, b1 tare (net shown), b0 zero.
  const lamp =
    0x80 | 0x20 | (frame.stable !== false ? 0x40 : 0) | (frame.net ? 0x02 : 0x04) | (frame.weight === 0 ? 0x01 : 0);
  const h1 = frame.stable === false ? 'US' : 'ST';
  return `${h1},${frame.net ? 'NT' : 'GS'},${id}${String.fromCharCode(lamp)},${data} ${frame.unit.padStart(2)}`;
}

function encodeOhausLine(frame: ScaleFrame, opts: AsciiEncodeOptions): string {
  let value: number;
  let legend = '';
  let stable: boolean | undefined;
  let decimals = opts.decimals;
  if (frame.kind === 'weight') {
    value = frame.weight;
    legend = frame.net === undefined ? '' : frame.net ? 'NET' : 'G';
    stable = frame.stable;
  } else if (frame.kind === 'tare') {
    value = frame.tare;
    legend = frame.preset ? 'PT' : 'T';
    stable = frame.stable;
  } else if (frame.kind === 'count') {
    value = frame.count;
    stable = frame.stable;
    decimals = 0;
  } else {
    throw new ProtocolError('SG_ERR_PROTO_ARGUMENT', `Ohaus format cannot carry status '${(frame as StatusFrame).status}'`);
  }
  // [Ohaus Explorer] weight 10 right-justified, space, unit 5 left-justified, space, '?', space, legend.
  const text = (value < 0 ? '-' : '') + fixed(value, decimalsFor(value, decimals));
  return `${text.padStart(10)} ${frame.unit.padEnd(5)} ${stable === false ? '?' : ' '} ${legend}`.trimEnd();
}

function encodeWLine(frame: ScaleFrame, opts: AsciiEncodeOptions): string {
  if (frame.kind !== 'weight' && frame.kind !== 'tare') {
    throw new ProtocolError('SG_ERR_PROTO_ARGUMENT', `'w' format carries weights and tares only, not '${frame.kind}'`);
  }
  const value = frame.kind === 'tare' ? frame.tare : frame.weight;
  const kind = frame.kind === 'tare' ? 't' : frame.net ? 'n' : 'w';
  const d = decimalsFor(value, opts.decimals);
  // [Liden LUW2001 App. 1] nine characters including the point and the sign: ww00015.000kg, ww-0015.000kg.
  const abs = fixed(value, d);
  return `w${kind}${value < 0 ? `-${abs.padStart(8, '0')}` : abs.padStart(9, '0')}${frame.unit}`;
}

function encodeA12eLine(frame: ScaleFrame, opts: AsciiEncodeOptions): string {
  let body: string;
  if (frame.kind === 'status') {
    if (frame.status !== 'overload' && frame.status !== 'underload') {
      throw new ProtocolError('SG_ERR_PROTO_ARGUMENT', `XK3190-A12(E) format cannot carry status '${frame.status}'`);
    }
    body = `${' '.repeat(9)}${frame.status === 'overload' ? 'OL' : 'LO'}`;
  } else if (frame.kind === 'weight') {
    const d = decimalsFor(frame.weight, opts.decimals);
    // Seven characters including the point; with no decimals the seventh is blank.
    const width = d === 0 ? 6 : 7;
    const abs = fixed(frame.weight, d);
    let text = frame.weight < 0 ? `-${abs.padStart(width - 1, '0')}` : abs.padStart(width, '0');
    if (d === 0) text += ' ';
    if (text.length !== 7) throw new ProtocolError('SG_ERR_PROTO_RANGE', `XK3190-A12(E): weight ${frame.weight} does not fit 7 characters`);
    body = `W${frame.net ? 'N' : 'G'}${text}kg`;
  } else {
    throw new ProtocolError('SG_ERR_PROTO_ARGUMENT', `XK3190-A12(E) format carries weights only, not '${frame.kind}'`);
  }
  const [xh, xl] = xk3190Check(Array.from(body, (c) => c.charCodeAt(0)));
  return body + String.fromCharCode(xh, xl);
}

// ---------------------------------------------------------------- XK3190

/** Options of the XK3190 encoders. */
export interface Xk3190EncodeOptions {
  /** Decimals 0..4 (STX frames) or as printed ('=' frames). Default: as many as the number has. */
  decimals?: number;
}

/** Sign, six digits, decimals digit (the data of tF=0 frames and of replies B/C/D). */
function xkData(value: number, decimals: number): number[] {
  requireDecimals(decimals, 4, 'XK3190');
  const n = Math.round(Math.abs(value) * 10 ** decimals);
  if (n > 999999) throw new ProtocolError('SG_ERR_PROTO_RANGE', `XK3190: ${value} does not fit 6 digits at ${decimals} decimals`);
  return Array.from(latin1(`${value < 0 ? '-' : '+'}${String(n).padStart(6, '0')}${decimals}`));
}

/**
 * An XK3190 continuous frame: `'stx'` = tF=0 (`STX sign 6 digits dp XH XL ETX`),
 * `'reversed'` = the '=' stream (display string reversed, then '0' or '-').
 */
export function encodeXk3190(frame: WeightFrame, format: 'stx' | 'reversed', opts: Xk3190EncodeOptions = {}): Uint8Array {
  const d = decimalsFor(frame.weight, opts.decimals);
  if (format === 'stx') {
    const data = xkData(frame.weight, d);
    return Uint8Array.from([0x02, ...data, ...xk3190Check(data), 0x03]);
  }
  const text = fixed(frame.weight, d).padStart(7, '0');
  if (text.length !== 7) throw new ProtocolError('SG_ERR_PROTO_RANGE', `XK3190 '=' format: ${frame.weight} does not fit 7 characters`);
  return latin1(`=${[...text].reverse().join('')}${frame.weight < 0 ? '-' : '0'}`);
}

/**
 * An XK3190 reply in the order method (tF=1): handshake (ack, command A), gross (weight,
 * command B), tare (command C) or net (weight with `net: true`, command D).
 * @param address 'A'..'Z'; default `frame.deviceId`, else 'A'.
 */
export function encodeXk3190Reply(frame: WeightFrame | TareFrame | AckFrame, address?: string, opts: Xk3190EncodeOptions = {}): Uint8Array {
  const addr = address ?? frame.deviceId ?? 'A';
  if (!/^[A-Z]$/.test(addr)) throw new ProtocolError('SG_ERR_PROTO_ARGUMENT', `XK3190 address must be one letter A-Z, got '${addr}'`);
  let body: number[];
  if (frame.kind === 'ack') body = [addr.charCodeAt(0), 0x41];
  else {
    const value = frame.kind === 'tare' ? frame.tare : frame.weight;
    const cmd = frame.kind === 'tare' ? 0x43 : frame.net ? 0x44 : 0x42;
    body = [addr.charCodeAt(0), cmd, ...xkData(value, decimalsFor(value, opts.decimals))];
  }
  return Uint8Array.from([0x02, ...body, ...xk3190Check(body), 0x03]);
}
