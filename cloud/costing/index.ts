/** The public face of `cloud/costing/`: other modules import from here only. */
import type { MoneyValue } from '../money.js';
import * as repo from './repo.js';
import type { Tx } from './repo.js';
import { average } from './rules.js';
import { Money } from '../money.js';

export { costingModule } from './module.js';
export { costingService, defaultPorts } from './ports.js';
export { costingDocs, costingRoutes, landedCostDocs, landedCostRoutes } from './routes.js';
export { type CostFigures, type CostingPorts, CostingService, type CostMovement, type LandedResult } from './service.js';

/**
 * The moving-average unit cost of an item at a site, in fen per base unit (exact, not rounded),
 * as of what the costing consumer has applied; undefined before its first receipt. Procurement's
 * requisition amounts use it (issue 10 §2: unitPrice, else last PO price, else this, else the
 * standard cost). Takes the caller's transaction.
 */
export async function averageCost(trx: Tx, site: string, sku: string): Promise<MoneyValue | undefined> {
  const a = await repo.average(trx, site, sku);
  if (!a) return undefined;
  return average({ qty: new Money(a.qtyMilli).dividedBy(1000), value: new Money(a.valueExact), lastAverage: new Money(a.lastAverage) });
}
