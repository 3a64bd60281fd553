import { type FrameParser, newStats } from '../framing/parser.js';

/**
 * What {@link LengthFramer} needs to know about one length-prefixed, checksummed wire format.
 * All three reader protocols here (Chafon, M100, R2000) are of this kind: a header that gives the
 * total length, a checksum over the frame, no byte stuffing.
 */
export interface LengthFrameSpec<F> {
  /** Bytes a candidate needs before its total length is known. */
  headerLength: number;
  /** Whether a frame can start with this byte (skips noise before a header is complete). */
  isStart(byte: number): boolean;
  /**
   * Total length in bytes of the frame whose header starts at `buf[i]` (at least `headerLength`
   * bytes are present), or -1 when no frame can start there (bad type byte, impossible length).
   */
  frameLength(buf: Uint8Array, i: number): number;
  /** Whether a complete candidate passes its checksum / CRC / trailer. */
  check(frame: Uint8Array): boolean;
  /** Frames carried by a checked frame; may be several (a Chafon reply holds many tags). */
  decode(frame: Uint8Array): F[];
}

/**
 * Frames a byte stream by length and checksum, resynchronising by sliding one byte.
 *
 * Why sliding one byte: none of these protocols escapes its start byte, and Chafon has no start
 * byte at all, so a bad candidate says nothing about where the next frame starts; it may begin
 * inside the bad one. Only bytes that end up in no valid frame are dropped.
 *
 * Counting: `droppedFrames` counts complete candidates that fail their check; failures that start
 * inside an already counted one are not counted again (so one corrupted frame counts once, not once
 * per byte). Every byte that ends up in no valid frame counts in `droppedBytes`.
 *
 * A candidate announcing more bytes than have arrived is waited for, so a noise byte that announces
 * a long frame holds back the valid frame behind it until enough bytes have arrived to disprove it.
 * Two things bound that: inside a counted failure (the rest of a corrupted frame), a later complete
 * valid frame is taken at once; and {@link flush}, called when the line goes idle or the stream
 * ends, gives up on incomplete candidates. Outside a failure we always wait, because the bytes of a
 * frame still arriving could by chance contain a "valid" frame, which must not be emitted.
 */
export class LengthFramer<F> implements FrameParser<F> {
  readonly stats = newStats();
  private buf: Uint8Array = new Uint8Array(0);
  /** Bytes from the start of `buf` still inside a counted failed candidate. */
  private shadow = 0;

  constructor(private readonly spec: LengthFrameSpec<F>) {}

  push(chunk: Uint8Array): F[] {
    if (chunk.length > 0) {
      const next = new Uint8Array(this.buf.length + chunk.length);
      next.set(this.buf);
      next.set(chunk, this.buf.length);
      this.buf = next;
    }
    return this.scan(false);
  }

  /**
   * The stream ended or went idle: abandon incomplete candidates one start byte at a time and
   * return any frame found behind them. Nothing is left buffered afterwards.
   */
  flush(): F[] {
    return this.scan(true);
  }

  reset(): void {
    this.buf = new Uint8Array(0);
    this.shadow = 0;
  }

  private scan(atEnd: boolean): F[] {
    const out: F[] = [];
    const { spec } = this;
    const buf = this.buf;
    let pos = 0;
    const skip = (): void => {
      pos++;
      this.stats.droppedBytes++;
      if (this.shadow > 0) this.shadow--;
    };
    while (pos < buf.length) {
      if (!spec.isStart(buf[pos]!)) {
        skip();
        continue;
      }
      if (buf.length - pos < spec.headerLength) {
        if (atEnd) {
          skip();
          continue;
        }
        break;
      }
      const len = spec.frameLength(buf, pos);
      if (len < 0) {
        skip();
        continue;
      }
      if (buf.length - pos < len) {
        if (atEnd) {
          skip();
          continue;
        }
        // Inside a counted failure the bytes are most likely the rest of a corrupted frame, and
        // one of them announcing a long frame must not hold back the valid frame behind it.
        const next = this.shadow > 0 ? this.nextValid(buf, pos + 1) : -1;
        if (next < 0) break;
        while (pos < next) skip();
        continue;
      }
      const frame = buf.subarray(pos, pos + len);
      if (!spec.check(frame)) {
        if (this.shadow === 0) {
          this.stats.droppedFrames++;
          this.shadow = len;
        }
        skip();
        continue;
      }
      const frames = spec.decode(frame);
      out.push(...frames);
      this.stats.frames += frames.length;
      pos += len;
      this.shadow = Math.max(0, this.shadow - len);
    }
    this.buf = buf.slice(pos);
    return out;
  }

  /** Start of the first complete frame passing its check at or after `from`, or -1. */
  private nextValid(buf: Uint8Array, from: number): number {
    const { spec } = this;
    for (let q = from; q + spec.headerLength <= buf.length; q++) {
      if (!spec.isStart(buf[q]!)) continue;
      const len = spec.frameLength(buf, q);
      if (len >= 0 && q + len <= buf.length && spec.check(buf.subarray(q, q + len))) return q;
    }
    return -1;
  }
}
