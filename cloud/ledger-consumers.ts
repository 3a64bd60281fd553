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
  /**
   * ERP sync is configured (`stockgate cloud --erp-url`): receipts and project issues become ERP
   * events. Default true (every consumer); `stockgate cloud` passes false without `--erp-url`, so
   * a cloud with no ERP does not queue one outbox row per receipt that nothing will ever send.
   * Turned on later, the ERP consumer starts at the beginning of the ledger like any new consumer
   * (its cursor does not exist yet), so the ERP receives the history it missed, deduplicated by
   * the movement id as document number.
   */
  erp?: boolean;
}

/**
 * Every ledger consumer of the business layer, in the order the follower runs them within one
 * batch (the shared design, cloud/README.md#ledger-follower): procurement (receipt -> PO line),
 * projects (issues to stages, over-issue), costing (moving average, issue cost), sales
 * (reservation consumption), ERP events (only with ERP sync on), counts. One line per module:
 * `(ctx) => procurementConsumer(ctx)`; `undefined` when the module is off for this context.
 */
export const ledgerConsumers: ReadonlyArray<(ctx: ConsumerContext) => LedgerConsumer | undefined> = [
  (ctx) => procurementConsumer(procurementService(ctx.db)),
  (ctx) => projectsConsumer(ctx.publish),
  (ctx) => costingService(ctx.db).consumer,
  (ctx) => salesConsumer(salesService(ctx.db)),
  (ctx) => (ctx.erp === false ? undefined : erpConsumer()),
  (ctx) => countsService(ctx.db).consumer(),
];
