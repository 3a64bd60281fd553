import type { Logger } from 'pino';
import { costingService } from './costing/index.js';
import { procurementConsumer, procurementService } from './procurement/index.js';
import type { Db } from './db/index.js';
import type { LedgerConsumer } from './ledger-follower/index.js';
import { projectsConsumer } from './projects/index.js';
import { salesConsumer, salesService } from './sales/index.js';
import { erpConsumer } from './erp/index.js';
import { countsService } from './counts/index.js';

/** What a business module gets to build its ledger consumer (extend here, not with globals). */
export interface ConsumerContext {
  db: Db;
  log: Logger;
  /** Publish on the cloud's bus (QoS 1), e.g. a project's alerts; call it from `afterCommit` only. */
  publish?: (topic: string, payload: string) => void;
}

/**
 * Every ledger consumer of the business layer, in the order the follower runs them within one
 * batch (the shared design, cloud/README.md#ledger-follower): procurement (receipt -> PO line),
 * projects (issues to stages, over-issue), costing (moving average, issue cost), sales
 * (reservation consumption), counts. One line per module: `(ctx) => procurementConsumer(ctx)`.
 */
export const ledgerConsumers: ReadonlyArray<(ctx: ConsumerContext) => LedgerConsumer> = [
  (ctx) => procurementConsumer(procurementService(ctx.db)),
  (ctx) => projectsConsumer(ctx.publish),
  (ctx) => costingService(ctx.db).consumer,
  (ctx) => salesConsumer(salesService(ctx.db)),
  () => erpConsumer(),
  (ctx) => countsService(ctx.db).consumer(),
];
