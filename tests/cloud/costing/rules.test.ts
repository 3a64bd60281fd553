import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { allocate, average, emptyAverage, issue, receive, returnToStock, splitLateLandedCost } from '../../../cloud/costing/rules.js';
import { Money, RoundingCarry, formatMoney, formatUnitCost, marginPct, parseMoney, roundFen } from '../../../cloud/money.js';

const m = (v: number | string) => new Money(v);

describe('money', () => {
  it('parses decimal strings to whole fen and formats them back with 2 places', () => {
    expect(parseMoney('4140.00', 'amount')).toBe(414000);
    expect(parseMoney('12.5', 'amount')).toBe(1250);
    expect(parseMoney('-3', 'amount')).toBe(-300);
    expect(formatMoney(414000)).toBe('4140.00');
    expect(formatMoney(-5)).toBe('-0.05');
  });

  it('shows a unit cost in fen as CNY: 2 decimals when exact to the fen, else up to 6, half up', () => {
    expect(formatUnitCost('3250')).toBe('32.50');
    expect(formatUnitCost(5)).toBe('0.05');
    expect(formatUnitCost(new Money(10_000).dividedBy(3))).toBe('33.333333');
    expect(formatUnitCost(new Money(20_000).dividedBy(3))).toBe('66.666667');
    expect(formatUnitCost('3250.5')).toBe('32.505');
  });

  it('refuses numbers, a third decimal and junk, naming the field', () => {
    expect(() => parseMoney(12.5, 'lines[0].unitPrice')).toThrow(/lines\[0\]\.unitPrice: expected a decimal string/);
    expect(() => parseMoney('1.005', 'amount')).toThrow(/amount: "1.005" is not an amount with at most 2 decimals/);
    expect(() => parseMoney('1e3', 'amount')).toThrow(/amount/);
    expect(() => parseMoney('', 'amount')).toThrow(/amount/);
  });

  it('rounds half up to the fen', () => {
    expect(roundFen(m('0.5'))).toBe(1);
    expect(roundFen(m('1.4999'))).toBe(1);
    expect(roundFen(m('-0.5'))).toBe(-1);
  });

  it('10,000 issues at an average of 0.333333 CNY total exactly 3333.33 (one rounding, carried)', () => {
    const carry = new RoundingCarry();
    let posted = 0;
    for (let i = 0; i < 10_000; i++) posted += carry.post(m('33.3333')); // 0.333333 CNY = 33.3333 fen
    expect(formatMoney(posted)).toBe('3333.33');
    // Rounding each entry on its own would have drifted by 33.33:
    expect(formatMoney(10_000 * roundFen(m('33.3333')))).toBe('3300.00');
  });

  it('the carry survives a restart through its state', () => {
    const a = new RoundingCarry();
    a.post(m('0.4'));
    const b = new RoundingCarry(a.state());
    expect(b.post(m('0.4'))).toBe(1);
  });

  it('marginPct has 2 places, half up', () => {
    expect(marginPct(1010000, 2000000)).toBe('50.50');
    expect(marginPct(1, 3)).toBe('33.33');
    expect(marginPct(2, 3)).toBe('66.67');
    expect(marginPct(5, 0)).toBeNull();
  });
});

describe('moving average in ledger order', () => {
  it("the issue's scenario: 100 @ 32.00, then 100 @ 35.00 + 200.00 landed → 34.50; issuing 120 costs 4140.00", () => {
    let s = receive(emptyAverage(), m(100), m(3200));
    const landedPerUnit = m(allocate(20000, [m(100 * 3500)])[0]!).dividedBy(100);
    s = receive(s, m(100), m(3500).plus(landedPerUnit));
    expect(formatMoney(roundFen(average(s)))).toBe('34.50');
    const out = issue(s, m(120));
    expect(formatMoney(roundFen(out.cost))).toBe('4140.00');
    expect(out.state.qty.toNumber()).toBe(80);
    expect(formatMoney(roundFen(out.state.value))).toBe('2760.00');
  });

  it('stock at or below zero before a receipt: the new average is the receipt price', () => {
    let s = receive(emptyAverage(), m(10), m(300));
    s = issue(s, m(15)).state; // −5 on hand at the old average
    expect(s.qty.toNumber()).toBe(-5);
    s = receive(s, m(10), m(500));
    expect(average(s).toNumber()).toBe(500);
    expect(s.value.toNumber()).toBe(2500);
  });

  it('the last units take the remaining value: nothing is left in stock value at zero', () => {
    let s = receive(emptyAverage(), m(3), m(100)); // 3 units for 3.00
    s = receive(s, m(0), m(0));
    const a = issue(s, m(1));
    const b = issue(a.state, m(1));
    const c = issue(b.state, m(1));
    expect(a.cost.plus(b.cost).plus(c.cost).toNumber()).toBe(300);
    expect(c.state.value.isZero()).toBe(true);
  });

  it('a return comes back at its original issue cost', () => {
    let s = receive(emptyAverage(), m(10), m(1000));
    s = issue(s, m(4)).state;
    s = receive(s, m(6), m(2000)); // average now 15.00
    const r = returnToStock(s, m(2), m(1000));
    expect(r.credit.toNumber()).toBe(2000);
    expect(r.state.qty.toNumber()).toBe(14);
  });

  it('value is conserved: received = issued + on hand, whatever the order (property)', () => {
    const op = fc.oneof(
      fc.record({ k: fc.constant('r' as const), q: fc.integer({ min: 1, max: 1000 }), p: fc.integer({ min: 1, max: 100_000 }) }),
      fc.record({ k: fc.constant('i' as const), q: fc.integer({ min: 1, max: 1000 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
        let s = emptyAverage();
        let inValue = m(0);
        let outValue = m(0);
        for (const o of ops) {
          if (o.k === 'r') {
            const before = s.value;
            s = receive(s, m(o.q), m(o.p));
            inValue = inValue.plus(s.value.minus(before));
          } else {
            const r = issue(s, m(o.q));
            outValue = outValue.plus(r.cost);
            s = r.state;
          }
        }
        expect(inValue.minus(outValue).minus(s.value).abs().lessThan(1e-20)).toBe(true);
      }),
    );
  });
});

describe('allocate', () => {
  it('shares are whole fen and add up to the amount exactly', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10_000_000 }), fc.array(fc.integer({ min: 0, max: 100_000 }), { minLength: 1, maxLength: 20 }), (amount, ws) => {
        const parts = allocate(amount, ws.map((w) => m(w)));
        expect(parts.reduce((a, b) => a + b, 0)).toBe(amount);
        for (const p of parts) expect(Number.isInteger(p)).toBe(true);
      }),
    );
  });

  it('100.00 over 3 equal lines: 33.34, 33.33, 33.33 (largest remainder, ties to the earlier line)', () => {
    expect(allocate(10000, [m(1), m(1), m(1)])).toEqual([3334, 3333, 3333]);
  });

  it('a late landed cost: the on-hand share to stock, the rest as variance to the consuming projects', () => {
    const r = splitLateLandedCost(20000, m(100), m(40), [
      { project: 'A', qty: m(45) },
      { project: 'B', qty: m(15) },
    ]);
    expect(r).toEqual({ toStock: 8000, variance: [{ project: 'A', amount: 9000 }, { project: 'B', amount: 3000 }] });
  });
});
