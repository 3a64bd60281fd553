/** The public face of `cloud/ledger-follower/`: other modules import from here only. */
export type { Tx } from '../db/index.js';
export { type FollowerHealth, LedgerFollower, type LedgerFollowerOptions } from './follower.js';
export type { LedgerConsumer, LedgerEntry } from './ledger-consumer.js';
export { ledgerFollowerModule } from './module.js';
