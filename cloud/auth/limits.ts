/** Admission limits of the embedded broker (with authentication on). */
export interface MqttLimits {
  /** Concurrent connections per username; one more is refused (CONNACK 3). Default 4. */
  maxConnPerUser: number;
  /** Sustained publishes per second per client connection. Default 200. */
  publishRate: number;
  /** Publishes a client may send at once above the rate. Default 2 x publishRate (400). */
  publishBurst: number;
}

export const DEFAULT_LIMITS: MqttLimits = { maxConnPerUser: 4, publishRate: 200, publishBurst: 400 };

/**
 * A token bucket: holds up to `burst` tokens, refills `rate` per second, one token per publish.
 * A movement batch carries up to 1000 movements, so 200 publishes/s is far above what an edge
 * needs and far below what a runaway client could push.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly rate: number,
    private readonly burst: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = burst;
    this.last = now();
  }

  /** Take one token; false when the bucket is empty (the caller is over its rate). */
  take(): boolean {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) / 1000) * this.rate);
    this.last = t;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
