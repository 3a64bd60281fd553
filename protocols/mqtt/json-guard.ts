/**
 * Cheap checks on a payload's bytes before any JSON work (issue 8, deliverable 1).
 *
 * Finding 1: a 20 KB batch nesting an array 10,000 deep passed `JSON.parse`, and re-serialising it
 * for the dead letter threw an uncaught RangeError that stopped the cloud. Finding 8: invalid UTF-8
 * was decoded to U+FFFD and applied under a mangled SKU. So a receiver checks, in one pass over the
 * bytes and before `JSON.parse`: size, UTF-8 validity and nesting depth. Pure: no I/O.
 */
import { isUtf8 } from 'node:buffer';

/** Deepest nesting a v1 payload needs is 3 (batch > movements[] > movement > device); 16 leaves room. */
export const MAX_JSON_DEPTH = 16;

export type GuardFailure = { reason: 'TOO_LARGE' | 'INVALID_JSON'; message: string };

// One table lookup per byte outside strings (measured ~1.6x faster than a chain of compares; the
// scan costs about a quarter of the JSON.parse that follows it).
const QUOTE = 1;
const OPEN = 2;
const CLOSE = 3;
const BYTE_CLASS = new Uint8Array(256);
BYTE_CLASS[0x22] = QUOTE;
BYTE_CLASS[0x5b] = OPEN;
BYTE_CLASS[0x7b] = OPEN;
BYTE_CLASS[0x5d] = CLOSE;
BYTE_CLASS[0x7d] = CLOSE;

/**
 * Nesting depth of a JSON text, counting `[` and `{` outside strings; stops counting (returns
 * `limit + 1`) as soon as `limit` is exceeded, so a hostile payload costs no more than its prefix.
 */
export function jsonDepthExceeds(bytes: Uint8Array, limit: number): boolean {
  let depth = 0;
  const n = bytes.length;
  for (let i = 0; i < n; i++) {
    const t = BYTE_CLASS[bytes[i]!]!;
    if (t === 0) continue;
    if (t === QUOTE) {
      // Inside a string: only its closing quote matters; a backslash skips the byte it escapes.
      for (i++; i < n; i++) {
        const c = bytes[i]!;
        if (c === 0x22) break;
        if (c === 0x5c) i++;
      }
    } else if (t === OPEN) {
      if (++depth > limit) return true;
    } else if (t === CLOSE) depth--;
  }
  return false;
}

/**
 * Size, UTF-8 and depth of a payload, in that order (each check is O(bytes), the size one O(1)).
 * Returns undefined when the payload may be parsed.
 */
export function guardJson(payload: Uint8Array, maxBytes: number, maxDepth = MAX_JSON_DEPTH): GuardFailure | undefined {
  if (payload.length > maxBytes) return { reason: 'TOO_LARGE', message: `payload: ${payload.length} bytes exceeds ${maxBytes}` };
  if (!isUtf8(payload)) return { reason: 'INVALID_JSON', message: `payload: not valid UTF-8 (byte ${firstInvalidUtf8(payload)})` };
  if (jsonDepthExceeds(payload, maxDepth)) return { reason: 'INVALID_JSON', message: `payload: JSON nested deeper than ${maxDepth}` };
  return undefined;
}

/** Offset of the first byte that breaks UTF-8 (for the message only: off the valid path). */
export function firstInvalidUtf8(b: Uint8Array): number {
  for (let i = 0; i < b.length; ) {
    const c = b[i]!;
    const n = c < 0x80 ? 1 : c >= 0xc2 && c < 0xe0 ? 2 : c >= 0xe0 && c < 0xf0 ? 3 : c >= 0xf0 && c < 0xf5 ? 4 : 0;
    if (n === 0) return i;
    if (n > 1 && !isUtf8(b.subarray(i, i + n))) return i;
    i += n;
  }
  return b.length;
}

/**
 * A string is safe text for the ledger: well-formed UTF-16 (no lone surrogate, which `\ud800`
 * escapes can produce and which is no UTF-8) and no control character (C0, DEL, C1). `raw` frames
 * use {@link isSafeRaw} instead.
 */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
/** A high surrogate not followed by a low one, or a low one not preceded by a high one. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
/**
 * Any control character or any surrogate at all: absent from nearly every real string, so one
 * scan of a character class settles it, and only text with a surrogate (an emoji's pair) or a
 * control character pays for the exact look-around checks (the ingester runs this ~15 times per
 * movement).
 */
// eslint-disable-next-line no-control-regex
const SUSPECT_TEXT = /[\u0000-\u001f\u007f-\u009f\ud800-\udfff]/;
// eslint-disable-next-line no-control-regex
const SUSPECT_RAW = /[\u0000\ud800-\udfff]/;
export function isSafeText(s: string): boolean {
  return !SUSPECT_TEXT.test(s) || (!CONTROL.test(s) && !LONE_SURROGATE.test(s));
}

/**
 * A `raw` frame keeps the C0 separators scanners really send (GS1's FNC1 is GS 0x1D, CR/LF end
 * lines), so only NUL (which no text column holds: PostgreSQL refuses it) and lone surrogates are refused.
 */
export function isSafeRaw(s: string): boolean {
  return !SUSPECT_RAW.test(s) || (!s.includes('\u0000') && !LONE_SURROGATE.test(s));
}
