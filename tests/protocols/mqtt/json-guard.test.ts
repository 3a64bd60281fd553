import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_JSON_DEPTH, firstInvalidUtf8, guardJson, isSafeRaw, isSafeText, jsonDepthExceeds } from '../../../protocols/mqtt/json-guard.js';

/** Nesting depth of a parsed JSON value (arrays and objects count one level each). */
function depthOf(v: unknown): number {
  if (Array.isArray(v)) return 1 + Math.max(0, ...v.map(depthOf));
  if (v && typeof v === 'object') return 1 + Math.max(0, ...Object.values(v).map(depthOf));
  return 0;
}

describe('json-guard (issue 8, findings 1 and 8)', () => {
  it('the byte scanner agrees with the real nesting depth of any JSON text, strings with brackets and escapes included', () => {
    fc.assert(
      fc.property(fc.json({ maxDepth: 12 }), fc.integer({ min: 0, max: 14 }), (text, limit) => {
        const real = depthOf(JSON.parse(text));
        expect(jsonDepthExceeds(Buffer.from(text), limit)).toBe(real > limit);
      }),
      { numRuns: 2000, seed: 1 },
    );
    const tricky = JSON.stringify({ a: '[[[{{{\\"]]]', b: ['"\\\\', '\\"['] });
    expect(depthOf(JSON.parse(tricky))).toBe(2);
    expect(jsonDepthExceeds(Buffer.from(tricky), 1)).toBe(true);
    expect(jsonDepthExceeds(Buffer.from(tricky), 2)).toBe(false);
  });

  it('guardJson: size first, then UTF-8 (naming the byte), then depth; the 10,000-deep finding is refused', () => {
    expect(guardJson(Buffer.from('{}'), 1)).toMatchObject({ reason: 'TOO_LARGE' });
    const deep = Buffer.from('['.repeat(10_000) + ']'.repeat(10_000));
    expect(guardJson(deep, 1 << 20)).toMatchObject({ reason: 'INVALID_JSON', message: `payload: JSON nested deeper than ${MAX_JSON_DEPTH}` });
    const bad = Buffer.from('{"sku":"AB\xC3("}', 'latin1');
    expect(guardJson(bad, 1 << 20)).toEqual({ reason: 'INVALID_JSON', message: 'payload: not valid UTF-8 (byte 10)' });
    expect(guardJson(Buffer.from('{"sku":"水泥 🧱"}'), 1 << 20)).toBeUndefined();
  });

  it('UTF-8 validity matches a fatal TextDecoder on any bytes, and the offset named is where decoding breaks', () => {
    const dec = new TextDecoder('utf-8', { fatal: true });
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
        let ok = true;
        try {
          dec.decode(bytes);
        } catch {
          ok = false;
        }
        const refused = guardJson(bytes, 1 << 20);
        expect(refused?.message.includes('UTF-8') ?? false).toBe(!ok);
        if (!ok) {
          const at = firstInvalidUtf8(bytes);
          expect(() => dec.decode(bytes.subarray(0, at))).not.toThrow();
        }
      }),
      { numRuns: 3000, seed: 2 },
    );
  });

  it('safe text: no C0, DEL or C1 control characters and no lone surrogates; raw refuses only NUL and lone surrogates', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 20 }), (s) => {
        const control = [...s].some((c) => c.codePointAt(0)! < 0x20 || (c.codePointAt(0)! >= 0x7f && c.codePointAt(0)! <= 0x9f));
        expect(isSafeText(s)).toBe(!control);
      }),
      { numRuns: 2000, seed: 3 },
    );
    for (const lone of ['\ud800', 'a\udc00', '\udbffA', 'x\ud83d']) {
      expect(isSafeText(lone)).toBe(false);
      expect(isSafeRaw(lone)).toBe(false);
    }
    expect(isSafeText('🧱')).toBe(true);
    expect(isSafeRaw(']C1010950600013435\u001d10LOT\r\n')).toBe(true);
    expect(isSafeRaw('A\u0000')).toBe(false);
  });
});
