import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../../protocols/errors.js';
import { parseGs1 } from '../../../protocols/barcode/gs1.js';
import type { Gs1ParseOptions } from '../../../protocols/barcode/gs1-result.js';

const GS = '\u001d';
const now = new Date('2025-06-01T00:00:00Z');
const parse = (s: string, o: Gs1ParseOptions = {}) => parseGs1(s, { now, ...o });

function errorOf(fn: () => unknown): ProtocolError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ProtocolError);
    return e as ProtocolError;
  }
  throw new Error('expected a ProtocolError');
}

describe('parseGs1: raw element strings [GenSpecs 7.8]', () => {
  it('splits predefined-length fields without separators and variable ones at GS', () => {
    const r = parse(`]C10109506000134352172612311` + `0ABC123${GS}2112345`);
    expect(r.form).toBe('element-string');
    expect(r.aim?.id).toBe(']C1');
    expect(r.ais).toEqual({ '01': '09506000134352', '17': '261231', '10': 'ABC123', '21': '12345' });
    expect(r.elements.map((e) => e.ai)).toEqual(['01', '17', '10', '21']);
    expect(r.elements[1]).toEqual({ ai: '17', title: 'USE BY OR EXPIRY', raw: '261231', value: '2026-12-31' });
    expect(r).toMatchObject({ gtin: '09506000134352', expiry: '2026-12-31', batch: 'ABC123', serial: '12345' });
  });

  it('tolerates a leading GS (FNC1), a GS after a predefined-length field, doubled and trailing GS', () => {
    const r = parse(`${GS}0109506000134352${GS}10A${GS}${GS}21B${GS}\r\n`);
    expect(r.ais).toEqual({ '01': '09506000134352', '10': 'A', '21': 'B' });
  });

  it('accepts a missing GS after a fixed-length AI outside the predefined table (unambiguous)', () => {
    expect(parse('0109506000134352422276' + '10X').ais).toEqual({ '01': '09506000134352', '422': '276', '10': 'X' });
  });

  it('derives the typed fields', () => {
    const r = parse(
      `00106141412345678908` + `0209506000134352` + `37120${GS}` + `3102001250` + `3301000135` + `11250300` + `13250315` +
        `15251200` + `16251130` + `4109506000134369` + `414${'9506000134352'}`,
    );
    expect(r).toMatchObject({
      sscc: '106141412345678908',
      contentGtin: '09506000134352',
      count: 120,
      netWeightKg: 12.5,
      grossWeightKg: 13.5,
      productionDate: '2025-03-31',
      packagingDate: '2025-03-15',
      bestBefore: '2025-12-31',
      sellBy: '2025-11-30',
      shipToGln: '9506000134369',
      gln: '9506000134352',
    });
    expect(typeof r.count).toBe('number');
  });

  it('reads weights with n decimals without float artefacts', () => {
    expect(parse('3100001250').netWeightKg).toBe(1250);
    expect(parse('3103001250').netWeightKg).toBe(1.25);
    expect(parse('3105000001').netWeightKg).toBe(0.00001);
    expect(parse('3101000003').netWeightKg).toBe(0.3);
    expect(parse('3302123456').grossWeightKg).toBe(1234.56);
    expect(parse('30' + '00000042').count).toBe(42);
  });

  it('types amounts, percent and date-times', () => {
    expect(parse('3922' + '12345').elements[0]!.value).toBe(123.45);
    expect(parse('3912' + '978' + '1999').elements[0]!.value).toBe(19.99);
    expect(parse('7003' + '2612311345').elements[0]!.value).toBe('2026-12-31T13:45');
    expect(parse('8008' + '26123113' + '45').elements[0]!.value).toBe('2026-12-31T13:45');
    expect(parse('8008' + '26123113').elements[0]!.value).toBe('2026-12-31T13:00');
    expect(parse('4324' + '2612001000').elements[0]!.value).toBe('2026-12-31T10:00');
    expect(parse('7011' + '261231').elements[0]!.value).toBe('2026-12-31');
    expect(parse('7007' + '261201261231').elements[0]!.value).toBe('2026-12-01');
  });

  it('accepts optional components', () => {
    expect(parse('253' + '9506000134352' + 'DOC-7').ais['253']).toBe('9506000134352DOC-7');
    expect(parse('253' + '9506000134352').ais['253']).toBe('9506000134352');
    expect(parse('421' + '276' + 'D-10115').ais['421']).toBe('276D-10115');
    expect(parse('8003' + '0' + '9506000134352' + 'ASSET1').ais['8003']).toBe('09506000134352ASSET1');
  });

  it('accepts every character of CSET 82 in an X field [GenSpecs Figure 7.11-1]', () => {
    const cset82 = `!"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz`;
    expect(cset82.length).toBe(82);
    for (let i = 0; i < cset82.length; i += 20) {
      const chunk = cset82.slice(i, i + 20);
      expect(parse(`10${chunk}`, { ambiguity: 'accept' }).ais['10']).toBe(chunk);
    }
  });
});

describe('parseGs1: errors', () => {
  it('names the AI and the expected digit on a wrong check digit', () => {
    const e = errorOf(() => parse('0109506000134353'));
    expect(e.code).toBe('SG_ERR_PROTO_CHECK');
    expect(e.message).toMatch(/AI 01 .*expected 2/);
    expect(errorOf(() => parse('00106141412345678907')).message).toMatch(/AI 00 .*expected 8/);
    expect(errorOf(() => parse('4149506000134353')).message).toMatch(/AI 414 .*expected 2/);
    expect(errorOf(() => parse('4109506000134360')).message).toMatch(/AI 410 .*expected 9/);
    expect(errorOf(() => parse('402' + '95060001343520001')).code).toBe('SG_ERR_PROTO_CHECK');
  });

  it('rejects values over the maximum length', () => {
    const e = errorOf(() => parse(`10${'A'.repeat(21)}`));
    expect(e.code).toBe('SG_ERR_PROTO_SYNTAX');
    expect(e.message).toMatch(/AI 10 .*21 characters.*1 to 20/);
    expect(errorOf(() => parse('37123456789')).message).toMatch(/AI 37/);
  });

  it('rejects short fixed fields and a GS inside one', () => {
    expect(errorOf(() => parse('01095060001343')).message).toMatch(/AI 01 .*exactly 14/);
    const e = errorOf(() => parse(`0109506000${GS}10A`));
    expect(e.code).toBe('SG_ERR_PROTO_SYNTAX');
    expect(e.message).toMatch(/AI 01 .*GS at index 10/);
  });

  it('names the position of a character outside the character set', () => {
    const e = errorOf(() => parse(`]C10109506000134352` + `10AB~C`));
    expect(e.code).toBe('SG_ERR_PROTO_SYNTAX');
    // ]C1 (3) + 01... (16) + "10" (2) + "AB" -> the '~' is at index 23 of the input.
    expect(e.message).toMatch(/AI 10 .*"~" \(0x7E\) at index 23 .*character set 82/);
    expect(errorOf(() => parse('0109506000134A52')).message).toMatch(/AI 01 .*"A" .*at index 13 .*numeric/);
    expect(errorOf(() => parse('10ABC DEF')).message).toMatch(/" " \(0x20\) at index 5/);
    expect(errorOf(() => parse('8010ABC_1')).message).toMatch(/character set 39/);
    expect(errorOf(() => parse('8030AB+C')).message).toMatch(/character set 64/);
  });

  it('rejects unknown AIs and non-digits where an AI should start', () => {
    expect(errorOf(() => parse('2301234')).code).toBe('SG_ERR_PROTO_UNKNOWN');
    const e = errorOf(() => parse(`0109506000134352AB`));
    expect(e.code).toBe('SG_ERR_PROTO_SYNTAX');
    expect(e.message).toMatch(/expected an AI .* at index 16/);
  });

  it('rejects impossible dates and times', () => {
    expect(errorOf(() => parse('17251301')).code).toBe('SG_ERR_PROTO_RANGE');
    expect(errorOf(() => parse('17250230')).message).toMatch(/AI 17 .*day 30 does not exist/);
    expect(errorOf(() => parse('7006' + '251200')).message).toMatch(/day 00 is not allowed/);
    expect(errorOf(() => parse('7003' + '2512312460')).code).toBe('SG_ERR_PROTO_RANGE');
    expect(errorOf(() => parse('8008' + '2512312' + '5')).code).toBe('SG_ERR_PROTO_RANGE');
    expect(errorOf(() => parse('8008' + '25123123' + '123')).message).toMatch(/MM or MMSS/);
    expect(errorOf(() => parse('7007' + '251201' + '123')).message).toMatch(/optional part/);
  });

  it('rejects the same AI twice with different values, and two net weights', () => {
    expect(parse(`10A${GS}10A`).ais).toEqual({ '10': 'A' });
    expect(errorOf(() => parse(`10A${GS}10B`)).message).toMatch(/AI 10 appears twice/);
    expect(errorOf(() => parse('31020012503103001250')).message).toMatch(/3102 and 3103 exclude each other/);
  });

  it('rejects raw data under a non-GS1 AIM id unless it starts with GS', () => {
    expect(errorOf(() => parse(']C00109506000134352')).message).toMatch(/\]C0 .*does not mark GS1 data/);
    expect(parse(`]d1${GS}0109506000134352`).gtin).toBe('09506000134352');
  });

  it('rejects empty input and non-strings', () => {
    expect(errorOf(() => parse('')).code).toBe('SG_ERR_PROTO_SYNTAX');
    expect(errorOf(() => parse(`]C1${GS}`)).code).toBe('SG_ERR_PROTO_SYNTAX');
    expect(errorOf(() => parseGs1(42 as unknown as string)).code).toBe('SG_ERR_PROTO_ARGUMENT');
  });
});

describe('parseGs1: missing separators are never silently merged', () => {
  it('flags 10LOT42 + 3102001250 without GS (merged into one batch by common libraries)', () => {
    const e = errorOf(() => parse('0109506000134352' + '10LOT42' + '3102001250'));
    expect(e.code).toBe('SG_ERR_PROTO_AMBIGUOUS');
    expect(e.message).toContain("'LOT42' followed by (3102)001250");
    // The same data with the separator parses.
    expect(parse(`010950600013435210LOT42${GS}3102001250`)).toMatchObject({ batch: 'LOT42', netWeightKg: 12.5 });
  });

  it('flags a hidden date or GTIN, also when the field ends with a GS', () => {
    expect(errorOf(() => parse(`21SN-9${'17261231'}${GS}10A`)).code).toBe('SG_ERR_PROTO_AMBIGUOUS');
    expect(errorOf(() => parse(`10B-${'0109506000134352'}`)).message).toMatch(/\(01\)09506000134352/);
    expect(errorOf(() => parse(`10X${'17261231'}${'3102001250'}`)).message).toMatch(/\(17\)261231\(3102\)001250/);
  });

  it('keeps valid data parseable', () => {
    expect(parse('010950600013435210ABC17').batch).toBe('ABC17'); // "17" alone is no date
    expect(parse('10B2012').batch).toBe('B2012'); // (20)12 would be too short a tail to suspect
    expect(parse('21123456783102001250').serial).toBe('123456783102001250'); // all digits: never suspected
    expect(parse('10LOT42310200125').batch).toBe('LOT42310200125'); // the tail does not parse completely
    expect(parse('10LOT4217251301').batch).toBe('LOT4217251301'); // month 13: no valid date
    expect(parse('10LOT-0109506000134353').batch).toBe('LOT-0109506000134353'); // wrong check digit
  });

  it("accepts the merged value as received with ambiguity: 'accept'", () => {
    expect(parse('10LOT423102001250', { ambiguity: 'accept' }).batch).toBe('LOT423102001250');
  });
});

describe('parseGs1: human-readable form [GenSpecs 4.15]', () => {
  it('parses "(01)...(17)...(10)..." with blanks between elements', () => {
    const r = parse('(01)09506000134352 (17)261200 (10)ABC (3103)001250');
    expect(r.form).toBe('hri');
    expect(r).toMatchObject({ gtin: '09506000134352', expiry: '2026-12-31', batch: 'ABC', netWeightKg: 1.25 });
  });

  it('is never ambiguous: the parentheses delimit', () => {
    expect(parse('(10)LOT423102001250').batch).toBe('LOT423102001250');
  });

  it('validates values and AIs', () => {
    expect(errorOf(() => parse('(01)09506000134353')).code).toBe('SG_ERR_PROTO_CHECK');
    expect(errorOf(() => parse('(23)12')).code).toBe('SG_ERR_PROTO_UNKNOWN');
    expect(errorOf(() => parse('(01)0950600013435')).message).toMatch(/exactly 14/);
    expect(errorOf(() => parse('(10)A~B')).message).toMatch(/at index 5/); // ( 1 0 ) A ~
  });
});

describe('parseGs1: GS1 Digital Link [Digital Link 1.2]', () => {
  it('reads path keys, qualifiers and query AIs, percent-decoded, on any host', () => {
    const r = parse('https://id.gs1.org/01/09506000134352/10/AB%2F12/21/12345?17=261231&linkType=gs1:pip');
    expect(r.form).toBe('digital-link');
    expect(r.ais).toEqual({ '01': '09506000134352', '10': 'AB/12', '21': '12345', '17': '261231' });
    expect(r.expiry).toBe('2026-12-31');
    expect(parse('HTTP://example.com/shop/products/01/09506000134352?3103=001250').netWeightKg).toBe(1.25);
  });

  it('keeps + as + and pads GTIN-8/12/13 to 14 digits', () => {
    expect(parse('https://x.example/01/5901234123457/10/A+B').ais).toEqual({ '01': '05901234123457', '10': 'A+B' });
    expect(parse('https://x.example/01/95012346').gtin).toBe('00000095012346');
  });

  it('accepts SSCC, GLN and convenience alphas as primary keys', () => {
    expect(parse('https://x.example/00/106141412345678908').sscc).toBe('106141412345678908');
    expect(parse('https://x.example/414/9506000134352/254/DOCK-3').gln).toBe('9506000134352');
    expect(parse('https://x.example/gtin/09506000134352/lot/L1/ser/S1').ais).toEqual({
      '01': '09506000134352',
      '10': 'L1',
      '21': 'S1',
    });
  });

  it('validates Digital Link values like any other', () => {
    expect(errorOf(() => parse('https://id.gs1.org/01/09506000134353')).code).toBe('SG_ERR_PROTO_CHECK');
    expect(errorOf(() => parse('https://id.gs1.org/01/09506000134352?17=261331')).code).toBe('SG_ERR_PROTO_RANGE');
    expect(errorOf(() => parse('https://id.gs1.org/01/09506000134352/10/%E0%A4%A')).message).toMatch(/percent-encoding/);
    expect(errorOf(() => parse('https://id.gs1.org/01/09506000134352/10')).message).toMatch(/no value/);
    expect(errorOf(() => parse('https://id.gs1.org/01/09506000134352/foo/1')).code).toBe('SG_ERR_PROTO_UNKNOWN');
    expect(errorOf(() => parse('https://example.com/about')).message).toMatch(/not a GS1 Digital Link/);
    expect(errorOf(() => parse('https://exa mple.com/01/1')).message).toMatch(/not a valid URL/);
  });

  it('ignores query parameters that are not AIs', () => {
    expect(parse('https://id.gs1.org/01/09506000134352?lang=en&9999=1&=x&flag').ais).toEqual({ '01': '09506000134352' });
  });
});
