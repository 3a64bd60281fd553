import { describe, expect, it } from 'vitest';
import { TokenBucket } from '../../../cloud/auth/limits.js';

describe('TokenBucket', () => {
  it('allows the burst, then the rate, never more than the burst after idling', () => {
    let now = 0;
    const b = new TokenBucket(200, 400, () => now);
    const takeN = (n: number) => Array.from({ length: n }, () => b.take()).filter(Boolean).length;
    expect(takeN(400)).toBe(400);
    expect(b.take()).toBe(false);
    now += 1000;
    expect(takeN(1000)).toBe(200);
    now += 50;
    expect(takeN(100)).toBe(10);
    now += 3_600_000;
    expect(takeN(10_000)).toBe(400);
  });

  it('refills fractionally', () => {
    let now = 0;
    const b = new TokenBucket(2, 1, () => now);
    expect(b.take()).toBe(true);
    expect(b.take()).toBe(false);
    now += 250;
    expect(b.take()).toBe(false);
    now += 250;
    expect(b.take()).toBe(true);
  });
});
