/** The wire contract, version 1: movements on `.../movements` (see `fields.ts`). */
import { z } from 'zod';
import { qtyProblem } from '../ledger/quantity.js';
import { DeviceRef, EdgeId, Instant, IsoDate, MAX_BATCH, MAX_QTY, SCHEMA_VERSION, SiteId, text } from './fields.js';
import { isSafeRaw } from './json-guard.js';
import { BatchVersions } from './movement-rows.js';

// The patterns are shared with the compiled fast path (movement-fast.ts), so both read one rule.
export const MOVEMENT_ID_PATTERN = /^[0-9A-Za-z_-]{10,64}$/;
export const GTIN_PATTERN = /^\d{14}$/;
export const EPC_PATTERN = /^[0-9A-F]{8,128}$/;
export const MAX_RAW_CHARS = 4096;

export const MOVEMENT_KINDS = ['receive', 'issue', 'return', 'transfer', 'adjust', 'count'] as const;
export const MovementKind = z.enum(MOVEMENT_KINDS);
export type MovementKind = z.infer<typeof MovementKind>;

/**
 * One stock movement, the unit of the ledger. `qty` is in `uom`; its sign rules by kind:
 * receive/issue/return/transfer move a positive quantity (direction comes from the kind),
 * `count` states the counted quantity (>= 0) that the stock is set to, and `adjust` is a signed
 * correction (non-zero).
 */
export const MovementFields = z.object({
  v: z.literal(SCHEMA_VERSION),
  /** Globally unique, generated at the edge (a ULID); the idempotency key of the ledger. */
  id: z.string().regex(MOVEMENT_ID_PATTERN, 'id: 10-64 of [0-9A-Za-z_-]'),
  edge: EdgeId,
  /** Per-edge sequence number, strictly increasing from 1 without gaps. */
  seq: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  /** When the reading happened, at the edge. */
  ts: Instant,
  site: SiteId,
  location: text(64),
  /** Destination location of a transfer (required for kind `transfer`, else absent). */
  toLocation: text(64).optional(),
  kind: MovementKind,
  sku: text(64).optional(),
  /** GTIN-14, digits only. */
  gtin: z.string().regex(GTIN_PATTERN, 'gtin: 14 digits').optional(),
  /** EPC as upper-case hex (96 bits or more). */
  epc: z.string().regex(EPC_PATTERN, 'epc: upper-case hex').optional(),
  batch: text(20).optional(),
  expiry: IsoDate.optional(),
  serial: text(64).optional(),
  /**
   * Exact decimal with at most 3 decimals (the ledger keeps integer thousandths, issue 9), and
   * |qty| <= 1e9 per movement (issue 8, finding 7: 1e308 was accepted and two receives made a
   * balance +Infinity).
   */
  qty: z.number().superRefine((x, ctx) => {
    const p = qtyProblem(x) ?? (Math.abs(x) > MAX_QTY ? 'larger than 1e9 (|qty| per movement)' : undefined);
    if (p) ctx.addIssue({ code: 'custom', message: `qty: ${p}` });
  }),
  /** Unit of measure: `ea`, `kg`, `m`, ... */
  uom: text(16),
  project: text(64).optional(),
  stage: text(64).optional(),
  operator: text(64).optional(),
  crew: text(64).optional(),
  /**
   * Business documents the movement is scanned against (issue 10 §2-3, issue 11 §1), optional
   * within version 1 (an older edge omits them; an older cloud strips them): `po` pins a receipt
   * to that purchase order (`stockgate:po/ID`), `req` books an issue against that requisition's
   * reservation (`stockgate:req/ID`), `order` ships against that sales order (`stockgate:so/ID`).
   */
  po: text(64).optional(),
  req: text(64).optional(),
  order: text(64).optional(),
  device: DeviceRef,
  /** The scan text or frame as read (audit: a ledger row traces back to these bytes). */
  raw: z.string().max(MAX_RAW_CHARS).refine(isSafeRaw, 'raw: no NUL or invalid Unicode allowed'),
});

/** The movement with its cross-field rules; `MovementFields` is the plain shape for derived schemas. */
export const Movement = MovementFields.superRefine((m, ctx) => {
  if (m.sku === undefined && m.gtin === undefined && m.epc === undefined) {
    ctx.addIssue({ code: 'custom', path: ['sku'], message: 'sku: one of sku, gtin or epc is required' });
  }
  if (m.kind === 'transfer') {
    if (m.toLocation === undefined) ctx.addIssue({ code: 'custom', path: ['toLocation'], message: 'toLocation: required for a transfer' });
    else if (m.toLocation === m.location) ctx.addIssue({ code: 'custom', path: ['toLocation'], message: 'toLocation: equals location' });
  } else if (m.toLocation !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['toLocation'], message: 'toLocation: only a transfer has one' });
  }
  if (m.kind === 'count' ? m.qty < 0 : m.kind === 'adjust' ? m.qty === 0 : m.qty <= 0) {
    const rule = m.kind === 'count' ? '>= 0' : m.kind === 'adjust' ? 'non-zero' : '> 0';
    ctx.addIssue({ code: 'custom', path: ['qty'], message: `qty: must be ${rule} for kind ${m.kind}` });
  }
});
export type Movement = z.infer<typeof Movement>;

/** One publish on `.../movements`: many movements of one edge, in seq order. */
export const MovementBatch = z.object({
  v: z.literal(SCHEMA_VERSION),
  site: SiteId,
  edge: EdgeId,
  /** When the edge published this batch (resends carry a new time). */
  sentAt: Instant,
  movements: z.array(z.unknown()).min(1).max(MAX_BATCH),
  /**
   * The batch versions this edge can send (movement-rows.ts): `[1, 2]` asks the cloud to say, in
   * its acks, whether it reads version 2. Optional: an older edge leaves it out and is never offered
   * version 2.
   */
  batchVersions: BatchVersions.optional(),
});
/**
 * The batch envelope is validated first and each movement on its own, so one bad movement is
 * dead-lettered alone and the rest of the batch still applies.
 */
export type MovementBatch = Omit<z.infer<typeof MovementBatch>, 'movements'> & { movements: Movement[] };

