/**
 * The contract every byte-stream parser in `protocols/` follows (house style, after node-serialport's
 * small parsers): feed it whatever bytes the transport delivered, get back the complete frames.
 *
 * - `push` never throws, whatever the bytes are: garbage is skipped and counted, never fatal.
 * - A parser resynchronises after noise: the next valid frame after any garbage is still found.
 * - Frames split across any number of `push` calls decode exactly as if delivered at once.
 */
export interface FrameParser<F> {
  /** Feed bytes; returns the frames completed by them (possibly none). Never throws. */
  push(chunk: Uint8Array): F[];
  /** Running counters since construction or the last `reset()`. */
  readonly stats: ParserStats;
  /** Forget any partial frame (e.g. after the transport reconnects). Counters are kept. */
  reset(): void;
}

export interface ParserStats {
  /** Frames returned by `push`. */
  frames: number;
  /** Bytes skipped while hunting for a frame start (noise, line garbage). */
  droppedBytes: number;
  /** Whole frames discarded: bad checksum/CRC, over-long, or undecodable. */
  droppedFrames: number;
}

export function newStats(): ParserStats {
  return { frames: 0, droppedBytes: 0, droppedFrames: 0 };
}
