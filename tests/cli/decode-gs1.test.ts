import { describe, expect, it } from 'vitest';
import { decodeGs1, unescapeGs } from '../../cli/commands/decode-gs1.js';
import { runStockgate } from '../helpers/procs.js';

const GS = '\u001d';

function run(...args: string[]) {
  const r = runStockgate(['decode', 'gs1', ...args]);
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function ok(...args: string[]): Record<string, unknown> {
  const r = run(...args);
  expect(r.stderr).toBe('');
  expect(r.code, r.stderr).toBe(0);
  const lines = r.stdout.trim().split('\n');
  expect(lines).toHaveLength(1); // ONE JSON object
  return JSON.parse(lines[0]!) as Record<string, unknown>;
}

function fails(...args: string[]): { code: string; message: string } {
  const r = run(...args);
  expect(r.code, r.stderr).toBe(2);
  expect(r.stdout).toBe('');
  const err = JSON.parse(r.stderr.trim()) as { error: { code: string; message: string } };
  expect(Object.keys(err)).toEqual(['error']);
  return err.error;
}

const FULL = { ais: { '01': '09506000134352', '17': '261231', '10': 'ABC123', '21': '12345' }, gtin: '09506000134352', batch: 'ABC123', serial: '12345', expiry: '2026-12-31' };

describe('stockgate decode gs1', () => {

  it('decodes an element string with a literal GS and a leading AIM id', () => {
    expect(ok(`]C1010950600013435217261231` + `10ABC123${GS}2112345`)).toEqual(FULL);
  });

  it.each(['\\x1D', '\\x1d', '\\u001d', '\\u001D', '<GS>', '{GS}', '<gs>'])('accepts %s as the separator', (sep) => {
    expect(ok(`010950600013435217261231` + `10ABC123${sep}2112345`)).toEqual(FULL);
  });

  it('decodes the "(01)..." form and a Digital Link URI', () => {
    expect(ok('(01)09506000134352(17)261231(10)ABC123(21)12345')).toEqual(FULL);
    expect(ok('https://id.gs1.org/01/09506000134352/10/ABC123/21/12345?17=261231')).toEqual(FULL);
  });

  it('decodes --hex bytes (a capture), GS as 1D', () => {
    const hex = Buffer.from(`]C10109506000134352` + `17261231` + `10ABC123${GS}2112345`, 'latin1').toString('hex');
    expect(ok('--hex', hex.replace(/(..)/g, '$1 ').trim())).toEqual(FULL);
  });

  it('prints numbers as numbers and dates as ISO', () => {
    const out = ok(`]C100106141412345678908` + `3724${GS}` + `3102001250` + `3301000135` + `11250300` + `15251200` + `4149506000134352`);
    expect(out).toEqual({
      ais: { '00': '106141412345678908', '37': '24', '3102': '001250', '3301': '000135', '11': '250300', '15': '251200', '414': '9506000134352' },
      sscc: '106141412345678908',
      gln: '9506000134352',
      bestBefore: '2025-12-31',
      productionDate: '2025-03-31',
      count: 24,
      netWeightKg: 12.5,
      grossWeightKg: 13.5,
    });
  });

  it('applies the century window relative to --now', () => {
    expect(ok('17760101', '--now', '2025-06-01').ais).toEqual({ '17': '760101' });
    expect(ok('17760101', '--now', '2025-06-01')).toMatchObject({ expiry: '1976-01-01' });
    expect(ok('17760101', '--now', '2030-06-01')).toMatchObject({ expiry: '2076-01-01' });
  });

  it('exits 2 with a coded JSON error on invalid data', () => {
    expect(fails('0109506000134353')).toMatchObject({ code: 'SG_ERR_PROTO_CHECK', message: expect.stringMatching(/AI 01 .*expected 2/) });
    expect(fails('0109506000134352' + '10LOT42' + '3102001250').code).toBe('SG_ERR_PROTO_AMBIGUOUS');
    expect(fails('2312').code).toBe('SG_ERR_PROTO_UNKNOWN');
    expect(fails('17251301').code).toBe('SG_ERR_PROTO_RANGE');
    expect(fails('10AB~').message).toMatch(/index 4/);
    expect(fails('--hex', '5D4').code).toBe('SG_ERR_BAD_HEX');
    expect(fails().code).toBe('SG_ERR_PROTO_ARGUMENT');
    expect(fails('17251231', '--now', 'yesterday').code).toBe('SG_ERR_PROTO_ARGUMENT');
  });
});

describe('decodeGs1 (command logic)', () => {
  it('rejects both <text> and --hex', () => {
    expect(() => decodeGs1('01', { hex: '3031' })).toThrow(/exactly one/);
  });

  it('unescapes only the separator spellings', () => {
    expect(unescapeGs('A\\x1dB<GS>C{gs}D\\u001DE')).toBe(`A${GS}B${GS}C${GS}D${GS}E`);
    expect(unescapeGs('A\\x1eB<G>')).toBe('A\\x1eB<G>');
  });
});
