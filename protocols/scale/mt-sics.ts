/**
 * Mettler Toledo MT-SICS replies (Standard Interface Command Set), as sent by MT balances, weigh
 * modules and terminals. Source: "MT-SICS Interface Command for Weigh Modules, Reference Manual"
 * (MT 11781363): [MT-SICS 2.1.2.1] responses with a weight value, [MT-SICS 2.1.2.2] responses
 * without, [MT-SICS 2.1.3.2] general errors, and the command pages S, SI, SIR, Z, ZI, T, TI, TA,
 * TAC, @, I0-I5 in chapter 3. Cross-checked with Atlantis-Software/mt-sics `lib/constants.js`.
 *
 *     ID ␣ Status ␣ WeightValue ␣ Unit CR LF      e.g.  S S     100.00 g
 *     ID ␣ Status [␣ Parameters] CR LF            e.g.  Z A      I4 A "0123456789"
 *     ES | ET | EL CR LF                          general errors
 *
 * The weight value is right-aligned in 10 characters, so fields are split on runs of spaces.
 * Note (from device-protocols.md): the replies to SI and SIR are `S S|D ...`, not `SI ...`.
 */
import { LineScaleParser, type LineScaleParserOptions } from './scale-parser.js';
import type { InfoFrame, ScaleFrame, ScaleStatus, TareFrame, WeightFrame } from './scale-frame.js';
import { isCountUnit, parseDecimal, toKg } from './units.js';

/** Reply IDs whose `S`/`D` status carries a weight: S, SI, SIR (all reply `S`) and their unit variants. */
const WEIGHT_IDS = new Set(['S', 'SU', 'SI', 'SIU', 'SIR', 'SIRU', 'SNR', 'SNRU', 'SR', 'SRU']);
/** Reply IDs that carry a tare value: T (`T S`), TI (`TI S|D`), TA (`TA A`, preset tare). */
const TARE_IDS = new Set(['T', 'TI', 'TA']);

/** [MT-SICS 2.1.3.1] command-specific status characters that mean "no result". */
const STATUS_CHARS: Record<string, ScaleStatus> = {
  I: 'not-executable',
  '+': 'overload',
  '-': 'underload',
  L: 'logic-error',
};

/** [MT-SICS 2.1.3.2] general error replies. */
const GENERAL_ERRORS: Record<string, ScaleStatus> = {
  ES: 'syntax-error',
  ET: 'transmission-error',
  EL: 'logic-error',
};

/** Split an MT-SICS line into tokens: runs of non-spaces, or "quoted text" (quotes removed). */
export function tokenizeMtSics(line: string): string[] | undefined {
  const tokens: string[] = [];
  const re = /\s*(?:"([^"]*)"|([^\s"]+))/gy;
  let m: RegExpExecArray | null;
  let pos = 0;
  while ((m = re.exec(line))) {
    tokens.push(m[1] ?? m[2]!);
    pos = re.lastIndex;
  }
  // Anything left but spaces is an unterminated quote: not a well-formed reply.
  if (line.slice(pos).trim() !== '') return undefined;
  return tokens;
}

/**
 * Decode one MT-SICS reply line (without CR LF). Returns undefined for a line that is not a
 * well-formed reply (the parser counts it as a dropped frame). Pure; never throws.
 */
export function parseMtSicsLine(line: string): ScaleFrame | undefined {
  const tokens = tokenizeMtSics(line);
  if (!tokens || tokens.length === 0) return undefined;
  const id = tokens[0]!;
  if (!/^[A-Z][A-Z0-9]*$/.test(id)) return undefined;
  if (tokens.length === 1) {
    const status = GENERAL_ERRORS[id];
    return status ? { kind: 'status', status } : undefined;
  }
  const st = tokens[1]!;
  const params = tokens.slice(2);
  if (!/^[A-Z+-]$/.test(st)) return undefined;

  const status = STATUS_CHARS[st];
  if (status) return params.length === 0 ? { kind: 'status', status, command: id } : undefined;

  if (WEIGHT_IDS.has(id) && (st === 'S' || st === 'D')) return weightReply(params, st === 'S');
  if (TARE_IDS.has(id) && (st === 'S' || st === 'D' || st === 'A')) return tareReply(st, params);
  if (/^I\d+$/.test(id) && (st === 'A' || st === 'B')) {
    const frame: InfoFrame = { kind: 'info', command: id, values: params };
    if (st === 'B') frame.more = true;
    if (id === 'I4' && st === 'A' && params.length > 0) frame.serialNumber = params[0];
    return frame;
  }
  if (id === 'ZI' && (st === 'S' || st === 'D') && params.length === 0) {
    return { kind: 'ack', command: 'ZI', stable: st === 'S' };
  }
  if (st === 'A' && params.length === 0) return { kind: 'ack', command: id };
  return { kind: 'reply', command: id, status: st, values: params };
}

/** `S S|D <weight> <unit>` [MT-SICS 2.1.2.1]. */
function weightReply(params: string[], stable: boolean): ScaleFrame | undefined {
  if (params.length !== 2) return undefined;
  const num = parseDecimal(params[0]!);
  const unit = params[1]!;
  if (!num) return undefined;
  if (isCountUnit(unit)) {
    if (num.decimals !== 0) return undefined;
    return { kind: 'count', count: num.value, unit, stable };
  }
  // Key order kind, weight, unit, weightKg, stable: the JSON the CLI prints reads in that order.
  const frame: WeightFrame = { kind: 'weight', weight: num.value, unit, weightKg: toKg(num.value, unit, num.decimals), stable };
  if (frame.weightKg === undefined) delete frame.weightKg;
  return frame;
}

/** `T S <tare> <unit>`, `TI S|D <tare> <unit>`, `TA A <tare> <unit>`. */
function tareReply(st: string, params: string[]): ScaleFrame | undefined {
  if (params.length !== 2) return undefined;
  const num = parseDecimal(params[0]!);
  if (!num) return undefined;
  const unit = params[1]!;
  const frame: TareFrame = { kind: 'tare', tare: num.value, unit };
  const kg = toKg(num.value, unit, num.decimals);
  if (kg !== undefined) frame.tareKg = kg;
  if (st === 'A') frame.preset = true;
  else frame.stable = st === 'S';
  return frame;
}

/**
 * Byte-stream parser for MT-SICS replies ([MT-SICS 2.1]: every line ends CR LF). Also accepts CR
 * or LF alone, which some terminals are configured to send.
 */
export class MtSicsParser extends LineScaleParser {
  constructor(opts: LineScaleParserOptions = {}) {
    super(opts);
  }

  protected parseLine(line: string): ScaleFrame | undefined {
    return parseMtSicsLine(line);
  }
}
