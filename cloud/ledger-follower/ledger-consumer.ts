import type { MovementKind } from '../../protocols/mqtt/index.js';
import type { Tx } from '../db/index.js';

/**
 * A committed ledger row as the business layer reads it. Quantities are integer thousandths
 * (`protocols/ledger/quantity.ts`), exactly as stored: consumers add and compare them without
 * floating point. Optional text fields are absent when the movement had none ('' in the table).
 */
export interface LedgerEntry {
  /** Ledger position: increasing with commit order within a site (the follower's cursor). */
  pos: number;
  id: string;
  edge: string;
  seq: number;
  ts: string;
  site: string;
  location: string;
  toLocation?: string;
  kind: MovementKind;
  sku: string;
  gtin?: string;
  epc?: string;
  batch?: string;
  expiry?: string;
  serial?: string;
  /** Thousandths of `uom` (positive for receive/issue/return/transfer, signed for adjust). */
  qty: number;
  uom: string;
  /** What was booked in the item's base unit, thousandths (absent when nothing was). */
  baseQty?: number;
  baseUom?: string;
  project?: string;
  stage?: string;
  operator?: string;
  crew?: string;
  /** Purchase order, requisition, sales order the movement was scanned against (issue 10 §2-3, 11 §1), when the ledger carries them. */
  po?: string;
  req?: string;
  order?: string;
  deviceId: string;
  /** `applied`, or `exception` when the movement was recorded but did not move stock. */
  status: 'applied' | 'exception';
  /** Counts: counted minus on hand, thousandths of the base unit. */
  variance?: number;
  appliedAt: string;
  /** REST entries: the token and user that posted it. */
  postedBy?: { tokenId: string; user: string };
}

/**
 * A business effect of the ledger (receipt -> PO line, issue -> project stage, moving average,
 * reservation consumption, counts), run by the `LedgerFollower` after the ingest commit, never in
 * it (the hot path stays as fast as before the business layer).
 *
 * `apply` gets the rows past this consumer's cursor, oldest first per site, inside the follower's
 * transaction; the cursor moves in that same transaction, so each row reaches each consumer
 * exactly once. Write through `tx` only: the transaction may be replayed (PostgreSQL 40001/40P01)
 * or rolled back (a later consumer threw), so effects outside the database (MQTT, webhooks, memory)
 * must wait until it committed (`afterCommit`). Throwing rolls the whole batch back for every
 * consumer; the follower retries it with backoff and shows the failure in /healthz.
 */
export interface LedgerConsumer {
  /** Unique, `[a-z][a-z0-9-]*`: the key of its cursors in `ledger_cursors`. */
  name: string;
  apply(tx: Tx, rows: readonly LedgerEntry[]): Promise<void>;
  /** Optional: called after a batch this consumer took part in committed (e.g. to notify a board). */
  afterCommit?(rows: readonly LedgerEntry[]): void;
}
