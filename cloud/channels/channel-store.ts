/**
 * Persistence of alert channels: the channels, one durable delivery queue per channel, and the
 * times of recent posts (the rate limiter's memory). The tables are migration 2 of the `alerts`
 * module in the cloud's one database (cloud/db/: `stockgate.db` or the PostgreSQL schema), on the
 * alert store's connection, because a channel delivery is queued in the SAME
 * transaction as the alert transition that causes it (`enqueueChannelDeliveries*`, called from
 * the alert stores' enqueue): a crash between the two cannot lose a notification.
 *
 * Implementations: `sqlite.ts`, `postgres.ts` (one contract suite,
 * tests/cloud/channels/store.test.ts).
 */
import type { Channel, ChannelDelivery, ChannelInput, ClaimedPost, PostOutcome } from './model.js';

export interface ClaimOptions {
  /** The clock: post times, leases. */
  now: Date;
  /** A channel is due when its oldest pending delivery is due at or before this (now - gather window). */
  dueBefore: Date;
  /** A claimed post's deliveries are not due again before now + leaseMs (a crashed sender's claim runs out). */
  leaseMs: number;
  /** Most posts claimed in one call (each to a different channel). */
  limit: number;
  /** Most deliveries in one post. */
  maxItems: number;
}

export interface ChannelStore {
  addChannel(c: ChannelInput & { id: string; createdAt: string }): Promise<Channel>;
  getChannel(id: string): Promise<Channel | undefined>;
  listChannels(): Promise<Channel[]>;
  /** Removes the channel, its queue and its post times. False when there is none. */
  deleteChannel(id: string): Promise<boolean>;

  /**
   * Claim posts: for each channel whose oldest pending delivery is due and whose rate limit
   * (`rules.ts` RATE_LIMITS, a sliding log over the stored post times) admits a post now, record
   * the post time (the token is spent whatever the outcome: the services count refused requests
   * too) and lease its pending deliveries in queue order. Several cloud instances sharing one
   * PostgreSQL store never claim the same channel at once, and share its rate.
   */
  claimPosts(o: ClaimOptions): Promise<ClaimedPost[]>;
  /** Deliveries claimed but not carried by the post (size bound): due again at `at`, attempts unchanged. */
  release(ids: readonly number[], at: Date): Promise<void>;
  /** The outcome of a post, for every delivery it carried. */
  recordPost(ids: readonly number[], o: PostOutcome): Promise<void>;
  /** Newest first; `before` is a delivery id. */
  listDeliveries(q: { channelId: string; limit: number; before?: number }): Promise<ChannelDelivery[]>;
  /** Pending deliveries of a channel (or all channels). */
  pendingCount(channelId?: string): Promise<number>;
}
