/** The wire contract, version 1: application acks and rejects (`.../acks`, `.../rejects`; see `fields.ts`). */
import { z } from 'zod';
import { EdgeId, Instant, MAX_BATCH, SCHEMA_VERSION } from './fields.js';
import { BatchVersions } from './movement-rows.js';

/** Inclusive seq ranges `[from, to]`, ascending and disjoint: compact acks for long batches. */
export const SeqRanges = z
  .array(z.tuple([z.number().int().positive(), z.number().int().positive()]).refine(([a, b]) => a <= b, 'ranges: from > to'))
  .max(10_000)
  .refine((rs) => rs.every((r, i) => i === 0 || r[0] > rs[i - 1]![1]), 'ranges: not ascending and disjoint');
export type SeqRanges = Array<[number, number]>;

/** An HMAC-SHA256 in lowercase hex (`ack-signature.ts`). */
const AckSig = z.string().regex(/^[0-9a-f]{64}$/, 'sig: expected 64 lowercase hex digits (HMAC-SHA256)');

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
  /**
   * The batch versions this cloud reads (movement-rows.ts), sent only to an edge whose batch said
   * it can send more than version 1 (`batchVersions` of the batch), and covered by `sig`. An edge
   * sends version 2 while the last ack it took lists it.
   */
  batchVersions: BatchVersions.optional(),
  /**
   * HMAC-SHA256 (hex) over the ack's canonical content under the edge's ack key
   * (`ack-signature.ts`). Optional on the wire: unsigned acks (older clouds, `--insecure` without
   * `--ack-key`) stay valid; an edge that holds a key drops an ack without a valid one.
   */
  sig: AckSig.optional(),
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
  /** Signature as on {@link Ack} (a reject also moves entries out of the outbox). */
  sig: AckSig.optional(),
});
export type Reject = z.infer<typeof Reject>;

