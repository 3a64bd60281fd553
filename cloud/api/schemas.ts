import { z } from 'zod';
import { MovementFields, RejectReason } from '../../protocols/mqtt/index.js';

/** Response shapes of the API, as zod schemas for the OpenAPI document. */
export const StockRowSchema = z.object({
  site: z.string(),
  location: z.string(),
  sku: z.string(),
  batch: z.string().describe("'' when none"),
  project: z.string().describe("'' when none"),
  onHand: z.number(),
  uom: z.string(),
  expiry: z.string().nullable(),
  updatedAt: z.string(),
  state: z.enum(['ok', 'expired']).describe('expired: the batch expiry is before today (never suggested by FEFO)'),
});

/** One total per (site, sku, uom): different units are never added. */
export const SkuTotalSchema = z.object({
  site: z.string(),
  sku: z.string(),
  onHand: z.number(),
  uom: z.string(),
  locations: z.number().int(),
  updatedAt: z.string(),
});

export const LedgerRowSchema = MovementFields.extend({
  pos: z.number().int().describe('ledger position, a stable cursor'),
  appliedAt: z.string(),
  status: z.enum(['applied', 'exception']),
  variance: z.number().optional().describe("counts: counted minus on hand at the count's ts (base unit)"),
  baseQty: z.number().optional().describe("what was booked, in the item's base uom (absent when nothing was)"),
  baseUom: z.string().optional(),
  rounding: z.string().optional().describe('exact converted quantity minus the booked one, when a unit conversion rounded'),
  postedBy: z.object({ tokenId: z.string(), user: z.string() }).optional().describe('REST entries: the token that posted it'),
  chainN: z.number().int().optional().describe("number of the row in its site's hash chain"),
  hash: z.string().optional().describe('SHA-256(previous hash || canonical row bytes), hex (cloud/ledger/chain.ts)'),
});

export const DeadLetterSchema = z.object({
  id: z.number().int(),
  receivedAt: z.string(),
  topic: z.string(),
  site: z.string().optional(),
  edge: z.string().optional(),
  reason: RejectReason,
  message: z.string(),
  payload: z.string(),
});

export const ExceptionRowSchema = z.object({
  id: z.number().int(),
  type: z.enum(['NEGATIVE_STOCK', 'DUPLICATE_IDENTITY', 'IDENTITY_NOT_IN_STOCK', 'UOM_MISMATCH', 'UNKNOWN_ITEM', 'UNMAPPED_EPC', 'LATE_COUNT', 'COUNT_WITHOUT_BATCH', 'RESERVATION_AT_RISK', 'OVER_ISSUE', 'OVER_RECEIPT', 'NO_PO_RECEIPT']),
  site: z.string(),
  movementId: z.string(),
  sku: z.string(),
  location: z.string(),
  batch: z.string(),
  project: z.string(),
  identity: z.string().optional(),
  onHand: z.number().optional(),
  message: z.string(),
  state: z.enum(['open', 'resolved']),
  raisedAt: z.string(),
  resolvedAt: z.string().optional(),
  resolvedBy: z.string().optional(),
  resolution: z.string().optional(),
});

/** `{items, next}`: `next` is the cursor for `before`, null on the last page. */
export const page = <T extends z.ZodType>(item: T) => z.object({ items: z.array(item), next: z.string().nullable() });
