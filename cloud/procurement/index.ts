/**
 * The public face of `cloud/procurement/` (the only file other modules import): the service and
 * its wiring to the other business modules, the ledger consumer (receipt -> PO line, requisition
 * reservations consumed), the receipt matches costing reads, open PO quantities for availability
 * and shortages, routes and module.
 */
import type { Kysely, Transaction } from 'kysely';
import { fromMilli } from '../../protocols/ledger/quantity.js';
import * as repo from './repo.js';
import { poId } from './rules.js';
import type { LedgerRowLike, ProcurementService } from './service.js';

export { procurementModule } from './module.js';
export { defaultPorts, procurementService } from './ports.js';
export { procurementDocs, procurementRoutes, requisitionDocs, requisitionRoutes } from './routes.js';
export { type LedgerRowLike, type PoView, type ProcurementPorts, ProcurementError, ProcurementService, type ProjectRef, type ReqView } from './service.js';
export { matchReceipt, OVER_RECEIPT_PCT, parseDocId, poId, reqId } from './rules.js';
export type { ReceiptMatchRow } from './repo.js';

type Tx = Transaction<any>;
type Q = Tx | Kysely<any>;

/**
 * The procurement consumer of the ledger follower: first in the business layer's order, so that
 * costing (after it, in the same transaction) finds each receipt's PO line and price.
 */
export function procurementConsumer(svc: ProcurementService): { name: string; apply(tx: Tx, rows: readonly LedgerRowLike[]): Promise<void> } {
  return { name: 'procurement', apply: (tx, rows) => svc.applyLedger(tx, rows) };
}

/**
 * The receipt matches of ledger rows (by ledger id): PO, line, quantity (thousandths of the base
 * unit), unit price (fen per base unit) and the part beyond ordered + 2%. Costing reads them in
 * the follower's transaction; a receipt split over two PO lines has two matches.
 */
export async function receiptMatchesOf(q: Q, ledgerIds: readonly string[]): Promise<Array<{ ledgerId: string; po: string; line: number; qty: number; unitPriceFen: number; overReceipt: number }>> {
  return (await repo.matchesOf(q, ledgerIds)).map((m) => ({ ledgerId: m.ledgerId, po: poId(m.po), line: m.line, qty: m.qty, unitPriceFen: m.unitPrice, overReceipt: m.overReceipt }));
}

/** One receipt's first PO line match (the common case of a receipt on one line). */
export async function receiptMatch(q: Q, ledgerId: string): Promise<{ po: string; line: number; unitPriceFen: number } | undefined> {
  const m = (await receiptMatchesOf(q, [ledgerId]))[0];
  return m ? { po: m.po, line: m.line, unitPriceFen: m.unitPriceFen } : undefined;
}

/** A purchase order's site and lines (thousandths, fen per base unit), for costing's landed costs. */
export async function purchaseOrderOf(q: Q, id: string): Promise<{ id: string; site: string; lines: Array<{ line: number; sku: string; qtyMilli: number; unitPriceFen: number; receivedMilli: number; project?: string; stage?: string }> } | undefined> {
  const m = /^(?:PO-)?([1-9][0-9]{0,14})$/i.exec(id);
  const p = m ? await repo.po(q, Number(m[1])) : undefined;
  if (!p) return undefined;
  return { id: poId(p.id), site: p.site, lines: p.lines.map((l) => ({ line: l.line, sku: l.sku, qtyMilli: l.qty, unitPriceFen: l.unitPrice, receivedMilli: l.received, ...(l.project !== undefined ? { project: l.project } : {}), ...(l.stage !== undefined ? { stage: l.stage } : {}) })) };
}

/**
 * Open PO quantities still to arrive for a site and SKU (approved or partially received POs):
 * `{po, qty, expectedAt, project?}` with qty = ordered − received (decimal, base unit). For
 * availability (`incoming`) and shortages.
 */
export async function incomingOf(q: Q, site: string, sku: string): Promise<Array<{ po: string; qty: number; expectedAt: string; project?: string; stage?: string }>> {
  const rows = await q
    .selectFrom('po_lines')
    .innerJoin('purchase_orders', 'purchase_orders.id', 'po_lines.po_id')
    .select(['po_lines.po_id as po', 'po_lines.qty as qty', 'po_lines.received as received', 'purchase_orders.expected_at as expected_at', 'po_lines.project as project', 'po_lines.stage as stage'])
    .where('purchase_orders.site', '=', site)
    .where('po_lines.sku', '=', sku)
    .where('purchase_orders.status', 'in', ['approved', 'partially-received'])
    .orderBy('purchase_orders.expected_at')
    .orderBy('po_lines.po_id')
    .orderBy('po_lines.line')
    .execute();
  return rows
    .filter((r) => Number(r.qty) > Number(r.received))
    .map((r) => ({ po: poId(Number(r.po)), qty: fromMilli(Number(r.qty) - Number(r.received)), expectedAt: r.expected_at as string, ...(r.project != null ? { project: r.project as string } : {}), ...(r.stage != null ? { stage: r.stage as string } : {}) }));
}

/**
 * The supplier that applies to a SKU at a site, and its lead time (issue 10 §0 `leadTimeDays`):
 * the supplier of the SKU's latest PO line there (highest PO id; rejected and cancelled POs do
 * not count). Undefined when the SKU was never ordered at that site: callers state their default.
 * For shortages' latest order date and the reorder suggestions' lead time (issue 11 §2-3).
 */
export async function supplierOfSku(q: Q, site: string, sku: string): Promise<{ supplier: string; leadTimeDays: number } | undefined> {
  const r = await q
    .selectFrom('po_lines')
    .innerJoin('purchase_orders', 'purchase_orders.id', 'po_lines.po_id')
    .innerJoin('suppliers', 'suppliers.code', 'purchase_orders.supplier')
    .select(['suppliers.code as code', 'suppliers.lead_time_days as lead'])
    .where('purchase_orders.site', '=', site)
    .where('po_lines.sku', '=', sku)
    .where('purchase_orders.status', 'not in', ['rejected', 'cancelled'])
    .orderBy('purchase_orders.id', 'desc')
    .limit(1)
    .executeTakeFirst();
  return r ? { supplier: r.code as string, leadTimeDays: Number(r.lead) } : undefined;
}
