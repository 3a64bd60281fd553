/**
 * protocols/barcode/README.md, "npm libraries": why parseGs1 is our own and `gtin` is the test
 * oracle. device-protocols.md verified (gs1-barcode-parser-mod 1.2.1, @point-of-sale/barcode-parser
 * 1.0.4) that neither checks check digits and that both read `10LOT423102001250` as one batch.
 * These tests pin the behaviour that made the difference.
 */
import { isValid as gtinIsValid } from 'gtin';
import { describe, expect, it } from 'vitest';
import { gs1CheckDigit } from '../../../protocols/barcode/check-digit.js';
import { parseGs1 } from '../../../protocols/barcode/gs1.js';

describe('library choice', () => {
  it('rejects a wrong GTIN check digit (the npm GS1 parsers accept it)', () => {
    expect(gtinIsValid('09506000134353')).toBe(false);
    expect(() => parseGs1(']C10109506000134353')).toThrow(expect.objectContaining({ code: 'SG_ERR_PROTO_CHECK' }));
  });

  it('rejects a wrong SSCC check digit, which `gtin` cannot even check (18 digits)', () => {
    expect(() => gtinIsValid('106141412345678907')).toThrow();
    expect(() => parseGs1('00106141412345678907')).toThrow(expect.objectContaining({ code: 'SG_ERR_PROTO_CHECK' }));
  });

  it('does not merge 10LOT42 + 3102001250 into one batch (the npm GS1 parsers do)', () => {
    expect(() => parseGs1(']C110LOT423102001250')).toThrow(expect.objectContaining({ code: 'SG_ERR_PROTO_AMBIGUOUS' }));
  });

  it('computes the same check digits as `gtin` for every GTIN length', () => {
    for (const body of ['9501234', '01234567890', '950600013435', '0950600013435']) {
      expect(gtinIsValid(body + gs1CheckDigit(body))).toBe(true);
    }
  });
});
