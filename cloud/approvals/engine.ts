/**
 * The approval engine (issue 10 §2), for every document type: requisitions, purchase orders and
 * stock-count adjustments (cloud/counts) all go through these functions, INSIDE the owner's
 * transaction, so a document's status and its approvals change together or not at all.
 *
 * The owner keeps its document (status, revision, amount) in its own table and, after each call,
 * writes the returned status with a conditional update on (id, revision, old status). The engine
 * stores the approvals and makes each decision a conditional update on (document, revision, step,
 * still pending): two concurrent approvals of one step make one transition, the other gets 409
 * ILLEGAL_TRANSITION. The rules themselves are pure (rules.ts).
 */
import type { Transaction } from 'kysely';
import * as repo from './repo.js';
import { type Actor, type Approval, type ApprovalDoc, ApprovalError, canDecide, currentStep, type DocStatus, type DocType, decide, submit, validateRules } from './rules.js';

type Tx = Transaction<any>;

/** A document as the engine sees it: its owner's id, site and approval state. */
export interface ApprovalSubject {
  docType: DocType;
  docId: string;
  site: string;
  revision: number;
  status: DocStatus;
  /** User id of whoever created it: never its approver. */
  requester: string;
  /** The manager of the document's project: the only one deciding a `project-manager` step. */
  projectManager?: string;
  /** Integer fen. */
  amount: number;
}

export interface ApprovalState {
  status: DocStatus;
  approvals: Approval[];
}

const asDoc = (s: ApprovalSubject, approvals: Approval[]): ApprovalDoc => ({
  status: s.status,
  revision: s.revision,
  requester: s.requester,
  ...(s.projectManager !== undefined ? { projectManager: s.projectManager } : {}),
  amount: s.amount,
  approvals,
});

/**
 * Submit for approval under the site's rules of the document's type: the band's steps become
 * pending approvals of this revision. An amount in no band is 422 SG_ERR_NO_APPROVAL_RULE, never
 * waved through (carbon #802). `approveWithoutRules` (purchase orders, issue 10 §3): when the
 * site has no rule of this type at all, the document is approved at once with no steps.
 */
export async function submitForApproval(tx: Tx, s: ApprovalSubject, opts: { approveWithoutRules?: boolean } = {}): Promise<ApprovalState> {
  const rules = await repo.rulesOf(tx, s.site, s.docType);
  if (rules.length === 0 && opts.approveWithoutRules) {
    if (s.status !== 'draft') throw new ApprovalError('SG_ERR_ILLEGAL_TRANSITION', 409, `cannot submit a document that is ${s.status}`);
    return { status: 'approved', approvals: [] };
  }
  const next = submit(asDoc(s, []), rules, s.docType);
  await repo.insertApprovals(tx, s.docType, s.docId, s.revision, next.approvals);
  return { status: next.status, approvals: next.approvals };
}

/**
 * Approve or reject the step waiting for a decision. Refusals (rules.ts): 403 SELF_APPROVAL for
 * the requester, 403 NOT_APPROVER for someone not holding the step (the project-manager step is
 * the project's manager's alone), 409 ILLEGAL_TRANSITION when the document is not pending, and
 * 409 ILLEGAL_TRANSITION when another decision of the same step committed first.
 */
export async function decideApproval(tx: Tx, s: ApprovalSubject, actor: Actor, action: 'approve' | 'reject', at: string, comment?: string): Promise<ApprovalState & { decided: Approval }> {
  const approvals = await repo.approvalsOf(tx, s.docType, s.docId, s.revision);
  const doc = asDoc(s, approvals);
  // A decision that lost the race for its step (the other committed first) finds the next step
  // waiting for someone else: it is told the step was decided (409), not that it is no approver.
  const current = currentStep(doc);
  if (s.status === 'pending' && actor.user !== s.requester && current && !canDecide(current, doc, actor)) {
    const mine = [...approvals].reverse().find((a) => a.state !== 'pending' && canDecide(a, doc, actor));
    if (mine) throw new ApprovalError('SG_ERR_ILLEGAL_TRANSITION', 409, `step ${mine.step} (${mine.role}) was already ${mine.state} by ${mine.by ?? 'someone'}; step ${current.step} waits for ${current.role}`);
  }
  const next = decide(doc, actor, action, at, comment);
  const decided = next.approvals.find((a, i) => a.state !== approvals[i]!.state)!;
  if (!(await repo.decideStep(tx, s.docType, s.docId, s.revision, decided))) {
    throw new ApprovalError('SG_ERR_ILLEGAL_TRANSITION', 409, `step ${decided.step} (${decided.role}) of revision ${s.revision} was decided by someone else meanwhile`);
  }
  return { status: next.status, approvals: next.approvals, decided };
}

/** An edit after submit started `revision`: every approval of the earlier revisions is voided. */
export async function voidEarlierApprovals(tx: Tx, docType: DocType, docId: string, revision: number): Promise<void> {
  await repo.voidBefore(tx, docType, docId, revision);
}

/** The approvals of a document's revision, by step (for its GET). */
export async function approvalsOf(tx: Tx | import('kysely').Kysely<any>, docType: DocType, docId: string, revision: number): Promise<Approval[]> {
  return repo.approvalsOf(tx, docType, docId, revision);
}

/** A site's approval rules (all types, or one). */
export async function approvalRules(tx: Tx | import('kysely').Kysely<any>, site: string, docType?: DocType): Promise<import('./rules.js').ApprovalRule[]> {
  return repo.rulesOf(tx, site, docType);
}

/**
 * Replace a site's rule set (every document type at once), after checking it (400
 * SG_ERR_INVALID_RULES naming each bad rule: min < max, steps, no overlap). Returns the rules before.
 */
export async function replaceApprovalRules(tx: Tx, site: string, rules: readonly import('./rules.js').ApprovalRule[], by: string, at: string): Promise<import('./rules.js').ApprovalRule[]> {
  const problems = validateRules(rules);
  if (problems.length) throw new ApprovalError('SG_ERR_INVALID_RULES', 400, problems.join('; '));
  const before = await repo.rulesOf(tx, site);
  await repo.replaceRules(tx, site, rules, by, at);
  return before;
}
