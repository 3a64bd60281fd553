import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  adi,
  bucket,
  classify,
  croston,
  crostonState,
  cv2,
  demandSigma,
  fitParams,
  forecast,
  normalQuantile,
  oneStepMse,
  reorderSuggestion,
  sba,
  ses,
  tsb,
} from '../../../cloud/forecast/rules.js';

/** The worked example of issue 11 ("Forecast"): every figure below is the issue's. */
const EXAMPLE = [0, 0, 5, 0, 0, 0, 7, 0, 0, 6, 0, 0];

describe('the issue 11 worked example (α = β = 0.1)', () => {
  it('ADI 4.00, CV² 0.018519, class intermittent', () => {
    expect(adi(EXAMPLE)).toBe(4);
    expect(cv2(EXAMPLE)).toBeCloseTo(0.018519, 6);
    expect(classify(adi(EXAMPLE), cv2(EXAMPLE))).toBe('intermittent');
  });

  it('Croston 1.708738, SBA 1.623301, TSB 1.316824 (to 1e-6)', () => {
    expect(Math.abs(croston(EXAMPLE, 0.1, 0.1) - 1.708738)).toBeLessThan(1e-6);
    expect(Math.abs(sba(EXAMPLE, 0.1, 0.1) - 1.623301)).toBeLessThan(1e-6);
    expect(Math.abs(tsb(EXAMPLE, 0.1, 0.1) - 1.316824)).toBeLessThan(1e-6);
  });

  it('Croston updates z and p only at demands after the first: z 5 → 5.2 → 5.28, p 3 → 3.1 → 3.09', () => {
    expect(crostonState(EXAMPLE.slice(0, 3), 0.1, 0.1)).toEqual({ z: 5, p: 3 });
    const s = crostonState(EXAMPLE, 0.1, 0.1)!;
    expect(s.z).toBeCloseTo(5.28, 12);
    expect(s.p).toBeCloseTo(3.09, 12);
  });

  it('forecast() with stated parameters picks SBA for intermittent demand and reports every method', () => {
    const f = forecast(EXAMPLE, { alpha: 0.1, beta: 0.1 });
    expect(f).toMatchObject({ class: 'intermittent', method: 'sba', fitted: false, alpha: 0.1, beta: 0.1 });
    expect(f.perPeriod).toBe(f.methods.sba);
    expect(f.methods.ses).toBe(ses(EXAMPLE, 0.1));
  });
});

describe('classes', () => {
  it.each([
    [[3, 4, 3, 5, 4, 3], 'smooth'],
    [[1, 30, 2, 40, 1, 25], 'erratic'],
    [[0, 0, 5, 0, 0, 6, 0, 0, 5], 'intermittent'],
    [[0, 0, 1, 0, 0, 40, 0, 0, 2], 'lumpy'],
  ] as const)('%j is %s', (series, cls) => {
    expect(classify(adi(series), cv2(series))).toBe(cls);
  });

  it('the cut-offs themselves count as the higher side (1.32, 0.49)', () => {
    expect(classify(1.32, 0)).toBe('intermittent');
    expect(classify(1.3199, 0.49)).toBe('erratic');
  });

  it('no demand at all: ADI infinite, every method forecasts 0', () => {
    const zeros = [0, 0, 0, 0];
    expect(adi(zeros)).toBe(Infinity);
    expect(cv2(zeros)).toBe(0);
    expect(croston(zeros, 0.1, 0.1)).toBe(0);
    expect(tsb(zeros, 0.1, 0.1)).toBe(0);
    expect(forecast(zeros).perPeriod).toBe(0);
  });
});

describe('SES', () => {
  it('starts at the first value and smooths towards later ones', () => {
    expect(ses([10], 0.5)).toBe(10);
    expect(ses([10, 20], 0.5)).toBe(15);
    expect(ses([10, 20, 20], 0.5)).toBe(17.5);
    expect(ses([], 0.3)).toBe(0);
  });
});

describe('properties', () => {
  const demand = fc.array(fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 1, max: 500 })), { minLength: 1, maxLength: 60 });
  const param = fc.double({ min: 0.01, max: 0.99, noNaN: true });

  it('a constant demand every period is forecast exactly by every method', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 1, max: 40 }), param, (d, n, a) => {
        const s = Array.from({ length: n }, () => d);
        expect(ses(s, a)).toBeCloseTo(d, 9);
        expect(croston(s, a, a)).toBeCloseTo(d, 9);
        expect(tsb(s, a, a)).toBeCloseTo(d, 9);
      }),
    );
  });

  it('forecasts are never negative and never above the largest demand', () => {
    fc.assert(
      fc.property(demand, param, param, (s, a, b) => {
        const max = Math.max(...s);
        for (const f of [ses(s, a), croston(s, a, b), sba(s, a, b), tsb(s, a, b)]) {
          expect(f).toBeGreaterThanOrEqual(0);
          expect(f).toBeLessThanOrEqual(max + 1e-9);
        }
      }),
    );
  });

  it('SBA is Croston deflated by (1 − β/2)', () => {
    fc.assert(
      fc.property(demand, param, param, (s, a, b) => {
        expect(sba(s, a, b)).toBeCloseTo((1 - b / 2) * croston(s, a, b), 9);
      }),
    );
  });

  it('fitted parameters are no worse than any other grid point', () => {
    const s = [0, 3, 0, 0, 8, 0, 2, 0, 0, 0, 9, 0, 1, 0, 4];
    const fit = fitParams('sba', s);
    const best = oneStepMse('sba', s, fit.alpha, fit.beta);
    for (const a of [0.05, 0.2, 0.5]) for (const b of [0.05, 0.25, 0.5]) expect(best).toBeLessThanOrEqual(oneStepMse('sba', s, a, b) + 1e-12);
    expect(forecast(s).fitted).toBe(true);
  });
});

describe('reorder point', () => {
  it('normal quantiles of the usual service levels', () => {
    expect(normalQuantile(0.5)).toBeCloseTo(0, 9);
    expect(normalQuantile(0.95)).toBeCloseTo(1.644854, 6);
    expect(normalQuantile(0.99)).toBeCloseTo(2.326348, 6);
    expect(normalQuantile(0.01)).toBeCloseTo(-2.326348, 6);
    expect(() => normalQuantile(1)).toThrow(/service level/);
  });

  it('ROP = demand over the lead time + z·σ·√L; order up to ROP + one lead time of demand', () => {
    const r = reorderSuggestion({ perPeriod: 2, sigma: 3, leadTimePeriods: 4, serviceLevel: 0.95, onHand: 5, onOrder: 1 });
    expect(r.demandOverLeadTime).toBe(8);
    expect(r.safetyStock).toBeCloseTo(1.644854 * 3 * 2, 5);
    expect(r.reorderPoint).toBeCloseTo(8 + 9.869124, 5);
    expect(r.suggestedQty).toBeCloseTo(8 + 9.869124 + 8 - 6, 5);
    expect(reorderSuggestion({ perPeriod: 2, sigma: 3, leadTimePeriods: 4, serviceLevel: 0.95, onHand: 100 }).suggestedQty).toBe(0);
  });

  it('σ is the population standard deviation of the per-period demand', () => {
    expect(demandSigma([2, 4, 4, 4, 5, 5, 7, 9])).toBe(2);
    expect(demandSigma([])).toBe(0);
  });
});

describe('bucket', () => {
  it('days with no issue count as 0; from and to are inclusive; outside events are ignored', () => {
    const b = bucket(
      [
        { ts: '2026-03-01T08:00:00Z', qty: 2 },
        { ts: '2026-03-01T17:00:00Z', qty: 0.1 },
        { ts: '2026-03-01T18:00:00Z', qty: 0.2 },
        { ts: '2026-03-03T23:59:59.999Z', qty: 5 },
        { ts: '2026-03-04T00:00:00Z', qty: 99 },
        { ts: '2026-02-28T23:59:59Z', qty: 99 },
      ],
      '2026-03-01',
      '2026-03-03',
      'day',
    );
    expect(b.starts).toEqual(['2026-03-01', '2026-03-02', '2026-03-03']);
    expect(b.series).toEqual([2.3, 0, 5]);
  });

  it('weeks start on Monday (ISO), UTC', () => {
    // 2026-03-04 is a Wednesday; its week starts Monday 2026-03-02.
    const b = bucket([{ ts: '2026-03-04T10:00:00Z', qty: 1 }, { ts: '2026-03-09T00:00:00Z', qty: 4 }], '2026-03-04', '2026-03-10', 'week');
    expect(b.starts).toEqual(['2026-03-02', '2026-03-09']);
    expect(b.series).toEqual([1, 4]);
  });
});
