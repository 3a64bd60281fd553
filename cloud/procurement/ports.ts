/**
 * Procurement's ports to the other business modules, through their index.ts: projects (site,
 * manager, stages), the item master's standard cost, costing's moving average, the audit trail,
 * sales's reservations (approved issue requisitions), the exception queue and the ERP outbound
 * queue (approved POs).
 */
import { type Db, reusable } from '../db/index.js';
import { audit } from '../audit/index.js';
import { averageCost } from '../costing/index.js';
import { enqueue } from '../erp/index.js';
import { formatMoney } from '../money.js';
import { fromMilli } from '../../protocols/ledger/quantity.js';
import { getProject } from '../projects/index.js';
import { consume, reserve } from '../sales/index.js';
import { poId } from './rules.js';
import { type ProcurementPorts, ProcurementService } from './service.js';

/** A follower batch's exceptions, one multi-row insert (reusable: cloud/db/reusable-query.ts). */
const raiseQuery = reusable('procurement.raise', (tx, rows: Array<Record<string, unknown>>) => tx.insertInto('exceptions').values(rows), { nullIsValue: true });


/**
 * The ports to the other modules, through their index.ts. `overrides` replace single ports
 * (tests, and modules that land later).
 */
export function defaultPorts(overrides: Partial<ProcurementPorts> = {}): ProcurementPorts {
  return {
    async project(q, code) {
      const p = await getProject(q, code);
      return p ? { code: p.code, site: p.site, manager: p.manager, stages: p.stages.map((st) => st.code) } : undefined;
    },
    async standardCost(q, sku) {
      // The item master (cloud/catalog keeps it in the ledger's `items` table; no index.ts there).
      const it = await q.selectFrom('items').select('standard_cost').where('sku', '=', sku).executeTakeFirst();
      if (!it) return null;
      return it.standard_cost === null ? undefined : Number(it.standard_cost);
    },
    averageCost: async (tx, site, sku) => (await averageCost(tx, site, sku))?.toString(),
    audit: (tx, e) => audit(tx, e),
    async reserve(tx, r) {
      // Reserve what is free (partial): an approval never fails for want of stock; the shortage
      // shows in GET /api/v1/projects/:code/shortages.
      await reserve(tx, { ownerKind: 'requisition', ownerId: r.ownerId, site: r.site, lines: r.lines, partial: true, by: r.by });
    },
    consume: (tx, ownerId, site, sku, qty) => consume(tx, 'requisition', ownerId, site, sku, qty),
    async raise(tx, es) {
      // The existing exception queue (GET /api/v1/exceptions), as the ledger raises UOM_MISMATCH;
      // a follower batch's exceptions in multi-row inserts.
      const at = new Date().toISOString();
      for (let i = 0; i < es.length; i += 500) {
        await raiseQuery(tx, es.slice(i, i + 500).map((e) => ({ type: e.type, site: e.site, movement_id: e.movementId, sku: e.sku, location: e.location, batch: e.batch, project: e.project, message: e.message, raised_at: at })));
      }
    },
    async poApproved(tx, po) {
      // Issue 11 §5: an approved PO goes to the ERP, queued in the approval's transaction; the
      // event id `purchase-order:PO-<id>` is the dedup key (a PO is approved once).
      await enqueue(tx, {
        kind: 'purchase-order',
        docId: poId(po.id),
        site: po.site,
        body: {
          site: po.site,
          supplier: po.supplier,
          date: po.updatedAt.slice(0, 10),
          expectedAt: po.expectedAt,
          amount: formatMoney(po.amount),
          lines: po.lines.map((l) => ({ line: l.line, sku: l.sku, qty: fromMilli(l.qty), unitPrice: formatMoney(l.unitPrice), expectedAt: po.expectedAt, ...(l.project !== undefined ? { project: l.project } : {}), ...(l.stage !== undefined ? { stage: l.stage } : {}) })),
        },
      });
    },
    ...overrides,
  };
}

export function procurementService(db: Db, overrides: Partial<ProcurementPorts> = {}): ProcurementService {
  return new ProcurementService(db, defaultPorts(overrides));
}

