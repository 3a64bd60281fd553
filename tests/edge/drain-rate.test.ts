import { afterEach, describe, expect, it } from 'vitest';
import type { SqliteOutbox } from '../../edge/outbox/sqlite.js';
import type { Publisher } from '../../edge/publisher.js';
import { TokenBucket } from '../../edge/token-bucket.js';
import { draft } from '../contracts/outbox-store.contract.js';
import { waitFor } from '../helpers/procs.js';
import { PublisherHarness } from '../helpers/publisher-harness.js';

describe('TokenBucket', () => {
  it('starts full (one second of burst), refills at the rate, caps at the burst', () => {
    const b = new TokenBucket(100, 0);
    expect(b.available(0)).toBe(100);
    b.take(100, 0);
    expect(b.available(0)).toBe(0);
    expect(b.waitMs(50, 0)).toBe(500);
    expect(b.available(250)).toBe(25);
    expect(b.available(10_000)).toBe(100);
    expect(b.waitMs(1, 10_000)).toBe(0);
  });

  it('has a burst of at least one token and refuses a non-positive rate', () => {
    expect(new TokenBucket(0.5, 0).burst).toBe(1);
    expect(new TokenBucket(10, 0, 3).available(0)).toBe(3);
    expect(() => new TokenBucket(0, 0)).toThrow(TypeError);
    expect(() => new TokenBucket(Number.POSITIVE_INFINITY, 0)).toThrow(TypeError);
  });
});

/** The publisher's drain limit against a real broker, with the test acking every batch at once. */
describe('Publisher drain rate limit', () => {
  let h: PublisherHarness | undefined;
  let pub: Publisher | undefined;
  let outbox: SqliteOutbox | undefined;
  afterEach(() => h?.close());

  /** The test's cloud acks every batch at once; `received` records when each came and its seqs. */
  async function setup(drainRatePerSec: number) {
    h = await PublisherHarness.start({ batchSize: 100, window: 8, drainRatePerSec }, { autoAck: true });
    ({ pub, outbox } = h);
    return h.received;
  }

  it('drains a backlog no faster than drainRatePerSec (plus one second of burst)', async () => {
    await setup(200);
    // Timed where the bucket is: at the publisher, as each batch goes out (the broker's delivery
    // to the test's subscriber lags on a loaded machine and made the window hold one batch too many).
    const sentAt: Array<{ at: number; n: number }> = [];
    pub!.on('published', (first, last) => sentAt.push({ at: Date.now(), n: last - first + 1 }));
    outbox!.append(Array.from({ length: 2000 }, (_, i) => draft(i + 1)));
    pub!.start();
    await waitFor(() => sentAt.length > 0, 'first batch');
    const t0 = sentAt[0]!.at;
    await waitFor(() => Date.now() - t0 > 2000, 'two seconds of drain', 10_000);
    const sent = sentAt.filter((a) => a.at - t0 <= 2000).reduce((s, a) => s + a.n, 0);
    // 200 burst + 200/s × 2 s = 600 at most; and it does keep draining.
    expect(sent).toBeLessThanOrEqual(600);
    expect(sent).toBeGreaterThanOrEqual(350);
    expect(pub!.drainRatePerSec).toBe(200);
    // Lifting the limit (remote config) drains the rest at once.
    pub!.setDrainRate(0);
    await waitFor(() => outbox!.backlog().count === 0, 'drained after the limit is lifted', 10_000);
    expect(pub!.drainRatePerSec).toBe(0);
  });

  it('a limit below the batch size sends smaller batches', async () => {
    const arrivals = await setup(20);
    outbox!.append(Array.from({ length: 100 }, (_, i) => draft(i + 1)));
    pub!.start();
    await waitFor(() => arrivals.length >= 2, 'two batches', 5000);
    expect(Math.max(...arrivals.map((a) => a.seqs.length))).toBeLessThanOrEqual(20);
    expect(() => pub!.setDrainRate(-1)).toThrow(TypeError);
  });
});
