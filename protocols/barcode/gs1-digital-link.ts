/**
 * GS1 Digital Link URIs [GS1 Digital Link URI Syntax 1.2]:
 * `https://<any host>[/<any prefix>]/<primary key AI>/<value>[/<qualifier AI>/<value>...][?<AI>=<value>&...]`
 * e.g. `https://id.gs1.org/01/09506000134352/10/ABC?17=261231`.
 *
 * - Any host and any leading path are allowed; the GS1 part starts at the first primary key
 *   (01, 00, 414, 8004, ...) from which the rest of the path is AI/value pairs.
 * - Path and query values are percent-decoded (`%2F` is `/`); `+` stays `+` (URI syntax, not
 *   form encoding).
 * - Query parameters whose key is not a known numeric AI (`linkType`, `lang`, ...) are ignored.
 * - A GTIN given as GTIN-8/12/13 is padded to 14 digits, as the Digital Link standard does.
 * - The pre-1.2 "convenience alphas" (`/gtin/`, `/lot/`, `/ser/`, ...) are accepted in the path.
 */
import { ProtocolError } from '../errors.js';
import { GS1_AI_TABLE, type Gs1AiSpec } from './gs1-ai-table.js';
import type { Gs1RawElement } from './gs1-element-string.js';
import { checkValue } from './gs1-value.js';

/** Convenience alphas of Digital Link 1.0/1.1, mapped to their AIs. */
const ALPHAS: Readonly<Record<string, string>> = {
  gtin: '01', itip: '8006', gmn: '8013', cpid: '8010', sscc: '00', gln: '414', glnx: '254', party: '417',
  grai: '8003', giai: '8004', gsrn: '8018', gsrnp: '8017', gdti: '253', ginc: '401', gsin: '402', cpv: '22',
  lot: '10', ser: '21',
};

/** True when `text` is an http(s) URL (whether or not it is a Digital Link). */
export function looksLikeUrl(text: string): boolean {
  return /^https?:\/\//i.test(text);
}

function aiOf(segment: string): Gs1AiSpec | undefined {
  return GS1_AI_TABLE.get(ALPHAS[segment] ?? segment);
}

function decode(part: string, what: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new ProtocolError('SG_ERR_PROTO_SYNTAX', `Digital Link ${what} '${part}' is not valid percent-encoding`);
  }
}

/**
 * Parse a Digital Link URI into its elements (path first, then query). Returns `undefined` when
 * the URL is well-formed but has no GS1 primary key in its path (an ordinary web link), and throws
 * ProtocolError when it is a Digital Link with a bad value, or not a URL at all.
 */
export function parseDigitalLink(uri: string, opts: { now: Date }): Gs1RawElement[] | undefined {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new ProtocolError('SG_ERR_PROTO_SYNTAX', `'${uri}' is not a valid URL`);
  }
  const segs = url.pathname.split('/').filter((s) => s !== '');
  let start = -1;
  for (let i = 0; i + 1 < segs.length; i++) {
    if (aiOf(segs[i]!)?.dlPrimaryKey) {
      start = i;
      break;
    }
  }
  if (start < 0) return undefined;
  const pairs: Array<{ spec: Gs1AiSpec; raw: string }> = [];
  for (let i = start; i < segs.length; i += 2) {
    const spec = aiOf(segs[i]!);
    if (!spec) {
      throw new ProtocolError('SG_ERR_PROTO_UNKNOWN', `Digital Link path segment '${segs[i]}' is not a GS1 AI`);
    }
    if (i + 1 >= segs.length) {
      throw new ProtocolError('SG_ERR_PROTO_SYNTAX', `Digital Link path ends with AI ${spec.ai} and no value`);
    }
    pairs.push({ spec, raw: decode(segs[i + 1]!, `value of AI ${spec.ai}`) });
  }
  for (const param of url.search.replace(/^\?/, '').split('&')) {
    const eq = param.indexOf('=');
    if (eq <= 0) continue;
    const key = decode(param.slice(0, eq), 'query key');
    const spec = /^\d{2,4}$/.test(key) ? GS1_AI_TABLE.get(key) : undefined;
    if (spec) pairs.push({ spec, raw: decode(param.slice(eq + 1), `value of AI ${key}`) });
  }
  return pairs.map(({ spec, raw }) => {
    // GTIN-8/12/13 in a Digital Link are padded to 14 digits.
    const data = spec.ai === '01' && /^(\d{8}|\d{12,13})$/.test(raw) ? raw.padStart(14, '0') : raw;
    const el: Gs1RawElement = { ai: spec.ai, raw: data, spec };
    const value = checkValue(spec, data, { now: opts.now });
    if (value !== undefined) el.value = value;
    return el;
  });
}
