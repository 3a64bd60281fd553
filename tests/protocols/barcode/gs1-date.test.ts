import { describe, expect, it } from 'vitest';
import { daysInMonth, decodeYymmdd, gs1Year } from '../../../protocols/barcode/gs1-date.js';

const at = (y: number) => new Date(Date.UTC(y, 5, 15));

describe('GS1 dates [GenSpecs 7.12]', () => {
  it('places YY within -49..+50 years of the current year', () => {
    // In 2025: 75 is 2025+50 -> 2075; 76 would be +51 -> 1976; 76 is 2025-49 -> 1976.
    expect(gs1Year(75, at(2025))).toBe(2075);
    expect(gs1Year(76, at(2025))).toBe(1976);
    expect(gs1Year(25, at(2025))).toBe(2025);
    expect(gs1Year(0, at(2025))).toBe(2000);
    // In 2090: 40 - 90 = -50 is outside the window -> next century 2140; 41 - 90 = -49 -> 2041.
    expect(gs1Year(40, at(2090))).toBe(2140);
    expect(gs1Year(41, at(2090))).toBe(2041);
    // In 2010: 60 is +50 -> 2060; 61 is +51 -> 1961; 99 -> 1999.
    expect(gs1Year(60, at(2010))).toBe(2060);
    expect(gs1Year(61, at(2010))).toBe(1961);
    expect(gs1Year(99, at(2010))).toBe(1999);
  });

  it('reads DD=00 as the last day of the month when allowed', () => {
    expect(decodeYymmdd('240200', true, at(2025))).toEqual({ iso: '2024-02-29' });
    expect(decodeYymmdd('250200', true, at(2025))).toEqual({ iso: '2025-02-28' });
    expect(decodeYymmdd('251100', true, at(2025))).toEqual({ iso: '2025-11-30' });
    expect(decodeYymmdd('251200', false, at(2025))).toEqual({ reason: 'day 00 is not allowed for this AI' });
  });

  it('rejects impossible dates', () => {
    expect(decodeYymmdd('251301', true, at(2025))).toHaveProperty('reason');
    expect(decodeYymmdd('250001', true, at(2025))).toHaveProperty('reason');
    expect(decodeYymmdd('250230', true, at(2025))).toHaveProperty('reason');
    expect(decodeYymmdd('250431', true, at(2025))).toHaveProperty('reason');
    expect(decodeYymmdd('261231', true, at(2025))).toEqual({ iso: '2026-12-31' });
  });

  it('knows month lengths', () => {
    expect(daysInMonth(2100, 2)).toBe(28);
    expect(daysInMonth(2000, 2)).toBe(29);
  });
});
