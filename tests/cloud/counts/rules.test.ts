import { describe, expect, it } from 'vitest';
import { abcClasses, adjustmentValue, countVariance, cyclePlan } from '../../../cloud/counts/rules.js';

describe('count variance while stock moves', () => {
  it("the issue's example: snapshot 100, issue 5, counted 93 → −2, not −7", () => {
    const v = countVariance({
      snapshot: 100,
      snapshotAt: '2026-12-06T08:00:00.000Z',
      counted: 93,
      countedAt: '2026-12-06T09:00:00.000Z',
      effects: [{ appliedAt: '2026-12-06T08:30:00.000Z', delta: -5 }],
    });
    expect(v).toEqual({ expected: 95, variance: -2 });
  });

  it('movements before the snapshot or after the count scan do not count', () => {
    const v = countVariance({
      snapshot: 100,
      snapshotAt: '2026-12-06T08:00:00.000Z',
      counted: 100,
      countedAt: '2026-12-06T09:00:00.000Z',
      effects: [
        { appliedAt: '2026-12-06T07:59:59.999Z', delta: 50 },
        { appliedAt: '2026-12-06T08:00:00.000Z', delta: 50 },
        { appliedAt: '2026-12-06T09:00:00.001Z', delta: -30 },
        { appliedAt: '2026-12-06T09:00:00.000Z', delta: 3 },
      ],
    });
    expect(v).toEqual({ expected: 103, variance: -3 });
  });

  it('exact in thousandths', () => {
    const v = countVariance({ snapshot: 0.3, snapshotAt: 'a', counted: 0.1, countedAt: 'z', effects: [{ appliedAt: 'm', delta: -0.1 }] });
    expect(v.variance).toBe(-0.1);
  });
});

describe('adjustment value', () => {
  it('|variance| × average cost, half up to the fen', () => {
    expect(adjustmentValue(-2, 3450)).toBe(6900);
    expect(adjustmentValue(0.333, '3')).toBe(1); // 0.999 fen → 1
    expect(adjustmentValue(0.1665, 3)).toBe(0); // 0.4995 fen → 0
  });
});

describe('ABC cycle counts', () => {
  const items = [
    { sku: 'cement', consumptionValue: 70_000 },
    { sku: 'rebar', consumptionValue: 20_000 },
    { sku: 'bolts', consumptionValue: 6_000 },
    { sku: 'tape', consumptionValue: 3_000 },
    { sku: 'gloves', consumptionValue: 1_000 },
    { sku: 'spare', consumptionValue: 0 },
  ];

  it('A up to 80% of consumption value, B to 95%, C the rest; the item crossing a cut-off stays in the higher class', () => {
    expect(Object.fromEntries(abcClasses(items))).toEqual({ cement: 'A', rebar: 'A', bolts: 'B', tape: 'C', gloves: 'C', spare: 'C' });
  });

  it('A monthly, B quarterly, C yearly from the last count; never counted is due today; most overdue first', () => {
    const plan = cyclePlan(
      [
        { sku: 'cement', consumptionValue: 70_000, lastCounted: '2026-10-31' },
        { sku: 'bolts', consumptionValue: 6_000, lastCounted: '2026-10-01' },
        { sku: 'gloves', consumptionValue: 1_000, lastCounted: '2026-01-15' },
        { sku: 'rebar', consumptionValue: 20_000 },
      ],
      '2026-12-06',
    );
    expect(plan.map((r) => [r.sku, r.class, r.due, r.overdue])).toEqual([
      ['cement', 'A', '2026-11-30', true],
      ['rebar', 'A', '2026-12-06', false],
      ['bolts', 'B', '2027-01-01', false],
      ['gloves', 'C', '2027-01-15', false],
    ]);
  });
});
