import { describe, expect, it } from 'vitest';
import { countByWeight, pieceWeight, rebaseline } from '../../../protocols/scale/count.js';
import { ProtocolError } from '../../../protocols/errors.js';

describe('countByWeight', () => {
  it('reproduces the reference examples: CV 1 %, N = 1000 -> sigma 3.2 (n = 10) and 1.4 (n = 50)', () => {
    // APW 2 g; 1000 pieces weigh 2 kg.
    const n10 = countByWeight({ sampleKg: 0.02, samplePieces: 10, netKg: 2 });
    expect(n10.pieces).toBe(1000);
    expect(n10.apwKg).toBe(0.002);
    // sqrt(0.01^2 * (1000^2/10 + 1000)) = sqrt(10.1) = 3.178
    expect(n10.uncertaintyPieces).toBeCloseTo(3.18, 2);
    const n50 = countByWeight({ sampleKg: 0.1, samplePieces: 50, netKg: 2 });
    // sqrt(0.01^2 * (1000^2/50 + 1000)) = sqrt(2.1) = 1.449
    expect(n50.uncertaintyPieces).toBeCloseTo(1.45, 2);
    expect(n50.warnings).toEqual([]);
  });

  it('adds the rounding term d^2/12 per reading (twice when the tare is subtracted here)', () => {
    // CV 0: only rounding. APW 0.01 kg, d 0.001 kg, N = 100, S = 0.1 kg.
    // var = (d^2/12) * (1/APW^2 + N^2/S^2) = (1e-6/12) * (1e4 + 1e6) = 0.0841667 -> sigma 0.29
    const r = countByWeight({ sampleKg: 0.1, samplePieces: 10, netKg: 1, resolutionKg: 0.001, pieceCv: 0 });
    expect(r.uncertaintyPieces).toBeCloseTo(Math.sqrt((1e-6 / 12) * (1e4 + 1e6)), 2);
    const t = countByWeight({ sampleKg: 0.6, samplePieces: 10, netKg: 1.5, resolutionKg: 0.001, pieceCv: 0, tareKg: 0.5 });
    expect(t.pieces).toBe(100);
    expect(t.uncertaintyPieces).toBeCloseTo(Math.sqrt((2e-6 / 12) * (1e4 + 1e6)), 2);
  });

  it('warns: small sample, sample below 0.1 % of capacity, APW below d, doubtful fraction', () => {
    const r = countByWeight({ sampleKg: 0.0025, samplePieces: 5, netKg: 0.2375, resolutionKg: 0.001, capacityKg: 30 });
    // APW 0.5 g < d 1 g; 0.2375 / 0.0005 = 475 exactly -> not doubtful.
    expect(r.warnings.map((w) => w.code)).toEqual(['sample-too-small', 'sample-below-capacity-fraction', 'apw-below-resolution']);
    const doubtful = countByWeight({ sampleKg: 0.1, samplePieces: 10, netKg: 1.045 });
    expect(doubtful.ratio).toBe(104.5);
    expect(doubtful.pieces).toBe(105);
    expect(doubtful.warnings.map((w) => w.code)).toEqual(['doubtful-count']);
    const fine = countByWeight({ sampleKg: 0.1, samplePieces: 10, netKg: 1.0225, capacityKg: 100 });
    expect(fine.warnings).toEqual([]); // 0.25 from an integer is within the 0.3 limit; 0.1 kg = 0.1 % of 100 kg
  });

  it('handles an empty load and rejects invalid input naming the field', () => {
    expect(countByWeight({ sampleKg: 0.1, samplePieces: 10, netKg: 0 })).toMatchObject({ pieces: 0, uncertaintyPieces: 0 });
    const bad: Array<[Parameters<typeof countByWeight>[0], RegExp]> = [
      [{ sampleKg: 0, samplePieces: 10, netKg: 1 }, /sampleKg/],
      [{ sampleKg: Number.NaN, samplePieces: 10, netKg: 1 }, /sampleKg/],
      [{ sampleKg: 0.1, samplePieces: 2.5, netKg: 1 }, /samplePieces/],
      [{ sampleKg: 0.1, samplePieces: 10, netKg: -1 }, /netKg/],
      [{ sampleKg: 0.1, samplePieces: 10, netKg: 1, resolutionKg: -1 }, /resolutionKg/],
      [{ sampleKg: 0.1, samplePieces: 10, netKg: 1, tareKg: -1 }, /tareKg/],
      [{ sampleKg: 0.1, samplePieces: 10, netKg: 1, capacityKg: 0 }, /capacityKg/],
      [{ sampleKg: 0.1, samplePieces: 10, netKg: 1, pieceCv: 1 }, /pieceCv/],
      [{ sampleKg: 0.1, samplePieces: 10, netKg: 1, tareKg: 0.2 }, /sampleKg/],
    ];
    for (const [input, field] of bad) {
      expect(() => countByWeight(input)).toThrow(ProtocolError);
      expect(() => countByWeight(input)).toThrow(field);
    }
  });
});

describe('pieceWeight and rebaseline', () => {
  it('APW after the container tare, and a re-baseline weighted by pieces', () => {
    const pw = pieceWeight(0.55, 10, 0.5); // 10 pieces in a 0.5 kg box
    expect(pw.samplePieces).toBe(10);
    expect(pw.apwKg).toBeCloseTo(0.005, 12);
    // A counted carton of 90 pieces weighing 0.468 kg: APW' = (0.05 + 0.468) / 100 = 0.00518
    const next = rebaseline(pw, 0.468, 90);
    expect(next.samplePieces).toBe(100);
    expect(next.apwKg).toBeCloseTo(0.00518, 12);
    // Not the plain mean of the two APWs (0.005 and 0.0052 -> 0.0051).
    expect(next.apwKg).not.toBeCloseTo(0.0051, 6);
    const r = countByWeight({ sampleKg: next.sampleKg, samplePieces: next.samplePieces, netKg: 5.18 });
    expect(r.pieces).toBe(1000);
  });
});
