/**
 * Shortages of a project (issue 11 §2): the plans of every project of the project's site (so
 * shared stock and shared PO lines are handed out once, in needBy order: every project's answer
 * agrees with the others'), the stock reserved per stage, the free stock (on hand − every active
 * reservation, orders and projects alike) and the open PO lines, through the pure `shortages`.
 */
import { sql } from 'kysely';
import { fromMilli } from '../../protocols/ledger/quantity.js';
import type { Db } from '../db/index.js';
import { getProject, listProjects, stagePlans } from '../projects/index.js';
import { availability } from '../sales/index.js';
import { type PlanRow, shortages, type ShortageRow } from './rules.js';

/**
 * Open PO lines of a pair (`{po, qty, expectedAt, project?}`, qty a decimal of the base unit):
 * cloud/procurement's `incomingOf`, wired by `setIncomingSource` where both modules are present.
 * None until then.
 */
export type IncomingSource = (q: import('kysely').Kysely<any>, site: string, sku: string) => Promise<Array<{ po: string; qty: number; expectedAt: string; project?: string }>>;
let incomingOf: IncomingSource = async () => [];
export function setIncomingSource(f: IncomingSource): void {
  incomingOf = f;
}

/**
 * The supplier and lead time that apply to a SKU at a site: cloud/procurement's `supplierOfSku`
 * (the supplier of the SKU's latest PO line there), wired by `setSupplierSource` in routes.ts.
 */
export type SupplierSource = (q: import('kysely').Kysely<any>, site: string, sku: string) => Promise<{ supplier: string; leadTimeDays: number } | undefined>;
let supplierOf: SupplierSource = async () => undefined;
export function setSupplierSource(f: SupplierSource): void {
  supplierOf = f;
}

/** Lead time for the latest order date when the SKU was never ordered at the site (stated in the answer as `leadTimeSource: "default"`). */
export const DEFAULT_LEAD_TIME_DAYS = 7;

/** A row of the answer: the pure rules' row without its project, its suggestion with the supplier whose lead time dated it. */
export type ShortageItem = Omit<ShortageRow, 'project' | 'suggestOrder'> & {
  /** The uncovered quantity; orderBy = needBy − the lead time of `supplier` (or the default, `leadTimeSource`). */
  suggestOrder: (NonNullable<ShortageRow['suggestOrder']> & { supplier?: string; leadTimeDays: number; leadTimeSource: 'supplier' | 'default' }) | null;
};

/** Every plan row of the site, computed together; undefined when the project does not exist. */
export async function projectShortages(db: Db, code: string, o: { all?: boolean } = {}): Promise<{ project: string; site: string; items: ShortageItem[] } | undefined> {
  const q = db.kysely;
  const p = await getProject(q, code);
  if (!p) return undefined;
  const projects = await listProjects(q, { site: p.site, limit: 10_000 });
  const plans: PlanRow[] = [];
  for (const pr of projects) {
    for (const st of await stagePlans(q, pr.code)) {
      for (const l of st.lines) {
        const r = await sql<{ n: number | null }>`SELECT SUM(qty - consumed) AS n FROM stock_reservations WHERE status = 'active' AND site = ${p.site} AND sku = ${l.sku} AND project = ${pr.code} AND stage = ${st.stage}`.execute(q);
        plans.push({ project: pr.code, stage: st.stage, sku: l.sku, planned: fromMilli(l.plannedMilli), netIssued: fromMilli(l.issuedMilli), reserved: fromMilli(Number(r.rows[0]?.n ?? 0)), needBy: l.needBy || st.needBy });
      }
    }
  }
  const skus = [...new Set(plans.map((x) => x.sku))].sort();
  const freeStock = new Map<string, number>();
  const poLines = [];
  for (const sku of skus) {
    freeStock.set(sku, fromMilli(Math.max(0, (await availability(q, p.site, sku)).available)));
    for (const l of await incomingOf(q, p.site, sku)) poLines.push({ po: l.po, sku, qty: l.qty, expectedAt: l.expectedAt, ...(l.project ? { project: l.project } : {}) });
  }
  // Issue 11 §2: the supplier's lead time gives the latest order date (its latest PO line's
  // supplier, issue 10 §0 leadTimeDays); a SKU never ordered at the site takes the stated default.
  const suppliers = new Map<string, { supplier: string; leadTimeDays: number } | undefined>();
  for (const sku of skus) suppliers.set(sku, await supplierOf(q, p.site, sku));
  const rows = shortages({ plans, freeStock, poLines, leadTimeDays: new Map(skus.map((s) => [s, suppliers.get(s)?.leadTimeDays ?? DEFAULT_LEAD_TIME_DAYS])) });
  const items = rows
    .filter((r) => r.project === code && (o.all || r.shortage > 0))
    .map((r) => {
      const sup = suppliers.get(r.sku);
      const suggestOrder = r.suggestOrder && { ...r.suggestOrder, ...(sup ? { supplier: sup.supplier } : {}), leadTimeDays: sup?.leadTimeDays ?? DEFAULT_LEAD_TIME_DAYS, leadTimeSource: sup ? ('supplier' as const) : ('default' as const) };
      return { stage: r.stage, sku: r.sku, planned: r.planned, issued: r.issued, reserved: r.reserved, need: r.need, needBy: r.needBy, coveredFromStock: r.coveredFromStock, incoming: r.incoming, shortage: r.shortage, suggestOrder };
    });
  return { project: code, site: p.site, items };
}
