/**
 * The wire contract, version 1: zod schemas of every payload on the topics in `topics.ts`.
 * Payloads are UTF-8 JSON. Every message carries `v` (the schema version); a receiver rejects a
 * version it does not know with reason `UNSUPPORTED_VERSION` instead of guessing.
 *
 * Unknown object keys are stripped, not rejected, so a newer edge can add optional fields within
 * version 1 without breaking an older cloud.
 */
import { z } from 'zod';
import { ID_PATTERN, RESERVED_EDGE_IDS } from './topics.js';

export const SCHEMA_VERSION = 1 as const;

/** Most movements in one batch message. Bounds memory and one transaction's size at the cloud. */
export const MAX_BATCH = 1000;

const text = (max: number) => z.string().min(1).max(max);

export const SiteId = z.string().regex(ID_PATTERN, 'site: 1-64 of [A-Za-z0-9._-], starting alphanumeric');
export const EdgeId = z
  .string()
  .regex(ID_PATTERN, 'edge: 1-64 of [A-Za-z0-9._-], starting alphanumeric')
  .refine((e) => !RESERVED_EDGE_IDS.has(e), 'edge: this id is reserved');

export const MovementKind = z.enum(['receive', 'issue', 'return', 'transfer', 'adjust', 'count']);
export type MovementKind = z.infer<typeof MovementKind>;

/** ISO-8601 instant with an offset or Z, e.g. 2026-11-22T02:19:00.000Z. */
const Instant = z.iso.datetime({ offset: true });
/** Calendar date, e.g. an expiry 2027-03-31. */
const IsoDate = z.iso.date();

export const DeviceRef = z.object({
  /** The device's name in the edge config (`--device NAME=...`). */
  id: text(64),
  /** Driver or device class, e.g. `scanner`, `scale-mt-sics`, `rfid-m100`, `manual`. */
  type: text(64),
});

/**
 * One stock movement, the unit of the ledger. `qty` is in `uom`; its sign rules by kind:
 * receive/issue/return/transfer move a positive quantity (direction comes from the kind),
 * `count` states the counted quantity (>= 0) that the stock is set to, and `adjust` is a signed
 * correction (non-zero).
 */
export const MovementFields = z.object({
  v: z.literal(SCHEMA_VERSION),
  /** Globally unique, generated at the edge (a ULID); the idempotency key of the ledger. */
  id: z.string().regex(/^[0-9A-Za-z_-]{10,64}$/, 'id: 10-64 of [0-9A-Za-z_-]'),
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
  gtin: z.string().regex(/^\d{14}$/, 'gtin: 14 digits').optional(),
  /** EPC as upper-case hex (96 bits or more). */
  epc: z.string().regex(/^[0-9A-F]{8,128}$/, 'epc: upper-case hex').optional(),
  batch: text(20).optional(),
  expiry: IsoDate.optional(),
  serial: text(64).optional(),
  qty: z.number().finite(),
  /** Unit of measure: `ea`, `kg`, `m`, ... */
  uom: text(16),
  project: text(64).optional(),
  stage: text(64).optional(),
  operator: text(64).optional(),
  crew: text(64).optional(),
  device: DeviceRef,
  /** The scan text or frame as read (audit: a ledger row traces back to these bytes). */
  raw: z.string().max(4096),
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
});
/**
 * The batch envelope is validated first and each movement on its own, so one bad movement is
 * dead-lettered alone and the rest of the batch still applies.
 */
export type MovementBatch = Omit<z.infer<typeof MovementBatch>, 'movements'> & { movements: Movement[] };

/** Inclusive seq ranges `[from, to]`, ascending and disjoint: compact acks for long batches. */
export const SeqRanges = z
  .array(z.tuple([z.number().int().positive(), z.number().int().positive()]).refine(([a, b]) => a <= b, 'ranges: from > to'))
  .max(10_000)
  .refine((rs) => rs.every((r, i) => i === 0 || r[0] > rs[i - 1]![1]), 'ranges: not ascending and disjoint');
export type SeqRanges = Array<[number, number]>;

/**
 * Application-level ack on `.../acks`, published only after the ledger transaction committed.
 * It is the only thing that frees outbox entries at the edge (not the broker's PUBACK).
 */
export const Ack = z.object({
  v: z.literal(SCHEMA_VERSION),
  edge: EdgeId,
  /** Seqs now durable in the ledger (newly applied or already there). */
  ranges: SeqRanges,
  /** How many of them were duplicates (already applied earlier). */
  duplicates: z.number().int().nonnegative(),
  /**
   * Gap detection: seqs of this edge below the highest seen that the ledger still lacks. The
   * edge resends them (from its outbox) without waiting for its ack timeout.
   */
  missing: SeqRanges.optional(),
  at: Instant,
});
export type Ack = z.infer<typeof Ack>;

export const RejectReason = z.enum([
  /** Payload is not UTF-8 JSON. */
  'INVALID_JSON',
  /** Envelope or movement fails the schema; `message` names the field. */
  'INVALID_SCHEMA',
  /** `v` is a version this receiver does not speak. */
  'UNSUPPORTED_VERSION',
  /** site/edge in the payload differ from the topic it came on. */
  'TOPIC_MISMATCH',
  /** Payload larger than the receiver accepts. */
  'TOO_LARGE',
]);
export type RejectReason = z.infer<typeof RejectReason>;

/**
 * Reject on `.../rejects`: the cloud kept the payload in its dead-letter store and will not apply
 * it. `ranges` names the rejected movements when their seqs could be read, so the edge can move
 * them out of its outbox (into its local rejected table) instead of resending them forever.
 */
export const Reject = z.object({
  v: z.literal(SCHEMA_VERSION),
  edge: EdgeId,
  reason: RejectReason,
  message: z.string(),
  ranges: SeqRanges.optional(),
  ids: z.array(z.string()).max(MAX_BATCH).optional(),
  deadLetterId: z.number().int().optional(),
  at: Instant,
});
export type Reject = z.infer<typeof Reject>;

export const DeviceHealth = z.object({
  id: text(64),
  type: text(64),
  state: z.enum(['connected', 'disconnected', 'error']),
  lastFrameAt: Instant.optional(),
  reconnects: z.number().int().nonnegative().optional(),
  droppedFrames: z.number().int().nonnegative().optional(),
  error: z.string().optional(),
});
export type DeviceHealth = z.infer<typeof DeviceHealth>;

/**
 * Retained on `.../status`. The same shape with `state: 'offline'` and `reason: 'lwt'` is the
 * MQTT last will, so a crashed edge reads offline without anyone polling it.
 */
export const EdgeStatus = z.object({
  v: z.literal(SCHEMA_VERSION),
  site: SiteId,
  edge: EdgeId,
  state: z.enum(['online', 'offline']),
  reason: z.enum(['connect', 'shutdown', 'lwt', 'update']).optional(),
  ts: Instant,
  /** Movements in the outbox not yet acked. */
  backlog: z.number().int().nonnegative().optional(),
  version: z.string().optional(),
  devices: z.array(DeviceHealth).optional(),
});
export type EdgeStatus = z.infer<typeof EdgeStatus>;

/** Periodic numbers on `.../telemetry` (QoS 0: a lost sample is replaced by the next). */
export const Telemetry = z.object({
  v: z.literal(SCHEMA_VERSION),
  site: SiteId,
  edge: EdgeId,
  ts: Instant,
  /** Flat name -> number, e.g. `outbox.backlog`, `outbox.oldestAgeMs`, `scale.dock1.weightKg`. */
  metrics: z.record(z.string().max(128), z.number()),
  devices: z.array(DeviceHealth).optional(),
});
export type Telemetry = z.infer<typeof Telemetry>;

/** First issue of a failed zod parse as `path: message` (messages already name their field). */
export function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid';
  const path = issue.path.join('.');
  return path && !issue.message.startsWith(`${String(issue.path[issue.path.length - 1])}:`) ? `${path}: ${issue.message}` : issue.message;
}
