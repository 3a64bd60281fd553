/**
 * Costing's ports to the other business modules, through their index.ts: procurement (receipt ->
 * PO line matches, purchase orders), projects (site, manager, contract revenue, stages, plans) and
 * the item master's standard cost. A module that has not landed answers "nothing" (no match, no
 * project), so costing runs on: receipts then count at the standard cost, flagged.
 */
import type { Db } from '../db/index.js';
import * as repo from './repo.js';
import { type CostingPorts, CostingService } from './service.js';

export function defaultPorts(overrides: Partial<CostingPorts> = {}): CostingPorts {
  return {
    receiptMatches: async () => [],
    purchaseOrder: async () => undefined,
    project: async () => undefined,
    plan: async () => [],
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
