/**
 * `parseGs1`: one entry point for the three textual forms of GS1 data
 * - raw element strings with GS separators, optionally behind an AIM id [GS1 GenSpecs 7.8];
 * - the human-readable "(01)...(17)..." form [GenSpecs, HRI rules];
 * - GS1 Digital Link URIs [GS1 Digital Link 1.2].
 * Pure: no I/O; throws ProtocolError with a code on invalid data.
 */
import { ProtocolError } from '../errors.js';
import { type AimId, splitAim } from './aim.js';
import { parseDigitalLink, looksLikeUrl } from './gs1-digital-link.js';
import { GS, type Gs1RawElement, parseElementString } from './gs1-element-string.js';
import { looksLikeHri, parseHri } from './gs1-hri.js';
import type { Gs1Form, Gs1ParseOptions, Gs1Result } from './gs1-result.js';

/**
 * Parse GS1 data in any of its textual forms (see the module doc). A leading AIM id is split off;
 * for raw element strings it must be a GS1 one (`]C1`, `]d2`, `]Q3`, `]e0`, ...) if present.
 * Trailing CR/LF is ignored.
 *
 * Throws ProtocolError: SG_ERR_PROTO_SYNTAX, SG_ERR_PROTO_UNKNOWN, SG_ERR_PROTO_CHECK,
 * SG_ERR_PROTO_RANGE, SG_ERR_PROTO_AMBIGUOUS; SG_ERR_PROTO_ARGUMENT when `input` is not a string.
 */
export function parseGs1(input: string, opts: Gs1ParseOptions = {}): Gs1Result {
  if (typeof input !== 'string') throw new ProtocolError('SG_ERR_PROTO_ARGUMENT', 'parseGs1: input must be a string');
  const now = opts.now ?? new Date();
  const split = splitAim(input.replace(/[\r\n]+$/, ''));
  const aim = split.aim ?? opts.aim;
  const data = split.data;
  const offset = split.aim ? 3 : 0;
  let form: Gs1Form;
  let elements: Gs1RawElement[];
  if (looksLikeUrl(data)) {
    form = 'digital-link';
    const dl = parseDigitalLink(data, { now });
    if (!dl) throw new ProtocolError('SG_ERR_PROTO_SYNTAX', `URL '${data}' is not a GS1 Digital Link: no GS1 primary key (01, 00, 414, ...) in its path`);
    elements = dl;
  } else if (looksLikeHri(data)) {
    form = 'hri';
    elements = parseHri(data, { now, offset });
  } else {
    form = 'element-string';
    // A leading GS marks FNC1 even under a non-GS1 AIM id (a Data Matrix encoded with GS instead of
    // FNC1 in first position), so only reject without one.
    if (aim && !aim.gs1 && !data.startsWith(GS)) {
      throw new ProtocolError(
        'SG_ERR_PROTO_SYNTAX',
        `AIM id ${aim.id} (${aim.description ?? aim.symbology}) does not mark GS1 data (no FNC1 in first position)`,
      );
    }
    elements = parseElementString(data, { now, ambiguity: opts.ambiguity, offset });
  }
  return buildResult(elements, form, aim);
}

function buildResult(elements: Gs1RawElement[], form: Gs1Form, aim: AimId | undefined): Gs1Result {
  const ais: Record<string, string> = {};
  const values: Record<string, string | number | undefined> = {};
  const result: Gs1Result = { ais, elements: [], form };
  if (aim) result.aim = aim;
  for (const el of elements) {
    const seen = ais[el.ai];
    if (seen !== undefined) {
      // The same AI twice is only acceptable with the same data (GS1 syntax rules: no contradicting duplicates).
      if (seen !== el.raw) {
        throw new ProtocolError('SG_ERR_PROTO_SYNTAX', `AI ${el.ai} appears twice with different values ('${seen}', '${el.raw}')`);
      }
      continue;
    }
    ais[el.ai] = el.raw;
    values[el.ai] = el.value;
    const out: Gs1Result['elements'][number] = { ai: el.ai, title: el.spec.title, raw: el.raw };
    if (el.value !== undefined) out.value = el.value;
    result.elements.push(out);
  }
  const str = (ai: string): string | undefined => ais[ai];
  const date = (ai: string): string | undefined => values[ai] as string | undefined;
  const assign = <K extends keyof Gs1Result>(key: K, v: Gs1Result[K] | undefined): void => {
    if (v !== undefined) result[key] = v;
  };
  assign('gtin', str('01'));
  assign('contentGtin', str('02'));
  assign('sscc', str('00'));
  assign('gln', str('414'));
  assign('shipToGln', str('410'));
  assign('batch', str('10'));
  assign('serial', str('21'));
  assign('expiry', date('17'));
  assign('bestBefore', date('15'));
  assign('sellBy', date('16'));
  assign('productionDate', date('11'));
  assign('packagingDate', date('13'));
  assign('count', (values['37'] ?? values['30']) as number | undefined);
  // 310n (and 330n) with two different n would give two weights for one item: the syntax dictionary
  // makes them mutually exclusive ("ex=310n"), so reject rather than pick one.
  for (const [family, key] of [['310', 'netWeightKg'], ['330', 'grossWeightKg']] as const) {
    const found = result.elements.filter((el) => el.ai.length === 4 && el.ai.startsWith(family));
    if (found.length > 1) {
      throw new ProtocolError('SG_ERR_PROTO_SYNTAX', `AIs ${found.map((e) => e.ai).join(' and ')} exclude each other`);
    }
    if (found.length === 1) result[key] = found[0]!.value as number;
  }
  return result;
}
