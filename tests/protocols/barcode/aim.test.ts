import { describe, expect, it } from 'vitest';
import { AIM_IDENTIFIERS, isGs1Aim, splitAim } from '../../../protocols/barcode/aim.js';

describe('AIM symbology identifiers [ISO/IEC 15424, GS1 GenSpecs 5.1.2]', () => {
  it('keeps the AimId fields other code relies on', () => {
    expect(splitAim(']C1010950600013435210A')).toEqual({
      aim: { id: ']C1', code: 'C', modifier: '1', symbology: 'Code 128', gs1: true, description: 'GS1-128', fnc1: 'first' },
      data: '010950600013435210A',
    });
  });

  it.each([
    [']C0', false], [']C1', true], [']E0', false], [']E4', false], [']d1', false], [']d2', true],
    [']Q1', false], [']Q3', true], [']I1', false], [']A0', false], [']e0', true], [']L0', false],
  ])('%s: GS1 (FNC1 in first position) = %s', (id, gs1) => {
    expect(isGs1Aim(id)).toBe(gs1);
    const { aim, data } = splitAim(`${id}XYZ`);
    expect(aim?.id).toBe(id);
    expect(aim?.gs1).toBe(gs1);
    expect(aim?.description).toBe(AIM_IDENTIFIERS[id]!.description);
    expect(data).toBe('XYZ');
  });

  it('names the symbology family of the code character', () => {
    expect(splitAim(']E4').aim?.symbology).toBe('EAN/UPC');
    expect(splitAim(']d2').aim?.symbology).toBe('Data Matrix');
    expect(splitAim(']Q3').aim?.symbology).toBe('QR Code');
    expect(splitAim(']I1').aim?.symbology).toBe('ITF');
    expect(splitAim(']L0').aim?.symbology).toBe('PDF417');
    expect(splitAim(']e0').aim?.symbology).toBe('GS1 DataBar');
    expect(splitAim(']A0').aim?.symbology).toBe('Code 39');
  });

  it('marks FNC1 in second position as not GS1', () => {
    expect(splitAim(']C2x').aim).toMatchObject({ gs1: false, fnc1: 'second' });
    expect(splitAim(']d3x').aim).toMatchObject({ gs1: false, fnc1: 'second' });
  });

  it('accepts an unknown identifier without describing it', () => {
    const { aim } = splitAim(']Y7abc');
    expect(aim).toEqual({ id: ']Y7', code: 'Y', modifier: '7', symbology: 'Unknown', gs1: false });
  });

  it('leaves text without an AIM id unchanged', () => {
    expect(splitAim('MODE:ISSUE')).toEqual({ data: 'MODE:ISSUE' });
    expect(splitAim(']')).toEqual({ data: ']' });
    expect(splitAim('')).toEqual({ data: '' });
  });
});
