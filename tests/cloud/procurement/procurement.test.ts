/**
 * Procurement on SQLite and on the real PostgreSQL (issue 10 §2-3): requisition amounts and
 * their approval chains (bands [min, max), steps in order, the project-manager step by the
 * project's manager, no self-approval, no rule -> 422, a revision voids approvals, concurrent
 * approvals of one step make one transition), purchase orders (from requisitions, no PO rule ->
 * approved at submit), and receipts matched to PO lines by the ledger consumer (earliest
 * expectedAt first, a pinned PO, partial receipts, OVER_RECEIPT beyond ordered + 2%).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type ApprovalRule, ApprovalError, approvalRules, replaceApprovalRules } from '../../../cloud/approvals/index.js';
import { defaultPorts, incomingOf, ProcurementError, receiptMatchesOf } from '../../../cloud/procurement/index.js';
import { formatPrice } from '../../../cloud/procurement/model.js';
import { reservationsOf } from '../../../cloud/sales/index.js';
import { type Backend, type Harness, mv, openHarness } from './harness.js';

const RULES: ApprovalRule[] = [
  { docType: 'requisition', minAmount: 0, maxAmount: 500_000, steps: ['project-manager'] },
  { docType: 'requisition', minAmount: 500_000, maxAmount: 5_000_000, steps: ['project-manager', 'procurement'] },
  { docType: 'requisition', minAmount: 5_000_000, maxAmount: 100_000_000, steps: ['project-manager', 'procurement', 'finance'] },
];
const PM = { user: 'pm-a', roles: ['project-manager'] };
const BUYER = { user: 'buyer', roles: ['procurement'] };
const BUYER2 = { user: 'buyer-2', roles: ['procurement'] };
const CFO = { user: 'cfo', roles: ['finance'] };
const SM = 'site-mgr';

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof ApprovalError || e instanceof ProcurementError) return `${e.statusCode} ${e.code}`;
    throw e;
  }
  return 'accepted';
}

for (const backend of ['sqlite', 'postgres'] as Backend[]) {
  describe(`procurement (${backend})`, () => {
    let h: Harness;
    beforeEach(async () => {
      h = await openHarness(backend);
      h.projects.set('A', { code: 'A', site: 'S1', manager: 'pm-a', stages: ['S1-FOUND', 'S2-FRAME'] });
      await h.item('CEM', { standardCost: '3000' });
      await h.item('REBAR', { standardCost: '450' });
      await h.db.tx((tx) => replaceApprovalRules(tx, 'S1', RULES, 'admin', new Date().toISOString()));
    });
    afterEach(() => h.close());

    const req = (unitPrice: string | undefined, qty = 1, by = SM) =>
      h.svc.createRequisition({ kind: 'purchase', project: 'A', stage: 'S1-FOUND', lines: [{ sku: 'CEM', qty: qty * 1000, ...(unitPrice !== undefined ? { unitPrice: Math.round(Number(unitPrice) * 100) } : {}) }] }, by);

    it('4999.99, 5000.00 and 50000.00 need 1, 2 and 3 approvals, in order; 1000000.00 is refused with 422', async () => {
      for (const [amount, approvers] of [['4999.99', [PM]], ['5000.00', [PM, BUYER]], ['50000.00', [PM, BUYER, CFO]]] as const) {
        const r = await req(amount);
        expect(r.amount).toBe(Math.round(Number(amount) * 100));
        let v = await h.svc.submitRequisition(r.id, SM);
        expect(v.approvals.map((a) => [a.role, a.state])).toEqual(approvers.map((a) => [a.roles[0], 'pending']));
        for (const [i, a] of approvers.entries()) {
          // Nobody but the step's approver decides it: the later steps' approvers wait their turn.
          for (const other of approvers.slice(i + 1)) expect(await refusal(h.svc.decideRequisition(r.id, other, 'approve'))).toBe('403 SG_ERR_NOT_APPROVER');
          expect(v.status).toBe('pending');
          v = await h.svc.decideRequisition(r.id, a, 'approve', `ok ${i}`);
        }
        expect(v.status).toBe('approved');
        expect(v.approvals.map((a) => [a.state, a.by])).toEqual(approvers.map((a) => ['approved', a.user]));
        expect(v.approvals[0]!.at).toMatch(/^\d{4}-\d\d-\d\dT/);
        expect(v.approvals[0]!.comment).toBe('ok 0');
      }
      const big = await req('1000000.00');
      expect(await refusal(h.svc.submitRequisition(big.id, SM))).toBe('422 SG_ERR_NO_APPROVAL_RULE');
      expect((await h.svc.requisition(big.id))!.status).toBe('draft');
    });

    it("the project-manager step is the project's manager's; the requester never approves their own; illegal moves are 409", async () => {
      const own = await req('100.00', 1, 'pm-a');
      await h.svc.submitRequisition(own.id, 'pm-a');
      expect(await refusal(h.svc.decideRequisition(own.id, PM, 'approve'))).toBe('403 SG_ERR_SELF_APPROVAL');
      // Another project manager (not A's) may not decide A's project-manager step.
      expect(await refusal(h.svc.decideRequisition(own.id, { user: 'pm-b', roles: ['project-manager'] }, 'approve'))).toBe('403 SG_ERR_NOT_APPROVER');
      const r = await req('100.00');
      expect(await refusal(h.svc.decideRequisition(r.id, PM, 'approve'))).toBe('409 SG_ERR_ILLEGAL_TRANSITION');
      await h.svc.submitRequisition(r.id, SM);
      expect(await refusal(h.svc.submitRequisition(r.id, SM))).toBe('409 SG_ERR_ILLEGAL_TRANSITION');
      const done = await h.svc.decideRequisition(r.id, PM, 'approve');
      expect(done.status).toBe('approved');
      expect(await refusal(h.svc.decideRequisition(r.id, PM, 'approve'))).toBe('409 SG_ERR_ILLEGAL_TRANSITION');
      expect(await refusal(h.svc.editRequisition(r.id, { lines: [{ sku: 'CEM', qty: 1000 }] }, SM))).toBe('409 SG_ERR_ILLEGAL_TRANSITION');
      const rej = await req('100.00');
      await h.svc.submitRequisition(rej.id, SM);
      expect((await h.svc.decideRequisition(rej.id, PM, 'reject', 'too early')).status).toBe('rejected');
      expect(await refusal(h.svc.decideRequisition(rej.id, PM, 'approve'))).toBe('409 SG_ERR_ILLEGAL_TRANSITION');
    });

    it('an edit after submit starts a new revision and voids the approvals given', async () => {
      const r = await req('6000.00');
      await h.svc.submitRequisition(r.id, SM);
      const half = await h.svc.decideRequisition(r.id, PM, 'approve');
      expect(half.approvals.map((a) => a.state)).toEqual(['approved', 'pending']);
      const edited = await h.svc.editRequisition(r.id, { lines: [{ sku: 'CEM', qty: 2000, unitPrice: 300_000 }] }, SM);
      expect(edited).toMatchObject({ status: 'draft', revision: 2, amount: 600_000, approvals: [] });
      const again = await h.svc.submitRequisition(r.id, SM);
      expect(again.approvals.map((a) => [a.role, a.state])).toEqual([['project-manager', 'pending'], ['procurement', 'pending']]);
      // The PM's approval of revision 1 does not count for revision 2: the buyer still waits.
      expect(await refusal(h.svc.decideRequisition(r.id, BUYER, 'approve'))).toBe('403 SG_ERR_NOT_APPROVER');
      expect(h.audits.filter((a) => a.id === `REQ-${r.id}`).map((a) => a.action)).toEqual(['create', 'submit', 'approve step 0 (project-manager)', 'revise', 'submit']);
    });

    it('concurrent approvals of one step make one transition; the others get 409', async () => {
      const r = await req('6000.00');
      await h.svc.submitRequisition(r.id, SM);
      await h.svc.decideRequisition(r.id, PM, 'approve');
      const tries = await Promise.allSettled([BUYER, BUYER2, BUYER, BUYER2, BUYER, BUYER2].map((a) => h.svc.decideRequisition(r.id, a, 'approve')));
      const won = tries.filter((t) => t.status === 'fulfilled');
      expect(won).toHaveLength(1);
      for (const t of tries) if (t.status === 'rejected') expect([(t.reason as ApprovalError).statusCode, (t.reason as ApprovalError).code]).toEqual([409, 'SG_ERR_ILLEGAL_TRANSITION']);
      const v = (await h.svc.requisition(r.id))!;
      expect(v.status).toBe('approved');
      expect(v.approvals.filter((a) => a.state === 'approved')).toHaveLength(2);
      expect(h.audits.filter((a) => a.id === `REQ-${r.id}` && a.action.startsWith('approve step 1'))).toHaveLength(1);
    });

    it('prices lines: unitPrice, else the last PO price, else standard cost; amounts exact to the fen', async () => {
      const std = await h.svc.createRequisition({ kind: 'purchase', project: 'A', stage: 'S1-FOUND', lines: [{ sku: 'CEM', qty: 100_000 }, { sku: 'REBAR', qty: 333 }] }, SM);
      expect(std.lines.map((l) => [l.price, l.priceSource])).toEqual([['3000', 'standard-cost'], ['450', 'standard-cost']]);
      // 100 × 30.00 + 0.333 × 4.50 = 3000 + 1.4985 -> 3001.50 (half up, once)
      expect(std.amount).toBe(300_150);
      await h.svc.putSupplier('SUP-1', { name: 'Cement Co', leadTimeDays: 3 }, 'buyer');
      const po = await h.svc.createPo({ supplier: 'SUP-1', site: 'S1', expectedAt: '2026-12-10', lines: [{ sku: 'CEM', qty: 100_000, unitPrice: 3200 }] }, 'buyer');
      await h.svc.submitPo(po.id, 'buyer');
      const last = await h.svc.createRequisition({ kind: 'purchase', project: 'A', stage: 'S1-FOUND', lines: [{ sku: 'CEM', qty: 10_000 }] }, SM);
      expect(last.lines[0]).toMatchObject({ price: '3200', priceSource: 'last-po' });
      expect(last.amount).toBe(32_000);
      const given = await h.svc.createRequisition({ kind: 'purchase', project: 'A', stage: 'S1-FOUND', lines: [{ sku: 'CEM', qty: 10_000, unitPrice: 3500 }] }, SM);
      expect(given.lines[0]).toMatchObject({ price: '3500', priceSource: 'unitPrice' });
      await h.item('NOPRICE');
      expect(await refusal(h.svc.createRequisition({ kind: 'purchase', project: 'A', stage: 'S1-FOUND', lines: [{ sku: 'NOPRICE', qty: 1000 }] }, SM))).toBe('422 SG_ERR_NO_PRICE');
      expect(await refusal(h.svc.createRequisition({ kind: 'purchase', project: 'A', stage: 'S9', lines: [{ sku: 'CEM', qty: 1000 }] }, SM))).toBe('400 SG_ERR_BAD_BODY');
      expect(await refusal(h.svc.createRequisition({ kind: 'purchase', project: 'A', stage: 'S1-FOUND', lines: [{ sku: 'GHOST', qty: 1000 }] }, SM))).toBe('400 SG_ERR_BAD_BODY');
    });

    it('a PO from approved requisitions keeps project, stage and requisition; no PO rule approves at submit; two partial receipts', async () => {
      await h.svc.putSupplier('SUP-1', { name: 'Cement Co', leadTimeDays: 3 }, 'buyer');
      const r = await h.svc.createRequisition({ kind: 'purchase', project: 'A', stage: 'S1-FOUND', lines: [{ sku: 'CEM', qty: 100_000, unitPrice: 3200 }] }, SM);
      expect(await refusal(h.svc.poFromRequisitions({ requisitions: [r.id], supplier: 'SUP-1', expectedAt: '2026-12-10' }, 'buyer', () => true))).toBe('409 SG_ERR_ILLEGAL_TRANSITION');
      await h.svc.submitRequisition(r.id, SM);
      await h.svc.decideRequisition(r.id, PM, 'approve');
      const po = await h.svc.poFromRequisitions({ requisitions: [r.id], supplier: 'SUP-1', expectedAt: '2026-12-10' }, 'buyer', () => true);
      expect(po).toMatchObject({ site: 'S1', status: 'draft', amount: 320_000, lines: [{ line: 1, sku: 'CEM', qty: 100_000, unitPrice: 3200, project: 'A', stage: 'S1-FOUND', requisition: r.id, received: 0 }] });
      expect((await h.svc.requisition(r.id))!.po).toBe(po.id);
      expect(await refusal(h.svc.poFromRequisitions({ requisitions: [r.id], supplier: 'SUP-1', expectedAt: '2026-12-10' }, 'buyer', () => true))).toBe('409 SG_ERR_CONFLICT');
      // Receipts before approval match nothing.
      const early = await h.scan(mv({ sku: 'CEM', qty: 1 }));
      expect(await receiptMatchesOf(h.db.kysely, [early[0]!.id])).toEqual([]);
      const sub = await h.svc.submitPo(po.id, 'buyer');
      expect(sub).toMatchObject({ status: 'approved', approvals: [] });
      expect(await incomingOf(h.db.kysely, 'S1', 'CEM')).toEqual([{ po: `PO-${po.id}`, qty: 100, expectedAt: '2026-12-10', project: 'A', stage: 'S1-FOUND' }]);
      const [first] = await h.scan(mv({ sku: 'CEM', qty: 60, batch: 'L1', expiry: '2027-06-30', po: `PO-${po.id}` }));
      expect((await h.svc.po(po.id))!).toMatchObject({ status: 'partially-received', lines: [{ received: 60_000 }] });
      const [second] = await h.scan(mv({ sku: 'CEM', qty: 40, batch: 'L2' }));
      expect((await h.svc.po(po.id))!).toMatchObject({ status: 'received', lines: [{ received: 100_000 }] });
      expect(await receiptMatchesOf(h.db.kysely, [first!.id, second!.id])).toEqual([
        { ledgerId: first!.id, po: `PO-${po.id}`, line: 1, qty: 60_000, unitPriceFen: 3200, overReceipt: 0 },
        { ledgerId: second!.id, po: `PO-${po.id}`, line: 1, qty: 40_000, unitPriceFen: 3200, overReceipt: 0 },
      ]);
      expect(await refusal(h.svc.endPo(po.id, 'cancel', 'buyer'))).toBe('409 SG_ERR_ILLEGAL_TRANSITION');
      expect((await h.svc.endPo(po.id, 'close', 'buyer')).status).toBe('closed');
    });

    it('receipts fill the earliest expectedAt first, a pinned PO only its own lines, and beyond ordered + 2% is OVER_RECEIPT', async () => {
      await h.svc.putSupplier('SUP-1', { name: 'Cement Co', leadTimeDays: 3 }, 'buyer');
      const mk = async (expectedAt: string, qty: number, price: number) => {
        const p = await h.svc.createPo({ supplier: 'SUP-1', site: 'S1', expectedAt, lines: [{ sku: 'CEM', qty, unitPrice: price }] }, 'buyer');
        await h.svc.submitPo(p.id, 'buyer');
        return p.id;
      };
      const late = await mk('2026-12-20', 50_000, 3500);
      const early = await mk('2026-12-10', 30_000, 3200);
      const [a] = await h.scan(mv({ sku: 'CEM', qty: 40 }));
      // The early PO is filled first (30 at 32.00), the rest goes to the later one (10 at 35.00).
      const split = (await receiptMatchesOf(h.db.kysely, [a!.id])).map((m) => [m.po, m.qty, m.unitPriceFen]);
      expect(split.sort()).toEqual([
        [`PO-${late}`, 10_000, 3500],
        [`PO-${early}`, 30_000, 3200],
      ].sort());
      // Pinned to the early PO (fully received): 0.5 is within its 2% (0.6), 0.6 more is beyond.
      const [b] = await h.scan(mv({ sku: 'CEM', qty: 0.5, po: `PO-${early}` }));
      expect((await receiptMatchesOf(h.db.kysely, [b!.id])).map((m) => [m.po, m.qty, m.overReceipt])).toEqual([[`PO-${early}`, 500, 0]]);
      const [c] = await h.scan(mv({ sku: 'CEM', qty: 0.6, po: `PO-${early}` }));
      expect((await receiptMatchesOf(h.db.kysely, [c!.id])).map((m) => [m.po, m.qty, m.overReceipt])).toEqual([[`PO-${early}`, 600, 500]]);
      const over = (await h.store.exceptions({ site: 'S1', state: 'all', limit: 100 })).filter((e) => e.type === 'OVER_RECEIPT');
      expect(over.map((e) => e.movementId)).toEqual([c!.id]);
      expect(over[0]!.message).toContain(`PO-${early} line 1`);
      // The stock is still recorded: it is physically there.
      expect((await h.store.stock({ site: 'S1', sku: 'CEM' })).reduce((s, r) => s + r.onHand, 0)).toBeCloseTo(41.1, 6);
      // A PO with no line of the SKU pinned: recorded, not matched, raised.
      const [d] = await h.scan(mv({ sku: 'REBAR', qty: 5, po: `PO-${early}` }));
      expect(await receiptMatchesOf(h.db.kysely, [d!.id])).toEqual([]);
      expect((await h.store.exceptions({ site: 'S1', state: 'all', limit: 100 })).filter((e) => e.type === 'OVER_RECEIPT').map((e) => e.movementId).sort()).toEqual([c!.id, d!.id].sort());
      // Another site's receipt never matches S1's POs.
      const [e] = await h.scan(mv({ site: 'S2', sku: 'CEM', qty: 5 }));
      expect(await receiptMatchesOf(h.db.kysely, [e!.id])).toEqual([]);
    });

    it('a receipt committed before a PO existed never matches it, however late the follower reaches it', async () => {
      await h.svc.putSupplier('SUP-1', { name: 'Cement Co', leadTimeDays: 3 }, 'buyer');
      // Committed now; the follower is behind (a busy ingester) and takes it only after the PO.
      const before = await h.commit(mv({ sku: 'CEM', qty: 5 }));
      await new Promise((r) => setTimeout(r, 5));
      const p = await h.svc.createPo({ supplier: 'SUP-1', site: 'S1', expectedAt: '2026-12-10', lines: [{ sku: 'CEM', qty: 50_000, unitPrice: 3200 }] }, 'buyer');
      await h.svc.submitPo(p.id, 'buyer');
      const after = await h.commit(mv({ sku: 'CEM', qty: 7 }));
      await h.follow([...before, ...after]);
      expect(await receiptMatchesOf(h.db.kysely, [before[0]!.id])).toEqual([]);
      expect((await receiptMatchesOf(h.db.kysely, [after[0]!.id])).map((m) => [m.po, m.qty])).toEqual([[`PO-${p.id}`, 7_000]]);
      expect((await h.svc.po(p.id))!.lines[0]!.received).toBe(7_000);
    });

    it('receipts in one follower batch match, fill, move and flag exactly as the same receipts one batch each', async () => {
      // The batch matches in memory (receiving.ts): each receipt must see what the earlier ones of
      // its batch received, a PO's status must follow each receipt (one audit row per change),
      // and the exceptions must be the same, as when every receipt was its own batch.
      const outcome = async (hx: Harness, oneBatch: boolean) => {
        await hx.item('CEM', { standardCost: '3000' });
        await hx.item('REBAR', { standardCost: '450' });
        await hx.svc.putSupplier('SUP-1', { name: 'Cement Co', leadTimeDays: 3 }, 'buyer');
        const mk = async (expectedAt: string, lines: Array<{ sku: string; qty: number; unitPrice: number }>) => {
          const p = await hx.svc.createPo({ supplier: 'SUP-1', site: 'S1', expectedAt, lines }, 'buyer');
          await hx.svc.submitPo(p.id, 'buyer');
          return p.id;
        };
        const late = await mk('2026-12-20', [{ sku: 'CEM', qty: 50_000, unitPrice: 3500 }]);
        const early = await mk('2026-12-10', [{ sku: 'CEM', qty: 30_000, unitPrice: 3200 }, { sku: 'REBAR', qty: 10_000, unitPrice: 450 }]);
        const ms = [
          mv({ sku: 'CEM', qty: 20 }), // early: partially received
          mv({ sku: 'REBAR', qty: 10 }), // early's other line: still partial (CEM 20 of 30)
          mv({ sku: 'CEM', qty: 15 }), // early full (received), 5 spill to late
          mv({ sku: 'CEM', qty: 0.5, po: `PO-${early}` }), // pinned, within early's 2%
          mv({ sku: 'CEM', qty: 1, po: `PO-${early}` }), // pinned, beyond: OVER_RECEIPT
          mv({ sku: 'REBAR', qty: 1, po: `PO-${late}` }), // pinned to a PO without the SKU: OVER_RECEIPT
          mv({ sku: 'CEM', qty: 46 }), // late: 45 to fill it, 1 within its 2% (1.0)
          mv({ sku: 'CEM', qty: 1 }), // beyond every cap: over-receipt on the last line
          mv({ sku: 'GRAVEL', qty: 3 }), // no PO orders it: NO_PO_RECEIPT
          mv({ kind: 'issue', sku: 'CEM', qty: 2 }),
        ];
        const rows = oneBatch ? await hx.scan(...ms) : [];
        if (!oneBatch) for (const m of ms) rows.push(...(await hx.scan(m)));
        const idx = new Map(rows.map((r, i) => [r.id, i]));
        const matches = (await receiptMatchesOf(hx.db.kysely, rows.map((r) => r.id))).map((m) => [idx.get(m.ledgerId), m.po === `PO-${early}` ? 'early' : 'late', m.line, m.qty, m.unitPriceFen, m.overReceipt]);
        const pos = [await hx.svc.po(early), await hx.svc.po(late)].map((p) => [p!.status, p!.lines.map((l) => [l.sku, l.received])]);
        const exceptions = (await hx.store.exceptions({ site: 'S1', state: 'all', limit: 100 }))
          .filter((e) => e.type === 'OVER_RECEIPT' || e.type === 'NO_PO_RECEIPT')
          .map((e) => [idx.get(e.movementId!), e.type, e.message.replaceAll(`PO-${early}`, 'early').replaceAll(`PO-${late}`, 'late')]);
        const audits = hx.audits.filter((a) => a.action.startsWith('receipt ')).map((a) => [a.id === `PO-${early}` ? 'early' : 'late', idx.get(a.action.slice('receipt '.length))]);
        const sort = (x: unknown[][]) => x.map((v) => JSON.stringify(v)).sort();
        return { matches: sort(matches), pos, exceptions: sort(exceptions), audits };
      };
      const each = await openHarness(backend);
      try {
        const together = await outcome(h, true);
        const apart = await outcome(each, false);
        expect(together).toEqual(apart);
        // And what that is: early received at the third receipt, late at the seventh.
        expect(together.pos).toEqual([['received', [['CEM', 31_500], ['REBAR', 10_000]]], ['received', [['CEM', 52_000]]]]);
        expect(together.audits).toEqual([['early', 0], ['early', 2], ['late', 2], ['late', 6]]);
        expect(together.exceptions.map((e) => JSON.parse(e).slice(0, 2))).toEqual([[4, 'OVER_RECEIPT'], [5, 'OVER_RECEIPT'], [7, 'OVER_RECEIPT'], [8, 'NO_PO_RECEIPT']]);
      } finally {
        await each.close();
      }
    });

    it('a receipt that matches no PO line is one NO_PO_RECEIPT per movement, raised for the whole batch in one insert; matched and pinned receipts are not', async () => {
      // The default ports, with the exception insert counted: one call per follower batch.
      const calls: number[] = [];
      const base = defaultPorts();
      const hc = await openHarness(backend, { raise: (tx, es) => (calls.push(es.length), base.raise(tx, es)) });
      try {
        await hc.item('CEM', { standardCost: '3000' });
        await hc.svc.putSupplier('SUP-1', { name: 'Cement Co', leadTimeDays: 3 }, 'buyer');
        const po = await hc.svc.createPo({ supplier: 'SUP-1', site: 'S1', expectedAt: '2026-12-10', lines: [{ sku: 'CEM', qty: 10_000, unitPrice: 3200 }] }, 'buyer');
        await hc.svc.submitPo(po.id, 'buyer');
        await hc.item('REBAR', { standardCost: '450' });
        // One batch: a receipt the PO takes, three of a SKU no PO orders (one carries a project), an
        // issue, and a receipt at S2, a site that buys through no PO at all (nothing to flag there).
        const [matched, a, b, c, issue, s2] = await hc.scan(
          mv({ sku: 'CEM', qty: 10 }),
          mv({ sku: 'REBAR', qty: 3, batch: 'L1' }),
          mv({ sku: 'REBAR', qty: 2 }),
          mv({ sku: 'REBAR', qty: 1, project: 'A' }),
          mv({ kind: 'issue', sku: 'CEM', qty: 1 }),
          mv({ site: 'S2', sku: 'REBAR', qty: 4 }),
        );
        expect((await hc.store.exceptions({ site: 'S2', state: 'all', limit: 100 })).filter((e) => e.movementId === s2!.id && e.type === 'NO_PO_RECEIPT')).toEqual([]);
        const noPo = (await hc.store.exceptions({ site: 'S1', state: 'all', limit: 100 })).filter((e) => e.type === 'NO_PO_RECEIPT');
        expect(noPo.map((e) => e.movementId).sort()).toEqual([a!.id, b!.id, c!.id].sort());
        expect(noPo.map((e) => e.movementId)).not.toContain(matched!.id);
        expect(noPo.map((e) => e.movementId)).not.toContain(issue!.id);
        expect(noPo.find((e) => e.movementId === a!.id)).toMatchObject({ sku: 'REBAR', location: 'DOCK', batch: 'L1', state: 'open' });
        expect(noPo.find((e) => e.movementId === c!.id)!.project).toBe('A');
        // No money in the text: operators read the queue (issue 10 §5).
        expect(noPo[0]!.message).toMatch(/matched no open purchase order line of S1: costed at the item's standard cost/);
        expect(noPo[0]!.message).not.toMatch(/\d+\.\d{2}/);
        expect(calls).toEqual([3]);
        // A receipt pinned to a PO without an open line of the SKU is OVER_RECEIPT (one exception per movement), not also NO_PO_RECEIPT.
        const [pinned] = await hc.scan(mv({ sku: 'REBAR', qty: 1, po: `PO-${po.id}` }));
        const all = await hc.store.exceptions({ site: 'S1', state: 'all', limit: 100 });
        expect(all.filter((e) => e.movementId === pinned!.id).map((e) => e.type)).toEqual(['OVER_RECEIPT']);
      } finally {
        await hc.close();
      }
    });

    it('an approved issue requisition reserves for its stage; issues carrying req consume it', async () => {
      await h.scan(mv({ sku: 'CEM', qty: 100 }));
      const r = await h.svc.createRequisition({ kind: 'issue', project: 'A', stage: 'S1-FOUND', lines: [{ sku: 'CEM', qty: 30_000 }] }, SM);
      await h.svc.submitRequisition(r.id, SM);
      await h.svc.decideRequisition(r.id, PM, 'approve');
      const held = await reservationsOf(h.db.kysely, 'requisition', String(r.id));
      expect(held.map((x) => [x.sku, x.qty, x.consumed, x.status, x.project, x.stage])).toEqual([['CEM', 30_000, 0, 'active', 'A', 'S1-FOUND']]);
      await h.scan(mv({ kind: 'issue', sku: 'CEM', qty: 12, req: `REQ-${r.id}` }));
      expect((await reservationsOf(h.db.kysely, 'requisition', String(r.id)))[0]).toMatchObject({ consumed: 12_000, status: 'active' });
      await h.scan(mv({ kind: 'issue', sku: 'CEM', qty: 20, req: String(r.id) }));
      expect((await reservationsOf(h.db.kysely, 'requisition', String(r.id)))[0]).toMatchObject({ consumed: 30_000, status: 'consumed' });
    });
  });
}

describe('approval rules', () => {
  it('are stored per site and refused when bands overlap', async () => {
    const h = await openHarness('sqlite');
    try {
      await h.db.tx((tx) => replaceApprovalRules(tx, 'S1', RULES, 'admin', 'now'));
      expect(await approvalRules(h.db.kysely, 'S1', 'requisition')).toEqual(RULES);
      expect(await approvalRules(h.db.kysely, 'S2')).toEqual([]);
      expect(await refusal(h.db.tx((tx) => replaceApprovalRules(tx, 'S1', [...RULES, { docType: 'requisition', minAmount: 100, steps: ['finance'] }], 'admin', 'now')))).toBe('400 SG_ERR_INVALID_RULES');
      expect(await approvalRules(h.db.kysely, 'S1', 'requisition')).toEqual(RULES);
    } finally {
      await h.close();
    }
  });
});

describe('unit prices on the wire', () => {
  it('a price in fen shows as CNY: 2 decimals, or up to 6 for a moving average not exact to the fen (never 40 digits)', () => {
    expect(formatPrice('3000')).toBe('30.00');
    expect(formatPrice(450)).toBe('4.50');
    expect(formatPrice('3333.333333333333333333333333333333333333')).toBe('33.333333');
    expect(formatPrice('3333.5')).toBe('33.335');
  });
});
