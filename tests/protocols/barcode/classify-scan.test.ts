import { describe, expect, it } from 'vitest';
import { splitAim } from '../../../protocols/barcode/aim.js';
import { classifyScan } from '../../../protocols/barcode/classify-scan.js';

const GS = '\u001d';
const now = new Date('2025-06-01T00:00:00Z');

describe('classifyScan', () => {
  it('detects GS1 from the AIM modifier', () => {
    const c = classifyScan(`]d20109506000134352` + `10L1${GS}21S1`, { now });
    expect(c.type).toBe('gs1');
    if (c.type !== 'gs1') return;
    expect(c.aim?.id).toBe(']d2');
    expect(c.gs1).toMatchObject({ gtin: '09506000134352', batch: 'L1', serial: 'S1' });
  });

  it('detects GS1 from a leading GS, the "(01)" form and a Digital Link URI', () => {
    expect(classifyScan(`${GS}0109506000134352`, { now })).toMatchObject({ type: 'gs1', gs1: { gtin: '09506000134352' } });
    expect(classifyScan('(01)09506000134352(10)A', { now })).toMatchObject({ type: 'gs1', gs1: { batch: 'A' } });
    expect(classifyScan(']Q1https://id.gs1.org/01/09506000134352/10/A', { now })).toMatchObject({
      type: 'gs1',
      aim: { id: ']Q1' },
      gs1: { form: 'digital-link', batch: 'A' },
    });
  });

  it('leaves everything else plain, AIM id stripped', () => {
    expect(classifyScan('MODE:ISSUE')).toEqual({ type: 'plain', data: 'MODE:ISSUE' });
    expect(classifyScan('SKU-000123\r\n')).toEqual({ type: 'plain', data: 'SKU-000123' });
    // Digits without FNC1 are not GS1 (an internal label can look like anything).
    expect(classifyScan('0109506000134352')).toEqual({ type: 'plain', data: '0109506000134352' });
    const c = classifyScan(']C0BIN-A-01');
    expect(c).toMatchObject({ type: 'plain', data: 'BIN-A-01', aim: { id: ']C0', gs1: false } });
    // An ordinary web link in a QR code.
    expect(classifyScan(']Q1https://example.com/manual.pdf')).toMatchObject({ type: 'plain', data: 'https://example.com/manual.pdf' });
  });

  it('adds the GTIN of EAN/UPC and ITF-14 symbols with a valid check digit', () => {
    expect(classifyScan(']E05901234123457')).toEqual({
      type: 'plain',
      data: '5901234123457',
      aim: splitAim(']E0').aim,
      gtin: '05901234123457',
    });
    expect(classifyScan(']E495012346')).toMatchObject({ gtin: '00000095012346' });
    expect(classifyScan(']I109506000134352')).toMatchObject({ gtin: '09506000134352' });
    expect(classifyScan(']E05901234123458')).not.toHaveProperty('gtin');
    expect(classifyScan('5901234123457')).not.toHaveProperty('gtin');
  });

  it('returns invalid GS1 data as a value, never throws', () => {
    expect(classifyScan(`]C10109506000134353`, { now })).toMatchObject({
      type: 'invalid',
      aim: { id: ']C1' },
      data: '0109506000134353',
      error: { code: 'SG_ERR_PROTO_CHECK' },
    });
    expect(classifyScan(`]C10109506000134352` + '10LOT42' + '3102001250', { now })).toMatchObject({
      type: 'invalid',
      error: { code: 'SG_ERR_PROTO_AMBIGUOUS', message: expect.stringContaining('3102') },
    });
    expect(classifyScan('https://id.gs1.org/01/123')).toMatchObject({ type: 'invalid', error: { code: 'SG_ERR_PROTO_SYNTAX' } });
    expect(classifyScan(undefined as unknown as string)).toMatchObject({ type: 'invalid', error: { code: 'SG_ERR_PROTO_ARGUMENT' } });
  });

  it('uses an AIM id received out of band (HID-POS) when the text has none', () => {
    const aim = splitAim(']C1').aim!;
    expect(classifyScan('0109506000134352', { aim, now })).toMatchObject({ type: 'gs1', aim: { id: ']C1' } });
  });

  it("passes the ambiguity policy through", () => {
    expect(classifyScan(']C110LOT423102001250', { ambiguity: 'accept' })).toMatchObject({ type: 'gs1', gs1: { batch: 'LOT423102001250' } });
  });
});
