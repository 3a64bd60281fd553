import fc from 'fast-check';
import { isValid as gtinIsValid } from 'gtin';
import { describe, expect, it } from 'vitest';
import { gs1CheckDigit, hasValidCheckDigit, toGtin14 } from '../../../protocols/barcode/check-digit.js';

/**
 * An independent formulation of [GS1 GenSpecs 7.9.1] for any length: weights counted from the left,
 * 3 on positions with the same parity as the body length... written differently on purpose.
 */
function referenceCheckDigit(body: string): number {
  const digits = body.split('').map(Number);
  const n = digits.length;
  const sum = digits.reduce((s, d, i) => s + d * ((n - i) % 2 === 1 ? 3 : 1), 0);
  return (10 - (sum % 10)) % 10;
}

describe('GS1 mod-10 check digit [GenSpecs 7.9.1]', () => {
  it('agrees with the gtin package for GTIN-8/12/13/14', () => {
    fc.assert(
      fc.property(fc.constantFrom(7, 11, 12, 13), fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: 13, maxLength: 13 }), (len, s) => {
        const body = s.slice(0, len);
        const code = body + String(gs1CheckDigit(body));
        expect(gtinIsValid(code)).toBe(true);
        const wrong = body + String((gs1CheckDigit(body) + 1) % 10);
        expect(gtinIsValid(wrong)).toBe(false);
      }),
    );
  });

  it('agrees with an independent formulation for SSCC (18), GSIN (17) and GLN (13)', () => {
    fc.assert(
      fc.property(fc.constantFrom(12, 16, 17), fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: 17, maxLength: 17 }), (len, s) => {
        const body = s.slice(0, len);
        expect(gs1CheckDigit(body)).toBe(referenceCheckDigit(body));
      }),
    );
  });

  it('validates the examples of the GS1 standards', () => {
    // [GS1 Digital Link 1.2 examples] GTIN; [GenSpecs 2.2 SSCC example] 106141412345678908
    expect(hasValidCheckDigit('09506000134352')).toBe(true);
    expect(hasValidCheckDigit('106141412345678908')).toBe(true);
    expect(hasValidCheckDigit('106141412345678907')).toBe(false);
    expect(hasValidCheckDigit('12a4')).toBe(false);
    expect(() => gs1CheckDigit('12a')).toThrow(TypeError);
  });

  it('normalises valid GTIN-8/12/13/14 to 14 digits', () => {
    expect(toGtin14('95012346')).toBe('00000095012346');
    expect(toGtin14('5901234123457')).toBe('05901234123457');
    expect(toGtin14('5901234123458')).toBeUndefined();
    expect(toGtin14('123456789')).toBeUndefined();
  });
});
