import { describe, expect, it } from 'vitest';
import { type ApprovalDoc, type ApprovalRule, ApprovalError, bandFor, decide, edit, submit, validateRules } from '../../../cloud/approvals/rules.js';

/** The bands of the issue 10 scenario, in fen: [0, 5000) PM; [5000, 50000) PM → procurement; [50000, 1000000) PM → procurement → finance. */
const RULES: ApprovalRule[] = [
  { docType: 'requisition', minAmount: 0, maxAmount: 500_000, steps: ['project-manager'] },
  { docType: 'requisition', minAmount: 500_000, maxAmount: 5_000_000, steps: ['project-manager', 'procurement'] },
  { docType: 'requisition', minAmount: 5_000_000, maxAmount: 100_000_000, steps: ['project-manager', 'procurement', 'finance'] },
];

const PM = { user: 'pm-a', roles: ['project-manager'] };
const BUYER = { user: 'buyer', roles: ['procurement'] };
const CFO = { user: 'cfo', roles: ['finance'] };
const draft = (amount: number): ApprovalDoc => ({ status: 'draft', revision: 1, requester: 'site-mgr', projectManager: 'pm-a', amount, approvals: [] });
const AT = '2026-12-06T03:00:00.000Z';

function approveAll(doc: ApprovalDoc): { doc: ApprovalDoc; approvals: number } {
  let d = submit(doc, RULES, 'requisition');
  let n = 0;
  for (const actor of [PM, BUYER, CFO]) {
    if (d.status !== 'pending') break;
    d = decide(d, actor, 'approve', AT);
    n++;
  }
  return { doc: d, approvals: n };
}

function code(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    if (e instanceof ApprovalError) return `${e.statusCode} ${e.code}`;
    throw e;
  }
  return undefined;
}

describe('the scenario bands', () => {
  it.each([
    [499_999, 1],
    [500_000, 2],
    [5_000_000, 3],
  ])('%i fen needs %i approvals, and only the last one approves', (amount, needed) => {
    let d = submit(draft(amount), RULES, 'requisition');
    for (let i = 0; i < needed; i++) {
      expect(d.status).toBe('pending');
      d = decide(d, [PM, BUYER, CFO][i]!, 'approve', AT);
    }
    expect(d.status).toBe('approved');
    expect(approveAll(draft(amount)).approvals).toBe(needed);
  });

  it('1000000.00 has no band: 422 NO_APPROVAL_RULE', () => {
    expect(code(() => submit(draft(100_000_000), RULES, 'requisition'))).toBe('422 SG_ERR_NO_APPROVAL_RULE');
    expect(bandFor(RULES, 'purchase-order', 100)).toBeUndefined();
  });

  it('the PM approving their own requisition gets 403 SELF_APPROVAL', () => {
    const own = { ...draft(100), requester: 'pm-a' };
    expect(code(() => decide(submit(own, RULES, 'requisition'), PM, 'approve', AT))).toBe('403 SG_ERR_SELF_APPROVAL');
  });
});

describe('order and holders', () => {
  it('steps are decided in order: procurement cannot go before the PM', () => {
    const d = submit(draft(600_000), RULES, 'requisition');
    expect(code(() => decide(d, BUYER, 'approve', AT))).toBe('403 SG_ERR_NOT_APPROVER');
  });

  it("the project-manager step is the project's manager's, not any project manager's", () => {
    const d = submit(draft(100), RULES, 'requisition');
    expect(code(() => decide(d, { user: 'pm-b', roles: ['project-manager'] }, 'approve', AT))).toBe('403 SG_ERR_NOT_APPROVER');
    expect(code(() => decide(d, { user: 'root', roles: ['admin'] }, 'approve', AT))).toBe('403 SG_ERR_NOT_APPROVER');
  });

  it('a rejection rejects at once and records who and why', () => {
    let d = submit(draft(600_000), RULES, 'requisition');
    d = decide(d, PM, 'reject', AT, 'too early');
    expect(d.status).toBe('rejected');
    expect(d.approvals[0]).toMatchObject({ state: 'rejected', by: 'pm-a', comment: 'too early' });
    expect(code(() => decide(d, BUYER, 'approve', AT))).toBe('409 SG_ERR_ILLEGAL_TRANSITION');
  });
});

describe('transitions and revisions', () => {
  it('an edit after submit starts a new revision and voids the approvals', () => {
    let d = submit(draft(600_000), RULES, 'requisition');
    d = decide(d, PM, 'approve', AT);
    d = edit(d, 700_000);
    expect(d).toMatchObject({ status: 'draft', revision: 2, approvals: [] });
    d = submit(d, RULES, 'requisition');
    expect(d.approvals.map((a) => a.state)).toEqual(['pending', 'pending']);
  });

  it('an edit of a draft keeps the revision', () => {
    expect(edit(draft(1), 2)).toMatchObject({ revision: 1, amount: 2, status: 'draft' });
  });

  it('anything else is 409 ILLEGAL_TRANSITION', () => {
    const approved = approveAll(draft(100)).doc;
    expect(code(() => edit(approved, 5))).toBe('409 SG_ERR_ILLEGAL_TRANSITION');
    expect(code(() => submit(approved, RULES, 'requisition'))).toBe('409 SG_ERR_ILLEGAL_TRANSITION');
    expect(code(() => decide(draft(1), PM, 'approve', AT))).toBe('409 SG_ERR_ILLEGAL_TRANSITION');
  });
});

describe('rule sets', () => {
  it('the scenario bands are valid', () => {
    expect(validateRules(RULES)).toEqual([]);
  });

  it('overlaps, empty steps, repeated roles and inverted bands are named by index', () => {
    const errors = validateRules([
      { docType: 'requisition', minAmount: 0, maxAmount: 100, steps: ['finance'] },
      { docType: 'requisition', minAmount: 50, steps: [] },
      { docType: 'purchase-order', minAmount: 10, maxAmount: 10, steps: ['finance', 'finance'] },
    ]);
    expect(errors).toEqual([
      'rules.1.steps: at least one step',
      'rules.2.maxAmount: must be greater than minAmount',
      'rules.2.steps: a role appears twice',
      'rules.1: overlaps rules.0 for requisition',
    ]);
  });
});
