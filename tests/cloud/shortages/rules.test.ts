import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type OpenPoLine, type PlanRow, shortages } from '../../../cloud/shortages/rules.js';

/**
 * The issue 11 shortage scenario. Stage 1 (foundation), needBy D1: BOM F × 2, F = {cement 50 bag,
 * rebar 1.5 t}; stage 2 (structure), needBy D2: BOM S × 3, S = {cement 40, rebar 2, formwork 10}.
 * On hand before any issue: cement 150, rebar 4, formwork 0; issued to stage 1: cement 60, rebar 3.
 * Open POs: rebar 5 expected D2 − 5 days; formwork 20 expected D2 + 3 days.
 */
const D1 = '2027-03-01';
const D2 = '2027-04-01';
const plans: PlanRow[] = [
  { project: 'A', stage: 'S1', sku: 'cement', planned: 100, netIssued: 60, reserved: 0, needBy: D1 },
  { project: 'A', stage: 'S1', sku: 'rebar', planned: 3, netIssued: 3, reserved: 0, needBy: D1 },
  { project: 'A', stage: 'S2', sku: 'cement', planned: 120, netIssued: 0, reserved: 0, needBy: D2 },
  { project: 'A', stage: 'S2', sku: 'rebar', planned: 6, netIssued: 0, reserved: 0, needBy: D2 },
  { project: 'A', stage: 'S2', sku: 'formwork', planned: 30, netIssued: 0, reserved: 0, needBy: D2 },
];
const poLines: OpenPoLine[] = [
  { po: 'PO-1', sku: 'rebar', qty: 5, expectedAt: '2027-03-27' },
  { po: 'PO-2', sku: 'formwork', qty: 20, expectedAt: '2027-04-04' },
];
const onHand = { cement: 150 - 60, rebar: 4 - 3, formwork: 0 };
const short = (free: Record<string, number>) => shortages({ plans, freeStock: free, poLines, leadTimeDays: { cement: 3, formwork: 10 } }).filter((r) => r.shortage > 0);

describe('the issue 11 scenario', () => {
  it('cement 70 and formwork 30 short in stage 2 (the 20 listed as incoming but late); rebar not listed', () => {
    const rows = short(onHand);
    expect(rows.map((r) => [r.stage, r.sku, r.shortage])).toEqual([
      ['S2', 'cement', 70],
      ['S2', 'formwork', 30],
    ]);
    expect(rows[1]!.incoming).toEqual([{ po: 'PO-2', qty: 20, expectedAt: '2027-04-04', late: true }]);
    expect(rows[0]).toMatchObject({ need: 120, coveredFromStock: 50, suggestOrder: { qty: 70, orderBy: '2027-03-29' } });
  });

  it('after a sales order reserves 30 cement, the cement shortage is 100', () => {
    expect(short({ ...onHand, cement: onHand.cement - 30 }).find((r) => r.sku === 'cement')!.shortage).toBe(100);
  });

  it('rebar in stage 2: 1 from stock, 5 from the on-time PO', () => {
    const all = shortages({ plans, freeStock: onHand, poLines });
    expect(all.find((r) => r.stage === 'S2' && r.sku === 'rebar')).toMatchObject({ coveredFromStock: 1, shortage: 0, incoming: [{ po: 'PO-1', qty: 5, late: false }] });
  });
});

describe('shared cover', () => {
  it('free stock goes to the earliest needBy first, ties by project code', () => {
    const rows = shortages({
      plans: [
        { project: 'B', stage: 'x', sku: 's', planned: 10, netIssued: 0, reserved: 0, needBy: '2027-01-02' },
        { project: 'A', stage: 'x', sku: 's', planned: 10, netIssued: 0, reserved: 0, needBy: '2027-01-02' },
        { project: 'C', stage: 'x', sku: 's', planned: 10, netIssued: 0, reserved: 0, needBy: '2027-01-01' },
      ],
      freeStock: { s: 15 },
      poLines: [],
    });
    expect(Object.fromEntries(rows.map((r) => [r.project, r.shortage]))).toEqual({ C: 0, A: 5, B: 10 });
  });

  it("a PO line tagged with a project covers only that project; reserved stock covers its own stage first", () => {
    const rows = shortages({
      plans: [
        { project: 'A', stage: 'x', sku: 's', planned: 10, netIssued: 0, reserved: 4, needBy: '2027-01-01' },
        { project: 'B', stage: 'x', sku: 's', planned: 10, netIssued: 0, reserved: 0, needBy: '2027-01-01' },
      ],
      freeStock: {},
      poLines: [{ po: 'P', sku: 's', qty: 50, expectedAt: '2026-12-20', project: 'B' }],
    });
    expect(rows.map((r) => [r.project, r.coveredFromStock, r.shortage])).toEqual([
      ['A', 4, 6],
      ['B', 0, 0],
    ]);
  });

  it('returns count: need = planned − (issues − returns), never below 0', () => {
    const [r] = shortages({ plans: [{ project: 'A', stage: 'x', sku: 's', planned: 5, netIssued: 7, reserved: 0, needBy: D1 }], freeStock: {}, poLines: [] });
    expect(r).toMatchObject({ need: 0, shortage: 0, suggestOrder: null });
  });

  it('exact in thousandths: 0.1 + 0.2 of cover leaves exactly 0.7 of a 1.0 need', () => {
    const [r] = shortages({
      plans: [{ project: 'A', stage: 'x', sku: 's', planned: 1, netIssued: 0, reserved: 0.1, needBy: D1 }],
      freeStock: { s: 0.2 },
      poLines: [],
    });
    expect(r!.shortage).toBe(0.7);
  });

  it('no quantity is handed out twice: Σ cover from free stock <= free stock, Σ PO cover <= PO qty (property)', () => {
    const row = fc.record({
      project: fc.constantFrom('A', 'B', 'C'),
      stage: fc.constantFrom('1', '2'),
      sku: fc.constantFrom('s', 't'),
      planned: fc.integer({ min: 0, max: 100 }),
      netIssued: fc.integer({ min: 0, max: 50 }),
      reserved: fc.constant(0),
      needBy: fc.constantFrom('2027-01-01', '2027-02-01', '2027-03-01'),
    });
    const po = fc.record({ po: fc.constantFrom('P1', 'P2', 'P3'), sku: fc.constantFrom('s', 't'), qty: fc.integer({ min: 0, max: 60 }), expectedAt: fc.constantFrom('2026-12-01', '2027-02-15', '2027-05-01'), project: fc.option(fc.constantFrom('A', 'B'), { nil: undefined }) });
    fc.assert(
      fc.property(fc.array(row, { maxLength: 12 }), fc.array(po, { maxLength: 5 }), fc.integer({ min: 0, max: 80 }), (ps, lines, freeS) => {
        const rows = shortages({ plans: ps, freeStock: { s: freeS, t: 0 }, poLines: lines });
        const fromStock = rows.filter((r) => r.sku === 's').reduce((a, r) => a + r.coveredFromStock, 0);
        expect(fromStock).toBeLessThanOrEqual(freeS);
        for (const sku of ['s', 't']) {
          const poQty = lines.filter((l) => l.sku === sku).reduce((a, l) => a + l.qty, 0);
          const listed = rows.filter((r) => r.sku === sku).flatMap((r) => r.incoming).reduce((a, i) => a + i.qty, 0);
          expect(listed).toBeLessThanOrEqual(poQty);
        }
        for (const r of rows) {
          const onTime = r.incoming.filter((i) => !i.late).reduce((a, i) => a + i.qty, 0);
          expect(r.shortage).toBe(r.need - r.coveredFromStock - onTime);
          expect(r.shortage).toBeGreaterThanOrEqual(0);
        }
      }),
    );
  });
});
