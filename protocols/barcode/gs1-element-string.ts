/**
 * Raw GS1 element strings, as a scanner transmits them: AI + data, AI + data, ..., with GS (0x1D)
 * where an FNC1 separator stood [GS1 GenSpecs 7.8, 7.8.5]. FNC1 in first position is not in the
 * text (it is the AIM modifier), but a scanner with AIM ids off often sends it as a leading GS, so
 * leading GS characters are skipped.
 */
import { ProtocolError } from '../errors.js';
import { type Gs1AiSpec, lookupAi } from './gs1-ai-table.js';
import { checkValue } from './gs1-value.js';

/** The GS character (0x1D) that stands for FNC1 as a separator. */
export const GS = '\u001d';

/** One parsed element: AI, its raw data and where it started. */
export interface Gs1RawElement {
  ai: string;
  /** The data field exactly as received. */
  raw: string;
  spec: Gs1AiSpec;
  /** Typed value (number or ISO date), see `checkValue`. */
  value?: string | number;
  /** 0-based index of the AI in the caller's input, when known. */
  index?: number;
}

/** What to do with a variable-length value that hides further element strings (see README). */
export type Gs1AmbiguityPolicy = 'error' | 'accept';

/** Options of {@link parseElementString}. */
export interface ElementStringOptions {
  /** Reference time for the century window of dates [GenSpecs 7.12]. */
  now: Date;
  /** Default `'error'`: throw SG_ERR_PROTO_AMBIGUOUS, see {@link findHiddenSplit}. */
  ambiguity?: Gs1AmbiguityPolicy;
  /** Added to indexes in error messages (e.g. 3 when an AIM id was stripped first). Default 0. */
  offset?: number;
}

/**
 * The shortest hidden tail we look for: 8 characters, the length of the shortest element strings
 * that are worth suspecting (a date, `17YYMMDD`). Shorter tails are mostly `20nn` (variant, any two
 * digits), which would flag every batch ending in "20" plus two digits.
 */
const MIN_HIDDEN_TAIL = 8;

/**
 * Parse a raw element string into its elements. Throws ProtocolError: SG_ERR_PROTO_UNKNOWN (an AI
 * we do not know), SG_ERR_PROTO_SYNTAX (length, character set, a GS inside a fixed field),
 * SG_ERR_PROTO_CHECK, SG_ERR_PROTO_RANGE, SG_ERR_PROTO_AMBIGUOUS (a probably missing separator).
 */
export function parseElementString(text: string, opts: ElementStringOptions): Gs1RawElement[] {
  const base = opts.offset ?? 0;
  const out: Gs1RawElement[] = [];
  let pos = 0;
  while (text[pos] === GS) pos++;
  if (pos >= text.length) throw new ProtocolError('SG_ERR_PROTO_SYNTAX', 'empty GS1 element string');
  while (pos < text.length) {
    if (text[pos] === GS) {
      // A separator after a predefined-length field, or a doubled/trailing one: harmless, skip.
      pos++;
      continue;
    }
    const spec = lookupAi(text, pos);
    if (!spec) {
      const head = text.slice(pos, pos + 4);
      if (!/^\d{2}/.test(head)) {
        throw new ProtocolError('SG_ERR_PROTO_SYNTAX', `expected an AI (digits) at index ${base + pos}, found ${JSON.stringify(head)}`);
      }
      throw new ProtocolError('SG_ERR_PROTO_UNKNOWN', `unknown GS1 AI at index ${base + pos}: '${head}'`);
    }
    const start = pos + spec.ai.length;
    const gsAt = text.indexOf(GS, start);
    const fieldEnd = gsAt < 0 ? text.length : gsAt;
    // A fixed-length field ends after its length even without GS (unambiguous); this also accepts a
    // missing GS after fixed-length AIs outside the predefined table (422, 7003, ...).
    const end = spec.fixed ? Math.min(start + spec.maxLength, fieldEnd) : fieldEnd;
    const raw = text.slice(start, end);
    if (spec.fixed && raw.length < spec.maxLength && end < text.length) {
      throw new ProtocolError(
        'SG_ERR_PROTO_SYNTAX',
        `AI ${spec.ai} (${spec.title}): needs ${spec.maxLength} characters, found GS at index ${base + end} after ${raw.length}`,
      );
    }
    const value = checkValue(spec, raw, { now: opts.now, index: base + start });
    if (!spec.fixed && (opts.ambiguity ?? 'error') === 'error') {
      const hidden = findHiddenSplit(spec, raw, opts.now);
      if (hidden) {
        throw new ProtocolError(
          'SG_ERR_PROTO_AMBIGUOUS',
          `AI ${spec.ai} (${spec.title}) value '${raw}' at index ${base + start} also reads as '${hidden.head}' followed by ` +
            `${hidden.elements.map((e) => `(${e.ai})${e.raw}`).join('')}: a GS separator is probably missing; ` +
            `end the field with GS (0x1D) if the value is meant as is`,
        );
      }
    }
    const el: Gs1RawElement = { ai: spec.ai, raw, spec, index: base + pos };
    if (value !== undefined) el.value = value;
    out.push(el);
    pos = end;
  }
  return out;
}

/**
 * The ambiguity rule for a variable-length value V (ended by GS or by the end of the data).
 * V is ambiguous when it can be cut into V = head + tail where:
 *  1. head is itself a valid value of the AI and contains at least one non-digit;
 *  2. tail is all digits, at least {@link MIN_HIDDEN_TAIL} long, and parses completely as one or
 *     more element strings whose first AI has a fixed length, every check digit and date valid.
 * That is the shape of the classic merge `10LOT42` + `3102001250` (no GS) = batch
 * "LOT423102001250". Rule 1 spares all-digit values (a numeric lot or serial would match weights and
 * dates by chance far too often) and rule 2 spares short tails like "ABC17" or "B2012".
 * Returns the first (longest-tail) reading found, or undefined.
 */
export function findHiddenSplit(
  spec: Gs1AiSpec,
  raw: string,
  now: Date,
): { head: string; elements: Gs1RawElement[] } | undefined {
  let lastNonDigit = -1;
  for (let i = raw.length - 1; i >= 0; i--) {
    if (raw[i]! < '0' || raw[i]! > '9') {
      lastNonDigit = i;
      break;
    }
  }
  if (lastNonDigit < 0) return undefined;
  for (let cut = Math.max(lastNonDigit + 1, spec.minLength); cut <= raw.length - MIN_HIDDEN_TAIL; cut++) {
    const head = raw.slice(0, cut);
    const tail = raw.slice(cut);
    try {
      const elements = parseElementString(tail, { now, ambiguity: 'accept' });
      if (!elements[0]!.spec.fixed) continue;
      checkValue(spec, head, { now });
      return { head, elements };
    } catch {
      // Not a reading: try the next cut.
    }
  }
  return undefined;
}
