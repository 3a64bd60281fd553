import { describe, expect, it } from 'vitest';
import { attentionOf, type AttentionInput } from '../../../cloud/board/attention.js';

const o = { today: '2026-12-06', windowDays: 28, staleDays: 60, nearExpiryDays: 30, coverDays: 7 };
const input = (x: Partial<AttentionInput>): AttentionInput => ({ site: 'S', sku: 'CEM', uom: 'ea', onHandMilli: 100_000, issuedMilli: 0, lastMovementAt: '2026-12-05T10:00:00Z', batches: [], ...x });

/** The attention rules (cloud/board/attention.ts): levels, days of cover, expiry, stale stock. */
describe('attention rules', () => {
  it('days of cover = on hand / average daily issue over 28 days, with the stock-out date', () => {
    // 56 issued in 28 days = 2 a day; 10 on hand = 5 days -> 2026-12-11.
    const r = attentionOf(input({ onHandMilli: 10_000, issuedMilli: 56_000 }), o)!;
    expect(r).toMatchObject({ avgDailyIssue: 2, daysOfCover: 5, stockoutDate: '2026-12-11', reasons: ['stockout-soon'] });
    // 100 on hand at 2 a day = 50 days: nothing to say.
    expect(attentionOf(input({ issuedMilli: 56_000 }), o)).toBeUndefined();
  });

  it('below safety stock wins over the reorder point', () => {
    expect(attentionOf(input({ onHandMilli: 5_000, safetyStock: 10, reorderPoint: 20 }), o)!.reasons).toEqual(['below-safety']);
    expect(attentionOf(input({ onHandMilli: 20_000, safetyStock: 10, reorderPoint: 20 }), o)!.reasons).toEqual(['below-reorder']);
    expect(attentionOf(input({ onHandMilli: 21_000, safetyStock: 10, reorderPoint: 20 }), o)).toBeUndefined();
  });

  it('lists expired and near-expiry batches with stock, first-expiring first', () => {
    const r = attentionOf(
      input({
        batches: [
          { location: 'A', batch: 'L1', expiry: '2026-12-20', onHandMilli: 3_000 },
          { location: 'A', batch: 'L0', expiry: '2026-12-01', onHandMilli: 2_000 },
          { location: 'A', batch: 'L2', expiry: '2027-06-01', onHandMilli: 5_000 },
          { location: 'A', batch: 'EMPTY', expiry: '2026-11-01', onHandMilli: 0 },
        ],
      }),
      o,
    )!;
    expect(r.reasons).toEqual(['expired', 'near-expiry']);
    expect(r.expiring.map((b) => [b.batch, b.days])).toEqual([['L0', -5], ['L1', 14]]);
  });

  it('stale: stock with no movement for staleDays', () => {
    expect(attentionOf(input({ lastMovementAt: '2026-10-07T00:00:00Z' }), o)!.reasons).toEqual(['stale']);
    expect(attentionOf(input({ lastMovementAt: '2026-10-08T00:00:00Z' }), o)).toBeUndefined();
    expect(attentionOf(input({ lastMovementAt: '2026-01-01T00:00:00Z', onHandMilli: 0 }), o)).toBeUndefined();
  });
});
