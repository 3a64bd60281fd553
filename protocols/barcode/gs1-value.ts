/**
 * Validation of one AI's data field against its format: length, character set, check digit and
 * date/time rules; and the typed value it carries (a number for measures and counts, an ISO date
 * for dates).
 */
import { ProtocolError } from '../errors.js';
import { gs1CheckDigit } from './check-digit.js';
import { decodeYymmdd } from './gs1-date.js';
import type { Gs1AiSpec, Gs1CharSet, Gs1Component } from './gs1-ai-table.js';

/** GS1 AI encodable character set 82 [GS1 GenSpecs 7.11, Figure 7.11-1]. */
const CSET82 = /^[!"%&'()*+,\-./0-9:;<=>?A-Z_a-z]$/;
/** Character set 39 [GenSpecs 7.11, Figure 7.11-2]. */
const CSET39 = /^[#\-/0-9A-Z]$/;
/** Character set 64, file-safe base64 plus `=` padding [GenSpecs 7.11, Figure 7.11-3]. */
const CSET64 = /^[A-Za-z0-9\-_=]$/;

const CSET: Record<Gs1CharSet, { re: RegExp; name: string }> = {
  N: { re: /^[0-9]$/, name: 'numeric (digits only)' },
  X: { re: CSET82, name: 'GS1 AI encodable character set 82' },
  Y: { re: CSET39, name: 'GS1 character set 39' },
  Z: { re: CSET64, name: 'GS1 character set 64' },
};

/** Where a value sits, for error messages: its index in the input, when there is one. */
export interface ValueLocation {
  /** 0-based index of the value's first character in the caller's input string. */
  index?: number;
}

/** Options of {@link checkValue}. */
export interface CheckValueOptions extends ValueLocation {
  /** Reference time for the century window of dates [GenSpecs 7.12]. */
  now: Date;
}

/**
 * Validate `raw` as the data field of `spec`; returns the typed value it carries, if any
 * (`number` for measures, amounts and counts; ISO `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM` for dates).
 * Throws ProtocolError: SG_ERR_PROTO_SYNTAX (length, character set), SG_ERR_PROTO_CHECK (check
 * digit), SG_ERR_PROTO_RANGE (impossible date or time).
 */
export function checkValue(spec: Gs1AiSpec, raw: string, opts: CheckValueOptions): string | number | undefined {
  const at = (offset: number): string =>
    opts.index === undefined ? `at position ${offset + 1} of the value` : `at index ${opts.index + offset}`;
  if (raw.length < spec.minLength || raw.length > spec.maxLength) {
    const need = spec.fixed ? `exactly ${spec.maxLength}` : `${spec.minLength} to ${spec.maxLength}`;
    const hint = raw.length > spec.maxLength && !spec.fixed ? ' (a missing GS separator?)' : '';
    throw new ProtocolError(
      'SG_ERR_PROTO_SYNTAX',
      `AI ${spec.ai} (${spec.title}): value '${raw}' has ${raw.length} characters, needs ${need}${hint}`,
    );
  }
  const parts = splitComponents(spec.components, raw);
  let offset = 0;
  for (let k = 0; k < parts.length; k++) {
    const part = parts[k]!;
    const comp = spec.components[k]!;
    const cs = CSET[comp.cset];
    for (let i = 0; i < part.length; i++) {
      if (!cs.re.test(part[i]!)) {
        const code = part.charCodeAt(i).toString(16).toUpperCase().padStart(2, '0');
        throw new ProtocolError(
          'SG_ERR_PROTO_SYNTAX',
          `AI ${spec.ai} (${spec.title}): character ${JSON.stringify(part[i])} (0x${code}) ${at(offset + i)} is not in ${cs.name}`,
        );
      }
    }
    checkRule(spec, comp, part, offset, at, opts.now);
    offset += part.length;
  }
  return typedValue(spec, parts, opts.now);
}

/**
 * Split a value into its components. Only the last component of any AI is variable or optional
 * [GenSpecs 3.2], so the fixed ones are taken in order and the last one gets the rest. The caller
 * has checked the total length, so the rest always fits.
 */
function splitComponents(components: Gs1Component[], raw: string): string[] {
  const parts: string[] = [];
  let pos = 0;
  for (let k = 0; k < components.length; k++) {
    const c = components[k]!;
    const last = k === components.length - 1;
    const len = last ? raw.length - pos : c.min;
    if (len === 0 && c.optional) break;
    parts.push(raw.slice(pos, pos + len));
    pos += len;
  }
  return parts;
}

function checkRule(
  spec: Gs1AiSpec,
  comp: Gs1Component,
  part: string,
  offset: number,
  at: (offset: number) => string,
  now: Date,
): void {
  const name = `AI ${spec.ai} (${spec.title})`;
  if (comp.optional && part.length !== comp.min && comp.min === comp.max) {
    // An optional fixed component (7007's second date, 4330's sign) is there whole or not at all.
    throw new ProtocolError('SG_ERR_PROTO_SYNTAX', `${name}: optional part '${part}' must have ${comp.min} characters`);
  }
  switch (comp.rule) {
    case 'csum': {
      const expected = gs1CheckDigit(part.slice(0, -1));
      const got = part.charCodeAt(part.length - 1) - 48;
      if (got !== expected) {
        throw new ProtocolError(
          'SG_ERR_PROTO_CHECK',
          `${name}: check digit ${got} ${at(offset + part.length - 1)} is wrong, expected ${expected} (${part.slice(0, -1)}${expected})`,
        );
      }
      return;
    }
    case 'yymmd0':
    case 'yymmdd':
    case 'yymmddhh': {
      const d = decodeYymmdd(part.slice(0, 6), comp.rule === 'yymmd0', now);
      if ('reason' in d) throw new ProtocolError('SG_ERR_PROTO_RANGE', `${name}: '${part}' ${at(offset)} is not a valid YYMMDD date: ${d.reason}`);
      if (comp.rule === 'yymmddhh') checkTime(name, part.slice(6, 8), '', at(offset + 6));
      return;
    }
    case 'hhmm':
      checkTime(name, part.slice(0, 2), part.slice(2, 4), at(offset));
      return;
    case 'mmoptss':
      if (part.length !== 2 && part.length !== 4) {
        throw new ProtocolError('SG_ERR_PROTO_SYNTAX', `${name}: '${part}' ${at(offset)} must be MM or MMSS`);
      }
      checkTime(name, '00', part.slice(0, 2), at(offset), part.slice(2, 4));
      return;
    default:
      return;
  }
}

function checkTime(name: string, hh: string, mm: string, where: string, ss = ''): void {
  if (Number(hh) > 23 || Number(mm || '0') > 59 || Number(ss || '0') > 59) {
    throw new ProtocolError('SG_ERR_PROTO_RANGE', `${name}: time '${hh}${mm}${ss}' ${where} is out of range`);
  }
}

function typedValue(spec: Gs1AiSpec, parts: string[], now: Date): string | number | undefined {
  const first = spec.components[0]!;
  if (first.rule === 'yymmd0' || first.rule === 'yymmdd' || first.rule === 'yymmddhh') {
    const d = decodeYymmdd(parts[0]!.slice(0, 6), first.rule === 'yymmd0', now) as { iso: string };
    if (first.rule === 'yymmddhh') return `${d.iso}T${parts[0]!.slice(6, 8)}:${(parts[1] ?? '00').slice(0, 2)}`;
    const time = spec.components[1]?.rule === 'hhmm' && parts[1] ? `T${parts[1].slice(0, 2)}:${parts[1].slice(2, 4)}` : '';
    return d.iso + time;
  }
  if (spec.decimals !== undefined) {
    // 391n/393n carry an ISO 4217 currency code before the amount [GenSpecs 3.2, AIs 391n, 393n].
    return decimalNumber(parts[parts.length - 1]!, spec.decimals);
  }
  if (spec.ai === '30' || spec.ai === '37') return Number(parts[0]);
  return undefined;
}

/**
 * `digits` with `decimals` implied decimal places as a JSON number, without float artefacts:
 * `decimalNumber('001250', 2)` is 12.5 (built from the decimal string, not by dividing).
 */
export function decimalNumber(digits: string, decimals: number): number {
  if (decimals === 0) return Number(digits);
  const padded = digits.padStart(decimals + 1, '0');
  return Number(`${padded.slice(0, -decimals)}.${padded.slice(-decimals)}`);
}
