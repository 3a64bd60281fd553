import type { FrameParser } from '../protocols/framing/parser.js';

/** A frame with the bytes it came from. */
export interface Tracked<F> {
  frame: F;
  /** The bytes consumed since the previous frame up to the one that completed this frame. */
  raw: Uint8Array;
}

/**
 * Feeds a binary frame parser one byte at a time so each frame can be paired with the bytes it
 * came from (the `raw` of a reading, upper-case hex, for the audit trail). The parsers return
 * frames, not their bytes; feeding byte by byte makes the frame boundary the byte that completed
 * it. Noise skipped before a frame is part of its raw (bounded by `maxRaw`), and a parser that
 * decides only on the next byte (Toledo learning whether a checksum follows) attributes that byte
 * to the earlier frame. No parsing happens here.
 */
export class RawTracker<F> {
  private pending: number[] = [];

  constructor(
    readonly parser: FrameParser<F>,
    /** Longest raw kept, in bytes (older bytes are forgotten). Default 512. */
    private readonly maxRaw = 512,
  ) {}

  push(bytes: Uint8Array): Tracked<F>[] {
    const out: Tracked<F>[] = [];
    const one = new Uint8Array(1);
    for (const b of bytes) {
      this.pending.push(b);
      if (this.pending.length > this.maxRaw) this.pending.splice(0, this.pending.length - this.maxRaw);
      one[0] = b;
      this.take(this.parser.push(one), out);
    }
    return out;
  }

  /** Frames a parser releases at the end of input or on an idle line (`flush()`/`end()`). */
  finish(frames: F[]): Tracked<F>[] {
    const out: Tracked<F>[] = [];
    this.take(frames, out);
    this.pending = [];
    return out;
  }

  reset(): void {
    this.pending = [];
    this.parser.reset();
  }

  private take(frames: F[], out: Tracked<F>[]): void {
    if (frames.length === 0) return;
    const raw = Uint8Array.from(this.pending);
    this.pending = [];
    for (const frame of frames) out.push({ frame, raw });
  }
}

/** Upper-case hex without separators, as in TagReading.raw. */
export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex').toUpperCase();
}
