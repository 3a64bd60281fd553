/**
 * The public face of cloud/sales (the only file other modules import): reservations callable
 * inside a caller's transaction (approved issue requisitions reserve for a project stage), the
 * availability of a pair, the sales service, its ledger consumer, routes and module.
 */
export { availability, balanceOnHand, consume, invariantBreaks, reconcile, release, reservationsOf, reserve } from './reservations.js';
export type { OwnerKind, ReservationRow, ReservationStatus, ReserveLine, ReserveOutcome, ReserveRequest } from './reservations.js';
export { salesConsumer, type SalesLedgerRow } from './consumer.js';
export { salesModule } from './module.js';
export { type IncomingSource, SalesService, salesService } from './service.js';
export { salesDocs, salesRoutes } from './routes.js';

