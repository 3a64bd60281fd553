/**
 * The human-readable interpretation of GS1 element strings, "(01)09506000134352(17)261231(10)ABC"
 * [GS1 GenSpecs, HRI rules]: every AI in parentheses, so no separators are needed and nothing is ambiguous.
 * Whitespace between elements (as often printed under a barcode) is ignored; since a space is not
 * in character set 82, no valid value loses anything by that.
 * Limitation: a value that itself contains "(" + 2-4 digits + ")" would be split there.
 */
import { ProtocolError } from '../errors.js';
import { GS1_AI_TABLE } from './gs1-ai-table.js';
import type { Gs1RawElement } from './gs1-element-string.js';
import { checkValue } from './gs1-value.js';

/** True when `text` starts (after blanks) with a parenthesised AI, e.g. `(01)`. */
export function looksLikeHri(text: string): boolean {
  return /^\s*\(\d{2,4}\)/.test(text);
}

/** Parse the "(AI)value(AI)value" form. Throws ProtocolError (see `checkValue`, plus unknown AIs). */
export function parseHri(text: string, opts: { now: Date; offset?: number }): Gs1RawElement[] {
  const base = opts.offset ?? 0;
  const re = /\((\d{2,4})\)/g;
  const marks: Array<{ ai: string; at: number; valueStart: number }> = [];
  let m: RegExpExecArray | null;
  while ((m = re.exec(text))) marks.push({ ai: m[1]!, at: m.index, valueStart: m.index + m[0].length });
  const lead = marks.length ? text.slice(0, marks[0]!.at) : text;
  if (!marks.length || lead.trim() !== '') {
    throw new ProtocolError('SG_ERR_PROTO_SYNTAX', `expected '(AI)' at index ${base}: not the "(01)..." form`);
  }
  return marks.map((mark, k) => {
    const spec = GS1_AI_TABLE.get(mark.ai);
    if (!spec) throw new ProtocolError('SG_ERR_PROTO_UNKNOWN', `unknown GS1 AI (${mark.ai}) at index ${base + mark.at}`);
    const end = k + 1 < marks.length ? marks[k + 1]!.at : text.length;
    const slice = text.slice(mark.valueStart, end);
    const lead = slice.length - slice.trimStart().length;
    const raw = slice.trim();
    const el: Gs1RawElement = { ai: spec.ai, raw, spec, index: base + mark.at };
    const value = checkValue(spec, raw, { now: opts.now, index: base + mark.valueStart + lead });
    if (value !== undefined) el.value = value;
    return el;
  });
}
