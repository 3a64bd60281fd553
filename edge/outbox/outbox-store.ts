import type { Movement, SeqRange } from '../../protocols/mqtt/index.js';

/** A movement as the scan session makes it: everything but the ids the outbox assigns. */
export type MovementDraft = Omit<Movement, 'v' | 'id' | 'edge' | 'seq' | 'site'>;

/** One unacked movement, in the form it goes on the wire. */
export interface OutboxEntry {
  seq: number;
  id: string;
  /** The movement's JSON text, exactly as published (built once, at append). */
  json: string;
}

/** Consecutive unacked entries as one JSON array body (`json` is the entries joined with commas). */
export interface OutboxBatch {
  first: number;
  last: number;
  count: number;
  /** `m1,m2,...`: splice between `[` and `]`. */
  json: string;
}

export interface OutboxBacklog {
  /** Movements appended and not yet acked by the cloud. */
  count: number;
  /** Bytes of their JSON. */
  bytes: number;
  /** Lowest unacked seq, or undefined when empty. */
  oldestSeq?: number;
  /** Append time of the oldest unacked movement, ms since the epoch. */
  oldestAt?: number;
}

/** Default outbox bound: 256 MiB of unacked movement JSON (Greengrass stream manager's default maxSize). */
export const DEFAULT_OUTBOX_MAX_BYTES = 256 * 1024 * 1024;

/**
 * `append` refused: the movements would take the unacked backlog past `maxBytes`. Nothing of the
 * append was stored. The overflow policy is to refuse new movements, never to drop old ones: an
 * old unacked movement is a business fact (goods moved) that the ledger does not have yet,
 * while a refused new one is known to the operator at once (error beep, log, status
 * `outbox-full`) and can be scanned again when the link is back. Greengrass's
 * `OverwriteOldestData` suits telemetry, not a stock ledger.
 */
export class OutboxFullError extends Error {
  readonly code = 'SG_ERR_OUTBOX_FULL';
  constructor(
    readonly bytes: number,
    readonly maxBytes: number,
    readonly needed: number,
  ) {
    super(`outbox full: ${bytes} of ${maxBytes} bytes unacked, ${needed} more refused (the cloud is unreachable or not acking)`);
  }
}

export interface RejectedEntry extends OutboxEntry {
  reason: string;
  message: string;
  rejectedAt: number;
}

/**
 * The edge's durable outbox: step 2 of the reliability protocol. A movement is committed here
 * (fsync-durable) before it is published, and leaves only when the cloud's application-level ack
 * for it arrives (never on the broker's PUBACK), or moves to the rejected table on a reject.
 * Sequence numbers are assigned here, in the same transaction as the insert, so they are gapless
 * and survive restarts.
 */
export interface OutboxStore {
  /**
   * Assign id and seq to each draft and commit them in one transaction. Returns them as stored.
   * Throws {@link OutboxFullError} (storing none of them) when they would take the unacked bytes
   * past `maxBytes`.
   */
  append(drafts: readonly MovementDraft[]): Movement[];
  /** The size bound: bytes of unacked movement JSON. */
  readonly maxBytes: number;
  /** Change the bound (remote config). Lowering it below the backlog refuses appends until acks free room. */
  setMaxBytes(bytes: number): void;
  /** Unacked entries with seq > afterSeq, ascending, at most `limit`. */
  read(afterSeq: number, limit: number): OutboxEntry[];
  /**
   * The same entries as one joined string (the publisher's hot path: one allocation per batch
   * instead of one object and string per movement). Undefined when there are none.
   */
  readBatch?(afterSeq: number, limit: number): OutboxBatch | undefined;
  /**
   * The same entries as rows of the batch's version 2 (protocols/mqtt/movement-rows.ts): each one
   * a JSON array of its `ROW_COLUMNS` values, joined with commas. Without it the edge sends only
   * version 1.
   */
  readRows?(afterSeq: number, limit: number): OutboxBatch | undefined;
  /** Delete acked seqs; returns how many rows were removed. */
  ack(ranges: readonly SeqRange[]): number;
  /** Move rejected seqs to the rejected table with the reason; returns how many moved. */
  reject(ranges: readonly SeqRange[], reason: string, message: string): number;
  /** True when any seq in [from, to] is still unacked. */
  hasAny(from: number, to: number): boolean;
  /** Counters kept with every append/ack (no table scan), cheap at any backlog size. */
  backlog(): OutboxBacklog;
  /** Most recent rejected entries, newest first. */
  rejected(limit: number): RejectedEntry[];
  /** Highest seq ever assigned (0 when none). */
  lastSeq(): number;
  close(): void;
}
