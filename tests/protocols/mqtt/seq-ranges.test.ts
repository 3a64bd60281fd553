import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { inRanges, rangesSize, toRanges, type SeqRange } from '../../../protocols/mqtt/index.js';

describe('toRanges', () => {
  it('is empty for no seqs', () => {
    expect(toRanges([])).toEqual([]);
  });
  it('compresses runs into inclusive ranges', () => {
    expect(toRanges([1, 2, 3, 5, 7, 8])).toEqual([[1, 3], [5, 5], [7, 8]]);
  });
  it('sorts numerically (not as strings) and drops duplicates', () => {
    expect(toRanges([10, 9, 2, 100, 1, 9, 2])).toEqual([[1, 2], [9, 10], [100, 100]]);
  });
  it('accepts any iterable', () => {
    expect(toRanges(new Set([4, 3, 6]))).toEqual([[3, 4], [6, 6]]);
  });
  it('ascending arrays (no copy, no sort) and any other order give the ranges of the set of seqs', () => {
    // Oracle: every seq of the set, each range maximal and covering only members.
    const check = (xs: number[]) => {
      const set = new Set(xs);
      const r = toRanges(xs);
      expect(rangesSize(r)).toBe(set.size);
      for (const s of set) expect(inRanges(r, s)).toBe(true);
      for (let i = 1; i < r.length; i++) expect(r[i]![0]).toBeGreaterThan(r[i - 1]![1] + 1);
    };
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 60 }), { maxLength: 40 }), fc.boolean(), (xs, sort) => check(sort ? [...xs].sort((a, b) => a - b) : xs)),
      { numRuns: 3000, seed: 9 },
    );
  });
  it('handles seqs near Number.MAX_SAFE_INTEGER', () => {
    const m = Number.MAX_SAFE_INTEGER;
    expect(toRanges([m, m - 1, 1])).toEqual([[1, 1], [m - 1, m]]);
  });
});

describe('rangesSize', () => {
  it('counts covered seqs', () => {
    expect(rangesSize([])).toBe(0);
    expect(rangesSize([[1, 1]])).toBe(1);
    expect(rangesSize([[1, 10], [20, 25]])).toBe(16);
  });
});

describe('inRanges', () => {
  const r: SeqRange[] = [[3, 5], [9, 9], [20, 30]];
  it.each([
    [1, false],
    [2, false],
    [3, true],
    [4, true],
    [5, true],
    [6, false],
    [9, true],
    [10, false],
    [20, true],
    [30, true],
    [31, false],
  ])('seq %i -> %s', (seq, expected) => {
    expect(inRanges(r, seq)).toBe(expected);
  });
  it('is false for empty ranges', () => {
    expect(inRanges([], 1)).toBe(false);
  });
});

describe('toRanges properties', () => {
  const seqs = fc.array(fc.integer({ min: 1, max: 500 }), { maxLength: 200 });

  it('covers exactly the set of seqs; ranges ascending, disjoint and non-adjacent', () => {
    fc.assert(
      fc.property(seqs, (list) => {
        const ranges = toRanges(list);
        const set = new Set(list);
        // exact cover
        expect(rangesSize(ranges)).toBe(set.size);
        for (const s of set) expect(inRanges(ranges, s)).toBe(true);
        for (let s = 0; s <= 502; s++) expect(inRanges(ranges, s)).toBe(set.has(s));
        // well-formed, ascending, disjoint and non-adjacent (gap of at least one seq)
        for (const [a, b] of ranges) expect(a).toBeLessThanOrEqual(b);
        for (let i = 1; i < ranges.length; i++) expect(ranges[i]![0]).toBeGreaterThan(ranges[i - 1]![1] + 1);
      }),
      { numRuns: 300 },
    );
  });

  it('does not depend on input order or duplicates', () => {
    fc.assert(
      fc.property(seqs, (list) => {
        const expected = toRanges(list);
        expect(toRanges([...list].reverse())).toEqual(expected);
        expect(toRanges([...list, ...list])).toEqual(expected);
      }),
    );
  });

  it('expands back to the sorted distinct seqs', () => {
    fc.assert(
      fc.property(seqs, (list) => {
        const expanded = toRanges(list).flatMap(([a, b]) => Array.from({ length: b - a + 1 }, (_, i) => a + i));
        expect(expanded).toEqual([...new Set(list)].sort((x, y) => x - y));
      }),
    );
  });
});
