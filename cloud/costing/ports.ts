/**
 * Costing's ports to the other business modules, through their index.ts: procurement (receipt ->
 * PO line matches, purchase orders), projects (site, manager, contract revenue, stages, plans) and
 * the item master's standard cost; the ERP outbound queue (month-close reports). A module that
 * has not landed answers "nothing" (no match, no project), so costing runs on: receipts then
 * count at the standard cost, flagged.
 */
import type { Db } from '../db/index.js';
import { enqueue } from '../erp/index.js';
import { purchaseOrderOf, receiptMatchesOf } from '../procurement/index.js';
import { getProject, planLines } from '../projects/index.js';
import * as repo from './repo.js';
import type { Tx } from './repo.js';
import { type CostingPorts, CostingService } from './service.js';

export function defaultPorts(overrides: Partial<CostingPorts> = {}): CostingPorts {
  return {
    receiptMatches: async (trx, ids) => (await receiptMatchesOf(trx, ids)).map((m) => ({ movement: m.ledgerId, po: m.po, line: m.line, qtyMilli: m.qty, unitPriceFen: m.unitPriceFen })),
    purchaseOrder: purchaseOrderOf,
    project: projectOf,
    plan: planOf,
    standardCostFen: repo.standardCostFen,
    async periodClosed(trx, c) {
      // Issue 11 §5: one month-close cost report per project to the ERP, queued in the close's
      // transaction; the bill number `CR-<yyyy-mm>-<project>` is the dedup key (a month closes once).
      for (const r of c.reports) {
        await enqueue(trx, { kind: 'cost-report', docId: `CR-${c.period}-${r.project}`, site: r.site, body: { site: r.site, date: c.closedAt.slice(0, 10), period: c.period, project: r.project, closedBy: c.closedBy, ...r.figures } });
      }
    },
    ...overrides,
  };
}

const services = new WeakMap<Db, CostingService>();

/** The one CostingService of a database (the routes and the ledger consumer share it). */
export function costingService(db: Db, overrides: Partial<CostingPorts> = {}): CostingService {
  let s = services.get(db);
  if (!s) services.set(db, (s = new CostingService(db, defaultPorts(overrides))));
  return s;
}

/** A project's site, manager, contract revenue and stage codes (cloud/projects). */
async function projectOf(trx: Tx, code: string): Promise<{ code: string; site: string; manager: string; contractRevenueFen: number; stages: string[] } | undefined> {
  const p = await getProject(trx, code);
  return p && { code: p.code, site: p.site, manager: p.manager, contractRevenueFen: p.contractRevenueFen, stages: p.stages.map((s) => s.code) };
}

/** The current (latest) plan version of each stage of a project: thousandths per SKU (cloud/projects). */
async function planOf(trx: Tx, code: string): Promise<Array<{ stage: string; sku: string; qtyMilli: number }>> {
  const p = await getProject(trx, code);
  if (!p) return [];
  const out: Array<{ stage: string; sku: string; qtyMilli: number }> = [];
  for (const st of p.stages) for (const l of await planLines(trx, code, st.code)) out.push({ stage: st.code, sku: l.sku, qtyMilli: l.qtyMilli });
  return out;
}
