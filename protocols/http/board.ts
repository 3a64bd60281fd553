import { z } from 'zod';

export { edgeKey, stockKey } from './board-keys.js';

/**
 * The live board's wire contract (issue 12): what `GET /board/events` (Server-Sent Events) and the
 * board's read endpoints carry. Both ends are typed from these schemas: the cloud builds its
 * payloads as these types, the browser front end (dashboards/board/) parses them. They are NOT
 * the cloud store's types: the store may grow columns without the board's contract moving.
 *
 * Quantities are decimal numbers in the row's own `uom` (at most 3 decimals, as the ledger keeps
 * integer thousandths: protocols/ledger/quantity.ts); the board never adds rows of different units.
 */

/** Stream event names. `snapshot` first (or a `frame` when `Last-Event-ID` resumed), then frames. */
export const BOARD_EVENTS = ['snapshot', 'frame', 'resync'] as const;
export type BoardEventName = (typeof BOARD_EVENTS)[number];

/** One balance: a SKU at a location, per batch and project ('' when none), in one unit. */
export const BoardStockRow = z.object({
  site: z.string(),
  location: z.string(),
  sku: z.string(),
  batch: z.string(),
  project: z.string(),
  uom: z.string(),
  onHand: z.number(),
  expiry: z.string().nullable(),
  updatedAt: z.string(),
  state: z.enum(['ok', 'expired']),
});
export type BoardStockRow = z.infer<typeof BoardStockRow>;


/** A ledger row for the live feed: who, with what, for which project. */
export const BoardMovement = z.object({
  pos: z.number().int(),
  id: z.string(),
  ts: z.string(),
  appliedAt: z.string(),
  site: z.string(),
  edge: z.string(),
  location: z.string(),
  toLocation: z.string().optional(),
  kind: z.string(),
  sku: z.string(),
  qty: z.number(),
  uom: z.string(),
  batch: z.string().optional(),
  project: z.string().optional(),
  stage: z.string().optional(),
  operator: z.string().optional(),
  crew: z.string().optional(),
  device: z.object({ id: z.string(), type: z.string() }),
  status: z.enum(['applied', 'exception']),
});
export type BoardMovement = z.infer<typeof BoardMovement>;

/** A device behind an edge, as its last status or telemetry told. */
export const BoardDevice = z.object({
  id: z.string(),
  type: z.string(),
  state: z.enum(['connected', 'disconnected', 'error']),
  lastFrameAt: z.string().optional(),
  reconnects: z.number().int().optional(),
  /** Scale zero drift, kg (telemetry `scale.<device>.zeroDriftKg`). */
  driftKg: z.number().optional(),
  error: z.string().optional(),
});
export type BoardDevice = z.infer<typeof BoardDevice>;

/** An edge's health: online or offline, when last heard from, its outbox backlog and devices. */
export const BoardEdge = z.object({
  site: z.string(),
  edge: z.string(),
  state: z.enum(['online', 'offline']),
  /** When the cloud last received a status or telemetry message of this edge. */
  lastSeenAt: z.string(),
  backlog: z.number().int().optional(),
  version: z.string().optional(),
  problems: z.array(z.string()).optional(),
  devices: z.array(BoardDevice),
});
export type BoardEdge = z.infer<typeof BoardEdge>;

/** An open alert (cloud/alerts): stock levels, expiry, device health. */
export const BoardAlert = z.object({
  id: z.string(),
  type: z.string(),
  site: z.string(),
  sku: z.string().optional(),
  batch: z.string().optional(),
  edge: z.string().optional(),
  device: z.string().optional(),
  /** The project it concerns (expiry of a batch held for it): what a project manager's board shows. */
  project: z.string().optional(),
  value: z.number().optional(),
  threshold: z.number().optional(),
  raisedAt: z.string(),
  ackedAt: z.string().nullable(),
  ackedBy: z.string().nullable(),
});
export type BoardAlert = z.infer<typeof BoardAlert>;

/** An open ledger exception (the reconciliation queue: NEGATIVE_STOCK, UOM_MISMATCH, ...). */
export const BoardException = z.object({
  id: z.number().int(),
  type: z.string(),
  site: z.string(),
  movementId: z.string(),
  sku: z.string(),
  location: z.string(),
  batch: z.string(),
  project: z.string(),
  message: z.string(),
  raisedAt: z.string(),
});
export type BoardException = z.infer<typeof BoardException>;

/** An item master name for a SKU. */
export const BoardItem = z.object({ sku: z.string(), name: z.string(), uom: z.string() });
export type BoardItem = z.infer<typeof BoardItem>;

/** What the caller may do on the board (from its token's roles). */
export const BoardCaller = z.object({
  roles: z.array(z.string()),
  /** Sites the token is limited to; absent = every site. */
  sites: z.array(z.string()).optional(),
  /** Projects the token is limited to (project managers); absent = every project. */
  projects: z.array(z.string()).optional(),
  /** May acknowledge alerts (of the types its role is routed, or any as site manager). */
  canAck: z.boolean(),
  /** May resolve ledger exceptions. */
  canResolve: z.boolean(),
  /** May see cost fields. */
  seesCost: z.boolean(),
});
export type BoardCaller = z.infer<typeof BoardCaller>;

/**
 * The first event of a stream: everything the views need, as of ledger position `pos` (the
 * balances may already include a few later commits; the frames after it carry latest values, so
 * applying them again is harmless).
 */
export const BoardSnapshot = z.object({
  pos: z.number().int(),
  at: z.string(),
  caller: BoardCaller,
  stock: z.array(BoardStockRow),
  /** Newest first. */
  feed: z.array(BoardMovement),
  edges: z.array(BoardEdge),
  alerts: z.array(BoardAlert),
  /** The newest `MAX_EXCEPTIONS_SENT` open exceptions, newest first. */
  exceptions: z.array(BoardException),
  /** How many exceptions are open in the caller's view (of the newest 1000 read). */
  exceptionsOpen: z.number().int().optional(),
  items: z.array(BoardItem),
});
export type BoardSnapshot = z.infer<typeof BoardSnapshot>;

/**
 * One coalesced frame (at most one per 250 ms per stream): the latest value of every stock row and
 * edge that changed, the ledger rows applied since the previous frame (oldest first, at most
 * `MAX_FEED_PER_FRAME`; `feedDropped` counts the rest), and the whole open alert / exception lists
 * when they changed.
 */
export const BoardFrame = z.object({
  pos: z.number().int(),
  stock: z.array(BoardStockRow),
  feed: z.array(BoardMovement),
  feedDropped: z.number().int().optional(),
  edges: z.array(BoardEdge).optional(),
  alerts: z.array(BoardAlert).optional(),
  exceptions: z.array(BoardException).optional(),
  /** With `exceptions`: how many are open in the caller's view (the list holds the newest `MAX_EXCEPTIONS_SENT`). */
  exceptionsOpen: z.number().int().optional(),
  items: z.array(BoardItem).optional(),
  /**
   * Where the frame's time went in the hub (epoch ms), for the latency bench's per-stage split
   * (issue 12 acceptance: scan -> board p99 including the coalescing window): `reads` are the
   * ledger reads merged into it as [highest position read, when] (at most `MAX_FRAME_READS`, the
   * latest kept), `flush` when the frame's 250 ms window closed and its balances were read, `sent`
   * when it was serialised and written to the sockets.
   */
  timing: z.object({ reads: z.array(z.tuple([z.number().int(), z.number()])), flush: z.number(), sent: z.number() }).optional(),
});
export type BoardFrame = z.infer<typeof BoardFrame>;
/** Ledger reads listed in a frame's `timing`. */
/**
 * A frame's way through the page, kept by the board in `window.__board.trace` for tests and the
 * bench (epoch ms, comparable with the hub's `timing`): `recv` the event handler ran, `reduced`
 * parsed and applied to the state, `rendered` Preact re-rendered, `painted` the next animation
 * frame. The bench joins them with `timing` into the per-stage split of scan -> board latency
 * (issue 12). One type for the page and the bench, so the two cannot drift apart.
 */
export interface BoardFrameTrace {
  pos: number;
  bytes: number;
  timing?: BoardFrame['timing'];
  recv: number;
  reduced: number;
  rendered?: number;
  painted?: number;
}

export const MAX_FRAME_READS = 32;

/** `event: resync`: the server dropped this stream's queue; reload the snapshot (new stream). */
export const BoardResync = z.object({ reason: z.enum(['overflow', 'too-far-behind']) });
export type BoardResync = z.infer<typeof BoardResync>;

/** Open exceptions listed in a snapshot or frame, newest first (`exceptionsOpen` counts them all). */
export const MAX_EXCEPTIONS_SENT = 100;
/** Feed rows per frame; older rows of a burst are counted, not sent (the table stays exact). */
export const MAX_FEED_PER_FRAME = 200;
/** The longest a frame waits for more changes, ms (issue 12: frames of at most 250 ms). */
export const FRAME_MS = 250;
/** Heartbeat comment period, ms. */
export const HEARTBEAT_MS = 15_000;

/** Why a stock line needs attention. */
export const ATTENTION_REASONS = ['below-safety', 'below-reorder', 'stockout-soon', 'expired', 'near-expiry', 'stale'] as const;
export type AttentionReason = (typeof ATTENTION_REASONS)[number];

/** A batch that expires soon or has expired. */
export const BoardExpiring = z.object({ location: z.string(), batch: z.string(), expiry: z.string(), onHand: z.number(), days: z.number().int() });

/**
 * One (site, sku, uom) that needs attention (`GET /board/api/attention`). Days of cover = on hand ÷
 * average daily issue over the last `windowDays` (28) days; null when nothing was issued.
 */
export const BoardAttentionRow = z.object({
  site: z.string(),
  sku: z.string(),
  uom: z.string(),
  onHand: z.number(),
  safetyStock: z.number().optional(),
  reorderPoint: z.number().optional(),
  avgDailyIssue: z.number(),
  daysOfCover: z.number().nullable(),
  /** Projected stock-out date (YYYY-MM-DD), null when nothing is issued. */
  stockoutDate: z.string().nullable(),
  lastMovementAt: z.string().nullable(),
  reasons: z.array(z.enum(ATTENTION_REASONS)),
  expiring: z.array(BoardExpiring),
});
export type BoardAttentionRow = z.infer<typeof BoardAttentionRow>;

export const BoardAttention = z.object({
  windowDays: z.number().int(),
  staleDays: z.number().int(),
  nearExpiryDays: z.number().int(),
  /** Days of cover below this is `stockout-soon`. */
  coverDays: z.number().int(),
  items: z.array(BoardAttentionRow),
});
export type BoardAttention = z.infer<typeof BoardAttention>;

/** `GET /board/api/history`: a SKU's stock level over time (per uom) and the site's movements per hour. */
export const BoardHistory = z.object({
  site: z.string(),
  sku: z.string(),
  /** Per unit: [epoch seconds, level after the movement]. */
  series: z.array(z.object({ uom: z.string(), points: z.array(z.tuple([z.number(), z.number()])) })),
  /** The last 24 hours: [epoch seconds of the hour, movements]. */
  perHour: z.array(z.tuple([z.number(), z.number()])),
});
export type BoardHistory = z.infer<typeof BoardHistory>;
