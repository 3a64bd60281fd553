import { describe, expect, it } from 'vitest';
import { explodeBom, explodePlan, isOverIssued, overIssueLimitMilli, planDiff, planStatus, PlanError } from '../../../cloud/projects/rules.js';

/** The issue 11 scenario's BOMs: F = {cement 50 bag, rebar 1.5 t}; S = {cement 40, rebar 2, formwork 10}. */
const BOMS = new Map([
  ['F', [{ sku: 'cement', qtyPer: 50 }, { sku: 'rebar', qtyPer: 1.5 }]],
  ['S', [{ sku: 'cement', qtyPer: 40 }, { sku: 'rebar', qtyPer: 2 }, { sku: 'formwork', qtyPer: 10 }]],
]);

describe('plans', () => {
  it('stage 1 = F × 2: cement 100, rebar 3 (thousandths)', () => {
    expect(explodePlan([{ bom: 'F', multiplier: 2 }], BOMS)).toEqual([
      { sku: 'cement', qtyMilli: 100_000, sources: ['F×2'] },
      { sku: 'rebar', qtyMilli: 3_000, sources: ['F×2'] },
    ]);
  });

  it('a BOM multiple and direct lines of the same SKU add up; the earliest needBy of the direct lines wins', () => {
    const plan = explodePlan(
      [
        { bom: 'S', multiplier: 3 },
        { sku: 'cement', qty: 0.5, needBy: '2027-05-01' },
        { sku: 'cement', qty: 1, needBy: '2027-04-01' },
      ],
      BOMS,
    );
    expect(plan.find((l) => l.sku === 'cement')).toEqual({ sku: 'cement', qtyMilli: 121_500, needBy: '2027-04-01', sources: ['S×3', 'direct'] });
    expect(plan.map((l) => l.sku)).toEqual(['cement', 'formwork', 'rebar']);
  });

  it('scrap is added on top and rounded half up to thousandths once per line', () => {
    expect(explodeBom([{ sku: 'x', qtyPer: 0.333, scrapPct: 5 }], 3)).toEqual([{ sku: 'x', qtyMilli: 1049 }]); // 1.04895 → 1.049
    expect(explodeBom([{ sku: 'x', qtyPer: 1.1, scrapPct: 0 }], 3)).toEqual([{ sku: 'x', qtyMilli: 3300 }]); // not 3300.0000000000005
  });

  it('an unknown BOM, a fourth decimal or a non-positive quantity is refused, naming the line', () => {
    expect(() => explodePlan([{ bom: 'Q', multiplier: 1 }], BOMS)).toThrow(new PlanError('lines[0].bom', 'no BOM Q'));
    expect(() => explodePlan([{ sku: 'a', qty: 1 }, { sku: 'b', qty: 0.0001 }], BOMS)).toThrow(/lines\[1\]\.qty: 0.0001 has more than 3 decimals/);
    expect(() => explodePlan([{ bom: 'F', multiplier: 0 }], BOMS)).toThrow(/lines\[0\]\.multiplier/);
    expect(() => explodePlan([{ sku: 'a', qty: -1 }], BOMS)).toThrow(/lines\[0\]\.qty: must be positive/);
  });
});

describe('plan status and over-issue (超领)', () => {
  it('planned, issued and remaining per SKU; an unplanned SKU that was issued shows too', () => {
    const plan = explodePlan([{ bom: 'F', multiplier: 2 }], BOMS);
    expect(planStatus(plan, new Map([['cement', 60_000], ['rebar', 3_000], ['sand', 500]]))).toEqual([
      { sku: 'cement', plannedMilli: 100_000, issuedMilli: 60_000, remainingMilli: 40_000 },
      { sku: 'rebar', plannedMilli: 3_000, issuedMilli: 3_000, remainingMilli: 0 },
      { sku: 'sand', plannedMilli: 0, issuedMilli: 500, remainingMilli: 0 },
    ]);
  });

  it('over plan + 5% by default: 105 of 100 is not over, 105.001 is', () => {
    expect(isOverIssued(100_000, 105_000)).toBe(false);
    expect(isOverIssued(100_000, 105_001)).toBe(true);
    expect(isOverIssued(100_000, 101_000, 0)).toBe(true);
    expect(isOverIssued(0, 1)).toBe(true);
  });

  it('overIssueLimitMilli is the last net issued within plan + tolerance: over exactly when past it (fractional limits, returns below zero)', () => {
    expect(overIssueLimitMilli(100_000)).toBe(105_000);
    // 333 x 1.07 = 356.31: 356 is within, 357 over.
    expect(overIssueLimitMilli(333, 7)).toBe(356);
    for (let k = 0; k < 2000; k++) {
      const planned = Math.floor(Math.random() * 1_000_000);
      const tol = [0, 1, 2.5, 5, 7, 12.5, 33][k % 7]!;
      const limit = overIssueLimitMilli(planned, tol);
      for (const issued of [limit - 1, limit, limit + 1, -planned, Math.floor(Math.random() * 2_000_000) - 500_000]) {
        expect(issued > limit, `planned ${planned} tol ${tol} issued ${issued}`).toBe(isOverIssued(planned, issued, tol));
      }
    }
  });

  it('a new plan version is described by what changed', () => {
    const v1 = explodePlan([{ bom: 'F', multiplier: 2 }], BOMS);
    const v2 = explodePlan([{ bom: 'F', multiplier: 3 }, { sku: 'sand', qty: 2 }], BOMS);
    expect(planDiff(v1, v2)).toEqual([
      { sku: 'cement', fromMilli: 100_000, toMilli: 150_000 },
      { sku: 'rebar', fromMilli: 3_000, toMilli: 4_500 },
      { sku: 'sand', fromMilli: 0, toMilli: 2_000 },
    ]);
  });
});
