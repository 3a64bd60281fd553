/**
 * Approval chains by amount (issue 10, section 2): pure rules shared by requisitions, purchase
 * orders and stock-count adjustments. The repository stores documents and approvals; the service
 * calls these functions inside its transaction and writes what they return.
 *
 * Designed against the anchors' holes (shared/reference/business-domain.md, "Approval gaps"):
 * - an amount that falls in no band is refused, never waved through (carbon #802);
 * - bands are half-open [min, max), so a boundary amount belongs to exactly one band
 *   (the off-by-one of cityofaustin #18737);
 * - every step of the band must be approved, in order, before the document is approved: the
 *   first of three approvals unlocks nothing (ERPNext #37128);
 * - the requester never approves their own document (carbon #1032);
 * - an edit after submit starts a new revision and voids the approvals given so far;
 * - a transition table: anything else is ILLEGAL_TRANSITION.
 */

export type DocType = 'requisition' | 'purchase-order' | 'count-adjustment';
export type StepRole = 'project-manager' | 'procurement' | 'finance' | 'site-manager';
export type DocStatus = 'draft' | 'pending' | 'approved' | 'rejected';
export type Action = 'edit' | 'submit' | 'approve' | 'reject';

export interface ApprovalRule {
  docType: DocType;
  /** Inclusive lower bound, fen. */
  minAmount: number;
  /** Exclusive upper bound, fen; none = unbounded. */
  maxAmount?: number;
  steps: StepRole[];
}

export interface Approval {
  step: number;
  role: StepRole;
  state: 'pending' | 'approved' | 'rejected';
  by?: string;
  at?: string;
  comment?: string;
}

export interface ApprovalDoc {
  status: DocStatus;
  revision: number;
  /** User id of whoever created the document. */
  requester: string;
  /** The `manager` of the document's project (resolves the project-manager step). */
  projectManager?: string;
  amount: number;
  approvals: Approval[];
}

export interface Actor {
  user: string;
  roles: readonly string[];
}

export type RuleErrorCode = 'SG_ERR_NO_APPROVAL_RULE' | 'SG_ERR_SELF_APPROVAL' | 'SG_ERR_ILLEGAL_TRANSITION' | 'SG_ERR_NOT_APPROVER' | 'SG_ERR_INVALID_RULES';

/** A refusal with the HTTP status the routes answer with. */
export class ApprovalError extends Error {
  constructor(
    readonly code: RuleErrorCode,
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The legal transitions. `approve` on a pending document stays pending until the last step;
 * `edit` of a pending or rejected document starts a new revision in draft (approvals voided).
 */
export const TRANSITIONS: Readonly<Record<DocStatus, Partial<Record<Action, DocStatus>>>> = {
  draft: { edit: 'draft', submit: 'pending' },
  pending: { approve: 'pending', reject: 'rejected', edit: 'draft' },
  rejected: { edit: 'draft' },
  approved: {},
};

export function assertTransition(status: DocStatus, action: Action): DocStatus {
  const next = TRANSITIONS[status][action];
  if (!next) throw new ApprovalError('SG_ERR_ILLEGAL_TRANSITION', 409, `cannot ${action} a document that is ${status}`);
  return next;
}

/**
 * Problems with a site's rule set, each naming the rule by index: a band must have min < max,
 * at least one step and no step twice, and the bands of one document type must not overlap.
 */
export function validateRules(rules: readonly ApprovalRule[]): string[] {
  const errors: string[] = [];
  rules.forEach((r, i) => {
    if (!Number.isSafeInteger(r.minAmount) || r.minAmount < 0) errors.push(`rules.${i}.minAmount: must be an amount >= 0`);
    if (r.maxAmount !== undefined && !(r.maxAmount > r.minAmount)) errors.push(`rules.${i}.maxAmount: must be greater than minAmount`);
    if (r.steps.length === 0) errors.push(`rules.${i}.steps: at least one step`);
    if (new Set(r.steps).size !== r.steps.length) errors.push(`rules.${i}.steps: a role appears twice`);
  });
  const byType = new Map<DocType, Array<{ r: ApprovalRule; i: number }>>();
  rules.forEach((r, i) => byType.set(r.docType, [...(byType.get(r.docType) ?? []), { r, i }]));
  for (const list of byType.values()) {
    const sorted = [...list].sort((a, b) => a.r.minAmount - b.r.minAmount);
    for (let k = 1; k < sorted.length; k++) {
      const prev = sorted[k - 1]!;
      const cur = sorted[k]!;
      if (prev.r.maxAmount === undefined || prev.r.maxAmount > cur.r.minAmount) {
        errors.push(`rules.${cur.i}: overlaps rules.${prev.i} for ${cur.r.docType}`);
      }
    }
  }
  return errors;
}

/** The band an amount falls in: min <= amount < max. */
export function bandFor(rules: readonly ApprovalRule[], docType: DocType, amount: number): ApprovalRule | undefined {
  return rules.find((r) => r.docType === docType && amount >= r.minAmount && (r.maxAmount === undefined || amount < r.maxAmount));
}

/** Submit: the band's steps become pending approvals. No band: 422 NO_APPROVAL_RULE. */
export function submit(doc: ApprovalDoc, rules: readonly ApprovalRule[], docType: DocType): ApprovalDoc {
  const status = assertTransition(doc.status, 'submit');
  const band = bandFor(rules, docType, doc.amount);
  if (!band) throw new ApprovalError('SG_ERR_NO_APPROVAL_RULE', 422, `no ${docType} approval rule covers the amount ${doc.amount / 100}`);
  return { ...doc, status, approvals: band.steps.map((role, step) => ({ step, role, state: 'pending' })) };
}

/** The step waiting for a decision (the first pending one): steps are decided in order. */
export function currentStep(doc: ApprovalDoc): Approval | undefined {
  return doc.approvals.find((a) => a.state === 'pending');
}

/** May this actor decide this step? The project-manager step is the project's manager's alone. */
export function canDecide(step: Approval, doc: ApprovalDoc, actor: Actor): boolean {
  if (step.role === 'project-manager') return doc.projectManager !== undefined && actor.user === doc.projectManager;
  return actor.roles.includes(step.role);
}

/**
 * Approve or reject the current step. The requester is refused first (403 SELF_APPROVAL), then
 * an actor who does not hold the step (403 NOT_APPROVER). Approving the last step approves the
 * document; a rejection rejects it at once.
 */
export function decide(doc: ApprovalDoc, actor: Actor, action: 'approve' | 'reject', at: string, comment?: string): ApprovalDoc {
  assertTransition(doc.status, action);
  if (actor.user === doc.requester) throw new ApprovalError('SG_ERR_SELF_APPROVAL', 403, 'the requester cannot approve or reject their own document');
  const step = currentStep(doc);
  if (!step) throw new ApprovalError('SG_ERR_ILLEGAL_TRANSITION', 409, 'no step is waiting for a decision');
  if (!canDecide(step, doc, actor)) {
    throw new ApprovalError('SG_ERR_NOT_APPROVER', 403, step.role === 'project-manager' ? "this step is decided by the project's manager" : `this step needs the role ${step.role}`);
  }
  const decided: Approval = { ...step, state: action === 'approve' ? 'approved' : 'rejected', by: actor.user, at, ...(comment !== undefined ? { comment } : {}) };
  const approvals = doc.approvals.map((a) => (a.step === step.step ? decided : a));
  const status: DocStatus = action === 'reject' ? 'rejected' : approvals.every((a) => a.state === 'approved') ? 'approved' : 'pending';
  return { ...doc, status, approvals };
}

/** An edit: the same revision while a draft, a new one (approvals voided, back to draft) after submit. */
export function edit(doc: ApprovalDoc, amount: number): ApprovalDoc {
  const status = assertTransition(doc.status, 'edit');
  if (doc.status === 'draft') return { ...doc, amount };
  return { ...doc, status, amount, revision: doc.revision + 1, approvals: [] };
}
