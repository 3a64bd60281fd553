import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Levels } from '../../../cloud/alerts/alert-store.js';
import {
  type Condition,
  type Direction,
  batchesOf,
  compare,
  daysUntil,
  decide,
  expirySubjects,
  expiredCondition,
  nearExpiryCondition,
  statusSubjects,
  STOCK_RULES,
  stockCondition,
  stockSubjects,
  telemetrySubjects,
} from '../../../cloud/alerts/rules.js';

const levels = (o: Partial<Levels> = {}): Levels => ({ site: 'S', sku: 'X', hysteresis: 0, updatedAt: '2026-01-01T00:00:00.000Z', ...o });
const rule = (type: string) => STOCK_RULES.find((r) => r.type === type)!;

/** Feed on-hand values through one rule the way the engine does; returns the open/resolve trace. */
function trace(type: string, l: Levels | undefined, values: Array<number | undefined>): string[] {
  let open = false;
  const out: string[] = [];
  for (const v of values) {
    const d = decide(stockCondition(rule(type), l, v), open);
    if (d === 'open') open = true;
    if (d === 'resolve') open = false;
    out.push(d);
  }
  return out;
}

describe('decide', () => {
  it.each([
    [{ state: 'breached' }, false, 'open'],
    [{ state: 'breached' }, true, 'none'],
    [{ state: 'clear' }, false, 'none'],
    [{ state: 'clear' }, true, 'resolve'],
    [{ state: 'hold' }, false, 'none'],
    [{ state: 'hold' }, true, 'none'],
  ] as Array<[Condition, boolean, string]>)('%j with open=%s → %s', (c, open, want) => {
    expect(decide(c, open)).toBe(want);
  });
});

describe('compare', () => {
  // [direction, value, threshold, hysteresis, expected state]
  it.each([
    ['below', 9.99, 10, 0, 'breached'],
    ['below', 10, 10, 0, 'clear'],
    ['below', 10, 10, 2, 'hold'],
    ['below', 11.99, 10, 2, 'hold'],
    ['below', 12, 10, 2, 'clear'],
    ['below', -5, 0, 0, 'breached'],
    ['below', 0, 0, 0, 'clear'],
    ['at-or-below', 10, 10, 0, 'breached'],
    ['at-or-below', 10.01, 10, 0, 'clear'],
    ['at-or-below', 12, 10, 2, 'hold'],
    ['at-or-below', 12.01, 10, 2, 'clear'],
    ['above', 10.01, 10, 0, 'breached'],
    ['above', 10, 10, 0, 'clear'],
    ['above', 9, 10, 2, 'hold'],
    ['above', 8, 10, 2, 'clear'],
    ['above', 0, 0, 0, 'clear'],
  ] as Array<[Direction, number, number, number, string]>)('%s: value %d vs threshold %d, hysteresis %d → %s', (dir, v, t, h, want) => {
    expect(compare(dir, v, t, h).state).toBe(want);
  });

  it('reports value and threshold when breached', () => {
    expect(compare('below', 3, 10)).toEqual({ state: 'breached', value: 3, threshold: 10 });
  });

  it('treats a negative hysteresis as 0 (never a clear inside the breach)', () => {
    expect(compare('below', 9, 10, -5).state).toBe('breached');
    expect(compare('below', 10, 10, -5).state).toBe('clear');
  });

  it('never breaches and clears at once, and has no hold band without hysteresis', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<Direction>('below', 'at-or-below', 'above'),
        fc.double({ min: -1e6, max: 1e6, noNaN: true }),
        fc.double({ min: -1e6, max: 1e6, noNaN: true }),
        (dir, v, t) => {
          expect(compare(dir, v, t, 0).state).not.toBe('hold');
        },
      ),
    );
  });
});

describe('stock rules', () => {
  it('has one row per stock-level type', () => {
    expect(STOCK_RULES.map((r) => r.type)).toEqual(['safety-stock', 'reorder', 'overstock']);
  });

  it('holds for an item never stocked at the site (levels set ahead of the first delivery)', () => {
    for (const r of STOCK_RULES) expect(stockCondition(r, levels({ safetyStock: 10, reorderPoint: 10, maxStock: 10 }), undefined).state).toBe('hold');
  });

  it('clears when the threshold is not set, or there are no levels', () => {
    for (const r of STOCK_RULES) {
      expect(stockCondition(r, levels(), 0).state).toBe('clear');
      expect(stockCondition(r, undefined, 0).state).toBe('clear');
    }
  });

  it('safety stock 10: receive 15, issue 8, receive 5 → one alert opens, then resolves', () => {
    expect(trace('safety-stock', levels({ safetyStock: 10 }), [undefined, 15, 7, 12])).toEqual(['none', 'none', 'open', 'resolve']);
  });

  it('further movements below the threshold open nothing more', () => {
    expect(trace('safety-stock', levels({ safetyStock: 10 }), [9, 5, 0, -3, 9.5, 10])).toEqual(['open', 'none', 'none', 'none', 'none', 'resolve']);
  });

  it('resolves only at threshold + hysteresis', () => {
    expect(trace('safety-stock', levels({ safetyStock: 10, hysteresis: 5 }), [7, 10, 14.9, 9, 15, 14, 9])).toEqual([
      'open',
      'none',
      'none',
      'none',
      'resolve',
      'none',
      'open',
    ]);
  });

  it('reorder opens at the reorder point itself and resolves above it (+ hysteresis)', () => {
    expect(trace('reorder', levels({ reorderPoint: 20 }), [25, 20, 20.5])).toEqual(['none', 'open', 'resolve']);
    expect(trace('reorder', levels({ reorderPoint: 20, hysteresis: 3 }), [20, 23, 23.1])).toEqual(['open', 'none', 'resolve']);
  });

  it('overstock opens above max and resolves at max - hysteresis', () => {
    expect(trace('overstock', levels({ maxStock: 100 }), [100, 101, 100])).toEqual(['none', 'open', 'resolve']);
    expect(trace('overstock', levels({ maxStock: 100, hysteresis: 10 }), [150, 95, 90])).toEqual(['open', 'none', 'resolve']);
  });

  it('removing a level resolves its open alert', () => {
    let open = false;
    for (const l of [levels({ safetyStock: 10 }), levels()]) {
      const d = decide(stockCondition(rule('safety-stock'), l, 3), open);
      open = d === 'open' ? true : d === 'resolve' ? false : open;
    }
    expect(open).toBe(false);
  });

  it('property: the alert is open exactly when the last non-hold condition was a breach', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('safety-stock', 'reorder', 'overstock'),
        fc.integer({ min: 0, max: 50 }),
        fc.integer({ min: 0, max: 10 }),
        fc.array(fc.integer({ min: -10, max: 80 }), { maxLength: 40 }),
        (type, t, h, values) => {
          const field = rule(type).field;
          const l = levels({ [field]: t, hysteresis: h });
          let open = false;
          let lastDecisive: string | undefined;
          let opens = 0;
          for (const v of values) {
            const c = stockCondition(rule(type), l, v);
            const d = decide(c, open);
            if (d === 'open') (open = true), opens++;
            if (d === 'resolve') open = false;
            if (c.state !== 'hold') lastDecisive = c.state;
            expect(open).toBe(lastDecisive === 'breached');
          }
          // One open per breach episode: never more opens than entries into the breach.
          let entries = 0;
          let inside = false;
          for (const v of values) {
            const c = stockCondition(rule(type), l, v).state;
            if (c === 'breached' && !inside) (entries++, (inside = true));
            if (c === 'clear') inside = false;
          }
          expect(opens).toBe(entries);
        },
      ),
    );
  });

  it('stockSubjects: three subjects keyed by sku', () => {
    const s = stockSubjects('S', 'X', levels({ safetyStock: 10, maxStock: 20 }), 5);
    expect(s.map((x) => [x.type, x.key, x.sku, x.condition.state])).toEqual([
      ['safety-stock', 'X', 'X', 'breached'],
      ['reorder', 'X', 'X', 'clear'],
      ['overstock', 'X', 'X', 'clear'],
    ]);
  });
});

describe('near expiry', () => {
  const row = (o: Partial<{ site: string; sku: string; batch: string; onHand: number; expiry: string | null }>) => ({
    site: 'S',
    sku: 'X',
    batch: 'L1',
    onHand: 1,
    expiry: null as string | null,
    ...o,
  });

  it('sums batches across locations and projects; the earliest expiry wins', () => {
    expect(
      batchesOf([
        row({ onHand: 0.1, expiry: '2027-03-31' }),
        row({ onHand: 0.2, expiry: '2027-02-01' }),
        row({ onHand: 5 }),
        row({ batch: 'L2', onHand: 3, expiry: '2027-01-01' }),
        row({ sku: 'Y', onHand: 1 }),
        row({ site: 'T', onHand: 2, expiry: '2027-05-05' }),
      ]),
    ).toEqual([
      { site: 'S', sku: 'X', batch: 'L1', onHand: 5.3, expiry: '2027-02-01' },
      { site: 'S', sku: 'X', batch: 'L2', onHand: 3, expiry: '2027-01-01' },
      { site: 'S', sku: 'Y', batch: 'L1', onHand: 1, expiry: null },
      { site: 'T', sku: 'X', batch: 'L1', onHand: 2, expiry: '2027-05-05' },
    ]);
  });

  it('carries the project a batch is all held for, none when several or none (issue 12 #5)', () => {
    const b = batchesOf([
      { ...row({ onHand: 2, expiry: '2027-01-01' }), project: 'P-1' },
      { ...row({ onHand: 3, expiry: '2027-01-01' }), project: 'P-1' },
      // An emptied row of another project does not count.
      { ...row({ onHand: 0, expiry: '2027-01-01' }), project: 'P-2' },
      { ...row({ batch: 'L2', onHand: 1 }), project: 'P-1' },
      { ...row({ batch: 'L2', onHand: 1 }), project: 'P-2' },
      { ...row({ batch: 'L3', onHand: 1 }), project: 'P-1' },
      { ...row({ batch: 'L3', onHand: 1 }), project: '' },
    ]);
    expect(b.map((x) => [x.batch, x.project])).toEqual([['L1', 'P-1'], ['L2', undefined], ['L3', undefined]]);
    const subjects = expirySubjects(b, () => 30, '2026-12-20');
    expect(subjects.filter((s) => s.batch === 'L1').map((s) => [s.type, s.project, s.condition.state])).toEqual([['near-expiry', 'P-1', 'breached'], ['expired', 'P-1', 'clear']]);
    expect(subjects.filter((s) => s.batch !== 'L1').every((s) => s.project === undefined)).toBe(true);
  });

  it('counts whole days, negative when past', () => {
    expect(daysUntil('2026-11-22', '2026-11-22')).toBe(0);
    expect(daysUntil('2026-11-22', '2026-12-22')).toBe(30);
    expect(daysUntil('2026-11-22', '2026-11-20')).toBe(-2);
    expect(daysUntil('2026-02-27', '2026-03-01')).toBe(2);
    expect(daysUntil('2024-02-28', '2024-03-01')).toBe(2);
  });

  it.each([
    [{ onHand: 5, expiry: '2026-12-22' }, 30, 'breached'],
    [{ onHand: 5, expiry: '2026-12-23' }, 30, 'clear'],
    // Expired 21 days ago: not near-expiry (C8: it is `expired`, below).
    [{ onHand: 5, expiry: '2026-11-01' }, 30, 'clear'],
    [{ onHand: 5, expiry: '2026-11-21' }, 30, 'clear'],
    [{ onHand: 5, expiry: '2026-11-22' }, 0, 'breached'],
    [{ onHand: 5, expiry: '2026-11-23' }, 0, 'clear'],
    [{ onHand: 0, expiry: '2026-11-23' }, 30, 'clear'],
    [{ onHand: -1, expiry: '2026-11-23' }, 30, 'clear'],
    [{ onHand: 5, expiry: null }, 30, 'clear'],
    [undefined, 30, 'clear'],
  ] as const)('%j within %d days of 2026-11-22 → %s', (b, days, want) => {
    expect(nearExpiryCondition(b, days, '2026-11-22').state).toBe(want);
  });

  it('C8: an expired batch with stock is `expired` (days since as a negative value), never near-expiry', () => {
    expect(expiredCondition({ onHand: 5, expiry: '2026-09-17' }, '2026-11-22')).toEqual({ state: 'breached', value: -66, threshold: 0 });
    expect(nearExpiryCondition({ onHand: 5, expiry: '2026-09-17' }, 30, '2026-11-22').state).toBe('clear');
    expect(expiredCondition({ onHand: 5, expiry: '2026-11-22' }, '2026-11-22').state).toBe('clear');
    expect(expiredCondition({ onHand: 0, expiry: '2026-09-17' }, '2026-11-22').state).toBe('clear');
    expect(expiredCondition({ onHand: 5, expiry: null }, '2026-11-22').state).toBe('clear');
  });

  it('reports days left and the window', () => {
    expect(nearExpiryCondition({ onHand: 1, expiry: '2026-11-29' }, 30, '2026-11-22')).toEqual({ state: 'breached', value: 7, threshold: 30 });
  });

  it('makes one subject per (site, sku, batch), and a clear one for an open alert whose batch is gone', () => {
    const b = batchesOf([row({ onHand: 2, expiry: '2026-11-30' }), row({ batch: 'L2', onHand: 0, expiry: '2026-11-30' })]);
    const subjects = expirySubjects(b, (_site, sku) => (sku === 'X' ? 10 : 30), '2026-11-22', [
      { site: 'S', sku: 'X', batch: 'L1' },
      { site: 'S', sku: 'X', batch: 'GONE' },
    ]);
    expect(subjects.map((s) => [s.type, s.site, s.sku, s.batch, s.key, s.condition.state])).toEqual([
      ['near-expiry', 'S', 'X', 'L1', '["X","L1"]', 'breached'],
      ['expired', 'S', 'X', 'L1', '["X","L1"]', 'clear'],
      ['near-expiry', 'S', 'X', 'L2', '["X","L2"]', 'clear'],
      ['expired', 'S', 'X', 'L2', '["X","L2"]', 'clear'],
      ['near-expiry', 'S', 'X', 'GONE', '["X","GONE"]', 'clear'],
      ['expired', 'S', 'X', 'GONE', '["X","GONE"]', 'clear'],
    ]);
  });

  it('uses the per-item window', () => {
    const b = batchesOf([row({ onHand: 2, expiry: '2026-12-12' })]);
    expect(expirySubjects(b, () => 10, '2026-11-22')[0]!.condition.state).toBe('clear');
    expect(expirySubjects(b, () => 20, '2026-11-22')[0]!.condition.state).toBe('breached');
  });
});

describe('edge and device health', () => {
  const t = { backlog: 100, driftKg: 0.05 };
  const ts = '2026-11-22T02:19:00.000Z';
  const dev = (id: string, state: 'connected' | 'disconnected' | 'error') => ({ id, type: 'scanner', state });
  const view = (subjects: ReturnType<typeof statusSubjects>) => subjects.map((s) => [s.type, s.key, s.edge, s.device, s.condition.state]);

  it('status: offline (the last will) breaches edge-offline; online clears it', () => {
    expect(view(statusSubjects({ v: 1, site: 'S', edge: 'e1', state: 'offline', reason: 'lwt', ts }, t))).toEqual([['edge-offline', 'e1', 'e1', undefined, 'breached']]);
    expect(view(statusSubjects({ v: 1, site: 'S', edge: 'e1', state: 'online', ts }, t))).toEqual([['edge-offline', 'e1', 'e1', undefined, 'clear']]);
  });

  it('status: every listed device and the backlog', () => {
    const s = statusSubjects({ v: 1, site: 'S', edge: 'e1', state: 'online', ts, backlog: 101, devices: [dev('dock1', 'connected'), dev('dock2', 'error'), dev('dock3', 'disconnected')] }, t);
    expect(view(s)).toEqual([
      ['edge-offline', 'e1', 'e1', undefined, 'clear'],
      ['device-offline', '["e1","dock1"]', 'e1', 'dock1', 'clear'],
      ['device-offline', '["e1","dock2"]', 'e1', 'dock2', 'breached'],
      ['device-offline', '["e1","dock3"]', 'e1', 'dock3', 'breached'],
      ['outbox-backlog', 'e1', 'e1', undefined, 'breached'],
    ]);
    expect(s.every((x) => x.site === 'S')).toBe(true);
    expect(statusSubjects({ v: 1, site: 'S', edge: 'e1', state: 'online', ts, backlog: 100 }, t)[1]!.condition.state).toBe('clear');
  });

  it('telemetry: devices, outbox.backlog and scale.<device>.zeroDriftKg (signed value, magnitude compared)', () => {
    const s = telemetrySubjects(
      {
        v: 1,
        site: 'S',
        edge: 'e1',
        ts,
        metrics: { 'outbox.backlog': 5, 'scale.bench.1.zeroDriftKg': -0.06, 'scale.dock.zeroDriftKg': 0.05, 'scale.dock.weightKg': 12, 'outbox.oldestAgeMs': 1e9 },
        devices: [dev('bench.1', 'connected')],
      },
      t,
    );
    expect(view(s)).toEqual([
      ['device-offline', '["e1","bench.1"]', 'e1', 'bench.1', 'clear'],
      ['outbox-backlog', 'e1', 'e1', undefined, 'clear'],
      ['scale-drift', '["e1","bench.1"]', 'e1', 'bench.1', 'breached'],
      ['scale-drift', '["e1","dock"]', 'e1', 'dock', 'clear'],
    ]);
    expect(s[2]!.condition).toEqual({ state: 'breached', value: -0.06, threshold: 0.05 });
  });

  it('telemetry without health metrics says nothing', () => {
    expect(telemetrySubjects({ v: 1, site: 'S', edge: 'e1', ts, metrics: { 'scale.dock.weightKg': 1 } }, t)).toEqual([]);
  });
});
