import { type FrameParser, newStats } from './parser.js';

/** Options of {@link LineFramer}. */
export interface LineFramerOptions {
  /**
   * Longest line kept, in bytes, excluding the terminator. A longer line is dropped whole and
   * counted in `droppedFrames`, so a device streaming without terminators cannot grow memory.
   * Default 4096.
   */
  maxLength?: number;
  /** Return empty lines (e.g. between CR LF pairs sent as LF LF). Default false. */
  keepEmpty?: boolean;
}

/**
 * Splits a byte stream into text lines ending in CR, LF or CR LF (scanners differ; many can be
 * configured either way, and a CR LF pair must not yield an empty line in between).
 * Lines are decoded as latin1 so that every byte maps to one character, including the GS1
 * separator 0x1D, and nothing is lost to UTF-8 replacement.
 */
export class LineFramer implements FrameParser<string> {
  readonly stats = newStats();
  private buf: number[] = [];
  private overflow = false;
  private lastWasCr = false;
  private readonly maxLength: number;
  private readonly keepEmpty: boolean;

  constructor(opts: LineFramerOptions = {}) {
    this.maxLength = opts.maxLength ?? 4096;
    this.keepEmpty = opts.keepEmpty ?? false;
  }

  push(chunk: Uint8Array): string[] {
    const out: string[] = [];
    for (const b of chunk) {
      if (b === 0x0a && this.lastWasCr) {
        // LF right after CR: the second half of a CR LF terminator.
        this.lastWasCr = false;
        continue;
      }
      this.lastWasCr = b === 0x0d;
      if (b === 0x0d || b === 0x0a) {
        this.endLine(out);
        continue;
      }
      if (this.overflow) {
        this.stats.droppedBytes++;
        continue;
      }
      if (this.buf.length >= this.maxLength) {
        this.overflow = true;
        this.stats.droppedBytes += this.buf.length + 1;
        this.buf = [];
        continue;
      }
      this.buf.push(b);
    }
    return out;
  }

  reset(): void {
    this.buf = [];
    this.overflow = false;
    this.lastWasCr = false;
  }

  private endLine(out: string[]): void {
    if (this.overflow) {
      this.stats.droppedFrames++;
      this.overflow = false;
      return;
    }
    if (this.buf.length === 0 && !this.keepEmpty) return;
    out.push(String.fromCharCode(...this.buf));
    this.stats.frames++;
    this.buf = [];
  }
}
