import type { Principal } from '../auth/auth.js';
import type { Tx } from '../db/index.js';

/** Entity names of the audit log: singular kebab-case (issue 10 §5). */
export const AUDIT_ENTITIES = ['item', 'project', 'bom', 'plan', 'user', 'requisition', 'purchase-order', 'supplier', 'approval-rules', 'sales-order', 'count', 'cost', 'period', 'landed-cost'] as const;
export type AuditEntity = (typeof AUDIT_ENTITIES)[number];

export interface AuditChange {
  entity: AuditEntity;
  id: string;
  /** What happened: `create`, `update`, `submit`, `approve`, `reject`, `receive`, ... */
  action: string;
  /** Who: a user id, a token's name, `edge:<id>` for effects of scans. */
  by: string;
  /** The entity before and after the change (JSON values; null for a create / delete). */
  before: unknown;
  after: unknown;
  /** Where it belongs, so the log is scoped like the data (a site-limited token sees its sites'). */
  site?: string | null;
  project?: string | null;
}

export interface AuditEntry {
  at: string;
  by: string;
  action: string;
  before: unknown;
  after: unknown;
}

/**
 * Record a change in the audit log, inside the transaction that makes the change (so a change
 * and its record commit or roll back together; ERPNext-style "version" documents written after
 * the fact can be lost). Call from a module's service with the `tx` it opened.
 */
export async function audit(tx: Tx, c: AuditChange): Promise<void> {
  await auditMany(tx, [c]);
}

/** Many changes of one transaction (an import), in multi-row inserts of at most 500 rows. */
export async function auditMany(tx: Tx, cs: readonly AuditChange[]): Promise<void> {
  const at = new Date().toISOString();
  const json = (v: unknown) => (v === undefined || v === null ? null : JSON.stringify(v));
  for (let i = 0; i < cs.length; i += 500) {
    const rows = cs.slice(i, i + 500).map((c) => ({ entity: c.entity, entity_id: c.id, action: c.action, by_user: c.by, at, site: c.site ?? null, project: c.project ?? null, before_json: json(c.before), after_json: json(c.after) }));
    await tx.insertInto('audit_log').values(rows).execute();
  }
}

/** Who a request acts as, for `by`: the user of a user token, else the token's name, else the subject. */
export function actor(p: Principal | undefined): string {
  return p?.user ?? p?.token?.name ?? p?.subject ?? 'anonymous';
}

/** The log of one entity, oldest first, at most `limit` (with each row's site and project for scoping). */
export async function auditLog(db: Tx | { selectFrom: Tx['selectFrom'] }, q: { entity: string; id: string; limit: number }): Promise<Array<AuditEntry & { site: string | null; project: string | null }>> {
  const rows = await db.selectFrom('audit_log').selectAll().where('entity', '=', q.entity).where('entity_id', '=', q.id).orderBy('id').limit(q.limit).execute();
  return rows.map((r) => ({
    at: r.at as string,
    by: r.by_user as string,
    action: r.action as string,
    before: r.before_json === null ? null : JSON.parse(r.before_json as string),
    after: r.after_json === null ? null : JSON.parse(r.after_json as string),
    site: (r.site as string | null) ?? null,
    project: (r.project as string | null) ?? null,
  }));
}
