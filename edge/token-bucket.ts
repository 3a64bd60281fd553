/**
 * A token bucket: `ratePerSec` tokens a second, at most `burst` saved up (default one second's
 * worth). The publisher takes one token per movement it sends, so a backlog drains at the
 * configured rate after an outage instead of all at once (`drainRatePerSec`; node-red
 * msg-queue#5 is the failure mode: a reconnect floods a metered link or the cloud).
 * Pure apart from the clock, which is passed in.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;
  readonly burst: number;

  constructor(
    readonly ratePerSec: number,
    now: number,
    burst?: number,
  ) {
    if (!(ratePerSec > 0) || !Number.isFinite(ratePerSec)) throw new TypeError(`TokenBucket: ratePerSec must be > 0, got ${ratePerSec}`);
    this.burst = burst ?? Math.max(1, ratePerSec);
    this.tokens = this.burst;
    this.last = now;
  }

  /** Whole tokens available at `now`. */
  available(now: number): number {
    this.refill(now);
    return Math.floor(this.tokens);
  }

  /** Take `n` tokens (callers check `available` first; the bucket may go negative by a rounding). */
  take(n: number, now: number): void {
    this.refill(now);
    this.tokens -= n;
  }

  /** ms until `n` tokens are available (0 when they are). */
  waitMs(n: number, now: number): number {
    this.refill(now);
    const missing = n - this.tokens;
    return missing <= 0 ? 0 : Math.ceil((missing / this.ratePerSec) * 1000);
  }

  private refill(now: number): void {
    if (now > this.last) {
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.ratePerSec);
      this.last = now;
    }
  }
}
