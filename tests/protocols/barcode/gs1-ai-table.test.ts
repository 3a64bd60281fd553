import { describe, expect, it } from 'vitest';
import { GS1_AI_TABLE, PREDEFINED_LENGTH_PREFIXES, lookupAi, parseFormat } from '../../../protocols/barcode/gs1-ai-table.js';

describe('GS1 AI table [GenSpecs 3.2, Figure 3.2-1]', () => {
  // Formats as printed in the GenSpecs AI table (N = numeric, X = CSET 82).
  it.each([
    ['00', 18, 18, true], ['01', 14, 14, true], ['02', 14, 14, true], ['10', 1, 20, false], ['11', 6, 6, true],
    ['13', 6, 6, true], ['15', 6, 6, true], ['17', 6, 6, true], ['21', 1, 20, false], ['30', 1, 8, false],
    ['37', 1, 8, false], ['3102', 6, 6, true], ['3303', 6, 6, true], ['400', 1, 30, false], ['410', 13, 13, true],
    ['414', 13, 13, true], ['12', 6, 6, true], ['16', 6, 6, true], ['20', 2, 2, true], ['22', 1, 20, false],
    ['240', 1, 30, false], ['241', 1, 30, false], ['250', 1, 30, false], ['251', 1, 30, false], ['401', 1, 30, false],
    ['402', 17, 17, true], ['403', 1, 30, false], ['420', 1, 20, false], ['421', 4, 12, false], ['422', 3, 3, true],
    ['7003', 10, 10, true], ['8003', 14, 30, false], ['8004', 1, 30, false], ['8020', 1, 25, false],
  ])('AI %s: %i..%i characters, fixed=%s', (ai, min, max, fixed) => {
    const spec = GS1_AI_TABLE.get(ai)!;
    expect(spec).toBeDefined();
    expect([spec.minLength, spec.maxLength, spec.fixed]).toEqual([min, max, fixed]);
  });

  it('uses the predefined-length table for "no separator needed" [GenSpecs Figure 7.8.5-2]', () => {
    for (const ai of ['00', '01', '02', '11', '13', '15', '17', '20', '3102', '3301', '410', '414']) {
      expect(GS1_AI_TABLE.get(ai)!.predefined, ai).toBe(true);
    }
    // Fixed length but not in the table: a separator is still required after these.
    for (const ai of ['422', '402', '7003', '8005', '10', '21', '30', '37', '400']) {
      expect(GS1_AI_TABLE.get(ai)!.predefined, ai).toBe(false);
    }
    expect(PREDEFINED_LENGTH_PREFIXES.size).toBe(22);
  });

  it('gives 31nn-36nn and 39nn their implied decimals', () => {
    expect(GS1_AI_TABLE.get('3100')!.decimals).toBe(0);
    expect(GS1_AI_TABLE.get('3105')!.decimals).toBe(5);
    expect(GS1_AI_TABLE.get('3306')).toBeUndefined();
    expect(GS1_AI_TABLE.get('3922')!.decimals).toBe(2);
    expect(GS1_AI_TABLE.get('400')!.decimals).toBeUndefined();
  });

  it('is prefix-free, so lookup by 2, 3 then 4 digits is unambiguous [GenSpecs 3.1]', () => {
    const ais = [...GS1_AI_TABLE.keys()];
    const clashes = ais.flatMap((a) => ais.filter((b) => a !== b && b.startsWith(a)).map((b) => `${a}/${b}`));
    expect(clashes).toEqual([]);
    expect(ais.length).toBe(522);
  });

  it('finds the AI at a position', () => {
    expect(lookupAi('xx3102001250', 2)?.ai).toBe('3102');
    expect(lookupAi('0109506000134352')?.ai).toBe('01');
    expect(lookupAi('2301')).toBeUndefined();
  });

  it('titles numbered AIs', () => {
    expect(GS1_AI_TABLE.get('7030')!.title).toBe('PROCESSOR # 0');
    expect(GS1_AI_TABLE.get('7230')!.title).toBe('CERT # 1');
    expect(GS1_AI_TABLE.get('7239')!.title).toBe('CERT # 10');
  });

  it('rejects a malformed format (programming error in the table)', () => {
    expect(() => parseFormat('Q12')).toThrow(/bad AI format/);
    expect(() => parseFormat('N6,nope')).toThrow(/unknown AI rule/);
  });
});
