import { describe, expect, it } from 'vitest';
import { DrainWindow } from '../../edge/drain-window.js';

/** A fake clock the tests move by hand. */
function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

/** An outbox reduced to the seqs it still holds. */
function outbox(seqs: Iterable<number>) {
  const held = new Set(seqs);
  return {
    held,
    ack: (a: number, b: number) => {
      for (let s = a; s <= b; s++) held.delete(s);
    },
    hasAny: (a: number, b: number) => {
      for (let s = a; s <= b; s++) if (held.has(s)) return true;
      return false;
    },
  };
}

describe('DrainWindow (issue 15 §1): the pure half of the publisher', () => {
  it('opens up to `window` batches, each starting after the last sent; an ack frees its slot', () => {
    const c = clock();
    const w = new DrainWindow({ window: 2, ackTimeoutMs: 10_000, now: c.now });
    const box = outbox([1, 2, 3, 4, 5, 6]);
    expect(w.room()).toBe(true);
    w.sent(1, 2);
    expect(w.after).toBe(2);
    w.sent(3, 4);
    expect(w.room()).toBe(false);
    expect(w.size).toBe(2);
    box.ack(1, 2);
    w.settle(box.hasAny);
    expect(w.size).toBe(1);
    expect(w.oldest).toEqual({ first: 3, last: 4, sentAt: 1_000_000 });
    expect(w.room()).toBe(true);
    w.sent(5, 6);
    expect([w.after, w.highestSent]).toEqual([6, 6]);
  });

  it('a batch partly acked stays in flight until nothing of it is left', () => {
    const w = new DrainWindow({ window: 8, ackTimeoutMs: 10_000, now: clock().now });
    const box = outbox([1, 2, 3, 4]);
    w.sent(1, 4);
    box.ack(1, 3);
    w.settle(box.hasAny);
    expect(w.size).toBe(1);
    box.ack(4, 4);
    w.settle(box.hasAny);
    expect(w.size).toBe(0);
  });

  it('bounds acks by the highest seq ever sent, also after a restart lowered `after`', () => {
    const w = new DrainWindow({ window: 8, ackTimeoutMs: 10_000, now: clock().now });
    w.sent(1, 10);
    w.restart();
    expect(w.after).toBe(0);
    expect(w.bound([[1, 5], [8, 20]])).toEqual({ kept: [[1, 5], [8, 10]], cut: 10 });
    expect(w.bound([[11, 12]])).toEqual({ kept: [], cut: 2 });
  });

  it('resends the window when the oldest batch waited the ack timeout, not a millisecond before', () => {
    const c = clock();
    const w = new DrainWindow({ window: 8, ackTimeoutMs: 10_000, now: c.now });
    const box = outbox([1, 2, 3, 4]);
    w.sent(1, 2);
    c.advance(5_000);
    w.sent(3, 4);
    c.advance(4_999);
    expect(w.expired(box.hasAny)).toBe(false);
    c.advance(1);
    expect(w.expired(box.hasAny)).toBe(true);
    expect([w.after, w.size]).toEqual([0, 0]);
  });

  it('an old batch whose entries were acked meanwhile does not trigger a resend', () => {
    const c = clock();
    const w = new DrainWindow({ window: 8, ackTimeoutMs: 10_000, now: c.now });
    const box = outbox([1, 2, 3, 4]);
    w.sent(1, 2);
    c.advance(6_000);
    w.sent(3, 4);
    box.ack(1, 2); // the ack arrived, the publisher has not settled yet
    c.advance(4_000);
    expect(w.expired(box.hasAny)).toBe(false);
    expect(w.oldest?.first).toBe(3);
    expect(w.after).toBe(4);
  });

  it('rewinds to a reported gap at most once per half ack timeout, and never ahead of what was sent', () => {
    const c = clock();
    const w = new DrainWindow({ window: 8, ackTimeoutMs: 10_000, now: c.now });
    w.sent(1, 100);
    w.sent(101, 200);
    expect(w.rewind(250)).toBe(false); // not sent yet: nothing to resend
    expect(w.rewind(50)).toBe(true);
    expect([w.after, w.size]).toEqual([49, 0]);
    w.sent(50, 200);
    c.advance(4_999);
    expect(w.rewind(50)).toBe(false); // the same gap named by the next acks
    expect(w.after).toBe(200);
    c.advance(1);
    expect(w.rewind(60)).toBe(true);
    expect(w.after).toBe(59);
    expect(w.highestSent).toBe(200);
  });
});
