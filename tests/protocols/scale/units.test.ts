import { describe, expect, it } from 'vitest';
import { decimalsOf, fromKg, isCountUnit, isKnownUnit, normaliseUnit, parseDecimal, roundTo, toKg } from '../../../protocols/scale/units.js';

describe('units', () => {
  it('converts with the exact legal factors (lb = 0.45359237 kg, oz = lb/16, ozt = 31.1034768 g, ct = 0.2 g)', () => {
    expect(toKg(1, 'lb', 0)).toBe(0.45359237);
    expect(toKg(16, 'oz', 0)).toBe(0.45359237);
    expect(toKg(1, 'ozt', 0)).toBe(0.0311034768);
    expect(toKg(5, 'ct', 0)).toBe(0.001);
    expect(toKg(12.34, 'g', 2)).toBe(0.01234);
    expect(toKg(1.5, 't', 1)).toBe(1500);
    expect(toKg(250, 'mg', 0)).toBe(0.00025);
    expect(toKg(2, 'KG', 0)).toBe(2);
    expect(toKg(2, ' lbs ', 0)).toBe(0.90718474);
    expect(toKg(2, 'mom', 0)).toBeUndefined();
    expect(toKg(2, '', 0)).toBeUndefined();
  });

  it('avoids float artefacts: 0.1 + 0.2 style sums round to the decimals carried', () => {
    expect(toKg(0.3, 'g', 1)).toBe(0.0003);
    expect(roundTo(0.1 + 0.2, 1)).toBe(0.3);
    expect(Object.is(roundTo(-0.0001, 2), 0)).toBe(true);
    expect(fromKg(0.45359237, 'lb', 3)).toBe(1);
    expect(fromKg(1, 'xx', 3)).toBeUndefined();
  });

  it('parses device numbers strictly', () => {
    expect(parseDecimal('+0012.34')).toEqual({ value: 12.34, decimals: 2 });
    expect(parseDecimal('-  1.5')).toEqual({ value: -1.5, decimals: 1 });
    expect(parseDecimal('.5')).toEqual({ value: 0.5, decimals: 1 });
    expect(parseDecimal('-0.00')).toEqual({ value: 0, decimals: 2 });
    expect(parseDecimal('12.')).toEqual({ value: 12, decimals: 0 });
    for (const bad of ['', '.', '+', '1.2.3', '1e5', '12a', '--1']) expect(parseDecimal(bad)).toBeUndefined();
  });

  it('small helpers', () => {
    expect(decimalsOf(12.5)).toBe(1);
    expect(decimalsOf(100)).toBe(0);
    expect(decimalsOf(1e-7)).toBe(7);
    expect(decimalsOf(1.5e-7)).toBe(8);
    expect(decimalsOf(1e21)).toBe(0);
    expect(isKnownUnit('kg')).toBe(true);
    expect(normaliseUnit('%')).toBeUndefined();
    expect(isCountUnit('PCS')).toBe(true);
    expect(isCountUnit('pc')).toBe(true);
    expect(isCountUnit('g')).toBe(false);
  });
});
