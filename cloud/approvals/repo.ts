/**
 * Queries of the approval engine (both dialects, through Kysely). Amounts are integer fen.
 * Repos receive the caller's transaction; only services open one.
 */
import type { Kysely, Transaction } from 'kysely';
import type { Approval, ApprovalRule, DocType, StepRole } from './rules.js';

type Q = Transaction<any> | Kysely<any>;

export async function rulesOf(q: Q, site: string, docType?: DocType): Promise<ApprovalRule[]> {
  let s = q.selectFrom('approval_rules').selectAll().where('site', '=', site);
  if (docType) s = s.where('doc_type', '=', docType);
  const rows = await s.orderBy('doc_type').orderBy('min_amount').execute();
  return rows.map((r) => ({
    docType: r.doc_type as DocType,
    minAmount: Number(r.min_amount),
    ...(r.max_amount === null || r.max_amount === undefined ? {} : { maxAmount: Number(r.max_amount) }),
    steps: JSON.parse(r.steps as string) as StepRole[],
  }));
}

/** Replace a site's rule set (all document types at once). */
export async function replaceRules(tx: Transaction<any>, site: string, rules: readonly ApprovalRule[], by: string, now: string): Promise<void> {
  await tx.deleteFrom('approval_rules').where('site', '=', site).execute();
  if (rules.length === 0) return;
  await tx
    .insertInto('approval_rules')
    .values(rules.map((r) => ({ site, doc_type: r.docType, min_amount: r.minAmount, max_amount: r.maxAmount ?? null, steps: JSON.stringify(r.steps), updated_at: now, updated_by: by })))
    .execute();
}

const approvalOf = (r: Record<string, unknown>): Approval => ({
  step: Number(r.step),
  role: r.role as StepRole,
  state: r.state as Approval['state'],
  ...(r.decided_by != null ? { by: r.decided_by as string } : {}),
  ...(r.decided_at != null ? { at: r.decided_at as string } : {}),
  ...(r.comment != null ? { comment: r.comment as string } : {}),
});

/** The approvals of one revision of a document, by step. */
export async function approvalsOf(q: Q, docType: DocType, docId: string, revision: number): Promise<Approval[]> {
  const rows = await q.selectFrom('approvals').selectAll().where('doc_type', '=', docType).where('doc_id', '=', docId).where('revision', '=', revision).orderBy('step').execute();
  return rows.map(approvalOf);
}

export async function insertApprovals(tx: Transaction<any>, docType: DocType, docId: string, revision: number, approvals: readonly Approval[]): Promise<void> {
  if (approvals.length === 0) return;
  await tx
    .insertInto('approvals')
    .values(approvals.map((a) => ({ doc_type: docType, doc_id: docId, revision, step: a.step, role: a.role, state: a.state, decided_by: a.by ?? null, decided_at: a.at ?? null, comment: a.comment ?? null })))
    .execute();
}

/**
 * Decide one step: a conditional update on (document, revision, step, still pending). Returns
 * whether this call made the transition; a concurrent decision of the same step finds the row
 * decided already (PostgreSQL re-checks the WHERE after the other transaction commits; SQLite's
 * write transactions are serialised) and gets false.
 */
export async function decideStep(tx: Transaction<any>, docType: DocType, docId: string, revision: number, a: Approval): Promise<boolean> {
  const r = await tx
    .updateTable('approvals')
    .set({ state: a.state, decided_by: a.by ?? null, decided_at: a.at ?? null, comment: a.comment ?? null })
    .where('doc_type', '=', docType)
    .where('doc_id', '=', docId)
    .where('revision', '=', revision)
    .where('step', '=', a.step)
    .where('state', '=', 'pending')
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/** An edit after submit: the earlier revisions' open and given approvals no longer count. */
export async function voidBefore(tx: Transaction<any>, docType: DocType, docId: string, revision: number): Promise<void> {
  await tx.updateTable('approvals').set({ state: 'voided' }).where('doc_type', '=', docType).where('doc_id', '=', docId).where('revision', '<', revision).where('state', '!=', 'voided').execute();
}
