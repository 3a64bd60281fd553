/** Inclusive integer ranges over per-edge sequence numbers (acks, rejects, gap reports). */
export type SeqRange = [number, number];

/** Compress seqs (any order, duplicates allowed) into ascending disjoint inclusive ranges. */
export function toRanges(seqs: Iterable<number>): SeqRange[] {
  // The ingester acks each message's seqs in the order the edge numbered them: an ascending array
  // needs no copy and no sort (a per-movement cost on the ack path, issue 14 §1).
  const sorted = Array.isArray(seqs) && ascending(seqs) ? seqs : Float64Array.from(seqs).sort();
  const out: SeqRange[] = [];
  let last: SeqRange | undefined;
  for (let i = 0; i < sorted.length; i++) {
    const s = sorted[i]!;
    if (last && s <= last[1] + 1) {
      if (s > last[1]) last[1] = s;
    } else out.push((last = [s, s]));
  }
  return out;
}

/** Non-decreasing (a NaN makes it false: the typed-array sort then places it as before). */
function ascending(xs: readonly number[]): boolean {
  for (let i = 1; i < xs.length; i++) if (!(xs[i]! >= xs[i - 1]!)) return false;
  return true;
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
