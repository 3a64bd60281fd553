import { clipRanges, type SeqRange } from '../protocols/mqtt/index.js';

/** A batch published and not yet acked: its seq range and when it went out. */
export interface InflightBatch {
  first: number;
  last: number;
  sentAt: number;
}

export interface DrainWindowOptions {
  /** Batches published and not yet acked, at most. */
  window: number;
  /** How long a batch may wait for its application ack before the window is resent from it, ms. */
  ackTimeoutMs: number;
  /** The clock, ms (tests pass a fake one). Default `Date.now`. */
  now?: () => number;
}

/**
 * The drain's state machine, pure (no I/O, no timers; issue 15 §1): which seqs are in flight,
 * where the next batch starts, when to resend. The uplink (`publisher.ts`) owns the connection
 * and asks it:
 * - `room()` / `after` / `sent()`: a batch may go out while fewer than `window` await their ack;
 *   it starts after `after`, the last seq sent;
 * - `bound()`: acks and rejects name only seqs at or below the highest ever sent (the seq bound
 *   against forged acks, issue 8 finding 6);
 * - `settle(hasAny)`: batches with nothing left in the outbox (acked or rejected) leave the window;
 * - `rewind(from)`: the cloud reported a gap: resend from it, at most once per half ack timeout,
 *   so a burst of acks naming the same gap resends once;
 * - `expired(hasAny)`: the oldest batch waited longer than the ack timeout (a cloud restarted
 *   behind a live broker lost it): resend everything unacked, oldest first;
 * - `restart()`: after every (re)connect everything unacked goes again (the cloud dedupes by id).
 */
export class DrainWindow {
  /** Last seq published since the last restart or rewind; the next batch starts after it. */
  after = 0;
  /** Highest seq ever published by this process (never lowered). */
  highestSent = 0;
  private readonly inflight: InflightBatch[] = [];
  private lastRewindAt = Number.NEGATIVE_INFINITY;
  private readonly now: () => number;

  constructor(private readonly o: DrainWindowOptions) {
    this.now = o.now ?? Date.now;
  }

  /** Batches awaiting their ack. */
  get size(): number {
    return this.inflight.length;
  }

  /** The oldest batch awaiting its ack. */
  get oldest(): InflightBatch | undefined {
    return this.inflight[0];
  }

  /** Room for one more batch. */
  room(): boolean {
    return this.inflight.length < this.o.window;
  }

  /** A batch `first..last` was published. */
  sent(first: number, last: number): void {
    this.inflight.push({ first, last, sentAt: this.now() });
    this.after = last;
    if (last > this.highestSent) this.highestSent = last;
  }

  /** Ranges clipped to the highest seq sent, and how many seqs were cut. */
  bound(ranges: readonly SeqRange[]): { kept: SeqRange[]; cut: number } {
    return clipRanges(ranges, this.highestSent);
  }

  /** Drop the batches that have nothing left in the outbox. */
  settle(hasAny: (first: number, last: number) => boolean): void {
    for (let i = this.inflight.length - 1; i >= 0; i--) {
      const b = this.inflight[i]!;
      if (!hasAny(b.first, b.last)) this.inflight.splice(i, 1);
    }
  }

  /** A gap reported from `from`: true when the drain goes back to it (then pump again). */
  rewind(from: number): boolean {
    const now = this.now();
    if (from > this.after || now - this.lastRewindAt < this.o.ackTimeoutMs / 2) return false;
    this.lastRewindAt = now;
    this.inflight.length = 0;
    this.after = Math.max(0, from - 1);
    return true;
  }

  /** True when the oldest unacked batch timed out: the window restarts from the oldest unacked seq. */
  expired(hasAny: (first: number, last: number) => boolean): boolean {
    const oldest = this.inflight[0];
    if (!oldest || this.now() - oldest.sentAt < this.o.ackTimeoutMs) return false;
    this.settle(hasAny);
    const still = this.inflight[0];
    if (!still || this.now() - still.sentAt < this.o.ackTimeoutMs) return false;
    this.restart();
    return true;
  }

  /** Everything unacked goes again, oldest first (after a (re)connect or a timeout). */
  restart(): void {
    this.after = 0;
    this.inflight.length = 0;
  }
}
