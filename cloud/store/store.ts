import type { Movement, RejectReason } from '../../protocols/mqtt/index.js';
import type { VerifyResult } from '../ledger/chain.js';
import type { ExceptionType, ItemMaster } from '../ledger/rules.js';
import type { Tx } from '../db/index.js';

export type { ExceptionType, ItemMaster, VerifyResult };

/** One item master record written by `putItems`: before (undefined when new) and after. */
export interface ItemChange {
  sku: string;
  before: ItemMaster | undefined;
  after: ItemMaster;
}

/** Writes that must commit with an item master change, in its transaction (`Store.putItems`). */
export type ItemWriteHook = (tx: Tx, changes: readonly ItemChange[]) => Promise<void>;
export { identityOf } from '../../protocols/ledger/identity.js';

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
  /** `expired` when the batch's expiry is before today (issue 9, C8). */
  state: 'ok' | 'expired';
}

/** A ledger row as the API returns it: the movement plus where and when it was applied. */
export interface LedgerRow extends Movement {
  /** Ledger position: increasing with commit order, a stable cursor. */
  pos: number;
  appliedAt: string;
  /** `applied`, or `exception` when the movement was recorded but did not move stock. */
  status: 'applied' | 'exception';
  /** For counts: counted minus on-hand at the count's ts (base unit). */
  variance?: number;
  /** What was booked, in the item's base unit (absent when nothing was). */
  baseQty?: number;
  baseUom?: string;
  /** Exact converted quantity minus the booked one, when a unit conversion rounded. */
  rounding?: string;
  /** REST entries: the token that posted it. */
  postedBy?: { tokenId: string; user: string };
  /** The site's hash chain: this row's number and SHA-256 (cloud/ledger/chain.ts). */
  chainN?: number;
  hash?: string;
}

/** Where a site's hash chain ends: the last row's position and hash. */
export interface ChainHead {
  site: string;
  n: number;
  pos: number;
  hash: string;
}

export interface DeadLetterInput {
  topic: string;
  site?: string;
  edge?: string;
  reason: RejectReason;
  message: string;
  /**
   * A prefix of the bytes received (at most a few hundred bytes: UTF-8 text, or `base64:` when they
   * are not), never a re-serialisation of a parsed value (issue 8, finding 1).
   */
  payload: string;
  /** Hex SHA-256 of the whole message as received. */
  sha256?: string;
  /** Size of the whole message as received, bytes. */
  bytes?: number;
}

export interface DeadLetter extends DeadLetterInput {
  id: number;
  receivedAt: string;
}

/** One incoming batch's share of a group commit. */
export interface CommitBatch {
  movements: Movement[];
  deadLetters: DeadLetterInput[];
  /** Who posted the movements over REST (recorded on each ledger row). */
  postedBy?: { tokenId: string; user: string };
  /**
   * Seqs of this message's edge refused for good: rejected to the edge (which drops them from its
   * outbox and never sends them again) and dead-lettered. Seq tracking counts them as present,
   * or one malformed movement would leave a gap below the edge's hwm forever: every later ack
   * would ask the edge to resend it (a resend of its whole window each time) and every later
   * commit of the edge would take the slow gap path.
   */
  refused?: { site: string; edge: string; seqs: number[] };
}

/** What became of one movement in a commit. */
export type MovementOutcome =
  /** Inserted and applied to balances. */
  | 'applied'
  /** Already in the ledger (same id): not applied again. */
  | 'duplicate'
  /** Inserted, but not applied to stock (a second receive of a serialised identity in stock). */
  | 'exception';

export interface CommitBatchResult {
  applied: number;
  duplicates: number;
  /** Movements that raised an exception (also counted in `applied` when they moved stock). */
  exceptions: number;
  deadLetterIds: number[];
  /** Per movement of the batch, in order. */
  outcomes: MovementOutcome[];
  /**
   * Seqs of this batch's edge that the ledger still lacks below the highest seq seen (a gap):
   * the ack carries them so the edge resends. Empty when contiguous.
   */
  missing: Array<[number, number]>;
}

/** The reconciliation queue: things that happened and need a person. */
export interface ExceptionRow {
  id: number;
  type: ExceptionType;
  site: string;
  movementId: string;
  sku: string;
  location: string;
  batch: string;
  project: string;
  /** Serialised identity (`epc:<hex>` or `<gtin|sku>+<serial>`) for identity exceptions. */
  identity?: string;
  /** Balance after the movement, for NEGATIVE_STOCK. */
  onHand?: number;
  message: string;
  state: 'open' | 'resolved';
  raisedAt: string;
  resolvedAt?: string;
  resolvedBy?: string;
  resolution?: string;
}

export interface IdentityRow {
  site: string;
  identity: string;
  sku: string;
  inStock: boolean;
  location: string;
  lastMovementId: string;
  updatedAt: string;
}

/** What a change feed needs of a ledger row (`Store.ledgerAfter`): lean, read at export speed. */
export type LedgerChange = Pick<LedgerRow, 'pos' | 'id' | 'ts' | 'site' | 'location' | 'toLocation' | 'kind' | 'sku' | 'qty' | 'uom' | 'project' | 'status' | 'variance' | 'appliedAt' | 'baseQty' | 'baseUom'>;

/**
 * A ledger row as the time-series exporter reads it (`Store.ledgerChangeRows`): the array the
 * driver returns, no object per row, quantities in integer thousandths as stored, the event time
 * as the stored `ts_ms` (issue 13: the export reads 250k+ rows/s; parsing ISO times and building
 * an object per row cost more than the rest of the export).
 */
export type LedgerChangeRow = [
  pos: number,
  tsMs: number,
  site: string,
  location: string,
  toLocation: string | null,
  kind: string,
  sku: string,
  qtyMilli: number,
  uom: string,
  /** '' when none. */
  project: string,
  status: string,
  varianceMilli: number | null,
  appliedAt: string,
  baseQtyMilli: number | null,
  baseUom: string | null,
];

/** Per-edge sequence tracking. */
export interface EdgeSeqRow {
  site: string;
  edge: string;
  /** Every seq <= hwm is in the ledger. */
  hwm: number;
  /** Highest seq seen. */
  maxSeq: number;
  updatedAt: string;
}

export interface CommitResult {
  batches: CommitBatchResult[];
  /**
   * (site, sku) pairs whose balances changed, for live boards and alerts. `expiry` is true when a
   * movement of the commit carried an expiry date for the pair (a batch may enter the near-expiry
   * window), so alert evaluation reads batches only then.
   */
  changed: Array<{ site: string; sku: string; expiry?: true }>;
  /** The chain head of every site this commit appended to. */
  heads: ChainHead[];
}

export interface StockQuery {
  site?: string;
  sku?: string;
  location?: string;
}

/** Totals per (site, sku, uom): different units are never added (issue 9, C2). */
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
  /** Totals per (site, sku, uom) across locations, batches and projects: the board's view. */
  totals(q: { site?: string; pairs?: Array<{ site: string; sku: string }> }): Promise<SkuTotal[]>;
  /**
   * The highest ledger position, 0 when the ledger is empty: what a change feed follows. One
   * indexed read; `movements({ limit: 1 })` reads and maps the whole newest row (about 50 µs
   * against 3 on SQLite, and the movement feed asked it after every group commit).
   */
  headPos(): Promise<number>;
  /** Newest first. `before` is a ledger position cursor. */
  movements(q: { site?: string; limit: number; before?: number }): Promise<LedgerRow[]>;
  /**
   * Oldest first: ledger rows with `pos > after`, at most `limit` (a change feed for exporters,
   * e.g. cloud/timeseries/, which keep their own durable cursor).
   */
  ledgerAfter(after: number, limit: number): Promise<LedgerChange[]>;
  /** The same feed as `LedgerChangeRow` arrays (the exporter's hot path). */
  ledgerChangeRows(after: number, limit: number): Promise<LedgerChangeRow[]>;
  /** Newest first; `site` keeps that site's only (a site-scoped caller never sees others, issue 8 #5). */
  deadLetters(q: { site?: string; limit: number; before?: number }): Promise<DeadLetter[]>;
  /**
   * Delete a site's oldest dead letters beyond `maxCount` rows or `maxBytes` (payload + message
   * lengths), newest kept; `site` '' means dead letters without a site. Returns how many went.
   */
  pruneDeadLetters(q: { site: string; maxCount: number; maxBytes: number }): Promise<number>;
  /** One ledger row by movement id (audit: back to the raw frame, edge, operator, device). */
  movement(id: string): Promise<LedgerRow | undefined>;
  /** Batches of a SKU at a site with stock > 0, first-expiring first (no expiry last). */
  fefo(q: { site: string; sku: string }): Promise<StockRow[]>;
  /** Newest first. */
  exceptions(q: { site?: string; state: 'open' | 'resolved' | 'all'; limit: number; before?: number }): Promise<ExceptionRow[]>;
  /** One exception by id (the API checks its site against the caller's scope before acting). */
  exception(id: number): Promise<ExceptionRow | undefined>;
  /** Mark an open exception resolved; undefined when there is no such exception. */
  resolveException(id: number, by: string, resolution: string): Promise<ExceptionRow | undefined>;
  identity(site: string, identity: string): Promise<IdentityRow | undefined>;
  edgeSeq(site: string, edge: string): Promise<EdgeSeqRow | undefined>;
  /** Create or replace an item master record (its GTINs/EPCs must not name another SKU). */
  putItem(item: Omit<ItemMaster, 'updatedAt'>, within?: ItemWriteHook): Promise<ItemMaster>;
  /**
   * Create or replace many records in one transaction: all or none (`ItemCodeConflict`). `within`
   * runs in that same transaction after the writes, with each record before and after (the audit
   * log, issue 10 §5): when it throws, nothing is written.
   */
  putItems(items: ReadonlyArray<Omit<ItemMaster, 'updatedAt'>>, within?: ItemWriteHook): Promise<void>;
  item(sku: string): Promise<ItemMaster | undefined>;
  /** Items whose sku or name contains `search` (case-insensitive), by sku. */
  items(q: { search?: string; limit: number; after?: string }): Promise<ItemMaster[]>;
  /** Recompute a site's hash chain (cloud/ledger/chain.ts). */
  verifyChain(site: string): Promise<VerifyResult>;
  /** Every site's chain head. */
  chainHeads(): Promise<ChainHead[]>;
  close(): Promise<void>;
}


/** Edge id of movements posted over REST (reserved; they carry seq 0 and no gap tracking). */
export const API_EDGE = 'api';
