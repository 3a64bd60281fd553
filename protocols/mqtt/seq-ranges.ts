/** Inclusive integer ranges over per-edge sequence numbers (acks, rejects, gap reports). */
export type SeqRange = [number, number];

/** Compress seqs (any order, duplicates allowed) into ascending disjoint inclusive ranges. */
export function toRanges(seqs: Iterable<number>): SeqRange[] {
  const sorted = Float64Array.from(seqs).sort();
  const out: SeqRange[] = [];
  for (const s of sorted) {
    const last = out[out.length - 1];
    if (last && s <= last[1] + 1) {
      if (s > last[1]) last[1] = s;
    } else out.push([s, s]);
  }
  return out;
}

/** Number of seqs the ranges cover. */
export function rangesSize(ranges: readonly SeqRange[]): number {
  let n = 0;
  for (const [a, b] of ranges) n += b - a + 1;
  return n;
}

/** True when `seq` lies in one of the (ascending) ranges. */
export function inRanges(ranges: readonly SeqRange[], seq: number): boolean {
  for (const [a, b] of ranges) {
    if (seq < a) return false;
    if (seq <= b) return true;
  }
  return false;
}
