/**
 * Classify one scanned line for the edge agent: GS1 data (parsed), a plain code (an internal SKU
 * label, a control code such as `MODE:ISSUE`, an EAN), or invalid GS1 data. Never throws: a scan
 * must never crash the edge.
 */
import { ProtocolError } from '../errors.js';
import { type AimId, splitAim } from './aim.js';
import { toGtin14 } from './check-digit.js';
import { parseDigitalLink, looksLikeUrl } from './gs1-digital-link.js';
import { GS } from './gs1-element-string.js';
import { looksLikeHri } from './gs1-hri.js';
import type { Gs1ParseOptions, Gs1Result } from './gs1-result.js';
import { parseGs1 } from './gs1.js';

/** GS1 data, parsed. */
export interface Gs1Scan {
  type: 'gs1';
  gs1: Gs1Result;
  aim?: AimId;
}

/** Anything that is not GS1 data. */
export interface PlainScan {
  type: 'plain';
  /** The text without its AIM id. */
  data: string;
  aim?: AimId;
  /**
   * The GTIN (14 digits) of an EAN-13/UPC-A/EAN-8 (`]E0`, `]E4`) or ITF-14 (`]I1`) symbol whose check
   * digit is valid: these symbols carry a GTIN without an AI (GS1 GenSpecs 5, EAN/UPC and ITF-14).
   */
  gtin?: string;
}

/** GS1 data that failed to parse. */
export interface InvalidScan {
  type: 'invalid';
  error: { code: string; message: string };
  /** The text without its AIM id. */
  data: string;
  aim?: AimId;
}

export type ClassifiedScan = Gs1Scan | PlainScan | InvalidScan;

const GTIN_AIMS = new Set([']E0', ']E4', ']I1']);

/**
 * Classify `text` (one scan, with or without an AIM id, trailing CR/LF ignored). It is GS1 when:
 * the AIM modifier says FNC1 in first position (`]C1`, `]d2`, `]Q3`, `]e0`, ...), the data starts
 * with GS (FNC1 sent as GS by scanners with AIM ids off), it starts with "(NN)" (the human-readable
 * form), or it is an http(s) URL with a GS1 primary key in its path (Digital Link). Anything else is
 * plain. `opts.aim` supplies an AIM id received out of band (HID-POS) when the text has none.
 */
export function classifyScan(text: string, opts: Gs1ParseOptions = {}): ClassifiedScan {
  if (typeof text !== 'string') {
    return { type: 'invalid', error: { code: 'SG_ERR_PROTO_ARGUMENT', message: 'scan is not a string' }, data: String(text) };
  }
  const line = text.replace(/[\r\n]+$/, '');
  const split = splitAim(line);
  const aim = split.aim ?? opts.aim;
  const data = split.data;
  const withAim = <T extends object>(o: T): T & { aim?: AimId } => (aim ? { ...o, aim } : o);
  try {
    let gs1 = (aim?.gs1 ?? false) || data.startsWith(GS) || looksLikeHri(data);
    if (!gs1 && looksLikeUrl(data)) gs1 = parseDigitalLink(data, { now: opts.now ?? new Date() }) !== undefined;
    if (gs1) {
      const parsed = parseGs1(line, opts);
      return withAim({ type: 'gs1' as const, gs1: parsed });
    }
  } catch (err) {
    const code = err instanceof ProtocolError ? err.code : 'SG_ERR_PROTO_SYNTAX';
    const message = err instanceof Error ? err.message : String(err);
    return withAim({ type: 'invalid' as const, error: { code, message }, data });
  }
  const plain: PlainScan = withAim({ type: 'plain' as const, data });
  const gtin = aim && GTIN_AIMS.has(aim.id) ? toGtin14(data) : undefined;
  if (gtin) plain.gtin = gtin;
  return plain;
}
