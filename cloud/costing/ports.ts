/**
 * Costing's ports to the other business modules, through their index.ts: procurement (receipt ->
 * PO line matches, purchase orders), projects (site, manager, contract revenue, stages, plans) and
 * the item master's standard cost. A module that has not landed answers "nothing" (no match, no
 * project), so costing runs on: receipts then count at the standard cost, flagged.
 */
import type { Db } from '../db/index.js';
import * as repo from './repo.js';
import type { Tx } from './repo.js';
import { type CostingPorts, CostingService } from './service.js';

export function defaultPorts(overrides: Partial<CostingPorts> = {}): CostingPorts {
  return {
    receiptMatches: async () => [],
    purchaseOrder: async () => undefined,
    project: projectOf,
    plan: planOf,
    standardCostFen: repo.standardCostFen,
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

/**
 * A project's site, manager, contract revenue and stages. Read from the projects module's tables
 * until its index.ts exports a reader (cloud/projects is being built beside this module).
 */
async function projectOf(trx: Tx, code: string): Promise<{ code: string; site: string; manager: string; contractRevenueFen: number; stages: string[] } | undefined> {
  const p = await trx.selectFrom('projects').select(['code', 'site', 'manager', 'contract_revenue']).where('code', '=', code).executeTakeFirst();
  if (!p) return undefined;
  const stages = await trx.selectFrom('project_stages').select('code').where('project', '=', code).orderBy('position').execute();
  return { code: String(p.code), site: String(p.site), manager: String(p.manager), contractRevenueFen: Number(p.contract_revenue), stages: stages.map((s) => String(s.code)) };
}

/** The current (latest) plan version of each stage of a project: thousandths per SKU. */
async function planOf(trx: Tx, code: string): Promise<Array<{ stage: string; sku: string; qtyMilli: number }>> {
  const rows = await trx.selectFrom('plan_lines').select(['stage', 'version', 'sku', 'qty_milli']).where('project', '=', code).execute();
  const latest = new Map<string, number>();
  for (const r of rows) latest.set(String(r.stage), Math.max(latest.get(String(r.stage)) ?? 0, Number(r.version)));
  return rows.filter((r) => Number(r.version) === latest.get(String(r.stage))).map((r) => ({ stage: String(r.stage), sku: String(r.sku), qtyMilli: Number(r.qty_milli) }));
}
