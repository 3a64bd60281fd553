import type { Movement, RejectReason } from '../../protocols/mqtt/index.js';

/** A balance row: stock of one SKU at one location, per batch and project ('' when none). */
export interface StockRow {
  site: string;
  location: string;
  sku: string;
  batch: string;
  project: string;
  onHand: number;
  uom: string;
  expiry: string | null;
  updatedAt: string;
}

/** A ledger row as the API returns it: the movement plus where and when it was applied. */
export interface LedgerRow extends Movement {
  /** Ledger position: increasing with commit order, a stable cursor. */
  pos: number;
  appliedAt: string;
  /** For counts: counted minus on-hand before the count. */
  variance?: number;
}

export interface DeadLetterInput {
  topic: string;
  site?: string;
  edge?: string;
  reason: RejectReason;
  message: string;
  /** The payload as received (the whole message, or the one movement that failed). */
  payload: string;
}

export interface DeadLetter extends DeadLetterInput {
  id: number;
  receivedAt: string;
}

/** One incoming batch's share of a group commit. */
export interface CommitBatch {
  movements: Movement[];
  deadLetters: DeadLetterInput[];
}

export interface CommitBatchResult {
  applied: number;
  duplicates: number;
  deadLetterIds: number[];
}

export interface CommitResult {
  batches: CommitBatchResult[];
  /** (site, sku) pairs whose balances changed, for live boards. */
  changed: Array<{ site: string; sku: string }>;
}

export interface StockQuery {
  site?: string;
  sku?: string;
  location?: string;
}

export interface SkuTotal {
  site: string;
  sku: string;
  onHand: number;
  uom: string;
  locations: number;
  updatedAt: string;
}

/**
 * The cloud's persistence (after aedes's pluggable persistence): the ledger, balances and dead
 * letters behind one interface. Step 3 of the reliability protocol lives in `commit`: in ONE
 * transaction, each movement is inserted keyed on its id, and only a newly inserted movement moves
 * a balance, so a resent movement is counted once whatever the timing.
 *
 * SQLite (`sqlite.ts`) is the default; PostgreSQL follows with the cloud-ingestion issue and must
 * pass the same contract suite (tests/contracts/store.contract.ts).
 */
export interface Store {
  /** Apply many batches and dead letters in one durable transaction. */
  commit(batches: readonly CommitBatch[]): Promise<CommitResult>;
  stock(q: StockQuery): Promise<StockRow[]>;
  /** Totals per (site, sku) across locations, batches and projects: the board's view. */
  totals(q: { site?: string; pairs?: Array<{ site: string; sku: string }> }): Promise<SkuTotal[]>;
  /** Newest first. `before` is a ledger position cursor. */
  movements(q: { site?: string; limit: number; before?: number }): Promise<LedgerRow[]>;
  /** Newest first. */
  deadLetters(q: { limit: number; before?: number }): Promise<DeadLetter[]>;
  close(): Promise<void>;
}
